"""A lean pure-Python lost-sales env, written for the benchmarks apart from tests/reference.

It is what a user would write by hand in a few minutes: a list for the pipeline, one ``np_random.poisson`` draw
per step, the observation as a fresh float32 array. The bench scripts use it as the plain-Python yardstick.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class LeanLostSalesEnv(gym.Env):
    """Lost sales with lead time L: order, Poisson demand met from on-hand, h on leftover, p per lost unit."""

    def __init__(self, lead_time: int = 2, mean: float = 5.0, holding_cost: float = 1.0,
                 lost_sales_cost: float = 9.0, max_order: int = 30, horizon: int = 1000) -> None:
        self.lead_time, self.mean, self.horizon = lead_time, mean, horizon
        self.h, self.p = holding_cost, lost_sales_cost
        width = max(lead_time, 1)
        self.observation_space = spaces.Box(0.0, np.inf, shape=(width,), dtype=np.float32)
        self.action_space = spaces.Discrete(max_order + 1)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start empty."""
        super().reset(seed=seed)
        self.on_hand, self.pipeline, self.t = 0.0, [0.0] * max(self.lead_time - 1, 0), 0
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return np.array([self.on_hand, *self.pipeline], dtype=np.float32)

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One period."""
        q = float(action)
        if self.lead_time == 0:
            self.on_hand += q
        demand = float(self.np_random.poisson(self.mean))
        sold = min(demand, self.on_hand)
        self.on_hand -= sold
        cost = self.h * self.on_hand + self.p * (demand - sold)
        if self.lead_time == 1:
            self.on_hand += q
        elif self.lead_time > 1:
            self.on_hand += self.pipeline.pop(0)
            self.pipeline.append(q)
        self.t += 1
        return self._obs(), -cost, False, self.t >= self.horizon, {}
