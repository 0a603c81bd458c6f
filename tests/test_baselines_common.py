"""The fitting toolkit every baseline family shares (baselines/common.py)."""

from __future__ import annotations

import numpy as np
import pytest

import invgym  # noqa: F401
from invgym.baselines import BaseStock, DualIndex, IntervalStock, PerishableBaseStock
from invgym.baselines.common import (
    FIT_SEED,
    RolloutCost,
    batch_rollout,
    check_param,
    descend,
    fit_config,
    golden_section,
    steepest_descent,
)
from invgym.envs.common import config_for


def test_descend_finds_the_minimum_of_a_unimodal_cost_within_the_bounds():
    calls = []

    def cost(x: int) -> float:
        calls.append(x)
        return (x - 7) ** 2

    assert descend(cost, 0, 0, 20) == 7
    assert descend(cost, 30, 0, 20) == 7  # the start is clipped into [low, high]
    assert descend(cost, 0, 0, 4) == 4  # the minimum outside the bounds: the nearest bound
    assert min(calls) >= 0 and max(calls) <= 20


def test_steepest_descent_moves_diagonally_to_the_minimum_of_a_pair():
    best = steepest_descent(lambda s, r: (s - 9) ** 2 + (r - 3) ** 2 + 0.5 * (s - 9) * (r - 3), (0, 0), (20, 20))
    assert best == (9, 3)
    assert steepest_descent(lambda s, r: -s - r, (0, 0), (5, 2)) == (5, 2)


def test_golden_section_is_within_its_tolerance():
    x = golden_section(lambda v: (v - 2.345) ** 2, 0.0, 10.0, 0.01)
    assert abs(x - 2.345) < 0.01


def test_check_param_names_the_parameter_and_wants_whole_numbers_in_a_discrete_space():
    config = config_for("invgym/LostSales-v0")
    assert check_param(3.0, "level", "BaseStock", config) == 3
    with pytest.raises(ValueError, match="'level' parameter of BaseStock must be a whole number"):
        check_param(2.5, "level", "BaseStock", config)
    with pytest.raises(ValueError, match=r"'cap' parameter of X must be a float in the range \[0"):
        check_param(-1.0, "cap", "X", config)
    assert check_param(-4.0, "expedited_level", "X", config, low=None) == -4


def test_fit_config_refuses_another_family_with_the_same_message_for_every_family():
    for cls, wrong in [(BaseStock, "invgym/Perishable-v0"), (PerishableBaseStock, "invgym/LostSales-v0"),
                       (DualIndex, "invgym/LostSales-v0"), (IntervalStock, "invgym/LostSales-v0")]:
        with pytest.raises(ValueError, match=f"{cls.__name__} is a {cls.family} policy; it cannot act in a "):
            cls.fit(wrong)
    with pytest.raises(ValueError, match="Fit is a dual_sourcing policy; it cannot act in a lost_sales env"):
        fit_config("invgym/LostSales-v0", {}, "Fit", "dual_sourcing")


def test_batch_rollout_gives_every_candidate_the_same_demand_as_rollout_cost():
    config = config_for("invgym/LostSales-v0", lead_time=2).replace(horizon=600)
    levels = np.array([[9.0], [12.0], [9.0]])
    totals = batch_rollout(config, "base_stock", levels, num_envs=5, periods=500, warmup=100, seed=FIT_SEED)
    assert totals["cost"].shape == (3, 5)
    np.testing.assert_array_equal(totals["cost"][0], totals["cost"][2])  # same candidate, same streams
    cost = RolloutCost(config, 5, 500, 100, FIT_SEED)
    for row, level in zip(totals["cost"], levels[:, 0], strict=True):
        assert cost("base_stock", [level]) == float(row.mean()) / 500
    assert len(cost.cache) == 2  # memoised by parameters


def test_a_fitted_policy_refuses_an_env_that_differs_in_a_fitted_field():
    policy = BaseStock.fit("invgym/LostSales-v0", lead_time=2, level=12)
    assert policy.fitted_for["lead_time"] == 2
    with pytest.raises(ValueError, match="BaseStock was fitted for lead_time=2, max_order=20; this env has lead_t"):
        policy.check_env(config_for("invgym/LostSales-v0", lead_time=3))
    same = config_for("invgym/LostSales-v0", lead_time=2)
    assert policy.check_env(same.replace(lost_sales_cost=19.0)).lead_time == 2
