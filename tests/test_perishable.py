"""invgym/Perishable-v0 specifics: a hand-worked period, autoreset, properties, chain cost, its ranges."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import invgym  # noqa: F401 - registers the ids
from invgym.demand import DiscreteUniform, Gamma, Geometric, Poisson, ProductMixture
from invgym.envs.perishable import PerishableConfig, PerishableEnv, PerishableVectorEnv
from tests import scenario_checks as sc
from tests.reference import perishable as ref

ENV_ID = "invgym/Perishable-v0"


def _config(**kwargs) -> PerishableConfig:
    return PerishableConfig.validate("PerishableEnv", **kwargs)


# === Kernel, reference and twin agree ===


def test_hand_worked_period_fifo_and_lifo():
    """One period worked by hand: FIFO and LIFO issue different buckets, so outdating differs."""
    # m = 3, L = 1: state [life 1, life 2, life 3] = [2, 3, 4]; order 5; demand 4.
    for issuing, left in (("fifo", [0, 1, 4]), ("lifo", [2, 3, 0])):
        env = PerishableEnv(shelf_life=3, lead_time=1, issuing=issuing, initial_state=[2, 3, 4], horizon=3)
        env.reset(seed=0, options={"demand_path": [4.0, 0.0, 0.0]})
        obs, reward, _, _, info = env.step(5)
        # Outdated: what is left of life 1; carried (holding): lives 2 and 3; the order arrives as life 3.
        assert info["outdated"] == left[0] and info["holding"] == left[1] + left[2]
        np.testing.assert_array_equal(obs, [left[1], left[2], 5.0])
        assert reward == -(3.0 * 5 + 7.0 * left[0] + 1.0 * (left[1] + left[2]))


# === Checkers, determinism and vectorisation ===


def test_vector_env_next_step_and_same_step_autoreset():
    """Both Gymnasium autoreset modes restart from the initial state as documented."""
    venv = PerishableVectorEnv(num_envs=2, shelf_life=2, lead_time=1, horizon=2, initial_state=[1, 3])
    venv.reset(seed=0)
    venv.step(np.array([1, 1]))
    _, _, _, trunc, _ = venv.step(np.array([1, 1]))
    assert trunc.all()
    obs, reward, term, trunc, info = venv.step(np.array([5, 5]))  # ignored: this step resets
    np.testing.assert_array_equal(obs, [[1.0, 3.0], [1.0, 3.0]])
    np.testing.assert_array_equal(reward, [0.0, 0.0])
    assert not term.any() and not trunc.any() and np.all(info["order"] == 0)
    same = PerishableVectorEnv(num_envs=2, autoreset_mode="same_step", shelf_life=2, lead_time=1, horizon=2,
                               initial_state=[1, 3])
    same.reset(seed=0)
    same.step(np.array([1, 1]))
    obs, _, _, trunc, info = same.step(np.array([2, 2]))
    assert trunc.all() and info["_final_obs"].all()
    np.testing.assert_array_equal(obs, [[1.0, 3.0], [1.0, 3.0]])
    assert all(final[1] == 2.0 for final in info["final_obs"])  # the last order arrived as the freshest bucket


def test_twin_is_deterministic_and_differentiable():
    """The twin is deterministic and the gradient of its cost reaches a base-stock level."""
    import torch

    from invgym.twins import twin_for

    for issuing in ("fifo", "lifo"):
        twin = twin_for(ENV_ID, shelf_life=3, lead_time=1, issuing=issuing)
        demand = torch.tensor(np.random.default_rng(0).poisson(4.0, (8, 40)), dtype=torch.float64)
        level = torch.tensor(9.5, dtype=torch.float64, requires_grad=True)
        runs = [twin.rollout(lambda o, s=level: torch.relu(s - o.sum(1)), demand, warmup=5) for _ in range(2)]
        assert torch.equal(runs[0].total_cost, runs[1].total_cost)
        runs[0].average_cost.backward()
        assert level.grad is not None and torch.isfinite(level.grad) and level.grad != 0


def test_product_mixture_runs_and_each_env_keeps_its_product():
    """With a ProductMixture each env keeps the product it drew at reset."""
    mixture = ProductMixture([Poisson(1.0), Poisson(30.0)])
    venv = PerishableVectorEnv(num_envs=64, shelf_life=2, lead_time=0, demand=mixture, horizon=200)
    venv.reset(seed=0)
    totals = np.zeros(64)
    for _ in range(200):
        _, _, _, _, info = venv.step(np.zeros(64, dtype=np.int64))
        totals += info["demand"]
    means = totals / 200
    assert np.all((means < 5) | (means > 20)) and (means < 5).any() and (means > 20).any()


# === The De Moor et al. (2022) demand discretisation ===


@pytest.mark.slow
def test_gamma_demand_is_de_moors_rounded_gamma():
    """Gamma(mean, cv) is the gamma rounded to the nearest integer, P(0) = F(0.5), capped."""
    from scipy.stats import gamma

    pmf = Gamma(4.0, 0.5, cap=100).pmf()
    cdf = gamma(a=4.0, scale=1.0).cdf  # shape 1/cv^2 = 4, scale mean cv^2 = 1
    expected = np.diff(np.concatenate([[0.0], cdf(np.arange(len(pmf)) + 0.5)]))
    expected[-1] += 1.0 - expected.sum()  # the tail beyond the truncation point sits on the last value
    np.testing.assert_allclose(pmf, expected, atol=1e-12)
    assert pmf[0] == pytest.approx(cdf(0.5), rel=1e-9)  # P(0) = F(0.5)
    capped = Gamma(4.0, 0.5, cap=6).pmf()
    assert len(capped) == 7 and capped[6] == pytest.approx(1.0 - cdf(5.5), rel=1e-9)
    assert Gamma(50.0, 0.2).mean == pytest.approx(50.0, abs=1e-6)


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: Gamma(0.0, 0.5), "The 'mean' parameter of Gamma must be a float in the range (0, 10000]. Got 0.0"),
        (lambda: Gamma(4.0, -1.0), "The 'cv' parameter of Gamma must be a float in the range (0, 10]"),
        (lambda: Gamma(4.0, 0.5, cap=0), "The 'cap' parameter of Gamma must be an int in the range [1, 99999]"),
        (lambda: Gamma(4.0, 0.5, cap=2.5), "The 'cap' parameter of Gamma must be an int"),
        (lambda: Gamma(10_000.0, 1.0), "pass a cap"),
    ],
)
def test_bad_gamma_parameters_raise(build, message):
    """Bad Gamma parameters raise errors that name the parameter and the allowed range."""
    with pytest.raises((ValueError, TypeError)) as excinfo:
        build()
    assert message in str(excinfo.value)


# === Properties over random parameters ===


@settings(max_examples=40, deadline=None)
@given(
    shelf_life=st.integers(1, 6),
    lead_time=st.integers(0, 4),
    fifo=st.booleans(),
    mean=st.floats(0.5, 12.0),
    costs=st.tuples(*[st.floats(0.0, 20.0)] * 4),
    seed=st.integers(0, 2**32),
    continuous=st.booleans(),
)
def test_conservation_cost_identity_and_nonnegativity(shelf_life, lead_time, fifo, mean, costs, seed, continuous):
    """Units are conserved (outdated units included), the cost identity holds, nothing is negative."""
    h, p, w, c = costs
    env = PerishableEnv(shelf_life=shelf_life, lead_time=lead_time, issuing="fifo" if fifo else "lifo",
                        demand=Poisson(mean), holding_cost=h, lost_sales_cost=p, outdating_cost=w,
                        purchase_cost=c, max_order=15, horizon=40,
                        action_type="continuous" if continuous else "discrete")
    actions = sc.random_actions(env.config, np.random.default_rng(seed), 40)
    run = sc.run_env(env, actions, seed=seed)
    obs = run["obs"].astype(np.float64)
    # Units are conserved: stock and pipeline change only by orders in, sales out and outdated units out.
    total = obs.sum(axis=1)
    np.testing.assert_allclose(total[1:] - total[:-1], run["order"] - run["sales"] - run["outdated"], atol=1e-3)
    np.testing.assert_allclose(run["sales"] + run["lost"], run["demand"])
    identity = h * run["holding"] + p * run["lost"] + w * run["outdated"] + c * run["order"]
    np.testing.assert_allclose(run["cost"], identity, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run["reward"], -run["cost"])
    for key in ("holding", "lost", "outdated", "sales", "demand", "order"):
        assert np.all(run[key] >= 0), key
    assert np.all(obs >= 0) and np.all(obs <= 15 + 1e-4)
    # Holding counts what is carried over: the on-hand part of the next observation minus the arriving order.
    on_hand = min(shelf_life, shelf_life + lead_time - 1)
    if shelf_life > 1 and lead_time >= 1:
        arriving = obs[1:, shelf_life - 1]
        np.testing.assert_allclose(run["holding"], obs[1:, :on_hand].sum(axis=1) - arriving, atol=1e-3)


# === Exact long-run cost of a fixed base-stock policy ===


@pytest.mark.parametrize(
    "kwargs,level",
    [
        (dict(shelf_life=2, lead_time=1, demand=Poisson(3.0), max_order=8), 6),
        (dict(shelf_life=2, lead_time=1, issuing="lifo", demand=Poisson(3.0), max_order=8), 5),
        (dict(shelf_life=3, lead_time=0, demand=DiscreteUniform(0, 5), max_order=8), 4),
        (dict(shelf_life=2, lead_time=2, issuing="lifo", demand=Geometric(2.0), max_order=6), 6),
    ],
)
def test_base_stock_rollout_matches_markov_chain_cost(kwargs, level):
    """A base-stock policy's simulated cost matches its exact Markov-chain cost (4 standard errors)."""
    config = _config(**kwargs)

    def base_stock(state):
        return [float(min(max(0.0, level - sum(state)), config.max_order))]

    exact = sc.markov_chain_cost(config, ref, base_stock)
    kernel = config.bind(32).reset(seed=0).kernel
    totals = kernel.rollout("base_stock", [level], periods=20_000, warmup=200)
    per_env = totals["cost"] / 20_000
    stderr = per_env.std(ddof=1) / np.sqrt(len(per_env))
    assert abs(per_env.mean() - exact) < 4 * stderr + 1e-9, (per_env.mean(), exact, stderr)


