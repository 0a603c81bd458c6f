"""Time ``solve_exact`` on Zipkin's (2008) lost-sales cells, and DynaPlex's exact solver where it is installed.

Run: ``python bench/exact.py``. One core: BLAS is limited to one thread before numpy loads. Each invgym figure is
the best of three solves (wall clock) with its CPU time. DynaPlex (``pip install dynaplex``, a closed-source
wheel by W. van Jaarsveld; its ``dynaplex.models.lost_sales`` uses the same Morton bounds) is timed on a subset,
discovery and solve separately, since its first solve includes compiling the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import invgym  # noqa: E402,F401
from invgym.baselines import solve_exact  # noqa: E402

CELLS = [(p, lead) for lead in (1, 2, 3, 4) for p in (4, 9, 19, 39)]
DYNAPLEX_CELLS = [(9, 2), (39, 4)]
TOL = 1e-6


def time_invgym(p: int, lead_time: int) -> tuple[float, float, object]:
    """Best wall time of three solves, the CPU time of that solve, and the solution."""
    best = (float("inf"), 0.0, None)
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        solution = solve_exact("invgym/LostSales-v0", lead_time=lead_time, lost_sales_cost=float(p), tol=TOL)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu, solution)
    return best


def time_dynaplex(p: int, lead_time: int) -> tuple[float, float, float, float, int]:
    """DynaPlex ExactSolver: discovery seconds, first and second solve seconds, cost, states."""
    import dynaplex
    from dynaplex.modelling import DiscreteDist
    from dynaplex.models.lost_sales import LostSalesMDP

    mdp = LostSalesMDP(p=float(p), h=1.0, leadtime=lead_time, demand_dist=DiscreteDist.poisson(5.0))
    start = time.perf_counter()
    solver = dynaplex.ExactSolver(mdp, epsilon=TOL)
    discovered = time.perf_counter()
    result = solver.solve()
    first = time.perf_counter()
    solver.solve()
    second = time.perf_counter()
    return discovered - start, first - discovered, second - first, result.cost, result.stats["states"]


def main() -> None:
    """Print one row per Zipkin cell, then the DynaPlex comparison (or why it is missing)."""
    print(f"solve_exact on invgym/LostSales-v0, Poisson(5), h = 1 (Zipkin 2008, Table 3), tol = {TOL:g}, one core")
    print(f"{'L':>2} {'p':>3} {'states':>8} {'sweeps':>7} {'avg cost':>10} {'wall s':>8} {'cpu s':>7}")
    walls = {}
    for p, lead_time in CELLS:
        wall, cpu, solution = time_invgym(p, lead_time)
        walls[p, lead_time] = wall
        print(f"{lead_time:>2} {p:>3} {solution.num_states:>8,} {solution.iterations:>7} "
              f"{solution.average_cost:>10.5f} {wall:>8.3f} {cpu:>7.3f}")
    print(f"all 16 cells: {sum(walls.values()):.2f} s")

    try:
        import dynaplex  # noqa: F401
    except ImportError as error:
        print(f"\nDynaPlex not compared: {error} (pip install dynaplex)")
        return
    print("\nDynaPlex ExactSolver (modified policy iteration, same epsilon), same cells")
    print(f"{'L':>2} {'p':>3} {'states':>8} {'avg cost':>10} {'discover s':>11} {'solve s':>8} {'again s':>8} "
          f"{'vs invgym':>10}")
    for p, lead_time in DYNAPLEX_CELLS:
        discover, first, second, cost, states = time_dynaplex(p, lead_time)
        ratio = (discover + first) / walls[p, lead_time]
        print(f"{lead_time:>2} {p:>3} {states:>8,} {cost:>10.5f} {discover:>11.3f} {first:>8.3f} {second:>8.3f} "
              f"{ratio:>9.0f}x")


if __name__ == "__main__":
    main()
