"""Types named once and used across invgym, its baselines, agents and leaderboard."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["DemandPath", "Observation", "Policy", "Schedule", "ScenarioPolicy"]

DemandPath = NDArray[np.float64]
"""Demand per env and period, shape ``(num_envs, periods)``; replayed by kernels and twins alike."""

Observation = NDArray[np.float32]
"""A batch of observations, shape ``(num_envs, obs_dim)``."""

Schedule = NDArray[np.float64]
"""A per-period parameter schedule (e.g. a seasonal mean demand), shape ``(periods,)``."""


@runtime_checkable
class Policy(Protocol):
    """Anything that maps a batch of observations to a batch of actions (heuristics, agents, SB3 wrappers)."""

    def __call__(self, obs: Observation) -> Any:
        """Return actions for ``obs`` (shape ``(num_envs,)`` or ``(num_envs, action_dim)``)."""
        ...


@runtime_checkable
class ScenarioPolicy(Protocol):
    """A policy fitted to one scenario: callable on a batch of observations, and it checks an env is of that scenario.

    Every fitted heuristic of ``invgym.baselines`` (``FittedPolicy``) and every trained policy built on it is one;
    ``invgym.evaluate`` calls ``check_env`` before evaluating and calls the policy directly (not ``predict``).
    """

    def __call__(self, obs: Observation) -> Any:
        """Return actions for ``obs`` (shape ``(num_envs,)`` or ``(num_envs, action_dim)``)."""
        ...

    def check_env(self, env: Any) -> Any:
        """Return the env's config; raise ValueError if the env is not of the scenario this policy is for."""
        ...
