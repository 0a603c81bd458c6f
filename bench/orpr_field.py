"""The ORPR paper's field comparison in simulation: a policy against the incumbent, then a deployment with DiD.

Run: ``nice -n 10 python -m bench.orpr_field`` (``--rounds``, ``--in-stock-margin``, ``--lost-sales-weight``,
``--switch-day`` change the teacher's search, its in-stock target, its objective and the deployment; ``--teacher
sku`` makes the candidate ``SkuCover``, the same model with parameters per SKU group, and adds its paired
comparison with ``RegimeCover``). A benchmark, never a test.

On ``invgym/Replenishment-v0`` (default panel, 200 SKUs): the incumbents are the days-of-cover rule
(``DaysOfCover.fit``: one number of days for every SKU, the cheapest on the train window, as the leaderboard fits
it) and ``PredictThenOptimize``; the candidate is ``RegimeCover`` (days of cover per demand regime and per
announced promotion day, optimised by simulation on the train window) under a manager's preference: the least
holding + lost margin with an in-stock rate at least ``--in-stock-margin`` above the incumbent's on the train
window (the objective pins no in-stock rate *equal* to anything). Then:

1. **Against the incumbent** on the held-out test year (every SKU once, env i = SKU i, seeded i): turnover days,
   in-stock rate, holding cost and lost units per SKU-day, and the in-stock rate on promotion days; the paired
   difference over SKUs with its 95 % CI (normal approximation over the 200 per-SKU differences).
2. **A simulated field deployment**: every SKU runs the incumbent; on ``--switch-day`` of the test year a random
   half of the SKUs (seed 0) switches to the candidate. ``invgym.analysis.did`` estimates the effect on each
   outcome with a cluster-bootstrap CI; the true effect on the treated (the same run without the switch, same
   demand and lead times, post days) is printed beside it.

CPU seconds are this process's (``time.process_time``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from invgym.agents.orpr import replenishment_report
from invgym.analysis.did import difference_in_differences, run_panel, simulate_deployment
from invgym.baselines.days_of_cover import DaysOfCover
from invgym.baselines.predict_then_optimize import PredictThenOptimize
from invgym.baselines.regime_cover import Preference, RegimeCover, SkuCover
from invgym.envs.common import config_of
from invgym.metrics import per_sku_metrics

ENV_ID = "invgym/Replenishment-v0"
METRICS = (("turnover_days", "turnover days", 1.0), ("in_stock_rate", "in-stock rate", 1.0),
           ("holding_cost", "holding / SKU-day", None), ("lost_sales", "lost units / SKU-day", None))


def per_sku(policy: object, config: object) -> dict[str, np.ndarray]:
    """Per-SKU JD metrics over the test year (holding and lost per SKU-day; in-stock on promotion days).

    ``promo_in_stock`` is NaN for a SKU without promotion days.
    """
    parts = run_panel(config, policy, seed=0)
    m = per_sku_metrics(parts)
    days = parts["sales"].shape[1]
    m["holding_cost"] = m["holding_cost"] / days
    m["lost_sales"] = m["lost_sales"] / days
    promo = config.panel.promo[parts["product"].astype(int), parts["day"].astype(int)]
    with np.errstate(invalid="ignore", divide="ignore"):
        m["promo_in_stock"] = (parts["in_stock"] * promo).sum(axis=1) / promo.sum(axis=1)
    return m


def main() -> None:
    """Fit, compare, deploy; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="coordinate-descent passes of RegimeCover.fit")
    parser.add_argument("--in-stock-margin", type=float, default=0.01,
                        help="in-stock target above the incumbent's train rate")
    parser.add_argument("--lost-sales-weight", type=float, default=1.0,
                        help="weight of the lost margin against holding in RegimeCover's objective")
    parser.add_argument("--switch-day", type=int, default=183)
    parser.add_argument("--teacher", choices=("regime", "sku"), default="regime",
                        help="the candidate: RegimeCover (per demand regime) or SkuCover (per SKU group)")
    args = parser.parse_args()
    start = time.process_time()
    train = config_of(ENV_ID, split="train", product="all")
    test = config_of(ENV_ID, split="test", product="all")
    incumbent = DaysOfCover.fit(train, max_days=30)
    pto = PredictThenOptimize.fit(train, max_rows=5_000)
    base = replenishment_report(incumbent, train, num_envs=len(train.products), seed=2**40)
    target = min(base["in_stock_rate"] + args.in_stock_margin, 1.0)
    preference = Preference(lost_sales_weight=args.lost_sales_weight, in_stock_target=target)
    regime = RegimeCover.fit(train, preference, rounds=args.rounds)
    policies = {"DaysOfCover": incumbent, "PTO": pto, "RegimeCover": regime}
    name = "RegimeCover"
    if args.teacher == "sku":
        name = "SkuCover"
        policies[name] = SkuCover.fit(train, preference, rounds=args.rounds)
    teacher = policies[name]
    fit_cpu = time.process_time() - start
    print(f"incumbent DaysOfCover: {incumbent.params['days']:g} days; train in-stock {base['in_stock_rate']:.4f}; "
          f"RegimeCover target in-stock >= {target:.4f}, {regime.info['evaluations']} candidate evaluations, "
          f"train in-stock {regime.info['train']['in_stock_rate']:.4f}; fits {fit_cpu:.0f} CPU s")
    print(f"RegimeCover days by regime (velocity x variability): {regime.params['days']}; promotion days per "
          f"announced day by velocity: {regime.params['promo_days']}")
    if name == "SkuCover":
        d, pd = np.array(teacher.params["days"]), np.array(teacher.params["promo_days"])
        print(f"SkuCover: {teacher.info['groups']} SKU groups (SKUs told apart by their observed constraints) of "
              f"{teacher.info['products']} SKUs, the target on each group; {teacher.info['evaluations']} candidates "
              f"per group; train in-stock {teacher.info['train']['in_stock_rate']:.4f}, groups meeting the target "
              f"{np.sum(np.array(teacher.info['group_in_stock']) >= target)}; days of cover quartiles "
              f"{np.percentile(d, [25, 50, 75]).tolist()}, promotion days {np.percentile(pd, [25, 50, 75]).tolist()}")

    rows = {key: per_sku(pol, test) for key, pol in policies.items()}
    promo = {key: replenishment_report(pol, test, num_envs=len(test.products))["promo_in_stock_rate"]
             for key, pol in policies.items()}
    print("\nTest year 2016, 200 SKUs, per-SKU means (turnover: sum on-hand / sum sales per SKU, then the mean)")
    print(f"{'policy':<13}" + "".join(f"{label:>22}" for _, label, _ in METRICS) + f"{'promo-day in-stock':>20}")
    for row_name, m in rows.items():
        print(f"{row_name:<13}" + "".join(f"{np.nanmean(m[key]):>22.4f}" for key, _, _ in METRICS)
              + f"{promo[row_name]:>20.4f}")
    for incumbent_name in [k for k in policies if k != name]:
        print(f"\n{name} - {incumbent_name}, paired over SKUs (mean [95 % CI]); relative to the incumbent's mean")
        for key, label, _ in METRICS:
            d = rows[name][key] - rows[incumbent_name][key]
            d = d[np.isfinite(d)]
            half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
            ref = np.nanmean(rows[incumbent_name][key])
            print(f"  {label:<22}{d.mean():>+10.4f} [{d.mean() - half:+.4f}, {d.mean() + half:+.4f}]  "
                  f"({100 * d.mean() / ref:+.2f} %)")
        print(f"  {'promo-day in-stock':<22}{promo[name] - promo[incumbent_name]:>+10.4f}")

    n = len(test.products)
    treated = np.random.default_rng(0).permutation(n) < n // 2
    observed, counterfactual = simulate_deployment(test, incumbent, teacher, treated, args.switch_day, seed=0)
    days = observed["sales"].shape[1]
    post = np.arange(days) >= args.switch_day
    print(f"\nSimulated deployment: {treated.sum()} treated / {n - treated.sum()} control SKUs, {name} from day "
          f"{args.switch_day} of {days}; DiD (cluster bootstrap, 2000 draws) vs the true effect on the treated")
    print(f"{'outcome (per SKU-day)':<24}{'DiD estimate':>14}{'95 % CI':>22}{'true effect':>14}")
    for key, label in (("on_hand", "on-hand units"), ("in_stock", "in-stock rate"), ("holding_cost", "holding cost"),
                       ("lost", "lost units")):
        est = difference_in_differences(observed[key], treated, post)
        true = float((observed[key] - counterfactual[key])[treated][:, post].mean())
        print(f"{label:<24}{est.effect:>+14.4f}   [{est.ci[0]:+.4f}, {est.ci[1]:+.4f}]{true:>+14.4f}")
    print(f"\ntotal {time.process_time() - start:.0f} CPU s")


if __name__ == "__main__":
    main()
