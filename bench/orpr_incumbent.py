"""ORPR against the incumbent with the paper's objective, its simulated field deployment (DiD), promotion days.

Run: ``nice -n 10 python -m bench.orpr_incumbent --checkpoint-dir DIR`` (about 4 CPU minutes at the defaults:
three ORPR fits of 45-90 CPU s; with ``--checkpoint-dir`` an interrupted run resumes, each fit from its own
folder; ``--did-skus 0`` skips the deployment, ``--seed`` reseeds the RL stages). A benchmark, never a test.
``--teacher sku`` (or ``regime``) labels with that simulation-optimised model (``ORPRConfig.teacher``) instead of
the grid teacher, and adds one more fit, the same ORPR with the grid teacher, to compare them paired over SKUs.

On ``invgym/Replenishment-v0`` the incumbents are the days-of-cover rule (``DaysOfCover.fit(train, max_days=30)``:
one number of days for every SKU, the cheapest on the train window, as industry practice and the leaderboard fit
it) and ``PredictThenOptimize``. ORPR is the full pipeline (the OR teacher's labels, behaviour cloning, RLOO with
the KL leash to the clone and the promotion expert term, calibration), trained on a manager's objective instead
of JD's pinned in-stock rate: the least ``holding + w * lost margin + t * turnover days`` (``--lost-sales-weight``
``w``, ``--turnover-weight`` ``t``: each unit on hand costs ``t`` over its SKU's mean train demand per day) with an
in-stock rate at least ``--in-stock-margin`` *above the incumbent's* (``ORPRConfig.in_stock_reference`` = the
incumbent: the RL constraint is on the same SKUs and days as the incumbent's rollout, the calibration aims at the
incumbent's train rate plus the margin). Nothing pins the in-stock rate to the teacher's.

1. **Against the incumbent**, on the held-out test year (every SKU once, env i = SKU i, seeded i): turnover days,
   in-stock rate, holding cost and lost units per SKU-day; the paired difference over the SKUs with its 95 % CI
   (normal approximation), relative to the incumbent's mean; the goal line checks the paper's direction (fewer
   turnover days **and** higher in-stock **and** lower holding than the incumbent, each CI excluding 0).
2. **Promotions**: the in-stock rate on each SKU's promotion days, ORPR against the incumbent and against the
   same ORPR fitted without the expert term (``expert_uplift=0``), paired over SKUs with promotion days.
3. **A simulated field deployment** on a larger panel (``--did-skus`` SKUs drawn by ``synthetic_panel(seed=
   --did-seed)``; incumbent and ORPR fitted on its train split the same way): every SKU runs the incumbent; on
   ``--switch-day`` of the test year a random half (seed 0) switches to ORPR. ``invgym.analysis.did`` estimates
   the effect on each outcome with a cluster-bootstrap CI; the true effect on the treated (the same run without
   the switch: same demand, same lead times, post days) is printed beside it.

CPU seconds are this process's (``time.process_time``), one torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from bench.orpr_field import METRICS, per_sku
from invgym.agents.orpr import ORPR, ORPRConfig
from invgym.agents.reinforce import RLOOConfig
from invgym.analysis.did import difference_in_differences, simulate_deployment
from invgym.atomic import atomic_write_json
from invgym.baselines.days_of_cover import DaysOfCover
from invgym.baselines.predict_then_optimize import PredictThenOptimize
from invgym.envs.common import config_of
from invgym.evaluate import policy_actions
from invgym.panels import synthetic_panel

ENV_ID = "invgym/Replenishment-v0"
DID_OUTCOMES = (("on_hand", "on-hand units"), ("in_stock", "in-stock rate"), ("holding_cost", "holding cost"),
                ("lost", "lost units"), ("sales", "sales units"))


def orpr_config(args: argparse.Namespace, incumbent: Any, expert: bool = True, teacher: str | None = None
                ) -> ORPRConfig:
    """The paper's objective: least holding + lost margin + turnover, in-stock above the incumbent's."""
    rl = RLOOConfig(iterations=args.iterations, in_stock_margin=args.in_stock_margin,
                    lost_sales_weight=args.lost_sales_weight, turnover_weight=args.turnover_weight, seed=args.seed)
    return ORPRConfig(rl=rl, in_stock_reference=incumbent, calibration_margin=args.in_stock_margin,
                      teacher=args.teacher if teacher is None else teacher,
                      **({} if expert else {"expert_uplift": 0.0}))


def teacher_days(teacher: Any) -> str:
    """The teacher's days of cover: one number (the grid teacher) or the quartiles over its parameters."""
    days = teacher.params["days"]
    if np.ndim(days) == 0:
        return f"{days:g} days"
    return f"days of cover quartiles {np.quantile(days, [0.25, 0.5, 0.75]).round(2).tolist()}"


