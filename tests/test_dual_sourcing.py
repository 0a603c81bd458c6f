"""invgym/DualSourcing-v0 specifics: backlog, lead times, autoreset, properties, chain cost, its ranges."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import invgym  # noqa: F401 - registers the ids
from invgym.demand import DiscreteUniform, Geometric, Poisson, ProductMixture
from invgym.envs.dual_sourcing import DualSourcingConfig, DualSourcingEnv, DualSourcingVectorEnv
from tests import scenario_checks as sc
from tests.reference import dual_sourcing as ref

ENV_ID = "invgym/DualSourcing-v0"
PARTS = ("cost", "holding", "backorder", "lost", "demand", "order_regular", "order_expedited")
KEYS = ("obs", "reward", *PARTS)


def _config(**kwargs) -> DualSourcingConfig:
    return DualSourcingConfig.validate("DualSourcingEnv", **kwargs)


# === Kernel, reference and twin agree ===


def test_backlog_is_negative_net_inventory_inside_the_observation_space():
    env = DualSourcingEnv(regular_lead_time=2, horizon=10)
    env.reset(seed=0, options={"demand_path": [4.0] * 10})
    obs, _, _, _, info = env.step(np.array([0, 0]))
    assert obs[0] == -4.0 and info["backorder"] == 4.0 and info["cost"] == 495.0 * 4
    assert env.observation_space.contains(obs)
    lost = DualSourcingEnv(regular_lead_time=2, lost_sales=True, horizon=10)
    lost.reset(seed=0, options={"demand_path": [4.0] * 10})
    obs, _, _, _, info = lost.step(np.array([0, 1]))
    assert obs[0] == 0.0 and info["lost"] == 3.0 and info["backorder"] == 0.0
    assert lost.observation_space.low[0] == 0.0 and lost.observation_space.contains(obs)


def test_orders_arrive_after_their_lead_times():
    # One regular and one expedited order placed at t = 0 must reach net inventory exactly l_r and l_e later.
    env = DualSourcingEnv(regular_lead_time=4, expedited_lead_time=2, max_order=(7, 5), horizon=10)
    env.reset(seed=0, options={"demand_path": [0.0] * 10})
    nets = [env.step(np.array([7, 5]) if t == 0 else np.array([0, 0]))[0][0] for t in range(6)]
    # obs after step t is the state at the start of t + 1: the expedited order is in from t + 1 = 2 on.
    assert nets == [0.0, 5.0, 5.0, 12.0, 12.0, 12.0]


# === The env checkers ===


# === Determinism and vectorisation ===


def test_vector_env_next_step_and_same_step_autoreset():
    venv = DualSourcingVectorEnv(num_envs=2, regular_lead_time=1, horizon=2, initial_state=[3])
    venv.reset(seed=0)
    venv.step(np.array([[1, 0], [1, 0]]))
    _, _, _, trunc, _ = venv.step(np.array([[1, 0], [1, 0]]))
    assert trunc.all()
    obs, reward, term, trunc, info = venv.step(np.array([[4, 4], [4, 4]]))  # ignored: this step resets
    np.testing.assert_array_equal(obs, [[3.0], [3.0]])
    np.testing.assert_array_equal(reward, [0.0, 0.0])
    assert not term.any() and not trunc.any() and np.all(info["order_regular"] == 0)
    same = DualSourcingVectorEnv(num_envs=2, autoreset_mode="same_step", regular_lead_time=1, horizon=2,
                                 initial_state=[3])
    same.reset(seed=0, options={"demand_path": np.zeros((2, 2))})
    same.step(np.array([[1, 0], [1, 0]]))
    obs, _, _, trunc, info = same.step(np.array([[2, 0], [2, 0]]))
    assert trunc.all() and info["_final_obs"].all()
    np.testing.assert_array_equal(obs, [[3.0], [3.0]])
    assert all(final[0] == 6.0 for final in info["final_obs"])  # 3 + 1 + 2 with no demand


def test_twin_is_deterministic_and_differentiable():
    import torch

    from invgym.twins import twin_for

    twin = twin_for(ENV_ID, regular_lead_time=3)
    demand = torch.tensor(np.random.default_rng(0).integers(0, 5, (8, 40)), dtype=torch.float64)
    levels = torch.tensor([4.0, 9.0], dtype=torch.float64, requires_grad=True)

    def dual_index(obs):
        q_e = torch.relu(levels[0] - obs[:, 0])
        return torch.stack([torch.relu(levels[1] - obs.sum(1) - q_e), q_e], dim=1)

    runs = [twin.rollout(dual_index, demand, warmup=5) for _ in range(2)]
    assert torch.equal(runs[0].total_cost, runs[1].total_cost)
    runs[0].average_cost.backward()
    assert levels.grad is not None and torch.all(torch.isfinite(levels.grad)) and torch.any(levels.grad != 0)


def test_product_mixture_draws_a_product_per_env_and_episode():
    mixture = ProductMixture([Poisson(1.0), Poisson(30.0)])
    venv = DualSourcingVectorEnv(num_envs=64, demand=mixture, horizon=100)
    assert venv.config.max_order[0] >= 30  # the largest demand over both products
    venv.reset(seed=0)
    totals = np.zeros(64)
    for _ in range(100):
        _, _, _, _, info = venv.step(np.zeros((64, 2), dtype=np.int64))
        totals += info["demand"]
    means = totals / 100
    low, high = means < 5, means > 20
    assert low.any() and high.any() and np.all(low | high)


# === Properties over random parameters ===


@settings(max_examples=40, deadline=None)
@given(
    lead_times=st.tuples(st.integers(0, 4), st.integers(1, 5)),
    mean=st.floats(0.5, 10.0),
    costs=st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 10.0), st.floats(0.0, 20.0), st.floats(0.0, 200.0)),
    lost_sales=st.booleans(),
    seed=st.integers(0, 2**32),
    continuous=st.booleans(),
)
def test_conservation_cost_identity_and_nonnegativity(lead_times, mean, costs, lost_sales, seed, continuous):
    le, gap = lead_times
    c_r, premium, h, b = costs
    env = DualSourcingEnv(regular_lead_time=le + gap, expedited_lead_time=le, demand=Poisson(mean),
                          regular_cost=c_r, expedited_cost=c_r + premium + 1e-3, holding_cost=h, backorder_cost=b,
                          lost_sales=lost_sales, horizon=40, action_type="continuous" if continuous else "discrete")
    config = env.config
    actions = sc.random_actions(config, np.random.default_rng(seed), 40)
    run = sc.run_env(env, actions, seed=seed)
    obs = run["obs"].astype(np.float64)
    # Stock conservation: net inventory plus both pipelines changes only by orders in, demand out, lost sales.
    total = obs.sum(axis=1)
    np.testing.assert_allclose(total[1:] - total[:-1],
                               run["order_regular"] + run["order_expedited"] - run["demand"] + run["lost"],
                               atol=2e-3, rtol=1e-5)
    np.testing.assert_allclose(
        run["cost"],
        h * run["holding"] + b * (run["backorder"] + run["lost"]) + c_r * run["order_regular"]
        + config.expedited_cost * run["order_expedited"], rtol=1e-12)
    np.testing.assert_allclose(run["reward"], -run["cost"])
    for key in ("holding", "backorder", "lost", "demand", "order_regular", "order_expedited"):
        assert np.all(run[key] >= 0), key
    assert np.all(run["holding"] * run["backorder"] == 0)  # never stock and backlog at once
    assert np.all(obs[:, 1:] >= 0)  # outstanding orders
    if lost_sales:
        assert np.all(obs[:, 0] >= 0) and np.all(run["backorder"] == 0)
        assert np.all(run["lost"] <= run["demand"])
    else:
        assert np.all(run["lost"] == 0)


# === Exact long-run cost of a fixed dual-index policy ===


def _dual_index(config, expedited_level, regular_level):
    """Dual index on the reference state, written out independently of the kernel's rollout."""
    lr, le = config.regular_lead_time, config.expedited_lead_time
    max_r, max_e = config.max_order

    def policy(state):
        net, regular, expedited = state[0], state[1:lr], state[lr:]
        ipe = net + sum(expedited) + sum(regular[:le])
        q_e = min(max(expedited_level - ipe, 0.0), max_e)
        q_r = min(max(regular_level - (net + sum(regular) + sum(expedited)) - q_e, 0.0), max_r)
        return [q_r, q_e]

    return policy


