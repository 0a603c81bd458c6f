"""Torch twin of the perishable kernel (``invgym/core/_perishable.pyx``): same Period Timeline, differentiable."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from invgym.twins.common import Twin

__all__ = ["PerishableTwin"]


class PerishableTwin(Twin):
    """Perishable inventory with shelf life m, lead time L and FIFO/LIFO issuing over a batch, continuous orders.

    Issuing is a chain of ``take = min(bucket, unmet)`` steps and outdating/holding are sums of what is left, so
    the total cost is piecewise linear in every order and (sub)gradients reach the policy's parameters.
    """

    parts: ClassVar[tuple[str, ...]] = ("cost", "holding", "lost", "outdated", "sales", "demand", "order")

    def __init__(self, shelf_life: int, lead_time: int, issuing: str, holding_cost: float, lost_sales_cost: float,
                 outdating_cost: float, purchase_cost: float, initial_state: Any = None) -> None:
        self.shelf_life = int(shelf_life)
        self.lead_time = int(lead_time)
        self.width = self.shelf_life + self.lead_time - 1
        if issuing not in ("fifo", "lifo"):
            raise ValueError(f"issuing must be 'fifo' or 'lifo'. Got {issuing!r} instead.")
        self.fifo = issuing == "fifo"
        self.holding_cost = float(holding_cost)
        self.lost_sales_cost = float(lost_sales_cost)
        self.outdating_cost = float(outdating_cost)
        self.purchase_cost = float(purchase_cost)
        self.initial = (torch.zeros(self.width) if initial_state is None
                        else torch.as_tensor(initial_state, dtype=torch.float64).reshape(self.width))

    @classmethod
    def from_config(cls, config: Any) -> PerishableTwin:
        """Build the twin of a validated ``PerishableConfig``."""
        return cls(config.shelf_life, config.lead_time, config.issuing, config.holding_cost, config.lost_sales_cost,
                   config.outdating_cost, config.purchase_cost, config.initial_state)

    def initial_state(self, batch: int, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """Return ``x`` (B, m - 1 + L): units by the period they were ordered in, oldest first."""
        return {"x": self.initial.to(dtype).expand(batch, self.width).clone()}

    def observe(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """2. OBSERVE: on-hand units by remaining life, then the pipeline oldest first (one 0 if m - 1 + L = 0)."""
        x = state["x"]
        return x if self.width > 0 else x.new_zeros(x.shape[0], 1)

    def step(self, state: dict[str, torch.Tensor], action: torch.Tensor,
             demand: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """One period; the numbered steps match the kernel's ``period``."""
        m = self.shelf_life
        q = action[:, 0]
        # 3. ORDER: q takes the last place of the row [x, q]; the first m places are on hand.
        y = torch.cat([state["x"], q[:, None]], dim=1)
        buckets = list(y[:, :m].unbind(dim=1))
        pipeline = y[:, m:]
        # 4. DEMAND: replayed from the given path.
        d = demand
        # 5. ISSUING: FIFO oldest first, LIFO freshest first; take = min(bucket, unmet) keeps gradients.
        unmet = d
        for k in (range(m) if self.fifo else range(m - 1, -1, -1)):
            take = torch.minimum(buckets[k], torch.relu(unmet))
            buckets[k] = buckets[k] - take
            unmet = unmet - take
        lost = torch.relu(unmet)
        sales = d - lost
        # 6. OUTDATING: what is left of the oldest bucket expires.
        outdated = buckets[0]
        carried = buckets[1:]
        # 7. COSTS: h per carried unit, p per lost unit, w per outdated unit, c per ordered unit.
        holding = torch.stack(carried, dim=1).sum(dim=1) if carried else torch.zeros_like(d)
        cost = (self.holding_cost * holding + self.lost_sales_cost * lost + self.outdating_cost * outdated
                + self.purchase_cost * q)
        parts = {"cost": cost, "holding": holding, "lost": lost, "outdated": outdated, "sales": sales,
                 "demand": d, "order": q}
        # 8. AGEING and 1. ARRIVAL: the row shifts by one place (the outdated bucket leaves).
        x_next = torch.cat([torch.stack(carried, dim=1) if carried else y[:, :0], pipeline], dim=1)
        return {"x": x_next}, parts


TWIN = PerishableTwin
