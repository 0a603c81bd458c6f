"""Throughput of invgym/ProcurementRemoval-v0 against its pure-Python reference env.

Run: ``python -m bench.procurement_removal``.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np

from bench.common import interleaved, ns_text, ratio_text, report, single_env_run, vector_env_run
from invgym.envs.procurement_removal import ProcurementRemovalConfig
from tests.reference import procurement_removal as reference
from tests.reference.lost_sales import ReferenceEnv

ENV_ID = "invgym/ProcurementRemoval-v0"
KWARGS = dict(lead_time=2, lost_sales_cost=9.0, horizon=1000, initial_state=[40, 0])
LEVELS = (15.0, 18.0)  # an interval (order up to a, remove down to b) for L = 2, Poisson(5)


def main() -> None:
    """Measure and print every row, with ratios to the pure-Python reference env, then the solver's time."""
    config = ProcurementRemovalConfig.validate("ProcurementRemovalEnv", **KWARGS)
    python_env = single_env_run(ReferenceEnv(config, reference), 5)
    rows = [("pure-Python reference env (tests/reference)", python_env)]
    rows.append(("gym.make single env (with its default wrappers)", single_env_run(gym.make(ENV_ID, **KWARGS), 5)))
    for n in (1, 64, 1024):
        rows.append((f"native VectorEnv, N={n}", vector_env_run(ENV_ID, n, 5, **KWARGS)))

    # The same interval policy, stepped through the VectorEnv with numpy vs the compiled whole-rollout.
    n = 1024
    a, b = LEVELS
    venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **KWARGS)
    obs, _ = venv.reset(seed=0)
    low, high = -config.max_removal, config.max_order

    def stepped(rounds: int) -> int:
        nonlocal obs
        for _ in range(rounds * 100):
            x = obs.sum(axis=1)
            u = np.where(x < a, a - x, np.where(x > b, b - x, 0.0))
            obs, *_ = venv.step(np.clip(u, low, high).astype(np.int64))
        return rounds * 100 * n

    kernel = config.bind(n).reset(seed=0).kernel

    def rolled(rounds: int) -> int:
        kernel.rollout("interval", [a, b], periods=rounds * 100)
        return rounds * 100 * n

    rows.append((f"VectorEnv N={n} stepped by a numpy interval policy", stepped))
    rows.append((f"whole-rollout, interval, N={n}", rolled))
    rows = interleaved(rows)
    report(f"{ENV_ID} (L=2, Poisson(5), lost sales), one core", rows, rows[0])
    print(f"\nwhole-rollout / stepped VectorEnv with the same policy: {ratio_text(rows[6], rows[5])}")
    print(f"ns per env-step (median): VectorEnv N=1024 {ns_text(rows[4])}, whole-rollout {ns_text(rows[6])}")

    from invgym.baselines.exact_procurement_removal import solve_procurement_removal
    from invgym.baselines.interval_stock import IntervalStock

    start = time.perf_counter()
    solution = solve_procurement_removal(config)
    solved = time.perf_counter() - start
    start = time.perf_counter()
    policy = IntervalStock.fit(config)
    fitted = time.perf_counter() - start
    print(f"\nexact RVI: {solution.num_states} states, {solution.iterations} sweeps, {solved:.2f} s; "
          f"optimal average cost {solution.average_cost:.4f}")
    print(f"IntervalStock.fit: {policy.info['evaluations']} candidates, {fitted:.2f} s; {policy}")


if __name__ == "__main__":
    main()
