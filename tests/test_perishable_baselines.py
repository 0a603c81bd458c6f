"""Perishable exact solvers and heuristics: De Moor et al. (2022), closed forms, brute force, bad input.

Tolerance for De Moor et al.'s values. Their protocol (start empty, 100 warm-up periods, then 365 rewards
discounted by 0.99) is computed here *exactly* (:func:`protocol_value`: the state distribution is propagated
through the warm-up and the discounted sum is a backward recursion), so our side carries no sampling error. The
published figures are simulation averages, rounded to whole units (optimal) or to 0.1 (base-stock), and come to
us through a secondary transcription. One episode's discounted reward has a standard deviation of about 60, so
an estimate from a few thousand episodes carries a standard error of about 1; with the rounding (at most 0.5)
that gives the tolerance of 2.0 used below (0.14 % of the values). The measured differences are 0.28 (FIFO
optimal), 0.01 (LIFO optimal), 0.05 (FIFO S = 7) and 0.03 (LIFO S = 5).
"""

from __future__ import annotations

import itertools
import json
import math
import pathlib

import numpy as np
import pytest

import invgym
from invgym.baselines import (
    BaseStock,
    EstimatedWithdrawalBaseStock,
    NaiveBaseStock,
    PerishableBaseStock,
    PerishableCappedBaseStock,
    solve_exact,
)
from invgym.baselines.exact_perishable import (
    PerishableModel,
    base_stock_orders,
    policy_average_cost,
    protocol_value,
    solve_perishable,
    solve_perishable_discounted,
)
from invgym.baselines.perishable_protocol import protocol_rewards
from invgym.demand import Poisson, ProductMixture
from invgym.envs.perishable import PerishableConfig
from tests import scenario_checks as sc
from tests.reference import perishable as ref

DE_MOOR = json.loads((pathlib.Path(__file__).parent / "data" / "de_moor_2022_perishable.json").read_text())
TOLERANCE = 2.0
ISSUING = ("fifo", "lifo")


def _de_moor(issuing: str, **kwargs) -> PerishableConfig:
    # The env's defaults are De Moor et al.'s scenario A with m = 2, L = 1 and waste cost 7 (Gamma(4, 0.5)
    # demand capped at 100; c = 3, p = 5, h = 1; orders 0..10); spelled out so a change of default shows here.
    return PerishableConfig.validate("PerishableEnv", shelf_life=2, lead_time=1, issuing=issuing, holding_cost=1.0,
                                     lost_sales_cost=5.0, outdating_cost=7.0, purchase_cost=3.0, max_order=10,
                                     **kwargs)


@pytest.fixture(scope="module", params=ISSUING)
def de_moor(request):
    """De Moor et al.'s m = 2, L = 1 instance (FIFO and LIFO), its model and discounted-optimal solution."""
    config = _de_moor(request.param)
    return request.param, config, PerishableModel(config), solve_perishable_discounted(config, 0.99)


# === De Moor, Gijsbrechts & Boute (2022) ===


def test_de_moor_2022_optimal_value(de_moor):
    """The discounted-optimal policy's protocol value matches the published optimum (FIFO -1457, LIFO -1553)."""
    issuing, config, model, solution = de_moor
    exact = protocol_value(config, solution.policy, model=model)
    assert abs(exact - DE_MOOR[issuing]["optimal"]) < TOLERANCE, (issuing, exact)
    # The kernel, running the table policy compiled, estimates the same number (4 standard errors) ...
    rewards = protocol_rewards(solution.policy, config, episodes=2000, seed=0)
    stderr = rewards.std(ddof=1) / math.sqrt(len(rewards))
    assert abs(rewards.mean() - exact) < 4 * stderr, (rewards.mean(), exact, stderr)
    # ... with exactly the discounted rewards of stepping the policy period by period.
    stepped = protocol_rewards(lambda obs: solution.policy(obs), config, episodes=50, seed=0)
    np.testing.assert_array_equal(rewards[:50], stepped)


