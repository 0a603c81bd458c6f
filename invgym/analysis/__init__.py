"""Analysis tools for field-test style comparisons of inventory policies (numpy only)."""

from invgym.analysis.did import DiDResult, difference_in_differences, run_panel, simulate_deployment

__all__ = ["DiDResult", "difference_in_differences", "run_panel", "simulate_deployment"]
