"""The days-of-cover baseline (baselines/days_of_cover.py) on the panel scenarios Retail-v0 and Replenishment-v0.

Orders are checked against the formula worked by hand, the batched train-window search against separate
evaluations of every candidate, and the protection period against its definition.
"""

from __future__ import annotations

import numpy as np
import pytest

import invgym
from invgym.baselines.days_of_cover import FIT_SEED, DaysOfCover, protection_period
from invgym.envs.common import config_for
from invgym.panels import synthetic_panel

SMALL = synthetic_panel(num_products=12, num_days=200, start="2015-10-01", seed=2)


def test_orders_are_days_times_the_window_mean_minus_the_position_worked_by_hand():
    config = config_for("invgym/Replenishment-v0", panel=SMALL, history=10)
    sl = config.slices
    obs = np.zeros((2, config.obs_dim))
    obs[0, sl["inventory"]] = [3.0, 2.0]  # on hand, on order: position 5
    obs[0, sl["sales"]] = [100, 100, 100, 0, 1, 2, 3, 4, 5, 6]  # last 7 days: mean 3
    obs[1, sl["inventory"]] = [40.0, 0.0]
    obs[1, sl["sales"]] = 1.0
    policy = DaysOfCover(config, days=4.5, window=7)
    # Row 0: ceil(4.5 * 3 - 5) = ceil(8.5) = 9; row 1: 4.5 * 1 - 40 < 0, so 0.
    np.testing.assert_array_equal(policy(obs), [9, 0])
    assert policy(obs).dtype == np.int64
    whole = DaysOfCover(config, days=2.0)  # default window: the whole history, mean (300 + 21) / 10 = 32.1
    assert whole(obs)[0] == 60  # ceil(64.2 - 5)
    continuous = DaysOfCover(config_for("invgym/Replenishment-v0", panel=SMALL, history=10,
                                        action_type="continuous"), days=4.5, window=7)
    np.testing.assert_array_equal(continuous(obs), [9.0, 0.0])  # whole units as well


def test_fit_keeps_the_candidate_cheapest_on_the_train_window():
    config = config_for("invgym/Retail-v0", panel=SMALL, product="all", split="test", lead_time=1, history=14)
    policy = DaysOfCover.fit(config, max_days=6, window=7)
    train = config.replace(split="train")
    # Retail-v0 draws nothing at random, so each candidate evaluated on its own gives the batched search's cost.
    costs = [invgym.evaluate(DaysOfCover(config, days, window=7), train, num_envs=SMALL.num_products,
                             periods=train.window[1], warmup=0, seed=FIT_SEED).average_cost for days in range(7)]
    assert policy.params["days"] == float(np.argmin(costs))
    assert policy.info["train_cost"] == pytest.approx(min(costs), rel=1e-12)
    assert 0 < policy.params["days"] < 6  # the cost has an interior minimum: 0 days sells nothing
    assert DaysOfCover.fit(config, days=2.5).params == {"days": 2.5, "window": 14}


def test_protection_period_is_the_lead_time_plus_one_or_the_review_period_plus_the_mean_lead_time():
    assert protection_period(config_for("invgym/Retail-v0", panel=SMALL, lead_time=4)) == 5.0
    assert protection_period(config_for("invgym/Replenishment-v0", panel=SMALL, review_period=3,
                                        max_lead_time=0)) == 3.0
    # Lead times are 1 + Poisson(mean - 1): the mean lead time is the panel's (a far max_lead_time folds nothing).
    config = config_for("invgym/Replenishment-v0", panel=SMALL, review_period=7, max_lead_time=60)
    means = np.maximum(SMALL.attributes["lead_time_mean"], 1.0)
    assert protection_period(config) == pytest.approx(7 + means.mean(), rel=1e-9)


def test_bad_input_is_rejected_with_the_parameter_named():
    config = config_for("invgym/Replenishment-v0", panel=SMALL, history=10)
    with pytest.raises(ValueError, match="The 'days' parameter of DaysOfCover"):
        DaysOfCover(config, days=-1.0)
    with pytest.raises(ValueError, match=r"'window' parameter of DaysOfCover must be an int in the range \[1, 10\]"):
        DaysOfCover(config, days=1.0, window=11)
    with pytest.raises(ValueError, match="history >= 1"):
        DaysOfCover(config_for("invgym/Retail-v0", panel=SMALL, history=0), days=1.0)
    with pytest.raises(ValueError, match="panel scenarios"):
        DaysOfCover.fit("invgym/LostSales-v0", days=1.0)
    with pytest.raises(ValueError, match="The 'max_days' parameter of DaysOfCover.fit"):
        DaysOfCover.fit(config, max_days=0)


def test_orpr_uses_this_baseline_as_its_replenishment_teacher():
    orpr = pytest.importorskip("invgym.agents.orpr")
    assert orpr.DaysOfCover is DaysOfCover
