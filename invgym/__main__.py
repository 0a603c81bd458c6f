"""The ``invgym`` command line: ``invgym demo`` (and, as they land, ``invgym leaderboard ...``)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def demo(lead_time: int = 2, lost_sales_cost: float = 9.0) -> None:
    """Fit a base-stock policy on invgym/LostSales-v0 by compiled simulation search and print its cost."""
    import numpy as np

    import invgym  # noqa: F401
    from invgym.envs.common import _Buffers
    from invgym.envs.lost_sales import LostSalesConfig

    config = LostSalesConfig.validate("demo", lead_time=lead_time, lost_sales_cost=lost_sales_cost)
    kernel = config.make_kernel(64)
    _Buffers(config, kernel, same_step=False)
    best = None
    for level in range(int(config.max_order) + 1):
        kernel.reset(np.arange(64, dtype=np.uint64))  # common random numbers for every level
        cost = kernel.rollout("base_stock", [float(level)], periods=5_000, warmup=500)["cost"].mean() / 5_000
        if best is None or cost < best[1]:
            best = (level, cost)
    print(f"invgym/LostSales-v0, L={lead_time}, Poisson(5), h=1, p={lost_sales_cost:g}: "
          f"best base-stock level S={best[0]}, average cost {best[1]:.3f} per period")


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``invgym <command>``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: invgym demo | invgym leaderboard {run,submit,verify,render} ... (see --help)")
        return 0
    if argv[0] == "demo":
        demo()
        return 0
    if argv[0] == "leaderboard":  # typer app, imported only when asked for
        from invgym.leaderboard.cli import main as leaderboard

        return leaderboard(argv[1:])
    print(f"invgym: unknown command {argv[0]!r} (try: invgym demo, invgym leaderboard --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
