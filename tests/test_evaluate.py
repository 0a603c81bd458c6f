"""invgym.evaluate: exact costs inside the CI, rollout = stepping, seeding, any policy type, bad input."""

from __future__ import annotations

import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest

import invgym
from invgym.baselines import BaseStock, CappedBaseStock, ConstantOrder, Myopic, VectorBaseStock, solve_exact
from invgym.envs.common import ScenarioConfig
from invgym.envs.lost_sales import LostSalesConfig
from invgym.evaluate import EvaluationResult, t975

ENV_ID = "invgym/LostSales-v0"


def _poisson_pmf(mean: float, top: int = 80) -> np.ndarray:
    # Written out here (not invgym.demand) so the exact values below do not reuse the code under test.
    return np.array([math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(top)])


def _config(**kwargs) -> LostSalesConfig:
    return LostSalesConfig.validate("LostSalesEnv", **kwargs)


def _run(policy, config, **kwargs) -> EvaluationResult:
    return invgym.evaluate(policy, config, **{"num_envs": 4, "periods": 500, "warmup": 0, **kwargs})


# === Exact values inside the confidence interval ===


@pytest.mark.parametrize("purchase_cost", [0.0, 0.5])
def test_ci_covers_exact_cost_of_base_stock_at_zero_lead_time(purchase_cost):
    """With L = 0, order-up-to S makes period costs iid: h E(S-D)^+ + p E(D-S)^+ + c E min(S, D).

    (After the first period, each order replaces the previous period's sales.)
    """
    h, p, level = 1.0, 9.0, 7
    config = _config(lead_time=0, holding_cost=h, lost_sales_cost=p, purchase_cost=purchase_cost)
    d = np.arange(80)
    pmf = _poisson_pmf(5.0)
    sales = pmf @ np.minimum(level, d)
    exact = h * pmf @ np.maximum(level - d, 0) + p * pmf @ np.maximum(d - level, 0) + purchase_cost * sales
    policy = BaseStock.fit(config, level=level)
    for candidate in (policy, lambda obs: policy(obs)):  # compiled rollout, then stepped
        result = invgym.evaluate(candidate, config, num_envs=64, periods=4000, warmup=10, seed=3)
        assert result.ci95[0] < exact < result.ci95[1]
        assert result.ci95[1] - result.ci95[0] < 0.01 * exact  # tight enough to mean something
        assert result.metrics["fill_rate"] == pytest.approx(sales / 5.0, rel=3e-3)
        assert result.metrics["fill_rate"] + result.metrics["lost_sales_rate"] == pytest.approx(1.0)
        assert result.metrics["average_order"] == pytest.approx(sales, rel=3e-3)


def test_ci_covers_exact_cost_of_ordering_nothing():
    """Never ordering from an empty start loses every unit demanded: cost p E[D] = 9 * 5."""
    policy = ConstantOrder.fit(ENV_ID, quantity=0, lead_time=2)
    result = invgym.evaluate(policy, ENV_ID, num_envs=32, periods=2000, warmup=0, lead_time=2)
    assert result.ci95[0] < 45.0 < result.ci95[1]
    assert result.metrics["fill_rate"] == 0.0 and result.metrics["average_on_hand"] == 0.0


# === Paths, seeding, common random numbers ===


@pytest.mark.parametrize("lead_time", [0, 1, 3])
def test_compiled_rollout_and_stepping_give_identical_results(lead_time):
    """Every kernel policy gives bit-identical per-env costs and metrics compiled and stepped."""
    config = _config(lead_time=lead_time, lost_sales_cost=19.0)
    policies = [
        BaseStock.fit(config, level=17),
        CappedBaseStock.fit(config, level=18, cap=7),
        ConstantOrder.fit(config, quantity=4),
        VectorBaseStock.fit(config),
        Myopic.fit(config),
    ]
    for policy in policies:
        compiled = _run(policy, config, num_envs=6, periods=300, warmup=20, seed=5)
        stepped = _run(lambda obs, p=policy: p(obs), config, num_envs=6, periods=300, warmup=20, seed=5)
        assert (compiled.path, stepped.path) == ("rollout", "step")
        np.testing.assert_array_equal(compiled.per_env_cost, stepped.per_env_cost)
        assert compiled.metrics == stepped.metrics
        assert compiled.average_cost == stepped.average_cost


