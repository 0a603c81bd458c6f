"""The SB3 VecEnv adapter: DummyVecEnv's conventions, the same demand as the Gymnasium view, PPO runs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import invgym  # noqa: F401

pytest.importorskip("stable_baselines3")
torch = pytest.importorskip("torch")

from invgym.sb3 import make_sb3_vec_env  # noqa: E402


def test_dones_terminal_observation_and_truncation_flags():
    venv = make_sb3_vec_env("invgym/LostSales-v0", n_envs=3, seed=0, lead_time=1, horizon=2, initial_state=[4])
    obs = venv.reset()
    np.testing.assert_array_equal(obs, [[4.0]] * 3)
    _, _, dones, infos = venv.step(np.array([1, 1, 1]))
    assert not dones.any() and "terminal_observation" not in infos[0]
    obs, _, dones, infos = venv.step(np.array([2, 2, 2]))
    assert dones.all()
    for i in range(3):
        assert infos[i]["TimeLimit.truncated"] is True
        assert infos[i]["terminal_observation"][0] >= 2.0  # the order arrived before the end
    np.testing.assert_array_equal(obs, [[4.0]] * 3)  # already the next episode's start


def test_sb3_and_gymnasium_views_see_the_same_demand():
    sb3 = make_sb3_vec_env("invgym/LostSales-v0", n_envs=4, seed=7, lead_time=2, info_parts=True)
    gv = gym.make_vec("invgym/LostSales-v0", num_envs=4, vectorization_mode="vector_entry_point", lead_time=2)
    sb3.reset()
    gv.reset(seed=7)
    for _ in range(20):
        a = np.array([3, 4, 5, 6])
        _, rewards, _, infos = sb3.step(a)
        _, g_rewards, _, _, g_info = gv.step(a)
        np.testing.assert_allclose(rewards, g_rewards)
        np.testing.assert_array_equal([info["demand"] for info in infos], g_info["demand"])


def test_bad_actions_raise():
    venv = make_sb3_vec_env("invgym/LostSales-v0", n_envs=2, seed=0, max_order=5)
    venv.reset()
    with pytest.raises(ValueError, match="ints of 2 envs"):
        venv.step(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="env 1"):
        venv.step(np.array([1, 6]))


@pytest.mark.parametrize("action_type", ["discrete", "continuous"])
def test_ppo_trains_on_the_adapter_and_predicts_actions_in_the_space(action_type):
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    venv = make_sb3_vec_env("invgym/LostSales-v0", n_envs=16, seed=0, lead_time=1, horizon=20,
                            action_type=action_type)
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, seed=0, verbose=0)
    model.learn(512)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert venv.action_space.contains(action[0])


def test_signed_discrete_space_is_shifted_for_sb3():
    venv = make_sb3_vec_env("invgym/ProcurementRemoval-v0", n_envs=2, seed=0, info_parts=True)
    start = gym.make("invgym/ProcurementRemoval-v0").unwrapped.config.action_low[0]
    assert start < 0 and venv.action_space.start == 0
    assert venv.action_space == gym.make("invgym/ProcurementRemoval-v0").action_space  # the same indices
    venv.reset()
    _, _, _, infos = venv.step(np.array([int(-start) + 3, 0]))  # index -start + 3 is an order of 3
    assert infos[0]["order"] == 3.0
