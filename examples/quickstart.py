"""Quickstart: one lost-sales env, a batch of 1024, a fitted base-stock policy and its gap to the optimum.

Run: ``python examples/quickstart.py [--lead-time 2] [--p 9]`` (a few seconds, numpy only).

Zipkin's (2008) instance: Poisson(5) demand, holding cost 1 and lost-sales cost p per unit. With L = 2 and p = 9
his Table 3 prints an optimal cost of 6.09 and a best base-stock cost of 6.32.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import invgym  # registers every invgym/... id
from invgym.baselines import BaseStock, solve_exact

ENV_ID = "invgym/LostSales-v0"


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the tour; return the figures it prints."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-time", type=int, default=2)
    parser.add_argument("--p", type=float, default=9.0, help="lost-sales cost per unit")
    args = parser.parse_args(argv)
    kwargs = {"lead_time": args.lead_time, "lost_sales_cost": args.p}

    # 1. One env, stepped by hand: order up to 15 on the inventory position (on-hand plus orders in transit).
    env = gym.make(ENV_ID, **kwargs)
    obs, _ = env.reset(seed=0)
    width = max(args.lead_time, 1)
    total = 0.0
    for _ in range(1000):
        order = max(0, 15 - int(obs[:width].sum()))
        obs, reward, terminated, truncated, info = env.step(order)
        total -= reward  # the reward is minus the period's cost
    print(f"one env, order-up-to 15, 1000 periods: average cost {total / 1000:.3f}")

    # 2. 1024 envs in one compiled call per period (Gymnasium's vector API; next-step autoreset).
    envs = gym.make_vec(ENV_ID, num_envs=1024, vectorization_mode="vector_entry_point", **kwargs)
    obs, _ = envs.reset(seed=0)
    costs = np.zeros(1024)
    for _ in range(200):
        obs, reward, _, _, _ = envs.step(np.clip(15 - obs[:, :width].sum(axis=1), 0, None).astype(np.int64))
        costs -= reward
    print(f"1024 envs, order-up-to 15, 200 periods: average cost {costs.mean() / 200:.3f}")

    # 3. The OR way: fit the best base-stock level on simulated demand, evaluate with a 95 % CI on common random
    #    numbers, and compare with the exact optimum (relative value iteration on Zipkin's state).
    policy = BaseStock.fit(ENV_ID, **kwargs)
    result = invgym.evaluate(policy, ENV_ID, **kwargs)
    exact = solve_exact(ENV_ID, **kwargs)
    gap = 100 * (result.average_cost / exact.average_cost - 1)
    print(f"base-stock S={policy.params['level']}: {result.average_cost:.3f} "
          f"(95 % CI {result.ci95[0]:.3f}..{result.ci95[1]:.3f}); optimum {exact.average_cost:.4f}; "
          f"gap {gap:+.2f} %")
    return {"base_stock": result.average_cost, "stderr": result.stderr, "optimum": exact.average_cost}


if __name__ == "__main__":
    main()
