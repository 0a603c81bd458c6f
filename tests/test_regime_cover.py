"""The simulation-optimised replenishment teacher (baselines/regime_cover.py): preferences, constraints, labels."""

from __future__ import annotations

import numpy as np
import pytest

from invgym.baselines.regime_cover import Preference, RegimeCover, regime_metrics

pytestmark = pytest.mark.slow  # a simulation-optimised fit per test: deselect with -m "not slow"

ENV_ID = "invgym/Replenishment-v0"
FEW = dict(product=list(range(24)))
GRID = tuple(range(0, 61, 4))


@pytest.fixture(scope="module")
def fitted():
    loose = RegimeCover.fit(ENV_ID, Preference(in_stock_target=0.90), grid=GRID, rounds=1, **FEW)
    strict = RegimeCover.fit(ENV_ID, Preference(in_stock_target=0.97), grid=GRID, rounds=1, **FEW)
    return loose, strict


def test_the_in_stock_target_holds_on_the_train_window_and_trades_against_holding(fitted):
    loose, strict = fitted
    a, b = loose.info["train"], strict.info["train"]
    assert a["in_stock_rate"] >= 0.90 and b["in_stock_rate"] >= 0.97
    assert b["in_stock_rate"] > a["in_stock_rate"] and b["holding_cost"] > a["holding_cost"]
    # Each coordinate step keeps the best candidate: the objective never rises along the search.
    objective = [h["objective"] for h in strict.info["history"]]
    assert all(y <= x + 1e-9 for x, y in zip(objective, objective[1:], strict=False))


def test_constraints_and_the_weighted_objective_are_respected(fitted):
    loose, _ = fitted
    cap = 0.8 * loose.info["train"]["turnover_days"]
    capped = RegimeCover.fit(ENV_ID, Preference(in_stock_target=None, turnover_cap=cap), grid=GRID, rounds=1, **FEW)
    assert capped.info["train"]["turnover_days"] <= cap
    budget = 0.7 * loose.info["train"]["holding_cost"]
    thrifty = RegimeCover.fit(ENV_ID, Preference(in_stock_target=None, holding_budget=budget), grid=GRID, rounds=1,
                              **FEW)
    assert thrifty.info["train"]["holding_cost"] <= budget
    # Lost margin weighted 0: nothing but holding counts, so the search holds no more than the weighted one.
    free = RegimeCover.fit(ENV_ID, Preference(lost_sales_weight=0.0, in_stock_target=None), grid=GRID, rounds=1,
                           **FEW)
    assert free.info["train"]["holding_cost"] <= thrifty.info["train"]["holding_cost"]


def test_candidates_share_common_random_numbers_and_promotion_cover_raises_promotion_in_stock(fitted):
    from invgym.agents.orpr import replenishment_report
    from invgym.envs.common import config_of

    loose, _ = fitted
    train = config_of(ENV_ID, split="train", **FEW)
    p = loose.params
    days = np.array([p["days"], p["days"]])
    m1 = regime_metrics(train, days, np.array([[0.0] * 3, [0.0] * 3]), np.array(p["rate_edges"]),
                        np.array(p["cv_edges"]), seed=5)
    np.testing.assert_array_equal(m1["holding_cost"][0], m1["holding_cost"][1])  # same seeds, same numbers
    env = config_of(ENV_ID, split="test", product="all")
    low = RegimeCover(env, p["days"], [0.0] * 3, p["rate_edges"], p["cv_edges"])
    high = RegimeCover(env, p["days"], [2.0] * 3, p["rate_edges"], p["cv_edges"])
    a, b = (replenishment_report(pol, env, num_envs=200) for pol in (low, high))
    assert b["promo_in_stock_rate"] > a["promo_in_stock_rate"]


def test_its_decisions_are_orprs_labels_and_bad_settings_are_refused(fitted):
    pytest.importorskip("torch")
    from invgym.agents.orpr import ORLabeler, ORLabelerConfig
    from invgym.envs.common import config_of

    loose, _ = fitted
    labeler = ORLabeler(ENV_ID, teacher=loose, config=ORLabelerConfig(label_envs=16, label_periods=30))
    data = labeler.label()
    np.testing.assert_array_equal(data["actions"], loose(data["obs"]))
    with pytest.raises(ValueError, match=r"'in_stock_target' parameter of Preference must be a float in the range"):
        RegimeCover.fit(ENV_ID, Preference(in_stock_target=1.5))
    with pytest.raises(ValueError, match=r"'turnover_cap' parameter of Preference"):
        RegimeCover.fit(ENV_ID, Preference(turnover_cap=0.0))
    with pytest.raises(ValueError, match=r"'grid' parameter of RegimeCover.fit"):
        RegimeCover.fit(ENV_ID, grid=[-1.0])
    with pytest.raises(ValueError, match=r"'days' parameter of RegimeCover must be 9 non-negative"):
        RegimeCover(config_of(ENV_ID), [1.0] * 3, [0.0] * 3, [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="works on invgym/Replenishment-v0"):
        RegimeCover.fit("invgym/LostSales-v0")
