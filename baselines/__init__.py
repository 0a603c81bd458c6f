"""OR baselines: fitted heuristics, exact solvers and the shared policy interface (imported as invgym.baselines)."""

from invgym.baselines.common import ExactSolution, FittedPolicy, family_of

__all__ = ["ExactSolution", "FittedPolicy", "family_of"]
