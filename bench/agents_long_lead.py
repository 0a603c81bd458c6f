"""Issue 7, goal 1: DirectBackprop against the best OR heuristic at long lead times (L = 6, 8, 10).

Run: ``python -m bench.agents_long_lead`` (all twelve cells; training both policies takes 11-14 CPU s a cell) or
``python -m bench.agents_long_lead --cells 9:6 39:10 --epochs 200``. A benchmark, never a test.

Lost sales, Poisson(5) demand, h = 1, p in {4, 9, 19, 39}. The exact optimum is out of reach at these lead times
(the state space grows like (max order)^L), so the yardstick is the best of the OR heuristics, each fitted with
its own ``.fit`` (simulation search on common random numbers): :class:`~invgym.baselines.BaseStock`,
:class:`~invgym.baselines.CappedBaseStock` (Xin 2021) and :class:`~invgym.baselines.VectorBaseStock` (Zipkin
2008, levels searched by coordinate descent).

Two DirectBackprop policies are trained per cell, on the torch twin, then evaluated on the compiled kernel with
:func:`invgym.evaluate` (orders rounded to integers), all policies on the same demand (common random numbers:
``num_envs`` envs seeded ``seed + i``, ``warmup`` uncounted periods, then ``periods`` counted ones per env):

- ``db-mlp``: the default DirectBackprop policy (MLP with a base-stock head started at Morton's level);
- ``db-capped``: the :class:`~invgym.agents.policies.CappedBaseStockPolicy` head started at the fitted capped
  base-stock levels (S, r), so DirectBackprop refines the best heuristic by making S and r depend on the pipeline;
- ``db-default``: ``DirectBackprop`` exactly as a new user gets it (``DirectBackpropConfig()``: 300 epochs x 128
  paths x 64 periods after 16 warm-up, lr 3e-3, the MLP with a base-stock head at Morton's level; no heuristic
  start), only the agent's own token evaluation cut;
- ``db-selected``: whichever of the two costs less on a validation run with other seeds (``--validation-seed``),
  reported on the evaluation seeds: model selection that never looks at the evaluation demand.

The paired difference to the best heuristic is reported with its standard error (per-env differences).
"""

from __future__ import annotations

import argparse
import time

import invgym
from bench.agents_common import (
    add_evaluation_arguments,
    add_training_arguments,
    evaluation_settings,
    paired,
    training_config,
)
from invgym.agents import DirectBackprop, DirectBackpropConfig
from invgym.agents.policies import CappedBaseStockPolicy
from invgym.baselines import BaseStock, CappedBaseStock, VectorBaseStock

ENV_ID = "invgym/LostSales-v0"
DEFAULT_CELLS = tuple(f"{p}:{lead}" for lead in (6, 8, 10) for p in (4, 9, 19, 39))


