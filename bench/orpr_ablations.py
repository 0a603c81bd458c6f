"""ORPR's ablations and transfer on invgym/Replenishment-v0, paired over SKUs on the held-out test year.

Run: ``nice -n 10 python -m bench.orpr_ablations [--iterations 300] [--checkpoint-dir runs/orpr_ablations]``
(about 10 CPU minutes at the defaults: nine ORPR fits of about a minute each; with ``--checkpoint-dir`` an
interrupted run resumes, each fit from its own folder). A benchmark, never a test.

**Ablations** (the JD paper's question: does each part of the pipeline earn its place, and does a lightweight
domain-informed network suffice?). Every variant is ``ORPR(...).fit()`` on the default instance with one
setting changed from :class:`~invgym.agents.orpr.ORPRConfig`'s defaults:

- ``ORPR``: the full pipeline (OR teacher, cloning, RLOO with the KL leash and the promotion expert, calibration);
- ``pretraining only``: the full run's clone, before RL;
- ``no pretraining``: RL from an untrained days-of-cover network (``pretrain=False``, ``kl_coef=0``);
- ``no expert term``: ``expert_uplift=0``;
- ``net (16,)`` and ``net (256, 256)``: the clone's (and so the fine-tuned) hidden layers, against (64, 64).

**Transfer**: the 200 SKUs split into halves A (SKUs 0-99) and B (100-199). ORPR fitted on A runs unchanged on B
(unseen SKUs) and is compared with ORPR fitted on B itself and with the OR teacher fitted on B (the incumbent an
OR team would fit for new SKUs). Then a *shifted panel* (``synthetic_panel(seed=1, slow_mover_share=0.5,
promo_rate=0.04)``: other products, more intermittent demand, twice the promotions): the default ORPR runs on its
test year unchanged, against ORPR and the teacher fitted on that panel.

Each policy runs every SKU of the panel once over the test year (env i = SKU i, seeded i; ``run_panel``); the
table gives per-SKU means of turnover days, in-stock rate, holding cost and lost units per SKU-day, and each
comparison the paired difference over the SKUs compared with its 95 % CI (normal approximation). CPU seconds are
this process's (``time.process_time``), one torch thread.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from bench.orpr_field import METRICS
from bench.orpr_field import per_sku as _per_sku
from invgym.agents.orpr import ORPR, ORPRConfig
from invgym.agents.pretrain import CoverCloneConfig
from invgym.agents.reinforce import RLOOConfig
from invgym.envs.common import config_of
from invgym.panels import synthetic_panel

ENV_ID = "invgym/Replenishment-v0"


def per_sku(policy: Any, config: Any) -> dict[str, np.ndarray]:
    """Per-SKU test-year metrics of any policy (torch modules through their ``predict``, as evaluate runs them)."""
    from invgym.evaluate import policy_actions

    return _per_sku(policy_actions(policy), config)


HALF_A, HALF_B = tuple(range(100)), tuple(range(100, 200))


def fit(name: str, config: ORPRConfig, folder: str | None, **env_kwargs: Any) -> tuple[ORPR, float]:
    """Fit one ORPR variant (resuming from ``folder/name`` when given); return it and its fit's CPU seconds."""
    if folder is not None:
        config.checkpoint_dir = os.path.join(folder, name.replace(" ", "_").replace(",", ""))
    agent = ORPR(ENV_ID, config, **env_kwargs)
    start = time.process_time()
    agent.fit()
    return agent, time.process_time() - start


def row(label: str, m: dict[str, np.ndarray], skus: np.ndarray) -> str:
    """One line of per-SKU means over ``skus``."""
    return f"{label:<34}" + "".join(f"{np.nanmean(m[key][skus]):>22.4f}" for key, _, _ in METRICS)


def paired(a: dict[str, np.ndarray], b: dict[str, np.ndarray], skus: np.ndarray) -> str:
    """``a - b`` per metric over ``skus``: mean [95 % CI] and the mean relative to b's."""
    cells = []
    for key, _, _ in METRICS:
        d = (a[key] - b[key])[skus]
        d = d[np.isfinite(d)]
        half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
        ref = np.nanmean(b[key][skus])
        mean = d.mean()
        cells.append(f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}] ({100 * mean / ref:+.1f} %)")
    return "; ".join(f"{label} {cell}" for (_, label, _), cell in zip(METRICS, cells, strict=True))


