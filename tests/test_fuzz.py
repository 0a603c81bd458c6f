"""Fuzzing every registered env (hypothesis): constructor parameters, then random action streams.

Constructor: each parameter in turn gets a hostile value (wrong types, NaN/inf, huge and negative numbers, empty
and mis-shaped arrays, strings, None); the env either builds and runs, or raises ValueError/TypeError naming that
parameter, never anything else. Actions: a stream mixing valid actions with out-of-space, NaN, wrong-dtype and
wrong-shape ones; every invalid action raises ValueError and leaves the env usable; after every valid one the
observation lies in the observation space, every per-period part is finite, and where the scenario has lost
sales, sales + lost sales = demand (no unit created or destroyed by a step).
"""

from __future__ import annotations

import functools
import inspect
import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import invgym  # noqa: F401  (registers the ids)

IDS = sorted(i for i in gym.registry if i.startswith("invgym/"))
SKIP = {"render_mode"}  # checked by its own test (a string choice)
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

HOSTILE = st.one_of(
    st.sampled_from([None, True, "", "5", [], [[]], {}, object()]),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, -1.0, 0.0, 0.5, 2**63, -(2**63), 10**30]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5),
    st.builds(lambda n, m: np.full((n, m), 1.0), st.integers(0, 3), st.integers(0, 3)),
)


@functools.cache
def _parameters(env_id: str) -> list[str]:
    cls = type(gym.make(env_id).unwrapped)
    return [p for p in list(inspect.signature(cls.__init__).parameters)[1:] if p not in SKIP]


CASES = [(env_id, name) for env_id in IDS for name in _parameters(env_id)]


@pytest.mark.parametrize(("env_id", "name"), CASES, ids=[f"{e.split('/')[1]}-{n}" for e, n in CASES])
@FUZZ
@given(value=HOSTILE)
def test_constructor_parameters_raise_a_clear_error_or_build_a_working_env(env_id, name, value):
    try:
        env = gym.make(env_id, disable_env_checker=True, **{name: value}).unwrapped
    except (ValueError, TypeError) as exc:
        # The parameter itself, or the one it is constrained against (regular vs expedited lead time).
        named = [p for p in _parameters(env_id) if f"'{p}'" in str(exc)]
        assert named, f"{name}={value!r}: {type(exc).__name__}: {exc}"
        return
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs), (name, value, obs)
    _, reward, *_ = env.step(env.action_space.sample())
    assert math.isfinite(reward), (name, value)


def _bad_actions(space: gym.Space, rng: np.random.Generator) -> list:
    shape = space.shape or (1,)
    good = np.asarray(space.sample())
    return [
        np.full(shape, np.nan), np.full(shape, -1), np.full(shape, 10**9), np.ones((2, *shape)),
        np.ones((1, 1, *shape)), np.zeros(0), True, "1", None, good.astype(np.complex128),
        np.full(shape, np.inf),
    ][: 4 + int(rng.integers(0, 8))]


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32), steps=st.integers(1, 60), action_type=st.sampled_from(["discrete", "continuous"]))
def test_random_action_streams_keep_units_and_costs_finite(env_id, seed, steps, action_type):
    env = gym.make(env_id, action_type=action_type, disable_env_checker=True).unwrapped
    env.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    backlog = bool(getattr(env.config, "backlog", False))
    for _ in range(steps):
        if rng.random() < 0.3:  # an invalid action: a clear ValueError/TypeError, and the env is still usable
            bad = _bad_actions(env.action_space, rng)[-1]
            with pytest.raises((ValueError, TypeError)):
                env.step(bad)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs), obs
        assert math.isfinite(reward)
        parts = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in info.items() if not k.startswith("_")
                 and np.asarray(v).dtype.kind in "iuf"}
        assert all(math.isfinite(v) for v in parts.values()), parts
        if {"sales", "lost", "demand"} <= set(parts) and not backlog:
            assert parts["sales"] + parts["lost"] == pytest.approx(parts["demand"], abs=1e-6), parts
        if terminated or truncated:
            obs, _ = env.reset()


# === The specific bugs the fuzzing found (issue 14), one test each ===


def test_negative_binomial_with_an_unbounded_variance_is_refused_at_once():
    from invgym.demand import NegativeBinomial

    with pytest.raises(ValueError, match=r"'variance' parameter of NegativeBinomial must be a float in the range"):
        NegativeBinomial(5, 1e12)  # took 42-325 s in the pmf, then MemoryError at larger values
    assert NegativeBinomial(5, 2e6).pmf().sum() == pytest.approx(1.0)  # the largest accepted still builds


@pytest.mark.parametrize("env_id", ["invgym/LostSales-v0", "invgym/DualSourcing-v0", "invgym/Perishable-v0"])
def test_continuous_actions_of_the_wrong_shape_or_a_bool_are_refused(env_id):
    env = gym.make(env_id, action_type="continuous").unwrapped
    env.reset(seed=0)
    shape = env.action_space.shape
    for bad in (np.ones((1, *shape)), True, np.ones(shape, dtype=bool)):
        if not isinstance(bad, np.ndarray) or bad.dtype != bool:  # Box.contains takes a bool array; step never
            assert not env.action_space.contains(bad)
        with pytest.raises(ValueError, match="Actions must be numbers of shape"):
            env.step(bad)
    env.step(np.ones(shape, dtype=np.float32))  # still usable


@pytest.mark.parametrize("env_id", ["invgym/LostSales-v0", "invgym/DualSourcing-v0"])
def test_initial_state_is_range_checked(env_id):
    with pytest.raises(ValueError, match=r"'initial_state' parameter of .* in the range"):
        gym.make(env_id, initial_state=[1e300] * 4)
    with pytest.raises(ValueError, match=r"'initial_state' parameter"):
        gym.make(env_id, initial_state=[1e300])


def test_seeds_past_2_64_raise_a_clear_error_and_vector_seeds_never_wrap():
    env = gym.make("invgym/LostSales-v0").unwrapped
    with pytest.raises(ValueError, match=r"'seed' parameter of LostSalesEnv.reset must be an int in the range"):
        env.reset(seed=2**64)  # was a bare OverflowError
    env.reset(seed=2**64 - 1)
    vec = gym.make_vec("invgym/LostSales-v0", num_envs=4, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match=r"env i is seeded seed \+ i, for 4 envs"):
        vec.reset(seed=2**64 - 2)  # env 2 would have wrapped to seed 0
    vec.reset(seed=2**64 - 4)
