"""Issues 7 and 12 (item 2): one DirectBackprop policy for 50 products at L = 0, learnt from sales history only.

Run: ``python -m bench.agents_history`` or ``--epochs 150 --history 32 --quantiles 16``; with a lead time
``--lead-time 2`` (or 4) against ``solve_exact`` per product. A benchmark, never a test.

Lost sales with L = 0, h = 1, p = 9. Demand is a ``ProductMixture`` of ``--products`` products, by default two
families (``--families poisson negative_binomial``): the products are split between them, each family's drawn by
``ProductMixture.from_ranges`` (means uniform on [2, 10]; the negative binomial's variance/mean on [1.5, 3]).
Every training path draws one product and keeps it, and the policy (the history encoder of
``agents/policies.py``, causal dilated convolutions over the last ``history`` sales, with a base-stock head;
``--quantiles`` adds the window's order statistics, mean and standard deviation to its summary) is never told
which: it must infer the order-up-to level from the (censored) sales it sees.

For L = 0 the per-product optimum is the newsvendor: order up to the critical-fractile quantile
S_k = F_k^{-1}(p / (p + h)), with cost C_k = E[h (S_k - D)^+ + p (D - S_k)^+], computed exactly from each
product's pmf. The trained policy is evaluated on the compiled kernel product by product (:func:`invgym.evaluate`,
``num_envs`` x ``periods`` counted periods per product after a warm-up that fills the sales history), and so is
the newsvendor base-stock policy (:class:`~invgym.baselines.BaseStock`, critical fractile) on the same seeds
(common random numbers). Reported: the cost-weighted gap ``sum_k cost_k / sum_k C_k - 1`` to the exact optimum,
the mean and worst of the per-product gaps, and the paired gap to the simulated newsvendor policy (less noisy).

Beside it, the information limit of the same window: the plug-in newsvendor that orders up to the per-product
sample critical-fractile quantile of ``history`` *uncensored* demands (distribution-free, so it knows less than
the agent can learn about the families, and sees more than the agent's censored sales), its expected cost
computed exactly from the order statistic's distribution (:func:`sample_quantile_cost`); and, for the Poisson
products, the plug-in that also knows the family (:func:`plug_in_gap`).

With ``--lead-time L > 0`` the per-product optimum is ``solve_exact`` of the product's lost-sales instance (its
average cost C_k, and its table policy simulated on the same seeds for the paired gap). The information limit
is then the same plug-in idea one step further: the optimal policy for the *empirical* distribution of
``history`` uncensored demands (``solve_exact`` with an ``Empirical`` demand; at L = 0 this is exactly the
sample-quantile newsvendor), run on the true product. It is estimated by Monte Carlo: ``--plug-in-windows``
independent windows per product (their own seeded stream), each plug-in policy evaluated on the kernel with the
agent's evaluation seeds; its standard error over the windows is printed.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from scipy.stats import binom

import invgym
from bench.agents_common import (
    add_evaluation_arguments,
    add_training_arguments,
    evaluation_settings,
    paired,
    training_config,
)
from invgym.agents import DirectBackprop
from invgym.baselines import BaseStock, solve_exact
from invgym.demand import Empirical, ProductMixture

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


def cost_at_levels(pmf: np.ndarray, levels: int, h: float, p: float) -> np.ndarray:
    """Expected cost per period of ordering up to each level 0..levels-1 (lost sales, L = 0)."""
    d = np.arange(len(pmf))
    return np.array([np.sum(pmf * (h * np.maximum(s - d, 0) + p * np.maximum(d - s, 0))) for s in range(levels)])


def sample_quantile_cost(pmf: np.ndarray, window: int, h: float, p: float) -> float:
    """Expected cost of the plug-in newsvendor at the sample critical-fractile quantile of ``window`` demands.

    The level is the smallest s whose empirical cdf reaches the fractile f = p / (p + h), i.e. the k-th order
    statistic with k = ceil(window f); P(level <= s) = P(Binomial(window, F(s)) >= k) exactly, so the expected
    cost is a finite sum (no sampling).
    """
    k = math.ceil(window * p / (p + h) - 1e-9)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    below = binom.sf(k - 1, window, cdf)  # P(level <= s), s = 0..len(pmf)-1
    chance = np.diff(np.concatenate([[0.0], below]))
    return float(np.sum(chance * cost_at_levels(pmf, len(pmf), h, p)) / below[-1])


def mixture_of(families: list[str], products: int) -> tuple[ProductMixture, list[str]]:
    """``products`` products split between ``families`` (each family's drawn with its own seed); their labels."""
    models, labels = [], []
    for i, family in enumerate(families):
        count = products // len(families) + (1 if i < products % len(families) else 0)
        models += ProductMixture.from_ranges(family, num_products=count, seed=i).products()
        labels += [family] * count
    return ProductMixture(models), labels


def empirical_plug_in(product, window: int, env: dict, settings: dict, rng: np.random.Generator,
                      windows: int) -> tuple[float, float]:
    """Mean and standard error over ``windows`` sample windows of the empirical plug-in's cost on ``product``.

    Each window draws ``window`` uncensored demands; the plug-in is the exact optimal policy of the env with that
    window's empirical distribution as demand; its cost is simulated on the true product with ``settings``.
    """
    costs = []
    for _ in range(windows):
        sample = np.asarray(product.sample(rng, window), dtype=np.int64)
        values, counts = np.unique(sample, return_counts=True)
        plug = solve_exact(ENV_ID, lead_time=env["lead_time"], lost_sales_cost=env["lost_sales_cost"],
                           holding_cost=env["holding_cost"], demand=Empirical(values, counts / counts.sum()))
        costs.append(invgym.evaluate(plug.policy, ENV_ID, **settings, **env, demand=product).average_cost)
    costs = np.asarray(costs)
    return float(costs.mean()), float(costs.std(ddof=1) / np.sqrt(len(costs)))


def report(args: argparse.Namespace, header: list[str], table: list[str], labels: list[str], *,
           learnt: np.ndarray, optimum: np.ndarray, simulated: np.ndarray, diff: np.ndarray, diff_se: np.ndarray,
           reference: str, plug: np.ndarray, plug_name: str, limits: list[str], cpu: float | None = None) -> None:
    """Print one report, the same for L = 0 and L > 0.

    ``header`` lines come first, then the first ``args.show`` of the ``table`` rows (each completed by the
    product's gap and plug-in gap in %), the agent's gaps to the exact per-product ``optimum`` (costs), its
    paired gap (``diff`` and its standard error ``diff_se`` per product) to the ``simulated`` reference policy,
    the per-family means, the information-limit lines ``limits`` and, where the training ``cpu`` is given, the
    issue's target.
    """
    gaps = 100 * (learnt / optimum - 1)
    for line in header:
        print(line)
    for row, gap, limit in zip(table[: args.show], gaps, plug, strict=False):
        print(f"{row} {gap:>7.2f} {limit:>9.2f}")
    weighted = 100 * (learnt.sum() / optimum.sum() - 1)
    paired_gap = 100 * diff.sum() / simulated.sum()
    paired_se = 100 * np.sqrt((diff_se ** 2).sum()) / simulated.sum()
    print(f"agent: cost-weighted gap to the exact per-product optimum {weighted:+.3f} %; per-product gap mean "
          f"{gaps.mean():+.3f} %, median {np.median(gaps):+.2f} %, worst {gaps.max():+.2f} % (product "
          f"{int(np.argmax(gaps))}); products over 1.5 %: {int((gaps > 1.5).sum())} of {len(gaps)}")
    print(f"agent: cost-weighted paired gap to {reference} (same demand): {paired_gap:+.3f} % +- {paired_se:.3f}")
    for family in args.families:
        mine = np.array([label == family for label in labels])
        print(f"  {family}: agent mean gap {gaps[mine].mean():+.3f} %, worst {gaps[mine].max():+.2f} %; "
              f"{plug_name} mean {plug[mine].mean():+.3f} %")
    for line in limits:
        print(line)
    if cpu is not None:
        met = gaps.mean() <= 0.5 and gaps.max() <= 1.5 and cpu <= 600
        print(f"target (mean gap <= 0.5 %, every product <= 1.5 %, <= 600 CPU s of training): "
              f"{'met' if met else 'missed'}")


def lead_time_table(args: argparse.Namespace, policy, mixture: ProductMixture, labels: list[str], env: dict,
                    max_order: int, settings: dict, cpu: float) -> None:
    """L > 0: per product, the agent against ``solve_exact`` and the empirical plug-in; print the report."""
    h, p = env["holding_cost"], env["lost_sales_cost"]
    rows, start = [], time.process_time()
    rng = np.random.default_rng([args.train_seed, 0x504C])  # the plug-in's windows: their own stream
    for k, product in enumerate(mixture.products()):
        kwargs = {**env, "demand": product, "max_order": max_order}
        exact = solve_exact(ENV_ID, lead_time=args.lead_time, lost_sales_cost=p, holding_cost=h, demand=product)
        learnt = invgym.evaluate(policy, ENV_ID, **settings, **kwargs)
        sim = invgym.evaluate(exact.policy, ENV_ID, **settings, **kwargs)
        plug, plug_se = empirical_plug_in(product, args.history, {**env, "max_order": max_order}, settings, rng,
                                          args.plug_in_windows)
        rows.append((k, product.mean, exact.average_cost, sim.average_cost, learnt.average_cost,
                     *paired(learnt, sim), plug, plug_se))
    eval_cpu = time.process_time() - start
    r = np.array(rows)
    plug = 100 * (r[:, 7] / r[:, 2] - 1)
    plug_se = 100 * np.sqrt((r[:, 8] ** 2).sum()) / r[:, 2].sum()
    header = [
        f"L={args.lead_time}, h={h:g}, p={p:g}, {args.products} products ({' + '.join(args.families)}, means "
        f"U[2, 10]); history encoder, window {args.history}, {args.quantiles} order statistics; {args.epochs} "
        f"epochs x {args.batch} paths x {args.history}+{4 * args.lead_time}+{args.train_periods} periods, lr "
        f"{args.lr:g} ({cpu:.1f} s train CPU, {eval_cpu:.1f} s evaluation CPU, solve_exact and the plug-in "
        "included)",
        f"evaluated per product on the kernel: {args.envs} envs x {args.periods} periods after "
        f"{settings['warmup']} warm-up = {args.envs * args.periods:,} counted periods per product; plug-in: "
        f"{args.plug_in_windows} windows of {args.history} uncensored demands per product",
        f"{'product':>7} {'family':>17} {'mean':>6} {'exact C*':>9} {'exact sim':>10} {'learnt':>8} "
        f"{'gap %':>7} {'plug-in %':>9}",
    ]
    table = [f"{row[0]:>7d} {labels[row[0]]:>17} {row[1]:>6.2f} {row[2]:>9.4f} {row[3]:>10.4f} {row[4]:>8.4f}"
             for row in rows]
    limits = [f"information limit, exact optimum of the empirical distribution of {args.history} uncensored "
              f"demands (distribution-free), Monte Carlo: cost-weighted "
              f"{100 * (r[:, 7].sum() / r[:, 2].sum() - 1):+.3f} % +- {plug_se:.3f}, per-product mean "
              f"{plug.mean():+.3f} %, worst {plug.max():+.2f} %"]
    report(args, header, table, labels, learnt=r[:, 4], optimum=r[:, 2], simulated=r[:, 3], diff=r[:, 5],
           diff_se=r[:, 6], reference="the simulated exact policy", plug=plug, plug_name="empirical plug-in",
           limits=limits, cpu=cpu)


def main() -> None:
    """Train once, evaluate per product, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--history", type=int, default=32)
    parser.add_argument("--p", type=float, default=9.0)
    parser.add_argument("--families", nargs="+", default=["poisson", "negative_binomial"],
                        choices=["poisson", "geometric", "negative_binomial"])
    parser.add_argument("--quantiles", type=int, default=0, help="order statistics of the window fed to the policy")
    add_training_arguments(parser, epochs=120)
    add_evaluation_arguments(parser, envs=1000, periods=100, warmup=20)  # plus the history window
    parser.add_argument("--show", type=int, default=5, help="products listed one by one")
    parser.add_argument("--lead-time", type=int, default=0, help="L > 0: against solve_exact per product")
    parser.add_argument("--plug-in-windows", type=int, default=8, help="Monte Carlo windows of the L > 0 plug-in")
    args = parser.parse_args()
    torch.set_num_threads(1)
    h, p = 1.0, args.p
    mixture, labels = mixture_of(args.families, args.products)
    env = {"lead_time": args.lead_time, "lost_sales_cost": p, "holding_cost": h, "history": args.history}
    cfg = training_config(args, args.history + 4 * args.lead_time, window=args.history,
                          history_quantiles=args.quantiles)
    agent = DirectBackprop(ENV_ID, policy="history", config=cfg, demand=mixture, **env)
    max_order = agent.env_config.max_order  # the mixture's bound: every product's env gets the same action space
    start = time.process_time()
    policy = agent.fit()
    cpu = time.process_time() - start
    settings = {**evaluation_settings(args), "warmup": args.history + args.warmup}
    if args.lead_time > 0:
        lead_time_table(args, policy, mixture, labels, env, max_order, settings, cpu)
        return
    rows = []
    start = time.process_time()
    for k, product in enumerate(mixture.products()):
        kwargs = {**env, "demand": product, "max_order": max_order}
        level, optimum = newsvendor(product.pmf(), h, p)
        learnt = invgym.evaluate(policy, ENV_ID, **settings, **kwargs)
        news = invgym.evaluate(BaseStock.fit(ENV_ID, **kwargs), ENV_ID, **settings, **kwargs)
        poisson = labels[k] == "poisson"
        rows.append((k, product.mean, level, optimum, news.average_cost, learnt.average_cost, *paired(learnt, news),
                     plug_in_gap(product.pmf(), product.mean, args.history, h, p) if poisson else math.nan,
                     sample_quantile_cost(product.pmf(), args.history, h, p), float(poisson)))
    eval_cpu = time.process_time() - start
    r = np.array(rows)
    plug = 100 * (r[:, 9] / r[:, 3] - 1)
    header = [
        f"L=0, h={h:g}, p={p:g}, {args.products} products ({' + '.join(args.families)}, means U[2, 10]); history "
        f"encoder, window {args.history}, {args.quantiles} order statistics; {args.epochs} epochs x {args.batch} "
        f"paths x {args.history}+{args.train_periods} periods, lr {args.lr:g} ({cpu:.1f} s train CPU, "
        f"{eval_cpu:.1f} s evaluation CPU)",
        f"evaluated per product on the kernel: {args.envs} envs x {args.periods} periods after "
        f"{settings['warmup']} warm-up = {args.envs * args.periods:,} counted periods per product",
        f"{'product':>7} {'family':>17} {'mean':>6} {'S*':>3} {'exact C*':>9} {'newsvendor sim':>14} "
        f"{'learnt':>8} {'gap %':>7} {'plug-in %':>9}",
    ]
    table = [f"{row[0]:>7d} {labels[row[0]]:>17} {row[1]:>6.2f} {row[2]:>3d} {row[3]:>9.4f} {row[4]:>14.4f} "
             f"{row[5]:>8.4f}" for row in rows]
    limits = [f"information limit, plug-in newsvendor at the sample quantile of {args.history} uncensored demands "
              f"(distribution-free), exact: cost-weighted {100 * (r[:, 9].sum() / r[:, 3].sum() - 1):+.3f} %, "
              f"per-product mean {plug.mean():+.3f} %, worst {plug.max():+.2f} %"]
    poisson = r[:, 10] > 0
    if poisson.any():
        limits.append(f"Poisson products only: plug-in that also knows the family (sample mean -> Poisson "
                      f"quantile), exact: cost-weighted {100 * (r[poisson, 8].sum() / r[poisson, 3].sum() - 1):+.3f} "
                      f"%; the agent on them {100 * (r[poisson, 5].sum() / r[poisson, 3].sum() - 1):+.3f} %")
    report(args, header, table, labels, learnt=r[:, 5], optimum=r[:, 3], simulated=r[:, 4], diff=r[:, 6],
           diff_se=r[:, 7], reference="the simulated newsvendor", plug=plug, plug_name="sample-quantile plug-in",
           limits=limits)

if __name__ == "__main__":
    main()
