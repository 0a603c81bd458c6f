"""Torch twin of the procurement-removal kernel (``invgym/core/_procurement_removal.pyx``): same Period Timeline."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from invgym.twins.common import Twin

__all__ = ["ProcurementRemovalTwin"]


class ProcurementRemovalTwin(Twin):
    """Joint procurement and removal with lead time L over a batch, with continuous signed actions.

    The action u orders relu(u) or asks to remove relu(-u); the removal is min(relu(-u), relu(on-hand)), as in
    the kernel. Every operation is piecewise linear, so the total cost has (sub)gradients with respect to each
    action (DirectBackprop, Madeka et al. 2022). Demand is replayed from given paths; with a schedule of S
    phases the twin only tracks the phase t mod S that the observation shows.
    """

    parts: ClassVar[tuple[str, ...]] = ("cost", "holding", "lost", "backlog", "sales", "demand", "order",
                                        "removed", "salvage")

    def __init__(self, lead_time: int, holding_cost: float, shortage_cost: float, purchase_cost: float = 0.0,
                 salvage_value: float = 0.0, removal_cost: float = 0.0, backlog: bool = False,
                 num_phases: int = 0, initial_state: Any = None) -> None:
        self.lead_time = int(lead_time)
        self.width = max(self.lead_time, 1)
        self.holding_cost = float(holding_cost)
        self.shortage_cost = float(shortage_cost)
        self.purchase_cost = float(purchase_cost)
        self.salvage_value = float(salvage_value)
        self.removal_cost = float(removal_cost)
        self.backlog = bool(backlog)
        self.num_phases = int(num_phases)
        self.initial = torch.zeros(self.width) if initial_state is None else torch.as_tensor(initial_state)

    @classmethod
    def from_config(cls, config: Any) -> ProcurementRemovalTwin:
        """Build the twin of a validated ``ProcurementRemovalConfig``."""
        return cls(config.lead_time, config.holding_cost, config.shortage_cost, config.purchase_cost,
                   config.salvage_value, config.removal_cost, config.backlog, config.num_phases,
                   config.initial_state)

    def initial_state(self, batch: int, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """Return on-hand + pipeline ``x`` (B, max(L,1)) and the phase ``phase`` (B,)."""
        x = self.initial.to(dtype).expand(batch, self.width).clone()
        return {"x": x, "phase": torch.zeros(batch, dtype=dtype)}

    def observe(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """2. OBSERVE: on-hand (net inventory with backlog), the pipeline oldest first, then the phase."""
        if self.num_phases:
            return torch.cat([state["x"], state["phase"][:, None]], dim=1)
        return state["x"]

    def step(self, state: dict[str, torch.Tensor], action: torch.Tensor,
             demand: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One period; the numbered steps match the kernel's ``period``."""
        x = state["x"]
        u = action[:, 0]
        on_hand = x[:, 0]
        # 3. ORDER OR REMOVE: relu(u) joins the pipeline (on hand at once if L = 0); removal is up to the shelf.
        q = torch.relu(u)
        removed = torch.minimum(torch.relu(-u), torch.relu(on_hand))
        on_hand = on_hand - removed
        if self.lead_time == 0:
            on_hand = on_hand + q
        # 4. DEMAND: replayed from the given path.
        d = demand
        # 5. SALES AND LOST SALES OR BACKLOG.
        if self.backlog:
            end = on_hand - d
            sales = torch.relu(on_hand) - torch.relu(end)
            lost = torch.zeros_like(d)
            backlog = torch.relu(-end)
        else:
            sales = torch.minimum(on_hand, d)
            lost = d - sales
            end = on_hand - sales
            backlog = torch.zeros_like(d)
        # 6. COSTS on the end-of-period state: h on-hand + p lost (b backorders) + c q + k removed - s removed.
        holding = torch.relu(end)
        salvage = self.salvage_value * removed
        cost = (self.holding_cost * holding + self.shortage_cost * (lost + backlog) + self.purchase_cost * q
                + self.removal_cost * removed - salvage)
        parts = {"cost": cost, "holding": holding, "lost": lost, "backlog": backlog, "sales": sales, "demand": d,
                 "order": q, "removed": removed, "salvage": salvage}
        # 1. ARRIVAL (start of t+1): the order placed in t+1-L arrives; the pipeline shifts by one.
        if self.lead_time == 0:
            x_next = end[:, None]
        elif self.lead_time == 1:
            x_next = (end + q)[:, None]
        else:
            x_next = torch.cat([(end + x[:, 1])[:, None], x[:, 2:], q[:, None]], dim=1)
        phase = torch.remainder(state["phase"] + 1, self.num_phases) if self.num_phases else state["phase"]
        return {"x": x_next, "phase": phase}, parts


TWIN = ProcurementRemovalTwin
