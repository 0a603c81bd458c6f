"""DirectBackprop on invgym/Retail-v0: end-to-end learning against predict-then-optimize (Madeka et al. 2022).

Run: ``python -m bench.agents_retail`` or ``--lead-times 0 2 --epochs 150``. A benchmark, never a test.

One policy for all 200 products of the synthetic panel, trained on the 2014-15 train window through the torch
twin ``invgym/twins/retail.py`` (each epoch: random products and a random start day, with their promotions and
calendar; :class:`~invgym.agents.direct_backprop.PanelSampler`), then evaluated on the compiled kernel exactly as
the leaderboard's retail track does: every product over the 2016 test window (200 envs x 366 days, seed 0). The
OR side is :class:`~invgym.baselines.PredictThenOptimize` (a quantile forecast of demand over the protection
period, then order up to it) and :class:`~invgym.baselines.DaysOfCover`, both fitted on the train window with
their defaults. Cost = purchase + holding + lost-sales penalty - revenue per product-day (negative: a profit);
the paired difference to predict-then-optimize is per env (the same products and lead-time draws).

Policies: ``db-mlp`` (every feature into one MLP with a base-stock head), ``db-history`` (the causal dilated
convolution encoder over the sales window, plus inventory, promotions, holiday and calendar, base-stock head) and
``db-pto`` (:class:`~invgym.agents.policies.ForecastLevelPolicy`: predict-then-optimize's fitted level, times a
factor in (0, 2) and plus a shift, both from an MLP trained end to end; the untrained policy orders as
predict-then-optimize does). ``--agents`` with no name prints the two baselines only.
"""

from __future__ import annotations

import argparse
import time

import invgym
from bench.agents_common import add_training_arguments, paired, training_config
from invgym.agents import DirectBackprop
from invgym.agents.policies import ForecastLevelPolicy
from invgym.baselines import DaysOfCover, PredictThenOptimize
from invgym.baselines.common import config_of

ENV_ID = "invgym/Retail-v0"
TEST = {"num_envs": 200, "periods": 366, "warmup": 0, "seed": 0}  # the leaderboard's retail protocol


def pto_start(pto: PredictThenOptimize, env: dict, cfg) -> ForecastLevelPolicy:
    """``db-pto``'s untrained policy: predict-then-optimize's level times a learned factor plus a learned shift."""
    config = config_of(ENV_ID, **env)
    slices = config.slices
    scale = max(float(config.panel.demand[list(config.products)].mean()), 1e-3)
    return ForecastLevelPolicy(pto.level, int(config.observation_space().shape[0]),
                               state_dim=slices["inventory"].stop, history=slices["sales"].stop - slices["sales"].start,
                               history_start=slices["sales"].start, hidden=tuple(cfg.hidden), scale=scale,
                               seed=cfg.seed)


def main() -> None:
    """Fit the baselines and both DirectBackprop policies per lead time; print one row per policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-times", nargs="*", type=int, default=[0, 2, 5])
    parser.add_argument("--agents", nargs="*", default=["db-mlp", "db-history"],
                        choices=["db-mlp", "db-history", "db-pto"])
    parser.add_argument("--warmup", type=int, default=28, help="uncounted days of each training path")
    parser.add_argument("--train-window", action="store_true",
                        help="also evaluate every policy on the first 366 days of the train window (in sample)")
    add_training_arguments(parser, epochs=300)
    # Chosen on the train window: at lr 1e-2 the history encoder diverges on this panel, and at L = 5 paths of
    # 56 days trained a policy that over-stocks (turnover 24 days) where 112 days did not (8 days).
    parser.set_defaults(train_periods=112, lr=3e-3)
    args = parser.parse_args()
    print(f"Retail-v0, all 200 products; trained on the train window ({args.epochs} epochs x {args.batch} paths x "
          f"{args.warmup}+{args.train_periods} days), evaluated on the 2016 test window on the kernel "
          f"({TEST['num_envs']} envs x {TEST['periods']} days, seed {TEST['seed']})")
    print(f"{'L':>2} {'policy':<22} {'cost':>8} {'+-se':>6} {'vs PtO':>8} {'+-se':>6} {'service':>8} "
          f"{'turnover d':>10} {'train CPU s':>11}")
    for lead_time in args.lead_times:
        train = {"product": "all", "lead_time": lead_time}
        test = {**train, "split": "test"}
        rows = {"PredictThenOptimize": (PredictThenOptimize.fit(ENV_ID, **train), 0.0),
                "DaysOfCover": (DaysOfCover.fit(ENV_ID, **train), 0.0)}
        for name in args.agents:
            cfg = training_config(args, args.warmup)
            policy_spec = (pto_start(rows["PredictThenOptimize"][0], train, cfg) if name == "db-pto"
                           else name.removeprefix("db-"))
            agent = DirectBackprop(ENV_ID, policy=policy_spec, config=cfg, **train)
            start = time.process_time()
            try:
                policy = agent.fit()
            except FloatingPointError as error:  # a diverged run is a result too: report it, go on
                print(f"{lead_time:>2} {name:<22} diverged after {time.process_time() - start:.1f} CPU s: {error}")
                continue
            rows[name] = (policy, time.process_time() - start)
        windows = {"": test, " (train window)": {**train, "split": "train"}} if args.train_window else {"": test}
        for suffix, split in windows.items():
            results = {name: invgym.evaluate(policy, ENV_ID, **TEST, **split) for name, (policy, _) in rows.items()}
            for name, result in results.items():
                diff, se = paired(result, results["PredictThenOptimize"])
                metrics = result.metrics
                print(f"{lead_time:>2} {name + suffix:<22} {result.average_cost:>8.3f} {result.stderr:>6.3f} "
                      f"{diff:>+8.3f} {se:>6.3f} {metrics['service_level']:>8.3f} {metrics['turnover_days']:>10.2f} "
                      f"{rows[name][1]:>11.1f}", flush=True)


if __name__ == "__main__":
    main()
