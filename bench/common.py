"""Throughput measurements shared by every scenario's bench script (benchmarks, never tests).

Each figure is env-steps per second on one core, measured in this process back to back, and printed as a ratio
to the pure-Python reference env of the same scenario, so machines of different speed give comparable ratios.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # for tests.reference

import invgym  # noqa: E402,F401


def rate(run: Callable[[int], int], seconds: float = 1.0) -> float:
    """Env-steps per second of ``run(k)`` (which performs k rounds and returns the env-steps done)."""
    run(1)  # warm up (first-call costs, page faults)
    rounds, elapsed, steps = 1, 0.0, 0
    while elapsed < seconds:
        start = time.perf_counter()
        steps = run(rounds)
        elapsed = time.perf_counter() - start
        rounds *= 2
    return steps / elapsed


def single_env_rate(env: gym.Env, action: Any) -> float:
    """Steps per second of a single env with a fixed action (reset at truncation)."""
    env.reset(seed=0)

    def run(rounds: int) -> int:
        for _ in range(rounds * 1000):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return rounds * 1000

    return rate(run)


def vector_env_rate(env_id: str, num_envs: int, action: Any, **kwargs: Any) -> float:
    """Env-steps per second of the native vector env with a fixed batch action."""
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    venv.reset(seed=0)
    actions = np.broadcast_to(np.asarray(action), venv.action_space.shape).copy()

    def run(rounds: int) -> int:
        for _ in range(rounds * 100):
            venv.step(actions)
        return rounds * 100 * num_envs

    return rate(run)


def report(title: str, rows: list[tuple[str, float]], reference: float) -> None:
    """Print a table of steps/s with each row's ratio to ``reference``."""
    print(f"\n{title}")
    print(f"{'what':<52}{'env-steps/s':>16}{'ratio':>10}")
    for name, value in rows:
        print(f"{name:<52}{value:>16,.0f}{value / reference:>9.1f}x")
