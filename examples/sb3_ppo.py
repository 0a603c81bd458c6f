"""Stable-Baselines3 PPO on invgym's SB3 VecEnv, scored against base-stock and the exact optimum.

Run: ``python examples/sb3_ppo.py [--timesteps 1000000]`` (about 170 CPU seconds for the default million steps;
needs the ``rl`` extra: ``pip install -c constraints.txt -e ".[rl]"``). Measured on 2026-12-07 with the defaults:
PPO 6.207 (+1.86 % over the optimum 6.094) against the best base-stock policy's 6.306 (+3.49 %).

``make_sb3_vec_env`` gives SB3 a ``VecEnv`` over the same compiled batch kernel as ``gym.make_vec`` (SB3's
same-step autoreset, ``terminal_observation`` in ``infos``), so no ``DummyVecEnv`` of Python envs is needed. The
trained model is evaluated by ``invgym.evaluate`` through its deterministic ``predict``, on the same demand as the
baselines. Observations are divided by a fixed 10 (a small ``VecEnvWrapper``) and rewards normalised by
``VecNormalize``: PPO's default MLP trains poorly on raw inventory counts and costs in the tens.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnvWrapper, VecNormalize

import invgym
from invgym.baselines import BaseStock, solve_exact
from invgym.sb3 import make_sb3_vec_env

ENV_ID = "invgym/LostSales-v0"
SCALE = 10.0  # observation divisor: on-hand and pipeline counts are O(10) here


class ScaleObservation(VecEnvWrapper):
    """Divide every observation by ``SCALE`` (a fixed map, so evaluation can apply the same one)."""

    def __init__(self, venv):
        low, high = venv.observation_space.low / SCALE, venv.observation_space.high / SCALE
        super().__init__(venv, observation_space=spaces.Box(low, high, dtype=np.float32))

    def reset(self):
        """Reset every env; return the scaled observations."""
        return self.venv.reset() / SCALE

    def step_wait(self):
        """Finish the step; scale the observations, the terminal ones included."""
        obs, rewards, dones, infos = self.venv.step_wait()
        for info in infos:
            if "terminal_observation" in info:
                info["terminal_observation"] = info["terminal_observation"] / SCALE
        return obs / SCALE, rewards, dones, infos


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train PPO, evaluate it with the baselines, print; return the costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-time", type=int, default=2)
    parser.add_argument("--p", type=float, default=9.0, help="lost-sales cost per unit")
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # on a 2-core machine one thread is ~10x faster than two
    kwargs = {"lead_time": args.lead_time, "lost_sales_cost": args.p}

    venv = ScaleObservation(make_sb3_vec_env(ENV_ID, n_envs=16, seed=args.seed, **kwargs))
    venv = VecNormalize(venv, norm_obs=False, norm_reward=True)  # rewards only; evaluation reads raw costs
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=512, seed=args.seed, device="cpu")
    model.learn(args.timesteps)

    def ppo_policy(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs / SCALE, deterministic=True)[0]

    run = {"num_envs": 200, "periods": 1000, "warmup": 100, "seed": 2024, **kwargs}
    ppo = invgym.evaluate(ppo_policy, ENV_ID, **run)
    base_stock = invgym.evaluate(BaseStock.fit(ENV_ID, **kwargs), ENV_ID, **run)
    optimum = solve_exact(ENV_ID, **kwargs).average_cost
    for name, cost in ((f"PPO ({args.timesteps:,} steps)", ppo.average_cost),
                       ("best base-stock", base_stock.average_cost), ("optimum (exact)", optimum)):
        print(f"{name:24s} {cost:8.4f}   gap {100 * (cost / optimum - 1):+7.2f} %")
    return {"ppo": ppo.average_cost, "base_stock": base_stock.average_cost, "optimum": optimum}


if __name__ == "__main__":
    main()
