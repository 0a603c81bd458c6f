"""Throughput measurements shared by every bench script (benchmarks, never tests).

Every row of a table is a callable ``run(k)`` that performs ``k`` rounds of work and returns the units done
(env-steps, periods, ...). :func:`interleaved` times the rows in turn, A B C A B C ..., on CPU time
(``time.process_time``), so a burst of load on the shared machine slows every row of a round alike; each ratio
is taken round by round against the reference row of the same round and reported as its median with the
least and greatest round. The load average is printed with every table, so a reader sees what the machine did.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))  # for tests.reference

import invgym  # noqa: E402,F401

Run = Callable[[int], int]


@dataclasses.dataclass
class Row:
    """One measured row: units per CPU second in each round."""

    name: str
    rates: list[float]

    @property
    def median(self) -> float:
        """Median units per CPU second over the rounds."""
        return statistics.median(self.rates)

    @property
    def spread(self) -> float:
        """(greatest - least) / median rate over the rounds, in percent."""
        return 100.0 * (max(self.rates) - min(self.rates)) / self.median


def _calibrate(run: Run, seconds: float) -> int:
    """The number of rounds ``k`` for which ``run(k)`` takes about ``seconds`` of CPU time."""
    run(1)  # warm up (first-call costs, page faults)
    k = 1
    while True:
        start = time.process_time()
        run(k)
        elapsed = time.process_time() - start
        if elapsed >= seconds / 4:
            return max(1, int(k * seconds / elapsed))
        k *= 4


def interleaved(cases: list[tuple[str, Run]], rounds: int = 7, seconds: float = 0.1) -> list[Row]:
    """Time every case ``rounds`` times, interleaved (A B C A B C ...), each sample ``seconds`` of CPU time."""
    sizes = [_calibrate(run, seconds) for _, run in cases]
    rows = [Row(name, []) for name, _ in cases]
    for _ in range(rounds):
        for row, (_, run), k in zip(rows, cases, sizes, strict=True):
            start = time.process_time()
            units = run(k)
            row.rates.append(units / (time.process_time() - start))
    return rows


def ratios(row: Row, reference: Row) -> list[float]:
    """Round-by-round ratios of ``row`` to ``reference`` (the same round's samples were taken side by side)."""
    return [a / b for a, b in zip(row.rates, reference.rates, strict=True)]


def ratio_text(row: Row, reference: Row) -> str:
    """'median [least, greatest]' of the round-by-round ratios."""
    values = ratios(row, reference)
    return f"{statistics.median(values):.2f}x [{min(values):.2f}, {max(values):.2f}]"


def load_text() -> str:
    """The machine's 1/5/15-minute load averages, for the table's header."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def report(title: str, rows: list[Row], reference: Row, unit: str = "env-steps/s") -> None:
    """Print a table of median rates with their spread and each row's ratio to ``reference``."""
    print(f"\n{title}\n{load_text()}; CPU time, {len(reference.rates)} interleaved rounds")
    print(f"{'what':<56}{unit + ' (median)':>24}{'spread':>8}  ratio: median [least, greatest round]")
    for row in rows:
        print(f"{row.name:<56}{row.median:>24,.0f}{row.spread:>7.0f}%  {ratio_text(row, reference)}")


def ns_text(row: Row) -> str:
    """Median nanoseconds per unit of ``row``."""
    return f"{1e9 / row.median:.1f}"


def single_env_run(env: gym.Env, action: Any) -> Run:
    """``run(k)``: 1000 k steps of a single env with a fixed action (reset at the episode's end)."""
    env.reset(seed=0)

    def run(rounds: int) -> int:
        for _ in range(rounds * 1000):
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        return rounds * 1000

    return run


def vector_env_run(env_id: str, num_envs: int, action: Any, **kwargs: Any) -> Run:
    """``run(k)``: 100 k steps of the native vector env with a fixed batch action."""
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    venv.reset(seed=0)
    actions = np.broadcast_to(np.asarray(action), venv.action_space.shape).copy()

    def run(rounds: int) -> int:
        for _ in range(rounds * 100):
            venv.step(actions)
        return rounds * 100 * num_envs

    return run


def allocated_per_step(step: Callable[[], Any], steps: int = 2000) -> tuple[float, int]:
    """Bytes allocated by calls of ``step`` (tracemalloc): still held per call after ``steps`` calls, and the peak.

    A step that allocates and frees temporaries (fresh arrays it returns, then drops) shows in the peak, not in
    what is held: a step that allocates nothing has both at 0.
    """
    step()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(steps):
        step()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (after - before) / steps, peak - before
