"""Time ``solve_exact`` on Zipkin's (2008) lost-sales cells, and DynaPlex's exact solver where it is installed.

Run: ``python bench/exact.py`` (``--sizes`` for issue 17's item 5 only). One core: BLAS is limited to one thread
before numpy loads. The invgym rows are timed interleaved on CPU time (``bench/common.py interleaved``: every cell
in turn, round after round), median and spread printed with the load average. ``--sizes``: L = 6, p = 39 lost
sales (time interleaved with L = 4, p = 39; peak RSS measured in a fresh child process with ``resource``) and the
perishable solver against the plain solver of ``bench/plain_perishable.py`` on m = 4, L = 2, interleaved.
DynaPlex (``pip install dynaplex``, a closed-source
wheel by W. van Jaarsveld; its ``dynaplex.models.lost_sales`` uses the same Morton bounds) is timed on a subset,
discovery and solve separately, since its first solve includes compiling the model.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import invgym  # noqa: E402,F401
from bench import plain_perishable  # noqa: E402
from bench.common import interleaved, load_text, ratio_text  # noqa: E402
from invgym.baselines import solve_exact  # noqa: E402

CELLS = [(p, lead) for lead in (1, 2, 3, 4) for p in (4, 9, 19, 39)]
DYNAPLEX_CELLS = [(9, 2), (39, 4)]
TOL = 1e-6


def solve_run(p: int, lead_time: int, found: dict) -> object:
    """``run(k)`` for ``interleaved``: k solves of one Zipkin cell (the last solution kept in ``found``)."""
    def run(rounds: int) -> int:
        for _ in range(rounds):
            found[p, lead_time] = solve_exact("invgym/LostSales-v0", lead_time=lead_time, lost_sales_cost=float(p),
                                              tol=TOL)
        return rounds
    return run


def peak_child(lead_time: int, p: int) -> str:
    """Solve in a fresh interpreter and return its line: CPU s, peak RSS, the estimate, cost, sweeps."""
    code = (f"import resource, time, invgym; from invgym.baselines import solve_exact; t = time.process_time(); "
            f"s = solve_exact('invgym/LostSales-v0', lead_time={lead_time}, lost_sales_cost={float(p)}); "
            "t = time.process_time() - t; r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20; "
            "print(f'{s.num_states:,} states, {s.iterations} sweeps, cost {s.average_cost:.6f}, {t:.2f} CPU s, "
            "peak RSS {r:.3f} GiB (whole process), estimate {s.info[\"memory_bytes\"] / 2**30:.3f} GiB')")
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def sizes() -> None:
    """Issue 17, item 5: L = 6, p = 39 lost sales (time, peak memory) and perishable m = 4, L = 2 vs a plain solver."""
    from invgym.baselines.exact_perishable import solve_perishable
    from invgym.envs.perishable import PerishableConfig

    print(f"\nL = 6, p = 39 in a fresh process (default settings): {peak_child(6, 39)}")
    found: dict = {}
    rows = interleaved([("L=4, p=39", solve_run(39, 4, found)), ("L=6, p=39", solve_run(39, 6, found))],
                       rounds=3, seconds=0.5)
    print(f"{load_text()}; CPU time, 3 interleaved rounds")
    for row in rows:
        print(f"  solve_exact {row.name}: {1 / row.median:.3f} CPU s per solve (median), rounds "
              + ", ".join(f"{1 / rate:.3f}" for rate in row.rates))
    config = PerishableConfig.validate("PerishableEnv", shelf_life=4, lead_time=2, issuing="fifo")
    out: dict = {}

    def package(rounds: int) -> int:
        for _ in range(rounds):
            out["package"] = solve_perishable(config)
        return rounds

    def plain(rounds: int) -> int:
        for _ in range(rounds):
            out["plain"] = plain_perishable.solve_average(config)
        return rounds

    rows = interleaved([("plain solver (bench/plain_perishable.py)", plain), ("solve_perishable", package)],
                       rounds=3, seconds=0.5)
    cost, orders, sweeps = out["plain"]
    solution = out["package"]
    same = int((orders != solution.policy.table.reshape(-1)).sum())
    print(f"\nperishable m = 4, L = 2, FIFO, De Moor scenario A ({solution.num_states:,} states), average cost, "
          f"tol 1e-6\n{load_text()}; CPU time, 3 interleaved rounds")
    for row in rows:
        print(f"  {row.name:<44} {1 / row.median:8.3f} CPU s per solve (median)")
    print(f"  plain time / solve_perishable time: {ratio_text(rows[1], rows[0])} (target: solve_perishable within 2x)")
    print(f"  costs {cost:.9f} / {solution.average_cost:.9f} (diff {solution.average_cost - cost:.1e}); sweeps "
          f"{sweeps} / {solution.iterations}; orders that differ: {same}; working-memory estimate "
          f"{solution.info['memory_bytes'] / 2**30:.3f} GiB")


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
    if "--sizes" in sys.argv:
        sizes()
        return
    print(f"solve_exact on invgym/LostSales-v0, Poisson(5), h = 1 (Zipkin 2008, Table 3), tol = {TOL:g}, one core")
    found: dict = {}
    rows = interleaved([(f"{cell}", solve_run(*cell, found)) for cell in CELLS], rounds=3, seconds=0.05)
    print(f"{load_text()}; CPU time, 3 interleaved rounds")
    print(f"{'L':>2} {'p':>3} {'states':>8} {'sweeps':>7} {'avg cost':>10} {'cpu s':>8} {'spread':>7}")
    walls = {}
    for (p, lead_time), row in zip(CELLS, rows, strict=True):
        solution = found[p, lead_time]
        walls[p, lead_time] = 1 / row.median
        print(f"{lead_time:>2} {p:>3} {solution.num_states:>8,} {solution.iterations:>7} "
              f"{solution.average_cost:>10.5f} {1 / row.median:>8.4f} {row.spread:>6.0f}%")
    print(f"all 16 cells: {sum(walls.values()):.2f} CPU s")
    sizes()

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