def test_de_moor_2022_figure_3_policies(de_moor):
    """The optimal orders for fresh and old stock 0..8 are exactly the policies of De Moor et al.'s Fig. 3."""
    issuing, _, _, solution = de_moor
    table = solution.policy.table  # indexed [old (1 period left), fresh (2 periods left)]
    published = np.array(DE_MOOR[issuing]["policy"])  # rows fresh 8..0, columns old 0..8
    np.testing.assert_array_equal(table[:9, :9].T[::-1], published)


@pytest.mark.slow
def test_de_moor_2022_best_base_stock(de_moor):
    """Best base-stock level and value: S = 7 (FIFO, -1474.5) and S = 5 (LIFO, -1565.3)."""
    issuing, config, model, solution = de_moor
    values = {level: protocol_value(config, base_stock_orders(config, level, model), model=model)
              for level in range(0, 21)}
    best = max(values, key=values.get)
    assert best == DE_MOOR[issuing]["base_stock_level"]
    assert abs(values[best] - DE_MOOR[issuing]["base_stock"]) < TOLERANCE, (issuing, values[best])
    assert values[best] < protocol_value(config, solution.policy, model=model)
    # The simulation search under the same protocol, on common random numbers, finds the same level, and the
    # compiled rollout estimates its value.
    fitted = PerishableBaseStock.fit(config, num_envs=1000, periods=365, warmup=100, discount=0.99)
    assert fitted.params["level"] == best
    rewards = protocol_rewards(fitted, config, episodes=2000, seed=0)
    stderr = rewards.std(ddof=1) / math.sqrt(len(rewards))
    assert abs(rewards.mean() - values[best]) < 4 * stderr


@pytest.mark.slow
def test_heuristics_on_de_moor_instances_by_exact_chain_cost(de_moor):
    """Exact long-run costs: optimal < EWA (capped) <= capped base-stock < base-stock < naive base-stock."""
    issuing, config, model, _ = de_moor
    optimal = solve_perishable(config).average_cost
    fit = dict(num_envs=40, periods=5_000, warmup=100)
    policies = {
        "naive": NaiveBaseStock.fit(config),
        "base_stock": PerishableBaseStock.fit(config, **fit),
        "capped": PerishableCappedBaseStock.fit(config, **fit),
        "ewa": EstimatedWithdrawalBaseStock.fit(config, **fit),
    }
    cost = {name: policy_average_cost(config, policy(model.states), model=model)
            for name, policy in policies.items()}
    assert policies["naive"].params["level"] == 9  # the 2/3 quantile of two periods' demand
    assert optimal < cost["ewa"] <= cost["capped"] + 1e-9 < cost["base_stock"] < cost["naive"]
    # Measured: EWA 0.08 % (FIFO) and 0.63 % (LIFO) above optimal; base-stock 1.18 % and 0.89 %.
    assert cost["ewa"] / optimal - 1 < {"fifo": 0.002, "lifo": 0.008}[issuing]
    assert cost["base_stock"] / optimal - 1 > 0.008


# === Exact solvers against closed forms and brute force ===


def _poisson_pmf(mean: float, top: int) -> np.ndarray:
    # Written out here (not invgym.demand) so the check does not reuse the code under test.
    return np.array([math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(top)])


def test_average_cost_solver_matches_the_newsvendor_when_nothing_carries_over():
    """With m = 1 and L = 0 each period is a newsvendor with underage p - c and overage w (leftovers expire)."""
    config = PerishableConfig.validate("PerishableEnv", shelf_life=1, lead_time=0, demand=Poisson(6.0),
                                       lost_sales_cost=9.0, outdating_cost=2.0, purchase_cost=3.0, max_order=30)
    pmf = _poisson_pmf(6.0, 80)
    k = np.arange(80)

    def cost(q: int) -> float:
        return 3.0 * q + 9.0 * np.dot(np.maximum(k - q, 0), pmf) + 2.0 * np.dot(np.maximum(q - k, 0), pmf)

    fractile = (9.0 - 3.0) / (9.0 + 2.0)
    q_star = int(np.argmax(np.cumsum(pmf) >= fractile))
    assert q_star == min(range(31), key=cost)
    solution = solve_perishable(config, tol=1e-9)
    assert solution.policy(np.zeros((1, 1)))[0] == q_star
    assert solution.average_cost == pytest.approx(cost(q_star), abs=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [dict(shelf_life=2, lead_time=0), dict(shelf_life=1, lead_time=1, issuing="lifo")])
