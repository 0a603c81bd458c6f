"""The native vector env's copy=False fast path: the same trajectory as copy=True, in the env's own buffers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import invgym  # noqa: F401

IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("invgym/"))


def _run(env_id: str, copy: bool, mode: str, steps: int, info_parts: bool = True) -> list:
    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", copy=copy,
                        autoreset_mode=mode, horizon=7, info_parts=info_parts)
    venv.action_space.seed(1)
    obs, _ = venv.reset(seed=5)
    out = [obs.copy()]
    for _ in range(steps):
        action = venv.action_space.sample()
        obs, reward, terminated, truncated, info = venv.step(action)
        final = info.get("final_obs")
        out.append((obs.copy(), reward.copy(), terminated.copy(), truncated.copy(),
                    {k: np.array(v, copy=True) for k, v in info.items() if k not in ("final_obs",)},
                    None if final is None else [None if f is None else f.copy() for f in final]))
    return out


def _same(a: object, b: object) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif a is None or b is None:
        assert a is None and b is None
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("env_id", IDS)
def test_copy_false_gives_the_copy_true_trajectory(env_id: str, mode: str) -> None:
    _same(_run(env_id, True, mode, 20), _run(env_id, False, mode, 20))


def test_copy_false_returns_the_env_buffers_and_copy_true_fresh_arrays() -> None:
    shared = gym.make_vec("invgym/LostSales-v0", num_envs=4, vectorization_mode="vector_entry_point", copy=False)
    fresh = gym.make_vec("invgym/LostSales-v0", num_envs=4, vectorization_mode="vector_entry_point")
    actions = np.full(4, 5, dtype=np.int64)
    for venv in (shared, fresh):
        venv.reset(seed=0)
    first, second = shared.step(actions), shared.step(actions)
    assert all(a is b for a, b in zip(first[:4], second[:4], strict=True))
    assert first[4]["cost"] is second[4]["cost"]
    first, second = fresh.step(actions), fresh.step(actions)
    assert not any(np.shares_memory(a, b) for a, b in zip(first[:4], second[:4], strict=True))
    assert not np.shares_memory(first[4]["cost"], second[4]["cost"])


def test_copy_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="The 'copy' parameter of LostSalesVectorEnv must be a bool. Got 1"):
        gym.make_vec("invgym/LostSales-v0", num_envs=2, vectorization_mode="vector_entry_point", copy=1)


@pytest.mark.parametrize("copy", [False, True])
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
@pytest.mark.parametrize("env_id", IDS)
def test_info_parts_false_gives_the_same_trajectory_without_the_parts(env_id: str, mode: str, copy: bool) -> None:
    """info_parts=False: the same observations, rewards, flags and final observations; info holds no parts."""
    full, bare = _run(env_id, copy, mode, 20), _run(env_id, copy, mode, 20, info_parts=False)
    keys = set(gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point").unwrapped.config.parts)
    for a, b in zip(full[1:], bare[1:], strict=True):
        assert keys <= a[4].keys() and not keys & b[4].keys() and not {"_" + k for k in keys} & b[4].keys()
        _same(a[:4] + (None,) + a[5:], b[:4] + (None,) + b[5:])
        _same({k: v for k, v in a[4].items() if k.lstrip("_") not in keys}, b[4])
    _same(full[0], bare[0])


def test_info_parts_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="The 'info_parts' parameter of LostSalesVectorEnv must be a bool. Got 0"):
        gym.make_vec("invgym/LostSales-v0", num_envs=2, vectorization_mode="vector_entry_point", info_parts=0)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_info_is_filled_lazily_with_the_parts_by_key(env_id: str, copy: bool, mode: str) -> None:
    """``info`` reads as the plain dict ``{part: parts[:, j]} | masks`` whichever way it is read.

    The rows are transposed from the kernel's parts only on the first read after a step; every read path
    (item, ``get``, iteration, ``items``/``values``, ``dict()``, ``**``, ``copy``, pickling) must see
    this step's parts, and a ``copy=True`` info kept across later steps keeps its own step's values.
    """
    import pickle

    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", copy=copy,
                        autoreset_mode=mode, horizon=7)
    env = venv.unwrapped
    keys = type(env.config).parts
    venv.action_space.seed(2)
    venv.reset(seed=3)
    kept = []
    for step in range(10):
        info = venv.step(venv.action_space.sample())[4]
        parts = env._buf.parts.copy()
        expected = {key: parts[:, j] for j, key in enumerate(keys)}
        reads = [
            lambda: {k: info[k] for k in keys},
            lambda: {k: info.get(k) for k in keys},
            lambda: {k: v for k, v in info.items() if k in keys},
            lambda: dict(zip(list(info), list(info.values()), strict=True)),
            lambda: dict(info),
            lambda: {**info},
            lambda: info.copy(),
            lambda: pickle.loads(pickle.dumps(info)),
        ]
        read = reads[step % len(reads)]()  # a fresh step before each read path: each must fill the rows
        for key in keys:
            np.testing.assert_array_equal(read[key], expected[key])
            assert read[key].flags.c_contiguous
            assert info["_" + key].all()
        assert list(info)[:len(keys)] == list(keys)
        if copy:
            kept.append((info, expected))
    for info, expected in kept:
        for key in keys:
            np.testing.assert_array_equal(info[key], expected[key])
