"""Scores: gap to the reference, normalized score, and per-track aggregates (mean and interquartile mean).

For an instance with reference cost ``r`` (the exact optimum, or the best OR baseline) and naive cost ``n`` (the
standard policy of the family), a policy with average cost ``c`` has

    gap = 100 (c - r) / r  (%)        score = 100 (n - c) / (n - r)

so the naive policy scores 0 and the reference 100 (simulation noise can carry a score slightly past 100, and an
entry may beat a reference that is only the best OR baseline). A policy worse than naive scores below 0, and the
score is **clipped at** :data:`SCORE_FLOOR` (-100: as far below naive as the reference is above it), because where
the naive policy is close to the reference the denominator is small and one bad instance would otherwise print
-2764 and swamp a track's mean; the gap, never clipped, still shows how bad it was. A track aggregates the gaps of
its instances by their mean and by the interquartile mean (the mean of the middle half, robust to one bad
instance; Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice"). A **failed instance scores the
floor** in its track's mean score (so failing is never better than running badly) and is left out of the gaps,
which it has none of; its count is reported next to them.

Entries are compared **per track** (the primary ranking). An overall mean score (each track weighing the same)
is only comparable between entries evaluated on the same set of tracks: :func:`overall_groups` groups them so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["SCORE_FLOOR", "aggregate", "gap", "interquartile_mean", "normalized_score", "overall_groups",
           "score_entry", "score_instance"]

SCORE_FLOOR = -100.0


def gap(cost: float, reference: float) -> float:
    """Relative gap to the reference in percent."""
    return 100.0 * (cost - reference) / abs(reference) if reference else math.nan


def normalized_score(cost: float, reference: float, naive: float) -> float:
    """Score: 0 at the naive cost, 100 at the reference cost, clipped below at SCORE_FLOOR (NaN when they coincide)."""
    if naive == reference:
        return math.nan
    return max(SCORE_FLOOR, 100.0 * (naive - cost) / (naive - reference))


def interquartile_mean(values: Iterable[float]) -> float:
    """Mean of the middle 50 % of the values, with fractional weights at the quartiles (Agarwal et al. 2021)."""
    xs = sorted(v for v in values if v is not None and math.isfinite(v))
    n = len(xs)
    if n == 0:
        return math.nan
    # Weight each sorted value by its overlap with the middle half [n/4, 3n/4] of the index range [0, n].
    low, high = n / 4.0, 3.0 * n / 4.0
    total = weight = 0.0
    for i, x in enumerate(xs):
        w = max(0.0, min(i + 1.0, high) - max(float(i), low))
        total += w * x
        weight += w
    return total / weight


def score_instance(result: Mapping[str, Any], instance: Any) -> dict[str, Any]:
    """Return the result row with ``gap_pct`` and ``score`` added (None for a failed instance)."""
    row = dict(result)
    if row.get("status") != "ok":
        row.update(gap_pct=None, score=None)
        return row
    reference, naive = float(instance.reference["cost"]), float(instance.naive["cost"])
    row["reference_cost"] = reference
    row["gap_pct"] = gap(row["average_cost"], reference)
    row["score"] = normalized_score(row["average_cost"], reference, naive)
    return row


def aggregate(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate scored rows of one track: mean gap, IQM gap, mean score, counts."""
    ok = [r for r in rows if r.get("status") == "ok"]
    gaps = [r["gap_pct"] for r in ok]
    scores = [r["score"] for r in ok if r["score"] is not None and math.isfinite(r["score"])]
    scores += [SCORE_FLOOR] * (len(rows) - len(ok))  # a failure scores the floor
    return {
        "instances": len(rows),
        "ok": len(ok),
        "failed": len(rows) - len(ok),
        "mean_gap_pct": sum(gaps) / len(gaps) if gaps else None,
        "iqm_gap_pct": interquartile_mean(gaps) if gaps else None,
        "mean_score": sum(scores) / len(scores) if scores else None,
    }


def score_entry(results: list[Mapping[str, Any]], suite: Any) -> dict[str, Any]:
    """Score a result file's rows against the suite: per-instance rows, per-track aggregates and the total.

    Rows for instances the suite no longer has are ignored. The overall mean score averages the tracks the entry
    was evaluated on (each track weighs the same, whatever its number of instances).
    """
    by_track: dict[str, list[dict[str, Any]]] = {}
    rows = []
    for result in results:
        try:
            instance = suite.instance(result["instance"])
        except KeyError:
            continue
        row = score_instance(result, instance)
        rows.append(row)
        by_track.setdefault(instance.track, []).append(row)
    tracks = {track: aggregate(track_rows) for track, track_rows in by_track.items()}
    means = [t["mean_score"] for t in tracks.values() if t["mean_score"] is not None]
    gaps = [t["mean_gap_pct"] for t in tracks.values() if t["mean_gap_pct"] is not None]
    overall = {
        "mean_score": sum(means) / len(means) if means else None,
        "mean_gap_pct": sum(gaps) / len(gaps) if gaps else None,
        "instances": len(rows),
        "failed": sum(t["failed"] for t in tracks.values()),
    }
    return {"rows": rows, "tracks": tracks, "overall": overall}


def overall_groups(entries: list[Mapping[str, Any]]) -> list[tuple[tuple[str, ...], list[Mapping[str, Any]]]]:
    """Group entries (``score_entry`` results with a ``tracks`` mapping) by their exact set of tracks.

    Returns ``[(tracks, entries best mean score first), ...]``, the groups with the most entries first: an
    overall mean score is only ranked against entries on the same tracks.
    """
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for entry in entries:
        groups.setdefault(tuple(sorted(entry["tracks"])), []).append(entry)
    for members in groups.values():
        members.sort(key=lambda e: (e["overall"]["mean_score"] is None, -(e["overall"]["mean_score"] or 0.0),
                                    e["name"]))
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
