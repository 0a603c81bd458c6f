"""The predict-then-optimize baseline: a correct quantile fit, no test-window leakage, and a bar worth beating."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from invgym.baselines.predict_then_optimize import (
    PredictThenOptimize,
    QuantileRegression,
    _train_observations,
    evaluate_panel,
)
from invgym.envs.replenishment import ReplenishmentConfig
from invgym.envs.retail import RetailConfig
from invgym.panels import Panel, synthetic_panel

PANEL = synthetic_panel(num_products=60, seed=7)


def test_quantile_regression_recovers_known_quantiles():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(20_000), rng.uniform(0, 4, 20_000)])
    y = 1.0 + 2.0 * x[:, 1] + rng.normal(0, 1, 20_000)
    for tau, z in ((0.5, 0.0), (0.9, 1.2816), (0.98, 2.0537)):
        coef = QuantileRegression(tau).fit(x, y).coef
        np.testing.assert_allclose(coef, [1.0 + z, 2.0], atol=0.08)


def _naive(config, factor):
    """Order up to factor x the last week's mean sales over the protection period (no forecast, no quantile)."""
    sl = config.slices

    def policy(obs):
        if isinstance(config, RetailConfig):
            horizon = config.lead_time + 1.0
        else:
            horizon = np.ceil(obs[:, sl["sku"].start]) + config.review_period
        level = factor * obs[:, sl["sales"]][:, -7:].mean(axis=1) * horizon
        order = np.ceil(np.maximum(level - obs[:, sl["inventory"]].sum(axis=1), 0))
        return np.minimum(order, config.max_order).astype(np.int64)

    return policy


@pytest.mark.slow
@pytest.mark.parametrize("config_cls", [RetailConfig, ReplenishmentConfig])
def test_beats_naive_order_up_to_policies_on_the_test_window(config_cls):
    config = config_cls.validate(config_cls.__name__.replace("Config", "Env"), panel=PANEL)
    policy = PredictThenOptimize.fit(config)
    assert policy.info["train_coverage"] == pytest.approx(policy.params["quantile"], abs=0.01)
    ours = evaluate_panel(policy, config)["average_cost"]
    for factor in (1.0, 1.5, 2.0):
        assert ours < evaluate_panel(_naive(config, factor), config)["average_cost"]


@pytest.mark.slow
def test_forecast_quantile_is_calibrated_out_of_sample():
    config = RetailConfig.validate("RetailEnv", panel=PANEL)
    policy = PredictThenOptimize.fit(config, quantile=0.9)
    # Rows for every day of the panel, built exactly as the train rows are (recorded history, no inventory);
    # keep the test days, which the fit never saw.
    everything = dataclasses.replace(config, test_start=str(PANEL.dates[-2]))
    obs, demand, day = _train_observations(everything, 10**7, 0)
    test = day >= PANEL.day_of(config.test_start)
    assert test.sum() > 10_000
    coverage = np.mean(demand[test] <= policy.level(obs[test]))
    assert 0.85 < coverage < 0.95


@pytest.mark.slow
def test_fit_uses_only_the_train_window():
    config = RetailConfig.validate("RetailEnv", panel=PANEL)
    first_test = PANEL.day_of(config.test_start)
    altered = PANEL.demand.copy()
    altered[:, first_test:] *= 3
    other = Panel(altered, PANEL.promo, PANEL.holiday, PANEL.dates, PANEL.product_ids, PANEL.attributes)
    a = PredictThenOptimize.fit(config, max_rows=5000)
    b = PredictThenOptimize.fit(config.replace(panel=other), max_rows=5000)
    np.testing.assert_array_equal(a.model.coef, b.model.coef)


@pytest.mark.slow
def test_actions_are_valid_for_both_action_types():
    for action_type in ("discrete", "continuous"):
        config = ReplenishmentConfig.validate("ReplenishmentEnv", panel=PANEL, action_type=action_type)
        policy = PredictThenOptimize.fit(config, max_rows=5000)
        result = evaluate_panel(policy, config)
        assert result["in_stock_rate"] > 0.9


def test_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="history >= 7"):
        PredictThenOptimize.fit(RetailConfig.validate("RetailEnv", panel=PANEL, history=3))
    with pytest.raises(ValueError, match="panel scenarios"):
        PredictThenOptimize.fit("invgym/LostSales-v0")


@pytest.mark.slow
def test_quantile_regression_fit_is_bit_identical_whatever_blas_thread_count():
    """The leaderboard's PredictThenOptimize drifted with BLAS's thread count (issue 14); the fit no longer can."""
    import subprocess
    import sys

    script = ("import numpy as np; from invgym.baselines.predict_then_optimize import QuantileRegression as Q; "
              "rng = np.random.default_rng(0); x = np.c_[np.ones(200_000), rng.normal(size=(200_000, 29))]; "
              "y = x @ rng.normal(size=30) + rng.gamma(2.0, size=200_000); "
              "print(Q(0.9, iterations=5).fit(x, y).coef.tobytes().hex())")
    outputs = {threads: subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                       env={**__import__("os").environ, "OPENBLAS_NUM_THREADS": threads,
                                            "OMP_NUM_THREADS": threads}).stdout
               for threads in ("1", "4")}
    assert outputs["1"] == outputs["4"] and len(outputs["1"]) > 100
