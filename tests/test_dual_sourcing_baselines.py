"""Dual-sourcing exact solver and heuristics: Gijsbrechts et al. (2022) Sec. 6.2, Fukuda (1964), brute force.

**Which instances run here.** The exact optimum of all six instances takes well under a second, but fitting the
four heuristics by simulation takes a few seconds per instance, so the tests fit them on the two extreme
instances — (l_r, c_e) = (2, 105), the shortest and cheapest, and (4, 110), the longest and dearest — and
``python bench/dual_sourcing.py --gaps`` reproduces all six.

**Tolerance on the published gaps.** The fitted policy's cost is computed exactly (its Markov chain, no
simulation noise), so a computed gap differs from the published one only by (a) the published rounding to
0.01 percentage points (pp), (b) the simulation search settling on a near-tied neighbour of the best parameters
(neighbouring levels differ by 0.01-0.05 pp on these instances) and, for the dual index, (c) reading the gaps
off the paper's Figure 9. We allow 0.03 pp for single index, capped dual index and tailored base-surge
((a) + (b)) and 0.05 pp for the dual index (+ (c)). The exact best of each family, found by enumerating its
grid, matches every published gap within 0.007 pp on all six instances (measured; see the bench). A fitted
heuristic can never beat the optimum, which is asserted too.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import invgym
from invgym.baselines import CappedDualIndex, DualIndex, SingleIndex, TailoredBaseSurge, solve_exact
from invgym.baselines.exact_dual_sourcing import evaluate_dual_sourcing, solve_dual_sourcing
from invgym.demand import DiscreteUniform, Geometric, Poisson, ProductMixture
from invgym.envs.dual_sourcing import DualSourcingConfig
from tests import scenario_checks as sc
from tests.reference import dual_sourcing as ref

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "gijsbrechts_2022_dual_sourcing.json").read_text())
GAPS = DATA["gaps_percent"]
HEURISTICS = {"dual_index": DualIndex, "single_index": SingleIndex, "capped_dual_index": CappedDualIndex,
              "tailored_base_surge": TailoredBaseSurge}
TOLERANCE_PP = {"dual_index": 0.05, "single_index": 0.03, "capped_dual_index": 0.03, "tailored_base_surge": 0.03}


def _gijsbrechts(regular_lead_time: int, expedited_cost: float, **kwargs) -> DualSourcingConfig:
    # Gijsbrechts et al. (2022), Sec. 6.2: demand uniform on {0..4}, l_e = 0, c_r = 100, h = 5, b = 495.
    return DualSourcingConfig.validate(
        "DualSourcingEnv", regular_lead_time=regular_lead_time, expedited_lead_time=0, demand=DiscreteUniform(0, 4),
        regular_cost=100.0, expedited_cost=expedited_cost, holding_cost=5.0, backorder_cost=495.0, **kwargs)


# === Gijsbrechts et al. (2022), Sec. 6.2 ===


@pytest.mark.slow
@pytest.mark.parametrize("instance", ["2,105", "4,110"])
def test_gijsbrechts_2022_heuristic_gaps(instance):
    lr, ce = (float(v) for v in instance.split(","))
    config = _gijsbrechts(int(lr), ce)
    solution = solve_dual_sourcing(config)
    optimum = solution.average_cost
    # The optimum includes purchases: at least c_r E[D] = 200, and below single sourcing from the fast source,
    # 2 c_e + 5 E(4 - D) = 2 c_e + 10.
    assert 200.0 < optimum < 2 * ce + 10.0
    assert solution.info["clipped_mass"] < 1e-9
    assert abs(solution.info["chain_cost"] - optimum) < 1e-5
    for name, cls in HEURISTICS.items():
        policy = cls.fit(config, periods=200_000, screen_periods=10_000)
        gap = 100.0 * (evaluate_dual_sourcing(config, policy) / optimum - 1.0)
        published = GAPS[instance][name]
        assert gap > -1e-6, (name, gap)  # nothing beats the optimum
        assert abs(gap - published) <= TOLERANCE_PP[name], (name, policy, gap, published)


def test_gijsbrechts_2022_optimum_solves_fast_for_all_six():
    costs = {}
    for instance in GAPS:
        lr, ce = instance.split(",")
        solution = solve_dual_sourcing(_gijsbrechts(int(lr), float(ce)))
        assert solution.info["clipped_mass"] < 1e-9
        costs[instance] = solution.average_cost
    # A dearer fast source can only cost more; a longer regular lead time can only cost more.
    for lr in ("2", "3", "4"):
        assert costs[f"{lr},105"] < costs[f"{lr},110"]
    for ce in ("105", "110"):
        assert costs[f"2,{ce}"] <= costs[f"3,{ce}"] <= costs[f"4,{ce}"]


def test_orders_above_one_periods_largest_demand_are_never_needed():
    # Veeraraghavan & Scheller-Wolf (2008): the optimum does not change when orders may exceed max demand (4).
    base = solve_dual_sourcing(_gijsbrechts(3, 110.0)).average_cost
    wider = solve_dual_sourcing(_gijsbrechts(3, 110.0, max_order=(7, 7))).average_cost
    assert abs(base - wider) < 1e-5


def test_the_optimal_table_policy_simulates_to_its_cost():
    """The optimal table, run in the compiled table rollout, simulates to the solver's average cost."""
    config = _gijsbrechts(2, 110.0)
    solution = solve_exact(config)
    result = invgym.evaluate(solution.policy, config, num_envs=32, periods=5_000, warmup=100)
    assert result.path == "rollout"
    assert result.ci95[0] < solution.average_cost < result.ci95[1]


