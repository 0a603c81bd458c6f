"""Cost of the leaderboard's agent jail: a numpy policy evaluated in-process vs through the sandbox channel.

``python -m bench.leaderboard_sandbox`` evaluates the same numpy order-up-to policy on LostSales-v0 (L = 2,
1024 envs, stepped period by period as any submitted agent is) twice per repeat: called directly by
``invgym.evaluate``, and answered by a jailed agent process through ``SandboxedPolicy`` (shared-memory
observations, one byte out and a 48-byte header back per period). It prints the best of the repeats for each and
the channel's share of the sandboxed evaluation's time: ``1 - in-process / sandboxed``. The sandbox's start-up
(a fresh interpreter importing numpy and invgym) is reported separately: it is paid once per instance.
"""

from __future__ import annotations

import argparse
import time

import invgym
from invgym.leaderboard._io import sha256_file
from invgym.leaderboard.sandbox import SandboxedPolicy, sandbox_mode

ENV = "invgym/LostSales-v0"
AGENT = '''
import numpy as np


def make_agent(env):
    c = env.unwrapped.config
    level = 19.0  # Zipkin's best base-stock level at L = 2, p = 9

    def policy(obs):
        return np.clip(level - obs.sum(axis=1), 0, int(c.max_order)).astype(np.int64)

    return policy
'''


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--periods", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import pathlib
    import tempfile

    directory = pathlib.Path(tempfile.mkdtemp(prefix="invgym-bench-"))
    file = directory / "agent.py"
    file.write_text(AGENT)
    namespace: dict = {}
    exec(compile(AGENT, str(file), "exec"), namespace)  # the same policy, in this process
    kwargs = {"lead_time": 2, "lost_sales_cost": 9.0}
    direct = namespace["make_agent"](__import__("gymnasium").make(ENV, **kwargs))
    spec = {"kind": "python", "spec": f"{file}:make_agent", "algo": None, "sha256": sha256_file(file),
            "path": str(file)}
    n, periods = args.num_envs, args.periods
    start = time.perf_counter()
    jailed = SandboxedPolicy(spec, ENV, kwargs, num_envs=n, obs_dim=2, act_dim=1)
    startup = time.perf_counter() - start
    times: dict[str, list[float]] = {"in-process": [], "sandboxed": []}
    cpu: dict[str, list[float]] = {"in-process": [], "sandboxed": []}
    costs = {}
    try:
        for _ in range(args.repeats):
            for label, policy in (("in-process", direct), ("sandboxed", jailed)):
                agent_cpu = _tree_cpu(jailed._proc.pid)
                start, start_cpu = time.perf_counter(), time.process_time()
                result = invgym.evaluate(policy, ENV, num_envs=n, periods=periods, warmup=0, seed=0, **kwargs)
                times[label].append(time.perf_counter() - start)
                cpu[label].append(time.process_time() - start_cpu + _tree_cpu(jailed._proc.pid) - agent_cpu)
                costs[label] = result.average_cost
    finally:
        jailed.close()
    best = {label: min(values) for label, values in times.items()}
    best_cpu = {label: min(values) for label, values in cpu.items()}
    print(f"{ENV} (L=2, p=9), numpy order-up-to policy, {n} envs x {periods} periods, stepped; "
          f"sandbox mode: {sandbox_mode()}; best of {args.repeats}")
    print(f"{'what':<40}{'wall s':>9}{'CPU s':>9}{'wall us/period':>16}")
    for label, value in best.items():
        print(f"{label:<40}{value:>9.3f}{best_cpu[label]:>9.3f}{1e6 * value / periods:>16.1f}")
    print(f"{'sandbox start-up (once per instance)':<40}{startup:>9.3f}")
    assert costs["in-process"] == costs["sandboxed"], costs
    print(f"same average cost both ways: {costs['sandboxed']:.6f}")
    print(f"channel share of the sandboxed evaluation, wall time: "
          f"{100 * (1 - best['in-process'] / best['sandboxed']):.1f} %; CPU time (evaluator + agent): "
          f"{100 * (1 - best_cpu['in-process'] / best_cpu['sandboxed']):.1f} %")


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, from /proc (the jail's launcher forks)."""
    import os

    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{task}/children").read().split()]
        except OSError:
            pass
    return total


if __name__ == "__main__":
    main()
