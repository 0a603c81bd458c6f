"""Third-party RL code runs on every invgym id unchanged: render modes, SB3, CleanRL-style vector envs, wrappers.

Each check runs on a tiny budget; what it asserts is that the library's own standard path works (no adapter).
"""

from __future__ import annotations

import multiprocessing

import gymnasium as gym
import numpy as np
import pytest

import invgym  # noqa: F401
from invgym.registration import ENV_IDS

SMALL = {  # the panel scenarios' default panels are large; a short horizon keeps every check small
    "invgym/Retail-v0": {"horizon": 30},
    "invgym/Replenishment-v0": {"horizon": 30},
}


def _make(env_id: str, **kwargs):
    return gym.make(env_id, **{**SMALL.get(env_id, {}), **kwargs})


# === render_mode ===


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_id_renders_ansi_and_rgb_array(env_id):
    pytest.importorskip("matplotlib")
    for mode in ("ansi", "rgb_array"):
        env = _make(env_id, render_mode=mode)
        assert mode in env.metadata["render_modes"]
        env.reset(seed=0)
        for _ in range(3):
            env.step(env.action_space.sample())
        out = env.render()
        if mode == "ansi":
            assert isinstance(out, str) and "on-hand" in out and len(out.splitlines()) == 2 + 3
        else:
            assert out.dtype == np.uint8 and out.shape == (400, 640, 3)
            assert out.std() > 5  # lines were drawn, not a blank canvas
    assert _make(env_id).unwrapped.render() is None


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_vector_envs_take_render_mode(env_id):
    venv = gym.make_vec(env_id, num_envs=6, vectorization_mode="vector_entry_point", render_mode="ansi",
                        **SMALL.get(env_id, {}))
    venv.reset(seed=0)
    venv.step(venv.action_space.sample())
    frames = venv.render()
    assert isinstance(frames, tuple) and len(frames) == 4 and all("period 1" in f for f in frames)


def test_bad_render_mode_names_the_parameter():
    from invgym.envs.lost_sales import LostSalesEnv, LostSalesVectorEnv

    with pytest.raises(ValueError, match=r"The 'render_mode' parameter of LostSalesEnv must be one of \[None, "
                                         r"'ansi', 'rgb_array'\]. Got 'human' instead."):
        LostSalesEnv(render_mode="human")
    with pytest.raises(ValueError, match="'render_mode' parameter of LostSalesVectorEnv"):
        LostSalesVectorEnv(num_envs=2, render_mode="rgb")


def test_rendering_does_not_change_the_trajectory():
    runs = []
    for mode in (None, "ansi"):
        env = gym.make("invgym/LostSales-v0", lead_time=2, render_mode=mode)
        env.reset(seed=3)
        runs.append([env.step(4)[1] for _ in range(20)])
    assert runs[0] == runs[1]


# === Discrete actions start at 0 everywhere ===


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_discrete_actions_start_at_zero(env_id):
    space = _make(env_id).action_space
    if isinstance(space, gym.spaces.Discrete | gym.spaces.MultiDiscrete):
        assert np.all(space.start == 0)


def test_procurement_removal_decodes_indices_into_signed_orders():
    env = gym.make("invgym/ProcurementRemoval-v0", initial_state=[20.0])
    k = int(env.unwrapped.config.max_removal)
    env.reset(seed=0)
    _, _, _, _, info = env.step(k - 5)
    assert info["removed"] == 5.0 and info["order"] == 0.0
    _, _, _, _, info = env.step(k + 3)
    assert info["order"] == 3.0 and info["removed"] == 0.0


# === Stable-Baselines3's own helpers ===


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env_passes_on_every_id(env_id):
    pytest.importorskip("stable_baselines3")
    import warnings

    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(_make(env_id).unwrapped, warn=True)
    # Infinite observation bounds are real here (stock is unbounded); nothing else may warn.
    assert [str(w.message) for w in caught if "infinity" not in str(w.message)] == []


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["invgym/LostSales-v0", "invgym/ProcurementRemoval-v0"])
def test_sb3_make_vec_env_trains_ppo(env_id):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(env_id, n_envs=2, seed=0)  # passes render_mode="rgb_array" to gym.make
    assert venv.get_attr("render_mode") == ["rgb_array", "rgb_array"]
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert venv.action_space.contains(action[0])


