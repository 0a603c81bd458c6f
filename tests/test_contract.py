"""The contract every registered invgym id keeps, written once and parametrized over the registry.

Spaces and both env checkers, seeding (the same seed replays, env i of a vector env is the single env with seed
``s + i``), replayed demand, pickling and deep copies, kernel = reference = twin, and the errors every env gives
for bad generic parameters. Each scenario's own file keeps only what is specific to it (hand-worked periods,
literature tables, its parameter ranges, its policies' rollouts).
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest

import invgym  # noqa: F401 - registers the ids
from invgym.demand import DiscreteUniform, Geometric, NegativeBinomial, Poisson
from invgym.envs.common import KernelVectorEnv
from invgym.panels import synthetic_panel
from invgym.registration import ENV_IDS
from tests import scenario_checks as sc
from tests.reference import dual_sourcing, lost_sales, perishable, procurement_removal

SMALL = synthetic_panel(num_products=12, num_days=200, start="2015-10-01", seed=2)
SEASONS = [Poisson(2.0), Poisson(9.0), Geometric(4.0)]

# Per id: ``kwargs`` of a small instance that exercises the scenario's features (used by every generic test),
# ``max_action`` caps random discrete actions where the space is huge (panel scenarios), and ``random_demand``
# says whether another seed draws other demand (a panel replays its recorded demand).
SCENARIOS = {
    "invgym/LostSales-v0": dict(kwargs=dict(lead_time=3, history=2), random_demand=True),
    "invgym/Perishable-v0": dict(kwargs=dict(shelf_life=3, lead_time=2, issuing="lifo"), random_demand=True),
    "invgym/DualSourcing-v0": dict(kwargs=dict(regular_lead_time=4, expedited_lead_time=2), random_demand=True),
    "invgym/ProcurementRemoval-v0": dict(kwargs=dict(lead_time=3, demand_schedule=SEASONS, initial_state=[20, 0, 0]),
                                         random_demand=True),
    "invgym/Retail-v0": dict(kwargs=dict(panel=SMALL, lead_time=2), max_action=30, random_demand=False),
    "invgym/Replenishment-v0": dict(kwargs=dict(panel=SMALL, review_period=1), max_action=40, random_demand=False),
}

# Instances on which the kernel, the plain-Python reference (tests/reference/<stem>.py) and the torch twin must
# give the same trajectory. Retail and Replenishment step a per-product reference of their own (their files).
REFERENCES = {
    "invgym/LostSales-v0": (lost_sales, [
        dict(lead_time=0),
        dict(lead_time=1, lost_sales_cost=4.0),
        dict(lead_time=2, demand=Geometric(3.0), purchase_cost=0.5),
        dict(lead_time=4, demand=NegativeBinomial(4.0, 9.0), history=3),
        dict(lead_time=5, lost_sales_cost=39.0, initial_state=[3, 1, 2, 0, 4]),
        dict(lead_time=7, action_type="continuous", max_order=12.5, history=2),
        dict(lead_time=0, action_type="continuous", demand=DiscreteUniform(0, 4)),
    ]),
    "invgym/Perishable-v0": (perishable, [
        dict(),  # De Moor et al. (2022): m = 2, L = 1, FIFO, Gamma(4, 0.5)
        dict(issuing="lifo"),
        dict(shelf_life=1, lead_time=0),
        dict(shelf_life=1, lead_time=3, demand=Poisson(3.0)),
        dict(shelf_life=3, lead_time=0, issuing="lifo", demand=Geometric(2.0)),
        dict(shelf_life=4, lead_time=2, demand=Poisson(6.0), max_order=15, initial_state=[1, 0, 5, 2, 7]),
        dict(shelf_life=5, lead_time=1, issuing="lifo", purchase_cost=0.0, outdating_cost=0.5),
        dict(shelf_life=3, lead_time=2, issuing="lifo", action_type="continuous", max_order=12.5),
        dict(shelf_life=2, lead_time=0, action_type="continuous", demand=DiscreteUniform(0, 6)),
    ]),
    "invgym/DualSourcing-v0": (dual_sourcing, [
        dict(),  # Gijsbrechts et al. (2022): l_r = 2, l_e = 0
        dict(regular_lead_time=1),  # consecutive, l_e = 0
        dict(regular_lead_time=2, expedited_lead_time=1, demand=Poisson(3.0)),  # consecutive, l_e = 1
        dict(regular_lead_time=4, expedited_lead_time=2, demand=Geometric(2.0), max_order=(9, 5)),
        dict(regular_lead_time=3, expedited_lead_time=1, lost_sales=True, demand=NegativeBinomial(3.0, 7.0)),
        dict(regular_lead_time=5, expedited_lead_time=3, action_type="continuous", max_order=(6.5, 3.0),
             initial_state=[-3, 1, 2, 3, 4, 1, 2]),
        dict(regular_lead_time=2, lost_sales=True, action_type="continuous", initial_state=[2.5, 1.0]),
    ]),
    "invgym/ProcurementRemoval-v0": (procurement_removal, [
        dict(lead_time=0),
        dict(lead_time=1, initial_state=[25], salvage_value=2.0, removal_cost=0.5),
        dict(lead_time=1, backlog=True, initial_state=[-3], backorder_cost=4.0),
        dict(lead_time=3, demand_schedule=SEASONS, initial_state=[10, 2, 0]),
        dict(lead_time=2, backlog=True, demand=NegativeBinomial(4.0, 9.0), purchase_cost=0.5, salvage_value=0.2),
        dict(lead_time=4, action_type="continuous", max_order=12.5, max_removal=7.25, initial_state=[30, 1, 0, 2]),
        dict(lead_time=0, action_type="continuous", backlog=True, demand_schedule=[DiscreteUniform(0, 4)] * 2,
             initial_state=[30.0]),
    ]),
}

# Extra instances the checkers run, beyond each id's defaults (both action types): the edge cases of a scenario.
CHECKER_INSTANCES = {
    "invgym/Perishable-v0": [dict(shelf_life=1, lead_time=0), dict(shelf_life=3, lead_time=2, issuing="lifo")],
    "invgym/DualSourcing-v0": [dict(action_type="continuous", expedited_lead_time=1, regular_lead_time=3),
                               dict(lost_sales=True)],
    "invgym/ProcurementRemoval-v0": [dict(backlog=True, demand_schedule=SEASONS, lead_time=2)],
}

# Warnings the checkers emit by design for these spaces, allowed by exact text.
EXPECTED_WARNINGS = (
    "A Box observation space maximum value is infinity",
    "A Box observation space minimum value is -infinity",
    "For Box action spaces, we recommend using a symmetric and normalized space",
    "Discrete action space  with a non-zero start",  # SB3: removals make the discrete action start at -R
    "We recommend you to use a symmetric and normalized Box action space",
)


def _id(value: object) -> str:
    """Test ids: the env id, or the instance's keyword arguments."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "defaults"
    return str(value)


