"""Lost-sales heuristics: Zipkin (2008) Table 3, closed forms, independent brute force, bad input.

Table 3 precision. Each cell is simulated for NUM_ENVS * PERIODS = 4 million env-periods after a warm-up.
The per-env averages give a relative standard error of at most about 0.09 % (largest at p = 39, where rare
lost sales cost 39 each: 0.111 % was measured with 2.5 million); the published values are rounded to 0.01,
which is up to 0.12 % of the smallest cell (4.04). The 0.5 % tolerance therefore leaves more than 4 standard
errors after rounding, and each test asserts that its standard error is below 0.1 %, so a looser estimate
can never pass by luck.
"""

from __future__ import annotations

import itertools
import json
import math
import pathlib

import numpy as np
import pytest

import invgym
from invgym.baselines import BaseStock, CappedBaseStock, ConstantOrder, Myopic, Newsvendor, VectorBaseStock
from invgym.demand import Poisson
from invgym.envs.lost_sales import LostSalesConfig

TABLE_3 = json.loads((pathlib.Path(__file__).parent / "data" / "zipkin_2008_table3.json").read_text())
NUM_ENVS, PERIODS, WARMUP = 1000, 4000, 200
TOLERANCE = 0.005


def _zipkin(p: float, lead_time: int, **kwargs) -> LostSalesConfig:
    # Zipkin (2008): Poisson(5) demand, h = 1, no purchase cost; the env's defaults otherwise.
    return LostSalesConfig.validate("LostSalesEnv", lead_time=lead_time, demand=Poisson(5.0),
                                    holding_cost=1.0, lost_sales_cost=float(p), **kwargs)


def _poisson_pmf(mean: float, top: int) -> np.ndarray:
    # Written out here (not invgym.demand) so the checks below do not reuse the code under test.
    return np.array([math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(top)])


def _poisson_quantile(mean: float, level: float) -> int:
    cdf = np.cumsum(_poisson_pmf(mean, int(mean * 4 + 40)))
    return int(np.argmax(cdf >= level - 1e-12))


FITS = {
    "base_stock": lambda config: BaseStock.fit(config),
    "myopic": lambda config: Myopic.fit(config),
    "vector_base_stock": lambda config: VectorBaseStock.fit(config),  # Morton's levels: the standard policy
}
CELLS = [(column, p, lead) for column in FITS for p in (4, 9, 19, 39) for lead in (1, 2, 3, 4)]


# === Zipkin (2008), Table 3 ===


@pytest.mark.slow
@pytest.mark.parametrize(("column", "p", "lead_time"), CELLS)
def test_zipkin_2008_table_3(column, p, lead_time):
    """Best base-stock, myopic and standard vector base-stock costs within 0.5 % of Zipkin's Table 3."""
    config = _zipkin(p, lead_time)
    policy = FITS[column](config)
    result = invgym.evaluate(policy, config, num_envs=NUM_ENVS, periods=PERIODS, warmup=WARMUP, seed=0)
    published = TABLE_3[str(p)][str(lead_time)][column]
    assert result.stderr < 0.001 * published
    assert abs(result.average_cost / published - 1.0) < TOLERANCE, (policy, result.average_cost, published)


# === Closed forms and independent checks ===


@pytest.mark.parametrize(("p", "c", "h"), [(9.0, 0, 1.0), (4.0, 0, 1.0), (39.0, 3.0, 2.0), (0.0, 0, 1.0)])
def test_newsvendor_is_the_critical_fractile(p, c, h):
    """At L = 0 newsvendor, best base-stock and myopic all order up to F^-1((p - c) / (p - c + h))."""
    config = LostSalesConfig.validate("LostSalesEnv", lead_time=0, lost_sales_cost=p, purchase_cost=c,
                                      holding_cost=h, max_order=40)
    beta = (p - c) / (p - c + h) if p > c else 0.0
    expected = _poisson_quantile(5.0, beta) if beta > 0 else 0
    assert Newsvendor.fit(config).params["level"] == expected
    assert BaseStock.fit(config).params["level"] == expected  # at L = 0 the best base-stock is the newsvendor
    assert Myopic.fit(config)(np.array([[0.0], [expected + 1.0]])).tolist() == [expected, 0]