# === Independent checks of the solver ===


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [
    dict(regular_lead_time=1, demand=DiscreteUniform(0, 4)),
    dict(regular_lead_time=3, expedited_lead_time=2, demand=DiscreteUniform(0, 3), expedited_cost=110.0),
    dict(regular_lead_time=2, expedited_lead_time=1, demand=Geometric(1.0), max_order=6, backorder_cost=45.0),
])
def test_dual_index_is_optimal_for_consecutive_lead_times(kwargs):
    # Fukuda (1964): with l_r = l_e + 1 a dual-index policy is optimal; the best one is found by enumeration.
    config = DualSourcingConfig.validate("DualSourcingEnv", **kwargs)
    optimum = solve_dual_sourcing(config).average_cost
    best = min(evaluate_dual_sourcing(config, DualIndex(config, expedited_level=s, regular_level=s + gap))
               for s in range(-2, 12) for gap in range(0, 8))
    assert abs(best - optimum) < 1e-5, (best, optimum)


@pytest.mark.parametrize("kwargs", [
    dict(regular_lead_time=3, expedited_lead_time=1, demand=DiscreteUniform(0, 3)),
    dict(regular_lead_time=4, expedited_lead_time=2, demand=DiscreteUniform(0, 2), expedited_cost=120.0),
    dict(regular_lead_time=2, lost_sales=True, backorder_cost=150.0, demand=DiscreteUniform(0, 3)),
])
def test_reduced_model_cost_equals_the_full_reference_chain(kwargs):
    # The solver works on the expedited position; the reference chain on the env's full state and own costs.
    config = DualSourcingConfig.validate("DualSourcingEnv", **kwargs)
    solution = solve_dual_sourcing(config)

    def table(state):
        return solution.policy(np.array([state]))[0].astype(float).tolist()

    full = sc.markov_chain_cost(config, ref, table)
    assert abs(full - solution.average_cost) < 1e-5, (full, solution.average_cost)


def test_a_wider_position_range_gives_the_same_optimum():
    config = _gijsbrechts(2, 105.0)
    default = solve_dual_sourcing(config)
    lo, hi = default.info["position_range"]
    wide = solve_dual_sourcing(config, position_range=(lo - 6, hi + 10))
    assert abs(wide.average_cost - default.average_cost) < 1e-5 and wide.num_states > default.num_states


# === Heuristics: rollout form, fitting, bad input ===


