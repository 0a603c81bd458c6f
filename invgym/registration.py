"""The one list of registered environment ids (lazy: entry points are strings, loaded on first ``make``)."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS", "register_envs"]

# Any change to an env's dynamics or reward bumps its -vN and adds a Version History line to its docstring.
_ENVS = [
    ("invgym/LostSales-v0", "invgym.envs.lost_sales:LostSalesEnv", "invgym.envs.lost_sales:LostSalesVectorEnv"),
]

ENV_IDS = tuple(env_id for env_id, _, _ in _ENVS)


def register_envs() -> None:
    """Register every invgym id with Gymnasium (idempotent)."""
    for env_id, entry_point, vector_entry_point in _ENVS:
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, vector_entry_point=vector_entry_point)