@pytest.mark.slow
@pytest.mark.parametrize(("env_id", "kwargs"), [
    (ENV_ID, {"lead_time": 0, "lost_sales_cost": 9.0}),
    (ENV_ID, {"lead_time": 3, "lost_sales_cost": 19.0}),
    (ENV_ID, {"lead_time": 2, "lost_sales_cost": 9.0, "action_type": "continuous", "history": 3}),
    ("invgym/Perishable-v0", {}),
    ("invgym/ProcurementRemoval-v0", {}),
    ("invgym/DualSourcing-v0", {}),
    ("invgym/DualSourcing-v0", {"regular_lead_time": 4, "expedited_lead_time": 1}),  # the projection's third term
])
def test_exact_table_policies_run_compiled_and_match_stepping(env_id, kwargs):
    """solve_exact's tables run in the compiled table rollout, bit-identical to stepping them."""
    policy = solve_exact(env_id, **kwargs).policy
    run = {"num_envs": 5, "periods": 400, "warmup": 30, "seed": 11, **kwargs}
    compiled = invgym.evaluate(policy, env_id, **run)
    stepped = invgym.evaluate(lambda obs: policy(obs), env_id, **run)
    assert (compiled.path, stepped.path) == ("rollout", "step")
    np.testing.assert_array_equal(compiled.per_env_cost, stepped.per_env_cost)
    assert compiled.metrics == stepped.metrics


@pytest.mark.parametrize("case", ["compact", "fractional", "replay", "history", "discount", "error"])
def test_lost_sales_table_loop_equals_the_generic_table_loop(case):
    """The lost-sales kernel's own table loop gives the generic loop's totals, state, streams and errors bit for bit.

    ``cutoffs`` of +inf change no decision but send the run through the generic loop of ``_rollout_table``.
    """
    kwargs = {"lead_time": 3, "lost_sales_cost": 9.0, "max_order": 30, "horizon": 5000}
    if case == "history":
        kwargs.update(history=2, action_type="continuous")
    config = _config(**kwargs)
    rng = np.random.default_rng(7)
    table = rng.integers(0, 8, size=(24, 9, 9, 1)).astype(np.float64)
    table[3, 4, 5, 0] = np.nan  # a state without a decision
    if case in ("fractional", "history"):
        table += 0.25  # decisions int16 cannot hold: the float64 table is read
    if case == "error":
        table[:, :, :, 0] = 40.0  # beyond max_order: the first period raises
    options = {"position_bound": 20.0, "discount": 0.97 if case == "discount" else 1.0}
    path = rng.integers(0, 9, size=(6, 5000)).astype(np.float64) + 0.5  # fractional demand, replayed
    results = []
    for cutoffs in (None, np.full(3, np.inf)):
        buf = config.bind(6)
        kernel = buf.kernel
        if case == "replay":
            kernel.set_demand_path(path)
        buf.reset(seed=3)
        buf.actions[:] = 4.0
        for _ in range(5):  # start from a state and clock other than the reset's
            kernel.step()
        try:
            totals = kernel.rollout_table(table, [0, 0, 0], periods=300, warmup=11, cutoffs=cutoffs, **options)
        except ValueError as error:
            totals = str(error)
        results.append((totals, kernel.get_state()))
    (fast, fast_state), (generic, generic_state) = results
    if case == "error":
        assert fast == generic and "lies outside the action space" in fast
    else:
        np.testing.assert_array_equal(fast, generic)
    assert fast_state.keys() == generic_state.keys()
    for name in fast_state:
        np.testing.assert_array_equal(fast_state[name], generic_state[name], err_msg=name)


