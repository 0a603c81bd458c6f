"""The learned leaderboard entries per track, from the committed result files (nothing is run).

Run: ``python -m bench.board_summary`` (``--root`` another leaderboard folder). For every track, one row per
learned entry of :data:`invgym.agents.board.ENTRIES` on it: instances scored, mean and max gap to the track's
reference (the result file's own ``gap_pct``), and the training CPU seconds its record sums over the track's
instances; the best built-in OR baseline of the track (lowest mean gap) is printed first for comparison.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    """Print the per-track table of the learned entries' gaps."""
    from invgym.agents.board import ENTRIES
    from invgym.leaderboard.baselines import BASELINES
    from invgym.leaderboard.suite import load_suite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1] / "leaderboard"))
    args = parser.parse_args()
    results = Path(args.root) / "results"
    rows: dict[str, list[tuple[str, int, float, float, float | None]]] = {}
    baselines = {b.name for b in BASELINES}
    for path in sorted(results.glob("*.json")):
        document = json.loads(path.read_text())
        name = document["name"]
        if name not in ENTRIES and name not in baselines:
            continue
        training = document.get("training", {}).get("instances", {})
        by_track: dict[str, list[dict]] = {}
        for row in document["results"]:
            by_track.setdefault(row["track"], []).append(row)
        for track, track_rows in by_track.items():
            gaps = [r["gap_pct"] for r in track_rows if r["status"] == "ok" and r["gap_pct"] is not None]
            cpu = sum(training[r["instance"]]["cpu_seconds"] for r in track_rows if r["instance"] in training)
            failed = len(track_rows) - len(gaps)
            rows.setdefault(track, []).append((name, len(track_rows) - failed,
                                               sum(gaps) / len(gaps) if gaps else float("nan"),
                                               max(gaps) if gaps else float("nan"),
                                               cpu if name in ENTRIES else None))
    order = [t.id for t in load_suite().tracks]
    print(f"{'track':<14} {'entry':<28} {'n':>3} {'mean gap %':>11} {'max gap %':>11} {'train CPU s':>11}")
    for track in sorted(rows, key=lambda t: order.index(t) if t in order else len(order)):
        entries = rows[track]
        ors = [e for e in entries if e[4] is None]
        learned = sorted((e for e in entries if e[4] is not None), key=lambda e: list(ENTRIES).index(e[0]))
        shown = ([min(ors, key=lambda e: e[2])] if ors else []) + learned
        for name, n, mean, worst, cpu in shown:
            label = f"{name} (best OR)" if cpu is None else name
            print(f"{track:<14} {label:<28} {n:>3} {mean:>11.2f} {worst:>11.2f} "
                  f"{'' if cpu is None else f'{cpu:.1f}':>11}")


if __name__ == "__main__":
    main()
