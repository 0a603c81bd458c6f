"""Torch twin of the dual-sourcing kernel (``invgym/core/_dual_sourcing.pyx``): same Period Timeline, differentiable."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from invgym.twins.common import Twin

__all__ = ["DualSourcingTwin"]


class DualSourcingTwin(Twin):
    """Dual sourcing over a batch, with continuous orders ``action = (q_regular, q_expedited)``.

    Every step is piecewise linear in the orders (``relu`` for on-hand and backlog, ``min`` for lost-sales
    sales), so the total cost has (sub)gradients with respect to every order and to a policy's parameters.
    """

    parts: ClassVar[tuple[str, ...]] = ("cost", "holding", "backorder", "lost", "demand", "order_regular",
                                        "order_expedited")

    def __init__(self, regular_lead_time: int, expedited_lead_time: int, regular_cost: float,
                 expedited_cost: float, holding_cost: float, backorder_cost: float, lost_sales: bool = False,
                 initial_state: Any = None) -> None:
        self.regular_lead_time = int(regular_lead_time)
        self.expedited_lead_time = int(expedited_lead_time)
        self.width = self.regular_lead_time + max(self.expedited_lead_time - 1, 0)
        self.regular_cost = float(regular_cost)
        self.expedited_cost = float(expedited_cost)
        self.holding_cost = float(holding_cost)
        self.backorder_cost = float(backorder_cost)
        self.lost_sales = bool(lost_sales)
        self.initial = torch.zeros(self.width) if initial_state is None else torch.as_tensor(initial_state)

    @classmethod
    def from_config(cls, config: Any) -> DualSourcingTwin:
        """Build the twin of a validated ``DualSourcingConfig``."""
        return cls(config.regular_lead_time, config.expedited_lead_time, config.regular_cost,
                   config.expedited_cost, config.holding_cost, config.backorder_cost, config.lost_sales,
                   config.initial_state)

    def initial_state(self, batch: int, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """Return ``x`` (B, width): net inventory, the regular pipeline, then the expedited pipeline."""
        return {"x": self.initial.to(dtype).expand(batch, self.width).clone()}

    def observe(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """2. OBSERVE: net inventory, the regular pipeline, then the expedited pipeline (each oldest first)."""
        return state["x"]

    def step(self, state: dict[str, torch.Tensor], action: torch.Tensor,
             demand: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One period; the numbered steps match the kernel's ``period``."""
        x = state["x"]
        lr, le = self.regular_lead_time, self.expedited_lead_time
        q_r, q_e = action[:, 0], action[:, 1]
        net = x[:, 0]
        regular = x[:, 1:lr]
        expedited = x[:, lr:]
        # 3. ORDER: with l_e = 0 the expedited order is on hand at once.
        if le == 0:
            net = net + q_e
        # 4. DEMAND: replayed from the given path.
        d = demand
        # 5. FULFILMENT: backlog, or sell from stock on hand and lose the rest.
        if self.lost_sales:
            sold = torch.minimum(net, d)
            lost = d - sold
            net = net - sold
        else:
            lost = torch.zeros_like(d)
            net = net - d
        # 6. COSTS on the end-of-period state, purchases when ordered.
        holding, backorder = torch.relu(net), torch.relu(-net)
        cost = (self.holding_cost * holding + self.backorder_cost * (backorder + lost)
                + self.regular_cost * q_r + self.expedited_cost * q_e)
        parts = {"cost": cost, "holding": holding, "backorder": backorder, "lost": lost, "demand": d,
                 "order_regular": q_r, "order_expedited": q_e}
        # 1. ARRIVAL (start of t+1): the regular order of t+1-l_r and the expedited order of t+1-l_e arrive.
        regular = torch.cat([regular, q_r[:, None]], dim=1)
        net = net + regular[:, 0]
        columns = [net[:, None], regular[:, 1:]]
        if le >= 1:
            expedited = torch.cat([expedited, q_e[:, None]], dim=1)
            net_col = columns[0] + expedited[:, :1]
            columns = [net_col, regular[:, 1:], expedited[:, 1:]]
        return {"x": torch.cat(columns, dim=1)}, parts


TWIN = DualSourcingTwin
