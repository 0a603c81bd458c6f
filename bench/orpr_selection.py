"""Which weights ORPR's SelectBest keeps at a board budget: ``python -m bench.orpr_selection INSTANCE STEPS EVERY``.

Prints the selection history ``(timesteps, selection-seed cost)`` (0 is the clone itself), the weights kept and
the process CPU seconds (one torch thread). Example: ``nice -n 10 python -m bench.orpr_selection lost-sales/L1-p9
60000 4``.
"""

from __future__ import annotations

import dataclasses
import sys
import time


def main(argv: list[str] | None = None) -> None:
    """Fine-tune one suite instance's clone with the board's ORPR settings and print the selection."""
    import torch

    from invgym.agents.board import BUDGETS, _fine_tune_config
    from invgym.agents.orpr import clone_and_fine_tune
    from invgym.baselines.base_stock import BaseStock
    from invgym.leaderboard.suite import load_suite

    args = sys.argv[1:] if argv is None else argv
    torch.set_num_threads(1)
    inst = load_suite().instance(args[0])
    steps, every = int(args[1]), int(args[2])
    cfg = dataclasses.replace(_fine_tune_config(BUDGETS["default"], steps, select=True), select_every=every)
    config = inst.config()
    start = time.process_time()
    fit = clone_and_fine_tune(config, BaseStock.fit(config), cfg)
    print(inst.id, "steps", steps, "every", every, "rollout size", cfg.n_envs * cfg.n_steps)
    print("history", [(s, round(c, 4)) for s, c in fit["selection"]["history"]])
    print("best", fit["selection"]["best"], "CPU s", round(time.process_time() - start, 1))


if __name__ == "__main__":
    main()
