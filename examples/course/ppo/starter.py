"""Assignment 2 starter: Stable-Baselines3 PPO on lost sales at L = 4 (raise the budget, scale the inputs).

Grade with ``invgym grade ppo starter.py``; with the default budget this trains for seconds and does not pass.
"""

import os

import numpy as np


def make_policy(config):
    """Train PPO on the graded instance and return a policy mapping observations to orders."""
    import torch
    from stable_baselines3 import PPO

    from invgym.sb3 import make_sb3_vec_env

    torch.set_num_threads(1)
    timesteps = int(os.environ.get("PPO_TIMESTEPS", "20000"))  # TODO: a budget that can beat base-stock
    venv = make_sb3_vec_env("invgym/LostSales-v0", n_envs=16, seed=0, lead_time=config.lead_time,
                            lost_sales_cost=config.lost_sales_cost)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=256, seed=0, device="cpu")
    model.learn(timesteps)

    def policy(obs):
        return model.predict(np.asarray(obs, dtype=np.float32), deterministic=True)[0]

    return policy