def test_solvers_match_brute_force_over_every_policy(kwargs):
    """On a 4-state instance, enumerate all 256 deterministic policies with the reference dynamics."""
    config = PerishableConfig.validate("PerishableEnv", demand=Poisson(1.5), max_order=3, **kwargs)
    gamma = 0.9
    pmf = config.demand.pmf()
    states = [(float(x),) for x in range(4)]
    transition = np.zeros((4, 4, 4))  # [order, state, next state]
    expected = np.zeros((4, 4))  # [order, state]
    for q, (i, state) in itertools.product(range(4), enumerate(states)):
        for d, prob in enumerate(pmf):
            nxt, parts = ref.step(config, state, [float(q)], float(d))
            transition[q, i, int(nxt[0])] += prob
            expected[q, i] += prob * parts["cost"]
    discounted, average = [], []
    for orders in itertools.product(range(4), repeat=4):
        p = transition[list(orders), range(4)]
        c = expected[list(orders), range(4)]
        discounted.append(np.linalg.solve(np.eye(4) - gamma * p, c))
        average.append(sc.markov_chain_cost(config, ref, lambda s, o=orders: [float(o[int(s[0])])]))
    best = np.min(discounted, axis=0)
    solution = solve_perishable_discounted(config, gamma, tol=1e-10)
    np.testing.assert_allclose(solution.info["values"], best, rtol=1e-8)
    chosen = solution.policy.table.tolist()
    np.testing.assert_allclose(discounted[int(np.ravel_multi_index(chosen, (4,) * 4))], best, rtol=1e-8)
    assert solve_perishable(config, tol=1e-10).average_cost == pytest.approx(min(average), abs=1e-8)


def test_average_optimum_is_its_policys_chain_cost_and_beats_every_base_stock():
    """The average-cost optimum is its policy's chain cost, beats every base-stock level, matches the kernel."""
    config = PerishableConfig.validate("PerishableEnv", shelf_life=3, lead_time=1, issuing="lifo",
                                       demand=Poisson(3.0), max_order=6)
    model = PerishableModel(config)
    solution = solve_exact(config, tol=1e-8)
    assert solution.num_states == 7**3
    assert policy_average_cost(config, solution.policy, model=model) == pytest.approx(solution.average_cost,
                                                                                        abs=1e-6)
    lo, hi = solution.info["bounds"]
    assert lo <= solution.average_cost <= hi and hi - lo < 1e-8
    levels = [policy_average_cost(config, base_stock_orders(config, s, model), model=model) for s in range(19)]
    assert solution.average_cost < min(levels)
    # The kernel agrees with the chain on the optimal policy (stepped, 4 standard errors).
    result = invgym.evaluate(solution.policy, config, num_envs=32, periods=4_000, warmup=100)
    assert abs(result.average_cost - solution.average_cost) < 4 * result.stderr


# === Heuristics: compiled and stepped paths agree; bad input ===


def test_rollout_and_stepped_evaluation_give_identical_costs():
    """Each heuristic's compiled rollout and its stepped act() give bit-identical costs."""
    config = PerishableConfig.validate("PerishableEnv", shelf_life=3, lead_time=2, issuing="fifo", max_order=8)
    for policy in (PerishableBaseStock.fit(config, level=10), PerishableCappedBaseStock.fit(config, level=11, cap=4),
                   EstimatedWithdrawalBaseStock.fit(config, level=10, cap=5)):
        rolled = invgym.evaluate(policy, config, num_envs=8, periods=300, warmup=20)
        stepped = invgym.evaluate(lambda obs, p=policy: p(obs), config, num_envs=8, periods=300, warmup=20)
        assert rolled.path == "rollout" and stepped.path == "step"
        np.testing.assert_array_equal(rolled.per_env_cost, stepped.per_env_cost)


