"""DirectBackprop on Zipkin's (2008) Table 3 cells: gap to the published optimum and CPU seconds per cell.

Run: ``python -m bench.agents_direct_backprop`` (all 16 cells; 100 epochs x 64 paths x 32 periods, 2-3 CPU s a
cell), ``--epochs 600 --batch 128 --train-periods 64`` (about 30 CPU s a cell) or ``--cells 4:1 9:2 39:4``.
A benchmark, never a test.

Each cell trains a fresh policy (base-stock head, one torch thread) and evaluates it on the compiled kernel with
:func:`invgym.evaluate` (integer orders, rounded), reporting the gap to the optimal cost from
:func:`invgym.baselines.solve_exact` (Table 3 prints it to two decimals; both are shown) and the best base-stock
policy's gap from Table 3; the *paired* gap is the per-env cost difference to the optimal table policy run
on the same demand (common random numbers; its standard error is a fraction of the plain gap's); plus the CPU
seconds of training (``time.process_time``, this process only).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import invgym
from bench.agents_common import (
    add_evaluation_arguments,
    add_training_arguments,
    evaluation_settings,
    paired,
    training_config,
)
from invgym.agents import DirectBackprop
from invgym.baselines import solve_exact

TABLE3 = json.loads((Path(__file__).parent.parent / "tests" / "data" / "zipkin_2008_table3.json").read_text())
DEFAULT_CELLS = tuple(f"{p}:{lead}" for lead in (1, 2, 3, 4) for p in (4, 9, 19, 39))
ENV_ID = "invgym/LostSales-v0"


def run_cell(p: int, lead_time: int, args: argparse.Namespace) -> dict:
    """Train and evaluate one cell; return its row."""
    agent = DirectBackprop(ENV_ID, config=training_config(args, 8 + 4 * lead_time), lead_time=lead_time,
                           lost_sales_cost=float(p))
    start = time.process_time()
    policy = agent.fit()
    cpu = time.process_time() - start
    settings = {**evaluation_settings(args), "lead_time": lead_time, "lost_sales_cost": float(p)}
    result = invgym.evaluate(policy, ENV_ID, **settings)
    cell = TABLE3[str(p)][str(lead_time)]
    solution = solve_exact(ENV_ID, lead_time=lead_time, lost_sales_cost=float(p))
    # The optimal policy on the same demand (common random numbers): the paired difference is far less noisy
    # than the simulated cost against the exact figure.
    diff, se = paired(result, invgym.evaluate(solution.policy, ENV_ID, **settings))
    return {"p": p, "L": lead_time, "cost": result.average_cost, "stderr": result.stderr,
            "optimal": solution.average_cost, "table3": cell["optimal"],
            "gap_%": 100 * (result.average_cost / solution.average_cost - 1),
            "paired_%": 100 * diff / solution.average_cost, "paired_se_%": 100 * se / solution.average_cost,
            "base_stock_gap_%": 100 * (cell["base_stock"] / cell["optimal"] - 1), "cpu_s": cpu}


def main() -> None:
    """Parse the cells and print one row per cell."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(DEFAULT_CELLS), help="p:L pairs, e.g. 4:1 9:2")
    add_training_arguments(parser, epochs=100)
    add_evaluation_arguments(parser, envs=100, periods=5000, warmup=200)
    args = parser.parse_args()
    print(f"DirectBackprop on Zipkin (2008) Table 3 (Poisson(5), h=1); {args.epochs} epochs x {args.batch} paths x "
          f"{args.train_periods} periods, lr {args.lr:g}; evaluated on the kernel, {args.envs} envs x {args.periods} "
          "periods")
    print(f"{'p':>3} {'L':>2} {'cost':>8} {'+-se':>6} {'optimal':>8} {'Table 3':>7} {'gap %':>7} "
          f"{'paired gap % +- se':>18} {'best-BS gap %':>13} {'train CPU s':>11}")
    gaps, paired, cpus = [], [], []
    for cell in args.cells:
        p, lead_time = (int(v) for v in cell.split(":"))
        row = run_cell(p, lead_time, args)
        print(f"{row['p']:>3} {row['L']:>2} {row['cost']:>8.3f} {row['stderr']:>6.3f} {row['optimal']:>8.4f} "
              f"{row['table3']:>7.2f} {row['gap_%']:>7.2f} {row['paired_%']:>10.2f} +- {row['paired_se_%']:.2f} "
              f"{row['base_stock_gap_%']:>13.2f} {row['cpu_s']:>11.1f}", flush=True)
        gaps.append(row["gap_%"])
        paired.append(row["paired_%"])
        cpus.append(row["cpu_s"])
    print(f"gap to solve_exact: mean {np.mean(gaps):.2f} %, max {max(gaps):.2f} %; paired gap to the optimal policy "
          f"on the same demand: mean {np.mean(paired):.2f} %, max {max(paired):.2f} %; train CPU s: max "
          f"{max(cpus):.1f}")


if __name__ == "__main__":
    main()
