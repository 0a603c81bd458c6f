"""The checks ``render`` makes on every result file without running anything, measured on the committed board.

``python -m bench.leaderboard_checks`` prints, for the committed ``leaderboard/results/*.json``:

- how many files pass ``verify.static_problems`` (the checks render and verify share), and the CPU time those
  checks take over all files (``time.process_time``, best of five passes; loading and hashing the files are not
  included, render did those before);
- for every ok row within 10 of its own standard errors of an exact optimum, the ratio of its standard error to
  the one ``verify.expected_stderr`` expects there (the naive policy's, scaled to the protocol): the spread
  ``verify.PLAUSIBLE_STDERR_FACTOR`` must leave room for (it caps the stderr the below-the-optimum check trusts);
- for every learned entry, on how many of its ok instances its per-seed costs equal some baseline's bit for bit
  (the same policy on the same seeds), and the tracks ``verify.copied_from`` lists it on (identical to one
  baseline on *every* instance of the track).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from invgym.leaderboard.record import load_document
from invgym.leaderboard.suite import load_suite

BOARD = Path(__file__).resolve().parent.parent / "leaderboard"


def main() -> None:
    """Print the pass count, the checks' CPU time and the stderr ratios near exact optima."""
    verify = importlib.import_module("invgym.leaderboard.verify")  # the package exports a function of that name
    suite = load_suite()
    documents = {}
    for path in sorted((BOARD / "results").glob("*.json")):
        document, problems = load_document(path)
        if not problems:
            documents[path.name] = document
    passing = [name for name, d in documents.items() if not verify.static_problems(d, suite)]
    times = []
    for _ in range(5):
        start = time.process_time()
        for document in documents.values():
            verify.static_problems(document, suite)
        times.append(time.process_time() - start)
    print(f"{len(passing)} of {len(documents)} sound result files pass static_problems; "
          f"{min(times) * 1e3:.1f} CPU ms for all of them (best of 5)")
    ratios = []
    for name, document in documents.items():
        for row in document["results"]:
            instance = suite.instance(row["instance"])
            if row["status"] != "ok" or instance.reference.get("method") != "solve_exact":
                continue
            if abs(row["average_cost"] - instance.reference["cost"]) >= 10 * row["stderr"]:
                continue
            expected = verify.expected_stderr(instance, suite.protocol(instance, document["protocol"] == "quick"))
            if expected:
                ratios.append((row["stderr"] / expected, name, row["instance"]))
    ratios.sort()
    print(f"{len(ratios)} ok rows within 10 standard errors of an exact optimum: stderr / expected stderr from "
          f"{ratios[0][0]:.2f} ({ratios[0][1]} on {ratios[0][2]}) to {ratios[-1][0]:.2f} "
          f"({ratios[-1][1]} on {ratios[-1][2]}); the cap is {verify.PLAUSIBLE_STDERR_FACTOR:g}")
    baselines = {d["name"]: d["results"] for d in documents.values() if d["kind"] == "baseline"}
    seen = {(r["instance"], tuple(r["env_costs"])) for rows in baselines.values() for r in rows if r["status"] == "ok"}
    for document in documents.values():
        if document["kind"] == "baseline":
            continue
        ok = [r for r in document["results"] if r["status"] == "ok"]
        same = sum((r["instance"], tuple(r["env_costs"])) in seen for r in ok)
        flagged = verify.copied_from(document["results"], baselines)
        print(f"{document['name']}: per-seed costs identical to a baseline's on {same} of {len(ok)} ok instances; "
              f"identical on whole tracks: {flagged or 'none'}")


if __name__ == "__main__":
    main()
