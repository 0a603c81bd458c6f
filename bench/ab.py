"""Two builds of the package side by side: an A/B of a kernel or stepping change (a benchmark, not a test).

Run: ``python -m bench.ab --old DIR`` from the repository root, where DIR holds a built copy of the ``invgym``
package from before the change (``python setup.py build_ext --inplace`` and then ``cp -r invgym DIR/``); the
new build is this checkout's (``--new DIR`` names another). Only ``invgym`` itself (kernels, envs, evaluate)
comes from DIR: ``invgym.baselines`` and the rest resolve to this checkout in both builds.

Each round starts one child process per build, old then new in odd rounds and new then old in even ones, so
load on the shared machine hits both alike; each child times every case once on its own CPU clock
(``time.process_time``, after a warm-up call) and prints nanoseconds per unit. A case's ratio old / new is
taken round by round (above 1: the new build is faster) and printed as its median with the least and greatest
round, with the load average.

Cases: the lost-sales whole-rollout (base-stock, N=1024, L=2 as in ``bench.lost_sales``), the instance of
``bench.evaluate_vs_dynaplex`` (L=4, p=39, 4096 envs x 1152 periods) by ``invgym.evaluate`` with base-stock
S=33 and with the exact lookup table, and ``VectorEnv.step`` (copy=False) at N=1024, 64 and 1 (the default
set); ``--cases`` picks among those and the dual-sourcing, perishable and procurement-removal whole-rollouts
on the instances of ``bench.limit_probe``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from bench.common import load_text

CASES = ("rollout", "evaluate base-stock", "evaluate table", "step N=1024", "step N=64", "step N=1",
         "rollout dual sourcing", "rollout perishable", "rollout removal")

CHILD = r'''
import json, sys, time
import gymnasium as gym
import numpy as np
import invgym
from invgym.baselines import BaseStock, solve_exact
from invgym.envs.lost_sales import LostSalesConfig

SECONDS = float(sys.argv[1])
CASES = json.loads(sys.argv[2])
out = {"invgym": invgym.__file__}


def timed(run, units):
    run()  # warm-up: first-call costs
    reps, cpu = 1, 0.0
    while True:
        start = time.process_time()
        for _ in range(reps):
            run()
        cpu = time.process_time() - start
        if cpu >= SECONDS / 4:
            break
        reps *= 4
    reps = max(1, int(reps * SECONDS / cpu))
    start = time.process_time()
    for _ in range(reps):
        run()
    return 1e9 * (time.process_time() - start) / (reps * units)


if "rollout" in CASES:
    kernel = LostSalesConfig.validate("LostSalesEnv", lead_time=2, lost_sales_cost=9.0).bind(1024).reset(seed=0).kernel
    out["rollout"] = timed(lambda: kernel.rollout("base_stock", [17.0], periods=100), 1024 * 100)
kw = dict(lead_time=4, lost_sales_cost=39.0, holding_cost=1.0)
env_id = "invgym/LostSales-v0"
for name in ("evaluate base-stock", "evaluate table"):
    if name not in CASES:
        continue
    policy = (BaseStock.fit(env_id, level=33, **kw) if name == "evaluate base-stock"
              else solve_exact(env_id, tol=1e-6, **kw).policy)
    out[name] = timed(lambda policy=policy: invgym.evaluate(policy, env_id, num_envs=4096, periods=1024,
                                                            warmup=128, seed=0, **kw), 4096 * 1152)
# The other scenarios' whole-rollouts on the instances and policies of bench.limit_probe.
from invgym.envs.dual_sourcing import DualSourcingConfig
from invgym.envs.perishable import PerishableConfig
from invgym.envs.procurement_removal import ProcurementRemovalConfig
for name, config, policy, params in (
        ("rollout dual sourcing", DualSourcingConfig.validate("DualSourcingEnv", regular_lead_time=3,
                                                              expedited_cost=110.0), "dual_index", [4.0, 9.0]),
        ("rollout perishable", PerishableConfig.validate("PerishableEnv", shelf_life=3, lead_time=2,
                                                         issuing="fifo"), "base_stock", [11.0]),
        ("rollout removal", ProcurementRemovalConfig.validate("ProcurementRemovalEnv", lead_time=2,
                                                              lost_sales_cost=9.0, initial_state=[40, 0]),
         "interval", [15.0, 18.0])):
    if name in CASES:
        kernel = config.bind(1024).reset(seed=0).kernel
        out[name] = timed(lambda kernel=kernel, policy=policy, params=params:
                          kernel.rollout(policy, params, periods=100), 1024 * 100)
for n in (1024, 64, 1):
    if f"step N={n}" not in CASES:
        continue
    venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", copy=False, lead_time=2,
                        lost_sales_cost=9.0, horizon=1000)
    venv.reset(seed=0)
    actions = np.full(n, 5, dtype=np.int64)

    def steps(venv=venv, actions=actions):
        for _ in range(100):
            venv.step(actions)

    out[f"step N={n}"] = timed(steps, 100 * n)
print(json.dumps(out))
'''


def child(folder: str, seconds: float, cases: list[str]) -> dict[str, float]:
    """One child process on the build in ``folder``: ns per unit of every case in ``cases``."""
    env = dict(os.environ, PYTHONPATH=folder, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", CHILD, str(seconds), json.dumps(cases)], cwd=folder, env=env,
                          check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    expected = os.path.realpath(os.path.join(folder, "invgym", "__init__.py"))
    if os.path.realpath(result.pop("invgym")) != expected:
        raise RuntimeError(f"the child imported invgym from outside {folder}")
    return result


def main() -> None:
    """Interleave the two builds' children and print each case's ns per unit and old / new ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="folder holding the old build's invgym package")
    parser.add_argument("--new", default=os.path.join(os.path.dirname(__file__), ".."),
                        help="folder holding the new build's invgym package (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.3, help="CPU seconds per case per child")
    parser.add_argument("--cases", nargs="+", default=list(CASES[:6]), choices=CASES, metavar="CASE",
                        help=f"cases to time (default: the first six); any of {', '.join(CASES)}")
    args = parser.parse_args()
    folders = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    samples: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for which in ("old", "new") if r % 2 == 0 else ("new", "old"):
            samples[which].append(child(folders[which], args.seconds, args.cases))
    print(f"A/B, old = {folders['old']}, new = {folders['new']}")
    print(f"{load_text()}; CPU time, {args.rounds} rounds, one child per build per round (order alternating)")
    print(f"{'case':<22}{'old ns/unit':>12}{'new ns/unit':>12}  old / new: median [least, greatest round]")
    for case in args.cases:
        old = [s[case] for s in samples["old"]]
        new = [s[case] for s in samples["new"]]
        ratios = [a / b for a, b in zip(old, new, strict=True)]
        print(f"{case:<22}{statistics.median(old):>12.2f}{statistics.median(new):>12.2f}  "
              f"{statistics.median(ratios):.3f}x [{min(ratios):.3f}, {max(ratios):.3f}]")
    print("units: periods (rollouts, evaluate, warmup included) and env-steps (step)")


if __name__ == "__main__":
    main()
