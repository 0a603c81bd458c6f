"""Throughput of invgym/DualSourcing-v0 against its pure-Python reference env, and the literature gaps.

Run ``python -m bench.dual_sourcing`` for the throughput table, ``python -m bench.dual_sourcing --gaps`` for the
optimal costs and heuristic gaps of all six instances of Gijsbrechts et al. (2022, Sec. 6.2) next to the
published gaps (the tests run two of them).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import gymnasium as gym
import numpy as np

from bench.common import interleaved, ns_text, ratio_text, report, single_env_run, vector_env_run
from invgym.envs.dual_sourcing import DualSourcingConfig
from tests.reference.dual_sourcing import ReferenceEnv

ENV_ID = "invgym/DualSourcing-v0"
KWARGS = dict(regular_lead_time=3, expedited_cost=110.0, horizon=1000)  # Gijsbrechts et al. (2022), l_r = 3
LEVELS = (4.0, 9.0)  # the best dual-index levels (S_e, S_r) of that instance
ACTION = np.array([2, 0])


def throughput() -> None:
    """Measure and print every row, with ratios to the pure-Python reference env."""
    config = DualSourcingConfig.validate("DualSourcingEnv", **KWARGS)
    python_env = single_env_run(ReferenceEnv(config), ACTION)
    rows = [("pure-Python reference env (tests/reference)", python_env)]
    rows.append(("gym.make single env (with its default wrappers)", single_env_run(gym.make(ENV_ID, **KWARGS),
                                                                                     ACTION)))
    for n in (1, 64, 1024):
        rows.append((f"native VectorEnv, N={n}", vector_env_run(ENV_ID, n, ACTION, **KWARGS)))

    # The same dual-index policy, stepped through the VectorEnv with numpy vs the compiled whole-rollout.
    n = 1024
    venv = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **KWARGS)
    obs, _ = venv.reset(seed=0)
    high = config.action_high

    def stepped(rounds: int) -> int:
        nonlocal obs
        for _ in range(rounds * 100):
            q_e = np.clip(LEVELS[0] - obs[:, 0], 0, high[1])  # l_e = 0: IPe is the net inventory
            q_r = np.clip(LEVELS[1] - obs.sum(axis=1) - q_e, 0, high[0])
            obs, *_ = venv.step(np.stack([q_r, q_e], axis=1).astype(np.int64))
        return rounds * 100 * n

    kernel = config.bind(n).reset(seed=0).kernel

    def rolled(rounds: int) -> int:
        kernel.rollout("dual_index", [LEVELS], periods=rounds * 100)
        return rounds * 100 * n

    rows.append((f"VectorEnv N={n} stepped by a numpy dual-index policy", stepped))
    rows.append((f"whole-rollout, dual index, N={n}", rolled))
    rows = interleaved(rows)
    report("invgym/DualSourcing-v0 (l_r=3, l_e=0, uniform{0..4}), one core", rows, rows[0])
    print(f"\nwhole-rollout / stepped VectorEnv with the same policy: {ratio_text(rows[6], rows[5])}")
    print(f"ns per env-step (median): VectorEnv N=1024 {ns_text(rows[4])}, whole-rollout {ns_text(rows[6])}")


def gaps() -> None:
    """Solve all six instances exactly, fit the four heuristics and print their gaps beside the published ones."""
    from invgym.baselines import CappedDualIndex, DualIndex, SingleIndex, TailoredBaseSurge
    from invgym.baselines.exact_dual_sourcing import evaluate_dual_sourcing, solve_dual_sourcing

    data = json.loads((pathlib.Path(__file__).parents[1] / "tests" / "data"
                       / "gijsbrechts_2022_dual_sourcing.json").read_text())
    heuristics = {"dual_index": DualIndex, "single_index": SingleIndex, "capped_dual_index": CappedDualIndex,
                  "tailored_base_surge": TailoredBaseSurge}
    print("Gijsbrechts et al. (2022), Sec. 6.2: gaps above the optimum in % (ours / published); "
          "heuristic costs are exact (Markov chain) for the parameters fitted by simulation")
    print(f"{'l_r,c_e':<9}{'optimum':>10}{'states':>8}{'solve s':>9}"
          + "".join(f"{name:>22}" for name in heuristics) + f"{'fit s':>8}")
    for instance, published in data["gaps_percent"].items():
        lr, ce = instance.split(",")
        config = DualSourcingConfig.validate("DualSourcingEnv", regular_lead_time=int(lr), expedited_cost=float(ce))
        start = time.perf_counter()
        solution = solve_dual_sourcing(config)
        solve_time = time.perf_counter() - start
        cells, start = [], time.perf_counter()
        for name, cls in heuristics.items():
            policy = cls.fit(config)
            gap = 100.0 * (evaluate_dual_sourcing(config, policy) / solution.average_cost - 1.0)
            cells.append(f"{gap:.3f} / {published[name]:.2f}")
        fit_time = time.perf_counter() - start
        print(f"{instance:<9}{solution.average_cost:>10.4f}{solution.num_states:>8}{solve_time:>9.2f}"
              + "".join(f"{cell:>22}" for cell in cells) + f"{fit_time:>8.1f}")


def main() -> None:
    """Parse the command line and run the throughput table (default) or the literature gaps (--gaps)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaps", action="store_true", help="reproduce the published gaps instead")
    if parser.parse_args().gaps:
        gaps()
    else:
        throughput()


if __name__ == "__main__":
    main()
