"""DirectBackprop with signed (order/remove) actions on procurement-removal, against solve_exact and IntervalStock.

Run: ``python -m bench.agents_procurement_removal`` (eight cases) or ``--cases declining seasonal-3``.
A benchmark, never a test.

The default DirectBackprop policy on ``invgym/ProcurementRemoval-v0`` is the signed interval head of
:class:`~invgym.agents.policies.OrderPolicy` (``u = relu(a(x) - position) - relu(position - b(x))``, a per-phase
level table with a demand schedule, started at the agent's own newsvendor estimate
:func:`~invgym.agents.policies.schedule_levels`); training paths are drawn from the env's demand model or
schedule (no ``demand_paths``). Stationary cases are compared with :func:`invgym.baselines.solve_exact`
(relative value iteration; its policy is run on the same demand, so the paired gap has a small standard error);
every case with :class:`~invgym.baselines.IntervalStock` fitted by its own simulation search. Long-run cases
count ``periods`` periods after ``warmup``; the declining-demand case is the env's 52-period episode from an
overstocked start (``warmup = 0``), trained on whole episodes.
"""

from __future__ import annotations

import argparse
import math
import time

import invgym
from bench.agents_common import add_evaluation_arguments, add_training_arguments, evaluation_settings, paired
from invgym.agents import DirectBackprop, DirectBackpropConfig
from invgym.baselines import IntervalStock, solve_exact
from invgym.demand import DiscreteUniform, Poisson

ENV_ID = "invgym/ProcurementRemoval-v0"
EPISODE = 52
CASES = {
    "ls-L0-uniform": dict(lead_time=0, demand=DiscreteUniform(0, 6), purchase_cost=3.0, salvage_value=1.0),
    "bl-L1": dict(lead_time=1, backlog=True, demand=Poisson(4.0), purchase_cost=3.0, salvage_value=1.0,
                  max_order=30),
    "ls-L1": dict(lead_time=1, demand=Poisson(4.0)),
    "ls-L2": dict(lead_time=2, demand=Poisson(4.0)),
    "bl-L2": dict(lead_time=2, backlog=True, demand=Poisson(4.0), max_order=30),
    "bl-L2-uniform": dict(lead_time=2, backlog=True, demand=DiscreteUniform(0, 6), max_order=30),
    "declining": dict(lead_time=2, demand_schedule=[Poisson(max(8.0 * 0.95**t, 0.2)) for t in range(EPISODE)],
                      initial_state=[60, 0], horizon=EPISODE, purchase_cost=3.0, salvage_value=1.5,
                      removal_cost=0.25, max_removal=60),
    "seasonal-3": dict(lead_time=0, demand_schedule=[DiscreteUniform(0, 8), DiscreteUniform(0, 1),
                                                     DiscreteUniform(0, 1)], purchase_cost=3.0, salvage_value=2.5,
                       max_removal=8),
    "seasonal-12": dict(lead_time=2, demand_schedule=[Poisson(5.0 + 3.0 * math.sin(2 * math.pi * t / 12))
                                                      for t in range(12)], purchase_cost=3.0, salvage_value=1.5,
                        max_removal=20),
}


def run_case(name: str, args: argparse.Namespace) -> dict:
    """Train DirectBackprop, fit IntervalStock (and solve exactly when stationary); evaluate all on the same demand."""
    env = CASES[name]
    episode = "horizon" in env
    settings = evaluation_settings(args)
    if episode:
        settings.update(periods=env["horizon"], warmup=0)
    cfg = DirectBackpropConfig(epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr, seed=args.train_seed,
                               periods=env["horizon"] if episode else args.train_periods,
                               warmup=0 if episode else 8 + 4 * env["lead_time"], eval_envs=8, eval_periods=10,
                               eval_warmup=0)
    agent = DirectBackprop(ENV_ID, config=cfg, **env)
    start = time.process_time()
    policy = agent.fit()
    cpu = time.process_time() - start
    result = invgym.evaluate(policy, ENV_ID, **settings, **env)
    fit = {} if episode else {"periods": 2000, "warmup": 100}
    interval = invgym.evaluate(IntervalStock.fit(ENV_ID, **fit, **env), ENV_ID, **settings, **env)
    row = {"case": name, "cost": result.average_cost, "se": result.stderr, "interval": interval.average_cost,
           "removed": result.metrics.get("average_removed", math.nan), "cpu": cpu,
           "vs_interval": paired(result, interval), "optimum": math.nan, "vs_optimum": (math.nan, math.nan)}
    if "demand_schedule" not in env:
        solution = solve_exact(ENV_ID, **env)
        row["optimum"] = solution.average_cost
        diff, se = paired(result, invgym.evaluate(solution.policy, ENV_ID, **settings, **env))
        row["vs_optimum"] = (100 * diff / solution.average_cost, 100 * se / solution.average_cost)
    return row


def main() -> None:
    """Print one row per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    add_training_arguments(parser, epochs=200)
    add_evaluation_arguments(parser)
    args = parser.parse_args()
    print(f"Procurement-removal, default DirectBackprop (signed interval head); {args.epochs} epochs x {args.batch} "
          f"paths; evaluated on the kernel, {args.envs} envs x {args.periods} periods after {args.warmup} warm-up "
          f"(episode cases: {args.envs} envs x one {EPISODE}-period episode), common random numbers")
    print(f"{'case':<14} {'db cost':>8} {'+-se':>6} {'optimum':>8} {'paired gap % +- se':>18} {'IntervalStock':>13} "
          f"{'db - IS':>8} {'+-se':>6} {'removed/period':>14} {'train CPU s':>11}")
    for name in args.cases:
        r = run_case(name, args)
        d, se = r["vs_interval"]
        g, gse = r["vs_optimum"]
        print(f"{r['case']:<14} {r['cost']:>8.4f} {r['se']:>6.4f} {r['optimum']:>8.4f} {g:>10.2f} +- {gse:<5.2f} "
              f"{r['interval']:>13.4f} {d:>+8.4f} {se:>6.4f} {r['removed']:>14.3f} {r['cpu']:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