@pytest.mark.parametrize("kwargs,levels", [
    (dict(regular_lead_time=2), (4, 8)),  # Gijsbrechts et al. (2022), l_r = 2, c_e = 105
    (dict(regular_lead_time=3, expedited_lead_time=1, demand=DiscreteUniform(0, 3), max_order=6), (5, 8)),
    (dict(regular_lead_time=2, lost_sales=True, demand=Geometric(1.0), max_order=8), (3, 6)),
])
def test_dual_index_rollout_matches_markov_chain_cost(kwargs, levels):
    config = _config(**kwargs)
    exact = sc.markov_chain_cost(config, ref, _dual_index(config, *levels))
    kernel = config.bind(32).reset(seed=0).kernel
    periods = 20_000
    totals = kernel.rollout("dual_index", [levels], periods=periods, warmup=200)
    per_env = totals["cost"] / periods
    stderr = per_env.std(ddof=1) / np.sqrt(len(per_env))
    assert abs(per_env.mean() - exact) < 4 * stderr + 1e-9, (per_env.mean(), exact, stderr)


@pytest.mark.parametrize("policy,params", [("constant", (2, 1)), ("dual_index", (4, 9)), ("single_index", (6, 8)),
                                           ("capped_dual_index", (4, 9, 2)), ("tailored_base_surge", (1, 4))])