def _make(env_id: str, **kwargs) -> gym.Env:
    return gym.make(env_id, **{**SCENARIOS[env_id]["kwargs"], **kwargs})


def _actions(env_id: str, config, periods: int, seed: int) -> np.ndarray:
    cap = SCENARIOS[env_id].get("max_action")
    return sc.random_actions(config if cap is None else config.replace(max_order=cap),
                             np.random.default_rng(seed), periods)


def _keys(record: dict) -> tuple[str, ...]:
    return tuple(key for key in record if np.asarray(record[key]).dtype.kind in "iufb")


# === Spaces and the env checkers ===


def _instances(env_id: str) -> list[dict]:
    return [dict(action_type=a) for a in ("discrete", "continuous")] + CHECKER_INSTANCES.get(env_id, [])


@pytest.mark.parametrize("env_id,kwargs", [(e, k) for e in ENV_IDS for k in _instances(e)],
                         ids=_id)
def test_gymnasium_and_sb3_env_checkers(env_id, kwargs):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym.make(env_id, **kwargs).unwrapped, skip_render_check=True)
        sb3_check_env(gym.make(env_id, **kwargs).unwrapped, warn=True)
    unexpected = [str(w.message) for w in caught if not any(e in str(w.message) for e in EXPECTED_WARNINGS)]
    assert unexpected == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec_uses_the_native_vector_env_with_batched_spaces(env_id):
    venv = gym.make_vec(env_id, num_envs=8, vectorization_mode="vector_entry_point")
    assert isinstance(venv, KernelVectorEnv)
    single = gym.make(env_id)
    assert venv.single_observation_space == single.observation_space
    assert venv.single_action_space == single.action_space
    obs, _ = venv.reset(seed=0)
    assert obs.shape == venv.observation_space.shape and venv.observation_space.contains(obs)
    mode = venv.metadata.get("autoreset_mode", "NextStep")  # gymnasium 1.0 has no AutoresetMode
    assert getattr(mode, "value", mode) == "NextStep"
    venv.step(venv.action_space.sample())


