"""Issue 12, item 4: the default DirectBackprop on perishable inventory against the heuristics and the optimum.

Run: ``python -m bench.agents_perishable`` (FIFO and LIFO, m = 2..5) or ``--cells fifo:2 lifo:3``. A benchmark,
never a test.

De Moor, Gijsbrechts & Boute (2022), scenario A (the env's defaults): gamma demand with mean 4 and CV 0.5, L = 1,
orders 0..10, ordering 3, lost sale 5, waste 7, holding 1; shelf life m in 2..5, FIFO or LIFO issuing. Per cell:

- the perishable heuristics, each fitted with its own ``.fit`` (simulation search on common random numbers):
  :class:`~invgym.baselines.PerishableBaseStock`, :class:`~invgym.baselines.PerishableCappedBaseStock` and the
  EWA policy :class:`~invgym.baselines.EstimatedWithdrawalBaseStock`;
- ``solve_exact`` (average-cost value iteration on the full state, ``(Q + 1)^(m - 1 + L)`` states) and its
  optimal table policy; the solver estimates its working memory first (m = 5: 161,051 states, about 0.6 GiB)
  and a cell it refuses gets no exact column;
- ``db-default``: ``DirectBackprop`` exactly as a new user gets it (``DirectBackpropConfig()``, the MLP with a
  base-stock head; no heuristic start), only the agent's own token evaluation cut.

Every policy is evaluated on the compiled kernel with :func:`invgym.evaluate` on the same demand (common random
numbers); ``vs best`` is the paired per-env difference of the agent to the best heuristic, ``vs exact`` to the
optimal table policy, each with its standard error.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

import invgym
from bench.agents_common import add_evaluation_arguments, evaluation_settings, paired
from invgym.agents import DirectBackprop, DirectBackpropConfig
from invgym.baselines import EstimatedWithdrawalBaseStock, PerishableBaseStock, PerishableCappedBaseStock, solve_exact

ENV_ID = "invgym/Perishable-v0"
DEFAULT_CELLS = tuple(f"{issuing}:{m}" for issuing in ("fifo", "lifo") for m in (2, 3, 4, 5))
HEURISTICS = {"base_stock": PerishableBaseStock, "capped_base_stock": PerishableCappedBaseStock,
              "ewa": EstimatedWithdrawalBaseStock}


def run_cell(issuing: str, shelf_life: int, args: argparse.Namespace) -> dict:
    """Fit the heuristics, solve exactly, train the default agent, evaluate all on the same demand."""
    env = {"shelf_life": shelf_life, "issuing": issuing}
    settings = evaluation_settings(args)
    results, cpu = {}, {}
    for name, cls in HEURISTICS.items():
        start = time.process_time()
        policy = cls.fit(ENV_ID, **env)
        cpu[name] = time.process_time() - start
        results[name] = invgym.evaluate(policy, ENV_ID, **settings, **env)
    start = time.process_time()
    try:
        solution = solve_exact(ENV_ID, **env)
    except ValueError as error:  # over the solver's memory budget: heuristics only
        print(f"{issuing}:{shelf_life}: no exact optimum ({error})", flush=True)
        solution = None
    cpu["exact"] = time.process_time() - start
    if solution is not None:
        results["exact"] = invgym.evaluate(solution.policy, ENV_ID, **settings, **env)
    cfg = DirectBackpropConfig(eval_envs=8, eval_periods=10, eval_warmup=0, seed=args.train_seed)
    agent = DirectBackprop(ENV_ID, config=cfg, **env)
    start = time.process_time()
    policy = agent.fit()
    cpu["db-default"] = time.process_time() - start
    results["db-default"] = invgym.evaluate(policy, ENV_ID, **settings, **env)
    best = min(HEURISTICS, key=lambda k: results[k].average_cost)
    nan = float("nan")
    return {"results": results, "cpu": cpu, "best": best, "optimum": nan if solution is None else solution.average_cost,
            "states": 0 if solution is None else solution.num_states,
            "memory_gib": float("nan") if solution is None else solution.info["memory_bytes"] / 2**30,
            "vs_best": paired(results["db-default"], results[best]),
            "vs_exact": (nan, nan) if solution is None else paired(results["db-default"], results["exact"])}


def main() -> None:
    """Parse the cells and print one row per cell."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(DEFAULT_CELLS), help="issuing:m pairs, e.g. lifo:2")
    parser.add_argument("--train-seed", type=int, default=0)
    add_evaluation_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"Perishable (De Moor et al. 2022 scenario A, L=1, waste 7), default DirectBackprop; evaluated on the "
          f"kernel: {args.envs} envs x {args.periods} periods after {args.warmup} warm-up, common random numbers")
    print(f"{'cell':<7} {'states':>7} {'optimum':>8} {'exact sim':>9} {'base':>8} {'capped':>8} {'ewa':>8} "
          f"{'db':>8} {'best':>17} {'db-best':>8} {'+-se':>6} {'gap %':>6} {'db-exact':>8} {'+-se':>6} {'gap %':>6} "
          f"{'train CPU s':>11} {'exact CPU s':>11} {'exact GiB':>9}")
    for cell in args.cells:
        issuing, m = cell.split(":")
        row = run_cell(issuing, int(m), args)
        r = {"exact": float("nan"), **{k: v.average_cost for k, v in row["results"].items()}}
        (db, db_se), (de, de_se) = row["vs_best"], row["vs_exact"]
        print(f"{cell:<7} {row['states']:>7,} {row['optimum']:>8.4f} {r['exact']:>9.4f} {r['base_stock']:>8.4f} "
              f"{r['capped_base_stock']:>8.4f} {r['ewa']:>8.4f} {r['db-default']:>8.4f} {row['best']:>17} "
              f"{db:>+8.4f} {db_se:>6.4f} {100 * db / r[row['best']]:>+6.2f} {de:>+8.4f} {de_se:>6.4f} "
              f"{100 * de / r['exact']:>+6.2f} {row['cpu']['db-default']:>11.1f} {row['cpu']['exact']:>11.1f} "
              f"{row['memory_gib']:>9.3f}",
              flush=True)
    print(f"whole run: {time.process_time():.1f} CPU s, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.3f} GiB")


if __name__ == "__main__":
    main()