@pytest.mark.slow
def test_sb3_model_evaluates_through_invgym_evaluate_in_the_same_encoding():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    env_id = "invgym/ProcurementRemoval-v0"
    model = PPO("MlpPolicy", make_vec_env(env_id, n_envs=2, seed=0), n_steps=32, batch_size=32, n_epochs=1,
                seed=0, device="cpu")
    env = gym.make(env_id)
    obs, _ = env.reset(seed=5)
    k = int(env.unwrapped.config.max_removal)
    index = int(model.predict(obs, deterministic=True)[0])
    result = invgym.evaluate(model, env_id, num_envs=2, periods=5, warmup=0, seed=5)
    # evaluate decodes the model's index exactly as the env does: its first order is index - K.
    _, _, _, _, info = env.step(index)
    assert (info["order"] - info["removed"]) == index - k or info["removed"] < k - index
    assert np.isfinite(result.average_cost)


# === CleanRL-style vector envs ===


def _thunk(env_id: str):
    def make():
        return gym.wrappers.RecordEpisodeStatistics(gym.make(env_id, horizon=5))

    return make


@pytest.mark.slow
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_async_vector_env_with_the_module_prefix(context):
    if context not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {context} start method here")
    # "invgym:" makes Gymnasium import invgym (which registers the ids) in every child, as with spawn.
    envs = gym.vector.AsyncVectorEnv([_thunk("invgym:invgym/LostSales-v0")] * 2, context=context)
    try:
        obs, _ = envs.reset(seed=0)
        returns = []
        for _ in range(6):
            obs, _, _, _, infos = envs.step(np.array([5, 5]))
            if "episode" in infos:
                returns.append(infos["episode"]["r"][infos["_episode"]])
        assert obs.shape == (2, 1) and returns and len(returns[0]) == 2
    finally:
        envs.close()


def test_sync_vector_env_matches_the_native_vector_env():
    sync = gym.vector.SyncVectorEnv([lambda: gym.make("invgym/LostSales-v0", lead_time=2)] * 3)
    native = gym.make_vec("invgym/LostSales-v0", num_envs=3, vectorization_mode="vector_entry_point", lead_time=2)
    a, _ = sync.reset(seed=7)
    b, _ = native.reset(seed=7)
    for _ in range(10):
        a, ra, *_ = sync.step(np.array([4, 5, 6]))
        b, rb, *_ = native.step(np.array([4, 5, 6]))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ra, rb)


# === Standard wrappers ===


@pytest.mark.slow
def test_standard_wrappers_work_unchanged(tmp_path):
    pytest.importorskip("moviepy", reason="RecordVideo needs moviepy (in the dev extra)")
    env = gym.make("invgym/LostSales-v0", action_type="continuous", horizon=8, render_mode="rgb_array")
    env = gym.wrappers.RecordEpisodeStatistics(env)
    env = gym.wrappers.NormalizeObservation(env)
    env = gym.wrappers.ClipAction(env)
    env = gym.wrappers.RecordVideo(env, str(tmp_path), episode_trigger=lambda e: e == 0, disable_logger=True)
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, terminated, truncated, info = env.step(np.array([1e6], dtype=np.float32))  # clipped to max_order
        done = terminated or truncated
    env.close()
    assert info["episode"]["l"] == 8
    assert list(tmp_path.glob("*.mp4"))


@pytest.mark.ray
def test_rllib_runs_when_installed():
    pytest.importorskip("ray.rllib", reason="Ray RLlib is the optional 'ray' extra; tests/test_rllib.py covers it")
    import ray

    from invgym.agents.rllib import ppo_config, start_local_ray

    # Our own 127.0.0.1 head, shut down after: a Ray that build_algo() started by itself would outlive the test
    # and make the later Ray tests (which start their own) fail or skip.
    started = start_local_ray(num_cpus=2)
    try:
        algo = ppo_config("invgym/ProcurementRemoval-v0", num_env_runners=0, num_envs_per_env_runner=2,
                          rollout_fragment_length=16, minibatch_size=16, num_epochs=1).build_algo()
        try:
            result = algo.train()
        finally:
            algo.stop()
    finally:
        if started:
            ray.shutdown()
    # The signed removal/order is a Discrete(29) index from 0 to RLlib, so sampling and the update both ran.
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 16
