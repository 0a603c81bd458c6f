"""Issue 7, goal 2: one DirectBackprop policy for 50 products at L = 0, learnt from sales history only.

Run: ``python -m bench.agents_history`` or ``--epochs 150 --history 32``. A benchmark, never a test.

Lost sales with L = 0, h = 1, p = 9, demand ``ProductMixture.from_ranges(num_products=50)`` (Poisson, means
uniform on [2, 10]): every training path draws one product and keeps it, and the policy (the history encoder
of ``agents/policies.py``, causal dilated convolutions over the last ``history`` sales, with a base-stock head)
is never told which: it must infer the order-up-to level from the sales it sees.

For L = 0 the per-product optimum is the newsvendor: order up to the critical-fractile quantile
S_k = F_k^{-1}(p / (p + h)), with cost C_k = E[h (S_k - D)^+ + p (D - S_k)^+], computed exactly from each
product's pmf. The trained policy is evaluated on the compiled kernel product by product (:func:`invgym.evaluate`,
``num_envs`` x ``periods`` counted periods per product after a warm-up that fills the sales history), and so is
the newsvendor base-stock policy (:class:`~invgym.baselines.BaseStock`, critical fractile) on the same seeds
(common random numbers). Reported: the cost-weighted gap ``sum_k cost_k / sum_k C_k - 1`` to the exact optimum,
and the paired gap to the simulated newsvendor policy (less noisy).
"""

from __future__ import annotations

import argparse
import math
import time

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
from invgym.baselines import BaseStock
from invgym.demand import ProductMixture

ENV_ID = "invgym/LostSales-v0"


def newsvendor(pmf: np.ndarray, h: float, p: float) -> tuple[int, float]:
    """Critical-fractile level and its exact expected cost per period (lost sales, L = 0)."""
    cdf = np.cumsum(pmf)
    level = int(np.searchsorted(cdf, p / (p + h) - 1e-12))
    d = np.arange(len(pmf))
    return level, float(np.sum(pmf * (h * np.maximum(level - d, 0) + p * np.maximum(d - level, 0))))


def _poisson_pmf(mean: float, size: int) -> np.ndarray:
    k = np.arange(size)
    log = k * np.log(max(mean, 1e-300)) - mean - np.array([math.lgamma(v + 1.0) for v in k])
    return np.exp(log)


def plug_in_gap(pmf: np.ndarray, mean: float, window: int, h: float, p: float) -> float:
    """Expected cost of the plug-in newsvendor that sees ``window`` uncensored demands of a Poisson product.

    It estimates the mean by the sample mean K / window (K ~ Poisson(mean * window)) and orders up to the
    critical-fractile quantile of Poisson(K / window). This is what the best history policy could do with a window
    of that length if it also knew the demand family and saw demand rather than censored sales, so its gap is a
    yardstick for the gap the learnt policy can reach (computed exactly, summing over K; no sampling).
    """
    size = len(pmf) + 40
    d = np.arange(len(pmf))
    cost_at = np.array([np.sum(pmf * (h * np.maximum(s - d, 0) + p * np.maximum(d - s, 0))) for s in range(size)])
    top = int(mean * window + 12 * math.sqrt(mean * window) + 20)
    weights = _poisson_pmf(mean * window, top)
    total = 0.0
    for k in np.nonzero(weights > 1e-12)[0]:
        level = int(np.searchsorted(np.cumsum(_poisson_pmf(k / window, size)), p / (p + h) - 1e-12))
        total += weights[k] * cost_at[min(level, size - 1)]
    return float(total / weights[weights > 1e-12].sum())


def main() -> None:
    """Train once, evaluate per product, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--history", type=int, default=32)
    parser.add_argument("--p", type=float, default=9.0)
    add_training_arguments(parser, epochs=120)
    add_evaluation_arguments(parser, envs=1000, periods=100, warmup=20)  # plus the history window
    parser.add_argument("--show", type=int, default=5, help="products listed one by one")
    args = parser.parse_args()
    h, p = 1.0, args.p
    mixture = ProductMixture.from_ranges(num_products=args.products, seed=0)
    env = {"lead_time": 0, "lost_sales_cost": p, "holding_cost": h, "history": args.history}
    cfg = training_config(args, args.history, window=args.history)
    agent = DirectBackprop(ENV_ID, policy="history", config=cfg, demand=mixture, **env)
    max_order = agent.env_config.max_order  # the mixture's bound: every product's env gets the same action space
    start = time.process_time()
    policy = agent.fit()
    cpu = time.process_time() - start
    settings = {**evaluation_settings(args), "warmup": args.history + args.warmup}
    rows = []
    start = time.process_time()
    for k, product in enumerate(mixture.products()):
        kwargs = {**env, "demand": product, "max_order": max_order}
        level, optimum = newsvendor(product.pmf(), h, p)
        learnt = invgym.evaluate(policy, ENV_ID, **settings, **kwargs)
        news = invgym.evaluate(BaseStock.fit(ENV_ID, **kwargs), ENV_ID, **settings, **kwargs)
        rows.append((k, product.mean, level, optimum, news.average_cost, learnt.average_cost, *paired(learnt, news),
                     plug_in_gap(product.pmf(), product.mean, args.history, h, p)))
    eval_cpu = time.process_time() - start
    r = np.array(rows)
    print(f"L=0, h={h:g}, p={p:g}, {args.products} Poisson products (means U[2, 10]); history encoder, window "
          f"{args.history}; {args.epochs} epochs x {args.batch} paths x {args.history}+{args.train_periods} periods "
          f"({cpu:.1f} s train CPU, {eval_cpu:.1f} s evaluation CPU)")
    print(f"evaluated per product on the kernel: {args.envs} envs x {args.periods} periods after "
          f"{settings['warmup']} warm-up = {args.envs * args.periods:,} counted periods per product")
    print(f"{'product':>7} {'mean':>6} {'S*':>3} {'exact C*':>9} {'newsvendor sim':>14} {'learnt':>8} {'gap %':>7}")
    for row in rows[: args.show]:
        print(f"{row[0]:>7d} {row[1]:>6.2f} {row[2]:>3d} {row[3]:>9.4f} {row[4]:>14.4f} {row[5]:>8.4f} "
              f"{100 * (row[5] / row[3] - 1):>7.2f}")
    weighted = 100 * (r[:, 5].sum() / r[:, 3].sum() - 1)
    paired_gap = 100 * r[:, 6].sum() / r[:, 4].sum()
    paired_se = 100 * np.sqrt((r[:, 7] ** 2).sum()) / r[:, 4].sum()
    print(f"cost-weighted gap to the exact per-product optimum: {weighted:+.3f} %")
    print(f"cost-weighted paired gap to the simulated newsvendor (same demand): {paired_gap:+.3f} % +- {paired_se:.3f}")
    print(f"yardstick: plug-in newsvendor from {args.history} uncensored demands (known Poisson family), exact: "
          f"{100 * (r[:, 8].sum() / r[:, 3].sum() - 1):+.3f} %")
    print(f"per-product gap: median {np.median(100 * (r[:, 5] / r[:, 3] - 1)):+.2f} %, "
          f"worst {np.max(100 * (r[:, 5] / r[:, 3] - 1)):+.2f} %")


if __name__ == "__main__":
    main()
