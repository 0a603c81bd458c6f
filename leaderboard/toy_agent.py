"""A toy leaderboard agent: ``invgym leaderboard submit --agent invgym.leaderboard.toy_agent:make_agent --name toy``.

A submission is any ``factory(env)`` returning a policy that maps a batch of observations to a batch of actions.
This one orders up to a fixed multiple of mean demand on the inventory position (the sum of the observation's
first ``max(L, 1)`` columns: on-hand, then the orders in transit), for the lost-sales tracks only; elsewhere it
raises, which the leaderboard reports as a failed instance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_agent"]


def make_agent(env: Any) -> Any:
    """Return an order-up-to policy for ``env`` (a ``gymnasium.make`` lost-sales env)."""
    config = env.unwrapped.config
    if type(config).__name__ != "LostSalesConfig":
        raise ValueError(f"the toy agent only plays lost sales; this is {type(config).__name__}.")
    width = max(config.lead_time, 1)
    # Cover demand over the lead time plus one period, plus a little safety stock: a rule of thumb, not a fit.
    level = round(config.demand.mean * (config.lead_time + 1) + 2.0 * np.sqrt(config.demand.variance))
    max_order = int(config.max_order)

    def policy(obs: np.ndarray) -> np.ndarray:
        position = np.asarray(obs)[:, :width].sum(axis=1)
        return np.clip(level - position, 0, max_order).astype(np.int64)

    return policy