def test_exact_table_spec_is_cached_per_table_and_gives_the_uncached_numbers():
    """The lost-sales table policy builds its rollout spec once per table; cached, fresh and stepped runs agree."""
    import pickle

    from invgym.core._rollout_table import compact_table

    policy = solve_exact(ENV_ID, lead_time=2, lost_sales_cost=9.0).policy
    name, first = policy.rollout_spec()
    _, again = policy.rollout_spec()
    assert name == "table" and again["table"] is first["table"] and again["compact"] is first["compact"]
    assert not first["table"].flags.writeable and not first["compact"].flags.writeable
    np.testing.assert_array_equal(first["compact"], compact_table(first["table"]))
    run = {"num_envs": 4, "periods": 300, "warmup": 7, "seed": 5, "lead_time": 2, "lost_sales_cost": 9.0}
    cached = invgym.evaluate(policy, ENV_ID, **run)
    plain = {key: value for key, value in first.items() if key != "compact"}
    totals = []
    for spec in (first, plain):  # the cached int16 table, and computed inside
        kernel = _config(lead_time=2, lost_sales_cost=9.0).bind(4).reset(seed=5).kernel
        totals.append(kernel.rollout_table(periods=300, warmup=7, **spec))
    np.testing.assert_array_equal(totals[0], totals[1])
    stepped = invgym.evaluate(lambda obs: policy(obs), ENV_ID, **run)
    np.testing.assert_array_equal(cached.per_env_cost, stepped.per_env_cost)
    copy = pickle.loads(pickle.dumps(policy))  # pickled without the cache
    assert "_spec" not in copy.__dict__ and copy.rollout_spec()[1]["table"] is not first["table"]
    policy.table = np.zeros_like(policy.table)  # a new table: a new spec (order nothing)
    assert not policy.rollout_spec()[1]["table"].any()
    with pytest.raises(ValueError, match=r"compact must be compact_table\(table\)"):
        kernel.rollout_table(periods=3, compact=np.zeros(3, dtype=np.int16), **plain)


def test_table_rollout_clip_uses_the_nearest_state_of_the_box():
    """With clip=True a state beyond the table reads its nearest cell, exactly as a numpy clip-and-look-up does."""
    orders = np.array([8.0, 8.0, 3.0])  # by on-hand 0, 1, >= 2 (the last cell serves every larger stock)

    class Clipped:
        def __call__(self, obs):
            return orders[np.clip(np.rint(obs[:, 0]).astype(np.int64), 0, 2)].astype(np.int64)

        def rollout_spec(self):
            return "table", {"table": orders[:, None], "offsets": [0], "clip": True}

    run = {"num_envs": 4, "periods": 300, "seed": 3, "lead_time": 1, "lost_sales_cost": 9.0}
    compiled = invgym.evaluate(Clipped(), ENV_ID, **run)
    stepped = invgym.evaluate(lambda obs: Clipped()(obs), ENV_ID, **run)
    assert (compiled.path, stepped.path) == ("rollout", "step")
    assert compiled.metrics["average_order"] < 8  # the last cell (3 units) serves on-hand beyond the table
    np.testing.assert_array_equal(compiled.per_env_cost, stepped.per_env_cost)


