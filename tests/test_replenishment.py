"""invgym/Replenishment-v0 specifics: per-product reference, constraints, lead times, JD metrics, DiD."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from invgym.analysis import difference_in_differences, simulate_deployment
from invgym.envs.replenishment import ReplenishmentConfig, ReplenishmentEnv, ReplenishmentVectorEnv
from invgym.metrics import in_stock_rate, metrics_for, per_sku_metrics, stockout_day_rate, turnover_days
from invgym.panels import Panel, synthetic_panel
from tests.reference import replenishment as ref

ENV_ID = "invgym/Replenishment-v0"
SMALL = synthetic_panel(num_products=12, num_days=200, start="2015-10-01", seed=2)


def _tiny() -> Panel:
    """Two SKUs, 40 days: SKU 0 sells 3 a day (case pack 6, MOQ 12, lead time 1); SKU 1 sells 1 (lead ~4)."""
    days = 40
    demand = np.vstack([np.full(days, 3.0), np.ones(days)])
    dates = np.datetime64("2020-01-06") + np.arange(days).astype("timedelta64[D]")
    attrs = {"price": [10.0, 4.0], "unit_cost": [6.0, 3.0], "lead_time_mean": [1.0, 4.0], "case_pack": [6.0, 1.0],
             "moq": [12.0, 0.0]}
    return Panel(demand, np.zeros((2, days), bool), np.zeros(days, bool), dates, ["a", "b"], attrs)


TINY = _tiny()
TINY_KW = dict(panel=TINY, product=0, history=0, review_period=2, capacity_days=10.0, initial_cover_days=2.0,
               max_lead_time=14)


# === Kernel, reference ===


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(panel=SMALL, review_period=1, max_lead_time=3, history=3, promo_notice=0, order_cost=2.0, split="test"),
    dict(panel=SMALL, action_type="continuous", review_period=2, lost_sales_penalty=0.3),
    dict(panel=SMALL, product=[3, 5], capacity_days=5.0, max_lead_time=0),
])
def test_kernel_matches_reference(kwargs):
    env = gym.make(ENV_ID, **kwargs)
    config = env.unwrapped.config
    obs, _ = env.reset(seed=5)
    product = int(env.unwrapped.kernel.get_state()["product"][0])
    state = ref.initial(config, product)
    np.testing.assert_allclose(obs, ref.observe(config, state), rtol=1e-6, atol=1e-5)
    rng = np.random.default_rng(1)
    high = config.capacity[product] + 5
    ordered = 0.0
    for _ in range(150):
        if config.action_type == "discrete":
            a = rng.integers(0, int(high))
        else:
            a = np.array([rng.uniform(0, high)], np.float32)
        obs, reward, _, truncated, info = env.step(a)
        state, parts = ref.step(config, state, [float(np.asarray(a).reshape(-1)[0])], int(info["lead_time"]))
        for key, value in parts.items():
            assert info[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
        np.testing.assert_allclose(obs, ref.observe(config, state), rtol=1e-6, atol=1e-5)
        ordered += info["order"]
        if truncated:
            break
    assert ordered > 0


# === Constraints, by hand ===


def test_constraints_rounding_by_hand():
    env = ReplenishmentEnv(**TINY_KW)
    config = env.unwrapped.config
    assert config.capacity[0] == 30 and config.initial_on_hand[0] == 6 and config.moq[0] == 12
    obs, _ = env.reset(seed=0)
    assert obs[0] == 6 and obs[-6] == 1 and obs[-5] == 0  # day 0 is a review day
    expected = [  # (request, order placed, end-of-day on hand, on order)
        (5, 12, 3, 12),   # one case (6) rounded up, then raised to the MOQ (12); arrives tomorrow
        (7, 0, 12, 0),    # not a review day: nothing is ordered
        (25, 18, 9, 18),  # 30 would exceed the capacity (30 - 12 on hand): cut to 3 cases
        (7, 0, 24, 0),
        (1, 0, 21, 0),    # one case fits (30 - 24 = 6) but is below the MOQ: nothing
    ]
    for request, order, on_hand, on_order in expected:
        _, reward, _, _, info = env.step(request)
        got = (info["requested"], info["order"], info["on_hand"], info["on_order"])
        assert got == (request, order, on_hand, on_order)
        assert info["lead_time"] == (1 if order else -1)
        assert reward == pytest.approx(-(0.01 * 6.0 * on_hand))  # no lost sales; h = holding_rate * unit cost


def test_strict_mode_raises_before_anything_moves():
    env = ReplenishmentEnv(**TINY_KW, constraints="strict")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="constraints='strict'.*infeasible"):
        env.step(5)  # not a whole number of cases
    _, _, _, _, info = env.step(12)  # feasible: accepted as is
    assert info["order"] == 12
    with pytest.raises(ValueError, match="infeasible"):
        env.step(12)  # day 1 is not a review day
    assert env.step(0)[4]["on_hand"] == 12  # the refused step moved nothing
    venv = ReplenishmentVectorEnv(num_envs=2, **TINY_KW, constraints="strict")
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="env 1"):
        venv.step(np.array([12, 13]))


def test_vendor_lead_times_follow_the_sku_distribution():
    venv = ReplenishmentVectorEnv(num_envs=200, panel=TINY, product=1, history=0, review_period=1,
                                  capacity_days=400.0)
    venv.reset(seed=0)
    leads = []
    for _ in range(20):
        info = venv.step(np.ones(200, dtype=np.int64))[4]
        leads.append(info["lead_time"][info["order"] > 0])
    leads = np.concatenate(leads).astype(np.int64)
    assert leads.size > 3000
    pmf = venv.config.lead_pmf[1]
    np.testing.assert_allclose(np.bincount(leads, minlength=pmf.size) / leads.size, pmf, atol=0.03)
    assert abs(leads.mean() - 4.0) < 0.15


def test_promotions_are_announced_promo_notice_days_ahead():
    env = ReplenishmentEnv(panel=SMALL, product=2, promo_notice=5, history=2)
    obs, _ = env.reset(seed=0)
    config = env.unwrapped.config
    for t in range(30):
        day = config.window[0] + t
        np.testing.assert_array_equal(obs[config.slices["promo"]], SMALL.promo[2, day : day + 6])
        obs = env.step(0)[0]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(review_period=0), ValueError,
     "The 'review_period' parameter of ReplenishmentEnv must be an int in the range \\[1, 366\\]"),
    (dict(constraints="ignore"), ValueError, "The 'constraints' parameter of ReplenishmentEnv must be one of"),
    (dict(capacity_days=0.0), ValueError, "The 'capacity_days' parameter"),
    (dict(max_lead_time=61), ValueError, "'max_lead_time'"),
    (dict(promo_notice=-1), ValueError, "'promo_notice'"),
    (dict(product=[0, 99]), ValueError, "'product'"),
])
def test_bad_parameters_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        ReplenishmentEnv(panel=SMALL, **kwargs)


# === JD's metrics, by hand ===


def test_metric_formulas_on_a_hand_computed_case():
    # Two SKU-days each for two SKUs: on-hand end 4, 0 | 10, 6; sales 2, 3 | 1, 4; demand 2, 5 | 1, 4.
    parts = {"on_hand": np.array([[4.0, 0.0], [10.0, 6.0]]), "sales": np.array([[2.0, 3.0], [1.0, 4.0]]),
             "demand": np.array([[2.0, 5.0], [1.0, 4.0]]), "lost": np.array([[0.0, 2.0], [0.0, 0.0]]),
             "in_stock": np.array([[1.0, 1.0], [1.0, 1.0]]), "stockout": np.array([[0.0, 1.0], [0.0, 0.0]]),
             "holding_cost": np.array([[0.4, 0.0], [1.0, 0.6]])}
    totals = {k: float(v.sum()) for k, v in parts.items()}
    assert turnover_days(totals, 4) == pytest.approx(20 / 10)  # average inventory 5 / average daily sales 2.5
    assert in_stock_rate(totals, 4) == 1.0
    assert stockout_day_rate(totals, 4) == 0.25
    m = metrics_for("replenishment", totals, 4)
    assert m["holding_cost"] == pytest.approx(0.5) and m["lost_sales"] == pytest.approx(0.5)
    assert m["service_level"] == pytest.approx(10 / 12)
    per = per_sku_metrics(parts)
    np.testing.assert_allclose(per["turnover_days"], [4 / 5, 16 / 5])
    np.testing.assert_array_equal(per["stockout_days"], [1, 0])
    np.testing.assert_allclose(per["service_level"], [5 / 7, 1.0])
    assert np.isnan(turnover_days({"on_hand": 3.0, "sales": 0.0}, 1))
    retail = metrics_for("retail", {"cost": -12.0, "on_hand": 8.0, "sales": 6.0, "demand": 8.0}, 4)
    assert retail == {"average_reward": 3.0, "average_inventory": 2.0, "service_level": 0.75,
                      "turnover_days": 8.0 / 6.0}


def test_metrics_of_the_hand_computed_run():
    env = ReplenishmentEnv(**TINY_KW)
    env.reset(seed=0)
    infos = [env.step(a)[4] for a in (5, 7, 25, 7, 1)]
    totals = {k: sum(i[k] for i in infos) for k in infos[0]}
    assert turnover_days(totals, 5) == pytest.approx((3 + 12 + 9 + 24 + 21) / 15)
    assert in_stock_rate(totals, 5) == 1.0 and stockout_day_rate(totals, 5) == 0.0


# === Difference in differences ===


def _additive_panel(seed, effect, skus=120, days=60):
    rng = np.random.default_rng(seed)
    treated = rng.random(skus) < 0.5
    post = np.arange(days) >= days // 2
    y = rng.normal(5, 2, (skus, 1)) + np.sin(np.arange(days) / 5) + rng.normal(0, 1, (skus, days))
    return y + effect * treated[:, None] * post[None, :], treated, post


def test_did_recovers_a_known_additive_effect():
    y, treated, post = _additive_panel(0, 0.8)
    result = difference_in_differences(y, treated, post, num_boot=1000)
    assert abs(result.effect - 0.8) < 3 * result.stderr and result.ci[0] > 0
    y, treated, post = _additive_panel(0, 0.0)
    none = difference_in_differences(y, treated, post, num_boot=1000)
    assert abs(none.effect) < 3 * none.stderr and none.effect == pytest.approx(result.effect - 0.8)


def test_did_interval_has_its_nominal_coverage():
    # Over 150 simulated field tests the 90 % interval should cover the true effect about 90 % of the time
    # (binomial sd 2.4 points); a bootstrap over days instead of SKUs would fall far short.
    hits = 0
    for seed in range(150):
        y, treated, post = _additive_panel(seed, 0.8, skus=60, days=30)
        ci = difference_in_differences(y, treated, post, num_boot=300, level=0.9, seed=seed).ci
        hits += ci[0] < 0.8 < ci[1]
    assert 0.82 <= hits / 150 <= 0.97


def test_did_on_a_simulated_deployment_covers_the_true_effect():
    panel = synthetic_panel(num_products=80, num_days=300, start="2016-01-01", seed=4)
    config = ReplenishmentConfig.validate("ReplenishmentEnv", panel=panel, split="test", review_period=1,
                                          history=14, test_start="2016-07-01")

    def base_stock(factor):
        def policy(obs):
            mean = obs[:, config.slices["sales"]].mean(axis=1)
            horizon = np.ceil(obs[:, config.slices["sku"].start]) + 1
            return np.ceil(np.maximum(factor * mean * horizon - obs[:, :2].sum(axis=1), 0)).astype(np.int64)
        return policy

    treated = np.random.default_rng(1).random(80) < 0.5
    switch = 60
    observed, counterfactual = simulate_deployment(config, base_stock(1.0), base_stock(1.6), treated, switch)
    post = np.arange(observed["on_hand"].shape[1]) >= switch
    truth = (observed["on_hand"] - counterfactual["on_hand"])[treated][:, post].mean()
    assert truth > 1.0  # the deeper policy holds more stock
    result = difference_in_differences(observed["on_hand"], treated, post, num_boot=1000)
    assert result.ci[0] < truth < result.ci[1]
    assert np.all(observed["on_hand"][~treated] == counterfactual["on_hand"][~treated])  # controls untouched


def test_did_checks_its_inputs():
    y = np.zeros((4, 6))
    with pytest.raises(ValueError, match="'treated'"):
        difference_in_differences(y, np.array([1, 0, 1, 0]), np.arange(6) > 2)
    with pytest.raises(ValueError, match="'post'"):
        difference_in_differences(y, np.array([True, False, True, False]), np.ones(6, bool))
    with pytest.raises(ValueError, match="at least two treated"):
        difference_in_differences(y, np.array([True, False, False, False]), np.arange(6) > 2)


# === The library's generic pieces work on this scenario ===


def test_sb3_adapter_and_evaluate():
    pytest.importorskip("stable_baselines3")
    import invgym
    from invgym.sb3 import make_sb3_vec_env

    venv = make_sb3_vec_env(ENV_ID, n_envs=4, seed=0, panel=SMALL)
    obs = venv.reset()
    assert obs.shape == (4, venv.observation_space.shape[0])
    obs, rewards, dones, infos = venv.step(np.full(4, 6))
    assert rewards.shape == (4,) and np.all(rewards <= 0)
    result = invgym.evaluate(lambda o: np.full(len(o), 6), ENV_ID, panel=SMALL, num_envs=4, periods=60, warmup=0)
    assert set(result.metrics) >= {"turnover_days", "in_stock_rate", "holding_cost", "lost_sales"}


def test_constraints_always_hold_under_random_requests():
    venv = ReplenishmentVectorEnv(num_envs=12, panel=SMALL, product="all", review_period=3, capacity_days=8.0)
    config = venv.config
    venv.reset(seed=0)
    rng = np.random.default_rng(3)
    pack, moq, cap = config.case_pack[:12], config.moq[:12], config.capacity[:12]
    placed = 0
    for _ in range(120):
        _, _, _, truncated, info = venv.step(rng.integers(0, int(config.max_order) + 1, 12))
        if truncated.any():
            break
        order = info["order"]
        review = (info["day"] + np.arange(12)) % 3 == 0
        assert np.all(order[~review] == 0)
        assert np.all(order % pack == 0) and np.all((order == 0) | (order >= moq))
        assert np.all(info["on_hand"] + info["on_order"] <= cap + 1e-9)
        placed += (order > 0).sum()
    assert placed > 20