def test_standard_vector_base_stock_levels_are_mortons_bounds():
    """Standard levels: the p / (p + h) quantile of Poisson(5 k), demand over k = l + 1 periods."""
    for p, lead_time in itertools.product((4, 39), (1, 3)):
        beta = p / (p + 1.0)
        levels = VectorBaseStock.fit(_zipkin(p, lead_time)).params["levels"]
        assert list(levels) == [_poisson_quantile(5.0 * k, beta) for k in range(1, lead_time + 2)]


def test_myopic_order_matches_brute_force_expectation():
    """L = 2, by enumerating demands: the order lands on V = ((x0 - D0)^+ + x1 - D1)^+ in period t + 2.

    The myopic order minimises E[h (V + q - D2)^+ + p (D2 - V - q)^+].
    """
    h, p, top = 1.0, 9.0, 40
    pmf = _poisson_pmf(5.0, top)
    policy = Myopic.fit(_zipkin(p, 2))
    assert policy.table.shape == (20, 9)  # (1, 9), (2, 13) lie outside the table, (20, 3) beyond the cutoff
    d2 = np.arange(top)
    for x0, x1 in [(0, 0), (3, 2), (7, 5), (12, 0), (1, 9), (20, 3), (2, 13)]:
        v = np.zeros(60)
        for d0, d1 in itertools.product(range(top), range(top)):
            v[max(max(x0 - d0, 0) + x1 - d1, 0)] += pmf[d0] * pmf[d1]
        costs = [sum(v[k] * (pmf @ (h * np.maximum(k + q - d2, 0) + p * np.maximum(d2 - k - q, 0)))
                     for k in range(60)) for q in range(30)]
        assert policy(np.array([[x0, x1]], dtype=np.float32))[0] == int(np.argmin(costs)), (x0, x1)


def test_myopic_orders_fall_as_stock_rises_inside_and_outside_the_table():
    """More stock, or stock arriving later, leaves more on hand at arrival: the myopic order can only fall.

    The states span the table (outstanding orders <= s_0 = 8), the exactly solved region beyond it, and the
    zero region beyond Morton's cutoffs.
    """
    policy = Myopic.fit(_zipkin(9, 3))
    rng = np.random.default_rng(0)
    states = rng.integers(0, 16, size=(300, 3)).astype(np.float64)
    orders = policy(states)
    for k in range(3):
        more = states.copy()
        more[:, k] += 1
        assert np.all(policy(more) <= orders)
    later = states[:, [0, 2, 1]]  # swap the two outstanding orders
    swap = states[:, 1] > states[:, 2]  # then the bigger one arrives later
    assert np.all(policy(later)[swap] <= orders[swap])
    assert np.any(states[:, 1:] > 8) and np.any(orders > 0)


def test_vector_base_stock_contains_base_stock_and_capped_base_stock():
    """Vector base-stock with slack levels is base-stock, or capped base-stock, in the compiled kernel."""
    config = _zipkin(9, 3)
    kwargs = dict(num_envs=8, periods=400, warmup=10)
    base = invgym.evaluate(BaseStock.fit(config, level=23), config, **kwargs)
    vector = invgym.evaluate(VectorBaseStock.fit(config, levels=[99, 99, 99, 23]), config, **kwargs)
    np.testing.assert_array_equal(base.per_env_cost, vector.per_env_cost)
    capped = invgym.evaluate(CappedBaseStock.fit(config, level=24, cap=7), config, **kwargs)
    vector = invgym.evaluate(VectorBaseStock.fit(config, levels=[7, 99, 99, 24]), config, **kwargs)
    np.testing.assert_array_equal(capped.per_env_cost, vector.per_env_cost)


