"""Cost of the leaderboard's agent jail: a numpy policy evaluated in-process vs through the sandbox channel.

``python -m bench.leaderboard_sandbox`` evaluates the same numpy order-up-to policy on LostSales-v0 (L = 2,
1024 envs, stepped period by period as any submitted agent is): called directly by ``invgym.evaluate``
(in-process), and answered by a jailed agent process through ``SandboxedPolicy`` (observations in shared
memory, one byte out and a 48-byte header back per period), once blocking on the pipe at once (``spin 0``) and
once per ``--spin`` budget (each side spins that many microseconds on the peer's sequence number before it
blocks). The rows run interleaved, A B C A B C ..., one full evaluation each, so a burst of load on the shared
machine hits every row of a round alike.

Two measures, both printed, per round and then as median [least, greatest] over the rounds:

- *wall*: ``time.perf_counter`` around ``invgym.evaluate``;
- *CPU*: the evaluator's ``time.process_time`` plus the agent's CPU time (the jail's process tree, from
  ``/proc/<pid>/task/*/schedstat``, nanoseconds), so a spinning agent is charged for its spinning.

The channel's share of a sandboxed evaluation is ``1 - in-process / sandboxed`` of the same round, for each
measure. The sandbox's start-up (a fresh interpreter importing numpy and invgym, jailed) is paid once per
instance and reported separately (``--starts`` fresh starts, median).
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


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its threads and its descendants (``schedstat``: on-CPU nanoseconds)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/schedstat") as handle:
                    total += int(handle.read().split()[0])
                with open(f"/proc/{p}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except OSError:
            pass
    return total / 1e9


def _text(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    return (f"{scale * statistics.median(values):.{digits}f} "
            f"[{scale * min(values):.{digits}f}, {scale * max(values):.{digits}f}]")


def main() -> None:
    """Run the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--periods", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--spin", type=float, nargs="*", default=[50.0, 200.0],
                        help="spin budgets (microseconds) to measure besides 0")
    parser.add_argument("--starts", type=int, default=5, help="fresh sandbox starts to time")
    args = parser.parse_args()
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

    def start(spin: float) -> SandboxedPolicy:
        return SandboxedPolicy(spec, ENV, KWARGS, num_envs=n, obs_dim=2, act_dim=1, spin_us=spin)

    print(f"{ENV} (L=2, p=9), numpy order-up-to policy, {n} envs x {periods} periods, stepped; "
          f"sandbox mode: {sandbox_mode()}")
    print(f"before: {load_text()}")
    startups, start_cpu = [], []
    for _ in range(args.starts):
        begin, begin_cpu = time.perf_counter(), time.process_time()
        policy = start(0.0)
        startups.append(time.perf_counter() - begin)
        start_cpu.append(time.process_time() - begin_cpu + tree_cpu(policy._proc.pid))
        policy.close()
    jailed = {spin: start(spin) for spin in [0.0, *args.spin]}
    rows = [("in-process", direct, None)] + [(f"sandboxed, spin {spin:g} us", policy, policy)
                                            for spin, policy in jailed.items()]
    wall: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    costs = {}
    try:
        for policy in jailed.values():  # warm up each agent (first calls, page faults)
            invgym.evaluate(policy, ENV, num_envs=n, periods=20, warmup=0, seed=0, **KWARGS)
        for _ in range(args.rounds):
            for name, policy, jail in rows:
                agent0 = tree_cpu(jail._proc.pid) if jail is not None else 0.0
                begin, begin_cpu = time.perf_counter(), time.process_time()
                result = invgym.evaluate(policy, ENV, num_envs=n, periods=periods, warmup=0, seed=0, **KWARGS)
                wall[name].append(time.perf_counter() - begin)
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
        print(f"  {name}: channel CPU per period {_text(values, digits=1)} us")
    print(f"sandbox start-up (once per instance), {args.starts} fresh starts: wall {_text(startups)} s, "
          f"CPU (evaluator + agent) {_text(start_cpu)} s")
    if len(set(costs.values())) != 1:
        raise SystemExit(f"the rows disagree on the average cost: {costs}")
    print(f"same average cost in every row: {costs['in-process']:.6f}")


if __name__ == "__main__":
    main()