def fit(name: str, config: ORPRConfig, folder: str | None, **env_kwargs: Any) -> tuple[ORPR, float]:
    """Fit one ORPR (resuming from ``folder/name`` when given); return it and its fit's CPU seconds.

    The folder's name carries every setting the command line changes, so another objective never resumes these
    checkpoints; the CPU seconds of the first complete fit are kept there (``cpu.json``) and returned on resume.
    """
    if folder is None:
        agent = ORPR(ENV_ID, config, **env_kwargs)
        start = time.process_time()
        agent.fit()
        return agent, time.process_time() - start
    rl = config.rl
    teacher = "" if config.teacher == "grid" else f"_{config.teacher}"  # the grid teacher's folders keep their names
    config.checkpoint_dir = os.path.join(folder, f"{name}{teacher}_t{rl.turnover_weight:g}_"
                                                 f"m{config.calibration_margin:g}_w{rl.lost_sales_weight:g}_"
                                                 f"i{rl.iterations}_s{rl.seed}")
    record = os.path.join(config.checkpoint_dir, "cpu.json")
    agent = ORPR(ENV_ID, config, **env_kwargs)
    start = time.process_time()
    agent.fit()
    if os.path.exists(record):
        with open(record) as f:
            return agent, json.load(f)["cpu_seconds"]
    cpu = time.process_time() - start  # after an interrupted first fit: only the resumed part's CPU
    atomic_write_json(record, {"cpu_seconds": cpu})
    return agent, cpu


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, int]:
    """Mean of ``a - b`` over the SKUs where both are finite, its 95 % half-width, b's mean there, the count."""
    d = a - b
    keep = np.isfinite(d)
    d = d[keep]
    return float(d.mean()), float(1.96 * d.std(ddof=1) / np.sqrt(len(d))), float(b[keep].mean()), int(keep.sum())


