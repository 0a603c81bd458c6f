"""Soak: 10^8 env-steps over every registered scenario, with envs re-created all along; RSS must stay flat.

``python -m bench.soak`` cycles through the invgym ids: each round builds a native vector env (1024 envs), steps
it with random valid actions, closes it, and also builds, steps and closes a few single envs (``gym.make``), until
``--steps`` env-steps are done. The resident set size (``/proc/self/statm``) is printed after the first round (the
baseline: every kernel module and panel loaded) and at every tenth of the run; the run fails (exit 1) if the
last reading exceeds the baseline by more than ``--tolerance-mb``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import gymnasium as gym
import numpy as np

import invgym  # noqa: F401  (registers the ids)


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    """Run the soak and print the RSS readings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=float, default=1e8, help="total env-steps")
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--periods", type=int, default=200, help="vector steps per env built")
    parser.add_argument("--tolerance-mb", type=float, default=20.0)
    args = parser.parse_args()
    ids = sorted(i for i in gym.registry if i.startswith("invgym/"))
    rng = np.random.default_rng(0)
    total, target, rounds = 0, int(args.steps), 0
    readings: list[tuple[int, float]] = []
    start, cpu = time.perf_counter(), time.process_time()
    next_report = 0
    while total < target:
        for env_id in ids:
            vec = gym.make_vec(env_id, num_envs=args.num_envs, vectorization_mode="vector_entry_point")
            vec.reset(seed=int(rng.integers(0, 2**32)))
            vec.action_space.seed(int(rng.integers(0, 2**32)))
            for _ in range(args.periods):
                vec.step(vec.action_space.sample())
            vec.close()
            total += args.num_envs * args.periods
            for _ in range(3):
                env = gym.make(env_id)
                env.reset(seed=int(rng.integers(0, 2**32)))
                for _ in range(20):
                    _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                    if terminated or truncated:
                        env.reset()
                env.close()
                total += 20
        rounds += 1
        if rounds == 1 or total >= next_report or total >= target:
            readings.append((total, rss_mb()))
            print(f"{total:>13,} env-steps  RSS {readings[-1][1]:8.1f} MiB", flush=True)
            next_report = total + target // 10
    base, last = readings[0][1], readings[-1][1]
    print(f"{rounds} rounds over {len(ids)} ids ({len(ids) * rounds} vector envs and {3 * len(ids) * rounds} single "
          f"envs built); {time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")
    print(f"RSS after the first round {base:.1f} MiB, at the end {last:.1f} MiB: growth {last - base:+.1f} MiB "
          f"(tolerance {args.tolerance_mb:g})")
    return 0 if last - base <= args.tolerance_mb else 1


if __name__ == "__main__":
    sys.exit(main())
