"""``solve_exact`` sizes itself: memory estimated, logged, recorded and refused above ``max_memory_gb``.

Every family estimates its working memory before solving, records and logs it, and refuses an instance above
``max_memory_gb`` with the estimate; ``max_states`` is the only state limit.

The figures of time and peak memory (L = 6, p = 39 lost sales; perishable m = 4, L = 2 against a plain solver) are
in ``bench/exact.py``; these tests check behaviour only.
"""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pytest

import invgym  # noqa: F401 - registers the ids
from invgym.baselines import solve_exact
from invgym.baselines.exact_perishable import policy_average_cost, solve_perishable
from invgym.envs.perishable import PerishableConfig

# One small instance of every family with an exact solver.
INSTANCES = [
    ("invgym/LostSales-v0", {"lead_time": 4, "lost_sales_cost": 39.0}),
    ("invgym/LostSales-v0", {"lead_time": 1, "lost_sales_cost": 9.0}),
    ("invgym/Perishable-v0", {"shelf_life": 3, "lead_time": 1}),
    ("invgym/DualSourcing-v0", {}),
    ("invgym/ProcurementRemoval-v0", {"lead_time": 2}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), INSTANCES)
def test_memory_estimate_is_recorded_logged_and_bounds_the_peak(env_id, kwargs, caplog):
    """The estimate is in info and the log, made before solving, and is at least the traced peak."""
    with caplog.at_level(logging.INFO, logger="invgym.baselines"):
        solution = solve_exact(env_id, **kwargs)  # also imports what the solver imports lazily (scipy)
    estimate = solution.info["memory_bytes"]
    assert f"{estimate / 2**30:.3f} GiB" in caplog.text and "max_memory_gb=2" in caplog.text
    tracemalloc.start()
    try:
        again = solve_exact(env_id, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert again.info["memory_bytes"] == estimate and again.average_cost == solution.average_cost
    assert 0 < peak <= estimate, (peak, estimate)


@pytest.mark.parametrize(("env_id", "kwargs"), INSTANCES)
def test_memory_budget_refuses_with_the_estimate(env_id, kwargs):
    """Below the estimate, every family refuses before solving and names the estimate and the budget."""
    with pytest.raises(ValueError, match=r"(states|cells).* needs about [\d.e-]+ GiB of working memory, more than "
                                         r"max_memory_gb=1e-06\. Raise max_memory_gb"):
        solve_exact(env_id, max_memory_gb=1e-6, **kwargs)


@pytest.mark.parametrize("value", [0.0, -1.0, float("inf")])
def test_bad_max_memory_gb(value):
    """A budget that is not a positive finite float is refused in the project's message shape."""
    with pytest.raises(ValueError, match=r"The 'max_memory_gb' parameter of solve_exact must be a float in the "
                                         r"range \(0, inf\)"):
        solve_exact("invgym/LostSales-v0", max_memory_gb=value)


def test_max_states_refusal_names_the_memory_it_would_need():
    """Above max_states the error gives the count and what raising max_states would cost in memory."""
    with pytest.raises(ValueError, match=r"3,704,180 states .* more than max_states=1,000,000\. Raise max_states "
                                         r"if memory and time allow \(it would need about 0\.3\d GiB"):
        solve_exact("invgym/LostSales-v0", lead_time=6, lost_sales_cost=39.0, max_states=1_000_000)


@pytest.mark.slow
def test_perishable_beyond_the_old_table_limit_is_solved_by_default():
    """Shelf life 4, L = 2 (161,051 states; the old solver's 72.6 M-cell table was refused) solves with the defaults.

    Its average cost is the chain cost of its own policy, and no base-stock level beats it.
    """
    config = PerishableConfig.validate("PerishableEnv", shelf_life=4, lead_time=2, issuing="fifo")
    solution = solve_perishable(config)
    assert solution.num_states == 11**5 and solution.info["memory_bytes"] < 2**30
    assert policy_average_cost(config, solution.policy) == pytest.approx(solution.average_cost, abs=1e-5)
    states = np.indices((11,) * 5).reshape(5, -1).T
    for level in (12, 16, 20):
        orders = np.clip(level - states.sum(axis=1), 0, 10)
        assert policy_average_cost(config, orders) > solution.average_cost
