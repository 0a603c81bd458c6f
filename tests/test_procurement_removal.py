"""invgym/ProcurementRemoval-v0 specifics: schedules, properties, chain costs, Zipkin Table 3, optimum, fit."""

from __future__ import annotations

import json
import pathlib

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import invgym  # noqa: F401 - registers the ids
from invgym.baselines.exact_procurement_removal import interval_levels, solve_procurement_removal
from invgym.baselines.interval_stock import IntervalStock
from invgym.demand import DiscreteUniform, Geometric, Poisson, ProductMixture
from invgym.envs.procurement_removal import (
    ProcurementRemovalConfig,
    ProcurementRemovalEnv,
    ProcurementRemovalVectorEnv,
)
from tests import scenario_checks as sc
from tests.reference import procurement_removal as ref

ENV_ID = "invgym/ProcurementRemoval-v0"
KEYS = ("obs", "reward", "cost", "holding", "lost", "backlog", "sales", "demand", "order", "removed", "salvage")
ZIPKIN = json.loads((pathlib.Path(__file__).parent / "data" / "zipkin_2008_table3.json").read_text())


def _config(**kwargs) -> ProcurementRemovalConfig:
    return ProcurementRemovalConfig.validate("ProcurementRemovalEnv", **kwargs)


SEASONS = [Poisson(2.0), Poisson(9.0), Geometric(4.0)]


# === Kernel, reference and twin agree ===


def test_schedule_draws_each_period_from_its_phase_and_shows_the_phase():
    venv = ProcurementRemovalVectorEnv(num_envs=200, lead_time=0, horizon=40,
                                       demand_schedule=[Poisson(1.0), Poisson(30.0), DiscreteUniform(10, 10)])
    obs, _ = venv.reset(seed=0)
    demand = np.zeros((3, 200))
    for t in range(30):
        np.testing.assert_array_equal(obs[:, 1], t % 3)
        obs, _, _, _, info = venv.step(sc.env_action(venv, np.zeros(200, dtype=np.int64)))
        demand[t % 3] += info["demand"] / 10
    means = demand.mean(axis=1)
    assert abs(means[0] - 1.0) < 0.1 and abs(means[1] - 30.0) < 0.5 and np.all(demand[2] == 10.0)


# === Checkers, determinism and vectorisation ===

# Warnings the checkers give by design for these spaces, allowed by exact text.


def test_vector_env_next_step_autoreset_restarts_the_phase():
    venv = ProcurementRemovalVectorEnv(num_envs=2, lead_time=1, horizon=2, initial_state=[3], max_order=5,
                                       demand_schedule=[Poisson(1.0)] * 3)
    venv.reset(seed=0)
    venv.step(sc.env_action(venv, np.array([1, -1])))
    _, _, _, trunc, _ = venv.step(sc.env_action(venv, np.array([1, 1])))
    assert trunc.all()
    obs, reward, _, _, info = venv.step(sc.env_action(venv, np.array([5, 5])))  # ignored: this step resets
    np.testing.assert_array_equal(obs, [[3.0, 0.0], [3.0, 0.0]])
    np.testing.assert_array_equal(reward, [0.0, 0.0])
    assert np.all(info["order"] == 0) and np.all(info["removed"] == 0)