def test_myopic_states_outside_its_table_are_solved_on_sight_in_the_compiled_run(monkeypatch):
    """A start outside Myopic's table (below its cutoffs) reaches the same exact solve as stepping; no rounding."""
    policy = Myopic.fit(ENV_ID, lead_time=3, lost_sales_cost=9.0)
    outside = policy.table.shape[1]  # an outstanding order just beyond the tabulated ones ...
    assert outside < policy.cutoffs[1]  # ... still below the bound where the order is 0
    kwargs = {"lead_time": 3, "lost_sales_cost": 9.0, "initial_state": (0.0, float(outside), 0.0)}
    calls = []
    solve = policy.order
    monkeypatch.setattr(policy, "order", lambda state: calls.append(state) or solve(state))
    compiled = invgym.evaluate(policy, ENV_ID, num_envs=4, periods=50, **kwargs)
    assert compiled.path == "rollout" and (0, outside, 0) in calls
    stepped = invgym.evaluate(lambda obs: policy(obs), ENV_ID, num_envs=4, periods=50, **kwargs)
    np.testing.assert_array_equal(compiled.per_env_cost, stepped.per_env_cost)
    fractional = {**kwargs, "initial_state": (2.5, 1.0, 0.0)}
    with pytest.raises(ValueError, match=r"the table policy needs integer states; env 0 reached \[2.5, 1.0, 0.0\]"):
        invgym.evaluate(policy, ENV_ID, num_envs=2, periods=5, **fractional)
    with pytest.raises(ValueError, match="Myopic needs integer states"):
        invgym.evaluate(lambda obs: policy(obs), ENV_ID, num_envs=2, periods=5, **fractional)


def test_table_rollout_refuses_states_and_actions_outside_the_table():
    """A state the table has no decision for, or an action outside the space, raises naming it; so does a bad shape."""
    solution = solve_exact(ENV_ID, lead_time=3, lost_sales_cost=9.0)
    z = solution.info["order_bound"]
    # An outstanding order above the order bound z is in no optimal chain: the stepped policy refuses it too.
    start = {"lead_time": 3, "lost_sales_cost": 9.0, "initial_state": (0.0, z + 1.0, 0.0)}
    with pytest.raises(ValueError, match=rf"state \[0, {z + 1}, 0\], outside the policy's table"):
        invgym.evaluate(solution.policy, ENV_ID, num_envs=2, periods=5, **start)
    with pytest.raises(ValueError, match="outside the solved table"):
        invgym.evaluate(lambda obs: solution.policy(obs), ENV_ID, num_envs=2, periods=5, **start)
    config = dataclasses.replace(_config(lead_time=1, max_order=4), horizon=10)
    kernel = config.bind(2).reset(seed=0).kernel
    with pytest.raises(ValueError, match=r"the table's action \[5.0\] at state \[0\] lies outside the action"):
        kernel.rollout_table(np.full((3, 1), 5.0), [0], periods=3)
    with pytest.raises(ValueError, match=r"table must have shape dims \+ \(1,\)"):
        kernel.rollout_table(np.zeros((3, 2)), [0], periods=3)

    def failing(state):
        raise RuntimeError(f"no decision for {state}")

    # A state beyond the table goes to the fallback, whose own error comes out of the compiled loop unchanged.
    with pytest.raises(RuntimeError, match=r"no decision for \(0,\)"):
        kernel.rollout_table(np.zeros((0, 1)), [0], periods=3, fallback=failing)
    with pytest.raises(ValueError, match=r"the table's action \[-1.0\] at state \[0\] lies outside"):
        kernel.rollout_table(np.zeros((0, 1)), [0], periods=3, fallback=lambda state: -1.0)


def test_env_i_is_the_single_env_seeded_with_seed_plus_i():
    """Env i of an evaluation replays the single env reset with seed + i, step for step."""
    policy = BaseStock.fit(ENV_ID, level=12, lead_time=2)
    result = invgym.evaluate(policy, ENV_ID, num_envs=3, periods=50, warmup=0, seed=10, lead_time=2)
    env = gym.make(ENV_ID, lead_time=2, horizon=50)
    for i in range(3):
        obs, _ = env.reset(seed=10 + i)
        costs = []
        for _ in range(50):
            obs, reward, _, _, _ = env.step(int(policy(obs)[0]))
            costs.append(-reward)
        assert result.per_env_cost[i] == pytest.approx(np.mean(costs), abs=1e-12)


