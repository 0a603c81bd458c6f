"""``invgym leaderboard render``: ``LEADERBOARD.md`` and a static ``site/index.html``.

Every result file in ``results/`` is checked (schema and integrity hash, the suite it was made on, its protocol,
and every check of ``verify`` that needs no agent run: :func:`invgym.leaderboard.verify.static_problems`) and
re-scored against the suite, so nothing shown is taken from a file's own summary. Files that fail a check are
listed with the reason instead of being ranked (the held-out re-evaluation is still ``verify``'s alone).

The page is the jinja2 template ``leaderboard/templates/index.html.j2`` over a view model built here: a section
per track (linked from the top), sortable tables, a bar panel of mean gaps and a cost-vs-reference scatter for
every track (inline HTML and SVG, so their tooltips work and no plotting library is needed). An entry's colour
comes from its name (:func:`invgym.plot.colour_for`), so new entries never recolour old ones; learned agents
(``kind == "submission"``) are hatched and marked apart from the OR baselines. With matplotlib (the ``plot``
extra) the same charts are also written as SVG and PNG files by :mod:`invgym.plot`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from invgym.atomic import atomic_write_text, remove_orphans
from invgym.leaderboard.record import load_document
from invgym.leaderboard.scoring import SCORE_FLOOR, interval_estimates, overall_groups, score_entry
from invgym.leaderboard.suite import Suite, load_suite
from invgym.leaderboard.verify import copied_from, static_problems
from invgym.plot import colour_for

__all__ = ["collect", "render"]

# Column headers of the scenario metrics (the tables in invgym.metrics), in the order the tables show them:
# the service and stock figures practitioners read first (JD reports in-stock rate and turnover days), then
# the rest; a metric missing here is shown after these under its own key.
METRIC_NAMES = {
    "fill_rate": "fill rate", "service_level": "service level", "in_stock_rate": "in-stock rate",
    "turnover_days": "turnover (days)", "stockout_day_rate": "stock-out day rate", "lost_sales_rate": "lost-sales rate",
    "outdating_rate": "outdating rate", "lost_sales": "lost units / day", "holding_cost": "holding cost / day",
    "average_on_hand": "avg on hand", "average_inventory": "avg inventory", "average_order": "avg order",
    "average_reward": "avg reward",
}


def _metric_columns(entries: list[dict[str, Any]], track: str) -> list[str]:
    """The family metrics any entry reports on a track, known ones in METRIC_NAMES order, then the others."""
    found = {k for e in entries for k in _metric_means(e, track)}
    order = list(METRIC_NAMES)
    return sorted(found, key=lambda m: (order.index(m) if m in order else len(order), m))


def _num(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}{suffix}"


def collect(root: Path, suite: Suite) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Return the sound entries (re-scored, best mean score first) and the rejected files with their reasons."""
    entries, rejected = [], []
    # The quick board (a run's ``quick/`` folder) ranks quick files; every other board the full protocol only: a
    # quick file covers fewer instances and periods, and must not rank against full-protocol entries.
    protocol = "quick" if Path(root).name == "quick" else "default"
    for path in sorted((root / "results").glob("*.json")):
        document, problems = load_document(path)
        if not problems and document["suite"]["sha256"] != suite.sha256:
            problems = [f"made on another suite ({document['suite']['version']}, "
                        f"{document['suite']['sha256'][:12]}); run it again"]
        if not problems and document["protocol"] != protocol:
            problems = [f"made with the {document['protocol']} protocol, not this board's {protocol} one: "
                        "quick files rank only on the quick board (leaderboard/quick/)"]
        if not problems:  # what verify checks before it runs anything: a re-hashed forgery does not rank
            problems = static_problems(document, suite)
        if problems:
            rejected.append((path.name, problems[0]))
            continue
        scored = score_entry(document["results"], suite)
        entries.append({"name": document["name"], "kind": document["kind"], "created": document["created"],
                        "agent": document["agent"], "protocol": document["protocol"], **scored,
                        "ci": interval_estimates(scored, suite)})
    entries.sort(key=lambda e: (e["overall"]["mean_score"] is None, -(e["overall"]["mean_score"] or 0.0),
                                e["name"]))
    baselines = {e["name"]: e["rows"] for e in entries if e["kind"] == "baseline"}
    for e in entries:  # flagged, not refused: see verify.copied_from
        e["copied_from"] = copied_from(e["rows"], baselines) if e["kind"] != "baseline" else []
    return entries, rejected


