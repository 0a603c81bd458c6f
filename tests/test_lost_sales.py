"""invgym/LostSales-v0 specifics: autoreset, twin gradient, mixture, properties, chain cost, its ranges."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import invgym  # noqa: F401 - registers the ids
from invgym.demand import DiscreteUniform, Geometric, NegativeBinomial, Poisson, ProductMixture
from invgym.envs.lost_sales import LostSalesConfig, LostSalesEnv, LostSalesVectorEnv
from tests import scenario_checks as sc
from tests.reference import lost_sales as ref

ENV_ID = "invgym/LostSales-v0"


def _config(**kwargs) -> LostSalesConfig:
    return LostSalesConfig.validate("LostSalesEnv", **kwargs)


# === Kernel, reference and twin agree ===


# === Determinism and vectorisation ===


@pytest.mark.parametrize("by_key", [False, True])
@pytest.mark.parametrize("case", ["L0", "L1", "L2", "L3", "L5", "history", "replay", "mixture"])
def test_batch_step_loop_equals_the_generic_loop(case, by_key):
    """The kernel's own batch-step loop writes what the generic loop of hooks writes, bit for bit, every step.

    Horizon 7 over 40 steps crosses several next-step autoresets; actions and demand are random. With
    ``by_key`` the parts by key are bound too (as the vector env binds them), else they are not filled.
    """
    kwargs = {"lead_time": int(case[1:]) if case.startswith("L") else 2, "horizon": 7, "max_order": 12}
    if case == "history":
        kwargs.update(history=3, action_type="continuous")
    if case == "mixture":
        kwargs["demand"] = ProductMixture([Poisson(2.0), Geometric(0.3), DiscreteUniform(0, 6)])
    config = _config(**kwargs)
    rng = np.random.default_rng(3)
    path = rng.integers(0, 9, size=(5, 7)).astype(np.float64) + 0.25
    actions = rng.integers(0, 13, size=(40, 5, 1)).astype(np.float64)
    if case == "history":
        actions = np.minimum(actions + 0.5, 12.0)  # fractional orders within [0, max_order]
    runs = []
    for generic in (False, True):
        buf = config.bind(5, by_key=by_key)
        assert (buf.parts_t is not None) == by_key
        if case == "replay":
            buf.kernel.set_demand_path(path)
        buf.reset(seed=9)
        seen = []
        for a in actions:
            buf.actions[:] = a
            assert (buf.kernel.step_generic() if generic else buf.kernel.step()) == -1
            seen.append([np.array(b, copy=True) for b in (buf.obs, buf.rewards, buf.terminated, buf.truncated,
                                                           buf.parts) + ((buf.parts_t,) if by_key else ())])
        runs.append((seen, buf.kernel.get_state()))
    (fast, fast_state), (generic, generic_state) = runs
    for step, (a, b) in enumerate(zip(fast, generic, strict=True)):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"step {step}")
    assert fast_state.keys() == generic_state.keys()
    for name in fast_state:
        np.testing.assert_array_equal(fast_state[name], generic_state[name], err_msg=name)


def test_vector_env_fast_and_general_action_paths_agree():
    """int64 arrays take the compiled copy, other dtypes, shapes and lists the general one: the same steps."""
    runs = []
    for convert in (lambda a: a, lambda a: a.astype(np.int32), lambda a: a.reshape(-1, 1), lambda a: a.tolist()):
        venv = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", copy=False, horizon=5)
        venv.reset(seed=1)
        rng = np.random.default_rng(0)
        seen = []
        for _ in range(12):
            obs, reward, *_ = venv.step(convert(rng.integers(0, 10, size=4)))
            seen.append((obs.copy(), reward.copy()))
        runs.append(seen)
    for other in runs[1:]:
        for (o1, r1), (o2, r2) in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(o1, o2)
            np.testing.assert_array_equal(r1, r2)
    venv = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", copy=False)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"Invalid action for env 1 .*: np.int64\(-1\) is outside"):
        venv.step(np.array([3, -1]))
    with pytest.raises(ValueError, match="did you pass the policy's logits"):
        venv.step(np.array([3.0, 1.0]))


def test_vector_env_next_step_autoreset():
    venv = LostSalesVectorEnv(num_envs=2, lead_time=1, horizon=2, initial_state=[3])
    venv.reset(seed=0)
    venv.step(np.array([1, 1]))
    _, _, _, trunc, _ = venv.step(np.array([1, 1]))
    assert trunc.all()
    obs, reward, term, trunc, info = venv.step(np.array([5, 5]))  # ignored: this step resets
    np.testing.assert_array_equal(obs, [[3.0], [3.0]])
    np.testing.assert_array_equal(reward, [0.0, 0.0])
    assert not term.any() and not trunc.any() and np.all(info["order"] == 0)


def test_vector_env_same_step_autoreset_reports_final_obs():
    venv = LostSalesVectorEnv(num_envs=2, autoreset_mode="same_step", lead_time=1, horizon=2, initial_state=[3])
    venv.reset(seed=0)
    venv.step(np.array([1, 1]))
    obs, _, _, trunc, info = venv.step(np.array([2, 2]))
    assert trunc.all() and info["_final_obs"].all()
    np.testing.assert_array_equal(obs, [[3.0], [3.0]])
    assert all(final[0] >= 2 for final in info["final_obs"])  # the order of 2 arrived before the episode ended


def test_twin_is_deterministic_and_differentiable():
    import torch

    from invgym.twins import twin_for

    twin = twin_for(ENV_ID, lead_time=2)
    demand = torch.tensor(np.random.default_rng(0).poisson(5.0, (8, 40)), dtype=torch.float64)
    level = torch.tensor(14.0, dtype=torch.float64, requires_grad=True)
    runs = [twin.rollout(lambda o: torch.relu(level - o.sum(1)), demand, warmup=5) for _ in range(2)]
    assert torch.equal(runs[0].total_cost, runs[1].total_cost)
    runs[0].average_cost.backward()
    assert level.grad is not None and torch.isfinite(level.grad)


def test_product_mixture_draws_a_product_per_env_and_episode():
    mixture = ProductMixture([Poisson(1.0), Poisson(30.0)])
    venv = LostSalesVectorEnv(num_envs=64, lead_time=0, demand=mixture, horizon=200, history=4)
    venv.reset(seed=0)
    totals = np.zeros(64)
    for _ in range(200):
        _, _, _, _, info = venv.step(np.zeros(64, dtype=np.int64))
        totals += info["demand"]
    means = totals / 200
    low, high = means < 5, means > 20
    assert low.any() and high.any() and np.all(low | high)  # each env stays with one product all episode


def test_history_window_holds_observed_sales():
    env = LostSalesEnv(lead_time=0, history=3, horizon=10)
    env.reset(seed=4)
    sales = []
    for _ in range(5):
        obs, _, _, _, info = env.step(4)
        sales.append(info["sales"])
        np.testing.assert_array_equal(obs[1:], ([0.0, 0.0, 0.0] + sales)[-3:])


# === Properties over random parameters ===


@settings(max_examples=40, deadline=None)
@given(
    lead_time=st.integers(0, 8),
    mean=st.floats(0.5, 20.0),
    h=st.floats(0.0, 10.0),
    p=st.floats(0.0, 100.0),
    c=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**32),
    continuous=st.booleans(),
)
def test_conservation_cost_identity_and_nonnegativity(lead_time, mean, h, p, c, seed, continuous):
    env = LostSalesEnv(lead_time=lead_time, demand=Poisson(mean), holding_cost=h, lost_sales_cost=p,
                       purchase_cost=c, horizon=40, action_type="continuous" if continuous else "discrete")
    actions = sc.random_actions(env.config, np.random.default_rng(seed), 40)
    run = sc.run_env(env, actions, seed=seed)
    obs = run["obs"].astype(np.float64)
    # Stock conservation: what is on hand or in the pipeline changes only by orders in and sales out.
    total = obs.sum(axis=1)
    np.testing.assert_allclose(total[1:] - total[:-1], run["order"] - run["sales"], atol=1e-3, rtol=1e-5)
    np.testing.assert_allclose(run["sales"] + run["lost"], run["demand"])
    np.testing.assert_allclose(run["cost"], h * run["holding"] + p * run["lost"] + c * run["order"], rtol=1e-12)
    np.testing.assert_allclose(run["reward"], -run["cost"])
    for key in ("holding", "lost", "sales", "demand", "order"):
        assert np.all(run[key] >= 0), key
    assert np.all(obs >= 0)


# === Exact long-run cost of a fixed base-stock policy ===


@pytest.mark.parametrize("lead_time,level,demand", [(1, 9, Poisson(3.0)), (2, 12, DiscreteUniform(0, 6)),
                                                    (0, 5, Geometric(2.0))])
def test_base_stock_rollout_matches_markov_chain_cost(lead_time, level, demand):
    config = _config(lead_time=lead_time, demand=demand, lost_sales_cost=9.0, max_order=30)

    def base_stock(state):
        return [max(0.0, level - sum(state[0]))]

    exact = sc.markov_chain_cost(config, ref, base_stock)
    kernel = config.bind(32).reset(seed=0).kernel
    totals = kernel.rollout("base_stock", [level], periods=20_000, warmup=200)
    per_env = totals["cost"] / 20_000
    stderr = per_env.std(ddof=1) / np.sqrt(len(per_env))
    assert abs(per_env.mean() - exact) < 4 * stderr + 1e-9, (per_env.mean(), exact, stderr)


def test_rollout_equals_stepping_with_the_same_policy():
    config = _config(lead_time=3, max_order=25)
    kernel = config.bind(5).reset(seed=9).kernel
    rolled = kernel.rollout("capped_base_stock", [[18.0, 7.0]], periods=50)
    venv = LostSalesVectorEnv(num_envs=5, lead_time=3, max_order=25, horizon=50)
    obs, _ = venv.reset(seed=9)
    cost = np.zeros(5)
    for _ in range(50):
        q = np.clip(18 - obs.sum(axis=1), 0, 7).astype(np.int64)
        obs, _, _, _, info = venv.step(q)
        cost += info["cost"]
    np.testing.assert_allclose(rolled["cost"], cost)


# === Bad input ===


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(lead_time=-1), "The 'lead_time' parameter of LostSalesEnv must be an int in the range [0, 50]. Got -1"),
        (dict(lead_time=2.5), "'lead_time' parameter of LostSalesEnv must be an int"),
        (dict(lead_time=True), "'lead_time' parameter of LostSalesEnv must be an int"),
        (dict(holding_cost=float("nan")),
         "'holding_cost' parameter of LostSalesEnv must be a float in the range [0, inf)"),
        (dict(lost_sales_cost=-1.0),
         "'lost_sales_cost' parameter of LostSalesEnv must be a float in the range [0, inf). Got -1.0 instead."),
        (dict(purchase_cost="1"), "'purchase_cost' parameter"),
        (dict(max_order=-1), "'max_order' parameter of LostSalesEnv must be an int in the range [0, 100000]"),
        (dict(demand=5.0), "'demand' parameter of LostSalesEnv must be a demand model"),
        (dict(history=-2), "'history' parameter of LostSalesEnv must be an int in the range [0, 1024]"),
        (dict(lead_time=2, initial_state=[1.0]), "'initial_state' parameter of LostSalesEnv must be a sequence of 2"),
        (dict(initial_state=[-1.0]), "'initial_state' parameter of LostSalesEnv"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as excinfo:
        LostSalesEnv(**kwargs)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("bad", [Poisson, NegativeBinomial])
def test_bad_demand_parameters_raise(bad):
    with pytest.raises(ValueError, match="'mean' parameter of"):
        bad(-1.0) if bad is Poisson else bad(-1.0, 2.0)


def test_bad_actions_raise_without_moving_the_state():
    env = LostSalesEnv(lead_time=1, max_order=10)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(1)
    obs, _ = env.reset(seed=0)
    for action in (-1, 11, 2.5, np.float32(3.0), "3"):
        with pytest.raises(ValueError, match="outside the action space"):
            env.step(action)
    cont = LostSalesEnv(lead_time=1, max_order=10, action_type="continuous")
    cont.reset(seed=0)
    for action in (np.array([np.nan]), np.array([-0.1]), np.array([10.5]), np.array([1.0, 2.0])):
        with pytest.raises(ValueError, match="outside the action space"):
            cont.step(action)
    venv = LostSalesVectorEnv(num_envs=3, lead_time=1, max_order=10)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="did you pass the policy's logits"):
        venv.step(np.array([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match="env 2"):
        venv.step(np.array([1, 2, 11]))


def test_default_max_order_is_mortons_bound():
    env = LostSalesEnv(lead_time=3, lost_sales_cost=9.0)
    # p/(p+h) = 0.9 quantile of Poisson(20) (four periods of Poisson(5)) is 26.
    assert env.action_space.n == 27


def test_config_replace_round_trips_and_revalidates():
    config = LostSalesEnv(lead_time=2).config
    longer = config.replace(horizon=50_000)
    assert longer.horizon == 50_000 and longer.max_order == config.max_order and longer.lead_time == 2
    with pytest.raises(ValueError, match="'lead_time' parameter"):
        config.replace(lead_time=-3)


def test_rollout_accepts_per_env_parameters():
    config = _config(lead_time=1, max_order=20)
    kernel = config.bind(3).reset(seed=0).kernel
    totals = kernel.rollout("constant", np.array([[0.0], [5.0], [10.0]]), periods=100)
    np.testing.assert_array_equal(totals["order"], [0.0, 500.0, 1000.0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1.0, 1e9])
@pytest.mark.parametrize("env", [0, 3, 63, 64])
def test_step_names_the_first_env_with_an_invalid_action_and_moves_nothing(bad, env):
    """The vectorised action check returns the first env with a bad order (NaN, infinite, outside the space)."""
    buf = _config(lead_time=2).bind(65).reset(seed=0)
    before = buf.kernel.get_state()
    buf.actions[:] = 3.0
    buf.actions[env] = bad
    buf.actions[64] = np.nan  # a later bad env does not hide the first
    assert buf.kernel.step() == env
    after = buf.kernel.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    buf.actions[:] = 3.0
    assert buf.kernel.step() == -1