def test_same_seed_same_demand_for_every_policy():
    """Common random numbers: demand does not depend on the policy.

    Never ordering costs p per demanded unit, so it reveals each env's demand; a base-stock policy run on the
    same seed orders (in the long run) exactly what it sells of that same demand.
    """
    config = _config(lead_time=1, lost_sales_cost=9.0)
    nothing = _run(ConstantOrder.fit(config, quantity=0), config, warmup=20)
    again = _run(ConstantOrder.fit(config, quantity=0), config, warmup=20)
    other = _run(BaseStock.fit(config, level=11), config, warmup=20)
    np.testing.assert_array_equal(nothing.per_env_cost, again.per_env_cost)
    demand = nothing.per_env_cost.mean() / 9.0
    assert other.metrics["fill_rate"] + other.metrics["lost_sales_rate"] == pytest.approx(1.0)
    assert other.metrics["average_order"] == pytest.approx(demand * other.metrics["fill_rate"], rel=0.01)


def test_sb3_like_model_uses_deterministic_predict():
    """An object with SB3's predict() is evaluated through predict(obs, deterministic=True)."""
    config = _config(lead_time=2)
    policy = BaseStock.fit(config, level=15)

    class Model:
        calls: list = []

        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            self.calls.append(deterministic)
            return policy(observation), None

    model = Model()
    result = _run(model, config, periods=100, warmup=5)
    reference = _run(policy, config, periods=100, warmup=5)
    assert set(model.calls) == {True} and len(model.calls) == 105
    np.testing.assert_array_equal(result.per_env_cost, reference.per_env_cost)


def test_integral_float_actions_accepted_and_continuous_spaces_take_reals():
    """Whole-number floats are valid discrete actions; a continuous space takes fractional orders as they are."""
    config = _config(lead_time=1)
    ints = _run(lambda obs: np.full(len(obs), 5), config, num_envs=2, periods=50)
    floats = _run(lambda obs: np.full((len(obs), 1), 5.0), config, num_envs=2, periods=50)
    np.testing.assert_array_equal(ints.per_env_cost, floats.per_env_cost)
    cont = _config(lead_time=1, action_type="continuous", max_order=10.0)
    result = _run(lambda obs: np.full(len(obs), 4.5), cont, num_envs=2, periods=50)
    assert result.metrics["average_order"] == 4.5


def test_result_fields_and_package_export():
    """invgym.evaluate is the function (not the module) and the result carries its settings."""
    from invgym.evaluate import evaluate

    assert invgym.evaluate is evaluate
    result = invgym.evaluate(lambda obs: np.full(len(obs), 5), ENV_ID, num_envs=5, periods=20, warmup=3, seed=2)
    assert isinstance(result, EvaluationResult)
    assert (result.num_envs, result.periods, result.warmup, result.seed, result.env) == (5, 20, 3, 2, ENV_ID)
    assert result.ci95[0] < result.average_cost < result.ci95[1]
    assert set(result.metrics) == {"fill_rate", "lost_sales_rate", "average_on_hand", "average_order"}
    single = invgym.evaluate(lambda obs: np.full(len(obs), 5), ENV_ID, num_envs=1, periods=20)
    assert math.isnan(single.stderr)


def test_student_t_quantiles():
    """The CI's t quantiles are the printed tables' (Abramowitz & Stegun, Table 26.10) and tend to 1.96."""
    for df, printed in ((1, 12.7062), (2, 4.3027), (5, 2.5706), (9, 2.2622), (30, 2.0423), (120, 1.9799)):
        assert t975(df) == pytest.approx(printed, abs=1e-4)
    assert t975(10**6) == pytest.approx(1.959964, abs=1e-5)


# === Errors ===


@dataclasses.dataclass(frozen=True)
class UnregisteredConfig(ScenarioConfig):
    """A config of no registered scenario."""


