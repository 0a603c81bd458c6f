"""engine.evaluate_sandboxed: two half-batches pipelined through the sandbox give invgym.evaluate's result exactly.

Every scenario the engine splits (engine.SPLITTABLE), in every channel mode, against the same policy evaluated
in-process; then one agent of each adapter kind (a callable, an SB3 model, a TorchScript module) on the
pipelined path, and the RLlib adapter's batch independence (RLlib itself is not needed for that part).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import invgym
from invgym.leaderboard._io import sha256_file
from invgym.leaderboard.agents import rllib_greedy_actions, sha256_artifact
from invgym.leaderboard.engine import SPLITTABLE, evaluate_sandboxed
from invgym.leaderboard.sandbox import AgentProcessError, SandboxedPolicy

pytestmark = pytest.mark.slow  # starts jailed interpreters

# A row-wise policy for every scenario: a seeded random matrix maps each observation row to an in-space action
# (the same function of the row in this process and in the agent's). Actions vary with the state, so an env
# paired with another env's action, or a step taken twice, changes the costs.
AGENT = '''
import numpy as np


def make_agent(env):
    space = env.unwrapped.config.action_space()
    low = np.atleast_1d(getattr(space, "start", 0))
    size = np.atleast_1d(getattr(space, "nvec", getattr(space, "n", 1)))
    weights = np.random.default_rng(7).normal(size=(env.observation_space.shape[0], len(size)))

    def policy(obs):
        spread = (np.sin(obs.astype(np.float64) @ weights * 3.7) + 1) / 2  # in [0, 1], a function of the row
        return (low + np.minimum(np.floor(spread * size), size - 1)).astype(np.int64).reshape(len(obs), -1)

    return policy
'''


def _direct(env_id, kwargs):
    import gymnasium as gym

    namespace: dict = {}
    exec(AGENT, namespace)
    return namespace["make_agent"](gym.make(env_id, **kwargs))


CASES = [
    ("invgym/LostSales-v0", {"lead_time": 2, "lost_sales_cost": 9.0}),
    ("invgym/Perishable-v0", {}),
    ("invgym/DualSourcing-v0", {}),
    ("invgym/ProcurementRemoval-v0", {}),
]


def _spec(tmp_path, source=AGENT):
    file = tmp_path / "agent.py"
    file.write_text(source)
    return {"kind": "python", "spec": f"{file}:make_agent", "algo": None, "sha256": sha256_file(file),
            "path": str(file)}


def _sandboxed(spec, env_id, kwargs, num_envs, channel="auto"):
    from invgym.envs.common import config_of

    config = config_of(env_id, **kwargs)
    return SandboxedPolicy(spec, env_id, kwargs, num_envs=num_envs, obs_dim=int(config.observation_space().shape[0]),
                           act_dim=int(config.make_kernel(1).act_dim), groups=2, channel=channel)


def _same(jailed, direct):
    for field in dataclasses.fields(direct):
        if field.name != "per_env_cost":
            assert getattr(jailed, field.name) == getattr(direct, field.name), field.name
    assert jailed.per_env_cost.tolist() == direct.per_env_cost.tolist()


def test_every_splittable_scenario_is_covered():
    from invgym.envs.common import config_of
    from invgym.scenarios import SCENARIOS, scenario_of

    assert {scenario_of(config_of(env, **kwargs)).name for env, kwargs in CASES} == set(SPLITTABLE)
    assert set(SPLITTABLE) < {scenario.name for scenario in SCENARIOS.values()}


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=[env for env, _ in CASES])
def test_pipelined_halves_give_the_in_process_result_exactly(tmp_path, env_id, kwargs):
    direct = invgym.evaluate(_direct(env_id, kwargs), env_id, num_envs=37, periods=150,
                             warmup=25, seed=11, **kwargs)
    spec = _spec(tmp_path)
    for channel in ("spin", "one-cpu", "free", "auto"):  # an odd batch: halves of 18 and 19 envs
        with _sandboxed(spec, env_id, kwargs, 37, channel) as policy:
            jailed = evaluate_sandboxed(policy, env_id, num_envs=37, periods=150, warmup=25, seed=11, **kwargs)
            again = evaluate_sandboxed(policy, env_id, num_envs=37, periods=150, warmup=25, seed=11, **kwargs)
        _same(jailed, direct)
        _same(again, direct)


def test_a_wrong_shape_names_the_half_and_an_out_of_space_action_the_env(tmp_path):
    source = '''
import numpy as np


def make_agent(env):
    def policy(obs):
        if len(obs) == 6:  # the second half (envs 5 to 10) answers out of space in its env 2, i.e. env 7
            out = np.zeros(len(obs), dtype=np.int64)
            out[2] = -1
            return out
        return np.zeros(len(obs), dtype=np.int64)

    return policy


def make_wide(env):
    return lambda obs: np.zeros((len(obs), 3), dtype=np.int64)


def make_flat(env):
    return lambda obs: np.zeros(len(obs) + 2, dtype=np.int64)
'''
    spec = _spec(tmp_path, source)
    env_id, kwargs = "invgym/LostSales-v0", {"lead_time": 1}
    with _sandboxed(spec, env_id, kwargs, 11) as policy, pytest.raises(ValueError, match=r"\[-1\.0\] for env 7,"):
        evaluate_sandboxed(policy, env_id, num_envs=11, periods=5, warmup=0, seed=0, **kwargs)
    wide = dict(spec, spec=spec["spec"].replace("make_agent", "make_wide"))
    with _sandboxed(wide, env_id, kwargs, 11) as policy, pytest.raises(
            AgentProcessError, match=r"shape \(5, 3\) \(int64\) for a batch of 5 observations, larger than"):
        evaluate_sandboxed(policy, env_id, num_envs=11, periods=5, warmup=0, seed=0, **kwargs)
    flat = dict(spec, spec=spec["spec"].replace("make_agent", "make_flat"))  # fits the block, not the half
    with _sandboxed(flat, env_id, kwargs, 11) as policy, pytest.raises(
            ValueError, match=r"shape \(7,\) instead\. \(for envs 0 to 4 of 11: the sandbox asks"):
        evaluate_sandboxed(policy, env_id, num_envs=11, periods=5, warmup=0, seed=0, **kwargs)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_sb3_and_torchscript_agents_act_row_by_row_on_the_pipelined_path(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed")
    import gymnasium as gym

    env_id = "invgym/ProcurementRemoval-v0"  # signed orders: the SB3 index offset is applied in the agent
    model = sb3.PPO("MlpPolicy", gym.make(env_id), seed=0, device="cpu")
    model.save(tmp_path / "ppo.zip")
    spec = {"kind": "sb3", "spec": str(tmp_path / "ppo.zip"), "algo": "PPO",
            "sha256": sha256_artifact(tmp_path / "ppo.zip"), "path": str(tmp_path / "ppo.zip")}
    with _sandboxed(spec, env_id, {}, 9) as policy:
        jailed = evaluate_sandboxed(policy, env_id, num_envs=9, periods=40, warmup=0, seed=3)
    _same(jailed, invgym.evaluate(model, env_id, num_envs=9, periods=40, warmup=0, seed=3))

    class OrderUpTo(torch.nn.Module):
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return torch.clamp(19.0 - obs[:, :2].sum(dim=1), 0.0, 8.0).round()

    module = torch.jit.script(OrderUpTo())
    module.save(str(tmp_path / "policy.pt"))
    spec = {"kind": "torchscript", "spec": str(tmp_path / "policy.pt"), "algo": None,
            "sha256": sha256_artifact(tmp_path / "policy.pt"), "path": str(tmp_path / "policy.pt")}
    env_id, kwargs = "invgym/LostSales-v0", {"lead_time": 2}
    with _sandboxed(spec, env_id, kwargs, 9) as policy:
        jailed = evaluate_sandboxed(policy, env_id, num_envs=9, periods=40, warmup=0, seed=3, **kwargs)

    def direct(obs):
        with torch.no_grad():
            return module(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    _same(jailed, invgym.evaluate(direct, env_id, num_envs=9, periods=40, warmup=0, seed=3, **kwargs))


def test_the_rllib_adapter_acts_row_by_row():
    from invgym.envs.common import config_of

    rng = np.random.default_rng(0)
    for env_id in ("invgym/ProcurementRemoval-v0", "invgym/DualSourcing-v0", "invgym/Perishable-v0"):
        config = config_of(env_id)
        space = config.action_space()
        width = int(np.sum(getattr(space, "nvec", [getattr(space, "n", 2)])))
        logits = rng.normal(size=(9, width))
        whole = rllib_greedy_actions(logits, config)
        halves = np.concatenate([rllib_greedy_actions(logits[:4], config), rllib_greedy_actions(logits[4:], config)])
        assert whole.tolist() == halves.tolist()