def test_rollout_equals_stepping_with_the_same_policy():
    """The compiled rollout equals stepping the vector env with the policy's own act()."""
    from invgym.baselines import EstimatedWithdrawalBaseStock, PerishableCappedBaseStock

    config = _config(shelf_life=3, lead_time=2, issuing="lifo", max_order=9, horizon=60)
    policies = [PerishableCappedBaseStock.fit(config, level=12, cap=5),
                EstimatedWithdrawalBaseStock.fit(config, level=11, cap=7, mean_demand=3.6)]
    for policy in policies:
        kernel = config.bind(5).reset(seed=9).kernel
        rolled = kernel.rollout(*policy.rollout_spec(), periods=60, discount=0.97)
        venv = PerishableVectorEnv(num_envs=5, shelf_life=3, lead_time=2, issuing="lifo", max_order=9, horizon=60)
        obs, _ = venv.reset(seed=9)
        cost, weight = np.zeros(5), 1.0
        for _ in range(60):
            obs, _, _, _, info = venv.step(policy(obs))
            cost += weight * info["cost"]
            weight *= 0.97
        np.testing.assert_allclose(rolled["cost"], cost, rtol=1e-12)


def test_rollout_rejects_bad_arguments():
    """rollout() refuses unknown policies, a discount outside (0, 1] and negative periods."""
    kernel = _config().bind(2).reset(seed=0).kernel
    with pytest.raises(ValueError, match="policy must be one of"):
        kernel.rollout("sS", [1.0], periods=5)
    with pytest.raises(ValueError, match="discount must be in"):
        kernel.rollout("base_stock", [7.0], periods=5, discount=0.0)
    with pytest.raises(ValueError, match="periods and warmup"):
        kernel.rollout("base_stock", [7.0], periods=-1)