def test_wrong_family_is_refused():
    """A lost-sales policy refuses another family's env, at evaluation and at fit; an unregistered one too."""
    from invgym.envs.dual_sourcing import DualSourcingConfig

    policy = BaseStock.fit(ENV_ID, level=10)
    with pytest.raises(ValueError, match="lost_sales policy; it cannot act in a dual_sourcing env"):
        invgym.evaluate(policy, DualSourcingConfig())
    with pytest.raises(ValueError, match="lost_sales policy; it cannot act in a dual_sourcing env"):
        BaseStock.fit(DualSourcingConfig())
    with pytest.raises(ValueError, match="UnregisteredConfig is the config of no registered scenario"):
        invgym.evaluate(policy, UnregisteredConfig())


def test_policy_fitted_for_another_env_is_refused():
    """A policy fitted for one lead time (or cost) refuses an env with another, naming both."""
    policy = VectorBaseStock.fit(ENV_ID, lead_time=2)
    with pytest.raises(ValueError, match=r"fitted for lead_time=2, max_order=.*this env has lead_time=3"):
        invgym.evaluate(policy, ENV_ID, lead_time=3)
    myopic = Myopic.fit(ENV_ID, lead_time=1, lost_sales_cost=9.0)
    with pytest.raises(ValueError, match="lost_sales_cost=9.0"):
        invgym.evaluate(myopic, ENV_ID, lead_time=1, lost_sales_cost=4.0, max_order=14)


BAD_POLICIES = [
    (lambda obs: np.full(len(obs), 4.5), ValueError, "non-integer action 4.5: did you pass the policy's logits"),
    (lambda obs: np.full(len(obs), -1), ValueError, r"returned \[-1.0\] for env 0, outside the action space"),
    (lambda obs: np.full(len(obs), 1e9), ValueError, "outside the action space"),
    (lambda obs: np.full(len(obs), np.nan), ValueError, "non-integer action nan"),
    (lambda obs: np.zeros((len(obs), 2), dtype=np.int64), ValueError, r"of shape \(4,\) or \(4, 1\)"),
    (lambda obs: np.array(["5"] * len(obs)), ValueError, "int actions"),
    (lambda obs: (np.zeros(len(obs), dtype=np.int64), None), TypeError, "not model.predict"),
    (BaseStock, TypeError, r"fit it first \(e.g. BaseStock.fit\(env\)\)"),
    (42, TypeError, "policy must be callable"),
]


@pytest.mark.parametrize(("policy", "error", "match"), BAD_POLICIES)
def test_bad_policies_raise_clear_errors(policy, error, match):
    """Bad actions are refused, never rounded or clipped, with a hint at the likely cause."""
    with pytest.raises(error, match=match):
        invgym.evaluate(policy, ENV_ID, num_envs=4, periods=10, warmup=0)


BAD_ARGUMENTS = [
    (dict(num_envs=0), ValueError, r"The 'num_envs' parameter of evaluate must be an int in the range \[1, "),
    (dict(periods=0), ValueError, "The 'periods' parameter of evaluate"),
    (dict(periods=10.0), TypeError, r"The 'periods' parameter of evaluate must be an int .* Got 10.0 instead"),
    (dict(warmup=-1), ValueError, "The 'warmup' parameter of evaluate"),
    (dict(seed=-3), ValueError, "The 'seed' parameter of evaluate"),
    (dict(lead_time=-1), ValueError, "The 'lead_time' parameter of LostSalesEnv"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_ARGUMENTS)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    """Bad settings raise the project's message shape, naming the parameter."""
    with pytest.raises(error, match=match):
        invgym.evaluate(lambda obs: np.zeros(len(obs), dtype=np.int64), ENV_ID, **kwargs)


def test_env_kwargs_need_an_id():
    """Scenario keywords go with an id only; a non-invgym env is refused."""
    with pytest.raises(TypeError, match="only accepted with an environment id"):
        invgym.evaluate(lambda obs: obs, _config(), lead_time=2)
    with pytest.raises(TypeError, match="expected an invgym env"):
        invgym.evaluate(lambda obs: obs, gym.make("CartPole-v1"))
