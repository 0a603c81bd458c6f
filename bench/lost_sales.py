"""Throughput of invgym/LostSales-v0 against its pure-Python reference env (run: python bench/lost_sales.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from bench.common import rate, report, single_env_rate, vector_env_rate
from invgym.envs.lost_sales import LostSalesConfig
from tests.reference.lost_sales import ReferenceEnv

KWARGS = dict(lead_time=2, lost_sales_cost=9.0, horizon=1000)
LEVEL = 17.0  # a base-stock level for L = 2, Poisson(5)


def main() -> None:
    """Measure and print every row, with ratios to the pure-Python reference env."""
    config = LostSalesConfig.validate("LostSalesEnv", **KWARGS)
    python_env = single_env_rate(ReferenceEnv(config), 5)
    rows = [("pure-Python reference env (tests/reference)", python_env)]
    single = single_env_rate(gym.make("invgym/LostSales-v0", **KWARGS), 5)
    rows.append(("gym.make single env (with its default wrappers)", single))
    for n in (1, 64, 1024):
        rows.append((f"native VectorEnv, N={n}", vector_env_rate("invgym/LostSales-v0", n, 5, **KWARGS)))

    # The same base-stock policy, stepped through the VectorEnv with numpy vs the compiled whole-rollout.
    n = 1024
    venv = gym.make_vec("invgym/LostSales-v0", num_envs=n, vectorization_mode="vector_entry_point", **KWARGS)
    obs, _ = venv.reset(seed=0)

    def stepped(rounds: int) -> int:
        nonlocal obs
        for _ in range(rounds * 100):
            obs, *_ = venv.step(np.maximum(LEVEL - obs.sum(axis=1), 0).astype(np.int64))
        return rounds * 100 * n

    kernel = config.bind(n).reset(seed=0).kernel

    def rolled(rounds: int) -> int:
        kernel.rollout("base_stock", [LEVEL], periods=rounds * 100)
        return rounds * 100 * n

    step_rate, roll_rate = rate(stepped), rate(rolled)
    rows.append((f"VectorEnv N={n} stepped by a numpy base-stock policy", step_rate))
    rows.append((f"whole-rollout, base-stock, N={n}", roll_rate))
    report("invgym/LostSales-v0 (L=2, Poisson(5)), one core", rows, python_env)
    print(f"\nwhole-rollout / stepped VectorEnv with the same policy: {roll_rate / step_rate:.1f}x")
    print(f"ns per env-step: VectorEnv N=1024 {1e9 / rows[4][1]:.1f}, whole-rollout {1e9 / roll_rate:.1f}")


if __name__ == "__main__":
    main()
