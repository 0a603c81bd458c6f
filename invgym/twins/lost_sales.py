"""Torch twin of the lost-sales kernel (``invgym/core/_lost_sales.pyx``): same Period Timeline, differentiable."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from invgym.twins.common import Twin

__all__ = ["LostSalesTwin"]


class LostSalesTwin(Twin):
    """Lost sales with lead time L over a batch, with continuous orders.

    ``sales = min(on_hand, demand)`` is piecewise linear, so the total cost has (sub)gradients with respect to
    every order; that is what DirectBackprop differentiates (Madeka et al. 2022).
    """

    parts: ClassVar[tuple[str, ...]] = ("cost", "holding", "lost", "sales", "demand", "order")

    def __init__(self, lead_time: int, holding_cost: float, lost_sales_cost: float, purchase_cost: float = 0.0,
                 history: int = 0, initial_state: Any = None) -> None:
        self.lead_time = int(lead_time)
        self.width = max(self.lead_time, 1)
        self.holding_cost = float(holding_cost)
        self.lost_sales_cost = float(lost_sales_cost)
        self.purchase_cost = float(purchase_cost)
        self.history = int(history)
        self.initial = torch.zeros(self.width) if initial_state is None else torch.as_tensor(initial_state)

    @classmethod
    def from_config(cls, config: Any) -> LostSalesTwin:
        """Build the twin of a validated ``LostSalesConfig``."""
        return cls(config.lead_time, config.holding_cost, config.lost_sales_cost, config.purchase_cost,
                   config.history, config.initial_state)

    def initial_state(self, batch: int, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """Return on-hand + pipeline ``x`` (B, max(L,1)) and the sales window ``sales`` (B, history)."""
        x = self.initial.to(dtype).expand(batch, self.width).clone()
        return {"x": x, "sales": torch.zeros(batch, self.history, dtype=dtype)}

    def observe(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """2. OBSERVE: on-hand, the pipeline oldest first, then past sales oldest first."""
        return torch.cat([state["x"], state["sales"]], dim=1)

    def step(self, state: dict[str, torch.Tensor], action: torch.Tensor,
             demand: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One period; the numbered steps match the kernel's ``period``."""
        x = state["x"]
        q = action[:, 0]
        on_hand = x[:, 0]
        # 3. ORDER: q joins the pipeline; with L = 0 it is on hand at once.
        if self.lead_time == 0:
            on_hand = on_hand + q
        # 4. DEMAND: replayed from the given path.
        d = demand
        # 5. SALES AND LOST SALES.
        sales = torch.minimum(on_hand, d)
        lost = d - sales
        on_hand = on_hand - sales
        # 6. COSTS on the end-of-period state: h * on-hand + p * lost + c * q.
        cost = self.holding_cost * on_hand + self.lost_sales_cost * lost + self.purchase_cost * q
        parts = {"cost": cost, "holding": on_hand, "lost": lost, "sales": sales, "demand": d, "order": q}
        history = state["sales"]
        if self.history > 0:
            history = torch.cat([history[:, 1:], sales[:, None]], dim=1)
        # 1. ARRIVAL (start of t+1): the order placed in t+1-L arrives; the pipeline shifts by one.
        if self.lead_time == 0:
            x_next = on_hand[:, None]
        elif self.lead_time == 1:
            x_next = (on_hand + q)[:, None]
        elif self.lead_time == 2:
            x_next = torch.stack([on_hand + x[:, 1], q], dim=1)  # the concatenation below at L = 2, in one op
        else:
            x_next = torch.cat([(on_hand + x[:, 1])[:, None], x[:, 2:], q[:, None]], dim=1)
        return {"x": x_next, "sales": history}, parts


TWIN = LostSalesTwin
