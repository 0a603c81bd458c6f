"""Exact lost-sales solver: Zipkin (2008) Table 3 optima, Morton's reduction, independent checks, bad input.

Table 3 precision. The published optima are printed to 0.01, so a correct solver can sit up to 0.005 from a
printed cell (0.11 % of the smallest, 4.40 for p = 4, L = 2, where the exact optimum is 4.3953). The tests assert
``|optimum - printed| <= 0.005``: every cell must round to its printed value, which is tighter than 0.1 % on
14 of the 16 cells and at most 0.114 % on the other two. The solver itself is converged to 1e-7.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import pathlib

import numpy as np
import pytest

import invgym  # noqa: F401 - registers the ids
from invgym.baselines import solve_exact
from invgym.baselines.exact_lost_sales import lost_sales_state_count, solve_lost_sales
from invgym.demand import Poisson, ProductMixture
from invgym.envs.lost_sales import LostSalesConfig, LostSalesVectorEnv
from invgym.scenarios import SCENARIOS

TABLE_3 = json.loads((pathlib.Path(__file__).parent / "data" / "zipkin_2008_table3.json").read_text())
CELLS = [(p, lead) for p in (4, 9, 19, 39) for lead in (1, 2, 3, 4)]
PRINTED = 0.005  # half a unit in the last printed digit of Table 3


def _zipkin(p: float, lead_time: int, **kwargs) -> LostSalesConfig:
    # Zipkin (2008): Poisson(5) demand, h = 1, no purchase cost.
    return LostSalesConfig.validate("LostSalesEnv", lead_time=lead_time, demand=Poisson(5.0), holding_cost=1.0,
                                    lost_sales_cost=float(p), **kwargs)


def _poisson_pmf(mean: float, top: int) -> np.ndarray:
    # Written out here (not invgym.demand) so the independent checks do not reuse the code under test.
    return np.array([math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(top)])


# === Zipkin (2008), Table 3 ===


@pytest.mark.slow
@pytest.mark.parametrize(("p", "lead_time"), CELLS)
def test_zipkin_2008_table_3_optimal(p, lead_time):
    """Every optimum of Zipkin (2008) Table 3 is reproduced to its printed digits."""
    solution = solve_exact("invgym/LostSales-v0", lead_time=lead_time, lost_sales_cost=float(p), tol=1e-7)
    printed = TABLE_3[str(p)][str(lead_time)]["optimal"]
    assert abs(solution.average_cost - printed) <= PRINTED + 1e-9, (solution.average_cost, printed)
    # The optimum is a lower bound on every heuristic column of the same row.
    row = TABLE_3[str(p)][str(lead_time)]
    assert solution.average_cost <= min(row["base_stock"], row["myopic"], row["vector_base_stock"]) + PRINTED
    assert solution.span < 1e-7


@pytest.mark.slow
def test_zipkin_2008_largest_cell_has_zipkins_table_1_state_count():
    """The largest cell (L = 4, p = 39) keeps Zipkin's reduced states (its solve time is in bench/exact.py)."""
    solution = solve_exact("invgym/LostSales-v0", lead_time=4, lost_sales_cost=39.0)
    # Zipkin's Table 1 reports 27,945 reduced states for this cell; Morton's reduction as implemented here (and
    # in DynaPlex's lost_sales model, which finds the same 27,951) keeps 6 more (see exact_lost_sales's doc).
    assert abs(solution.num_states - 27_945) <= 6


# === Morton's reduction is lossless ===


@pytest.mark.slow
@pytest.mark.parametrize(("p", "lead_time"), [(39, 1), (9, 2), (4, 3), (19, 3)])
def test_morton_bounds_do_not_bind(p, lead_time):
    """Relaxing Morton's bounds leaves the optimum unchanged, and its policy obeys them."""
    config = _zipkin(p, lead_time)
    reduced = solve_lost_sales(config, tol=1e-9)
    z, s = reduced.info["order_bound"], reduced.info["position_bound"]
    # Relax both bounds: orders up to the env's max_order, positions 6 above Morton's S.
    relaxed = solve_lost_sales(config, tol=1e-9, order_bound=int(config.max_order), position_bound=s + 6)
    assert relaxed.num_states > reduced.num_states
    assert abs(relaxed.average_cost - reduced.average_cost) < 1e-7
    table = relaxed.policy.table
    states = np.argwhere(table >= 0)
    orders = table[tuple(states.T)]
    position = states.sum(axis=1)
    assert orders.max() < config.max_order
    assert np.all(orders <= np.clip(np.minimum(z, s - position), 0, None))


