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
for the whole ``evaluate`` / ``assess`` call. Wall and CPU seconds are each the least of three calls; the CPU
time (all threads of the process) is the steadier figure on a shared machine. One core: DynaPlex
``workers=1``, BLAS limited to one thread. DynaPlex's first ``assess`` of a policy type also builds its engine
and runs a checked 32-trajectory rehearsal; that call is reported separately. The tools draw different random
numbers, so their costs differ by sampling error only: ``diff/se`` is the difference over its standard error.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import invgym  # noqa: E402
from invgym.baselines import BaseStock, solve_exact  # noqa: E402

ENV_ID = "invgym/LostSales-v0"
P, H, LEAD_TIME, MEAN = 39.0, 1.0, 4, 5.0
LEVEL = 33
TRAJECTORIES, WARMUP, PERIODS = 4096, 128, 1024  # DynaPlex's defaults for an infinite-horizon comparer
SEED = 0
TOL = 1e-6
REPEATS = 3
KWARGS = dict(lead_time=LEAD_TIME, lost_sales_cost=P, holding_cost=H)


def timed(call: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, float, Any]:
    """Least wall and least CPU seconds over ``repeats`` calls of ``call``, and the last call's result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def invgym_side() -> dict[str, tuple[float, float, float, float, str]]:
    """Evaluate both policies with ``invgym.evaluate``: name -> (cost, stderr, wall s, CPU s, path)."""
    solution = solve_exact(ENV_ID, tol=TOL, **KWARGS)
    policies = {"base-stock S=33": BaseStock.fit(ENV_ID, level=LEVEL, **KWARGS), "optimal": solution.policy}
    rows = {}
    for name, policy in policies.items():
        wall, cpu, result = timed(lambda policy=policy: invgym.evaluate(
            policy, ENV_ID, num_envs=TRAJECTORIES, periods=PERIODS, warmup=WARMUP, seed=SEED, **KWARGS))
        rows[name] = (result.average_cost, result.stderr, wall, cpu, result.path)
    rows["exact optimum"] = (solution.average_cost, 0.0, math.nan, math.nan, "solve_exact")
    return rows


def dynaplex_side() -> dict[str, tuple[float, float, float, float, str, float]]:
    """Assess both policies with DynaPlex: name -> (cost, stderr, wall s, CPU s, backend, first call s)."""
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
    rows = {}
    for name, (mdp, policy) in cases.items():
        comparer = dynaplex.PolicyComparer(mdp, number_of_trajectories=TRAJECTORIES, warmup_time=WARMUP,
                                           horizon=PERIODS, seed=SEED, workers=1)
        start = time.perf_counter()
        comparer.assess(policy)  # builds the engine for this policy type and rehearses it
        first = time.perf_counter() - start
        wall, cpu, assessed = timed(lambda comparer=comparer, policy=policy: comparer.assess(policy))
        rows[name] = (assessed.mean, assessed.error, wall, cpu, assessed.backend, first)
    rows["exact optimum"] = (result.cost, 0.0, math.nan, math.nan, "ExactSolver", math.nan)
    return rows


def _cell(value: float, width: int, fmt: str) -> str:
    """``value`` formatted, or blanks when it is NaN (a figure that does not apply)."""
    return " " * width if math.isnan(value) else format(value, f"{width}{fmt}")


def main() -> None:
    """Print the costs each tool reports and the throughput ratios, policy by policy."""
    simulated = TRAJECTORIES * (WARMUP + PERIODS)
    print(f"Lost sales, Poisson({MEAN:g}), h = {H:g}, p = {P:g}, L = {LEAD_TIME} "
          f"(Zipkin 2008: optimal 10.79, best base-stock 11.06)")
    print(f"{TRAJECTORIES} trajectories x ({WARMUP} warmup + {PERIODS} counted) periods = {simulated:,} "
          f"periods per evaluation, seed {SEED}, one core, least of {REPEATS} calls")
    ours = invgym_side()
    try:
        import dynaplex
    except ImportError as error:
        print(f"\nDynaPlex not compared: {error} (pip install dynaplex). invgym alone:")
        for name, (cost, stderr, wall, cpu, path) in ours.items():
            rates = "" if math.isnan(wall) else (f"{simulated / wall:14,.0f} periods/s (wall) "
                                                 f"{simulated / cpu:14,.0f} periods/s (CPU)")
            print(f"  {name:<16} {path:<11} {cost:9.4f} +- {stderr:.4f} {rates}".rstrip())
        return
    theirs = dynaplex_side()
    print(f"DynaPlex {dynaplex.__version__}: PolicyComparer(workers=1), engine backend\n")
    print(f"{'policy':<16} {'tool':<9} {'path':<11} {'avg cost':>9} {'stderr':>7} {'diff/se':>8} "
          f"{'wall s':>7} {'CPU s':>7} {'periods/s CPU':>14} {'1st call s':>11}")
    for name in ours:
        cost, stderr, wall, cpu, path = ours[name]
        dcost, derror, dwall, dcpu, backend, first = theirs[name]
        se = math.hypot(stderr, derror)
        diff = f"{(cost - dcost) / se:+8.2f}" if se > 0 else f"{cost - dcost:+8.0e}"
        for tool, c, e, w, u, how, extra in (("invgym", cost, stderr, wall, cpu, path, math.nan),
                                             ("DynaPlex", dcost, derror, dwall, dcpu, backend, first)):
            print(f"{name:<16} {tool:<9} {how:<11} {c:9.4f} {e:7.4f} {diff if tool == 'invgym' else '':>8} "
                  f"{_cell(w, 7, '.3f')} {_cell(u, 7, '.3f')} {_cell(simulated / u, 14, ',.0f')} "
                  f"{_cell(extra, 11, '.2f')}".rstrip())
        if not math.isnan(wall):
            print(f"{'':<16} throughput invgym / DynaPlex: {dcpu / cpu:.2f}x on CPU time, "
                  f"{dwall / wall:.2f}x on wall time")
    print("\ndiff/se: (invgym - DynaPlex) / sqrt(se_invgym^2 + se_DynaPlex^2); for the exact optima, the raw "
          "difference.\n1st call: DynaPlex's first assess of the policy type (engine build and checked "
          "rehearsal).")


if __name__ == "__main__":
    main()
