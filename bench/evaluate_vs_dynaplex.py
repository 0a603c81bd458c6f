"""``invgym.evaluate`` side by side with DynaPlex's ``PolicyComparer`` (a benchmark, not a test).

Run: ``python -m bench.evaluate_vs_dynaplex`` from the repository root, with a Python that imports both invgym
and DynaPlex (``pip install dynaplex``, a closed-source wheel by W. van Jaarsveld); without DynaPlex only the
invgym half runs and the DynaPlex half is skipped with a message.

Instance: Zipkin's (2008) lost-sales cell of ``bench/exact.py``: Poisson(5) demand, h = 1, p = 39, L = 4, both
systems started empty. The two models follow the same period (order, demand met from on-hand stock, h on the
leftover and p per lost unit, then the order placed L periods ago arrives), so their long-run average costs
are the same quantity. Two policies are evaluated by both tools on the same number of trajectories (envs),
warmup periods and counted periods:

- base-stock with S = 33 (invgym's ``BaseStock.fit`` optimum for this cell; Zipkin's best base-stock 11.06),
  orders capped at Morton's bound 35 on both sides (invgym's default ``max_order``; DynaPlex with
  ``bound_order_size_to_max_system_inv=True``). invgym runs it in the kernel's compiled rollout.
- the optimal policy, each tool's own exact solution (``solve_exact``; DynaPlex's ``ExactSolver`` and
  ``get_policy()``). invgym runs its lookup table in the kernel's compiled table rollout
  (``BatchKernel.rollout_table``); DynaPlex compiles the table policy into its engine.

Throughput is periods simulated per second, warmup included (``trajectories * (warmup + periods) / seconds``),
for the whole ``evaluate`` / ``assess`` call, on CPU time (all threads of the process). The two tools' calls
are interleaved (invgym, DynaPlex, invgym, DynaPlex, ...) as every bench here is (bench/common.py); each
ratio is taken round by round and reported as its median with the least and greatest round. One core: DynaPlex
``workers=1``, BLAS limited to one thread. Both tools get the same warm-up, one call of each policy before the
rounds, reported separately: DynaPlex's first ``assess`` of a policy type builds its engine and runs a checked
32-trajectory rehearsal; invgym's first call imports scipy's t quantile and touches its buffers first. The tools
draw different random numbers, so their costs differ by sampling error only: ``diff/se`` is the difference over its
standard error.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import invgym  # noqa: E402
from bench.common import load_text  # noqa: E402
from invgym.baselines import BaseStock, solve_exact  # noqa: E402

ENV_ID = "invgym/LostSales-v0"
P, H, LEAD_TIME, MEAN = 39.0, 1.0, 4, 5.0
LEVEL = 33
TRAJECTORIES, WARMUP, PERIODS = 4096, 128, 1024  # DynaPlex's defaults for an infinite-horizon comparer
SEED = 0
TOL = 1e-6
REPEATS = 7
KWARGS = dict(lead_time=LEAD_TIME, lost_sales_cost=P, holding_cost=H)


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds (``time.process_time``: every thread of this process) of one call of ``call``, and its result.

    Both tools are timed by this one clock: DynaPlex's ``assess`` runs in this process (``workers=1`` starts
    no thread or child process; its CPU time equals its wall time on an idle core), so nothing it does escapes it.
    """
    cpu = time.process_time()
    result = call()
    return time.process_time() - cpu, result


def invgym_side() -> tuple[dict[str, tuple[Callable[[], Any], float]], float]:
    """Both policies as ``invgym.evaluate`` calls, each called once first (name -> (call, first s)), and the optimum."""
    solution = solve_exact(ENV_ID, tol=TOL, **KWARGS)
    policies = {"base-stock S=33": BaseStock.fit(ENV_ID, level=LEVEL, **KWARGS), "optimal": solution.policy}
    calls = {}
    for name, policy in policies.items():
        def call(policy: Any = policy) -> Any:
            return invgym.evaluate(policy, ENV_ID, num_envs=TRAJECTORIES, periods=PERIODS, warmup=WARMUP,
                                   seed=SEED, **KWARGS)

        first, _ = timed(call)  # the same warm-up DynaPlex gets: one call before the rounds, not in them
        calls[name] = (call, first)
    return calls, solution.average_cost