def test_state_count_matches_enumeration():
    """The closed-form state count equals a brute-force enumeration."""
    for lead_time, z, s in [(1, 7, 13), (2, 8, 20), (3, 10, 29), (4, 6, 17), (5, 3, 9)]:
        pipelines = itertools.product(range(z + 1), repeat=lead_time - 1)
        expected = sum(s - sum(x) + 1 for x in pipelines if sum(x) <= s)
        assert lost_sales_state_count(lead_time, z, s) == expected


# === Independent checks of the solution ===


@pytest.mark.parametrize(("p", "lead_time"), [(9, 2), (4, 3)])
def test_policy_satisfies_the_bellman_equation(p, lead_time):
    """The Bellman equation g + h(x) = min_q Q(x, q) holds, and the table attains the minimum."""
    # A loop over states and orders, independent of the solver's vectorised sweep and its array layouts.
    solution = solve_lost_sales(_zipkin(float(p), lead_time), tol=1e-10)
    values, table = solution.info["values"], solution.policy.table
    z, s = solution.info["order_bound"], solution.info["position_bound"]
    pmf = _poisson_pmf(5.0, 40)
    d = np.arange(len(pmf))
    g = solution.average_cost
    for x in np.argwhere(table >= 0):
        left = np.maximum(x[0] - d, 0)
        period = pmf @ (left + p * np.maximum(d - x[0], 0))
        q_values = []
        for q in range(min(z, s - x.sum()) + 1):
            # Next state: (left + x_1, x_2, ..., x_{L-1}, q), Zipkin's (2008) transition.
            future = values[(left + x[1],) + tuple(x[2:]) + (q,)]
            q_values.append(period + pmf @ future)
        assert abs(min(q_values) - g - values[tuple(x)]) < 1e-6
        assert q_values[table[tuple(x)]] <= min(q_values) + 1e-9


def test_zero_lead_time_is_the_newsvendor():
    """With L = 0 the optimum is the newsvendor: order up to the critical fractile."""
    # L = 0: the order serves this period's demand, so the optimum orders up to the p/(p+h) quantile S.
    config = _zipkin(19.0, 0)
    solution = solve_lost_sales(config)
    pmf = _poisson_pmf(5.0, 60)
    level = int(np.argmax(np.cumsum(pmf) >= 19.0 / 20.0))
    d = np.arange(len(pmf))
    newsvendor = float(pmf @ (np.maximum(level - d, 0) + 19.0 * np.maximum(d - level, 0)))
    assert abs(solution.average_cost - newsvendor) < 1e-6
    assert solution.policy.table.tolist() == [level - x for x in range(level + 1)]


def test_purchase_cost_above_lost_sales_cost_never_orders():
    """When buying costs more than losing a sale, never ordering is optimal."""
    config = _zipkin(9.0, 2, purchase_cost=12.0)
    solution = solve_lost_sales(config)
    assert abs(solution.average_cost - 9.0 * 5.0) < 1e-6
    assert solution.policy.table.max() == 0


@pytest.mark.slow
@pytest.mark.parametrize(("p", "lead_time", "seed"), [(39, 4, 10**6), (9, 2, 2 * 10**6)])
def test_policy_simulated_in_the_env_matches_average_cost(p, lead_time, seed):
    """The policy's simulated cost in the env matches average_cost within 4 standard errors."""
    solution = solve_exact("invgym/LostSales-v0", lead_time=lead_time, lost_sales_cost=float(p))
    num_envs, warmup, periods = 512, 200, 3000
    envs = LostSalesVectorEnv(num_envs=num_envs, lead_time=lead_time, lost_sales_cost=float(p), horizon=10**9)
    obs, _ = envs.reset(seed=seed)
    totals = np.zeros(num_envs)
    for t in range(warmup + periods):
        obs, _, _, _, info = envs.step(solution.policy(obs))
        if t >= warmup:
            totals += info["cost"]
    means = totals / periods
    error = means.std(ddof=1) / math.sqrt(num_envs)
    assert error < 0.003 * solution.average_cost  # precise enough that a wrong policy cannot pass
    assert abs(means.mean() - solution.average_cost) < 4 * error, (means.mean(), solution.average_cost, error)


