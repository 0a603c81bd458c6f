"""The naive policy of each scenario: the standard rule a leaderboard score of 0 stands for.

Each scenario names its naive policy in :data:`invgym.scenarios.SCENARIOS` (``naive_policy``); every function
here takes a config and returns ``(fitted policy, description)``. None of them searches: they are the rules of
thumb the fitted baselines and agents are measured against.
"""

from __future__ import annotations

from typing import Any

__all__ = ["dual_sourcing", "lost_sales", "panel", "perishable", "procurement_removal"]


def lost_sales(config: Any) -> tuple[Any, str]:
    """Standard base-stock: order up to Morton's ``s_L``, without any search.

    ``s_L`` is the critical-fractile quantile of demand over L + 1 periods, the optimal level with backorders.
    """
    from invgym.baselines.base_stock import BaseStock
    from invgym.baselines.lost_sales_policy import fractile_levels

    level = fractile_levels(config)[-1]
    return BaseStock.fit(config, level=level), f"standard base-stock: BaseStock(level={level}), Morton's s_L"


def procurement_removal(config: Any) -> tuple[Any, str]:
    """Order up to the mean demand over the lead time plus one period, never remove."""
    from invgym.baselines.interval_stock import IntervalStock

    policy = IntervalStock.fit(config, order_up_to=round(config.demand.mean * (config.lead_time + 1)),
                               remove_down_to=float("inf"))
    return policy, f"order up to the mean lead-time demand, never remove: {policy!r}"


def dual_sourcing(config: Any) -> tuple[Any, str]:
    """The expedited supplier alone, at its optimal base-stock level."""
    from invgym.baselines.dual_index import TailoredBaseSurge

    # With full backlogging the newsvendor quantile b / (b + h) of demand over l_e + 1 periods (purchase costs do
    # not move it: every unit demanded is bought once).
    fractile = config.backorder_cost / (config.backorder_cost + config.holding_cost)
    level = config.demand.quantile(fractile, config.expedited_lead_time + 1)
    policy = TailoredBaseSurge.fit(config, quantity=0, level=level)
    return policy, f"single sourcing from the expedited supplier at its base-stock level: {policy!r}"


def perishable(config: Any) -> tuple[Any, str]:
    """Base-stock at the level that ignores outdating (the non-perishable newsvendor level)."""
    from invgym.baselines.perishable_policies import NaiveBaseStock

    policy = NaiveBaseStock.fit(config)
    return policy, f"base-stock at the non-perishable newsvendor level (ignores outdating): {policy!r}"


def panel(config: Any) -> tuple[Any, str]:
    """Retail and replenishment: order up to last week's mean sales times the protection period."""
    from invgym.baselines.days_of_cover import DaysOfCover, protection_period

    # No fit and no safety stock: last week's mean sales over the protection period (L + 1 days, or review
    # period plus mean vendor lead time), the rule of thumb the forecast-based policies are measured against.
    policy = DaysOfCover.fit(config, days=round(protection_period(config), 2), window=7)
    return policy, f"order up to last week's mean sales over the protection period: {policy!r}"