def run_cell(p: int, lead_time: int, args: argparse.Namespace) -> list[dict]:
    """Fit the heuristics, train both DirectBackprop policies, evaluate all on the same demand; return rows."""
    env = {"lead_time": lead_time, "lost_sales_cost": float(p)}
    settings = evaluation_settings(args)
    rows, results, validation = [], {}, {}
    start = time.process_time()
    heuristics = {"base_stock": BaseStock.fit(ENV_ID, **env), "capped_base_stock": CappedBaseStock.fit(ENV_ID, **env),
                  "vector_base_stock": VectorBaseStock.fit(ENV_ID, search=True, **env)}
    fit_cpu = time.process_time() - start
    for name, policy in heuristics.items():
        results[name] = invgym.evaluate(policy, ENV_ID, **settings, **env)
    best = min(heuristics, key=lambda k: results[k].average_cost)
    capped = heuristics["capped_base_stock"].params
    for name in args.agents:
        lr = args.lr if name == "db-mlp" else args.lr_capped
        cfg = training_config(args, 8 + 4 * lead_time, learning_rate=lr)
        if name == "db-default":
            cfg = DirectBackpropConfig(eval_envs=8, eval_periods=10, eval_warmup=0, seed=args.train_seed)
            agent = DirectBackprop(ENV_ID, config=cfg, **env)
        elif name == "db-capped":
            module = CappedBaseStockPolicy(max(lead_time, 1), float(capped["level"]), float(capped["cap"]),
                                           hidden=(32, 32), scale=5.0, seed=args.train_seed)
            agent = DirectBackprop(ENV_ID, policy=module, config=cfg, **env)
        else:
            agent = DirectBackprop(ENV_ID, config=cfg, **env)
        start = time.process_time()
        policy = agent.fit()
        cpu = time.process_time() - start
        results[name] = invgym.evaluate(policy, ENV_ID, **settings, **env)
        validation[name] = invgym.evaluate(policy, ENV_ID, **{**settings, "seed": args.validation_seed}, **env)
        rows.append(_row(p, lead_time, name, results, best, cpu, fit_cpu, heuristics, capped))
    if len(validation) > 1:
        # Model selection on demand the evaluation never sees (other seeds), as one would pick a run in practice.
        chosen = min(validation, key=lambda k: validation[k].average_cost)
        results["db-selected"] = results[chosen]
        rows.append(_row(p, lead_time, "db-selected", results, best, 0.0, fit_cpu, heuristics, capped, chosen))
    return rows


def _row(p: int, lead_time: int, name: str, results: dict, best: str, cpu: float, fit_cpu: float,
         heuristics: dict, capped: dict, chosen: str = "") -> dict:
    diff, se = paired(results[name], results[best])
    return {"p": p, "L": lead_time, "agent": name, "cost": results[name].average_cost, "best": best,
            "best_cost": results[best].average_cost, "diff": diff, "se": se,
            "gap_%": 100 * diff / results[best].average_cost, "train_cpu_s": cpu, "fit_cpu_s": fit_cpu,
            "heuristics": {k: round(r.average_cost, 4) for k, r in results.items() if k in heuristics},
            "capped_levels": (capped["level"], capped["cap"]), "chosen": chosen}


def main() -> None:
    """Parse the cells and print one row per cell and agent."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(DEFAULT_CELLS), help="p:L pairs, e.g. 9:6 39:10")
    parser.add_argument("--agents", nargs="*", default=["db-mlp", "db-capped"],
                        choices=["db-mlp", "db-capped", "db-default"])
    add_training_arguments(parser, epochs=200)
    parser.add_argument("--lr-capped", type=float, default=1e-2, help="learning rate of the db-capped policy")
    add_evaluation_arguments(parser)
    parser.add_argument("--validation-seed", type=int, default=777_000, help="seed of the selection runs")
    args = parser.parse_args()
    print(f"Lost sales, Poisson(5), h=1; evaluated on the kernel: {args.envs} envs x {args.periods} periods after "
          f"{args.warmup} warm-up (= {args.envs * args.periods:,} counted periods), common random numbers")
    print(f"{'p':>3} {'L':>2} {'agent':<10} {'cost':>8} {'best heuristic':>18} {'cost':>8} {'diff':>8} {'+-se':>6} "
          f"{'gap %':>7} {'train CPU s':>11}  all heuristics")
    for cell in args.cells:
        p, lead_time = (int(v) for v in cell.split(":"))
        for row in run_cell(p, lead_time, args):
            print(f"{row['p']:>3} {row['L']:>2} {row['agent']:<10} {row['cost']:>8.4f} {row['best']:>18} "
                  f"{row['best_cost']:>8.4f} {row['diff']:>+8.4f} {row['se']:>6.4f} {row['gap_%']:>+7.2f} "
                  f"{row['train_cpu_s']:>11.1f}  {row['heuristics']} (S, r)={row['capped_levels']} {row['chosen']}",
                  flush=True)


if __name__ == "__main__":
    main()
