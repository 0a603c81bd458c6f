"""The SB3 reinforce stage on invgym/Replenishment-v0: does KL-PPO lower the cost of its clone (issue 13, item 1)?

Run: ``nice -n 10 python -m bench.orpr_sb3_replenishment`` (``--timesteps N`` the PPO budget, ``--config
reinforce`` and ``--set FIELD=VALUE`` as in ``bench.agents_kl_ppo``; ``--out FILE`` keeps the finished result,
which a later run with the same settings prints without training, and one with other settings refuses). A
benchmark, never a test.

``invgym.agents.orpr.clone_and_fine_tune`` on the train window (the default instance, ``split="train"``): the
teacher is ORPR's simulation-augmented one (the smallest days of cover meeting the 0.95 service target, searched on
the kernel), its orders are cloned into an SB3 policy over the env's discrete orders, and KL-PPO fine-tunes the
tempered clone with ``SelectBest`` on the train window. Teacher, clone and fine-tuned policy are then evaluated on
the held-out test year (366 days, every SKU twice: 400 envs, env i seeded ``--seed + i``, common random numbers);
the paired 95 % CI is that of the per-env cost difference clone - tuned. CPU seconds are this process's
(``time.process_time``), one torch thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np
import torch

import invgym
from bench.agents_kl_ppo import CONFIGS, make_config, settings_of
from invgym.agents.orpr import LocalExplore, ORPRConfig, clone_and_fine_tune
from invgym.agents.pretrain import PretrainConfig
from invgym.envs.common import config_for

ENV_ID = "invgym/Replenishment-v0"


def labelled_config(args: argparse.Namespace) -> object:
    """``make_config`` with ORPR's replenishment labels and ``--clone-epochs`` of behaviour cloning.

    The labels are one pass over the train window by 200 envs (``ORPRConfig().labeler``; ``--label-explore``
    changes its exploration).
    """
    labeler = ORPRConfig().labeler
    if args.label_explore is not None:
        explore = LocalExplore() if args.label_explore == "local" else float(args.label_explore)
        labeler = dataclasses.replace(labeler, explore=explore)
    return dataclasses.replace(make_config(args), labeler=labeler, pretrain=PretrainConfig(epochs=args.clone_epochs))


def fit_envs(args: argparse.Namespace, train: object) -> tuple[object, object | None]:
    """The env the teacher, labels and PPO use, and where ``SelectBest`` runs (None: that same env).

    ``--select train``: the train window, each selection env drawing a SKU at each reset (32 envs see about 32 of
    the 200); ``--select all``: the train window with env i on SKU i mod 200 (every SKU, the same demand for every
    candidate: common random numbers); ``--select holdout``: the teacher, labels and PPO use the train window but its
    last ``--holdout-days`` days, and the selection runs every SKU on those held-out days (100 of them uncounted).
    """
    if args.select == "train":
        return train, None
    if args.select == "all":
        return train, train.replace(product="all")
    first, days = train.window
    if not 100 < args.holdout_days < days or train_settings_periods(args) + 100 > args.holdout_days:
        raise SystemExit(f"--holdout-days must be in (100, {days}) and at least select_periods + 100 "
                         f"({train_settings_periods(args) + 100}). Got {args.holdout_days}.")
    fit = train.replace(window=(first, days - args.holdout_days))
    return fit, train.replace(product="all", window=(first + days - args.holdout_days, args.holdout_days))


def train_settings_periods(args: argparse.Namespace) -> int:
    """The selection's counted periods of ``--set select_periods`` (or the config's default)."""
    return make_config(args).select_periods


def run(args: argparse.Namespace) -> dict:
    """Fit on the train window, evaluate on the test year; return the result."""
    train = config_for(ENV_ID, split="train")
    cfg = labelled_config(args)
    env, select_env = fit_envs(args, train)
    fit = clone_and_fine_tune(env, None, cfg, select_env=select_env)
    test = train.replace(product="all", split="test")
    ev = {"num_envs": args.envs, "periods": test.window[1], "warmup": 0, "seed": args.seed}
    res = {name: invgym.evaluate(pol, test, **ev)
           for name, pol in (("teacher", fit["teacher"]), ("clone", fit["clone"]), ("tuned", fit["model"]))}
    d = res["clone"].per_env_cost - res["tuned"].per_env_cost
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    return {"teacher_days": fit["teacher"].params["days"],
            **{name: r.average_cost for name, r in res.items()},
            **{f"{name}_metrics": r.metrics for name, r in res.items()},
            "clone_minus_tuned": float(d.mean()), "ci": [float(d.mean() - half), float(d.mean() + half)],
            "selection": fit["selection"]["history"] if fit["selection"] else None,
            "selected_at": fit["selection"]["best"][0] if fit["selection"] else None,
            "cpu_seconds": fit["cpu_seconds"], "settings": settings_of(cfg)}


def main() -> None:
    """Run (or read back from ``--out``) and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=None, help="PPO steps (default: the config's)")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="fine-tune")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one scalar field of the config (repeatable)")
    parser.add_argument("--clone-epochs", type=int, default=30, help="behaviour-cloning epochs")
    parser.add_argument("--label-explore", default=None,
                        help="the labeler's exploration: a probability of uniform moves, or 'local' for "
                             "LocalExplore() (default: ORPRConfig's, uniform 0.1)")
    parser.add_argument("--select", choices=("train", "all", "holdout"), default="train",
                        help="selection envs: the training env's draws, every SKU in turn, or every SKU on held-out "
                             "train days (see fit_envs)")
    parser.add_argument("--holdout-days", type=int, default=252, help="held-out train days of --select holdout")
    parser.add_argument("--envs", type=int, default=400, help="test envs (the 200 SKUs in turn)")
    parser.add_argument("--seed", type=int, default=0, help="test env i is seeded seed + i")
    parser.add_argument("--out", default=None, help="JSON file of the finished result (read back if present)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = settings_of(labelled_config(args))
    if args.out and os.path.exists(args.out):
        with open(args.out) as f:
            row = json.load(f)
        select = args.select if args.select != "holdout" else f"holdout {args.holdout_days}"
        if row["settings"] != settings or row.get("test") != [args.envs, args.seed] or \
                row.get("select", "train") != select:
            raise SystemExit(f"{args.out} was made with other settings; use another --out file.")
    else:
        select = args.select if args.select != "holdout" else f"holdout {args.holdout_days}"
        row = {**run(args), "test": [args.envs, args.seed], "select": select}
        if args.out:
            with open(f"{args.out}.tmp", "w") as f:
                json.dump(row, f)
            os.replace(f"{args.out}.tmp", args.out)
    print(f"SB3 reinforce stage on {ENV_ID}: teacher {row['teacher_days']:g} days of cover (service-target grid), "
          f"{row['settings']['timesteps']} KL-PPO steps, {args.config} config, selection kept step "
          f"{row['selected_at']} (selection envs: {row.get('select', 'train')}, {row['settings']['select_envs']} "
          f"envs x {row['settings']['select_periods']} days); fit {row['cpu_seconds']:.0f} CPU s")
    if row["selection"]:
        print("selection (steps: cost): " + ", ".join(f"{t}: {c:.4f}" for t, c in row["selection"]))
        kept, clone = dict(row["selection"])[row["selected_at"]], row["selection"][0][1]
        print(f"selection: the clone {clone:.4f}, the kept step {kept:.4f} ({100 * (kept / clone - 1):+.2f} %)")
    print(f"test year: {args.envs} envs x 366 days (every SKU {args.envs // 200}x), seeds {args.seed}+i")
    print(f"{'policy':<9}{'cost/SKU-day':>13}{'holding':>9}{'in-stock':>9}{'service':>9}{'turnover d':>11}")
    for name in ("teacher", "clone", "tuned"):
        m = row[f"{name}_metrics"]
        print(f"{name:<9}{row[name]:>13.4f}{m['holding_cost']:>9.4f}{m['in_stock_rate']:>9.4f}"
              f"{m['service_level']:>9.4f}{m['turnover_days']:>11.2f}")
    lo, hi = row["ci"]
    rel = 100 * row["clone_minus_tuned"] / row["clone"]
    print(f"clone - tuned: {row['clone_minus_tuned']:+.4f} per SKU-day [{lo:+.4f}, {hi:+.4f}] ({rel:+.2f} % of the "
          f"clone's cost, [{100 * lo / row['clone']:+.2f}, {100 * hi / row['clone']:+.2f}] %); improves the clone at "
          f"95 %: {'yes' if lo > 0 else 'NO'}")


if __name__ == "__main__":
    main()