def test_rollout_equals_stepping_with_the_same_policy(policy, params):
    config = _config(regular_lead_time=4, expedited_lead_time=1, max_order=(5, 4))
    kernel = config.bind(5).reset(seed=9).kernel
    rolled = kernel.rollout(policy, [params], periods=60)
    venv = DualSourcingVectorEnv(num_envs=5, regular_lead_time=4, expedited_lead_time=1, max_order=(5, 4),
                                 horizon=60)
    obs, _ = venv.reset(seed=9)
    cost = np.zeros(5)
    for _ in range(60):
        # Positions as in the kernel: IPe = net + expedited pipeline + the l_e = 1 oldest regular order.
        ipe = obs[:, 0] + obs[:, 1]
        ip = obs.sum(axis=1)
        if policy == "constant":
            q_r, q_e = np.full(5, params[0]), np.full(5, params[1])
        elif policy == "tailored_base_surge":
            q_r, q_e = np.full(5, params[0]), np.clip(params[1] - ipe, 0, 4)
        else:
            q_e = np.clip(params[0] - (ip if policy == "single_index" else ipe), 0, 4)
            q_r = np.clip(params[1] - ip - q_e, 0, min(5, params[2]) if policy == "capped_dual_index" else 5)
        obs, _, _, _, info = venv.step(np.stack([q_r, q_e], axis=1).astype(np.int64))
        cost += info["cost"]
    np.testing.assert_allclose(rolled["cost"], cost)


def test_rollout_rejects_bad_arguments():
    kernel = _config().bind(2).reset(seed=0).kernel
    with pytest.raises(ValueError, match="policy must be one of"):
        kernel.rollout("base_stock", [4], periods=10)
    with pytest.raises(ValueError, match="finite"):
        kernel.rollout("dual_index", [np.nan, 3], periods=10)
    with pytest.raises(ValueError, match=">= 0"):
        kernel.rollout("dual_index", [4, 8], periods=-1)
    # Parameters of shape (num_envs, k) are used as they are (one row per env).
    totals = kernel.rollout("constant", np.array([[0.0, 0.0], [2.0, 0.0]]), periods=10)
    assert totals["order_regular"].tolist() == [0.0, 20.0]