def main() -> None:
    """Fit the incumbents and ORPR, compare them, deploy ORPR in a simulated field test; print the tables."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=RLOOConfig.iterations, help="RLOO updates of every fit")
    parser.add_argument("--in-stock-margin", type=float, default=0.01,
                        help="in-stock rate ORPR must keep above the incumbent's")
    parser.add_argument("--lost-sales-weight", type=float, default=1.0, help="weight of the lost margin")
    parser.add_argument("--turnover-weight", type=float, default=0.1,
                        help="cost of one day of a SKU's sales on hand, per day")
    parser.add_argument("--did-skus", type=int, default=4000, help="SKUs of the deployment's panel (0: skip it)")
    parser.add_argument("--did-seed", type=int, default=2, help="seed of the deployment's synthetic panel")
    parser.add_argument("--switch-day", type=int, default=183, help="day of the test year the treated SKUs switch")
    parser.add_argument("--seed", type=int, default=0, help="seed of every RLOO stage")
    parser.add_argument("--checkpoint-dir", default=None, help="resumable fits, one folder per fit")
    parser.add_argument("--teacher", default="grid", choices=("grid", "regime", "sku"),
                        help="ORPR's OR teacher (ORPRConfig.teacher); not grid: also fit ORPR with the grid teacher")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    train = config_of(ENV_ID, split="train", product="all")
    test = config_of(ENV_ID, split="test", product="all")
    incumbent = DaysOfCover.fit(train, max_days=30)
    pto = PredictThenOptimize.fit(train, max_rows=5_000)
    orpr, cpu = fit("orpr", orpr_config(args, incumbent), args.checkpoint_dir)
    no_expert, cpu_ne = fit("orpr_no_expert", orpr_config(args, incumbent, expert=False), args.checkpoint_dir)
    grid = None
    if args.teacher != "grid":
        grid, cpu_grid = fit("orpr", orpr_config(args, incumbent, teacher="grid"), args.checkpoint_dir)
    cal = orpr.calibration
    kind = "" if grid is None else f" ({args.teacher})"
    print(f"incumbent DaysOfCover: {incumbent.params['days']:g} days; OR teacher{kind} {teacher_days(orpr.teacher)}; "
          f"objective holding + {args.lost_sales_weight:g} x lost margin + {args.turnover_weight:g} x turnover days, "
          f"in-stock >= incumbent + {args.in_stock_margin:g}")
    print(f"ORPR fit {cpu:.0f} CPU s ({args.iterations} RLOO updates, final lambda {orpr.rloo.lam:.3g}); calibration "
          f"target train in-stock {cal['target']:.4f}, shift {cal['offset']:+g} days; without the expert term: fit "
          f"{cpu_ne:.0f} CPU s, shift {no_expert.calibration['offset']:+g} days")
    if grid is not None:
        print(f"ORPR with the grid teacher ({teacher_days(grid.teacher)}): fit {cpu_grid:.0f} CPU s, calibration "
              f"shift {grid.calibration['offset']:+g} days")

    policies = {"DaysOfCover": incumbent, "PTO": pto, "OR teacher": orpr.teacher, "ORPR": orpr.policy,
                "ORPR no expert": no_expert.policy, **({} if grid is None else {"ORPR grid teacher": grid.policy})}
    rows = {name: per_sku(policy_actions(pol), test) for name, pol in policies.items()}
    n = len(test.products)
    print(f"\nTest year 2016, {n} SKUs, per-SKU means (turnover: sum on-hand / sum sales per SKU, then the mean)")
    width = max(16, 1 + max(map(len, rows)))
    print(f"{'policy':<{width}}" + "".join(f"{label:>22}" for _, label, _ in METRICS) + f"{'promo-day in-stock':>20}")
    for name, m in rows.items():
        print(f"{name:<{width}}" + "".join(f"{np.nanmean(m[key]):>22.4f}" for key, _, _ in METRICS)
              + f"{np.nanmean(m['promo_in_stock']):>20.4f}")
    for other in ("DaysOfCover", "PTO", "OR teacher", *(() if grid is None else ("ORPR grid teacher",))):
        print(f"\nORPR - {other}, paired over SKUs (mean [95 % CI]); relative to {other}'s mean")
        for key, label, _ in (*METRICS, ("promo_in_stock", "promo-day in-stock", None)):
            mean, half, ref, count = paired(rows["ORPR"][key], rows[other][key])
            print(f"  {label:<22}{mean:>+10.4f} [{mean - half:+.4f}, {mean + half:+.4f}]  ({100 * mean / ref:+.2f} %)"
                  + (f"  over {count} SKUs" if count != n else ""))
    goals = []
    for key, label, better in (("turnover_days", "fewer turnover days", -1), ("in_stock_rate", "higher in-stock", 1),
                               ("holding_cost", "lower holding", -1)):
        mean, half, ref, _ = paired(rows["ORPR"][key], rows["DaysOfCover"][key])
        met = better * (mean - better * half) > 0  # the whole CI on the better side
        goals.append(met)
        print(f"goal vs the incumbent: {label:<20} {100 * mean / ref:+7.2f} %  {'met' if met else 'NOT met'}")
    print(f"paper's result (all three at once): {'met' if all(goals) else 'NOT met'} (field: -5.27 days, +2.29 % "
          "in-stock, -29.95 % holding)")
    mean, half, _, count = paired(rows["ORPR"]["promo_in_stock"], rows["ORPR no expert"]["promo_in_stock"])
    print(f"promotion days: ORPR - ORPR without the expert term {mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}] "
          f"over {count} SKUs with promotion days")

    if args.did_skus:
        panel = synthetic_panel(num_products=args.did_skus, seed=args.did_seed)
        did_train = config_of(ENV_ID, panel=panel, split="train", product="all")
        did_test = config_of(ENV_ID, panel=panel, split="test", product="all")
        did_incumbent = DaysOfCover.fit(did_train, max_days=30)
        did_orpr, did_cpu = fit(f"did_{args.did_skus}_{args.did_seed}", orpr_config(args, did_incumbent),
                                args.checkpoint_dir, panel=panel)
        m = args.did_skus
        treated = np.random.default_rng(0).permutation(m) < m // 2
        observed, counterfactual = simulate_deployment(did_test, did_incumbent, policy_actions(did_orpr.policy),
                                                       treated, args.switch_day, seed=0)
        days = observed["sales"].shape[1]
        post = np.arange(days) >= args.switch_day
        print(f"\nSimulated deployment: synthetic_panel(num_products={m}, seed={args.did_seed}), incumbent "
              f"{did_incumbent.params['days']:g} days and ORPR (fit {did_cpu:.0f} CPU s) fitted on its train split; "
              f"{treated.sum()} treated / {m - treated.sum()} control SKUs, ORPR from day {args.switch_day} of {days}; "
              "DiD (cluster bootstrap, 2000 draws) vs the true effect on the treated")
        print(f"{'outcome (per SKU-day)':<24}{'DiD estimate':>14}{'95 % CI':>22}{'true effect':>14}{'covered':>9}")
        for key, label in DID_OUTCOMES:
            est = difference_in_differences(observed[key], treated, post)
            true = float((observed[key] - counterfactual[key])[treated][:, post].mean())
            covered = "yes" if est.ci[0] <= true <= est.ci[1] else "no"
            print(f"{label:<24}{est.effect:>+14.4f}   [{est.ci[0]:+.4f}, {est.ci[1]:+.4f}]{true:>+14.4f}{covered:>9}")
    print(f"\ntotal {time.process_time() - start:.0f} CPU s")


if __name__ == "__main__":
    main()
