"""The one list of registered environment ids (lazy: entry points are strings, loaded on first ``make``)."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS", "register_envs"]

# Any change to an env's dynamics or reward bumps its -vN and adds a Version History line to its docstring.
_ENVS = [
    ("invgym/LostSales-v0", "invgym.envs.lost_sales:LostSalesEnv", "invgym.envs.lost_sales:LostSalesVectorEnv"),
    ("invgym/ProcurementRemoval-v0", "invgym.envs.procurement_removal:ProcurementRemovalEnv",
     "invgym.envs.procurement_removal:ProcurementRemovalVectorEnv"),
    ("invgym/DualSourcing-v0", "invgym.envs.dual_sourcing:DualSourcingEnv",
     "invgym.envs.dual_sourcing:DualSourcingVectorEnv"),
    ("invgym/Perishable-v0", "invgym.envs.perishable:PerishableEnv", "invgym.envs.perishable:PerishableVectorEnv"),
    ("invgym/Retail-v0", "invgym.envs.retail:RetailEnv", "invgym.envs.retail:RetailVectorEnv"),
    ("invgym/Replenishment-v0", "invgym.envs.replenishment:ReplenishmentEnv",
     "invgym.envs.replenishment:ReplenishmentVectorEnv"),
]

ENV_IDS = tuple(env_id for env_id, _, _ in _ENVS)


def register_envs() -> None:
    """Register every invgym id with Gymnasium (idempotent)."""
    for env_id, entry_point, vector_entry_point in _ENVS:
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, vector_entry_point=vector_entry_point)