# === Bad input ===


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(expedited_lead_time=-1),
         "The 'expedited_lead_time' parameter of DualSourcingEnv must be an int in the range [0, 49]. Got -1"),
        (dict(regular_lead_time=0),
         "The 'regular_lead_time' parameter of DualSourcingEnv must be an int in the range [1, 50]. Got 0"),
        (dict(regular_lead_time=2, expedited_lead_time=2),
         "The 'regular_lead_time' parameter of DualSourcingEnv must be an int in the range [3, 50]. Got 2"),
        (dict(regular_lead_time=2.0), "'regular_lead_time' parameter of DualSourcingEnv must be an int"),
        (dict(expedited_lead_time=True), "'expedited_lead_time' parameter of DualSourcingEnv must be an int"),
        (dict(regular_cost=-1.0), "'regular_cost' parameter of DualSourcingEnv must be a float in the range [0, inf)"),
        (dict(expedited_cost=100.0), "'expedited_cost' parameter of DualSourcingEnv must be a float in the range "
                                     "(100, inf). Got 100.0"),
        (dict(regular_cost=120.0), "'expedited_cost' parameter of DualSourcingEnv must be a float in the range (120"),
        (dict(holding_cost=float("nan")), "'holding_cost' parameter of DualSourcingEnv must be a float"),
        (dict(backorder_cost="495"), "'backorder_cost' parameter of DualSourcingEnv must be a float"),
        (dict(lost_sales=1), "'lost_sales' parameter of DualSourcingEnv must be a bool. Got 1"),
        (dict(max_order=-1), "'max_order' parameter of DualSourcingEnv must be an int in the range [0, 100000] or "
                             "a pair of them (regular, expedited). Got -1"),
        (dict(max_order=(4, 4, 4)), "'max_order' parameter of DualSourcingEnv must be"),
        (dict(max_order=2.5), "'max_order' parameter of DualSourcingEnv must be an int"),
        (dict(max_order=(3.0, float("inf")), action_type="continuous"),
         "'max_order' parameter of DualSourcingEnv must be a float"),
        (dict(demand=[0, 1, 2]), "'demand' parameter of DualSourcingEnv must be a demand model"),
        (dict(regular_lead_time=3, initial_state=[1.0]), "'initial_state' parameter of DualSourcingEnv must be a "
                                                         "sequence of 3"),
        (dict(initial_state=[0.0, -1.0]), "'initial_state' parameter of DualSourcingEnv"),
        (dict(lost_sales=True, initial_state=[-2.0, 0.0]), "net inventory >= 0 (lost sales)"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as excinfo:
        DualSourcingEnv(**kwargs)
    assert message in str(excinfo.value)


def test_negative_initial_net_inventory_is_a_backlog():
    env = DualSourcingEnv(initial_state=[-3.0, 2.0])
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [-3.0, 2.0] and env.observation_space.contains(obs)


def test_bad_actions_raise_without_moving_the_state():
    env = DualSourcingEnv(regular_lead_time=2, max_order=(4, 3))
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.array([1, 1]))
    obs, _ = env.reset(seed=0)
    for action in (np.array([-1, 0]), np.array([5, 0]), np.array([0, 4]), np.array([1.0, 1.0]), 3,
                   np.array([1, 1, 1])):
        with pytest.raises(ValueError, match="outside the action space"):
            env.step(action)
    np.testing.assert_array_equal(env.step(np.array([0, 0]))[0][1:], [0.0])  # nothing moved before
    cont = DualSourcingEnv(max_order=(4.0, 3.0), action_type="continuous")
    cont.reset(seed=0)
    for action in (np.array([np.nan, 0.0]), np.array([-0.1, 0.0]), np.array([0.0, 3.5]), np.array([1.0])):
        with pytest.raises(ValueError, match="outside the action space"):
            cont.step(action)
    venv = DualSourcingVectorEnv(num_envs=3, max_order=4)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="did you pass the policy's logits"):
        venv.step(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="env 2"):
        venv.step(np.array([[1, 1], [2, 2], [1, 5]]))


def test_default_max_order_is_the_largest_demand_of_a_period():
    assert DualSourcingEnv().action_space.nvec.tolist() == [5, 5]  # demand uniform on {0, ..., 4}
    env = DualSourcingEnv(demand=DiscreteUniform(2, 9), max_order=(12, 6))
    assert env.action_space.nvec.tolist() == [13, 7]
    assert env.observation_space.high[1:].tolist() == [12.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, -1.0, 1e9])
@pytest.mark.parametrize("where", [(0, 0), (5, 1), (6, 0), (9, 1)])
def test_step_names_the_first_env_with_an_invalid_action_and_moves_nothing(bad, where):
    """The action check (two columns per env here) returns the first env with a bad order; no env moves."""
    buf = DualSourcingConfig.validate("DualSourcingEnv").bind(10).reset(seed=0)
    before = buf.kernel.get_state()
    buf.actions[:] = 1.0
    buf.actions[where] = bad
    buf.actions[9, 0] = np.nan  # a later bad env does not hide the first
    assert buf.kernel.step() == where[0]
    after = buf.kernel.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    buf.actions[:] = 1.0
    assert buf.kernel.step() == -1
