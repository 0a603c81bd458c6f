"""The native vector env's copy=False fast path: the same trajectory as copy=True, in the env's own buffers."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import invgym  # noqa: F401

IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("invgym/"))


def _run(env_id: str, copy: bool, mode: str, steps: int) -> list:
    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", copy=copy,
                        autoreset_mode=mode, horizon=7)
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
