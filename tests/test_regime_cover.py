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


@pytest.fixture(scope="module")
def per_sku():
    from invgym.baselines.regime_cover import SkuCover

    return SkuCover.fit(ENV_ID, Preference(in_stock_target=0.90), grid=GRID, rounds=1, **FEW)


def _train_figures_on_the_fit_seeds(policy) -> np.ndarray:
    """The policy run on its fit's train window and seeds: its SKU-day in-stock rate and holding cost."""
    import dataclasses

    from invgym.baselines.regime_cover import FIT_SEED
    from invgym.envs.common import config_of

    train = config_of(ENV_ID, split="train", **FEW)
    n = len(train.products)
    seeds = FIT_SEED + np.arange(n, dtype=np.uint64)
    buf = dataclasses.replace(train, product=tuple(train.products)).bind(n).reset(seeds)
    parts = type(train).parts
    cols = [parts.index("in_stock"), parts.index("holding_cost")]
    total = np.zeros(2)
    for _ in range(train.window[1]):
        buf.actions[:, 0] = policy(buf.obs.copy())
        buf.kernel.step()
        total += buf.parts[:, cols].sum(axis=0)
    return total / (n * train.window[1])


def test_regime_cover_acts_as_it_was_fitted(fitted):
    # Same parameters, same decisions: the policy, run on the fit's seeds, reproduces the fit's own simulation.
    for policy in fitted:
        np.testing.assert_allclose(_train_figures_on_the_fit_seeds(policy),
                                   [policy.info["train"]["in_stock_rate"], policy.info["train"]["holding_cost"]],
                                   rtol=1e-12)


def test_sku_cover_meets_the_target_on_every_sku_group_and_acts_as_it_was_fitted(per_sku, fitted):
    info = per_sku.info
    assert info["groups"] <= info["products"] == 24 and min(info["group_in_stock"]) >= 0.90
    assert len(set(per_sku.params["days"])) > 3  # parameters per SKU group, not one rule
    # The policy, run on the fit's seeds, reproduces the fit's own simulation (its lookup finds each SKU's group).
    np.testing.assert_allclose(_train_figures_on_the_fit_seeds(per_sku),
                               [info["train"]["in_stock_rate"], info["train"]["holding_cost"]], rtol=1e-12)
    # Per SKU it can hold less than the per-regime model at the same (looser, aggregate) in-stock target.
    loose, _ = fitted
    assert info["train"]["holding_cost"] < loose.info["train"]["holding_cost"]


def test_an_unseen_sku_gets_the_default_cover_and_bad_parameters_are_refused(per_sku):
    from invgym.baselines.regime_cover import SkuCover
    from invgym.envs.common import config_of

    env = config_of(ENV_ID, split="test", product="all")
    obs = env.bind(1).reset(0).obs.copy()
    review, sales = env.slices["review"].start, env.slices["sales"]
    obs[0, review] = 1.0  # a review day
    obs[0, review + 2:review + 6] = [99.0, 1.0, 0.0, 1e6]  # constraints no SKU has
    obs[0, sales] = 10.0
    obs[0, env.slices["promo"]] = 0.0
    obs[0, :2] = 0.0
    expected = np.ceil(10.0 * per_sku.params["default_days"] - 1e-9)
    assert per_sku(obs)[0] == expected
    p = per_sku.params
    with pytest.raises(ValueError, match="'days' parameter of SkuCover"):
        SkuCover(env, p["keys"], p["days"][:-1], p["promo_days"], 10.0, 0.0)
    with pytest.raises(ValueError, match="'keys' parameter of SkuCover"):
        SkuCover(env, p["keys"][:1] * 2, p["days"][:2], p["promo_days"][:2], 10.0, 0.0)
    with pytest.raises(ValueError, match="'rounds' parameter of SkuCover.fit"):
        SkuCover.fit(ENV_ID, rounds=0)