# === Seeding and vectorisation ===


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_trajectory_and_different_seed_differs(env_id):
    env = _make(env_id, horizon=50)
    actions = _actions(env_id, env.unwrapped.config, 50, seed=0)
    a, b, c = (sc.run_env(env, actions, seed=s) for s in (5, 5, 6))
    sc.assert_same_trajectory(a, b, _keys(a), rtol=0)
    if SCENARIOS[env_id]["random_demand"]:
        assert not np.array_equal(a["demand"], c["demand"])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_determinism_rollout_with_the_action_space_sampler(env_id):
    envs = [gym.make(env_id), gym.make(env_id)]
    for env in envs:
        env.action_space.seed(0)
    obs = [env.reset(seed=42)[0] for env in envs]
    np.testing.assert_array_equal(*obs)
    for _ in range(50):
        action = envs[0].action_space.sample()
        out = [env.step(action) for env in envs]
        np.testing.assert_array_equal(out[0][0], out[1][0])
        assert out[0][1] == out[1][1] and out[0][4] == out[1][4]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_vector_env_i_replays_single_env_with_seed_plus_i(env_id):
    n, seed, periods = 4, 100, 30
    kwargs = {**SCENARIOS[env_id]["kwargs"], "horizon": periods}
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    from gymnasium.envs.registration import load_env_creator

    assert type(venv) is load_env_creator(gym.spec(env_id).vector_entry_point)  # e.g. LostSalesVectorEnv
    assert isinstance(venv, KernelVectorEnv)
    width = len(venv.config.action_low)
    actions = _actions(env_id, venv.config, periods * n, seed=1).reshape(periods, n, width)
    obs, _ = venv.reset(seed=seed)
    record: dict[str, list] = {"obs": [obs], "reward": []}
    discrete = venv.config.action_type == "discrete"
    for a in actions:
        batch = (a.astype(np.int64) if discrete else a).reshape(venv.action_space.shape)
        obs, reward, _, _, info = venv.step(sc.env_action(venv, batch))
        record["obs"].append(obs)
        record["reward"].append(reward)
        for key in venv.config.parts:
            record.setdefault(key, []).append(info[key])
    env = gym.make(env_id, **kwargs)
    for i in range(n):
        single = sc.run_env(env, actions[:, i, :], seed=seed + i)
        for key, values in record.items():
            np.testing.assert_array_equal(single[key], np.array(values)[:, i], err_msg=key)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_replayed_demand_path_is_used_exactly(env_id):
    env = _make(env_id, horizon=5)
    path = [3.0, 0.0, 7.0, 1.0, 2.0]
    env.reset(seed=0, options={"demand_path": path})
    actions = _actions(env_id, env.unwrapped.config, 5, seed=3)
    discrete = env.unwrapped.config.action_type == "discrete"
    seen = []
    for a in actions:
        a = np.asarray(sc.env_action(env, a))
        action = int(a[0]) if discrete and len(a) == 1 else (a.astype(np.int64) if discrete else a)
        seen.append(env.step(action)[4]["demand"])
    assert seen == path


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_and_deepcopy_continue_identically(env_id):
    env = _make(env_id)
    sc.check_pickle_roundtrip(env, _actions(env_id, env.unwrapped.config, 20, seed=2))


# === Kernel = reference = twin ===


@pytest.mark.parametrize("env_id,kwargs", [(e, k) for e, (_, instances) in REFERENCES.items() for k in instances],
                         ids=_id)
def test_kernel_matches_reference_and_twin(env_id, kwargs):
    from invgym.twins import twin_for

    module = REFERENCES[env_id][0]
    env = gym.make(env_id, horizon=60, **kwargs)
    config = env.unwrapped.config
    actions = sc.random_actions(config, np.random.default_rng(7), 60)
    kernel = sc.run_env(env, actions, seed=11)
    if "removed" in kernel:  # procurement-removal: both the order and the removal branch are exercised
        assert kernel["removed"].sum() > 0 and kernel["order"].sum() > 0
    reference = sc.run_reference(module, config, actions, kernel["demand"])
    sc.assert_same_trajectory(kernel, reference, ("obs", "reward", *type(config).parts))
    twin = sc.run_twin(twin_for(config), actions, kernel["demand"])
    assert set(type(config).parts) - set(twin) <= {"demand"}  # the twin reports every part (demand is given)
    sc.assert_same_trajectory(kernel, twin, tuple(key for key in ("obs", *type(config).parts) if key in twin))


# === Bad generic parameters ===


def _owner(env_id: str) -> str:
    return type(gym.make(env_id).unwrapped).__name__


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("kwargs,message", [
    (dict(horizon=0), "The 'horizon' parameter of {owner} must be an int in the range [1, "),
    (dict(action_type="box"), "The 'action_type' parameter of {owner} must be one of ['discrete', 'continuous']"),
    (dict(render_mode="human"), "The 'render_mode' parameter of {owner} must be one of [None, "),
])
def test_bad_generic_parameters_raise_naming_the_parameter_and_the_env(env_id, kwargs, message):
    from gymnasium.envs.registration import load_env_creator

    # The env class itself (gym.make would wrap render_mode="human" around rgb_array frames).
    env_class = load_env_creator(gym.spec(env_id).entry_point)
    with pytest.raises((ValueError, TypeError)) as excinfo:
        env_class(**kwargs)
    assert message.format(owner=_owner(env_id)) in str(excinfo.value)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_vector_and_reset_arguments_raise_naming_them(env_id):
    owner = _owner(env_id)
    with pytest.raises(ValueError, match=r"The 'num_envs' parameter of \w+VectorEnv must be an int in the range"):
        gym.make_vec(env_id, num_envs=0, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match=r"The 'autoreset_mode' parameter of \w+VectorEnv must be one of"):
        gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", autoreset_mode="sometimes")
    env = gym.make(env_id)
    with pytest.raises(ValueError, match=f"{owner}.reset got unknown options \\['demand'\\]"):
        env.reset(seed=0, options={"demand": [1.0]})
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="seed must be None, an int or 2 non-negative ints"):
        venv.reset(seed=[1, -1])
