"""The SB3 reinforce stage on Zipkin's 16 lost-sales cells: KL-PPO from a clone of the base-stock teacher.

Run: ``nice -n 10 python -m bench.agents_kl_ppo`` (all 16 cells, L = 1..4, p = 4, 9, 19, 39; ``--cells 1:9,4:39``
picks some; ``--out DIR`` keeps one JSON per finished cell there, so an interrupted run resumes, and a cell file
made with other settings stops the run; ``--timesteps N`` changes the PPO budget). ``--config reinforce`` trains
with :class:`~invgym.agents.orpr.ReinforceConfig` (centred rewards, ...) instead of ``FineTuneConfig``, and ``--set
FIELD=VALUE`` (repeatable) changes one field of the config, e.g. ``--set gamma=0.95 --set n_envs=128``. A
benchmark, never a test.

Per cell: the teacher is ``BaseStock.fit`` (the cost-optimal level), cloned by
``invgym.agents.orpr.clone_and_fine_tune`` (labels, ``Pretrainer``, ``KLRegularizedPPO`` with the tempered clone as
start and KL anchor, critic warm-up, and ``SelectBest`` on seeds 10^6 + i), and the clone and the fine-tuned
model are evaluated on the kernel on test seeds ``--seed + i`` (common random numbers). ``closed`` is the share of
the clone's gap to ``solve_exact``'s optimum that fine-tuning removes, ``(clone - tuned) / (clone - optimum)``;
the paired 95 % CI is that of the per-env difference ``clone - tuned`` divided by the same gap. The mean share over
the cells is printed with its 95 % CI over cells. CPU seconds are this process's (``time.process_time``), one
torch thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np
import torch

import invgym
from bench.agents_common import add_evaluation_arguments, evaluation_settings, paired
from invgym.agents.orpr import FineTuneConfig, ReinforceConfig, clone_and_fine_tune
from invgym.baselines import solve_exact
from invgym.baselines.base_stock import BaseStock

ENV_ID = "invgym/LostSales-v0"
CELLS = [(lead, p) for lead in (1, 2, 3, 4) for p in (4.0, 9.0, 19.0, 39.0)]


CONFIGS = {"fine-tune": FineTuneConfig, "reinforce": ReinforceConfig}


def make_config(args: argparse.Namespace) -> FineTuneConfig:
    """The training config of ``--config``, ``--timesteps``, ``--train-seed`` and the ``--set`` overrides."""
    cls = CONFIGS[args.config]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    # The labels' exploration stays the uniform moves (explore=0.1) the recorded cells were made with; it was the
    # labeler's default until LocalExplore replaced it (Zipkin's orders span 0 to 13-35 units, a few mean demands).
    changes: dict = {"seed": args.train_seed, "labeler": dataclasses.replace(cls().labeler, explore=0.1)}
    if args.timesteps is not None:
        changes["timesteps"] = args.timesteps
    for item in args.set:
        name, _, text = item.partition("=")
        if name not in fields or name in ("labeler", "pretrain"):
            raise ValueError(f"The '--set' parameter names {name!r}, which is not a scalar field of {cls.__name__} "
                             f"(known: {sorted(k for k in fields if k not in ('labeler', 'pretrain'))}).")
        default = getattr(cls(), name)
        if isinstance(default, bool):
            if text not in ("true", "false"):
                raise ValueError(f"The '--set {name}' value must be true or false. Got {text!r} instead.")
            changes[name] = text == "true"
        else:
            changes[name] = type(default)(text)
    return cls(**changes).validate()


def settings_of(cfg: FineTuneConfig) -> dict:
    """The config as JSON-able data (recorded with each cell, compared on resume)."""
    return {"class": type(cfg).__name__, **json.loads(json.dumps(dataclasses.asdict(cfg), default=str))}


def run_cell(lead: int, p: float, args: argparse.Namespace) -> dict:
    """Fit and evaluate one cell; return its row."""
    kw = {"lead_time": lead, "lost_sales_cost": p}
    optimum = solve_exact(ENV_ID, **kw).average_cost
    teacher = BaseStock.fit(ENV_ID, **kw)
    cfg = make_config(args)
    fit = clone_and_fine_tune(ENV_ID, teacher, cfg, **kw)
    ev = evaluation_settings(args)
    res = {name: invgym.evaluate(pol, ENV_ID, **ev, **kw)
           for name, pol in (("teacher", teacher), ("clone", fit["clone"]), ("tuned", fit["model"]))}
    diff, se = paired(res["clone"], res["tuned"])
    gap = res["clone"].average_cost - optimum
    return {"lead_time": lead, "p": p, "optimum": optimum, "teacher": res["teacher"].average_cost,
            "clone": res["clone"].average_cost, "tuned": res["tuned"].average_cost, "gap": gap,
            "closed": diff / gap if gap > 0 else float("nan"),
            "closed_ci": [(diff - 1.96 * se) / gap, (diff + 1.96 * se) / gap] if gap > 0 else None,
            "selected_at": fit["selection"]["best"][0] if fit["selection"] else None,
            "selection": fit["selection"]["history"] if fit["selection"] else None,
            "cpu_seconds": fit["cpu_seconds"], "settings": settings_of(cfg)}


def main() -> None:
    """Run the cells (resuming from ``--out``) and print the table and the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default=None, help="comma-separated L:p, e.g. 1:9,4:39 (default all 16)")
    parser.add_argument("--timesteps", type=int, default=None, help="PPO steps per cell (default: the config's)")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder of per-cell results (resume)")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="fine-tune")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one scalar field of the config (repeatable)")
    add_evaluation_arguments(parser, envs=100, periods=5000, warmup=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cells = CELLS if args.cells is None else [(int(c.split(":")[0]), float(c.split(":")[1]))
                                              for c in args.cells.split(",")]
    settings = settings_of(make_config(args))
    rows = []
    for i, (lead, p) in enumerate(cells):
        path = os.path.join(args.out, f"L{lead}_p{p:g}.json") if args.out else None
        if path and os.path.exists(path):
            with open(path) as f:
                row = json.load(f)
            # Files written before settings were recorded hold the FineTuneConfig defaults of that time.
            if row.get("settings", settings) != settings:
                changed = sorted(k for k in settings if row["settings"].get(k) != settings[k])
                raise SystemExit(f"{path} was made with other settings ({changed}); use another --out folder.")
        else:
            row = run_cell(lead, p, args)
            if path:
                os.makedirs(args.out, exist_ok=True)
                with open(f"{path}.tmp", "w") as f:
                    json.dump(row, f)
                os.replace(f"{path}.tmp", path)
        rows.append(row)
        print(f"[{i + 1}/{len(cells)}] L={lead} p={p:g}: clone {row['clone']:.4f} tuned {row['tuned']:.4f} "
              f"optimum {row['optimum']:.4f} closed {row['closed']:+.2f} ({row['cpu_seconds']:.0f} CPU s)",
              flush=True)
    changed = {k: v for k, v in settings.items() if k not in ("labeler", "pretrain", "seed", "timesteps")
               and v != settings_of(FineTuneConfig()).get(k)}
    print(f"\nKL-PPO from a clone of BaseStock, {settings['timesteps']} steps per cell, {args.config} config "
          f"{changed if changed else '(FineTuneConfig defaults)'}; test: {args.envs} envs x {args.periods} periods, "
          f"seeds {args.seed}+i")
    print(f"{'L':>2}{'p':>4}{'optimum':>9}{'teacher':>9}{'clone':>9}{'tuned':>9}{'closed':>8}{'95% CI':>16}"
          f"{'CPU s':>7}")
    for r in rows:
        lo, hi = r["closed_ci"] if r["closed_ci"] else (float("nan"), float("nan"))
        print(f"{r['lead_time']:>2}{r['p']:>4g}{r['optimum']:>9.4f}{r['teacher']:>9.4f}{r['clone']:>9.4f}"
              f"{r['tuned']:>9.4f}{r['closed']:>+8.2f}  [{lo:+.2f}, {hi:+.2f}]{r['cpu_seconds']:>7.0f}")
    closed = np.array([r["closed"] for r in rows if np.isfinite(r["closed"])])
    half = 1.96 * closed.std(ddof=1) / np.sqrt(len(closed)) if len(closed) > 1 else float("nan")
    print(f"\nmean share of the clone's gap closed: {closed.mean():+.3f} (95 % CI over cells +-{half:.3f}); "
          f"cells with tuned < clone at 95 %: {sum(r['closed_ci'][0] > 0 for r in rows if r['closed_ci'])}/"
          f"{len(rows)}; goal >= 0.5: {'met' if closed.mean() >= 0.5 else 'NOT met'}; mean CPU s per cell "
          f"{np.mean([r['cpu_seconds'] for r in rows]):.0f}")


if __name__ == "__main__":
    main()
