"""Throughput of invgym/Perishable-v0 against its pure-Python reference env, and De Moor et al.'s (2022) values.

Run ``python -m bench.perishable`` for the throughput table, ``python -m bench.perishable --de-moor`` for the
exact protocol values, optimal average costs and heuristic gaps of scenario A (m = 2..3, L = 1..2, FIFO and
LIFO, waste cost 7) next to the published m = 2, L = 1 values (the tests run those two).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import gymnasium as gym
import numpy as np

from bench.common import interleaved, ns_text, ratio_text, report, single_env_run, vector_env_run
from invgym.envs.perishable import PerishableConfig
from tests.reference.perishable import ReferenceEnv

ENV_ID = "invgym/Perishable-v0"
KWARGS = dict(shelf_life=3, lead_time=2, issuing="fifo", horizon=1000)
LEVEL = 11.0  # a base-stock level for m = 3, L = 2, Gamma(4, 0.5)


def throughput() -> None:
    """Measure and print every row, with ratios to the pure-Python reference env."""
    config = PerishableConfig.validate("PerishableEnv", **KWARGS)
    python_env = single_env_run(ReferenceEnv(config), 4)
    rows = [("pure-Python reference env (tests/reference)", python_env)]
    rows.append(("gym.make single env (with its default wrappers)", single_env_run(gym.make(ENV_ID, **KWARGS), 4)))
    for n in (1, 64, 1024):
        rows.append((f"native VectorEnv, N={n}", vector_env_run(ENV_ID, n, 4, **KWARGS)))

    # The same base-stock policy, stepped through the VectorEnv with numpy vs the compiled whole-rollout.
    n = 1024
    venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **KWARGS)
    obs, _ = venv.reset(seed=0)

    def stepped(rounds: int) -> int:
        nonlocal obs
        for _ in range(rounds * 100):
            obs, *_ = venv.step(np.clip(LEVEL - obs.sum(axis=1), 0, config.max_order).astype(np.int64))
        return rounds * 100 * n

    kernel = config.bind(n).reset(seed=0).kernel

    def rolled(rounds: int) -> int:
        kernel.rollout("base_stock", [LEVEL], periods=rounds * 100)
        return rounds * 100 * n

    def rolled_ewa(rounds: int) -> int:
        kernel.rollout("ewa", [LEVEL, 5.0, 4.0], periods=rounds * 100)
        return rounds * 100 * n

    rows.append((f"VectorEnv N={n} stepped by a numpy base-stock policy", stepped))
    rows.append((f"whole-rollout, base-stock, N={n}", rolled))
    rows.append((f"whole-rollout, capped EWA, N={n}", rolled_ewa))
    rows = interleaved(rows)
    report("invgym/Perishable-v0 (m=3, L=2, FIFO, Gamma(4, 0.5)), one core", rows, rows[0])
    print(f"\nwhole-rollout / stepped VectorEnv with the same policy: {ratio_text(rows[6], rows[5])}")
    print(f"ns per env-step (median): VectorEnv N=1024 {ns_text(rows[4])}, whole-rollout {ns_text(rows[6])}")


def de_moor() -> None:
    """Solve scenario A exactly, evaluate the protocol, fit the heuristics and print values and gaps."""
    from invgym.baselines import EstimatedWithdrawalBaseStock, PerishableBaseStock, PerishableCappedBaseStock
    from invgym.baselines.exact_perishable import (
        PerishableModel,
        base_stock_orders,
        policy_average_cost,
        protocol_value,
        solve_perishable,
        solve_perishable_discounted,
    )

    published = json.loads((pathlib.Path(__file__).parents[1] / "tests" / "data"
                            / "de_moor_2022_perishable.json").read_text())
    print("De Moor et al. (2022), scenario A, waste 7: protocol values (start empty, 100 warm-up periods, 365 "
          "periods discounted by 0.99; exact) and long-run average costs (exact, Markov chain) with heuristic gaps")
    print(f"{'m,L,issue':<11}{'states':>7}{'optimal':>10}{'published':>11}{'best S':>7}{'S value':>10}"
          f"{'published':>18}{'avg opt':>9}{'BS gap%':>9}{'capped%':>9}{'EWA gap%':>9}{'solve s':>9}")
    for m, lead, issuing in ((2, 1, "fifo"), (2, 1, "lifo"), (3, 1, "fifo"), (3, 1, "lifo"), (2, 2, "fifo"),
                             (2, 2, "lifo")):
        config = PerishableConfig.validate("PerishableEnv", shelf_life=m, lead_time=lead, issuing=issuing)
        start = time.perf_counter()
        model = PerishableModel(config, max_states=10**6)
        discounted = solve_perishable_discounted(config, 0.99, max_states=10**6)
        average = solve_perishable(config, max_states=10**6)
        solve_time = time.perf_counter() - start
        optimal = protocol_value(config, discounted.policy, model=model)
        levels = {s: protocol_value(config, base_stock_orders(config, s, model), model=model) for s in range(25)}
        best = max(levels, key=levels.get)
        gaps = []
        for cls in (PerishableBaseStock, PerishableCappedBaseStock, EstimatedWithdrawalBaseStock):
            cost = policy_average_cost(config, cls.fit(config)(model.states), model=model)
            gaps.append(100.0 * (cost / average.average_cost - 1.0))
        ref = published.get(issuing, {}) if (m, lead) == (2, 1) else {}
        pub_opt = f"{ref['optimal']:.1f}" if ref else "-"
        pub_bs = f"S={ref['base_stock_level']} {ref['base_stock']:.1f}" if ref else "-"
        print(f"{f'{m},{lead},{issuing}':<11}{model.num_states:>7}{optimal:>10.2f}{pub_opt:>11}{best:>7}"
              f"{levels[best]:>10.2f}{pub_bs:>18}{average.average_cost:>9.4f}"
              + "".join(f"{gap:>9.2f}" for gap in gaps) + f"{solve_time:>9.1f}")


def main() -> None:
    """Parse the command line and run the throughput table (default) or De Moor et al.'s values (--de-moor)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--de-moor", action="store_true", help="reproduce De Moor et al.'s (2022) values instead")
    if parser.parse_args().de_moor:
        de_moor()
    else:
        throughput()


if __name__ == "__main__":
    main()