# === Bad input ===


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(shelf_life=0), "The 'shelf_life' parameter of PerishableEnv must be an int in the range [1, 50]. Got 0"),
        (dict(shelf_life=2.0), "'shelf_life' parameter of PerishableEnv must be an int"),
        (dict(lead_time=-1), "The 'lead_time' parameter of PerishableEnv must be an int in the range [0, 50]. Got -1"),
        (dict(lead_time=True), "'lead_time' parameter of PerishableEnv must be an int"),
        (dict(issuing="FEFO"), "The 'issuing' parameter of PerishableEnv must be one of ['fifo', 'lifo']. Got 'FEFO'"),
        (dict(demand=4.0), "'demand' parameter of PerishableEnv must be a demand model"),
        (dict(holding_cost=-1.0), "'holding_cost' parameter of PerishableEnv must be a float in the range [0, inf)"),
        (dict(lost_sales_cost=math.inf), "'lost_sales_cost' parameter of PerishableEnv must be a float"),
        (dict(outdating_cost=float("nan")), "'outdating_cost' parameter of PerishableEnv must be a float"),
        (dict(purchase_cost="3"), "'purchase_cost' parameter of PerishableEnv"),
        (dict(max_order=-1), "'max_order' parameter of PerishableEnv must be an int in the range [0, 100000]"),
        (dict(max_order=2.5), "'max_order' parameter of PerishableEnv must be an int"),
        (dict(max_order=-0.5, action_type="continuous"), "'max_order' parameter of PerishableEnv must be a float"),
        (dict(initial_state=[1.0]), "'initial_state' parameter of PerishableEnv must be a sequence of 2"),
        (dict(initial_state=[1.0, -1.0]), "'initial_state' parameter of PerishableEnv"),
        (dict(initial_state=[1.0, 11.0]), "in the range [0, 10]"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, message):
    """Every bad constructor argument raises an error naming it, its range and the value."""
    with pytest.raises((ValueError, TypeError)) as excinfo:
        PerishableEnv(**kwargs)
    assert message in str(excinfo.value)


