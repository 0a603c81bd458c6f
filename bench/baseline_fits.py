"""CPU time of fitting the lost-sales baselines on Zipkin's (2008) 16 cells (timing that used to sit in tests).

Run: ``python -m bench.baseline_fits``. One core: BLAS is limited to one thread before numpy loads. For each cell
it prints the CPU seconds of ``BaseStock.fit`` (a descent on the compiled rollout, common random numbers) and the
ratio to one default ``invgym.evaluate`` of the fitted policy in the same process (64 envs x 11,000 periods,
compiled), so machines of different speed give comparable ratios. The target is at most 1 s of CPU per fit.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import invgym  # noqa: E402
from invgym.baselines import BaseStock  # noqa: E402

CELLS = [(p, lead) for lead in (1, 2, 3, 4) for p in (4, 9, 19, 39)]


def main() -> None:
    """Print one row per Zipkin cell, then the largest and the mean fitting time."""
    print("BaseStock.fit on invgym/LostSales-v0, Poisson(5), h = 1 (Zipkin 2008, Table 3), one core, CPU seconds")
    print(f"{'L':>2} {'p':>3} {'level':>6} {'fit s':>7} {'evaluate s':>11} {'fit / evaluate':>15}")
    fits = []
    invgym.evaluate(BaseStock.fit("invgym/LostSales-v0", level=10), "invgym/LostSales-v0")  # warm-up
    for p, lead_time in CELLS:
        env = dict(lead_time=lead_time, lost_sales_cost=float(p))
        start = time.process_time()
        policy = BaseStock.fit("invgym/LostSales-v0", **env)
        fit = time.process_time() - start
        start = time.process_time()
        invgym.evaluate(policy, "invgym/LostSales-v0", **env)
        reference = time.process_time() - start
        fits.append(fit)
        print(f"{lead_time:>2} {p:>3} {policy.params['level']:>6} {fit:>7.3f} {reference:>11.3f} "
              f"{fit / reference:>15.1f}")
    print(f"largest fit {max(fits):.3f} s, mean {sum(fits) / len(fits):.3f} s (target <= 1 s)")


if __name__ == "__main__":
    main()
