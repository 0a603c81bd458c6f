"""Cost of the leaderboard's agent jail: a numpy policy evaluated in-process vs through the sandbox channel.

``python -m bench.leaderboard_sandbox`` evaluates the same numpy order-up-to policy on LostSales-v0 (L = 2,
1024 envs, stepped period by period as any submitted agent is): called directly by ``invgym.evaluate``
(in-process), and answered by a jailed agent process through ``SandboxedPolicy`` (observations in shared
memory, one byte out and a 48-byte header back per period), once as the leaderboard runs it (the scheduler
places both processes) and once with this process and the agent's process tree pinned to one CPU (the two never
run at once; a wake-up that crosses CPUs costs several times one that does not, see ``--primitives``). The rows
run interleaved, A B C A B C ..., one full evaluation each, so a burst of load on the shared machine hits every
row of a round alike.

Two measures, both printed, per round and then as median [least, greatest] over the rounds:

- *wall*: ``time.perf_counter`` around ``invgym.evaluate``;
- *CPU*: the evaluator's ``time.process_time`` plus the agent's CPU time (the jail's process tree, from
  ``/proc/<pid>/task/*/schedstat``, nanoseconds).

The channel's share of a sandboxed evaluation is ``1 - in-process / sandboxed`` of the same round, for each
measure. The sandbox's start-up (a fresh interpreter importing numpy and invgym, jailed) is paid once per
instance and reported separately (``--starts`` fresh starts, median).

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

import invgym
from invgym.leaderboard._io import sha256_file
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


def main() -> None:
    """Run the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--periods", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--starts", type=int, default=5, help="fresh sandbox starts to time")
    parser.add_argument("--primitives", action="store_true", help="time bare wake-up round trips instead")
    args = parser.parse_args()
    if args.primitives:
        primitives()
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

    def start() -> SandboxedPolicy:
        return SandboxedPolicy(spec, ENV, KWARGS, num_envs=n, obs_dim=2, act_dim=1)

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
    everywhere = os.sched_getaffinity(0)
    one = {min(everywhere)}
    jailed = {"sandboxed": start(), "sandboxed, one CPU": start()}
    for pid in tree_pids(jailed["sandboxed, one CPU"]._proc.pid):
        os.sched_setaffinity(pid, one)
    rows = [("in-process", direct, None)] + [(name, policy, policy) for name, policy in jailed.items()]
    wall: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    costs = {}
    try:
        for policy in jailed.values():  # warm up each agent (first calls, page faults)
            invgym.evaluate(policy, ENV, num_envs=n, periods=20, warmup=0, seed=0, **KWARGS)
        for _ in range(args.rounds):
            for name, policy, jail in rows:
                os.sched_setaffinity(0, one if name.endswith("one CPU") else everywhere)
                agent0 = tree_cpu(jail._proc.pid) if jail is not None else 0.0
                begin, begin_cpu = time.perf_counter(), time.process_time()
                result = invgym.evaluate(policy, ENV, num_envs=n, periods=periods, warmup=0, seed=0, **KWARGS)
                wall[name].append(time.perf_counter() - begin)
                agent = tree_cpu(jail._proc.pid) - agent0 if jail is not None else 0.0
                cpu[name].append(time.process_time() - begin_cpu + agent)
                costs[name] = result.average_cost
    finally:
        os.sched_setaffinity(0, everywhere)
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
        print(f"  {name}: channel CPU per period {_text(values, digits=1)} us")
    print(f"sandbox start-up (once per instance), {args.starts} fresh starts: wall {_text(startups)} s, "
          f"CPU (evaluator + agent) {_text(start_cpu)} s")
    if len(set(costs.values())) != 1:
        raise SystemExit(f"the rows disagree on the average cost: {costs}")
    print(f"same average cost in every row: {costs['in-process']:.6f}")


if __name__ == "__main__":
    main()
