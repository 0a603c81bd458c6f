"""Performance metrics computed from a kernel's per-period parts, one function per metric, grouped by family.

Every metric takes ``totals`` — each part of the scenario's ``PARTS`` (e.g. ``"sales"``, ``"demand"``)
summed over all envs and counted periods — and ``env_periods``, the number of env-periods in those sums. A
scenario names its metric table (``LOST_SALES_METRICS``, ...) in its :data:`invgym.scenarios.SCENARIOS` entry;
:func:`metrics_for` evaluates it. A scenario that declares none gets the average per period of each part
(``average_<part>``), so every scenario has some metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from invgym.scenarios import get_scenario

__all__ = [
    "LOST_SALES_METRICS",
    "PERISHABLE_METRICS",
    "REPLENISHMENT_METRICS",
    "RETAIL_METRICS",
    "average_on_hand",
    "average_order",
    "fill_rate",
    "lost_sales_rate",
    "metrics_for",
    "outdating_rate",
    # retail and replenishment (Madeka et al. 2022; JD's field metrics, Zhao et al. 2025)
    "average_holding_cost",
    "average_inventory",
    "average_lost_sales",
    "average_reward",
    "in_stock_rate",
    "per_sku_metrics",
    "service_level",
    "stockout_day_rate",
    "turnover_days",
]

Totals = Mapping[str, float]


def _ratio(numerator: float, denominator: float) -> float:
    # A ratio of totals (not an average of per-period ratios), so periods with no demand carry no weight; NaN
    # when nothing was demanded at all, rather than a made-up 1.0.
    return numerator / denominator if denominator > 0 else math.nan


def fill_rate(totals: Totals, env_periods: int) -> float:
    """Fraction of demand met from stock: ``sum(sales) / sum(demand)`` (NaN with no demand)."""
    return _ratio(totals["sales"], totals["demand"])


def lost_sales_rate(totals: Totals, env_periods: int) -> float:
    """Fraction of demand lost: ``sum(lost) / sum(demand)`` (NaN with no demand); equals ``1 - fill_rate``."""
    return _ratio(totals["lost"], totals["demand"])


def average_on_hand(totals: Totals, env_periods: int) -> float:
    """End-of-period on-hand stock per period: ``sum(holding) / env_periods`` (the units charged ``h``)."""
    return totals["holding"] / env_periods


def average_order(totals: Totals, env_periods: int) -> float:
    """Units ordered per period: ``sum(order) / env_periods``."""
    return totals["order"] / env_periods


def outdating_rate(totals: Totals, env_periods: int) -> float:
    """Share of ordered units that outdate (waste): ``sum(outdated) / sum(order)`` (NaN when nothing was ordered).

    The waste percentage perishable-inventory studies report next to the cost (e.g. De Moor et al. 2022).
    """
    return _ratio(totals["outdated"], totals["order"])


def average_reward(totals: Totals, env_periods: int) -> float:
    """Reward per env-period: ``-sum(cost) / env_periods`` (retail: revenue minus purchase, holding, penalty)."""
    return -totals["cost"] / env_periods


def average_inventory(totals: Totals, env_periods: int) -> float:
    """End-of-day on-hand units per env-period: ``sum(on_hand) / env_periods``."""
    return totals["on_hand"] / env_periods


def service_level(totals: Totals, env_periods: int) -> float:
    """Demand-weighted service level: ``sum(sales) / sum(demand)`` over all products and days (NaN with none).

    Pooling before dividing weights each product by its demand, so a fast mover counts more than a slow one.
    """
    return _ratio(totals["sales"], totals["demand"])


def turnover_days(totals: Totals, env_periods: int) -> float:
    """Inventory turnover in days: average inventory / average daily sales = ``sum(on_hand) / sum(sales)``.

    Both averages are over the same SKU-days, so ``env_periods`` cancels (NaN when nothing sold).
    """
    return _ratio(totals["on_hand"], totals["sales"])


def in_stock_rate(totals: Totals, env_periods: int) -> float:
    """Share of SKU-days with stock on the shelf before demand: ``sum(in_stock) / env_periods``."""
    return totals["in_stock"] / env_periods


def average_holding_cost(totals: Totals, env_periods: int) -> float:
    """Holding cost per SKU-day: ``sum(holding_cost) / env_periods`` (money)."""
    return totals["holding_cost"] / env_periods


def average_lost_sales(totals: Totals, env_periods: int) -> float:
    """Lost units per SKU-day: ``sum(lost) / env_periods``."""
    return totals["lost"] / env_periods


def stockout_day_rate(totals: Totals, env_periods: int) -> float:
    """Share of SKU-days with lost demand: ``sum(stockout) / env_periods`` (x days = expected stock-out days)."""
    return totals["stockout"] / env_periods


def per_sku_metrics(parts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """JD's metrics per SKU from per-day parts of shape (num_skus, days), e.g. recorded from a vector env.

    Returns arrays (num_skus,): ``turnover_days`` = sum(on_hand) / sum(sales) (NaN without sales),
    ``in_stock_rate`` = mean(in_stock), ``holding_cost`` = sum(holding_cost), ``lost_sales`` = sum(lost),
    ``stockout_days`` = sum(stockout), ``service_level`` = sum(sales) / sum(demand) (NaN without demand).
    """
    sums = {key: np.asarray(parts[key], dtype=np.float64).sum(axis=1)
            for key in ("on_hand", "sales", "in_stock", "holding_cost", "lost", "stockout", "demand")}
    days = np.asarray(parts["sales"]).shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        turnover = np.where(sums["sales"] > 0, sums["on_hand"] / sums["sales"], np.nan)
        service = np.where(sums["demand"] > 0, sums["sales"] / sums["demand"], np.nan)
    return {"turnover_days": turnover, "in_stock_rate": sums["in_stock"] / days,
            "holding_cost": sums["holding_cost"], "lost_sales": sums["lost"], "stockout_days": sums["stockout"],
            "service_level": service}


Metric = Callable[[Totals, int], float]

# Metrics reported by ``invgym.evaluate``; each scenario names its table in invgym/scenarios.py (``metrics``).
RETAIL_METRICS: dict[str, Metric] = {
    "average_reward": average_reward,
    "average_inventory": average_inventory,
    "service_level": service_level,
    # JD's turnover needs only on_hand and sales, which Retail-v0 reports too; its in-stock rate needs a
    # per-day in_stock flag, which only Replenishment-v0's kernel records.
    "turnover_days": turnover_days,
}
REPLENISHMENT_METRICS: dict[str, Metric] = {
    "turnover_days": turnover_days,
    "in_stock_rate": in_stock_rate,
    "holding_cost": average_holding_cost,
    "lost_sales": average_lost_sales,
    "stockout_day_rate": stockout_day_rate,
    "service_level": service_level,
}
LOST_SALES_METRICS: dict[str, Metric] = {
    "fill_rate": fill_rate,
    "lost_sales_rate": lost_sales_rate,
    "average_on_hand": average_on_hand,
    "average_order": average_order,
}
PERISHABLE_METRICS: dict[str, Metric] = {  # Perishable-v0's PARTS count units as lost sales' do, plus outdating
    "fill_rate": fill_rate,
    "lost_sales_rate": lost_sales_rate,
    "outdating_rate": outdating_rate,
    "average_on_hand": average_on_hand,
    "average_order": average_order,
}


def metrics_for(family: str, totals: Totals, env_periods: int) -> dict[str, float]:
    """Return the scenario's metrics (``average_<part>`` for every part when its entry declares no ``metrics``).

    ``family`` is a scenario name of :data:`invgym.scenarios.SCENARIOS`; an unknown one raises ValueError.
    """
    if env_periods <= 0:
        raise ValueError(f"env_periods must be positive. Got {env_periods} instead.")
    scenario = get_scenario(family)
    table = scenario.load("metrics") if scenario.declares("metrics") else None
    if table is None:
        return {f"average_{part}": float(value) / env_periods
                for part, value in totals.items() if part != "cost"}
    return {name: float(metric(totals, env_periods)) for name, metric in table.items()}
