"""The SB3 reinforce stage on Zipkin's 16 cells over several training seeds (issue 13, item 1).

Run: ``python -m bench.orpr_kl_ppo_seeds DIR0 DIR1 DIR2``, each DIR the ``--out`` folder of one training seed of
``nice -n 10 python -m bench.agents_kl_ppo --config reinforce --train-seed S --out DIR`` (this script trains
nothing: it reads the per-cell files, which must all hold the same settings but the seed, and the same cells).

Prints, per cell, the share of the clone's gap to the exact optimum that fine-tuning closes for each seed and their
mean; then the mean share over cells x seeds with two 95 % CIs: over the cells x seeds values as if independent,
and over the 16 per-cell means of the seeds (a cell's seeds share its clone's regime, so this one is the honest
interval for "a new cell"). A benchmark, never a test.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np


def load(folder: str) -> dict[tuple[int, float], dict]:
    """The per-cell rows of one ``--out`` folder, keyed by (L, p)."""
    rows = {}
    for path in sorted(glob.glob(os.path.join(folder, "L*_p*.json"))):
        with open(path) as f:
            row = json.load(f)
        rows[(row["lead_time"], row["p"])] = row
    if not rows:
        raise SystemExit(f"{folder} holds no cell files (L*_p*.json).")
    return rows


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and normal 95 % CI of the values."""
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(values.mean() - half), float(values.mean() + half)


def main() -> None:
    """Read the folders and print the table and the pooled shares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="one --out folder of bench.agents_kl_ppo per training seed")
    args = parser.parse_args()
    runs = [load(folder) for folder in args.folders]
    cells = sorted(runs[0])
    for folder, rows in zip(args.folders, runs, strict=True):
        if sorted(rows) != cells:
            raise SystemExit(f"{folder} holds other cells than {args.folders[0]}.")
    settings = [{k: v for k, v in rows[cells[0]]["settings"].items() if k != "seed"} for rows in runs]
    for folder, rows, s in zip(args.folders, runs, settings, strict=True):
        if s != settings[0] or any({k: v for k, v in r["settings"].items() if k != "seed"} != s
                                   for r in rows.values()):
            raise SystemExit(f"{folder} was made with other settings than {args.folders[0]} (the seed aside).")
    seeds = [rows[cells[0]]["settings"]["seed"] for rows in runs]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"the folders repeat a training seed: {seeds}.")
    closed = np.array([[rows[c]["closed"] for rows in runs] for c in cells])  # cells x seeds
    below = np.array([[rows[c]["closed_ci"][0] > 0 for rows in runs] for c in cells])
    cpu = np.array([[rows[c]["cpu_seconds"] for rows in runs] for c in cells])
    print(f"SB3 reinforce stage ({settings[0]['class']}, T = {settings[0]['temperature']:g}, "
          f"{settings[0]['timesteps']} steps) on Zipkin's {len(cells)} cells, training seeds {seeds}")
    print(f"{'L':>2}{'p':>4}" + "".join(f"{'seed ' + str(s):>9}" for s in seeds) + f"{'mean':>8}")
    for (lead, p), row in zip(cells, closed, strict=True):
        print(f"{lead:>2}{p:>4g}" + "".join(f"{v:>+9.2f}" for v in row) + f"{row.mean():>+8.2f}")
    for s, col in zip(seeds, closed.T, strict=True):
        m, lo, hi = mean_ci(col)
        print(f"seed {s}: mean {m:+.3f} [{lo:+.3f}, {hi:+.3f}] over cells")
    m, lo, hi = mean_ci(closed.ravel())
    print(f"\nmean share of the clone's gap closed over {closed.size} cells x seeds: {m:+.3f}, 95 % CI over cells x "
          f"seeds [{lo:+.3f}, {hi:+.3f}]")
    m, lo, hi = mean_ci(closed.mean(axis=1))
    print(f"the same mean, 95 % CI over the {len(cells)} cells' seed means [{lo:+.3f}, {hi:+.3f}]; goal >= 0.5 at "
          f"the lower end: {'met' if lo >= 0.5 else 'NOT met'}; on the mean: {'met' if m >= 0.5 else 'NOT met'}")
    print(f"cell x seed runs below the clone at 95 %: {int(below.sum())}/{below.size}; mean CPU s per run "
          f"{cpu.mean():.0f}")


if __name__ == "__main__":
    main()
