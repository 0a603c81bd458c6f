"""Throughput of invgym/Replenishment-v0 on a 1,000-SKU, 2-year panel against its pure-Python reference.

Run: python -m bench.replenishment. Figures are SKU-days simulated per second on one core.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from bench.common import interleaved, report
from invgym.envs.replenishment import ReplenishmentConfig
from invgym.panels import synthetic_panel
from tests.reference.replenishment import ReferenceEnv

SKUS, DAYS, WARM = 1000, 730, 60


def main() -> None:
    """Measure and print every row, with ratios to the pure-Python reference env."""
    start = time.perf_counter()
    panel = synthetic_panel(num_products=SKUS, num_days=DAYS + WARM, seed=0)
    print(f"panel {panel} generated in {time.perf_counter() - start:.2f} s")
    kwargs = dict(panel=panel, split="test", test_start=str(panel.dates[WARM]), product="all", review_period=1)
    config = ReplenishmentConfig.validate("ReplenishmentEnv", **kwargs)
    assert config.horizon == DAYS

    reference = ReferenceEnv(config, product=0)

    def python_run(rounds: int) -> int:
        for r in range(rounds):
            reference.product = r % SKUS
            reference._cdf = np.cumsum(config.lead_pmf[reference.product])
            reference.reset(seed=r)
            for _ in range(DAYS):
                reference.step(6)
        return rounds * DAYS

    rows = [("pure-Python reference env (tests/reference), one SKU", python_run)]

    venv = gym.make_vec("invgym/Replenishment-v0", num_envs=SKUS, vectorization_mode="vector_entry_point", **kwargs)
    constant = np.full(SKUS, 6, dtype=np.int64)

    def whole_panel(rounds: int) -> int:
        for _ in range(rounds):
            venv.reset(seed=0)
            for _ in range(DAYS):
                venv.step(constant)
        return rounds * SKUS * DAYS

    rows.append((f"native VectorEnv, {SKUS} SKUs x {DAYS} days, constant order", whole_panel))
    sl = config.slices

    def base_stock(rounds: int) -> int:
        for _ in range(rounds):
            obs, _ = venv.reset(seed=0)
            for _ in range(DAYS):
                horizon = np.ceil(obs[:, sl["sku"].start]) + 1
                level = 1.5 * obs[:, sl["sales"]][:, -7:].mean(axis=1) * horizon
                obs, *_ = venv.step(np.ceil(np.maximum(level - obs[:, :2].sum(axis=1), 0)).astype(np.int64))
        return rounds * SKUS * DAYS

    rows.append(("  the same, stepped by a numpy base-stock policy", base_stock))
    rows = interleaved(rows, rounds=5)
    report(f"invgym/Replenishment-v0, {SKUS} SKUs x {DAYS} days (SKU-days/s), one core", rows, rows[0],
           unit="units/s")


if __name__ == "__main__":
    main()
