"""invgym/Retail-v0 specifics: kernel = per-product reference (= twin), censoring, products, split, ranges."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import invgym
from invgym.envs.retail import RetailConfig, RetailEnv, RetailVectorEnv
from invgym.panels import synthetic_panel
from tests import scenario_checks as sc
from tests.reference import retail as ref

ENV_ID = "invgym/Retail-v0"
SMALL = synthetic_panel(num_products=12, num_days=200, start="2015-10-01", seed=2)

INSTANCES = [
    dict(),
    dict(panel=SMALL, lead_time=3, history=5, lookahead=2, split="test", lost_sales_penalty=0.5),
    dict(panel=SMALL, lead_time=1, action_type="continuous", max_order=40.5, history=0, initial_on_hand=4.0),
    dict(panel=SMALL, product=7, lead_time=0, lookahead=0, holding_rate=0.2, test_start="2016-02-01"),
]


def _run_both(env, actions, seed):
    """Step the env and the reference side by side; return the recorded infos."""
    config = env.unwrapped.config
    obs, _ = env.reset(seed=seed)
    state = ref.initial(config, int(env.unwrapped.kernel.get_state()["product"][0]))
    np.testing.assert_allclose(obs, ref.observe(config, state), rtol=1e-6, atol=1e-5)
    infos = []
    for a in actions:
        action = int(a[0]) if config.action_type == "discrete" else a.astype(np.float32)
        obs, reward, _, truncated, info = env.step(action)
        state, parts = ref.step(config, state, [float(np.float32(a[0]))])
        for key, value in parts.items():
            assert info[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        assert reward == pytest.approx(-parts["cost"], rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(obs, ref.observe(config, state), rtol=1e-6, atol=1e-5)
        infos.append(info)
        if truncated:
            break
    return infos


@pytest.mark.parametrize("kwargs", INSTANCES)
def test_kernel_matches_reference(kwargs):
    env = gym.make(ENV_ID, **kwargs)
    config = env.unwrapped.config
    actions = sc.random_actions(config.replace(max_order=30 if config.action_type == "discrete" else 30.0),
                                np.random.default_rng(0), 80)
    _run_both(env, actions, seed=3)


def test_twin_matches_kernel_and_is_differentiable():
    torch = pytest.importorskip("torch")
    from invgym.twins import twin_for

    env = gym.make(ENV_ID, panel=SMALL, product=4, lead_time=2, history=3, action_type="continuous", max_order=30.0)
    config = env.unwrapped.config
    actions = sc.random_actions(config, np.random.default_rng(1), 40)
    kernel = sc.run_env(env, actions.astype(np.float32), seed=0)
    twin = twin_for(config)
    out = sc.run_twin(twin, actions.astype(np.float32).astype(np.float64), kernel["demand"])
    sc.assert_same_trajectory(kernel, out, ("obs", "cost", "revenue", "on_hand", "sales", "lost", "order"), rtol=1e-5)
    level = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    demand = torch.as_tensor(np.stack([kernel["demand"]] * 3))
    result = twin.rollout(lambda o: torch.relu(level - o[:, :2].sum(1)), demand)
    result.average_cost.backward()
    assert level.grad is not None and torch.isfinite(level.grad)


def test_twin_demand_paths_match_the_kernel_per_product():
    torch = pytest.importorskip("torch")
    from invgym.twins import twin_for

    venv = RetailVectorEnv(num_envs=5, panel=SMALL, product=[2, 9, 4], action_type="continuous", max_order=50.0)
    twin = twin_for(venv.config)
    venv.reset(seed=0)
    horizon = venv.config.horizon
    recorded = np.array([venv.step(np.full((5, 1), 3.0))[4]["demand"] for _ in range(horizon)]).T
    paths = twin.demand_paths(5, horizon + 3)
    np.testing.assert_array_equal(paths.numpy()[:, :horizon], recorded)
    np.testing.assert_array_equal(paths.numpy()[:, horizon:], paths.numpy()[:, :3])  # wraps like the kernel
    result = twin.rollout(lambda o: torch.full((o.shape[0], 1), 3.0, dtype=o.dtype), paths[:, :20])
    assert torch.all(result.parts["product"][:, 0] == torch.tensor([2.0, 9.0, 4.0, 2.0, 9.0]))


# === Censoring: the agent sees sales, never demand ===


def test_sales_are_censored_demand():
    venv = RetailVectorEnv(num_envs=12, panel=SMALL, product="all", history=4)
    venv.reset(seed=0)
    rng = np.random.default_rng(5)
    stocked_out = 0
    for _ in range(60):
        obs, _, _, _, info = venv.step(rng.integers(0, 4, 12))
        assert np.all(info["sales"] <= info["demand"])
        short = info["sales"] < info["demand"]
        assert np.all(info["on_hand"][short] == 0)  # lost sales only when the shelf is empty
        np.testing.assert_array_equal(info["lost"], info["demand"] - info["sales"])
        np.testing.assert_array_equal(obs[:, 1 + 3], info["sales"])  # the window's newest entry is the sale
        stocked_out += short.sum()
    assert stocked_out > 0  # the check above was exercised


def test_observation_shows_no_demand_when_stocked_out():
    env = RetailEnv(panel=SMALL, product=3, history=3, split="test")
    env.reset(seed=0)
    demand_seen = []
    for _ in range(10):
        obs, _, _, _, info = env.step(0)
        demand_seen.append(info["demand"])
        assert np.all(obs[1:4] == 0)  # never ordered, so nothing sold: true demand stays hidden
    assert sum(demand_seen) > 0


# === Products, windows, splits ===


def test_product_all_maps_env_i_to_product_i_and_test_window_starts_at_test_start():
    venv = gym.make_vec(ENV_ID, num_envs=24, vectorization_mode="vector_entry_point", panel=SMALL, product="all",
                        split="test", test_start="2016-03-01")
    venv.reset(seed=0)
    _, _, _, _, info = venv.step(np.zeros(24, dtype=np.int64))
    np.testing.assert_array_equal(info["product"], np.arange(24) % 12)
    assert np.all(info["day"] == SMALL.day_of("2016-03-01"))
    np.testing.assert_array_equal(info["demand"], SMALL.demand[np.arange(24) % 12, SMALL.day_of("2016-03-01")])


def test_train_window_and_horizon_and_wraparound():
    config = RetailConfig.validate("RetailEnv", panel=SMALL, history=10, test_start="2016-01-01")
    first_test = SMALL.day_of("2016-01-01")
    assert config.window == (10, first_test - 10) and config.horizon == first_test - 10
    env = RetailEnv(panel=SMALL, product=0, history=10, test_start="2016-01-01", horizon=first_test - 10 + 2)
    env.reset(seed=0)
    days = [env.step(1)[4]["day"] for _ in range(first_test - 10 + 2)]
    assert days[0] == 10 and days[first_test - 11] == first_test - 1 and days[-2:] == [10, 11]


def test_random_product_is_drawn_per_episode_from_the_env_stream():
    env = RetailEnv(panel=SMALL, horizon=2)
    seen = set()
    for seed in range(30):
        env.reset(seed=seed)
        seen.add(env.step(0)[4]["product"])
    assert len(seen) > 6
    venv = RetailVectorEnv(num_envs=5, panel=SMALL, horizon=5)
    venv.reset(seed=100)
    products = venv.step(np.zeros(5, dtype=np.int64))[4]["product"]
    for i in range(5):
        env.reset(seed=100 + i)
        assert env.step(0)[4]["product"] == products[i]


def test_evaluate_reports_retail_metrics():
    result = invgym.evaluate(lambda obs: np.full(len(obs), 2), ENV_ID, panel=SMALL, num_envs=4, periods=50, warmup=0)
    assert set(result.metrics) == {"average_reward", "average_inventory", "service_level", "turnover_days"}
    assert result.metrics["average_reward"] == pytest.approx(-result.average_cost)


# === Bad input ===


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(product=12), ValueError, "The 'product' parameter of RetailEnv must be an int in the range \\[0, 11\\]"),
    (dict(product="some"), ValueError, "The 'product' parameter of RetailEnv must be None, 'all'"),
    (dict(product=1.5), TypeError, "'product'"),
    (dict(split="validation"), ValueError, "The 'split' parameter of RetailEnv must be one of"),
    (dict(test_start="2030-01-01"), ValueError, "The 'test_start' parameter of RetailEnv must be a date inside"),
    (dict(test_start="2015-10-05"), ValueError, "must leave at least one train day"),
    (dict(lead_time=-1), ValueError, "The 'lead_time' parameter of RetailEnv must be an int in the range \\[0, 60\\]"),
    (dict(holding_rate=-0.1), ValueError, "'holding_rate'"),
    (dict(max_order=2.5), TypeError, "'max_order'"),
])
def test_bad_parameters_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        RetailEnv(panel=SMALL, **kwargs)


def test_panel_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="The 'panel' parameter of RetailEnv must be an invgym.panels.Panel"):
        RetailEnv(panel=np.ones((3, 3)))


def test_invalid_actions_raise():
    env = RetailEnv(panel=SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(-1)
    with pytest.raises(ValueError, match="Discrete actions must be ints"):
        env.step(1.5)
