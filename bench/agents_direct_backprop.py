"""DirectBackprop on Zipkin's (2008) Table 3 cells: gap to the published optimum and CPU seconds per cell.

Run: ``python -m bench.agents_direct_backprop`` (the default cells take under a minute on one core) or
``python -m bench.agents_direct_backprop --cells 4:1 9:2 39:4 --epochs 200``. A benchmark, never a test.

Each cell trains a fresh policy (base-stock head, one torch thread) and evaluates it on the compiled kernel with
:func:`invgym.evaluate` (integer orders, rounded), reporting the gap to the optimal cost of Table 3 and to the
best base-stock cost, plus the CPU seconds of training (``time.process_time``, this process only).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import invgym
from invgym.agents import DirectBackprop, DirectBackpropConfig

TABLE3 = json.loads((Path(__file__).parent.parent / "tests" / "data" / "zipkin_2008_table3.json").read_text())
DEFAULT_CELLS = ("4:1", "9:1", "4:2", "9:2")
ENV_ID = "invgym/LostSales-v0"


def run_cell(p: int, lead_time: int, epochs: int, seed: int) -> dict:
    """Train and evaluate one cell; return its row."""
    cfg = DirectBackpropConfig(epochs=epochs, batch_size=64, periods=32, warmup=8 + 4 * lead_time,
                               learning_rate=1e-2, seed=seed, eval_envs=8, eval_periods=10, eval_warmup=0)
    agent = DirectBackprop(ENV_ID, config=cfg, lead_time=lead_time, lost_sales_cost=float(p))
    start = time.process_time()
    policy = agent.fit()
    cpu = time.process_time() - start
    result = invgym.evaluate(policy, ENV_ID, num_envs=100, periods=5000, warmup=200, seed=2024,
                             lead_time=lead_time, lost_sales_cost=float(p))
    cell = TABLE3[str(p)][str(lead_time)]
    return {"p": p, "L": lead_time, "cost": result.average_cost, "stderr": result.stderr,
            "optimal": cell["optimal"], "gap_%": 100 * (result.average_cost / cell["optimal"] - 1),
            "base_stock_gap_%": 100 * (cell["base_stock"] / cell["optimal"] - 1), "cpu_s": cpu}


def main() -> None:
    """Parse the cells and print one row per cell."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(DEFAULT_CELLS), help="p:L pairs, e.g. 4:1 9:2")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("DirectBackprop on Zipkin (2008) Table 3 (Poisson(5), h=1); evaluated on the kernel, 100 envs x 5000 "
          "periods")
    print(f"{'p':>3} {'L':>2} {'cost':>8} {'+-se':>6} {'optimal':>8} {'gap %':>7} {'best-BS gap %':>13} "
          f"{'train CPU s':>11}")
    for cell in args.cells:
        p, lead_time = (int(v) for v in cell.split(":"))
        row = run_cell(p, lead_time, args.epochs, args.seed)
        print(f"{row['p']:>3} {row['L']:>2} {row['cost']:>8.3f} {row['stderr']:>6.3f} {row['optimal']:>8.2f} "
              f"{row['gap_%']:>7.2f} {row['base_stock_gap_%']:>13.2f} {row['cpu_s']:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
