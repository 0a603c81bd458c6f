"""Throughput of invgym/Retail-v0 on a 1,000-product, 2-year panel against its pure-Python reference.

Run: python -m bench.retail. Figures are product-days simulated per second on one core.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from bench.common import interleaved, report
from invgym.envs.retail import RetailConfig
from invgym.panels import synthetic_panel
from tests.reference.retail import ReferenceEnv

PRODUCTS, DAYS, WARM = 1000, 730, 60


def main() -> None:
    """Measure and print every row, with ratios to the pure-Python reference env."""
    start = time.perf_counter()
    panel = synthetic_panel(num_products=PRODUCTS, num_days=DAYS + WARM, seed=0)
    print(f"panel {panel} generated in {time.perf_counter() - start:.2f} s")
    kwargs = dict(panel=panel, split="test", test_start=str(panel.dates[WARM]), product="all")
    config = RetailConfig.validate("RetailEnv", **kwargs)
    assert config.horizon == DAYS

    reference = ReferenceEnv(config, product=0)

    def python_run(rounds: int) -> int:
        for r in range(rounds):
            reference.product = r % PRODUCTS
            reference.reset(seed=r)
            for _ in range(DAYS):
                reference.step(3)
        return rounds * DAYS

    rows = [("pure-Python reference env (tests/reference), one product", python_run)]

    venv = gym.make_vec("invgym/Retail-v0", num_envs=PRODUCTS, vectorization_mode="vector_entry_point", **kwargs)
    constant = np.full(PRODUCTS, 3, dtype=np.int64)

    def whole_panel(rounds: int) -> int:
        for _ in range(rounds):
            venv.reset(seed=0)
            for _ in range(DAYS):
                venv.step(constant)
        return rounds * PRODUCTS * DAYS

    rows.append((f"native VectorEnv, {PRODUCTS} products x {DAYS} days, constant order", whole_panel))
    sales = config.slices["sales"]

    def base_stock(rounds: int) -> int:
        for _ in range(rounds):
            obs, _ = venv.reset(seed=0)
            for _ in range(DAYS):
                level = 1.5 * obs[:, sales][:, -7:].mean(axis=1)
                obs, *_ = venv.step(np.ceil(np.maximum(level - obs[:, 0], 0)).astype(np.int64))
        return rounds * PRODUCTS * DAYS

    rows.append(("  the same, stepped by a numpy base-stock policy", base_stock))
    rows = interleaved(rows, rounds=5)
    report(f"invgym/Retail-v0, {PRODUCTS} products x {DAYS} days (product-days/s), one core", rows, rows[0],
           unit="units/s")


if __name__ == "__main__":
    main()
