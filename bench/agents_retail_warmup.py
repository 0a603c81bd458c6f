"""Issue 12 (item 7): does ``bench.agents_retail``'s 28-day training warm-up let the policy buy stock for free?

Run: ``python -m bench.agents_retail_warmup`` or ``--lead-times 5 --warmups 28 0``. A diagnostic, never a test.

Retail charges a purchase on the day it is ordered. Days that DirectBackprop's loss does not count (the training
path's warm-up) make stock bought on them free while the revenue it earns later counts; the leaderboard found its
retail/L5 policy binged on an empty pipeline for that reason (``agents/board.py``'s ``_DB_RETAIL``). The test
protocol counts from the first day with empty shelves, so a binge learnt there is paid for. For each lead time and
warm-up, this trains ``db-mlp`` as ``bench.agents_retail`` does and prints its mean order per product on the
first test days beside predict-then-optimize's, and both policies' test cost (leaderboard protocol, paired).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import invgym
from bench.agents_common import add_training_arguments, paired, training_config
from bench.agents_retail import ENV_ID, TEST
from invgym.agents import DirectBackprop
from invgym.baselines import PredictThenOptimize
from invgym.evaluate import policy_actions


def recorded(policy, days: int):
    """``policy`` as ``obs -> actions``, keeping the mean order over the envs of its first ``days`` calls."""
    act, log = policy_actions(policy), []

    def wrapped(obs):
        actions = act(obs)
        if len(log) < days:
            log.append(float(np.asarray(actions, dtype=np.float64).mean()))
        return actions
    return wrapped, log


def main() -> None:
    """Per lead time: PtO, then db-mlp per warm-up; mean orders on the first test days and the test cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lead-times", nargs="*", type=int, default=[5])
    parser.add_argument("--warmups", nargs="*", type=int, default=[28, 0])
    parser.add_argument("--days", type=int, default=8, help="first test days whose mean order is printed")
    add_training_arguments(parser, epochs=300)
    parser.set_defaults(train_periods=112, lr=3e-3)  # bench.agents_retail's defaults
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"Retail-v0, all 200 products, db-mlp ({args.epochs} epochs x {args.batch} paths x W+{args.train_periods} "
          f"days, lr {args.lr:g}); test window on the kernel ({TEST['num_envs']} envs x {TEST['periods']} days, seed "
          f"{TEST['seed']}); mean order per product on test days 0..{args.days - 1}")
    for lead_time in args.lead_times:
        train = {"product": "all", "lead_time": lead_time}
        test = {**train, "split": "test"}
        pto, log = recorded(PredictThenOptimize.fit(ENV_ID, **train), args.days)
        base = invgym.evaluate(pto, ENV_ID, **TEST, **test)
        print(f"L={lead_time} PredictThenOptimize        orders {' '.join(f'{x:6.2f}' for x in log)}  cost "
              f"{base.average_cost:.3f}")
        for warmup in args.warmups:
            agent = DirectBackprop(ENV_ID, policy="mlp", config=training_config(args, warmup), **train)
            start = time.process_time()
            policy = agent.fit()
            cpu = time.process_time() - start
            act, log = recorded(policy, args.days)
            result = invgym.evaluate(act, ENV_ID, **TEST, **test)
            diff, se = paired(result, base)
            print(f"L={lead_time} db-mlp warm-up {warmup:>2} days     orders {' '.join(f'{x:6.2f}' for x in log)}  "
                  f"cost {result.average_cost:.3f}, vs PtO {diff:+.3f} +- {se:.3f}, service "
                  f"{result.metrics['service_level']:.3f}, turnover {result.metrics['turnover_days']:.2f} d "
                  f"({cpu:.1f} train CPU s)", flush=True)


if __name__ == "__main__":
    main()
