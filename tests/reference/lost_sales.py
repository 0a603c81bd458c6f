"""Plain-Python lost-sales dynamics: the third, independent copy the kernel and twin are tested against.

Every reference module has the same three functions — ``initial(config)``, ``observe(config, state)`` and
``step(config, state, action, demand) -> (state, parts)`` — so ``tests/scenario_checks.py`` drives any scenario.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def initial(config: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return the starting state: (on-hand and pipeline, sales history)."""
    return tuple(config.initial_state), (0.0,) * config.history


def observe(config: Any, state: tuple) -> list[float]:
    """2. OBSERVE: on-hand, the pipeline oldest first, then past sales oldest first."""
    x, history = state
    return list(x) + list(history)


def step(config: Any, state: tuple, action: list[float], d: float) -> tuple[tuple, dict[str, float]]:
    """One period in Zipkin's (2008) conventions; the numbered steps match the kernel's."""
    x, history = list(state[0]), state[1]
    q = float(action[0])
    # 3. ORDER: q joins the pipeline; with L = 0 it is on hand at once.
    if config.lead_time == 0:
        x[0] += q
    # 4. DEMAND is given.
    # 5. SALES AND LOST SALES.
    sales = min(x[0], d)
    lost = d - sales
    x[0] -= sales
    # 6. COSTS on the end-of-period state.
    cost = config.holding_cost * x[0] + config.lost_sales_cost * lost + config.purchase_cost * q
    parts = {"cost": cost, "holding": x[0], "lost": lost, "sales": sales, "demand": d, "order": q}
    if config.history > 0:
        history = history[1:] + (sales,)
    # 1. ARRIVAL (start of t+1): the order placed L periods before t+1 arrives; the pipeline shifts.
    if config.lead_time >= 1:
        pipeline = x[1:] + [q]
        x = [x[0] + pipeline[0]] + pipeline[1:]
    return (tuple(x), history), parts


class ReferenceEnv(gym.Env):
    """Any scenario's reference dynamics as a pure-Python Gymnasium env (the benchmarks' baseline)."""

    def __init__(self, config: Any, module: Any = None) -> None:
        import sys

        self.config = config
        self.module = module if module is not None else sys.modules[__name__]
        self.observation_space = config.observation_space()
        self.action_space = config.action_space()
        self._cdf = np.cumsum(config.demand.pmf())

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode from the reference's initial state."""
        super().reset(seed=seed)
        self._state = self.module.initial(self.config)
        self._t = 0
        return np.array(self.module.observe(self.config, self._state), dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One period with demand drawn by numpy from the config's pmf."""
        d = float(np.searchsorted(self._cdf, self.np_random.random(), side="right"))
        self._state, parts = self.module.step(self.config, self._state, np.atleast_1d(action).tolist(), d)
        self._t += 1
        obs = np.array(self.module.observe(self.config, self._state), dtype=np.float32)
        return obs, -parts["cost"], False, self._t >= self.config.horizon, parts