@pytest.mark.parametrize("policy", [
    DualIndex("invgym/DualSourcing-v0", expedited_level=4, regular_level=9),
    SingleIndex("invgym/DualSourcing-v0", expedited_level=6, regular_level=8),
    CappedDualIndex("invgym/DualSourcing-v0", expedited_level=4, regular_level=9, cap=2),
    TailoredBaseSurge("invgym/DualSourcing-v0", quantity=1, level=4),
])
def test_compiled_and_stepped_evaluation_agree(policy):
    compiled = invgym.evaluate(policy, "invgym/DualSourcing-v0", num_envs=4, periods=300, warmup=20)
    stepped = invgym.evaluate(lambda obs: policy(obs), "invgym/DualSourcing-v0", num_envs=4, periods=300, warmup=20)
    assert (compiled.path, stepped.path) == ("rollout", "step")
    np.testing.assert_array_equal(compiled.per_env_cost, stepped.per_env_cost)


def test_tailored_base_surge_takes_fractional_base_orders_in_a_continuous_env():
    config = _gijsbrechts(4, 105.0, action_type="continuous")
    policy = TailoredBaseSurge.fit(config, periods=50_000, screen_periods=5_000)
    assert 0.0 < policy.params["quantity"] < 2.0
    result = invgym.evaluate(policy, config, num_envs=16, periods=5_000)
    # Within 0.1 % of the optimum (published: 0.00 %), whatever the base order found.
    assert result.average_cost < 1.001 * solve_dual_sourcing(config).average_cost + 2 * result.stderr


def test_heuristics_refuse_other_envs_and_bad_parameters():
    with pytest.raises(ValueError, match="dual_sourcing policy; it cannot act in a lost_sales env"):
        DualIndex.fit("invgym/LostSales-v0")
    policy = DualIndex("invgym/DualSourcing-v0", expedited_level=4, regular_level=8)
    with pytest.raises(ValueError, match="was fitted for regular_lead_time=2"):
        invgym.evaluate(policy, "invgym/DualSourcing-v0", regular_lead_time=3)
    with pytest.raises(ValueError, match="'regular_level' parameter of DualIndex must be a whole number"):
        DualIndex("invgym/DualSourcing-v0", expedited_level=4, regular_level=8.5)
    with pytest.raises(ValueError, match="'cap' parameter of CappedDualIndex must be a float in the range"):
        CappedDualIndex("invgym/DualSourcing-v0", expedited_level=4, regular_level=8, cap=-1)
    with pytest.raises(TypeError, match="takes the parameters"):
        TailoredBaseSurge("invgym/DualSourcing-v0", quantity=1)
    with pytest.raises(ValueError, match="'periods' parameter of SingleIndex"):
        SingleIndex.fit("invgym/DualSourcing-v0", periods=0)
    with pytest.raises(ValueError, match="ProductMixture"):
        DualIndex.fit("invgym/DualSourcing-v0", demand=ProductMixture([Poisson(1.0), Poisson(2.0)]))


def test_solver_refuses_what_it_does_not_cover():
    with pytest.raises(ValueError, match="ProductMixture"):
        solve_exact("invgym/DualSourcing-v0", demand=ProductMixture([Poisson(1.0), Poisson(2.0)]))
    with pytest.raises(ValueError, match="lost sales only with expedited_lead_time = 0"):
        solve_exact("invgym/DualSourcing-v0", regular_lead_time=3, expedited_lead_time=1, lost_sales=True)
    with pytest.raises(ValueError, match="reduced states"):
        solve_exact("invgym/DualSourcing-v0", regular_lead_time=6, max_order=20, max_states=10_000)
    with pytest.raises(ValueError, match="'tol' parameter of solve_exact"):
        solve_dual_sourcing(_gijsbrechts(2, 105.0), tol=0.0)
    with pytest.raises(ValueError, match="fractional"):
        evaluate_dual_sourcing(_gijsbrechts(2, 105.0, action_type="continuous"),
                               TailoredBaseSurge(_gijsbrechts(2, 105.0, action_type="continuous"), quantity=1.5,
                                                 level=4))