def test_continuous_env_is_solved_on_the_integer_lattice():
    """A continuous env gets the integer-lattice optimum, with float actions."""
    discrete = solve_lost_sales(_zipkin(9.0, 2))
    continuous = solve_lost_sales(_zipkin(9.0, 2, action_type="continuous", max_order=20.0))
    assert continuous.info["lattice"] and not discrete.info["lattice"]
    assert abs(continuous.average_cost - discrete.average_cost) < 1e-9
    actions = continuous.policy(np.array([[0.2, 3.9], [4.0, 0.0]]))
    assert actions.dtype == np.float64
    np.testing.assert_array_equal(actions, discrete.policy(np.array([[0, 4], [4, 0]])))


def test_capped_orders_cost_more_than_uncapped():
    """A max_order below Morton's order bound raises the optimal cost."""
    uncapped = solve_lost_sales(_zipkin(19.0, 3))
    capped = solve_lost_sales(_zipkin(19.0, 3, max_order=6))
    assert capped.average_cost > uncapped.average_cost
    assert capped.policy.table.max() <= 6


# === The policy object ===


def test_policy_outside_the_table():
    """Positions at or above S order 0; other states outside the table raise ValueError."""
    solution = solve_exact("invgym/LostSales-v0", lead_time=3, lost_sales_cost=9.0)
    policy, z, s = solution.policy, solution.info["order_bound"], solution.info["position_bound"]
    assert policy.family == "lost_sales"
    # Position at or above S: Morton's bound says order nothing.
    np.testing.assert_array_equal(policy(np.array([[s + 5.0, 0.0, 0.0], [0.0, 0.0, s]])), [0, 0])
    with pytest.raises(ValueError, match="outside the solved table"):
        policy(np.array([[0.0, z + 1.0, 0.0]]))
    action, _ = policy.predict(np.zeros(3, dtype=np.float32))
    assert isinstance(action, np.integer) and action == policy.table[0, 0, 0]


# === Bad input ===


def test_too_large_instance_names_the_state_count():
    """An instance above max_states is refused with its state count."""
    with pytest.raises(ValueError, match=r"has [\d,]+ states .* more than max_states=1,000"):
        solve_exact("invgym/LostSales-v0", lead_time=4, lost_sales_cost=39.0, max_states=1000)
    with pytest.raises(ValueError, match=r"[\d,]+ states"):
        solve_exact("invgym/LostSales-v0", lead_time=12, lost_sales_cost=39.0)


def test_product_mixture_is_refused():
    """A ProductMixture has no single optimum and is refused."""
    mixture = ProductMixture([Poisson(3.0), Poisson(7.0)])
    with pytest.raises(ValueError, match="ProductMixture of 2 products"):
        solve_exact("invgym/LostSales-v0", lead_time=2, demand=mixture)


def test_family_without_solver(monkeypatch):
    """A scenario that declares no exact solver gets a clear ValueError."""
    monkeypatch.setitem(SCENARIOS, "lost_sales", dataclasses.replace(SCENARIOS["lost_sales"], exact_solver=None))
    with pytest.raises(ValueError, match="no exact solver for the 'lost_sales' family"):
        solve_exact("invgym/LostSales-v0")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"tol": 0.0}, ValueError, "The 'tol' parameter of solve_exact must be a float in the range (0, inf)"),
    ({"max_states": 0}, ValueError, "The 'max_states' parameter of solve_exact must be an int"),
    ({"max_states": 1.5}, TypeError, "The 'max_states' parameter of solve_exact must be an int"),
])
def test_bad_solver_options(kwargs, error, message):
    """Bad tol / max_states raise with the project message shape."""
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        solve_exact("invgym/LostSales-v0", **kwargs)
