"""Cost of the leaderboard's agent jail: a numpy policy evaluated in-process vs through the sandbox channel.

``python -m bench.leaderboard_sandbox`` evaluates the same numpy order-up-to policy on LostSales-v0 (L = 2,
1024 envs, stepped period by period as any submitted agent is): called directly by ``invgym.evaluate``
(in-process), and answered by a jailed agent process through ``SandboxedPolicy`` and
``engine.evaluate_sandboxed`` (observations in shared memory, counters in the shared block, a pipe byte only to
wake a side that sleeps), in five ways: the whole batch per period, waiting asleep, placed by the scheduler or
with both processes on one CPU; two pipelined half-batches (this process steps one half while the agent computes
the other) with both on one CPU, or spinning on the shared counters (each side on its own CPU); and the engine's
default ``auto`` (spin while spins succeed, else both asleep on one CPU). ``--rows`` picks some of them. The rows
run interleaved, A B C A B C ..., one full evaluation each, so a burst of load on the shared machine hits every
row of a round alike; every row must give the same average cost.

Two measures, both printed, per round and then as median [least, greatest] over the rounds:

- *wall*: ``time.perf_counter`` around ``invgym.evaluate``;
- *CPU*: the evaluator's ``time.process_time`` plus the agent's CPU time (the jail's process tree, from
  ``/proc/<pid>/task/*/schedstat``, nanoseconds).

The channel's share of a sandboxed evaluation is ``1 - in-process / sandboxed`` of the same round, for each
measure. The sandbox's start-up (a fresh interpreter importing numpy and invgym, jailed) is paid once per
instance and reported separately (``--starts`` fresh starts, median).

``--floor`` instead times the channel's floor and the pipelining idea without the sandbox: a minimal stepped loop
(the kernel's ``step``, no checks) with the policy in-process, and the same loop talking to a bare exec'd
interpreter (memfd block, one byte each way per batch, nothing else): one round trip per period (the
sandbox's design) on one CPU and placed freely, and two half-batches of 512 envs pipelined (the evaluator steps
one half while the agent computes the other; an action only decides the state of its own envs, so the costs are
identical), blocking on pipes on one CPU or on two, or spinning on shared counters on two CPUs. ``--floor
--spin-us 20 100`` replaces the pipelined rows with one round trip per period where each side first spins up to
that many microseconds on a shared counter, then blocks on the pipe (placed freely, and on two CPUs).

``--primitives`` instead times bare wake-up round trips between two processes (a pipe, an ``eventfd``, a futex
through ``ctypes``), free, on one CPU and on two different CPUs: which primitive the channel should use here.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import gymnasium as gym
import numpy as np

import invgym
from invgym.leaderboard._io import sha256_file
from invgym.leaderboard.engine import evaluate_sandboxed
from invgym.leaderboard.sandbox import SandboxedPolicy, sandbox_mode

ENV = "invgym/LostSales-v0"
KWARGS = {"lead_time": 2, "lost_sales_cost": 9.0}
AGENT = '''
import numpy as np


def make_agent(env):
    c = env.unwrapped.config
    level = 19.0  # Zipkin's best base-stock level at L = 2, p = 9

    def policy(obs):
        return np.clip(level - obs.sum(axis=1), 0, int(c.max_order)).astype(np.int64)

    return policy
'''


def tree_pids(pid: int) -> list[int]:
    """A process and its descendants (their ``/proc/<pid>/task/*/children``)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except OSError:
            pass
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its threads and its descendants (``schedstat``: on-CPU nanoseconds)."""
    total = 0
    for p in tree_pids(pid):
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/schedstat") as handle:
                    total += int(handle.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def _text(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    return (f"{scale * statistics.median(values):.{digits}f} "
            f"[{scale * min(values):.{digits}f}, {scale * max(values):.{digits}f}]")


_SYS_FUTEX, _FUTEX_WAIT, _FUTEX_WAKE = 202, 0, 1  # x86-64


def _round_trips(kind: str, cpus: tuple[set[int], set[int]] | None, count: int) -> tuple[float, float, float]:
    """Ping-pong ``count`` wake-ups with a forked child; return wall, parent CPU and child CPU per round trip (s)."""
    import ctypes
    import mmap

    libc = ctypes.CDLL(None, use_errno=True)
    block = mmap.mmap(-1, 4096)
    words = (ctypes.c_int32 * 2).from_buffer(block)
    base = ctypes.addressof(words)
    if kind == "eventfd":
        ping, pong = os.eventfd(0), os.eventfd(0)
        fds = ((ping, pong), (pong, ping))

        def wait(fd: int, _: int) -> None:
            os.eventfd_read(fd)

        def wake(fd: int, _: int) -> None:
            os.eventfd_write(fd, 1)
    elif kind == "pipe":
        (ping_r, ping_w), (pong_r, pong_w) = os.pipe(), os.pipe()
        fds = ((pong_r, ping_w), (ping_r, pong_w))  # (what I wait on, what I wake) for parent, child

        def wait(fd: int, _: int) -> None:
            os.read(fd, 1)

        def wake(fd: int, _: int) -> None:
            os.write(fd, b"x")
    else:  # a futex on a shared word: word 0 the parent's count, word 1 the child's
        fds = ((1, 0), (0, 1))

        def wait(word: int, value: int) -> None:
            seen = words[word]  # read once: the kernel sleeps only while the word still holds what was seen
            while seen != value:
                libc.syscall(_SYS_FUTEX, ctypes.c_void_p(base + 4 * word), _FUTEX_WAIT, ctypes.c_int(seen),
                             None, None, 0)
                seen = words[word]

        def wake(word: int, value: int) -> None:
            words[word] = value
            libc.syscall(_SYS_FUTEX, ctypes.c_void_p(base + 4 * word), _FUTEX_WAKE, 1, None, None, 0)
    everywhere = os.sched_getaffinity(0)
    pid = os.fork()
    if pid == 0:
        if cpus is not None:
            os.sched_setaffinity(0, cpus[1])
        mine, theirs = fds[1]
        for i in range(1, count + 1):
            wait(mine, i)
            wake(theirs, i)
        os._exit(0)
    if cpus is not None:
        os.sched_setaffinity(0, cpus[0])
    mine, theirs = fds[0]
    begin, begin_cpu = time.perf_counter(), time.process_time()
    for i in range(1, count + 1):
        wake(theirs, i)
        wait(mine, i)
    wall, parent = time.perf_counter() - begin, time.process_time() - begin_cpu
    usage = os.wait4(pid, 0)[2]
    os.sched_setaffinity(0, everywhere)
    return wall / count, parent / count, (usage.ru_utime + usage.ru_stime) / count


def primitives(count: int = 20_000, rounds: int = 3) -> None:
    """Print the cost of one wake-up round trip per primitive and placement (median [least, greatest] round)."""
    from bench.common import load_text

    cpus = sorted(os.sched_getaffinity(0))
    places = {"free": None, "one CPU": ({cpus[0]}, {cpus[0]})}
    if len(cpus) > 1:
        places["two CPUs"] = ({cpus[0]}, {cpus[1]})
    print(f"before: {load_text()}; {count} round trips per run, {rounds} interleaved rounds")
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(rounds):
        for place, pair in places.items():
            for kind in ("pipe", "eventfd", "futex"):
                results.setdefault((kind, place), []).append(_round_trips(kind, pair, count))
    print(f"after:  {load_text()}")
    print(f"{'primitive':<10}{'placement':<10}{'wall us':>24}{'CPU us (both sides)':>26}")
    for (kind, place), values in results.items():
        wall = [1e6 * w for w, _, _ in values]
        both = [1e6 * (p + c) for _, p, c in values]
        print(f"{kind:<10}{place:<10}{_text(wall, digits=1):>24}{_text(both, digits=1):>26}")


_FLOOR_CHILD = r"""
import os, sys, mmap, time
import numpy as np
req0, req1, rep0, rep1, fd, n, halves, spin, cpu = map(int, sys.argv[1:10])
# spin: 0 = block on the pipe; -1 = spin on the shared counters only; S > 0 = spin up to S us on the counter, then
# block on the pipe (the sender always writes its pipe byte first, then bumps the counter: a waiter that saw the
# counter reads a byte that is already there, one that gave up sleeps on the pipe; the data is ready in both)
if cpu >= 0:
    os.sched_setaffinity(0, {cpu})
block = mmap.mmap(fd, 1 << 20)
size = n // halves
obs = [np.ndarray((size, 2), np.float32, block, 4096 + h * 131072) for h in range(halves)]
act = [np.ndarray((size,), np.int64, block, 4096 + 65536 + h * 131072) for h in range(halves)]
seq = np.ndarray((4,), np.int64, block, 0)
reqs, reps = (req0, req1), (rep0, rep1)


def policy(obs):
    return np.clip(19.0 - obs.sum(axis=1), 0, 100).astype(np.int64)


k = 0
clock = time.perf_counter
while True:
    k += 1
    for h in range(halves):
        if spin < 0:
            while seq[h] < k:
                pass
            if seq[h] > 1 << 60:
                sys.exit(0)
        else:
            if spin > 0:
                deadline = clock() + spin * 1e-6
                while seq[h] < k and clock() < deadline:
                    pass
            if os.read(reqs[h], 1) != b"S":
                sys.exit(0)
        np.copyto(act[h], policy(obs[h].copy()))
        if spin < 0:
            seq[2 + h] = k
        else:
            os.write(reps[h], b"A")
            if spin > 0:
                seq[2 + h] = k
"""


def _floor_policy(obs: np.ndarray) -> np.ndarray:
    return np.clip(19.0 - obs.sum(axis=1), 0, 100).astype(np.int64)


def _floor_buffers(n: int, periods: int, halves: int) -> list:
    import dataclasses

    from invgym.envs.common import config_of

    config = dataclasses.replace(config_of(ENV, **KWARGS), horizon=periods)
    size = n // halves
    return [config.bind(size).reset(h * size) for h in range(halves)]  # env i keeps seed i


def _floor_in_process(n: int, periods: int) -> tuple[float, float, float]:
    """The minimal stepped loop with the policy in this process: (CPU s, wall s, average cost)."""
    (buf,) = _floor_buffers(n, periods, 1)
    total = np.zeros((n, buf.kernel.num_parts))
    begin, begin_cpu = time.perf_counter(), time.process_time()
    for _ in range(periods):
        np.copyto(buf.actions, _floor_policy(buf.obs.copy()).reshape(-1, 1).astype(np.float64))
        buf.kernel.step()
        total += buf.parts
    return time.process_time() - begin_cpu, time.perf_counter() - begin, total[:, 0].mean() / periods


def _floor_run(n: int, periods: int, halves: int, spin: int,  # noqa: C901 - one run: start, warm, time, stop
               cpus: tuple[int, int] | None) -> tuple[float, float, float]:
    """The minimal loop talking to a bare child: (CPU s of both processes, wall s, average cost).

    ``spin``: 0 blocks on pipes, -1 spins on shared counters only, ``S > 0`` spins up to S microseconds on the
    counter before blocking on the pipe (see the child's comment).
    """
    import mmap
    import subprocess
    import sys

    bufs = _floor_buffers(n, periods, halves)
    totals = [np.zeros((b.actions.shape[0], b.kernel.num_parts)) for b in bufs]
    fd = os.memfd_create("invgym-floor")
    os.ftruncate(fd, 1 << 20)
    block = mmap.mmap(fd, 1 << 20)
    size = n // halves
    obs = [np.ndarray((size, 2), np.float32, block, 4096 + h * 131072) for h in range(halves)]
    act = [np.ndarray((size,), np.int64, block, 4096 + 65536 + h * 131072) for h in range(halves)]
    seq = np.ndarray((4,), np.int64, block, 0)
    pipes = [os.pipe() for _ in range(4)]  # two requests, two replies
    child_fds = [pipes[0][0], pipes[1][0], pipes[2][1], pipes[3][1], fd]
    cpu = -1 if cpus is None else cpus[1]
    proc = subprocess.Popen([sys.executable, "-c", _FLOOR_CHILD, *map(str, child_fds), str(n), str(halves),
                             str(int(spin)), str(cpu)], pass_fds=child_fds)
    everywhere = os.sched_getaffinity(0)
    if cpus is not None:
        os.sched_setaffinity(0, {cpus[0]})

    clock = time.perf_counter

    def post(h: int, k: int) -> None:
        np.copyto(obs[h], bufs[h].obs)
        if spin < 0:
            seq[h] = k
        else:
            os.write(pipes[h][1], b"S")
            if spin > 0:
                seq[h] = k

    def wait(h: int, k: int) -> np.ndarray:
        if spin < 0:
            while seq[2 + h] < k:
                pass
        else:
            if spin > 0:
                deadline = clock() + spin * 1e-6
                while seq[2 + h] < k and clock() < deadline:
                    pass
            os.read(pipes[2 + h][0], 1)
        return act[h].copy()

    try:
        for h in range(halves):  # warm-up: the child has started and answered once
            post(h, 1)
        for h in range(halves):
            wait(h, 1)
        bufs = _floor_buffers(n, periods, halves)
        agent0, begin, begin_cpu = tree_cpu(proc.pid), time.perf_counter(), time.process_time()
        for h in range(halves):
            post(h, 2)
        for t in range(periods):
            for h in range(halves):
                actions = wait(h, t + 2)
                np.copyto(bufs[h].actions, actions.reshape(-1, 1).astype(np.float64))
                bufs[h].kernel.step()
                totals[h] += bufs[h].parts
                if t < periods - 1:
                    post(h, t + 3)
        cpu_s = time.process_time() - begin_cpu + tree_cpu(proc.pid) - agent0
        wall = time.perf_counter() - begin
    finally:
        os.sched_setaffinity(0, everywhere)
        if spin < 0:
            seq[:2] = 1 << 62
        for h in range(2):
            os.write(pipes[h][1], b"Q")
        proc.wait()
        for pair in pipes:
            for end in pair:
                os.close(end)
        os.close(fd)
    return cpu_s, wall, np.concatenate(totals)[:, 0].mean() / periods


def floor(n: int, periods: int, rounds: int, spin_us: tuple[int, ...] = ()) -> None:
    """Print the minimal channel's share of a stepped evaluation, one round trip and two pipelined halves.

    With ``spin_us``, instead of the pipelined rows: one round trip per period where each side spins up to that
    many microseconds on a shared counter before it blocks on the pipe, placed freely and on two CPUs.
    """
    from bench.common import load_text

    cpus = sorted(os.sched_getaffinity(0))
    one, two = (cpus[0], cpus[0]), (cpus[0], cpus[-1])
    rows = {"in-process (minimal loop)": (None, 0, None), "one round trip, one CPU": (1, 0, one),
            "one round trip, free": (1, 0, None), "two halves, one CPU": (2, 0, one),
            "two halves, two CPUs": (2, 0, two), "two halves, two CPUs, spin": (2, -1, two)}
    if spin_us:  # bounded spin on the shared counter, then the pipe: one round trip per period
        rows = {name: rows[name] for name in ("in-process (minimal loop)", "one round trip, one CPU",
                                              "one round trip, free")}
        for us in spin_us:
            rows[f"1 trip, free, spin {us} us+pipe"] = (1, us, None)
            rows[f"1 trip, 2 CPUs, spin {us} us+pipe"] = (1, us, two)
    print(f"{ENV} (L=2, p=9), numpy order-up-to policy, {n} envs x {periods} periods, minimal loops, bare child")
    print(f"before: {load_text()}")
    found: dict[str, list[tuple[float, float, float]]] = {name: [] for name in rows}
    for _ in range(rounds):
        for name, (halves, spin, place) in rows.items():
            found[name].append(_floor_in_process(n, periods) if halves is None
                               else _floor_run(n, periods, halves, spin, place))
    print(f"after:  {load_text()}; {rounds} interleaved rounds, median [least, greatest round]")
    print(f"{'what':<30}{'CPU s (both)':>26}{'channel share of CPU %':>28}{'wall s':>26}")
    base = [c for c, _, _ in found["in-process (minimal loop)"]]
    for name, values in found.items():
        cpu = [c for c, _, _ in values]
        share = [100 * (1 - a / b) for a, b in zip(base, cpu, strict=True)]
        print(f"{name:<30}{_text(cpu):>26}{_text(share, digits=1):>28}{_text([w for _, w, _ in values]):>26}")
    costs = {value[2] for values in found.values() for value in values}
    if len(costs) != 1:
        raise SystemExit(f"the rows disagree on the average cost: {costs}")
    print(f"same average cost in every row: {costs.pop():.6f}")


def main() -> None:  # noqa: C901 - one straight sequence: parse, start, time interleaved, print
    """Run the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--periods", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--starts", type=int, default=5, help="fresh sandbox starts to time")
    parser.add_argument("--rows", nargs="+", default=[], metavar="ROW",
                        help="only these sandboxed rows (names as printed), besides in-process")
    parser.add_argument("--primitives", action="store_true", help="time bare wake-up round trips instead")
    parser.add_argument("--floor", action="store_true",
                        help="time the minimal channel and two pipelined half-batches instead")
    parser.add_argument("--spin-us", type=int, nargs="+", default=[], metavar="US",
                        help="with --floor: one round trip per period, spinning up to US microseconds on a shared "
                             "counter before blocking on the pipe, instead of the pipelined rows")
    args = parser.parse_args()
    if args.primitives:
        primitives()
        return
    if args.floor:
        floor(args.num_envs, args.periods, args.rounds, tuple(args.spin_us))
        return
    from bench.common import load_text

    directory = pathlib.Path(tempfile.mkdtemp(prefix="invgym-bench-"))
    file = directory / "agent.py"
    file.write_text(AGENT)
    namespace: dict = {}
    exec(compile(AGENT, str(file), "exec"), namespace)  # the same policy, in this process
    direct = namespace["make_agent"](gym.make(ENV, **KWARGS))
    spec = {"kind": "python", "spec": f"{file}:make_agent", "algo": None, "sha256": sha256_file(file),
            "path": str(file)}
    n, periods = args.num_envs, args.periods

    variants = {"one batch, free": (1, "free"), "one batch, one CPU": (1, "one-cpu"),
                "halves, one CPU": (2, "one-cpu"), "halves, spin": (2, "spin"), "halves, auto (default)": (2, "auto")}
    variants = {name: variants[name] for name in args.rows} if args.rows else variants

    def start(groups: int = 2, channel: str = "auto") -> SandboxedPolicy:
        return SandboxedPolicy(spec, ENV, KWARGS, num_envs=n, obs_dim=2, act_dim=1, groups=groups, channel=channel)

    print(f"{ENV} (L=2, p=9), numpy order-up-to policy, {n} envs x {periods} periods, stepped; "
          f"sandbox mode: {sandbox_mode()}")
    print(f"before: {load_text()}")
    startups, start_cpu = [], []
    for _ in range(args.starts):
        begin, begin_cpu = time.perf_counter(), time.process_time()
        policy = start()
        startups.append(time.perf_counter() - begin)
        start_cpu.append(time.process_time() - begin_cpu + tree_cpu(policy._proc.pid))
        policy.close()
    jailed = {name: start(groups, channel) for name, (groups, channel) in variants.items()}
    rows = [("in-process", direct, None)] + [(name, policy, policy) for name, policy in jailed.items()]
    wall: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    spun: dict[str, int] = {name: 0 for name in jailed}
    costs = {}
    try:
        for policy in jailed.values():  # warm up each agent (first calls, page faults)
            evaluate_sandboxed(policy, ENV, num_envs=n, periods=20, warmup=0, seed=0, **KWARGS)
        for _ in range(args.rounds):
            for name, policy, jail in rows:
                agent0 = tree_cpu(jail._proc.pid) if jail is not None else 0.0
                begin, begin_cpu = time.perf_counter(), time.process_time()
                if jail is None:
                    result = invgym.evaluate(policy, ENV, num_envs=n, periods=periods, warmup=0, seed=0, **KWARGS)
                else:
                    result = evaluate_sandboxed(policy, ENV, num_envs=n, periods=periods, warmup=0, seed=0,
                                                **KWARGS)
                wall[name].append(time.perf_counter() - begin)
                if jail is not None:
                    spun[name] += bool(jail._spin_ns)  # still spinning at the end (auto: never gave up)
                agent = tree_cpu(jail._proc.pid) - agent0 if jail is not None else 0.0
                cpu[name].append(time.process_time() - begin_cpu + agent)
                costs[name] = result.average_cost
    finally:
        for policy in jailed.values():
            policy.close()
    print(f"after:  {load_text()}; {args.rounds} interleaved rounds, median [least, greatest round]")
    print(f"{'what':<28}{'wall s':>26}{'CPU s (evaluator + agent)':>30}")
    for name, _, _ in rows:
        print(f"{name:<28}{_text(wall[name]):>26}{_text(cpu[name]):>30}")
    print(f"{'channel share of the sandboxed evaluation, 1 - in-process / sandboxed, same round':<28}")
    print(f"{'what':<28}{'wall %':>26}{'CPU %':>30}")
    for name, _, jail in rows:
        if jail is None:
            continue
        share_wall = [100 * (1 - a / b) for a, b in zip(wall["in-process"], wall[name], strict=True)]
        share_cpu = [100 * (1 - a / b) for a, b in zip(cpu["in-process"], cpu[name], strict=True)]
        print(f"{name:<28}{_text(share_wall, digits=1):>26}{_text(share_cpu, digits=1):>30}")
    per_period = {name: [1e6 * (b - a) / periods for a, b in zip(cpu["in-process"], cpu[name], strict=True)]
                  for name, _, jail in rows if jail is not None}
    for name, values in per_period.items():
        print(f"  {name}: channel CPU per period {_text(values, digits=1)} us"
              + (f"; still spinning at the end in {spun[name]} of {args.rounds} rounds" if "auto" in name else ""))
    print(f"sandbox start-up (once per instance), {args.starts} fresh starts: wall {_text(startups)} s, "
          f"CPU (evaluator + agent) {_text(start_cpu)} s")
    if len(set(costs.values())) != 1:
        raise SystemExit(f"the rows disagree on the average cost: {costs}")
    print(f"same average cost in every row: {costs['in-process']:.6f}")


if __name__ == "__main__":
    main()
