"""Why is the board's plain PPO 1e4-1e6 % off? The committed PPO policies against their instances' spaces.

Run: ``nice -n 10 python -m bench.board_ppo_diagnosis`` (``--instances`` comma-separated; default the first
instance of each track). Nothing is trained and nothing is written: for each instance it loads the committed
``leaderboard/learned/PPO`` artifact, rolls its deterministic policy out on the instance's own protocol seed
(``--envs`` envs x ``--periods`` periods, no warm-up) beside the track's OR teacher (``agents.board.TEACHERS``,
fitted as the board fits it), and prints per policy: the action space, the mean order (in action indices) and the
share of periods at the top of the action range, the mean and max over the rollout of the first observation entry
(on-hand stock on the single-item families), and the mean cost per period. A policy whose stock grows without
bound while it keeps ordering near the top of its range is the signature of PPO trained on raw observations
(no ``VecNormalize``): states far outside what it saw in training, with logits linear in them.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np


def _rollout(policy, config, envs: int, periods: int, seed: int, top: np.ndarray) -> dict[str, float]:
    """Step ``policy`` (obs -> actions in action indices, as SB3 sees them) and summarise orders, stock, cost."""
    from invgym.sb3 import InvgymVecEnv

    env = InvgymVecEnv(config, n_envs=envs)
    env.seed(seed)
    obs = env.reset()
    orders, at_top, cost, first = [], [], 0.0, []
    for _ in range(periods):
        first.append(np.asarray(obs)[:, 0].astype(np.float64))
        actions = np.asarray(policy(obs))
        orders.append(actions.reshape(envs, -1).sum(axis=1).mean())
        at_top.append(np.mean(actions.reshape(envs, -1) >= top))
        obs, reward, _, _ = env.step(actions)
        cost -= float(np.mean(reward))
    env.close()
    return {"mean order": float(np.mean(orders)), "at top %": 100 * float(np.mean(at_top)),
            "obs[0] mean": float(np.mean(first)), "obs[0] max": float(np.max(first)),
            "cost/period": cost / periods}


def main() -> None:
    """Print the committed PPO's orders, stock and cost beside its teacher's, per instance."""
    import torch
    from stable_baselines3.common.policies import ActorCriticPolicy

    from invgym.agents.board import TEACHERS
    from invgym.baselines.common import family_of
    from invgym.envs.common import env_action_space
    from invgym.leaderboard.baselines import fit_baseline
    from invgym.leaderboard.suite import load_suite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default=None, help="comma-separated instance ids (default one per track)")
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--periods", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    suite = load_suite()
    if args.instances:
        instances = [suite.instance(i) for i in args.instances.split(",")]
    else:
        seen: set[str] = set()
        instances = [i for i in suite.instances() if not (i.track in seen or seen.add(i.track))]
    folder = Path(__file__).resolve().parents[1] / "leaderboard" / "learned" / "PPO"
    spec = importlib.util.spec_from_file_location("ppo_entry", folder / "agent.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    artifacts = entry.ARTIFACTS
    for inst in instances:
        config = inst.config()
        space, offset = env_action_space(config)
        top = (np.asarray(space.nvec) - 1) if hasattr(space, "nvec") else np.asarray(space.n - 1)
        periods = min(args.periods, inst.protocol.periods)
        print(f"{inst.id}: action space {space} (offset {offset}), obs shape {config.observation_space().shape}, "
              f"{args.envs} envs x {periods} periods, seed {inst.protocol.seed}")
        name, _, _ = artifacts[repr(config)]
        sb3 = ActorCriticPolicy.load(str(folder / name), device="cpu")
        fitted = fit_baseline(TEACHERS[family_of(config)], config)
        shift = 0 if offset is None else np.asarray(offset)

        def ppo(obs, sb3=sb3):
            return sb3.predict(obs, deterministic=True)[0]

        def teacher(obs, fitted=fitted, shift=shift):
            # the baseline acts in scenario orders; the SB3 vec env takes indices from 0 (env_action_space)
            return np.asarray(fitted(obs)) - shift

        for label, policy in (("PPO", ppo), (TEACHERS[family_of(config)], teacher)):
            row = _rollout(policy, config, args.envs, periods, inst.protocol.seed, top)
            print(f"  {label:<22} " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
