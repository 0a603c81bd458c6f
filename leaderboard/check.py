"""``invgym leaderboard check``: does the committed board reproduce here?

Every committed result row of a built-in baseline (and of a submission whose artifact is found here) is evaluated
again, on the same public seeds and protocol, in memory (nothing is written), and compared with the committed
cost: **identical** (bit for bit), **within CI** (the difference lies within ``z * sqrt(se_committed^2 +
se_fresh^2)``, ``z`` the two-sided normal quantile at a 1 % family-wise level over the rows checked: a platform's
floating-point differences), or **OUTSIDE** (the board does not reproduce: a bug, or a drift to pin). A
committed failure must fail again. ``check`` exits 1 when any row is outside.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

from invgym.leaderboard._io import read_json
from invgym.leaderboard.agents import recorded_agent
from invgym.leaderboard.engine import DEFAULT_TIMEOUT, make_task, run_tasks
from invgym.leaderboard.record import check_document
from invgym.leaderboard.suite import load_suite

__all__ = ["CheckReport", "check"]

FAMILYWISE_LEVEL = 0.01


@dataclasses.dataclass
class CheckReport:
    """Per-row verdicts of a check (``rows``) and the files that could not be checked (``skipped``)."""

    rows: list[dict[str, Any]]
    skipped: list[str]

    @property
    def reproduced(self) -> bool:
        """True when no row is outside its CI (nor a failure that no longer fails, or the reverse)."""
        return all(row["verdict"] in ("identical", "within CI") for row in self.rows)

    def summary(self) -> str:
        """One line per row, then the counts."""
        lines = []
        for row in self.rows:
            if row.get("committed") is not None and row.get("fresh") is not None:
                lines.append(f"{row['entry']} {row['instance']}: committed {row['committed']:.6f}, fresh "
                             f"{row['fresh']:.6f} (tolerance {row['tolerance']:.6f}) -> {row['verdict']}")
            else:
                lines.append(f"{row['entry']} {row['instance']}: {row['verdict']}")
        lines += [f"skipped: {s}" for s in self.skipped]
        counts = {v: sum(r["verdict"] == v for r in self.rows) for v in ("identical", "within CI")}
        outside = len(self.rows) - sum(counts.values())
        lines.append(f"{len(self.rows)} rows: {counts['identical']} identical, {counts['within CI']} within CI, "
                     f"{outside} outside -> {'REPRODUCED' if self.reproduced else 'NOT REPRODUCED'}")
        return "\n".join(lines)


def check(*, root: str | Path | None = None, entries: list[str] | None = None, tracks: list[str] | None = None,
          instances: list[str] | None = None, jobs: int | None = None, timeout: float = DEFAULT_TIMEOUT,
          suite: str | Path | None = None, progress: bool = True) -> CheckReport:
    """Re-evaluate committed result rows and compare (nothing is written).

    Args:
        root: the leaderboard directory whose ``results/`` are checked (``./leaderboard`` by default).
        entries: entry names (file stems) to check; all by default.
        tracks: only rows of these tracks.
        instances: only these instance ids.
        jobs: local worker processes (default: all CPUs).
        timeout: seconds one row may take.
        suite: the suite file (the packaged one by default).
        progress: show a progress bar.
    """
    from invgym.leaderboard.submit import default_root

    root = Path(root) if root else default_root()
    loaded = load_suite(suite)
    tasks, claims, skipped = [], [], []
    for path in sorted((root / "results").glob("*.json")):
        if entries is not None and path.stem not in entries:
            continue
        document = read_json(path)
        problems = check_document(document)
        if problems:
            skipped.append(f"{path.name}: {problems[0]}")
            continue
        if document["suite"]["sha256"] != loaded.sha256:
            skipped.append(f"{path.name}: made on another suite ({document['suite']['version']})")
            continue
        recorded = document["agent"]
        try:
            spec = recorded_agent(recorded, root)
        except (ValueError, TypeError) as exc:
            skipped.append(f"{path.name}: the agent is not here ({exc})")
            continue
        if recorded["kind"] != "baseline" and spec.sha256 != recorded["sha256"]:
            skipped.append(f"{path.name}: the agent here is not the one the file was made with")
            continue
        quick = document["protocol"] == "quick"
        for row in document["results"]:
            if (tracks is not None and row["track"] not in tracks) or (instances is not None
                                                                       and row["instance"] not in instances):
                continue
            try:
                instance = loaded.instance(row["instance"])
            except KeyError:
                continue
            tasks.append(make_task({**spec.as_dict(), "path": spec.path}, instance, loaded.protocol(instance, quick),
                                   quick, entry=document["name"]))
            claims.append((document["name"], row))
    fresh = run_tasks(tasks, jobs=jobs, timeout=timeout, store=None,
                      max_tasks_per_worker=None if all(t["agent"]["kind"] == "baseline" for t in tasks) else 1,
                      progress=progress, description="checking") if tasks else []
    z = NormalDist().inv_cdf(1.0 - FAMILYWISE_LEVEL / (2 * max(len(tasks), 1)))
    rows = [_compare(name, claim, new, z) for (name, claim), new in zip(claims, fresh, strict=True)]
    return CheckReport(rows, skipped)


def _compare(name: str, claim: dict[str, Any], new: dict[str, Any], z: float) -> dict[str, Any]:
    out = {"entry": name, "instance": claim["instance"]}
    if claim["status"] != "ok" or new["status"] != "ok":
        same = claim["status"] == new["status"]
        verdict = "identical" if same else (f"OUTSIDE: committed {claim['status']}, fresh {new['status']}"
                                            f" ({new.get('reason', '')[:200]})")
        return {**out, "verdict": verdict}
    se = math.hypot(claim["stderr"], new["stderr"])
    tolerance = z * se + 1e-12 * abs(claim["average_cost"])
    difference = abs(claim["average_cost"] - new["average_cost"])
    verdict = ("identical" if claim["average_cost"] == new["average_cost"]
               else "within CI" if difference <= tolerance else "OUTSIDE")
    return {**out, "committed": claim["average_cost"], "fresh": new["average_cost"], "tolerance": tolerance,
            "verdict": verdict}
