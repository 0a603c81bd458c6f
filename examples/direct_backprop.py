"""DirectBackprop: train an order policy through the differentiable twin, evaluate it on the compiled kernel.

Run: ``python examples/direct_backprop.py [--lead-time 2] [--p 9] [--epochs 120]`` (about 12 CPU seconds;
needs the ``rl`` extra: ``pip install -c constraints.txt -e ".[rl]"``).

The loss is the average cost of a batch of demand paths, simulated by ``invgym.twins`` (the torch copy of the
kernel's dynamics) and differentiated end to end (Madeka et al. 2022). The trained policy is then scored like any
baseline: ``invgym.evaluate`` on the Cython kernel with common random numbers, against the exact optimum and the
best base-stock policy on the same demand.
"""

from __future__ import annotations

import argparse

import torch

import invgym
from invgym.agents import DirectBackprop, DirectBackpropConfig
from invgym.baselines import BaseStock, solve_exact

ENV_ID = "invgym/LostSales-v0"


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train, evaluate, print; return the three costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-time", type=int, default=2)
    parser.add_argument("--p", type=float, default=9.0, help="lost-sales cost per unit")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # on a 2-core machine one thread is ~10x faster than two
    kwargs = {"lead_time": args.lead_time, "lost_sales_cost": args.p}

    config = DirectBackpropConfig(epochs=args.epochs, batch_size=64, periods=32, warmup=8, learning_rate=1e-2,
                                  seed=args.seed)
    policy = DirectBackprop(ENV_ID, policy="mlp", config=config, **kwargs).fit()

    # Same seed, same demand: the differences below are paired (common random numbers).
    run = {"num_envs": 200, "periods": 1000, "warmup": 100, "seed": 2024, **kwargs}
    learnt = invgym.evaluate(policy, ENV_ID, **run)
    base_stock = invgym.evaluate(BaseStock.fit(ENV_ID, **kwargs), ENV_ID, **run)
    optimum = solve_exact(ENV_ID, **kwargs).average_cost
    for name, cost in (("DirectBackprop", learnt.average_cost), ("best base-stock", base_stock.average_cost),
                       ("optimum (exact)", optimum)):
        print(f"{name:16s} {cost:8.4f}   gap {100 * (cost / optimum - 1):+6.2f} %")
    return {"learnt": learnt.average_cost, "stderr": learnt.stderr, "base_stock": base_stock.average_cost,
            "optimum": optimum}


if __name__ == "__main__":
    main()
