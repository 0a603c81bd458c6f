"""leaderboard/sandbox.py's channel with the spin-then-block wait: answers, time-outs, deaths and bad settings."""

from __future__ import annotations

import pytest

from invgym.leaderboard._io import sha256_file
from invgym.leaderboard.sandbox import AgentProcessError, SandboxedPolicy

pytestmark = pytest.mark.slow  # starts jailed interpreters

AGENT = '''
import os, time
import numpy as np


def make_agent(env):
    def policy(obs):
        if obs[0, 0] == 7:
            time.sleep(600)
        if obs[0, 0] == 8:
            os._exit(3)
        return np.full(len(obs), int(obs[0, 0]), dtype=np.int64)

    return policy
'''


def _policy(tmp_path, spin_us, timeout=5.0):
    file = tmp_path / "agent.py"
    file.write_text(AGENT)
    spec = {"kind": "python", "spec": f"{file}:make_agent", "algo": None, "sha256": sha256_file(file),
            "path": str(file)}
    return SandboxedPolicy(spec, "invgym/LostSales-v0", {"lead_time": 2}, num_envs=4, obs_dim=2, act_dim=1,
                           spin_us=spin_us, timeout=timeout)


@pytest.mark.parametrize("spin_us", [0.0, 2000.0])
def test_answers_then_a_sleeping_agent_times_out(tmp_path, spin_us):
    import numpy as np

    with _policy(tmp_path, spin_us, timeout=2.0) as policy:
        for value in (1, 2, 3):  # each answer is the one for this call, not a stale one
            assert policy(np.full((4, 2), value, dtype=np.float32)).tolist() == [value] * 4
        with pytest.raises(AgentProcessError, match="time limit of 2 s"):
            policy(np.full((4, 2), 7, dtype=np.float32))


@pytest.mark.parametrize("spin_us", [0.0, 2000.0])
def test_a_dead_agent_is_detected(tmp_path, spin_us):
    import numpy as np

    with _policy(tmp_path, spin_us) as policy:
        assert policy(np.ones((4, 2), dtype=np.float32)).tolist() == [1] * 4
        with pytest.raises(AgentProcessError, match="exit code 3"):
            policy(np.full((4, 2), 8, dtype=np.float32))


@pytest.mark.parametrize("bad", [-1.0, 1e9, float("nan"), True, "5"])
def test_a_bad_spin_budget_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match=r"The 'spin_us' parameter of SandboxedPolicy must be a float in the range"):
        _policy(tmp_path, bad)