def test_ewa_adds_the_estimated_outdating():
    """EWA's estimated outdating, worked by hand for FIFO and LIFO."""
    # m = 3, L = 2 FIFO, mean withdrawal 4: stock [life 1, 2, 3] = [6, 1, 0], pipeline [2].
    config = PerishableConfig.validate("PerishableEnv", shelf_life=3, lead_time=2, max_order=8)
    policy = EstimatedWithdrawalBaseStock.fit(config, level=12, mean_demand=4.0)
    # Period t: 4 leave life 1, 2 outdate; period t+1: lives [1, 0, 2] (4 withdrawn), nothing more outdates.
    np.testing.assert_array_equal(policy.estimated_outdating(np.array([[6.0, 1.0, 0.0, 2.0]])), [2.0])
    assert policy(np.array([[6.0, 1.0, 0.0, 2.0]]))[0] == 12 - 9 + 2
    lifo = EstimatedWithdrawalBaseStock.fit(config.replace(issuing="lifo"), level=12, mean_demand=4.0)
    # LIFO withdraws life 2 (1 unit) then life 1 (3 units) in t: 3 of 6 outdate; then 4 from [0, 0, 2].
    np.testing.assert_array_equal(lifo.estimated_outdating(np.array([[6.0, 1.0, 0.0, 2.0]])), [3.0])


def test_bad_input_raises():
    """Solvers, evaluation and heuristics refuse bad input with errors that say what is wrong."""
    config = _de_moor("fifo")
    with pytest.raises(ValueError, match="ProductMixture"):
        solve_perishable(config.replace(demand=ProductMixture([Poisson(2.0), Poisson(3.0)])))
    with pytest.raises(ValueError, match="more than max_states=100"):
        solve_perishable(config, max_states=100)
    with pytest.raises(ValueError, match=r"823,543 states .* needs about [\d.]+ GiB of working memory, more than "
                                         r"max_memory_gb=0\.1\."):
        solve_perishable(config.replace(shelf_life=5, lead_time=3, max_order=6, initial_state=None),
                         max_memory_gb=0.1)
    with pytest.raises(ValueError, match=r"'discount' parameter of solve_exact must be a float in the range \(0, 1\)"):
        solve_perishable_discounted(config, 1.0)
    with pytest.raises(ValueError, match="'tol' parameter of solve_exact"):
        solve_perishable(config, tol=0.0)
    with pytest.raises(ValueError, match="'periods' parameter of protocol_value"):
        protocol_value(config, base_stock_orders(config, 7), periods=0)
    with pytest.raises(ValueError, match="orders must be 121 ints"):
        policy_average_cost(config, np.full(121, 11))
    with pytest.raises(ValueError, match="'level' parameter of PerishableBaseStock must be a whole number"):
        PerishableBaseStock.fit(config, level=6.5)
    with pytest.raises(ValueError, match="'discount' parameter of PerishableBaseStock"):
        PerishableBaseStock.fit(config, discount=0.0)
    with pytest.raises(ValueError, match="is a perishable policy; it cannot act in a lost_sales env"):
        PerishableBaseStock.fit("invgym/LostSales-v0")
    with pytest.raises(ValueError, match="perishable policy; it cannot act in a lost_sales env"):
        invgym.evaluate(PerishableBaseStock.fit(config, level=7), "invgym/LostSales-v0")
    with pytest.raises(ValueError, match="lost_sales policy; it cannot act in a perishable env"):
        BaseStock.fit(config, level=7)
    with pytest.raises(ValueError, match="was fitted for issuing='fifo'; this env has issuing='lifo'"):
        invgym.evaluate(PerishableBaseStock.fit(config, level=7), _de_moor("lifo"))
    with pytest.raises(ValueError, match="'episodes' parameter of protocol_rewards"):
        protocol_rewards(PerishableBaseStock.fit(config, level=7), config, episodes=0)
