"""ORPR on JD-style replenishment: OR teacher -> imitation pretraining -> RL fine-tuning, with JD's metrics.

Run: ``python examples/orpr_replenishment.py [--checkpoint-dir runs/orpr]`` (about 70 CPU seconds on the
default instance; needs the ``rl`` extra). Interrupted, it resumes from the checkpoint folder when given one.

1. ``ORLabeler``: for every SKU, the smallest days of cover whose simulated in-stock rate on the training
   window meets the service target, under the env's business constraints (review days, MOQ, case packs,
   capacity, random vendor lead time) — the simulation-augmented OR model.
2. ``CoverPolicy``: a small domain-informed network cloned from the teacher's decisions.
3. ``RLOO``: REINFORCE with a leave-one-out baseline fine-tunes the clone, leashed to it by a KL term, with the
   teacher's promotion-aware decision as expert guidance on promotion days and the in-stock rate held at the
   teacher's.

The report is on the held-out test year, every SKU: turnover days, in-stock rate, holding cost and the rest of
``invgym.metrics``' replenishment set, for the three policies on the same lead-time streams.
"""

from __future__ import annotations

import argparse

from invgym.agents.orpr import ORPR, ORLabelerConfig, ORPRConfig
from invgym.agents.pretrain import CoverCloneConfig
from invgym.agents.reinforce import RLOOConfig

ENV_ID = "invgym/Replenishment-v0"
COLUMNS = ("turnover_days", "in_stock_rate", "holding_cost", "cost")


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Fit the three stages and print JD's metrics; return the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint-dir", default=None, help="resumable checkpoints (default: none)")
    parser.add_argument("--quick", action="store_true", help="a tiny budget that only shows the pipeline runs")
    args = parser.parse_args(argv)
    config, env_kwargs, report_envs = ORPRConfig(checkpoint_dir=args.checkpoint_dir), {}, 400
    if args.quick:  # 20 SKUs, a short teacher search, two RL updates
        labeler = ORLabelerConfig(search_envs=32, search_periods=300, search_warmup=0, label_envs=16,
                                  label_periods=70)
        config = ORPRConfig(labeler=labeler, clone=CoverCloneConfig(epochs=2),
                            rl=RLOOConfig(iterations=2, skus=4, samples=2, days=14, warmup=7),
                            calibration_shifts=(0.0,), checkpoint_dir=args.checkpoint_dir)
        env_kwargs, report_envs = {"product": list(range(20))}, 40
    agent = ORPR(ENV_ID, config, **env_kwargs)
    agent.fit()
    report = agent.report(num_envs=report_envs)
    print(f"{'policy':12s}" + "".join(f"{name:>15s}" for name in COLUMNS))
    for name, metrics in report.items():
        print(f"{name:12s}" + "".join(f"{metrics[key]:15.4f}" for key in COLUMNS))
    return report


if __name__ == "__main__":
    main()
