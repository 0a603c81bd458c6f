"""The interface every OR baseline shares: fitted policies, exact solutions and scenario families.

A heuristic class has a ``fit(env, ...)`` class method returning a :class:`FittedPolicy`. A fitted policy maps a
batch of observations to actions (``policy(obs)``), has SB3's ``predict``, prints its parameters, and — when the
kernel can run it without leaving compiled code — names its ``rollout`` form for fast evaluation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from invgym.envs.common import FAMILIES, ScenarioConfig, config_of, family_of

# config_of, family_of and FAMILIES live with the scenario configs (invgym.envs.common); re-exported here.
__all__ = ["FAMILIES", "ExactSolution", "FittedPolicy", "config_of", "family_of"]

class FittedPolicy:
    """A fitted heuristic: ``policy(obs)`` maps a batch of observations to a batch of actions.

    Subclasses set ``family`` and ``params`` and implement ``act``; those the kernel can run natively also return
    ``(name, params)`` from ``rollout_spec`` (see the kernel's ``POLICIES``).
    """

    family: str = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return actions for a batch of observations (shape ``(num_envs, obs_dim)``)."""
        raise NotImplementedError

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Return actions for one observation (as a batch of one) or a batch of observations."""
        obs = np.asarray(obs, dtype=np.float64)
        return self.act(obs if obs.ndim == 2 else obs[None, :])

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        """SB3-style ``predict``, so heuristics and trained agents are interchangeable."""
        obs = np.asarray(observation)
        actions = self(obs)
        return (actions[0] if obs.ndim == 1 else actions), None

    def rollout_spec(self) -> tuple[str, np.ndarray] | None:
        """Return ``(kernel policy name, parameter array)`` when the kernel can run this policy, else None."""
        return None

    def check_env(self, env: Any) -> ScenarioConfig:
        """Return the env's config, raising ValueError if the env is not of this policy's family."""
        config = config_of(env)
        found = family_of(config)
        if found != self.family:
            raise ValueError(f"{type(self).__name__} is a {self.family} policy; it cannot act in a {found} env.")
        return config

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


@dataclasses.dataclass
class ExactSolution:
    """What ``solve_exact`` returns: the optimal long-run average cost per period and its policy."""

    average_cost: float
    policy: FittedPolicy
    num_states: int
    iterations: int = 0
    span: float = 0.0
    info: dict = dataclasses.field(default_factory=dict)
