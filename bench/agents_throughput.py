"""Issue 7, goal 5: DirectBackprop training throughput (sample-periods/s) next to the twin's forward-only rate.

Run: ``python -m bench.agents_throughput`` or ``--batches 64 1024 --lead-times 2 10``. A benchmark, never a test.

One sample-period is one demand path advanced by one period. For each batch size B and lead time L, with the
default DirectBackprop policy (MLP 64x64 with base-stock head), one torch thread:

- ``train``: DirectBackprop epochs (twin rollout with gradient tape, backward pass, Adam step), timed by the
  agent's own ``charts/epoch_seconds`` (median over the epochs after the first);
- ``forward``: the same twin rollout under ``torch.no_grad()`` (what evaluation on the twin would cost);
- ``kernel``: the trained policy stepped on the compiled kernel by :func:`invgym.evaluate` (torch forward per
  period, integer orders), for reference.

HDPO (Alvo, Russo & Kanoria 2023, "Neural inventory control in networks via hindsight differentiable policy
optimization") trains the same way (backpropagation through simulated demand paths); its code cannot be run here
(no GPU, no network access), so no side-by-side figure with HDPO is given.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import invgym
from invgym.agents import DirectBackprop, DirectBackpropConfig

ENV_ID = "invgym/LostSales-v0"


def main() -> None:
    """Print one row per (L, B)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", nargs="*", type=int, default=[64, 256, 1024])
    parser.add_argument("--lead-times", nargs="*", type=int, default=[2, 10])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--periods", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, one thread; {args.periods} counted + 8 + 4L warm-up periods per path")
    print(f"{'L':>3} {'B':>5} {'train s/epoch':>13} {'train samp-per/s':>17} {'forward samp-per/s':>19} "
          f"{'fwd/train':>9} {'kernel samp-per/s':>18}")
    for lead_time in args.lead_times:
        for batch in args.batches:
            warmup = 8 + 4 * lead_time
            cfg = DirectBackpropConfig(epochs=args.epochs, batch_size=batch, periods=args.periods, warmup=warmup,
                                       eval_envs=8, eval_periods=10, eval_warmup=0)
            agent = DirectBackprop(ENV_ID, config=cfg, lead_time=lead_time, lost_sales_cost=9.0)
            policy = agent.fit()
            per_epoch = float(np.median([m["charts/epoch_seconds"] for m in agent.metrics[1:]]))
            samples = batch * (warmup + args.periods)
            demand = torch.as_tensor(agent.sampler.sample(np.random.default_rng(1), batch, warmup + args.periods),
                                     dtype=torch.float32)
            times = []
            with torch.no_grad():
                for _ in range(3):
                    start = time.perf_counter()
                    agent.twin.rollout(agent.module, demand, warmup=warmup)
                    times.append(time.perf_counter() - start)
            forward = samples / min(times)
            start = time.perf_counter()
            steps = 100
            invgym.evaluate(policy, ENV_ID, num_envs=batch, periods=steps, warmup=0, lead_time=lead_time,
                            lost_sales_cost=9.0)
            kernel = batch * steps / (time.perf_counter() - start)
            print(f"{lead_time:>3} {batch:>5} {per_epoch:>13.3f} {samples / per_epoch:>17,.0f} {forward:>19,.0f} "
                  f"{forward * per_epoch / samples:>8.1f}x {kernel:>18,.0f}", flush=True)


if __name__ == "__main__":
    main()