def compare(title: str, results: dict[str, dict[str, np.ndarray]], skus: np.ndarray, width: int) -> None:
    """Print a transfer table: the first policy (the one run unseen) and each other policy, then unseen - other."""
    print(f"\n{title}")
    print(f"{'policy':<34}" + "".join(f"{label:>22}" for _, label, _ in METRICS))
    for name, m in results.items():
        print(row(name, m, skus))
    unseen, *others = results
    for other in others:
        print(f"  unseen - {other:<{width}} {paired(results[unseen], results[other], skus)}")


def main() -> None:
    """Fit every variant, evaluate on the test year and print the tables."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=RLOOConfig.iterations, help="RLOO updates of every fit")
    parser.add_argument("--checkpoint-dir", default=None, help="resumable fits, one folder per variant")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.process_time()
    rl = RLOOConfig(iterations=args.iterations)
    variants = {
        "ORPR": ORPRConfig(rl=rl),
        "no pretraining": ORPRConfig(rl=RLOOConfig(iterations=args.iterations, kl_coef=0.0), pretrain=False),
        "no expert term": ORPRConfig(rl=rl, expert_uplift=0.0),
        "net (16,)": ORPRConfig(rl=rl, clone=CoverCloneConfig(net_arch=(16,))),
        "net (256, 256)": ORPRConfig(rl=rl, clone=CoverCloneConfig(net_arch=(256, 256))),
    }
    test = config_of(ENV_ID, split="test", product="all")
    every = np.arange(len(test.products))
    agents, cpu, results = {}, {}, {}
    for name, config in variants.items():
        agents[name], cpu[name] = fit(name, config, args.checkpoint_dir)
        results[name] = per_sku(agents[name].policy, test)
        print(f"fitted {name}: {cpu[name]:.0f} CPU s", flush=True)
    results["pretraining only"] = per_sku(agents["ORPR"].pretrained, test)
    results["OR teacher"] = per_sku(agents["ORPR"].teacher, test)
    header = f"{'policy':<34}" + "".join(f"{label:>22}" for _, label, _ in METRICS)

    print(f"\nAblations: test year, 200 SKUs, per-SKU means ({args.iterations} RLOO updates per fit)")
    print(header)
    for name in ("OR teacher", "pretraining only", *variants):
        extra = f"   fit {cpu[name]:.0f} CPU s" if name in cpu else ""
        print(row(name, results[name], every) + extra)
    print("\nEach variant - ORPR, paired over the 200 SKUs (mean [95 % CI] (relative to ORPR's mean))")
    for name in ("OR teacher", "pretraining only", *list(variants)[1:]):
        print(f"  {name:<20} {paired(results[name], results['ORPR'], every)}")

    # Transfer to unseen SKUs: fitted on half A, run on half B; against ORPR and the teacher fitted on half B.
    on_a, cpu["A"] = fit("half A", ORPRConfig(rl=rl), args.checkpoint_dir, product=HALF_A)
    on_b, cpu["B"] = fit("half B", ORPRConfig(rl=rl), args.checkpoint_dir, product=HALF_B)
    b = np.asarray(HALF_B)
    transfer = {"ORPR fitted on A (unseen B)": per_sku(on_a.policy, test),
                "ORPR fitted on B": per_sku(on_b.policy, test), "OR teacher fitted on B": per_sku(on_b.teacher, test)}
    compare(f"Transfer to unseen SKUs: half B (SKUs 100-199), test year; fits {cpu['A']:.0f} + {cpu['B']:.0f} CPU s",
            transfer, b, width=24)

    # Transfer to a shifted panel: the default ORPR unchanged, against ORPR and the teacher fitted there.
    shifted_panel = synthetic_panel(seed=1, slow_mover_share=0.5, promo_rate=0.04)
    on_shifted, cpu["shifted"] = fit("shifted panel", ORPRConfig(rl=rl), args.checkpoint_dir, panel=shifted_panel)
    shifted = config_of(ENV_ID, panel=shifted_panel, split="test", product="all")
    moved = {"default ORPR (unseen panel)": per_sku(agents["ORPR"].policy, shifted),
             "ORPR fitted on the panel": per_sku(on_shifted.policy, shifted),
             "OR teacher fitted on the panel": per_sku(on_shifted.teacher, shifted)}
    compare(f"Shifted panel (seed 1, 50 % slow movers, promo rate 0.04), test year; fit {cpu['shifted']:.0f} CPU s",
            moved, every, width=30)
    print(f"\ntotal {time.process_time() - start:.0f} CPU s")


if __name__ == "__main__":
    main()