def _copies(entries: list[dict[str, Any]]) -> list[str]:
    """One line per entry whose per-seed costs equal a baseline's on every instance of a track they share."""
    return [f"{e['name']} ({e['kind']}, agent {e['agent']['spec']!r}): per-seed costs bit for bit those of "
            + "; ".join(f"{name} on all {count} {track} instances" for name, track, count in e["copied_from"])
            for e in entries if e["copied_from"]]


def _estimate(entry: dict[str, Any], key: str, which: str) -> str:
    """``"62.4 [60.1, 64.0]"``: a score aggregate with its 95 % stratified-bootstrap CI (``–`` when absent)."""
    found = entry["ci"].get(key, {}).get(which)
    if found is None or not all(math.isfinite(v) for v in found):
        return "–"
    point, low, high = found
    return f"{point:.1f} [{low:.1f}, {high:.1f}]"


def _metric_means(entry: dict[str, Any], track: str) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for row in entry["rows"]:
        if row["track"] == track and row["status"] == "ok":
            for key, value in row.get("metrics", {}).items():
                if value is not None:
                    sums.setdefault(key, []).append(value)
    return {k: sum(v) / len(v) for k, v in sums.items()}


# === Markdown ===

def _markdown(suite: Suite, entries: list[dict[str, Any]], rejected: list[tuple[str, str]]) -> str:
    lines = [
        "# invgym leaderboard", "",
        f"Suite **{suite.name} {suite.version}** (sha256 `{suite.sha256[:12]}`). Gap = (cost − reference) / "
        "|reference| (retail costs are negative: profits); score: 0 = the family's naive policy (lost sales: "
        "standard base-stock), 100 = the reference "
        "(the exact optimum, or the best OR baseline where no exact solution fits); each instance's reference and "
        "naive policy are recorded in `suite.json`. IQM = interquartile mean (25 % trimmed mean) of the instance "
        "scores (rliable's `aggregate_iqm`). Scores show their 95 % stratified-bootstrap CI in brackets (invgym's "
        "vectorised numpy bootstrap, 2000 resamples of the per-seed costs within each instance: evaluation noise, "
        "not the choice of instances). Cells: "
        "average cost per period on the public seeds ± the half-width of its 95 % confidence interval. Regenerate with "
        "`invgym leaderboard run`; see also `site/index.html`.", "",
        "## Overall", "",
        "Per-track tables (below) are the primary ranking. Here an entry's mean score over its tracks (each "
        "track weighing the same) is ranked only against entries evaluated on the same set of tracks; the IQM "
        "is over all its instance scores (each instance weighing the same). Scores are "
        f"clipped at {SCORE_FLOOR:g} and a failed instance scores {SCORE_FLOOR:g} (see `scoring.py`).", "",
        "| rank | entry | kind | mean score [95 % CI] | IQM score [95 % CI] | mean gap | tracks | instances (failed) "
        "| protocol |",
        "|---:|---|---|---:|---:|---:|---|---:|---|",
    ]
    for _, group in overall_groups(entries):
        for rank, e in enumerate(group, 1):
            o = e["overall"]
            lines.append(f"| {rank} | {e['name']} | {e['kind']} | {_estimate(e, 'overall', 'mean_score')} | "
                         f"{_estimate(e, 'overall', 'iqm_score')} | {_num(o['mean_gap_pct'], 2, ' %')} | "
                         f"{', '.join(sorted(e['tracks']))} | "
                         f"{o['instances']} ({o['failed']}) | {e['protocol']} |")
    for track in suite.tracks:
        here = [e for e in entries if track.id in e["tracks"]]
        if not here:
            continue
        lines += ["", f"## {track.title} (`{track.id}`)", "", track.description, ""]
        metrics = _metric_columns(here, track.id)
        head = "| entry | mean gap | mean score [95 % CI] | IQM score [95 % CI] | ok / failed |" + "".join(
            f" {METRIC_NAMES.get(m, m)} |" for m in metrics)
        lines += [head, "|---|---:|---:|---:|---:|" + "---:|" * len(metrics)]
        for e in sorted(here, key=lambda e: (e["tracks"][track.id]["mean_gap_pct"] is None,
                                             e["tracks"][track.id]["mean_gap_pct"] or 0.0)):
            t = e["tracks"][track.id]
            means = _metric_means(e, track.id)
            lines.append(f"| {e['name']} | {_num(t['mean_gap_pct'], 2, ' %')} | "
                         f"{_estimate(e, track.id, 'mean_score')} | {_estimate(e, track.id, 'iqm_score')} | "
                         f"{t['ok']} / {t['failed']} |"
                         + "".join(f" {_num(means.get(m), 3)} |" for m in metrics))
        lines += ["", "| instance | reference | method | " + " | ".join(e["name"] for e in here) + " |",
                  "|---|---:|---|" + "---:|" * len(here)]
        for inst in track.instances:
            cells = []
            for e in here:
                row = next((r for r in e["rows"] if r["instance"] == inst.id), None)
                if row is None:
                    cells.append("")
                elif row["status"] != "ok":
                    cells.append("failed")
                else:
                    half = (row["ci95"][1] - row["ci95"][0]) / 2
                    cells.append(f"{row['average_cost']:.3f} ± {half:.3f} ({row['gap_pct']:+.2f} %)")
            lines.append(f"| `{inst.id}` | {inst.reference['cost']:.3f} | {inst.reference['method']} | "
                         + " | ".join(cells) + " |")
    failures = [(e["name"], r) for e in entries for r in e["rows"] if r["status"] != "ok"]
    if failures:
        lines += ["", "## Failed instances", ""]
        lines += [f"- {name} on `{r['instance']}`: {r['reason']}" for name, r in failures]
    copies = _copies(entries)
    if copies:
        lines += ["", "## Identical to a baseline", "",
                  "Ranked, but listed: on these tracks the entry's per-seed costs equal a baseline's bit for bit. The "
                  "same policy on the same public seeds gives the same costs: either the agent learned exactly the "
                  "baseline's policy there, or the file copies the baseline (`verify` accepts both; see "
                  "docs/leaderboard.md, Threat model).", ""]
        lines += [f"- {line}" for line in copies]
    if rejected:
        lines += ["", "## Rejected result files", ""]
        lines += [f"- `{name}`: {why}" for name, why in rejected]
    if suite.absent_tracks:
        lines += ["", f"Tracks not in this version of invgym: {', '.join(suite.absent_tracks)}."]
    return "\n".join(lines) + "\n"


