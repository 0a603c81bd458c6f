"""What the lost-sales heuristics share: a policy base class and the critical-fractile levels.

**Purchase cost.** Every unit bought is, in the long run, a unit sold, so a purchase cost c adds
``c E[sales] = c (E[D] - E[lost])`` per period: a constant minus c per lost unit. The heuristics therefore
work with the effective lost-sales cost ``p - c`` and the critical fractile ``(p - c) / (p - c + h)``; for
c = 0 (Zipkin 2008) this is the usual ``p / (p + h)``.

**Search.** Heuristics with free parameters are fitted by simulation on the kernel's compiled rollout with
common random numbers, with the toolkit every family shares (``baselines/common.py``: ``RolloutCost``,
``descend``, ``steepest_descent``, ``golden_section``, ``FIT_SEED``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import FittedPolicy

__all__ = ["LostSalesPolicy", "critical_fractile", "effective_costs", "fractile_levels"]


class LostSalesPolicy(FittedPolicy):
    """Base of the lost-sales heuristics: knows the env it was fitted for and finishes orders like the kernel.

    Orders are clipped to ``[0, max_order]`` exactly as the kernel's ``rollout`` clips them, so the compiled
    and the stepped evaluation of a policy agree to the last bit; with a discrete action space orders are
    returned as ints.
    """

    family = "lost_sales"

    # Config fields the policy's orders depend on; evaluating it in an env that differs in one of them is
    # refused.
    fitted_fields: tuple[str, ...] = ("lead_time", "max_order", "action_type")

    def __init__(self, config: Any, **params: Any) -> None:
        super().__init__(**params)
        self.lead_time = int(config.lead_time)
        self.width = max(self.lead_time, 1)
        self.max_order = float(config.max_order)
        self.discrete = config.action_type == "discrete"
        self.remember_fit(config)
        self.info: dict[str, Any] = {}

    def _state(self, obs: np.ndarray) -> np.ndarray:
        """Zipkin's state (on-hand, then outstanding orders oldest first) from a batch of observations."""
        if obs.shape[1] < self.width:
            raise ValueError(f"{type(self).__name__} needs observations with at least {self.width} columns "
                             f"(lead_time={self.lead_time}). Got shape {obs.shape} instead.")
        return obs[:, : self.width]

    def _finish(self, q: np.ndarray) -> np.ndarray:
        """Clip orders to ``[0, max_order]`` as the kernel's rollout does; ints for discrete action spaces."""
        q = np.clip(q, 0.0, self.max_order)
        if self.discrete:
            integer = q.astype(np.int64)
            if np.array_equal(integer, q):
                return integer
        return q


def effective_costs(config: Any) -> tuple[float, float]:
    """Return ``(h, p - c)``: the holding cost and the lost-sales cost net of the purchase cost."""
    return config.holding_cost, config.lost_sales_cost - config.purchase_cost


def critical_fractile(holding_cost: float, lost_sales_cost: float) -> float:
    """Return the newsvendor fractile ``p / (p + h)``; 0 (never order) when losing a sale costs nothing."""
    if lost_sales_cost <= 0.0:
        return 0.0
    return lost_sales_cost / (lost_sales_cost + holding_cost)


def fractile_levels(config: Any) -> list[int]:
    """Return Morton's (1971) levels ``s_l``, l = 0..L: the fractile quantile of demand over l + 1 periods.

    ``s_L`` is the base-stock level of the backorder system (the standard base-stock policy) and ``s_0`` the
    newsvendor quantity of one period; Zipkin (2008, Sec. 3) uses them as the standard vector base-stock
    levels.
    """
    beta = critical_fractile(*effective_costs(config))
    return [config.demand.quantile(beta, periods) for periods in range(1, config.lead_time + 2)]

