"""``solve_exact``: the optimal long-run average cost and policy of a scenario, by the family's exact solver.

A scenario with an exact dynamic-programming solver declares it in its :data:`invgym.scenarios.SCENARIOS` entry
(``exact_solver``, as ``"module:function"``, so that the solver is imported only when it is first used). Every
solver has the signature
``solver(config, *, max_states=..., max_memory_gb=..., tol=...) -> ExactSolution`` and refuses, with a ValueError
naming the state count, an instance with more states than ``max_states``, and, naming the estimate, one whose
working memory (estimated before solving, logged on the ``invgym.baselines`` logger and recorded as
``info["memory_bytes"]``) exceeds ``max_memory_gb`` (default :data:`DEFAULT_MAX_MEMORY_GB`, 2 GiB). No other limit
is built in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from invgym.baselines.common import DEFAULT_MAX_MEMORY_GB, ExactSolution, config_of, family_of
from invgym.scenarios import SCENARIOS, get_scenario

__all__ = ["DEFAULT_MAX_MEMORY_GB", "solve_exact"]


def _solver(family: str) -> Callable[..., ExactSolution]:
    scenario = get_scenario(family)
    if not scenario.declares("exact_solver"):
        solved = [s.name for s in SCENARIOS.values() if s.exact_solver is not None]
        raise ValueError(
            f"there is no exact solver for the {family!r} family; exact solvers exist for {solved}. "
            "Use a heuristic from invgym.baselines instead."
        )
    return scenario.load("exact_solver")


def solve_exact(env_or_id: Any, *, max_states: int | None = None, tol: float | None = None,
                max_memory_gb: float | None = None, **env_kwargs: Any) -> ExactSolution:
    """Solve a scenario exactly: its optimal long-run average cost per period and an optimal policy.

    Args:
        env_or_id: an invgym env, vector env, scenario config, or a registered id such as
            ``"invgym/LostSales-v0"`` (then ``env_kwargs`` set its parameters).
        max_states: refuse instances whose reduced state space is larger (ValueError naming the count);
            None uses the family solver's default (10 million for lost sales, 2 million for the others, 1 million
            for procurement-removal).
        tol: stop when the span of ``T V - V`` is below ``tol`` (cost units), so the returned average cost is
            within ``tol / 2`` of the optimum; None uses the family solver's default.
        max_memory_gb: refuse instances whose working memory, estimated before solving, exceeds this many GiB
            (ValueError naming the estimate); None uses ``DEFAULT_MAX_MEMORY_GB`` (2 GiB).
        **env_kwargs: env parameters, only with an id.

    Returns:
        ExactSolution: ``average_cost``, ``policy`` (a FittedPolicy acting on the env's observations),
        ``num_states``, ``iterations``, ``span`` and solver-specific ``info`` (always with ``memory_bytes``).

    Raises:
        ValueError: the family has no exact solver, the instance has more states than ``max_states`` or needs
            more memory than ``max_memory_gb``, or it is not one the solver covers (e.g. lost sales with a
            ``ProductMixture``).

    >>> import invgym
    >>> from invgym.baselines import solve_exact
    >>> solution = solve_exact("invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0)
    >>> round(solution.average_cost, 2), solution.num_states  # Zipkin (2008), Table 3: 6.09
    (6.09, 153)
    """
    config = config_of(env_or_id, **env_kwargs)
    options = {name: value for name, value in (("max_states", max_states), ("tol", tol),
                                               ("max_memory_gb", max_memory_gb)) if value is not None}
    return _solver(family_of(config))(config, **options)