# === The site: a jinja2 template over a view model built here ===

TEMPLATES = Path(__file__).with_name("templates")
LEARNED = "submission"  # entries of this kind are learned agents, drawn apart from the OR baselines


def _nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` intervals over ``span``."""
    raw = max(span, 1e-12) / ticks
    exp = 10 ** math.floor(math.log10(raw))
    return next(step * exp for step in (1, 2, 2.5, 5, 10) if step * exp >= raw)


def _axis(low: float, high: float, ticks: int = 5) -> dict[str, Any]:
    """Round axis ends and ticks covering [low, high] (0 always included).

    A negative part smaller than one tick step gets its own small round end (e.g. -0.1 beside steps of 10)
    instead of a whole empty step.
    """
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low <= 0:
        high = 1.0
    step = _nice_step(high - low, ticks)
    high = math.ceil(high / step - 1e-9) * step
    values = [round(k * step, 10) for k in range(round(high / step) + 1)]
    if low < 0:
        if -low < step:
            low = -_nice_step(-low, 1)
            values.insert(0, low)
        else:
            low = math.floor(low / step + 1e-9) * step
            values = [round(low + k * step, 10) for k in range(round((high - low) / step) + 1)]
    ticks = [{"value": v, "label": f"{v:g}", "pos": 100 * (v - low) / (high - low)} for v in values]
    if len(ticks) > 1 and ticks[1]["pos"] - ticks[0]["pos"] < 8:  # a small negative end: unlabelled
        ticks[0]["label"] = ""
    return {"low": low, "high": high, "ticks": ticks}


# Gaps beyond this are drawn to the edge and labelled: one poor baseline must not squash every other bar.
GAP_AXIS_CAP = 25.0


def _gap_panels(suite: Suite, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One bar panel per track (every track with an entry), bars sorted best first, on one round axis."""
    panels = []
    for track in suite.tracks:
        rows = [(e, e["tracks"][track.id]) for e in entries if track.id in e["tracks"]]
        if not rows:
            continue
        gaps = [t["mean_gap_pct"] for _, t in rows if t["mean_gap_pct"] is not None]
        axis = _axis(max(min(gaps + [0.0]), -GAP_AXIS_CAP), min(max(gaps + [0.0]), GAP_AXIS_CAP))
        span = axis["high"] - axis["low"]
        zero = 100 * (0 - axis["low"]) / span
        bars = []
        for e, t in sorted(rows, key=lambda r: (r[1]["mean_gap_pct"] is None, r[1]["mean_gap_pct"] or 0.0)):
            gap = t["mean_gap_pct"]
            if gap is None:
                bars.append({"name": e["name"], "learned": e["kind"] == LEARNED, "gap": None})
                continue
            shown = min(max(gap, axis["low"]), axis["high"])
            pos = 100 * (shown - axis["low"]) / span
            bars.append({"name": e["name"], "learned": e["kind"] == LEARNED, "gap": gap, "label": f"{gap:+.2f} %",
                         "left": min(zero, pos), "width": abs(pos - zero), "clipped": gap > axis["high"],
                         "inside": max(zero, pos) > 70.0,  # the label goes inside the bar's end
                         "score": _num(t["mean_score"], 1), "colour": colour_for(e["name"])})
        panels.append({"id": track.id, "title": track.title, "axis": axis, "zero": zero, "bars": bars})
    return panels


def _scatter_panels(suite: Suite, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One SVG scatter per track: each instance's cost (y) against its reference cost (x), and y = x."""
    size, pad = 260, 44
    panels = []
    for track in suite.tracks:
        points = []
        for e in entries:
            for row in e["rows"]:
                if row["track"] == track.id and row["status"] == "ok":
                    points.append((suite.instance(row["instance"]).reference["cost"], row["average_cost"], e,
                                   row["instance"]))
        if not points:
            continue
        values = [v for p in points for v in p[:2]]
        log = min(values) > 0 and max(values) / min(values) > 20
        f = math.log10 if log else (lambda v: v)
        lo, hi = f(min(values)), f(max(values))
        if log:
            lo, hi = math.floor(lo), math.ceil(hi)
            ticks = [10.0**k for k in range(int(lo), int(hi) + 1)]
        else:
            step = _nice_step(hi - lo or 1.0, 4)
            lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
            if hi == lo:
                hi = lo + step
            ticks = [round(lo + k * step, 10) for k in range(round((hi - lo) / step) + 1)]

        def at(v: float, lo: float = lo, hi: float = hi, f: Any = f) -> float:
            return (f(v) - lo) / (hi - lo) * size

        panels.append({
            "id": track.id, "title": track.title, "size": size, "pad": pad, "log": log,
            "ticks": [{"label": f"{t:g}", "pos": at(t)} for t in ticks],
            "points": [{"x": at(ref), "y": size - at(cost), "name": e["name"], "colour": colour_for(e["name"]),
                        "learned": e["kind"] == LEARNED, "tip": f"{e['name']} on {inst}: {cost:.3f} vs reference "
                                                              f"{ref:.3f}"} for ref, cost, e, inst in points],
        })
    return panels


def _track_views(suite: Suite, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    views = []
    for track in suite.tracks:
        here = [e for e in entries if track.id in e["tracks"]]
        if not here:
            continue
        metrics = _metric_columns(here, track.id)
        rows = []
        for e in sorted(here, key=lambda e: (e["tracks"][track.id]["mean_gap_pct"] is None,
                                             e["tracks"][track.id]["mean_gap_pct"] or 0.0)):
            t = e["tracks"][track.id]
            means = _metric_means(e, track.id)
            rows.append({"name": e["name"], "learned": e["kind"] == LEARNED, "colour": colour_for(e["name"]),
                         "cells": [_cell(t["mean_gap_pct"], 2, " %"), _ci_cell(e, track.id, "mean_score"),
                                   _ci_cell(e, track.id, "iqm_score"), {"text": f"{t['ok']} / {t['failed']}",
                                                                         "value": t["failed"]}]
                         + [_cell(means.get(m), 3) for m in metrics]})
        instances = []
        for inst in track.instances:
            cells = []
            for e in here:
                row = next((r for r in e["rows"] if r["instance"] == inst.id), None)
                if row is None:
                    cells.append({"text": "", "value": None, "tip": "not evaluated", "failed": False})
                elif row["status"] != "ok":
                    cells.append({"text": "failed", "value": None, "tip": row["reason"], "failed": True})
                else:
                    half = (row["ci95"][1] - row["ci95"][0]) / 2
                    tip = ", ".join(f"{k} = {_num(v, 3)}" for k, v in row.get("metrics", {}).items())
                    cells.append({"text": f"{row['average_cost']:.3f} ± {half:.3f} ({row['gap_pct']:+.2f} %)",
                                  "value": row["average_cost"], "tip": tip, "failed": False})
            instances.append({"id": inst.id, "reference": inst.reference["cost"], "method": inst.reference["method"],
                              "cells": cells})
        views.append({"id": track.id, "title": track.title, "description": track.description,
                      "metric_keys": metrics, "metrics": [METRIC_NAMES.get(m, m) for m in metrics], "rows": rows,
                      "entries": [{"name": e["name"], "colour": colour_for(e["name"])} for e in here],
                      "instances": instances})
    return views


def _ci_cell(entry: dict[str, Any], key: str, which: str) -> dict[str, Any]:
    """A score aggregate's cell: its text with the CI, sorted by the point estimate."""
    found = entry["ci"].get(key, {}).get(which)
    value = found[0] if found is not None and math.isfinite(found[0]) else None
    return {"text": _estimate(entry, key, which), "value": value}


def _cell(value: Any, digits: int, suffix: str = "") -> dict[str, Any]:
    ok = value is not None and not (isinstance(value, float) and not math.isfinite(value))
    return {"text": _num(value, digits, suffix), "value": value if ok else None}


def _html(suite: Suite, entries: list[dict[str, Any]], rejected: list[tuple[str, str]],
          downloads: list[str]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    ranked = [(rank, e) for _, group in overall_groups(entries) for rank, e in enumerate(group, 1)]
    overall = [{"rank": rank, "name": e["name"], "kind": e["kind"], "learned": e["kind"] == LEARNED,
                "colour": colour_for(e["name"]), "score": _ci_cell(e, "overall", "mean_score"),
                "iqm": _ci_cell(e, "overall", "iqm_score"),
                "gap": _cell(e["overall"]["mean_gap_pct"], 2, " %"), "tracks": ", ".join(sorted(e["tracks"])),
                "instances": e["overall"]["instances"], "failed": e["overall"]["failed"],
                "protocol": e["protocol"]} for rank, e in ranked]  # ranked among entries on the same tracks
    return env.get_template("index.html.j2").render(
        suite=suite, overall=overall, gap_panels=_gap_panels(suite, entries),
        scatter_panels=_scatter_panels(suite, entries), tracks=_track_views(suite, entries), rejected=rejected,
        copies=_copies(entries),
        downloads=downloads, absent=suite.absent_tracks, score_floor=f"{SCORE_FLOOR:g}")


def _picture_files(site: Path, suite: Suite, entries: list[dict[str, Any]]) -> list[Path]:
    """The charts as SVG and PNG files by invgym.plot (matplotlib, the 'plot' extra); none without it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    from invgym import plot

    learned = [e["name"] for e in entries if e["kind"] == LEARNED]
    gaps = {t["id"]: {b["name"]: b["gap"] for b in t["bars"] if b["gap"] is not None}
            for t in _gap_panels(suite, entries)}
    points = [{"track": r["track"], "name": e["name"], "reference": suite.instance(r["instance"]).reference["cost"],
               "cost": r["average_cost"]} for e in entries for r in e["rows"] if r["status"] == "ok"]
    written = []
    if gaps:
        fig = plot.gap_by_track(gaps, learned=learned, title="Mean gap to the reference per track")
        written += [plot.save(fig, site / f"gap_by_track.{ext}") for ext in ("svg", "png")]
    if points:
        fig = plot.cost_vs_reference(points, learned=learned, title="Average cost vs reference cost")
        written += [plot.save(fig, site / f"cost_vs_reference.{ext}") for ext in ("svg", "png")]
    return written


def render(*, root: str | Path | None = None, suite: str | Path | None = None) -> list[Path]:
    """Write ``LEADERBOARD.md`` and ``site/index.html`` (and, with matplotlib, its charts as SVG/PNG) under ``root``.

    Returns:
        The paths written.
    """
    from invgym.leaderboard.submit import default_root, entry_lock

    root = Path(root) if root else default_root()
    loaded = load_suite(suite)
    site = root / "site"
    # Concurrent submissions re-render the same board: they take turns, and the lock lets a render sweep what a
    # killed one left (its temporaries) without touching a live writer's.
    with entry_lock(root, ".board"):
        remove_orphans(site)
        remove_orphans(root, "LEADERBOARD.md")
        entries, rejected = collect(root, loaded)
        written = _picture_files(site, loaded, entries)
        downloads = [p.name for p in written]
        written.append(atomic_write_text(site / "index.html", _html(loaded, entries, rejected, downloads)))
        written.append(atomic_write_text(root / "LEADERBOARD.md", _markdown(loaded, entries, rejected)))
    return written
