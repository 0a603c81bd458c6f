"""leaderboard/sandbox.py's channel: answers, changing answers, time-outs and deaths."""

from __future__ import annotations

import numpy as np
import pytest

from invgym.leaderboard._io import sha256_file
from invgym.leaderboard.sandbox import AgentProcessError, SandboxedPolicy

pytestmark = pytest.mark.slow  # starts jailed interpreters

AGENT = '''
import os, time
import numpy as np


def make_agent(env):
    def policy(obs):
        value = int(obs[0, 0])
        if value == 7:
            time.sleep(600)
        if value == 8:
            os._exit(3)
        if value == 4:  # a list, not an array: converted and checked on every call
            return [value] * len(obs)
        if value == 5:  # another shape and dtype than before: a new header
            return np.full((len(obs), 1), value, dtype=np.float32)
        if value == 6:  # not contiguous
            return np.full((len(obs), 2), value, dtype=np.int64)[:, 0]
        return np.full(len(obs), value, dtype=np.int64)

    return policy
'''


def _policy(tmp_path, timeout=5.0):
    file = tmp_path / "agent.py"
    file.write_text(AGENT)
    spec = {"kind": "python", "spec": f"{file}:make_agent", "algo": None, "sha256": sha256_file(file),
            "path": str(file)}
    return SandboxedPolicy(spec, "invgym/LostSales-v0", {"lead_time": 2}, num_envs=4, obs_dim=2, act_dim=1,
                           timeout=timeout)


def test_answers_follow_the_policy_then_a_sleeping_agent_times_out(tmp_path):
    with _policy(tmp_path, timeout=2.0) as policy:
        # each answer is the one for this call (not a stale one), whatever shape or dtype the policy switches to
        for value in (1, 2, 5, 4, 3, 6, 5, 1, 4):
            actions = policy(np.full((4, 2), value, dtype=np.float32))
            expected = (np.float32, (4, 1)) if value == 5 else (np.int64, (4,))
            assert (actions.dtype, actions.shape) == expected
            assert actions.reshape(-1).tolist() == [value] * 4
        with pytest.raises(AgentProcessError, match="time limit of 2 s"):
            policy(np.full((4, 2), 7, dtype=np.float32))


def test_a_dead_agent_is_detected(tmp_path):
    with _policy(tmp_path) as policy:
        assert policy(np.ones((4, 2), dtype=np.float32)).tolist() == [1] * 4
        with pytest.raises(AgentProcessError, match="exit code 3"):
            policy(np.full((4, 2), 8, dtype=np.float32))


def test_the_returned_actions_are_a_copy_the_agent_cannot_rewrite(tmp_path):
    with _policy(tmp_path) as policy:
        first = policy(np.full((4, 2), 2, dtype=np.float32))
        policy(np.full((4, 2), 3, dtype=np.float32))  # the agent writes 3s into the same block
        assert first.tolist() == [2] * 4


def test_an_sb3_model_on_a_signed_action_space_acts_in_the_sandbox_as_in_process(tmp_path):
    # ProcurementRemoval's orders are Discrete(29, start=-14); the env (and SB3) see indices 0..28. In-process,
    # invgym.evaluate adds the offset back to an SB3 model's indices; the sandbox must do the same.
    import gymnasium as gym
    from stable_baselines3 import PPO

    import invgym
    from invgym.leaderboard.agents import sha256_artifact

    env_id = "invgym/ProcurementRemoval-v0"
    model = PPO("MlpPolicy", gym.make(env_id), seed=0, device="cpu")
    path = tmp_path / "ppo.zip"
    model.save(path)
    spec = {"kind": "sb3", "spec": str(path), "algo": "PPO", "sha256": sha256_artifact(path), "path": str(path)}
    obs = np.arange(8, dtype=np.float32).reshape(8, 1) * 5
    with SandboxedPolicy(spec, env_id, {}, num_envs=8, obs_dim=1, act_dim=1) as policy:
        actions = policy(obs)
        assert np.asarray(actions).reshape(-1).tolist() == (model.predict(obs, deterministic=True)[0] - 14).tolist()
        jailed = invgym.evaluate(policy, env_id, num_envs=8, periods=30, warmup=0, seed=3)
    direct = invgym.evaluate(model, env_id, num_envs=8, periods=30, warmup=0, seed=3)
    assert jailed.average_cost == direct.average_cost
    assert jailed.per_env_cost.tolist() == direct.per_env_cost.tolist()
