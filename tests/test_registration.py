"""Every registered invgym id: registered on import, passes both env checkers, deterministic, light import."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest

import invgym
from invgym.registration import ENV_IDS

# Warnings the checkers emit by design for these spaces, allowed by exact text.
EXPECTED_WARNINGS = (
    "A Box observation space maximum value is infinity",
    "A Box observation space minimum value is -infinity",
    "For Box action spaces, we recommend using a symmetric and normalized space",
)


def test_every_id_is_registered_on_import():
    registered = {env_id for env_id in gym.registry if env_id.startswith("invgym/")}
    assert registered == set(ENV_IDS) and len(ENV_IDS) >= 1


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_gymnasium_env_checker(env_id, action_type):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, action_type=action_type)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    unexpected = [str(w.message) for w in caught if not any(e in str(w.message) for e in EXPECTED_WARNINGS)]
    assert unexpected == []


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_sb3_env_checker(env_id, action_type):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SB3 advises on Box bounds; not an error
        check_env(gym.make(env_id, action_type=action_type).unwrapped, warn=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_vec_uses_the_native_vector_env(env_id):
    venv = gym.make_vec(env_id, num_envs=8, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=0)
    assert obs.shape == venv.observation_space.shape and venv.observation_space.contains(obs)
    mode = venv.metadata.get("autoreset_mode", "NextStep")  # gymnasium 1.0 has no AutoresetMode
    assert getattr(mode, "value", mode) == "NextStep"
    venv.step(venv.action_space.sample())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_determinism_rollout(env_id):
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


def test_import_is_light():
    code = "import sys, invgym; print([m for m in ('torch', 'stable_baselines3', 'ray') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_is_exposed():
    assert invgym.__version__.count(".") == 2
