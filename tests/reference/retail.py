"""Plain-Python retail dynamics: the independent copy the kernel (and twin) are tested against.

The state is a dict (product, day index t, on-hand + pipeline, sales window). ``initial(config, product)``,
``observe(config, state)`` and ``step(config, state, action, demand=None)`` follow the kernel's Period
Timeline; with ``demand=None`` the demand is read from the panel here, independently of the kernel.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["ReferenceEnv", "initial", "observe", "step"]


def _day(config: Any, t: int) -> int:
    start, length = config.window
    return start + t % length


def initial(config: Any, product: int) -> dict:
    """Return the starting state of ``product``: initial on-hand, empty pipeline, recorded sales window."""
    start = config.window[0]
    window = [float(config.panel.demand[product, d]) if d >= 0 else 0.0
              for d in range(start - config.history, start)]
    return {"product": product, "t": 0, "x": [config.initial_on_hand] + [0.0] * (max(config.lead_time, 1) - 1),
            "sales": window}


def features(panel: Any, p: int, day: int, lookahead: int) -> list[float]:
    """Promotions today..today+lookahead (0 past the panel), holiday, then sin/cos of day of week and year."""
    promo = [float(panel.promo[p, day + k]) if day + k < panel.num_days else 0.0 for k in range(lookahead + 1)]
    date = panel.dates[day]
    dow = (int(date.astype(np.int64)) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    doy = int((date - date.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64))
    calendar = [math.sin(2 * math.pi * dow / 7), math.cos(2 * math.pi * dow / 7),
                math.sin(2 * math.pi * doy / 365.25), math.cos(2 * math.pi * doy / 365.25)]
    return promo + [float(panel.holiday[day])] + calendar


def observe(config: Any, state: dict) -> list[float]:
    """2. OBSERVE: inventory, censored sales, promotions today..today+lookahead, holiday, calendar."""
    day = _day(config, state["t"])
    return list(state["x"]) + list(state["sales"]) + features(config.panel, state["product"], day, config.lookahead)


def step(config: Any, state: dict, action: list[float], demand: float | None = None) -> tuple[dict, dict]:
    """One day; the numbered steps match the kernel's ``period``."""
    panel, p, L = config.panel, state["product"], config.lead_time
    x = list(state["x"])
    q = float(action[0])
    day = _day(config, state["t"])
    # 3. ORDER.
    if L == 0:
        x[0] += q
    # 4. DEMAND from the panel.
    d = float(panel.demand[p, day]) if demand is None else float(demand)
    # 5. SALES AND LOST SALES.
    sales = min(x[0], d)
    lost = d - sales
    x[0] -= sales
    # 6. REWARD parts.
    price, cost = panel.attributes["price"][p], panel.attributes["unit_cost"][p]
    revenue = price * sales
    purchase = cost * q
    holding = config.holding_rate * cost * x[0]
    penalty = config.lost_sales_penalty * price * lost
    parts = {"cost": purchase + holding + penalty - revenue, "revenue": revenue, "purchase_cost": purchase,
             "holding_cost": holding, "penalty": penalty, "on_hand": x[0], "sales": sales, "demand": d,
             "lost": lost, "order": q, "product": float(p), "day": float(day)}
    window = (state["sales"][1:] + [sales]) if config.history > 0 else []
    # 1. ARRIVAL at the start of the next day.
    if L >= 1:
        pipeline = x[1:] + [q]
        x = [x[0] + pipeline[0]] + pipeline[1:]
    return {"product": p, "t": state["t"] + 1, "x": x, "sales": window}, parts


class ReferenceEnv(gym.Env):
    """The reference dynamics as a pure-Python Gymnasium env over one product (the benchmark's baseline)."""

    def __init__(self, config: Any, product: int = 0) -> None:
        self.config = config
        self.product = product
        self.observation_space = config.observation_space()
        self.action_space = config.action_space()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start the product's episode at the first day of the config's window."""
        super().reset(seed=seed)
        self._state = initial(self.config, self.product)
        return np.array(observe(self.config, self._state), dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One day of the reference dynamics."""
        self._state, parts = step(self.config, self._state, np.atleast_1d(action).tolist())
        obs = np.array(observe(self.config, self._state), dtype=np.float32)
        return obs, -parts["cost"], False, self._state["t"] >= self.config.horizon, parts
