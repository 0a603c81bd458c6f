"""Torch twin of the retail kernel (``invgym/core/_retail.pyx``): same Period Timeline, differentiable.

With lost sales and a fixed lead time, ``sales = min(on_hand, demand)`` is piecewise linear in the orders, so the
episode's reward has (sub)gradients with respect to every order: DirectBackprop (Madeka et al. 2022) trains a
policy through it on recorded demand. Env b runs product ``products[b % len(products)]`` (the config's
products) from the first day of the config's window, as the kernel's env b does; ``initial_state`` and
``demand_paths`` also take explicit per-row ``products`` and a day ``offset`` into the window, which is how
DirectBackprop draws training paths (random products, a random start day, every feature aligned with the day).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from invgym.twins.common import Twin

__all__ = ["RetailTwin"]


class RetailTwin(Twin):
    """Retail-v0 over a batch of products, with continuous orders."""

    parts: ClassVar[tuple[str, ...]] = ("cost", "revenue", "purchase_cost", "holding_cost", "penalty", "on_hand",
                                        "sales", "demand", "lost", "order", "product", "day")

    def __init__(self, config: Any) -> None:
        panel = config.panel
        self.config = config
        self.lead_time = config.lead_time
        self.width = max(config.lead_time, 1)
        self.history = config.history
        self.lookahead = config.lookahead
        self.start, self.length = config.window
        self.products = torch.as_tensor(np.array(config.products, dtype=np.int64))
        self.demand = torch.as_tensor(panel.demand)
        padded = np.concatenate([panel.promo.astype(np.float64), np.zeros((panel.num_products, self.lookahead))], 1)
        self.promo = torch.as_tensor(padded)  # zeros past the panel's last day, as the kernel shows
        self.holiday = torch.as_tensor(panel.holiday.astype(np.float64))
        self.calendar = torch.as_tensor(panel.calendar())
        self.price = torch.as_tensor(panel.attributes["price"])
        self.unit_cost = torch.as_tensor(panel.attributes["unit_cost"])
        self.holding = config.holding_rate * self.unit_cost
        self.penalty = config.lost_sales_penalty * self.price
        self.initial_on_hand = config.initial_on_hand

    @classmethod
    def from_config(cls, config: Any) -> RetailTwin:
        """Build the twin of a validated ``RetailConfig``."""
        return cls(config)

    def _rows(self, batch: int, products: Any) -> torch.Tensor:
        """Panel product of each row: the config's products in turn, or the given ones."""
        if products is None:
            return self.products[torch.arange(batch) % len(self.products)]
        rows = torch.as_tensor(np.asarray(products, dtype=np.int64))
        if rows.shape != (batch,) or bool(((rows < 0) | (rows >= self.demand.shape[0])).any()):
            raise ValueError(f"products must be {batch} panel product indices in [0, {self.demand.shape[0] - 1}]. "
                             f"Got {products!r} instead.")
        return rows

    def initial_state(self, batch: int, dtype: torch.dtype = torch.float64, products: Any = None,
                      offset: int = 0) -> dict[str, torch.Tensor]:
        """Return inventory ``x`` (B, max(L,1)), the recorded sales window, products and the period counter.

        ``offset`` days into the window (wrapping): the sales window then holds the recorded demand of the
        ``history`` days before that day, as a reset at the window's first day holds the days before it.
        """
        product = self._rows(batch, products)
        t = int(offset) % self.length
        x = torch.zeros(batch, self.width, dtype=dtype)
        x[:, 0] = self.initial_on_hand
        days = torch.arange(self.start + t - self.history, self.start + t)
        window = self.demand[product][:, days.clamp(min=0)].to(dtype) * (days >= 0).to(dtype)
        return {"x": x, "sales": window, "product": product, "t": torch.tensor(t, dtype=torch.int64)}

    def demand_paths(self, batch: int, periods: int | None = None, dtype: torch.dtype = torch.float64,
                     products: Any = None, offset: int = 0) -> torch.Tensor:
        """Return the panel demand (B, periods) that row b meets from day ``offset`` on, wrapping as the kernel does.

        Pass these to :meth:`rollout` (with the :meth:`initial_state` of the same ``products`` and ``offset``) so
        that each row's demand belongs to the product and the days it observes.
        """
        periods = self.length if periods is None else int(periods)
        product = self._rows(batch, products)
        days = self.start + (int(offset) + torch.arange(periods)) % self.length
        return self.demand[product][:, days].to(dtype)

    def _day(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.start + state["t"] % self.length

    def observe(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """2. OBSERVE: inventory, censored sales, promotions today..today+lookahead, holiday, calendar."""
        p, day = state["product"], self._day(state)
        dtype = state["x"].dtype
        promo = self.promo[p][:, day : day + self.lookahead + 1].to(dtype)
        batch = p.shape[0]
        holiday = self.holiday[day].to(dtype).expand(batch, 1)
        calendar = self.calendar[day].to(dtype).expand(batch, 4)
        return torch.cat([state["x"], state["sales"], promo, holiday, calendar], dim=1)

    def step(self, state: dict[str, torch.Tensor], action: torch.Tensor,
             demand: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One day; the numbered steps match the kernel's ``period``."""
        x, p, L = state["x"], state["product"], self.lead_time
        q = action[:, 0]
        on_hand = x[:, 0]
        # 3. ORDER: with L = 0 it is on the shelf at once.
        if L == 0:
            on_hand = on_hand + q
        # 4. DEMAND: given (e.g. the panel's values recorded from the kernel).
        d = demand
        # 5. SALES AND LOST SALES.
        sales = torch.minimum(on_hand, d)
        lost = d - sales
        on_hand = on_hand - sales
        # 6. REWARD parts.
        revenue = self.price[p] * sales
        purchase = self.unit_cost[p] * q
        holding = self.holding[p] * on_hand
        penalty = self.penalty[p] * lost
        day = self._day(state).to(d.dtype).expand_as(d)
        parts = {"cost": purchase + holding + penalty - revenue, "revenue": revenue, "purchase_cost": purchase,
                 "holding_cost": holding, "penalty": penalty, "on_hand": on_hand, "sales": sales, "demand": d,
                 "lost": lost, "order": q, "product": p.to(d.dtype), "day": day}
        window = torch.cat([state["sales"][:, 1:], sales[:, None]], dim=1) if self.history > 0 else state["sales"]
        # 1. ARRIVAL at the start of the next day.
        if L == 0:
            x_next = on_hand[:, None]
        elif L == 1:
            x_next = (on_hand + q)[:, None]
        else:
            x_next = torch.cat([(on_hand + x[:, 1])[:, None], x[:, 2:], q[:, None]], dim=1)
        return {"x": x_next, "sales": window, "product": p, "t": state["t"] + 1}, parts


TWIN = RetailTwin