def test_vector_env_validates_too():
    """The vector env validates its keywords with its own name in the message."""
    with pytest.raises(ValueError, match="'shelf_life' parameter of PerishableVectorEnv"):
        PerishableVectorEnv(num_envs=2, shelf_life=99)


def test_bad_actions_raise_without_moving_the_state():
    """Invalid actions raise before anything moves."""
    env = PerishableEnv(max_order=10)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(1)
    obs, _ = env.reset(seed=0)
    for action in (-1, 11, 2.5, "3"):
        with pytest.raises(ValueError, match="outside the action space"):
            env.step(action)
    cont = PerishableEnv(max_order=10, action_type="continuous")
    cont.reset(seed=0)
    for action in (np.array([np.nan]), np.array([-0.1]), np.array([10.5]), np.array([1.0, 2.0])):
        with pytest.raises(ValueError, match="outside the action space"):
            cont.step(action)
    np.testing.assert_array_equal(env.step(0)[0], [0.0, 0.0])  # nothing moved before


def test_kernel_rejects_inconsistent_construction():
    """The kernel itself refuses inconsistent arguments (no segfault when built directly)."""
    from invgym.core._perishable import PerishableKernel
    from invgym.demand import kernel_tables

    prob, alias, support = kernel_tables(Poisson(2.0))
    with pytest.raises(ValueError, match="initial_state must have length 2"):
        PerishableKernel(1, 10, 2, 1, 0, 1.0, 5.0, 7.0, 3.0, 10.0, True, np.zeros(3), prob, alias, support)
    with pytest.raises(ValueError, match="issuing must be 0"):
        PerishableKernel(1, 10, 2, 1, 2, 1.0, 5.0, 7.0, 3.0, 10.0, True, np.zeros(2), prob, alias, support)
    with pytest.raises(ValueError, match="shelf_life must be >= 1"):
        PerishableKernel(1, 10, 0, 1, 0, 1.0, 5.0, 7.0, 3.0, 10.0, True, np.zeros(0), prob, alias, support)
