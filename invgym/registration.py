"""Gymnasium registration of every scenario in :data:`invgym.scenarios.SCENARIOS` (lazy: entry points are strings)."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from invgym.scenarios import SCENARIOS, Scenario

__all__ = ["ENV_IDS", "register_envs", "register_scenario"]

# Any change to an env's dynamics or reward bumps its -vN and adds a Version History line to its docstring.
ENV_IDS = tuple(scenario.env_id for scenario in SCENARIOS.values())
"""The ids of the built-in scenarios (a scenario added with ``add_scenario`` is registered but not listed here)."""


def register_scenario(scenario: Scenario) -> None:
    """Register one scenario's env id with Gymnasium (idempotent)."""
    if scenario.env_id not in registry:
        register(id=scenario.env_id, entry_point=scenario.env, vector_entry_point=scenario.vector_env)


def register_envs() -> None:
    """Register every invgym id with Gymnasium (idempotent)."""
    for scenario in SCENARIOS.values():
        register_scenario(scenario)
