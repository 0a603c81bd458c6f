"""Issue 7, goal 3: DirectBackprop on the six dual-sourcing instances of Gijsbrechts et al. (2022), vs the DP optimum.

Run: ``python -m bench.agents_dual_sourcing`` (six instances) or ``--instances 2,105 4,110 --epochs 150``.
A benchmark, never a test.

Instances (Gijsbrechts, Boute, Van Mieghem & Zhang 2022, Sec. 6.2; Veeraraghavan & Scheller-Wolf 2008): demand
uniform on {0..4}, l_e = 0, l_r in {2, 3, 4}, c_r = 100, c_e in {105, 110}, h = 5, b = 495, backlogging,
purchase costs included. The optimum is :func:`invgym.baselines.solve_exact` (relative value iteration).

DirectBackprop trains the :class:`~invgym.agents.policies.DualIndexPolicy` head (``q_e = (S_e(x) - IPe)^+``,
``q_r = (S_r(x) - IP - q_e)^+``; the base-stock head of the default policy covers a single order only) through
the torch twin ``invgym/twins/dual_sourcing.py``, from three starts:

- ``db-poor``: a deliberately poor start, S_e = 0 (expedite only to clear a backlog) and S_r = mean demand
  over l_r periods;
- ``db-naive``: levels from the newsvendor quantiles alone (S_e = b/(b+h) quantile of one period's demand,
  S_r = S_e + mean demand over l_r periods), no simulation search: what DirectBackprop learns by itself;
- ``db-dual-index``: the levels :meth:`~invgym.baselines.DualIndex.fit` found (DirectBackprop then refines them);
- ``db-default``: ``DirectBackprop(config)`` with every setting at its default (``DirectBackpropConfig()``: 300
  epochs x 128 paths x 64 periods, lr 3e-3; the default head on dual sourcing is the dual-index head at the
  quantile levels of :func:`~invgym.agents.policies.dual_index_levels`, the same start as ``db-naive``), only
  the agent's own token evaluation cut. The other three use the benchmark's ``--epochs/--batch/--lr`` budget.

The fitted :class:`~invgym.baselines.CappedDualIndex` (Sun & Van Mieghem 2019; the best heuristic in
Gijsbrechts et al.'s comparison) is evaluated beside the fitted dual index. ``--instances`` are ``l_r,c_e``
(``l_e = 0``); ``1,105`` and ``1,110`` are the consecutive case l_r = l_e + 1 (where the dual index is optimal).

Each trained policy (orders rounded to integers) is evaluated twice: on the compiled kernel with
:func:`invgym.evaluate` (``num_envs`` x ``periods`` after ``warmup``, the same seeds for every policy) and exactly,
from its Markov chain (:func:`~invgym.baselines.exact_dual_sourcing.evaluate_dual_sourcing`; with l_e = 0 the
observation is the solver's reduced state, so the exact figure covers the state-dependent policy too).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import invgym
from bench.agents_common import add_evaluation_arguments, add_training_arguments, evaluation_settings, training_config
from invgym.agents import DirectBackprop, DirectBackpropConfig
from invgym.agents.policies import DualIndexPolicy, dual_index_levels
from invgym.baselines import CappedDualIndex, DualIndex, solve_exact
from invgym.baselines.exact_dual_sourcing import evaluate_dual_sourcing
from invgym.demand import DiscreteUniform
from invgym.envs.dual_sourcing import DualSourcingConfig

DATA = json.loads((Path(__file__).parent.parent / "tests" / "data" / "gijsbrechts_2022_dual_sourcing.json").read_text())


def instance(regular_lead_time: int, expedited_cost: float) -> DualSourcingConfig:
    """Gijsbrechts et al. (2022), Sec. 6.2."""
    return DualSourcingConfig.validate(
        "DualSourcingEnv", regular_lead_time=regular_lead_time, expedited_lead_time=0, demand=DiscreteUniform(0, 4),
        regular_cost=100.0, expedited_cost=expedited_cost, holding_cost=5.0, backorder_cost=495.0)


def naive_levels(config: DualSourcingConfig) -> tuple[float, float]:
    """(S_e, S_r) from quantiles only: the b/(b+h) quantile of one period's demand, plus the mean over l_r periods."""
    fractile = config.backorder_cost / (config.backorder_cost + config.holding_cost)
    s_e = float(config.demand.quantile(fractile, 1))
    return s_e, s_e + float(config.demand.mean) * config.regular_lead_time