@pytest.mark.slow
def test_searched_policies_beat_their_starting_points():
    """Searched vector levels beat Morton's; the searched capped base-stock beats the best base-stock."""
    config = _zipkin(4, 3)
    kwargs = dict(num_envs=200, periods=2000, warmup=100, seed=0)
    search = dict(num_envs=50, periods=4000)
    standard = invgym.evaluate(VectorBaseStock.fit(config), config, **kwargs).average_cost
    searched = VectorBaseStock.fit(config, search=True, **search)
    assert invgym.evaluate(searched, config, **kwargs).average_cost < 0.95 * standard  # 5.51 -> below 5
    best_base = invgym.evaluate(BaseStock.fit(config), config, **kwargs).average_cost
    capped = CappedBaseStock.fit(config, **search)
    assert invgym.evaluate(capped, config, **kwargs).average_cost < best_base
    constant = ConstantOrder.fit(config, **search)
    assert constant.params["quantity"] == 4  # integers below the mean 5; q = 5 lets stock drift without bound


def test_policies_print_their_parameters():
    """Fitted policies print as ClassName(parameters)."""
    config = _zipkin(9, 2)
    assert repr(BaseStock.fit(config, level=19)) == "BaseStock(level=19)"
    assert repr(CappedBaseStock.fit(config, level=20, cap=8)) == "CappedBaseStock(level=20, cap=8)"
    assert repr(VectorBaseStock.fit(config)) == "VectorBaseStock(levels=(8, 14, 20))"
    assert repr(Myopic.fit(config)) == "Myopic(critical_fractile=0.9)"


def test_discrete_envs_get_int_orders_and_single_observations_work():
    """Discrete envs get int orders; SB3-style predict takes a single observation."""
    policy = BaseStock.fit(_zipkin(9, 2), level=19)
    orders = policy(np.array([[3.0, 4.0], [30.0, 0.0]], dtype=np.float32))
    assert orders.dtype == np.int64 and orders.tolist() == [12, 0]
    action, _ = policy.predict(np.array([3.0, 4.0], dtype=np.float32))
    assert action == 12


# === Bad input ===

BAD_PARAMETERS = [
    (lambda c: BaseStock.fit(c, level=-1), ValueError,
     r"The 'level' parameter of BaseStock must be a float in the range \[0, inf\). Got -1 instead."),
    (lambda c: BaseStock.fit(c, level=2.5), ValueError, "must be a whole number with a discrete action space"),
    (lambda c: BaseStock.fit(c, level="7"), TypeError, "The 'level' parameter of BaseStock"),
    (lambda c: BaseStock.fit(c, num_envs=0), ValueError, "The 'num_envs' parameter of BaseStock"),
    (lambda c: CappedBaseStock.fit(c, level=20), ValueError, "takes both 'level' and 'cap', or neither"),
    (lambda c: ConstantOrder.fit(c, quantity=math.inf), ValueError, "'quantity' parameter of ConstantOrder"),
    (lambda c: VectorBaseStock.fit(c, levels=[1, 2]), ValueError,
     "The 'levels' parameter of VectorBaseStock must be a sequence of 3 finite numbers"),
    (lambda c: VectorBaseStock.fit(c, levels=[1, 2, 3.5]), ValueError, "must hold whole numbers"),
    (lambda c: VectorBaseStock.fit(c, search="yes"), TypeError, "'search' parameter of VectorBaseStock"),
    (lambda c: Myopic.fit(c, max_table_states=-1), ValueError, "'max_table_states' parameter of Myopic"),
    (lambda c: Newsvendor.fit(c), ValueError, "optimal policy only with lead_time=0. Got lead_time=2"),
    (lambda c: BaseStock.fit(c, foo=1), TypeError, "only accepted with an environment id"),
]


@pytest.mark.parametrize(("fit", "error", "match"), BAD_PARAMETERS)
def test_bad_parameters_raise_clear_errors(fit, error, match):
    """Bad parameters raise the project's message shape."""
    with pytest.raises(error, match=match):
        fit(_zipkin(9, 2))


def test_myopic_refuses_fractional_states():
    """The myopic table is for integer states; a fractional one is refused, not rounded."""
    policy = Myopic.fit(_zipkin(9, 2))
    with pytest.raises(ValueError, match=r"Myopic needs integer states .* Got \[2.5, 1.0\]"):
        policy(np.array([[2.5, 1.0]]))


def test_fit_from_an_id_or_an_env():
    """Fitting takes an id with keywords or a made env alike."""
    import gymnasium as gym

    by_id = BaseStock.fit("invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0)
    by_env = BaseStock.fit(gym.make("invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0))
    assert by_id.params == by_env.params == {"level": 19}
