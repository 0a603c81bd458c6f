"""Scores: gap to the reference, normalized score, per-track aggregates and their bootstrap confidence intervals.

For an instance with reference cost ``r`` (the exact optimum, or the best OR baseline) and naive cost ``n`` (the
standard policy of the family), a policy with average cost ``c`` has

    gap = 100 (c - r) / r  (%)        score = 100 (n - c) / (n - r)

so the naive policy scores 0 and the reference 100 (simulation noise can carry a score slightly past 100, and an
entry may beat a reference that is only the best OR baseline). A policy worse than naive scores below 0, and the
score is **clipped at** :data:`SCORE_FLOOR` (-100: as far below naive as the reference is above it), because where
the naive policy is close to the reference the denominator is small and one bad instance would otherwise print
-2764 and swamp a track's mean; the gap, never clipped, still shows how bad it was. A **failed instance scores the
floor** (so failing is never better than running badly) and is left out of the gaps, which it has none of; its
count is reported next to them.

A track aggregates its instance scores by their mean and by their interquartile mean (IQM, the 25 % trimmed
mean, robust to one bad instance; the point IQM is ``rliable``'s ``aggregate_iqm``, Agarwal et al. 2021, "Deep RL
at the edge of the statistical precipice") with 95 % **stratified-bootstrap** confidence intervals
(:func:`interval_estimates`, invgym's own vectorised numpy bootstrap, the scheme of rliable's): the per-seed
costs of every instance (``env_costs``: env i of the protocol ran on seed ``seed + i``) are resampled within the
instance, each resample's instance costs are scored as above (clipped), and the aggregates recomputed.
The intervals therefore cover the evaluation noise of the public seeds (on the panel tracks, where env i is
product i, the choice of products too), not the choice of instances.

Entries are compared **per track** (the primary ranking). The overall mean score averages the track means (each
track weighing the same); the overall IQM is taken over all the entry's instance scores (each instance weighing the
same). Either is only comparable between entries evaluated on the same set of tracks: :func:`overall_groups`
groups them so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["BOOTSTRAP_REPS", "SCORE_FLOOR", "aggregate", "gap", "interval_estimates", "normalized_score",
           "overall_groups", "require_rliable", "score_entry", "score_instance", "trimmed_mean"]

SCORE_FLOOR = -100.0


def gap(cost: float, reference: float) -> float:
    """Relative gap to the reference in percent."""
    return 100.0 * (cost - reference) / abs(reference) if reference else math.nan


def normalized_score(cost: float, reference: float, naive: float) -> float:
    """Score: 0 at the naive cost, 100 at the reference cost, clipped below at SCORE_FLOOR (NaN when they coincide)."""
    if naive == reference:
        return math.nan
    return max(SCORE_FLOOR, 100.0 * (naive - cost) / (naive - reference))


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
    """Aggregate scored rows of one track: mean gap, mean score, counts (the IQM: :func:`interval_estimates`)."""
    ok = [r for r in rows if r.get("status") == "ok"]
    gaps = [r["gap_pct"] for r in ok]
    scores = [r["score"] for r in ok if r["score"] is not None and math.isfinite(r["score"])]
    scores += [SCORE_FLOOR] * (len(rows) - len(ok))  # a failure scores the floor
    return {
        "instances": len(rows),
        "ok": len(ok),
        "failed": len(rows) - len(ok),
        "mean_gap_pct": sum(gaps) / len(gaps) if gaps else None,
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


# Bootstrap resamples per entry (drawn by numpy.random.default_rng(BOOTSTRAP_SEED), vectorised: see
# _stratified_bootstrap). With rliable's loop, 2000 took about 0.5 CPU s for an entry on every track; between
# bootstrap seeds the CI ends move by 1 to 2.5 % of the interval's width (standard deviation over 5 seeds,
# synthetic entry). The seed is fixed, so the board is reproducible.
BOOTSTRAP_REPS = 2000
BOOTSTRAP_SEED = 0


def trimmed_mean(values: Any) -> float:
    """The 25 % trimmed mean of a 1-D array, as ``rliable.metrics.aggregate_iqm`` (scipy's ``trim_mean``) computes it.

    ``int(n / 4)`` values are cut from each end of the sorted values and the rest averaged.
    """
    import numpy as np

    ordered = np.sort(values)
    cut = int(0.25 * len(ordered))
    return float(ordered[cut:len(ordered) - cut].mean())


def require_rliable() -> tuple[Any, Any]:
    """Return ``rliable.library`` and ``rliable.metrics``, or raise an ImportError saying how to install them.

    ``run`` and ``submit`` call it before evaluating anything, so a missing extra fails at once, not after the run.
    """
    try:
        from rliable import library, metrics
    except ImportError as exc:
        raise ImportError("the board's IQM and confidence intervals need rliable, a dependency of invgym: "
                          f"pip install 'rliable>=1.2' 'pandas<3' ({exc})") from exc
    return library, metrics


def _instance_scores(costs: Any, references: Any, naives: Any) -> Any:
    """Vectorized :func:`normalized_score` (clipped at the floor) of instance costs."""
    import numpy as np

    return np.maximum(SCORE_FLOOR, 100.0 * (naives - costs) / (naives - references))


def interval_estimates(scored: Mapping[str, Any], suite: Any, reps: int = BOOTSTRAP_REPS,
                       seed: int = BOOTSTRAP_SEED) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Mean and IQM scores per track and overall, each with its 95 % stratified-bootstrap CI.

    Args:
        scored: a :func:`score_entry` result (its rows carry ``env_costs``).
        suite: the suite the rows were scored against.
        reps: bootstrap resamples.
        seed: seed of the resampling (its own ``numpy.random.default_rng``: the same rows always give the same
            intervals; numpy's global generator is left alone).

    Returns:
        ``{track id or "overall": {"mean_score": (estimate, low, high), "iqm_score": (estimate, low, high)}}``
        over the tracks the entry has rows on. An instance without a finite score (reference equal to naive)
        is left out, as in :func:`aggregate`; a failed one scores the floor in every resample.

    Raises:
        ImportError: without ``rliable`` (a dependency of invgym, imported only here: the point IQM is its
            ``aggregate_iqm``).
    """
    import numpy as np

    _, metrics = require_rliable()

    tracks: list[str] = []
    fixed: list[tuple[int, float]] = []  # (column, score) of failed instances: the floor in every resample
    groups: dict[int, list[tuple[int, list[float], float, float]]] = {}  # num_envs -> (column, costs, r, n)
    column_track: list[int] = []
    for row in scored["rows"]:
        instance = suite.instance(row["instance"])
        reference, naive = float(instance.reference["cost"]), float(instance.naive["cost"])
        ok = row.get("status") == "ok"
        if ok and reference == naive:  # no finite score: left out, as aggregate() does
            continue
        if instance.track not in tracks:
            tracks.append(instance.track)
        column = len(column_track)
        column_track.append(tracks.index(instance.track))
        if ok:
            costs = row["env_costs"]
            groups.setdefault(len(costs), []).append((column, costs, reference, naive))
        else:
            fixed.append((column, SCORE_FLOOR))
    if not column_track:
        return {}
    # One (runs x instances) cost matrix per number of envs; rliable resamples each one's runs within each column.
    keys = sorted(groups)
    arrays = [np.array([g[1] for g in groups[k]], dtype=np.float64).T for k in keys]
    columns = [np.array([g[0] for g in groups[k]]) for k in keys]
    refs = [np.array([g[2] for g in groups[k]]) for k in keys]
    naives = [np.array([g[3] for g in groups[k]]) for k in keys]
    owner = np.array(column_track)
    masks = [owner == t for t in range(len(tracks))]
    base = np.zeros(len(column_track))
    for column, score in fixed:
        base[column] = score

    def aggregates(*matrices: Any, iqm: Any = trimmed_mean) -> Any:
        scores = base.copy()
        for matrix, cols, r, n in zip(matrices, columns, refs, naives, strict=True):
            scores[cols] = _instance_scores(matrix.mean(axis=0), r, n)
        means = [scores[m].mean() for m in masks]
        iqms = [iqm(scores[m]) for m in masks]
        return np.array(means + iqms + [float(np.mean(means)), iqm(scores)])

    if not arrays:  # every instance failed: nothing varies
        point = low = high = aggregates()
    else:
        low, high = _stratified_bootstrap(arrays, columns, refs, naives, base, masks, reps, seed)
    # The estimates themselves are rliable's IQM (the bootstrap's inner loop uses the same trimmed mean, checked
    # against it in the tests, without scipy's per-call overhead: 0.8 ms a call, 2000 resamples, 8 tracks).
    point = aggregates(*arrays, iqm=metrics.aggregate_iqm)
    k = len(tracks)
    out = {}
    for i, name in enumerate([*tracks, "overall"]):
        j, q = (i, k + i) if i < k else (2 * k, 2 * k + 1)
        out[name] = {"mean_score": (float(point[j]), float(low[j]), float(high[j])),
                     "iqm_score": (float(point[q]), float(low[q]), float(high[q]))}
    return out


def _trimmed_means(scores: Any) -> Any:
    """:func:`trimmed_mean` of every row of a 2-D array."""
    import numpy as np

    ordered = np.sort(scores, axis=1)
    cut = int(0.25 * ordered.shape[1])
    return ordered[:, cut:ordered.shape[1] - cut].mean(axis=1)


def _stratified_bootstrap(arrays: list[Any], columns: list[Any], refs: list[Any], naives: list[Any], base: Any,
                          masks: list[Any], reps: int, seed: int) -> tuple[Any, Any]:
    """2.5 and 97.5 percentiles of the aggregates over ``reps`` stratified resamples, vectorised in numpy.

    Each instance's per-env costs are resampled with replacement within that instance (a stratified bootstrap,
    as rliable's ``StratifiedBootstrap``), in blocks of resamples so memory stays bounded; the resamples' instance
    means are scored and aggregated (per track mean and IQM, overall mean of track means and IQM of all
    instances) all at once. ``numpy.random.default_rng(seed)`` draws the indices: the same rows always give the
    same intervals, and numpy's global generator is not touched.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    scores = np.repeat(base[None, :], reps, axis=0)  # failed instances keep the floor in every resample
    for matrix, cols, r, n in zip(arrays, columns, refs, naives, strict=True):
        runs, width = matrix.shape
        block = max(1, (1 << 22) // (runs * width))  # resamples per block: about 4 M drawn indices
        which = np.arange(width)
        for start in range(0, reps, block):
            count = min(block, reps - start)
            draws = rng.integers(0, runs, size=(count, runs, width))
            scores[start:start + count, cols] = _instance_scores(matrix[draws, which].mean(axis=1), r, n)
    means = np.stack([scores[:, m].mean(axis=1) for m in masks], axis=1)
    iqms = np.stack([_trimmed_means(scores[:, m]) for m in masks], axis=1)
    stats = np.concatenate([means, iqms, means.mean(axis=1, keepdims=True),
                            _trimmed_means(scores)[:, None]], axis=1)
    low, high = np.percentile(stats, [2.5, 97.5], axis=0)
    return low, high
