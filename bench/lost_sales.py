"""Throughput of invgym/LostSales-v0 against plain Python and the compiled limit (run: python -m bench.lost_sales).

Rows are interleaved (bench/common.py). Yardsticks: the project's pure-Python reference env (tests/reference), a
lean hand-written pure-Python env (bench/lean_env.py) and the compiled-limit probes (bench/_probe.pyx): a minimal
Cython whole-rollout loop and a minimal stepped loop over bound buffers, both on the kernel's own alias table.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from bench.common import (
    allocated_per_step,
    interleaved,
    ns_text,
    ratio_text,
    report,
    single_env_run,
    vector_env_run,
)
from bench.lean_env import LeanLostSalesEnv
from bench.probe import LostSalesStepper, lost_sales_rollout
from invgym.demand import kernel_tables
from invgym.envs.lost_sales import LostSalesConfig
from tests.reference.lost_sales import ReferenceEnv

ENV_ID = "invgym/LostSales-v0"
KWARGS = dict(lead_time=2, lost_sales_cost=9.0, horizon=1000)
LEVEL = 17.0  # a base-stock level for L = 2, Poisson(5)
N = 1024


def main() -> None:
    """Measure every row interleaved and print the ratios the targets are stated in."""
    config = LostSalesConfig.validate("LostSalesEnv", **KWARGS)
    prob, alias, support = kernel_tables(config.demand)
    args = (prob, alias, int(support[0]), config.lead_time, config.holding_cost, config.lost_sales_cost)

    venv = gym.make_vec(ENV_ID, num_envs=N, vectorization_mode="vector_entry_point", **KWARGS)
    obs, _ = venv.reset(seed=0)

    def stepped_policy(rounds: int) -> int:
        nonlocal obs
        for _ in range(rounds * 100):
            obs, *_ = venv.step(np.maximum(LEVEL - obs.sum(axis=1), 0).astype(np.int64))
        return rounds * 100 * N

    kernel = config.bind(N).reset(seed=0).kernel

    def rolled(rounds: int) -> int:
        kernel.rollout("base_stock", [LEVEL], periods=rounds * 100)
        return rounds * 100 * N

    def probe_rolled(rounds: int) -> int:
        lost_sales_rollout(*args, config.max_order, LEVEL, N, rounds * 100)
        return rounds * 100 * N

    p_obs = np.zeros((N, max(config.lead_time, 1)), dtype=np.float32)
    p_act = np.zeros(N)
    stepper = LostSalesStepper(*args, config.horizon, p_obs, np.zeros(N), np.zeros(N, dtype=bool), p_act)
    actions = np.full(N, 5, dtype=np.int64)

    def probe_stepped(rounds: int) -> int:
        for _ in range(rounds * 100):
            np.copyto(p_act, actions, casting="unsafe")
            stepper.step()
        return rounds * 100 * N

    cases = [
        ("lean pure-Python env (bench/lean_env.py)", single_env_run(LeanLostSalesEnv(2, 5.0, 1.0, 9.0), 5)),
        ("pure-Python reference env (tests/reference)", single_env_run(ReferenceEnv(config), 5)),
        ("gym.make single env (with its default wrappers)", single_env_run(gym.make(ENV_ID, **KWARGS), 5)),
        ("native VectorEnv, N=1", vector_env_run(ENV_ID, 1, 5, **KWARGS)),
        ("native VectorEnv, N=64", vector_env_run(ENV_ID, 64, 5, **KWARGS)),
        (f"native VectorEnv, N={N}", vector_env_run(ENV_ID, N, 5, **KWARGS)),
        ("native VectorEnv, N=1, copy=False", vector_env_run(ENV_ID, 1, 5, copy=False, **KWARGS)),
        ("native VectorEnv, N=64, copy=False", vector_env_run(ENV_ID, 64, 5, copy=False, **KWARGS)),
        (f"native VectorEnv, N={N}, copy=False", vector_env_run(ENV_ID, N, 5, copy=False, **KWARGS)),
        ("native VectorEnv, N=1, copy=False, info_parts=False",
         vector_env_run(ENV_ID, 1, 5, copy=False, info_parts=False, **KWARGS)),
        ("native VectorEnv, N=64, copy=False, info_parts=False",
         vector_env_run(ENV_ID, 64, 5, copy=False, info_parts=False, **KWARGS)),
        (f"native VectorEnv, N={N}, copy=False, info_parts=False",
         vector_env_run(ENV_ID, N, 5, copy=False, info_parts=False, **KWARGS)),
        (f"stepped probe (bench/_probe.pyx), N={N}", probe_stepped),
        (f"VectorEnv N={N} stepped by a numpy base-stock policy", stepped_policy),
        (f"whole-rollout, base-stock, N={N}", rolled),
        (f"whole-rollout probe (bench/_probe.pyx), base-stock, N={N}", probe_rolled),
    ]
    rows = interleaved(cases)
    by = {name.split(" (")[0]: row for (name, _), row in zip(cases, rows, strict=True)}
    lean, single, ref = by["lean pure-Python env"], by["gym.make single env"], by["pure-Python reference env"]
    roll, p_roll = by[f"whole-rollout, base-stock, N={N}"], by["whole-rollout probe"]
    p_step = by["stepped probe"]
    report(f"{ENV_ID} (L=2, Poisson(5)), one core", rows, lean)
    print("\ntargets (issue 17), round-by-round ratios: median [least, greatest]")
    for tail in ("", ", copy=False", ", copy=False, info_parts=False"):
        one, n64, n1024 = (by[f"native VectorEnv, N={n}{tail}"] for n in (1, 64, N))
        print(f"  VectorEnv{tail}:")
        print(f"    N={N} / lean pure-Python env (>= 100x):                 {ratio_text(n1024, lean)}")
        print(f"    N={N} / reference env (tests/reference):                {ratio_text(n1024, ref)}")
        print(f"    stepped probe / N={N}, per env-step (<= 1.5x):          {ratio_text(p_step, n1024)}")
        print(f"    gym.make single env / N=1, per step (<= 1.5x):          {ratio_text(single, one)}")
        print(f"    N={N} / N=64, per env-step (<= 1.5x):                   {ratio_text(n1024, n64)}")
        print(f"    ns per env-step: N={N} {ns_text(n1024)}, N=64 {ns_text(n64)}, N=1 {ns_text(one)}")
    print(f"  whole-rollout probe / kernel whole-rollout (<= 1.2x):       {ratio_text(p_roll, roll)}")
    print(f"  whole-rollout / stepped VectorEnv with the same policy:     "
          f"{ratio_text(roll, by[f'VectorEnv N={N} stepped by a numpy base-stock policy'])}")
    print(f"ns per env-step (median): stepped probe {ns_text(p_step)}, whole-rollout {ns_text(roll)}, "
          f"whole-rollout probe {ns_text(p_roll)}, gym.make single env {ns_text(single)}")

    print("\nallocations per VectorEnv.step (tracemalloc; kept: still held after 2000 steps, peak: largest "
          "transient)")
    for copy in (True, False):
        for n in (1, 64, N):
            env = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", copy=copy, **KWARGS)
            env.reset(seed=0)
            batch = np.full(n, 5, dtype=np.int64)
            kept, peak = allocated_per_step(lambda env=env, batch=batch: env.step(batch))
            print(f"  copy={copy!s:<5} N={n:<5} kept {kept:8.1f} B/step, peak {peak:8d} B")


if __name__ == "__main__":
    main()
