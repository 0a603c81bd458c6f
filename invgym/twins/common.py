"""The twin protocol and the one differentiable rollout loop shared by every scenario twin."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import torch

from invgym.scenarios import scenario_of

__all__ = ["Twin", "TwinRollout", "twin_for"]


@dataclasses.dataclass
class TwinRollout:
    """Result of :meth:`Twin.rollout`: per-env total cost after warm-up and the per-period parts."""

    total_cost: torch.Tensor
    """Shape (B,): sum of the period costs after warm-up (differentiable)."""
    parts: dict[str, torch.Tensor]
    """Each part (e.g. "cost", "lost") per env and period, shape (B, T)."""
    observations: torch.Tensor
    """Shape (B, T, obs_dim): what the policy saw before each order."""
    actions: torch.Tensor
    """Shape (B, T, action_dim): what the policy ordered."""

    @property
    def average_cost(self) -> torch.Tensor:
        """Mean cost per env and counted period (the DirectBackprop loss)."""
        counted = self.parts["cost"].shape[1] - self.warmup
        return self.total_cost.mean() / max(counted, 1)

    warmup: int = 0


class Twin:
    """A scenario's period in torch: ``initial_state``, ``observe`` and ``step`` over a batch.

    Subclasses set ``parts`` (the kernel's PARTS, same order) and implement the three methods; the rollout loop
    is shared. State is a dict of tensors so a scenario can keep what its observation needs.
    """

    parts: ClassVar[tuple[str, ...]] = ()

    def initial_state(self, batch: int, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """Return the starting state of ``batch`` envs (the env's ``initial_state``)."""
        raise NotImplementedError

    def observe(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """Return the observation of each env, shape (B, obs_dim), as the kernel writes it."""
        raise NotImplementedError

    def step(self, state: dict[str, torch.Tensor], action: torch.Tensor,
             demand: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Advance one period with ``action`` (B, action_dim) and ``demand`` (B,); return (state, parts)."""
        raise NotImplementedError

    def rollout(self, policy: Callable[[torch.Tensor], torch.Tensor], demand: torch.Tensor,
                state: dict[str, torch.Tensor] | None = None, warmup: int = 0) -> TwinRollout:
        """Run ``policy`` over demand paths ``demand`` (B, T); differentiable end to end.

        Args:
            policy: maps observations (B, obs_dim) to actions (B, action_dim) or (B,).
            demand: the demand each env meets in each period, e.g. recorded from the kernel.
            state: starting state (default: ``initial_state``).
            warmup: leading periods excluded from ``total_cost`` (they still move the state).
        """
        if demand.ndim != 2:
            raise ValueError(f"demand must have shape (batch, periods). Got {tuple(demand.shape)} instead.")
        batch, periods = demand.shape
        state = self.initial_state(batch, demand.dtype) if state is None else state
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in self.parts}
        observations, actions = [], []
        for t in range(periods):
            obs = self.observe(state)
            action = policy(obs)
            action = action.reshape(batch, -1)
            state, period = self.step(state, action, demand[:, t])
            observations.append(obs)
            actions.append(action)
            for name in self.parts:
                parts[name].append(period[name])
        stacked = {name: torch.stack(values, dim=1) for name, values in parts.items()}
        total = stacked["cost"][:, warmup:].sum(dim=1)
        return TwinRollout(total, stacked, torch.stack(observations, 1), torch.stack(actions, 1), warmup)


def twin_for(env: Any, **kwargs: Any) -> Twin:
    """Return the twin of an env, config or registered id; ValueError if its scenario declares no twin."""
    from invgym.envs.common import config_of

    config = config_of(env, **kwargs)
    return scenario_of(config).load("twin").from_config(config)
