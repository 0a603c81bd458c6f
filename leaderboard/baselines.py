"""The built-in OR baselines the leaderboard runs, and the naive policy each family scores 0 against.

Each entry fits its heuristic on the instance (by simulation search on seeds far from the public ones, see
``baselines/common.py``'s ``FIT_SEED``) and is then evaluated exactly like a submission. Every entry must
load: a missing module or class is an error, never a baseline silently left out.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["BASELINES", "Baseline", "available_baselines", "fit_baseline", "naive_policy"]

LOST_SALES_QUICK = {"num_envs": 16, "periods": 1_000, "warmup": 100}
DUAL_SOURCING_QUICK = {"periods": 40_000, "screen_periods": 4_000}
PANEL = ("retail", "replenishment")  # the families the panel baselines serve


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A built-in entry: ``cls.fit(config)`` (with ``quick_fit`` in quick mode) on the instances where it applies."""

    name: str
    family: str | tuple[str, ...]  # the scenario family, or the families, it runs on
    target: str  # "module:Class"
    quick_fit: dict[str, Any] = dataclasses.field(default_factory=dict)  # smaller simulation search for --quick
    applies: Callable[[Any], bool] = lambda config: True
    description: str = ""

    def serves(self, family: str) -> bool:
        """Return whether the baseline runs on instances of this scenario family."""
        return family in ((self.family,) if isinstance(self.family, str) else self.family)

    def load(self) -> Any:
        """Import and return the policy class."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


def _short_lead(config: Any) -> bool:
    # The myopic table has (s_0 + 1)^(L-1) s_L states and is stepped in Python: beyond L = 4 it is too slow for
    # the 10-minute board (L = 6 alone takes about a minute).
    return config.lead_time <= 4


BASELINES: tuple[Baseline, ...] = (
    # The constant order keeps the package's search even in --quick: a short search picks q = mean demand, under
    # which stock drifts without bound, and the fit takes about a second anyway.
    Baseline("ConstantOrder", "lost_sales", "invgym.baselines.base_stock:ConstantOrder",
             description="best constant order (Goldberg et al. 2016: asymptotically optimal in the lead time)"),
    Baseline("BaseStock", "lost_sales", "invgym.baselines.base_stock:BaseStock", LOST_SALES_QUICK,
             description="best order-up-to level on the inventory position, found by simulation"),
    Baseline("CappedBaseStock", "lost_sales", "invgym.baselines.base_stock:CappedBaseStock", LOST_SALES_QUICK,
             description="best capped base-stock policy (Xin 2021), found by simulation"),
    Baseline("StandardVectorBaseStock", "lost_sales", "invgym.baselines.vector_base_stock:VectorBaseStock",
             description="vector base-stock with Morton's levels (Zipkin 2008, Sec. 3)"),
    Baseline("Myopic", "lost_sales", "invgym.baselines.myopic:Myopic", applies=_short_lead,
             description="Zipkin's (2008) myopic policy (lead times up to 4)"),
    Baseline("DualIndex", "dual_sourcing", "invgym.baselines.dual_index:DualIndex", DUAL_SOURCING_QUICK,
             description="dual index (Veeraraghavan & Scheller-Wolf 2008)"),
    Baseline("SingleIndex", "dual_sourcing", "invgym.baselines.dual_index:SingleIndex", DUAL_SOURCING_QUICK,
             description="single index (Scheller-Wolf, Veeraraghavan & van Houtum 2007)"),
    Baseline("CappedDualIndex", "dual_sourcing", "invgym.baselines.dual_index:CappedDualIndex",
             DUAL_SOURCING_QUICK, description="capped dual index (Sun & Van Mieghem 2019)"),
    Baseline("TailoredBaseSurge", "dual_sourcing", "invgym.baselines.dual_index:TailoredBaseSurge",
             DUAL_SOURCING_QUICK, description="tailored base-surge (Allon & Van Mieghem 2010)"),
    Baseline("PerishableBaseStock", "perishable", "invgym.baselines.perishable_policies:PerishableBaseStock",
             LOST_SALES_QUICK, description="best base-stock level on the inventory position"),
    Baseline("PerishableCappedBaseStock", "perishable",
             "invgym.baselines.perishable_policies:PerishableCappedBaseStock", LOST_SALES_QUICK,
             description="capped base-stock (Haijema & Minner 2016)"),
    Baseline("EstimatedWithdrawal", "perishable",
             "invgym.baselines.perishable_policies:EstimatedWithdrawalBaseStock", LOST_SALES_QUICK,
             description="EWA policy (Broekmeulen & van Donselaar 2009) with an order cap"),
    Baseline("IntervalStock", "procurement_removal", "invgym.baselines.interval_stock:IntervalStock",
             description="order up to a, remove down to b, levels found by simulation"),
    # Panel scenarios: both fit on the train window of the panel only; the instances run the test window.
    Baseline("PredictThenOptimize", PANEL, "invgym.baselines.predict_then_optimize:PredictThenOptimize",
             {"max_rows": 5_000}, description="quantile-regression forecast, then order up to the critical "
                                              "fractile (Madeka et al. 2022; Zhao et al. 2025)"),
    Baseline("DaysOfCover", PANEL, "invgym.baselines.days_of_cover:DaysOfCover", {"max_days": 30},
             description="order up to the days of cover (of the last 28 days' mean sales) cheapest on the "
                         "train window"),
)


def available_baselines() -> list[Baseline]:
    """Return every built-in baseline, each loaded once (an import error of any of them propagates)."""
    for baseline in BASELINES:
        baseline.load()
    return list(BASELINES)


def fit_baseline(name: str, config: Any, quick: bool = False) -> Any:
    """Fit the built-in baseline ``name`` on a scenario config."""
    for baseline in BASELINES:
        if baseline.name == name:
            return baseline.load().fit(config, **(baseline.quick_fit if quick else {}))
    raise ValueError(f"unknown baseline {name!r}; the built-in ones are {[b.name for b in BASELINES]}.")


def naive_policy(config: Any) -> tuple[Any, str]:
    """Return the policy that scores 0 on an instance, and its description: its scenario's ``naive_policy``.

    Lost sales: the standard base-stock policy, ordering up to Morton's level ``s_L`` (the critical-fractile
    quantile of demand over L + 1 periods, the optimal level with backorders) without any search. Dual sourcing:
    the expedited supplier alone. Perishable: base-stock at the level that ignores outdating. Procurement and
    removal: order up to the mean demand over the lead time plus one period, never remove. Retail and
    replenishment: order up to last week's mean sales times the protection period (``DaysOfCover`` with
    ``protection_period`` days and a 7-day window). See ``invgym.baselines.naive``.
    """
    from invgym.scenarios import scenario_of

    return scenario_of(config).load("naive_policy")(config)