def test_twin_is_differentiable_in_the_interval_levels():
    import torch

    from invgym.twins import twin_for

    twin = twin_for(ENV_ID, lead_time=1, initial_state=[30], salvage_value=1.5)
    demand = torch.tensor(np.random.default_rng(0).poisson(5.0, (8, 30)), dtype=torch.float64)
    a = torch.tensor(11.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(14.0, dtype=torch.float64, requires_grad=True)

    def interval(obs):
        x = obs.sum(1)
        return torch.relu(a - x) - torch.relu(x - b)

    run = twin.rollout(interval, demand)
    run.average_cost.backward()
    assert run.parts["removed"].sum() > 0
    assert torch.isfinite(a.grad) and torch.isfinite(b.grad) and b.grad != 0  # removal depends on b


# === Properties over random parameters ===


@settings(max_examples=40, deadline=None)
@given(
    lead_time=st.integers(0, 6),
    mean=st.floats(0.5, 15.0),
    h=st.floats(0.0, 5.0),
    p=st.floats(0.0, 50.0),
    c=st.floats(0.0, 5.0),
    net=st.floats(0.0, 1.0),
    k=st.floats(0.0, 2.0),
    backlog=st.booleans(),
    start=st.integers(-10, 40),
    seed=st.integers(0, 2**32),
    continuous=st.booleans(),
)
def test_conservation_cost_identity_and_nonnegativity(lead_time, mean, h, p, c, net, k, backlog, start, seed,
                                                      continuous):
    width = max(lead_time, 1)
    initial = [float(start if backlog else abs(start))] + [1.0] * (width - 1)
    shortage = {"backorder_cost": p} if backlog else {"lost_sales_cost": p}
    s = net * (c + k)
    env = ProcurementRemovalEnv(lead_time=lead_time, demand=Poisson(mean), holding_cost=h, purchase_cost=c,
                                salvage_value=s, removal_cost=k, backlog=backlog, horizon=40, initial_state=initial,
                                action_type="continuous" if continuous else "discrete", **shortage)
    actions = sc.random_actions(env.config, np.random.default_rng(seed), 40)
    run = sc.run_env(env, actions, seed=seed)
    obs = run["obs"].astype(np.float64)
    # Stock conservation: on-hand + pipeline changes only by orders in, removals out and demand met. Under lost
    # sales the demand met is what was sold; with backlog every unit demanded leaves the position.
    position = obs.sum(axis=1)
    out = run["demand"] if backlog else run["sales"]
    np.testing.assert_allclose(np.diff(position), run["order"] - run["removed"] - out, atol=1e-3, rtol=1e-5)
    # The period on the shelf: y = on-hand - removed (+ the order when L = 0); this period's demand is met from
    # y^+ at once (sales); the end state is y - demand with backlog (negative part waiting), y - sales otherwise.
    y = obs[:-1, 0] - run["removed"] + (run["order"] if lead_time == 0 else 0.0)
    np.testing.assert_allclose(run["sales"], np.minimum(run["demand"], np.maximum(y, 0.0)), atol=1e-4, rtol=1e-6)
    end = y - (run["demand"] if backlog else run["sales"])
    np.testing.assert_allclose(run["holding"] - run["backlog"], end, atol=1e-4, rtol=1e-6)
    if not backlog:
        np.testing.assert_allclose(run["sales"] + run["lost"], run["demand"], rtol=1e-12)
    # Removal is "up to" the shelf: never more than asked, never more than was on hand before the decision.
    asked = np.maximum(-actions[: len(run["removed"]), 0], 0.0)
    shelf = np.maximum(obs[:-1, 0], 0.0)
    assert np.all(run["removed"] <= asked + 1e-9) and np.all(run["removed"] <= shelf + 1e-4)
    np.testing.assert_allclose(run["removed"], np.minimum(asked, shelf), atol=1e-4, rtol=1e-6)
    cost = (h * run["holding"] + p * (run["lost"] + run["backlog"]) + c * run["order"] + k * run["removed"]
            - run["salvage"])
    np.testing.assert_allclose(run["cost"], cost, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run["salvage"], s * run["removed"], rtol=1e-12)
    np.testing.assert_allclose(run["reward"], -run["cost"])
    for key in ("holding", "lost", "backlog", "sales", "demand", "order", "removed", "salvage"):
        assert np.all(run[key] >= 0), key
    assert np.all(obs[:, 1:width] >= 0) and (backlog or np.all(obs[:, 0] >= 0))
    assert not (run["order"] > 0)[run["removed"] > 0].any()  # one signed action: never both in a period


# === Exact long-run cost of fixed interval policies ===


def _cyclic_chain_cost(config, policy) -> float:
    """Long-run average cost from the reference's chain over (stock, phase), with the phase's own pmf.

    ``scenario_checks.markov_chain_cost`` assumes one pmf; with a schedule the pmf depends on the phase, which
    the reference state carries. The chain is periodic in the phase, but pi P = pi, sum(pi) = 1 still has one
    solution for an irreducible chain, and pi . cost is the long-run average cost.
    """
    start = ref.initial(config)
    index, frontier, rows, costs = {start: 0}, [start], [], {}
    while frontier:
        state = frontier.pop()
        pmf = config.demand_at(state[1]).pmf()
        action, expected = policy(state), 0.0
        for d in np.flatnonzero(pmf > 0):
            nxt, parts = ref.step(config, state, action, float(d))
            if nxt not in index:
                index[nxt] = len(index)
                frontier.append(nxt)
            rows.append((index[state], index[nxt], pmf[d]))
            expected += pmf[d] * parts["cost"]
        costs[index[state]] = expected
    n = len(index)
    matrix = np.zeros((n, n))
    for i, j, prob in rows:
        matrix[i, j] += prob
    system = matrix.T - np.eye(n)
    system[-1, :] = 1.0
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return float(pi @ np.array([costs[i] for i in range(n)]))


def _interval(a, b, config):
    # Written out here (not IntervalStock) so the chain does not reuse the code under test; clipped to the
    # action space as the kernel's rollout clips.
    def policy(state):
        position = sum(state[0])
        u = a - position if position < a else (b - position if position > b else 0.0)
        return [float(min(max(u, -config.max_removal), config.max_order))]

    return policy


@pytest.mark.parametrize("kwargs,levels", [
    (dict(lead_time=1, demand=Poisson(3.0), initial_state=[20], salvage_value=1.5, removal_cost=0.25), (9, 12)),
    (dict(lead_time=0, backlog=True, demand=DiscreteUniform(0, 6), initial_state=[-4]), (5, 8)),
    (dict(lead_time=2, demand=DiscreteUniform(0, 4), max_order=6), (10, 12)),
])
def test_interval_rollout_matches_markov_chain_cost(kwargs, levels):
    config = _config(**kwargs)
    exact = sc.markov_chain_cost(config, ref, _interval(*levels, config))
    assert exact == pytest.approx(_cyclic_chain_cost(config, _interval(*levels, config)), rel=1e-9)
    kernel = config.bind(32).reset(seed=0).kernel
    per_env = kernel.rollout("interval", list(levels), periods=20_000, warmup=200)["cost"] / 20_000
    stderr = per_env.std(ddof=1) / np.sqrt(len(per_env))
    assert abs(per_env.mean() - exact) < 4 * stderr + 1e-9, (per_env.mean(), exact, stderr)


def test_seasonal_interval_policy_removes_every_cycle_and_matches_its_chain_cost():
    # Peak season (0..8 a period) then two slow periods (0..1): the levels drop, so stock left over from the
    # peak is removed every cycle, and the long-run cost still matches the chain's exact value.
    seasons = [DiscreteUniform(0, 8), DiscreteUniform(0, 1), DiscreteUniform(0, 1)]
    config = _config(lead_time=0, demand_schedule=seasons, purchase_cost=3.0, salvage_value=2.5, max_removal=8)
    a, b = np.array([7.0, 1.0, 1.0]), np.array([9.0, 2.0, 2.0])

    def phased(state):
        position, phase = sum(state[0]), state[1]
        return [float(a[phase] - position if position < a[phase] else min(b[phase] - position, 0.0))]

    exact = _cyclic_chain_cost(config, phased)
    kernel = config.bind(32).reset(seed=1).kernel
    totals = kernel.rollout("phased_interval", np.concatenate([a, b]), periods=30_000, warmup=300)
    per_env = totals["cost"] / 30_000
    stderr = per_env.std(ddof=1) / np.sqrt(len(per_env))
    assert totals["removed"].sum() > 0.3 * 32 * 10_000  # removals recur, not just at the start
    assert abs(per_env.mean() - exact) < 4 * stderr + 1e-9, (per_env.mean(), exact, stderr)


@pytest.mark.parametrize("phased", [False, True])
def test_interval_stock_rollout_equals_stepping_with_the_same_policy(phased):
    kwargs = dict(lead_time=3, max_order=25, initial_state=[40, 0, 0], horizon=50)
    if phased:
        kwargs["demand_schedule"] = SEASONS
    policy = IntervalStock.fit(_config(**kwargs), order_up_to=[18.0, 12.0, 20.0] if phased else 18.0,
                               remove_down_to=[22.0, 15.0, 30.0] if phased else 22.0)
    result_rollout = invgym.evaluate(policy, _config(**kwargs), num_envs=5, periods=50, warmup=0, seed=9)
    result_step = invgym.evaluate(lambda obs: policy(obs), _config(**kwargs), num_envs=5, periods=50, warmup=0,
                                  seed=9)
    assert result_rollout.path == "rollout" and result_step.path == "step"
    np.testing.assert_array_equal(result_rollout.per_env_cost, result_step.per_env_cost)
    assert result_rollout.metrics["average_removed"] > 0


# === Exact optimum ===


@pytest.mark.slow
@pytest.mark.parametrize("p,lead_time", [(4, 1), (4, 2), (9, 1), (9, 2)])
def test_zipkin_2008_table_3_optimal_and_base_stock_without_removal(p, lead_time):
    # With no removal and no purchase cost this is Zipkin's lost-sales model: the exact optimum and the best
    # order-up-to policy (IntervalStock with removal switched off) reproduce his Table 3 to its two decimals.
    config = _config(lead_time=lead_time, lost_sales_cost=float(p), purchase_cost=0.0, salvage_value=0.0,
                     max_removal=0)
    published = ZIPKIN[str(p)][str(lead_time)]
    solution = solve_procurement_removal(config)
    assert solution.average_cost == pytest.approx(published["optimal"], abs=0.005 + 1e-9)
    policy = IntervalStock.fit(config, num_envs=32, periods=2000, warmup=100)
    best = sc.markov_chain_cost(config, ref, lambda s: [float(policy(np.array(s[0]))[0])])
    assert best == pytest.approx(published["base_stock"], abs=0.005 + 1e-9)


@pytest.mark.parametrize("kwargs", [
    dict(lead_time=0, demand=DiscreteUniform(0, 6), purchase_cost=3.0, salvage_value=1.0),
    dict(lead_time=0, backlog=True, demand=Poisson(4.0), purchase_cost=3.0, salvage_value=2.0, removal_cost=0.5,
         max_order=30),
    dict(lead_time=1, backlog=True, demand=Poisson(4.0), purchase_cost=3.0, salvage_value=1.0, max_order=30),
])
def test_exact_optimum_is_an_interval_policy_and_its_chain_cost_is_the_optimum(kwargs):
    config = _config(**kwargs)
    solution = solve_procurement_removal(config, position_bound=30)
    levels = interval_levels(solution)
    # Every state of the table (overstocked ones included) acts as "order up to a, remove down to b".
    assert levels["is_interval"], levels
    a, b = levels["order_up_to"], levels["remove_down_to"]
    assert a is not None and b is not None and a < b
    # The interval policy's own chain (built by the reference, not the solver) has the optimal average cost.
    chain = sc.markov_chain_cost(config, ref, _interval(a, b, config))
    assert chain == pytest.approx(solution.average_cost, abs=1e-5)
    lo, hi = solution.info["bounds"]
    assert lo - 1e-9 <= chain <= hi + 1e-9


def test_exact_policy_removes_in_steady_state_with_lead_time_two_and_beats_every_interval_policy():
    # With L = 2 removal takes shelf stock only, and the best action depends on how the position splits into
    # shelf and pipeline: the optimum removes in recurrent states and beats the best interval policy.
    config = _config(lead_time=2, backlog=True, demand=DiscreteUniform(0, 6), max_order=10)
    solution = solve_procurement_removal(config)
    table = solution.policy
    chain = sc.markov_chain_cost(config, ref, lambda s: [float(table(np.array(s[0]))[0])])
    assert chain == pytest.approx(solution.average_cost, abs=1e-5)
    assert not interval_levels(solution)["is_interval"]
    result = invgym.evaluate(lambda obs: table(obs), config, num_envs=8, periods=3000, warmup=50)
    assert result.metrics["average_removed"] > 0.01
    # Without removal an order-up-to policy is optimal for backlogging; every level does worse than the optimum.
    for a in range(8, 21):
        assert sc.markov_chain_cost(config, ref, _interval(a, np.inf, config)) > 1.01 * solution.average_cost


# Gap of the fitted interval policy to the optimum, exact on both sides (chain cost vs relative value
# iteration). Zero where the optimum is an interval policy; otherwise the structure's price.
GAPS = [
    (dict(lead_time=0, demand=DiscreteUniform(0, 6), purchase_cost=3.0, salvage_value=1.0), 1e-6),
    (dict(lead_time=1, backlog=True, demand=Poisson(4.0), purchase_cost=3.0, salvage_value=1.0, max_order=30), 1e-6),
    (dict(lead_time=1, demand=Poisson(4.0)), 0.015),
    (dict(lead_time=2, demand=Poisson(4.0)), 0.025),
    (dict(lead_time=2, backlog=True, demand=Poisson(4.0), max_order=30), 0.005),
]


@pytest.mark.slow
@pytest.mark.parametrize("kwargs,allowed", GAPS)
def test_interval_stock_is_within_a_small_gap_of_the_optimum(kwargs, allowed):
    config = _config(**kwargs)
    optimum = solve_procurement_removal(config).average_cost
    policy = IntervalStock.fit(config, num_envs=16, periods=2000, warmup=100)
    fitted = sc.markov_chain_cost(config, ref, lambda s: [float(policy(np.array(s[0]))[0])])
    gap = fitted / optimum - 1.0
    assert -1e-6 <= gap <= allowed, (policy, fitted, optimum)  # the solver's tol bounds its error by 5e-7


def test_removal_pays_when_demand_declines():
    # Overstocked start, demand mean falling 5 % a period: the fitted policy removes, and removing beats the
    # same order-up-to levels with removal switched off, on the same demand.
    horizon = 52
    kwargs = dict(lead_time=2, demand_schedule=[Poisson(max(8.0 * 0.95**t, 0.2)) for t in range(horizon)],
                  initial_state=[60, 0], horizon=horizon, purchase_cost=3.0, salvage_value=1.5, removal_cost=0.25,
                  max_removal=60)
    policy = IntervalStock.fit(ENV_ID, num_envs=32, **kwargs)
    assert np.all(np.isfinite(policy.remove_down_to))
    keep = IntervalStock.fit(ENV_ID, order_up_to=policy.order_up_to, remove_down_to=[np.inf] * horizon, **kwargs)
    with_removal = invgym.evaluate(policy, ENV_ID, num_envs=500, periods=horizon, warmup=0, **kwargs)
    without = invgym.evaluate(keep, ENV_ID, num_envs=500, periods=horizon, warmup=0, **kwargs)
    assert with_removal.average_cost < 0.95 * without.average_cost
    assert with_removal.metrics["average_removed"] > 0 and without.metrics["average_removed"] == 0


def test_exact_solver_refuses_what_it_cannot_solve():
    with pytest.raises(ValueError, match="stationary demand only"):
        solve_procurement_removal(_config(demand_schedule=SEASONS))
    with pytest.raises(ValueError, match="ProductMixture"):
        solve_procurement_removal(_config(demand=ProductMixture([Poisson(1.0), Poisson(3.0)])))
    with pytest.raises(ValueError, match="integer lattice"):
        solve_procurement_removal(_config(action_type="continuous", max_order=7.5))
    with pytest.raises(ValueError, match="more than max_states"):
        solve_procurement_removal(_config(lead_time=3), max_states=10)
    solution = solve_procurement_removal(_config(lead_time=0, demand=Poisson(2.0)), position_bound=10)
    with pytest.raises(ValueError, match="outside the solved table"):
        solution.policy(np.array([[11.0]]))


# === Bad input ===


OWNER = "parameter of ProcurementRemovalEnv"
BAD = [
    (dict(lead_time=-1), f"The 'lead_time' {OWNER} must be an int in the range [0, 50]. Got -1"),
    (dict(lead_time=1.5), f"'lead_time' {OWNER} must be an int"),
    (dict(demand=5.0), f"'demand' {OWNER} must be a demand model"),
    (dict(demand=Poisson(2.0), demand_schedule=SEASONS), f"'demand' {OWNER} must be None"),
    (dict(demand_schedule=[]), f"'demand_schedule' {OWNER} must be a non-empty sequence"),
    (dict(demand_schedule=Poisson(2.0)), f"'demand_schedule' {OWNER}"),
    (dict(demand_schedule=[Poisson(2.0), 3]), f"'demand_schedule' {OWNER}"),
    (dict(demand_schedule=[ProductMixture([Poisson(1.0)])]), "(not product mixtures)"),
    (dict(backlog=1), f"The 'backlog' {OWNER} must be a bool. Got 1"),
    (dict(holding_cost=-0.1), f"'holding_cost' {OWNER} must be a float in the range [0, inf)"),
    (dict(lost_sales_cost=float("inf")), f"'lost_sales_cost' {OWNER} must be a float"),
    (dict(backorder_cost=3.0), f"The 'backorder_cost' {OWNER} applies only when backlog=True"),
    (dict(backlog=True, lost_sales_cost=3.0), f"'lost_sales_cost' {OWNER} applies only when backlog=False"),
    (dict(backlog=True, backorder_cost=-2.0), f"'backorder_cost' {OWNER} must be a float"),
    (dict(purchase_cost="1"), f"'purchase_cost' {OWNER}"),
    (dict(removal_cost=-1.0), f"'removal_cost' {OWNER} must be a float in the range [0, inf)"),
    (dict(purchase_cost=2.0, removal_cost=0.5, salvage_value=3.0),
     f"The 'salvage_value' {OWNER} must be a float in the range [0, 2.5]. Got 3.0"),
    (dict(max_order=-1), f"'max_order' {OWNER} must be an int in the range [0, 100000]"),
    (dict(max_order=2.5), f"'max_order' {OWNER} must be an int"),
    (dict(max_removal=100_001), f"'max_removal' {OWNER} must be an int in the range [0, 100000]"),
    (dict(action_type="continuous", max_removal=-0.5), f"'max_removal' {OWNER} must be a float"),
    (dict(lead_time=2, initial_state=[1.0]), f"'initial_state' {OWNER} must be a sequence of 2"),
    (dict(initial_state=[-1.0]), f"'initial_state' {OWNER} must be a sequence of 1 finite numbers in the range [0, "),
    (dict(backlog=True, lead_time=2, initial_state=[-1.0, -2.0]), "outstanding orders (entries 1..) >= 0"),
]


@pytest.mark.parametrize("kwargs,message", BAD)
def test_bad_parameters_raise_naming_the_parameter(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as excinfo:
        ProcurementRemovalEnv(**kwargs)
    assert message in str(excinfo.value)


def test_backlog_allows_a_negative_start_and_config_replace_switches_modes():
    env = ProcurementRemovalEnv(backlog=True, initial_state=[-5.0], backorder_cost=4.0)
    assert env.reset(seed=0)[0][0] == -5.0 and env.observation_space.low[0] == -np.inf
    lost = env.config.replace(backlog=False, initial_state=[0.0])
    assert lost.lost_sales_cost == 4.0 and lost.backorder_cost == 0.0
    assert env.config.replace(backorder_cost=7.0).shortage_cost == 7.0
    assert env.config.replace(demand_schedule=SEASONS).demand is None


def test_actions_outside_the_space_raise_and_removal_beyond_the_shelf_is_capped():
    env = ProcurementRemovalEnv(lead_time=1, max_order=10, max_removal=6, initial_state=[4])
    # Indices from 0 (as SB3 and RLlib assume), decoded as u = a - max_removal: 0 removes 6, 6 does nothing.
    assert env.action_space == gym.spaces.Discrete(17)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(1)
    env.reset(seed=0)
    for action in (-1, 17, 2.5, np.float32(3.0), "3"):
        with pytest.raises(ValueError, match="outside the action space"):
            env.step(action)
    obs, reward, _, _, info = env.step(0)  # asks for 6, only 4 on the shelf: 4 leave
    assert info["removed"] == 4.0 and info["salvage"] == 4.0 and info["sales"] == 0.0 and obs[0] == 0.0
    cont = ProcurementRemovalEnv(lead_time=1, max_order=10, max_removal=6, action_type="continuous")
    cont.reset(seed=0)
    for action in (np.array([np.nan]), np.array([-6.5]), np.array([10.5]), np.array([1.0, 2.0])):
        with pytest.raises(ValueError, match="outside the action space"):
            cont.step(action)
    venv = ProcurementRemovalVectorEnv(num_envs=3, lead_time=1, max_order=10, max_removal=6)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="env 2"):
        venv.step(np.array([7, 0, -1]))


def test_interval_stock_refuses_bad_levels_and_other_envs():
    config = _config(lead_time=1)
    with pytest.raises(ValueError, match="remove_down_to levels"):
        IntervalStock.fit(config, order_up_to=10.0, remove_down_to=8.0)
    with pytest.raises(ValueError, match="both 'order_up_to' and 'remove_down_to'"):
        IntervalStock.fit(config, order_up_to=10.0)
    with pytest.raises(ValueError, match="cannot act in a lost_sales env"):
        IntervalStock.fit("invgym/LostSales-v0")
    policy = IntervalStock.fit(config, order_up_to=10.0, remove_down_to=12.0)
    with pytest.raises(ValueError, match="fitted for lead_time=1"):
        invgym.evaluate(policy, ENV_ID, lead_time=2, periods=10, warmup=0)
    np.testing.assert_array_equal(policy(np.array([[3.0], [11.0], [20.0], [40.0]])), [7, 0, -8, -14])  # max_removal 14