def run_instance(name: str, args: argparse.Namespace) -> list[dict]:
    """Solve, fit dual index, train both DirectBackprop starts; return one row per policy."""
    lr, ce = name.split(",")
    config = instance(int(lr), float(ce))
    settings = evaluation_settings(args)
    optimum = solve_exact(config).average_cost
    dual = DualIndex.fit(config)
    starts = {"db-poor": (0.0, float(config.demand.mean) * config.regular_lead_time),
              "db-naive": naive_levels(config),
              "db-dual-index": (float(dual.params["expedited_level"]), float(dual.params["regular_level"]))}
    rows = []
    reference = invgym.evaluate(dual, config, **settings)
    rows.append({"instance": name, "policy": "dual_index (fitted)", "start": starts["db-dual-index"],
                 "sim": reference.average_cost, "se": reference.stderr, "exact": evaluate_dual_sourcing(config, dual),
                 "optimum": optimum, "cpu": 0.0, "start_gap": math.nan})
    capped = CappedDualIndex.fit(config)
    reference_capped = invgym.evaluate(capped, config, **settings)
    rows.append({"instance": name, "policy": "capped_dual_index", "start": (capped.params["expedited_level"],
                                                                            capped.params["regular_level"]),
                 "sim": reference_capped.average_cost, "se": reference_capped.stderr,
                 "exact": evaluate_dual_sourcing(config, capped), "optimum": optimum, "cpu": 0.0,
                 "start_gap": math.nan})
    for agent_name in args.agents:
        if agent_name == "db-default":
            agent = DirectBackprop(config, config=DirectBackpropConfig(eval_envs=8, eval_periods=10, eval_warmup=0,
                                                                       seed=args.train_seed))
            start = time.process_time()
            policy = agent.fit()
            cpu = time.process_time() - start
            result = invgym.evaluate(policy, config, **settings)
            levels = dual_index_levels(config)
            initial = evaluate_dual_sourcing(config, DualIndex(config, expedited_level=levels[0],
                                                               regular_level=levels[1]))
            rows.append({"instance": name, "policy": agent_name, "start": levels, "sim": result.average_cost,
                         "start_gap": 100 * (initial / optimum - 1), "se": result.stderr,
                         "exact": evaluate_dual_sourcing(config, policy), "optimum": optimum, "cpu": cpu})
            continue
        s_e, s_r = starts[agent_name]
        module = DualIndexPolicy(config.regular_lead_time, config.expedited_lead_time, s_e, s_r, hidden=(32, 32),
                                 scale=float(config.demand.mean), max_expedited=float(config.max_order[1]),
                                 seed=args.train_seed)
        cfg = training_config(args, 8 + 4 * config.regular_lead_time, base_stock_head=False)
        agent = DirectBackprop(config, policy=module, config=cfg)
        start = time.process_time()
        policy = agent.fit()
        cpu = time.process_time() - start
        result = invgym.evaluate(policy, config, **settings)
        initial = evaluate_dual_sourcing(config, DualIndex(config, expedited_level=s_e, regular_level=s_r))
        rows.append({"instance": name, "policy": agent_name, "start": (s_e, s_r), "sim": result.average_cost,
                     "start_gap": 100 * (initial / optimum - 1),
                     "se": result.stderr, "exact": evaluate_dual_sourcing(config, policy), "optimum": optimum,
                     "cpu": cpu})
    return rows


def main() -> None:
    """Print one row per instance and policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="*", default=[*DATA["gaps_percent"], "1,105", "1,110"],
                        help="l_r,c_e e.g. 2,105")
    parser.add_argument("--agents", nargs="*", default=["db-poor", "db-naive", "db-dual-index", "db-default"],
                        choices=["db-poor", "db-naive", "db-dual-index", "db-default"])
    add_training_arguments(parser, epochs=150)
    add_evaluation_arguments(parser)
    args = parser.parse_args()
    print(f"Dual sourcing, Gijsbrechts et al. (2022) Sec. 6.2; simulated on the kernel: {args.envs} envs x "
          f"{args.periods} periods after {args.warmup} warm-up (common random numbers); exact = Markov chain")
    print(f"{'inst':>6} {'policy':<20} {'start (S_e, S_r)':>18} {'optimum':>9} {'start gap %':>11} {'exact':>9} "
          f"{'gap %':>6} {'simulated':>9} {'+-se':>5} {'train CPU s':>11}")
    for name in args.instances:
        for row in run_instance(name, args):
            gap = 100 * (row["exact"] / row["optimum"] - 1)
            start = f"({row['start'][0]:g}, {row['start'][1]:g})"
            print(f"{row['instance']:>6} {row['policy']:<20} {start:>18} {row['optimum']:>9.3f} "
                  f"{row['start_gap']:>11.2f} {row['exact']:>9.3f} {gap:>6.2f} {row['sim']:>9.3f} {row['se']:>5.2f} "
                  f"{row['cpu']:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
