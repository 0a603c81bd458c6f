"""The labeler's exploration on a wide and a narrow action space: ``python -m bench.orpr_explore``.

ORPR's labelled rollout moves some envs off the teacher's path so the dataset covers more states (the labels stay
the teacher's orders). This prints, for the teacher's own path (``explore=0``), the old default (uniform random
orders over the whole action space, ``explore=0.1``) and the default :class:`~invgym.agents.orpr.LocalExplore`,
the share of zero-order labels, the mean labelled order and the median on-hand stock of the labelled states:

- Replenishment-v0's train window (orders 0..1,608 units against a few units a day), ``DaysOfCover(19)`` (ORPR's
  grid teacher), 200 envs (every SKU) x 140 days;
- LostSales-v0 at L = 2, p = 9 (orders 0..20), its fitted base-stock level, 64 envs x 200 periods.

Labels only, no training; a benchmark, never a test (the test is
``tests/test_orpr.py::test_the_default_exploration_stays_near_the_teachers_path_on_a_wide_action_space``).
"""

from __future__ import annotations

import time

import numpy as np

from invgym.agents.orpr import DaysOfCover, ORLabeler, ORLabelerConfig
from invgym.baselines.base_stock import BaseStock
from invgym.envs.common import config_for


def main() -> None:
    """Label each setting and print the table."""
    start = time.process_time()
    train = config_for("invgym/Replenishment-v0", split="train", product="all")
    lost = config_for("invgym/LostSales-v0", lead_time=2, lost_sales_cost=9.0)
    cases = (("Replenishment-v0 train", train, DaysOfCover(train, 19.0), 200, 140),
             ("LostSales-v0 L=2 p=9", lost, BaseStock.fit(lost), 64, 200))
    settings = (("teacher's path (0)", 0.0), ("uniform (0.1)", 0.1), ("default", ORLabelerConfig().explore))
    print(f"{'env':<24}{'explore':<42}{'labels':>8}{'zero orders':>13}{'mean order':>12}{'median on-hand':>16}")
    for name, config, teacher, envs, periods in cases:
        for label, explore in settings:
            cfg = ORLabelerConfig(label_envs=envs, label_periods=periods, explore=explore)
            data = ORLabeler(config, teacher=teacher, config=cfg).label()
            text = f"{label}: {explore!r}" if label == "default" else label
            print(f"{name:<24}{text:<42}{len(data['actions']):>8}{np.mean(data['actions'] == 0):>13.3f}"
                  f"{np.mean(data['actions']):>12.2f}{np.median(data['obs'][:, 0]):>16.1f}")
    print(f"{time.process_time() - start:.1f} CPU s")


if __name__ == "__main__":
    main()