def dynaplex_side() -> tuple[dict[str, tuple[Callable[[], Any], float]], float]:
    """Both policies as DynaPlex ``assess`` calls (engine built by a first call): name -> (call, first s)."""
    import dynaplex
    from dynaplex.modelling import DiscreteDist
    from dynaplex.models.lost_sales import BaseStockPolicy, LostSalesMDP

    demand = DiscreteDist.poisson(MEAN)
    # Orders capped at Morton's bound (invgym's default max_order), not at the one-period fractile.
    capped = LostSalesMDP(p=P, h=H, leadtime=LEAD_TIME, demand_dist=demand,
                          bound_order_size_to_max_system_inv=True)
    plain = LostSalesMDP(p=P, h=H, leadtime=LEAD_TIME, demand_dist=demand)
    result = dynaplex.ExactSolver(plain, epsilon=TOL).solve()
    cases = {"base-stock S=33": (capped, BaseStockPolicy(capped, base_stock_level=LEVEL)),
             "optimal": (plain, result.get_policy())}
    calls = {}
    for name, (mdp, policy) in cases.items():
        comparer = dynaplex.PolicyComparer(mdp, number_of_trajectories=TRAJECTORIES, warmup_time=WARMUP,
                                           horizon=PERIODS, seed=SEED, workers=1)
        first, _ = timed(lambda comparer=comparer, policy=policy: comparer.assess(policy))  # builds the engine
        calls[name] = (lambda comparer=comparer, policy=policy: comparer.assess(policy), first)
    return calls, result.cost


def main() -> None:
    """Print the costs each tool reports and the throughput ratios, policy by policy."""
    simulated = TRAJECTORIES * (WARMUP + PERIODS)
    print(f"Lost sales, Poisson({MEAN:g}), h = {H:g}, p = {P:g}, L = {LEAD_TIME} "
          f"(Zipkin 2008: optimal 10.79, best base-stock 11.06)")
    print(f"{TRAJECTORIES} trajectories x ({WARMUP} warmup + {PERIODS} counted) periods = {simulated:,} "
          f"periods per evaluation, seed {SEED}, one core, {REPEATS} interleaved rounds, CPU time; {load_text()}")
    ours, our_exact = invgym_side()
    try:
        import dynaplex
    except ImportError as error:
        print(f"\nDynaPlex not compared: {error} (pip install dynaplex). invgym alone:")
        for name, (call, _) in ours.items():
            cpus = [timed(call)[0] for _ in range(REPEATS)]
            result = call()
            print(f"  {name:<16} {result.path:<11} {result.average_cost:9.4f} +- {result.stderr:.4f} "
                  f"{simulated / statistics.median(cpus):14,.0f} periods/s (CPU, median)")
        print(f"  exact optimum    solve_exact {our_exact:9.4f}")
        return
    theirs, their_exact = dynaplex_side()
    print(f"DynaPlex {dynaplex.__version__}: PolicyComparer(workers=1), engine backend\n")
    print(f"{'policy':<16} {'tool':<9} {'path':<11} {'avg cost':>9} {'stderr':>7} {'diff/se':>8} "
          f"{'CPU s (median)':>15} {'periods/s CPU':>14} {'1st call CPU s':>15}")
    for name in ours:
        (mine, our_first), (other, first) = ours[name], theirs[name]
        cpu_ours, cpu_theirs = [], []
        for _ in range(REPEATS):
            cpu, result = timed(mine)
            cpu_ours.append(cpu)
            cpu, assessed = timed(other)
            cpu_theirs.append(cpu)
        se = math.hypot(result.stderr, assessed.error)
        diff = (result.average_cost - assessed.mean) / se
        for tool, cost, err, cpus, how, extra in (
                ("invgym", result.average_cost, result.stderr, cpu_ours, result.path, f"{our_first:15.2f}"),
                ("DynaPlex", assessed.mean, assessed.error, cpu_theirs, assessed.backend, f"{first:15.2f}")):
            cpu = statistics.median(cpus)
            print(f"{name:<16} {tool:<9} {how:<11} {cost:9.4f} {err:7.4f} "
                  f"{f'{diff:+8.2f}' if tool == 'invgym' else '':>8} {cpu:15.3f} {simulated / cpu:14,.0f} "
                  f"{extra}".rstrip())
        ratios = [b / a for a, b in zip(cpu_ours, cpu_theirs, strict=True)]  # round by round, one clock
        print(f"{'':<16} throughput invgym / DynaPlex on CPU time: {statistics.median(ratios):.2f}x "
              f"[{min(ratios):.2f}, {max(ratios):.2f}] (target >= 3x)")
    print(f"exact optimum    invgym    solve_exact {our_exact:9.4f}   diff {our_exact - their_exact:+.0e}")
    print(f"exact optimum    DynaPlex  ExactSolver {their_exact:9.4f}")
    print("\ndiff/se: (invgym - DynaPlex) / sqrt(se_invgym^2 + se_DynaPlex^2) of the last round.\n1st call: "
          "each tool's first call of a policy (DynaPlex: engine build and checked\nrehearsal), not in the ratios. "
          "Every time above is CPU time of this one process (time.process_time), both tools alike.")


if __name__ == "__main__":
    main()
