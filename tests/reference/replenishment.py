"""Plain-Python replenishment dynamics: the independent copy the kernel is tested against.

The state is a dict (product, t, on-hand, a list of (arrival period, units) orders, sales window).
``step(config, state, action, lead)`` takes the vendor lead time of the order placed today (the kernel draws it
from its stream and reports it in ``info["lead_time"]``; :class:`ReferenceEnv` draws it with numpy). The
constraint rules are written here from the env's docstring, independently of the kernel.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from tests.reference.retail import _day, features

__all__ = ["ReferenceEnv", "effective_order", "initial", "observe", "step"]


def initial(config: Any, product: int) -> dict:
    """Return the starting state of SKU ``product``."""
    start = config.window[0]
    window = [float(config.panel.demand[product, d]) if d >= 0 else 0.0
              for d in range(start - config.history, start)]
    return {"product": product, "t": 0, "on_hand": float(config.initial_on_hand[product]), "orders": [],
            "sales": window}


def _wait(config: Any, product: int, day: int) -> int:
    return (config.review_period - (day + product) % config.review_period) % config.review_period


def observe(config: Any, state: dict) -> list[float]:
    """2. OBSERVE (same layout as the kernel)."""
    p, day = state["product"], _day(config, state["t"])
    tail = features(config.panel, p, day, config.promo_notice)
    on_order = sum(units for _, units in state["orders"])
    wait = _wait(config, p, day)
    sku = [float(config.lead_pmf[p] @ np.arange(config.max_lead_time + 1)), config.case_pack[p], config.moq[p],
           config.capacity[p]]
    return [state["on_hand"], on_order] + list(state["sales"]) + tail + [float(wait == 0), float(wait)] + sku


def effective_order(config: Any, state: dict, requested: float) -> float:
    """The documented rules: review day, whole cases (up), MOQ (up), capacity (down, 0 if below the MOQ)."""
    p, day = state["product"], _day(config, state["t"])
    if requested <= 0 or _wait(config, p, day) != 0:
        return 0.0
    pack, moq = config.case_pack[p], config.moq[p]
    n = math.ceil(requested / pack - 1e-9) * pack
    n = max(n, moq)
    room = config.capacity[p] - state["on_hand"] - sum(units for _, units in state["orders"])
    if n > room:
        n = math.floor(room / pack + 1e-9) * pack
        if n < moq or n < 0:
            n = 0.0
    return float(n)


def step(config: Any, state: dict, action: list[float], lead: int | None) -> tuple[dict, dict]:
    """One day; ``lead`` is the lead time of today's order (ignored when nothing is ordered)."""
    panel, p = config.panel, state["product"]
    t, day = state["t"], _day(config, state["t"])
    on_hand = state["on_hand"]
    orders = list(state["orders"])
    requested = float(action[0])
    # 3. ORDER under the constraints; it arrives at the start of period t + lead.
    q = effective_order(config, state, requested)
    if q > 0:
        if lead == 0:
            on_hand += q
        else:
            orders.append((t + lead, q))
    # 4. DEMAND from the panel.
    d = float(panel.demand[p, day])
    # 5. SALES AND LOST SALES.
    available = on_hand
    sales = min(on_hand, d)
    lost = d - sales
    on_hand -= sales
    # 6. COSTS.
    price, cost = panel.attributes["price"][p], panel.attributes["unit_cost"][p]
    holding = config.holding_rate * cost * on_hand
    lost_cost = (max(price - cost, 0.0) + config.lost_sales_penalty * price) * lost
    order_cost = config.order_cost if q > 0 else 0.0
    parts = {"cost": holding + lost_cost + order_cost, "holding_cost": holding, "lost_sales_cost": lost_cost,
             "order_cost": order_cost, "on_hand": on_hand, "on_order": sum(u for _, u in orders), "sales": sales,
             "demand": d, "lost": lost, "order": q, "requested": requested,
             "lead_time": float(lead) if q > 0 else -1.0, "in_stock": float(available > 0),
             "stockout": float(lost > 0), "product": float(p), "day": float(day)}
    window = (state["sales"][1:] + [sales]) if config.history > 0 else []
    # 1. ARRIVAL at the start of period t + 1.
    on_hand += sum(u for due, u in orders if due == t + 1)
    orders = [(due, u) for due, u in orders if due != t + 1]
    return {"product": p, "t": t + 1, "on_hand": on_hand, "orders": orders, "sales": window}, parts


class ReferenceEnv(gym.Env):
    """The reference dynamics as a pure-Python Gymnasium env over one SKU (the benchmark's baseline)."""

    def __init__(self, config: Any, product: int = 0) -> None:
        self.config = config
        self.product = product
        self.observation_space = config.observation_space()
        self.action_space = config.action_space()
        self._cdf = np.cumsum(config.lead_pmf[product])

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start the product's episode at the first day of the config's window."""
        super().reset(seed=seed)
        self._state = initial(self.config, self.product)
        return np.array(observe(self.config, self._state), dtype=np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One day of the reference dynamics."""
        lead = int(np.searchsorted(self._cdf, self.np_random.random(), side="right"))
        self._state, parts = step(self.config, self._state, np.atleast_1d(action).tolist(), lead)
        obs = np.array(observe(self.config, self._state), dtype=np.float32)
        return obs, -parts["cost"], False, self._state["t"] >= self.config.horizon, parts
