"""PPO timesteps per CPU second: a CleanRL-style PPO over the native VectorEnv vs SB3 (run: python -m bench.ppo_speed).

Issue 17, item 6. The same PPO settings three ways on invgym/LostSales-v0 (L = 2, p = 9): ``--envs`` envs,
``--steps`` steps per env per rollout, ``--epochs`` epochs of ``--minibatches`` minibatches, MLP 64x64 policy and
value (tanh), one torch thread, BLAS helper threads off:

- ``cleanrl``: a CleanRL-style PPO loop written here (categorical policy, GAE, clipped surrogate) stepping the
  native ``KernelVectorEnv`` with ``copy=False``, observations and actions moved as whole batches;
- ``sb3 + invgym VecEnv``: Stable-Baselines3 ``PPO`` on ``invgym.sb3.InvgymVecEnv`` (the kernel as an SB3 VecEnv);
- ``sb3 + DummyVecEnv``: SB3 ``PPO`` on ``DummyVecEnv`` of ``gym.make`` single envs (the usual SB3 setup).

Timesteps per CPU second (``time.process_time``) over ``--iterations`` rollout+update iterations after one
untimed warm-up iteration; rows interleaved (A B C A B C) over ``--rounds`` rounds, median and range printed.
Throughput only: the rewards are not normalised and no learning curve is claimed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import invgym  # noqa: E402,F401
from bench.common import load_text  # noqa: E402

ENV_ID = "invgym/LostSales-v0"
KWARGS = dict(lead_time=2, lost_sales_cost=9.0, horizon=1000)


def _mlp(inputs: int, outputs: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, outputs))


class CleanRLPPO:
    """A minimal CleanRL-style PPO on the native vector env (copy=False): one ``iterate()`` = rollout + update."""

    def __init__(self, envs: int, steps: int, epochs: int, minibatches: int, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.venv = gym.make_vec(ENV_ID, num_envs=envs, vectorization_mode="vector_entry_point", copy=False,
                                 **KWARGS)
        obs_dim = self.venv.single_observation_space.shape[0]
        self.actor = _mlp(obs_dim, int(self.venv.single_action_space.n))
        self.critic = _mlp(obs_dim, 1)
        params = list(self.actor.parameters()) + list(self.critic.parameters())
        self.optimizer = torch.optim.Adam(params, lr=3e-4, eps=1e-5)
        self.envs, self.steps, self.epochs, self.minibatches = envs, steps, epochs, minibatches
        self.obs = torch.zeros((steps, envs, obs_dim))
        self.actions = torch.zeros((steps, envs), dtype=torch.int64)
        self.logprobs, self.rewards, self.dones, self.values = (torch.zeros((steps, envs)) for _ in range(4))
        obs, _ = self.venv.reset(seed=seed)
        self.next_obs = torch.as_tensor(obs).clone()
        self.next_done = torch.zeros(envs)

    def iterate(self) -> int:
        """One rollout of ``steps`` batch steps and one PPO update; returns the timesteps collected."""
        for step in range(self.steps):
            self.obs[step] = self.next_obs
            self.dones[step] = self.next_done
            with torch.no_grad():
                dist = torch.distributions.Categorical(logits=self.actor(self.next_obs))
                action = dist.sample()
                self.values[step] = self.critic(self.next_obs).flatten()
            self.actions[step] = action
            self.logprobs[step] = dist.log_prob(action)
            obs, reward, terminated, truncated, _ = self.venv.step(action.numpy())
            self.rewards[step] = torch.as_tensor(reward, dtype=torch.float32)
            self.next_obs = torch.as_tensor(obs).clone()
            self.next_done = torch.as_tensor(np.logical_or(terminated, truncated), dtype=torch.float32)
        with torch.no_grad():  # GAE, gamma 0.99, lambda 0.95
            next_value = self.critic(self.next_obs).flatten()
            advantages = torch.zeros_like(self.rewards)
            last = torch.zeros(self.envs)
            for t in reversed(range(self.steps)):
                nonterminal = 1.0 - (self.next_done if t == self.steps - 1 else self.dones[t + 1])
                value_next = next_value if t == self.steps - 1 else self.values[t + 1]
                delta = self.rewards[t] + 0.99 * value_next * nonterminal - self.values[t]
                last = delta + 0.99 * 0.95 * nonterminal * last
                advantages[t] = last
            returns = advantages + self.values
        b_obs = self.obs.reshape(-1, self.obs.shape[-1])
        b_actions, b_logprobs = self.actions.reshape(-1), self.logprobs.reshape(-1)
        b_adv, b_returns = advantages.reshape(-1), returns.reshape(-1)
        size = self.steps * self.envs
        chunk = size // self.minibatches
        for _ in range(self.epochs):
            order = torch.randperm(size)
            for start in range(0, size, chunk):
                mb = order[start:start + chunk]
                dist = torch.distributions.Categorical(logits=self.actor(b_obs[mb]))
                ratio = (dist.log_prob(b_actions[mb]) - b_logprobs[mb]).exp()
                adv = (b_adv[mb] - b_adv[mb].mean()) / (b_adv[mb].std() + 1e-8)
                policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(0.8, 1.2)).mean()
                value_loss = 0.5 * ((self.critic(b_obs[mb]).flatten() - b_returns[mb]) ** 2).mean()
                loss = policy_loss - 0.01 * dist.entropy().mean() + 0.5 * value_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(list(self.actor.parameters()) + list(self.critic.parameters()), 0.5)
                self.optimizer.step()
        return size


def sb3_runner(vec_env, envs: int, steps: int, epochs: int, minibatches: int):
    """``iterate()`` for SB3 PPO with the same settings: one ``learn`` call of one rollout + update."""
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", vec_env, n_steps=steps, batch_size=envs * steps // minibatches, n_epochs=epochs,
                policy_kwargs={"net_arch": [64, 64]}, seed=0, device="cpu")

    def iterate() -> int:
        model.learn(total_timesteps=envs * steps, reset_num_timesteps=False)
        return envs * steps

    return iterate


def main() -> None:
    """Print timesteps per CPU second of each row (median [least, greatest] over the rounds) and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from stable_baselines3.common.vec_env import DummyVecEnv

    from invgym.envs.lost_sales import LostSalesConfig
    from invgym.sb3 import InvgymVecEnv

    settings = (args.envs, args.steps, args.epochs, args.minibatches)
    rows = {
        "cleanrl + native VectorEnv (copy=False)": CleanRLPPO(*settings).iterate,
        "sb3 + invgym VecEnv": sb3_runner(InvgymVecEnv(LostSalesConfig.validate("LostSalesEnv", **KWARGS),
                                                       n_envs=args.envs), *settings),
        "sb3 + DummyVecEnv(gym.make)": sb3_runner(DummyVecEnv([lambda: gym.make(ENV_ID, **KWARGS)] * args.envs),
                                                  *settings),
    }
    for iterate in rows.values():
        iterate()  # warm-up: first-call costs
    rates: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, iterate in rows.items():
            start = time.process_time()
            done = sum(iterate() for _ in range(args.iterations))
            rates[name].append(done / (time.process_time() - start))
    print(f"PPO on {ENV_ID} (L=2, p=9), {args.envs} envs x {args.steps} steps, {args.epochs} epochs x "
          f"{args.minibatches} minibatches, MLP 64x64, one thread, CPU time; {load_text()}; {args.rounds} "
          f"interleaved rounds of {args.iterations} iterations")
    base = rates["sb3 + DummyVecEnv(gym.make)"]
    print(f"{'what':<42}{'timesteps/CPU s':>16}  ratio to SB3 + DummyVecEnv: median [least, greatest round]")
    for name, values in rates.items():
        ratios = [a / b for a, b in zip(values, base, strict=True)]
        print(f"{name:<42}{statistics.median(values):>16,.0f}  {statistics.median(ratios):.2f}x "
              f"[{min(ratios):.2f}, {max(ratios):.2f}]")


if __name__ == "__main__":
    main()
