"""OR baselines: fitted heuristics, exact solvers and the shared policy interface (imported as invgym.baselines)."""

from invgym.baselines.base_stock import BaseStock, CappedBaseStock, ConstantOrder
from invgym.baselines.common import ExactSolution, FittedPolicy, family_of
from invgym.baselines.days_of_cover import DaysOfCover
from invgym.baselines.dual_index import CappedDualIndex, DualIndex, SingleIndex, TailoredBaseSurge
from invgym.baselines.exact import solve_exact
from invgym.baselines.interval_stock import IntervalStock
from invgym.baselines.myopic import Myopic
from invgym.baselines.newsvendor import Newsvendor
from invgym.baselines.perishable_policies import (
    EstimatedWithdrawalBaseStock,
    NaiveBaseStock,
    PerishableBaseStock,
    PerishableCappedBaseStock,
)
from invgym.baselines.predict_then_optimize import PredictThenOptimize
from invgym.baselines.vector_base_stock import VectorBaseStock

__all__ = ["BaseStock", "CappedBaseStock", "CappedDualIndex", "ConstantOrder", "DaysOfCover", "DualIndex",
           "EstimatedWithdrawalBaseStock", "ExactSolution", "FittedPolicy", "IntervalStock", "Myopic",
           "NaiveBaseStock", "Newsvendor", "PerishableBaseStock", "PerishableCappedBaseStock",
           "PredictThenOptimize", "SingleIndex",
           "TailoredBaseSurge",
           "VectorBaseStock", "family_of", "solve_exact"]
