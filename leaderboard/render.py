"""``invgym leaderboard render``: ``LEADERBOARD.md`` and a static ``site/`` (index.html + SVG charts).

Every result file in ``results/`` is checked (schema and integrity hash, the suite it was made on) and re-scored
against the suite, so nothing shown is taken from a file's own summary. Files that fail a check are listed with
the reason instead of being ranked. Charts are SVG written here by hand (no plotting dependency): the mean gap to
the reference per track and entry, and each instance's cost against its reference cost.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from invgym.leaderboard._io import atomic_write_text
from invgym.leaderboard.record import load_document
from invgym.leaderboard.scoring import SCORE_FLOOR, overall_groups, score_entry
from invgym.leaderboard.suite import Suite, load_suite

__all__ = ["collect", "render"]

# Tableau 20 (strong and light shades alternating), so up to 20 entries get distinct colours.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5")
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
    for path in sorted((root / "results").glob("*.json")):
        document, problems = load_document(path)
        if not problems and document["suite"]["sha256"] != suite.sha256:
            problems = [f"made on another suite ({document['suite']['version']}, "
                        f"{document['suite']['sha256'][:12]}); run it again"]
        if problems:
            rejected.append((path.name, problems[0]))
            continue
        scored = score_entry(document["results"], suite)
        entries.append({"name": document["name"], "kind": document["kind"], "created": document["created"],
                        "agent": document["agent"], "protocol": document["protocol"], **scored})
    entries.sort(key=lambda e: (e["overall"]["mean_score"] is None, -(e["overall"]["mean_score"] or 0.0),
                                e["name"]))
    return entries, rejected


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
        "naive policy are recorded in `suite.json`. IQM = interquartile mean over a track's instances. Cells: "
        "average cost per period on the public seeds ± the half-width of its 95 % confidence interval. Regenerate with "
        "`invgym leaderboard run`; see also `site/index.html`.", "",
        "## Overall", "",
        "Per-track tables (below) are the primary ranking. Here an entry's mean score over its tracks (each "
        "track weighing the same) is ranked only against entries evaluated on the same set of tracks; scores are "
        f"clipped at {SCORE_FLOOR:g} and a failed instance scores {SCORE_FLOOR:g} (see `scoring.py`).", "",
        "| rank | entry | kind | mean score | mean gap | tracks | instances (failed) | protocol |",
        "|---:|---|---|---:|---:|---|---:|---|",
    ]
    for _, group in overall_groups(entries):
        for rank, e in enumerate(group, 1):
            o = e["overall"]
            lines.append(f"| {rank} | {e['name']} | {e['kind']} | {_num(o['mean_score'], 1)} | "
                         f"{_num(o['mean_gap_pct'], 2, ' %')} | {', '.join(sorted(e['tracks']))} | "
                         f"{o['instances']} ({o['failed']}) | {e['protocol']} |")
    for track in suite.tracks:
        here = [e for e in entries if track.id in e["tracks"]]
        if not here:
            continue
        lines += ["", f"## {track.title} (`{track.id}`)", "", track.description, ""]
        metrics = _metric_columns(here, track.id)
        head = "| entry | mean gap | IQM gap | mean score | ok / failed |" + "".join(
            f" {METRIC_NAMES.get(m, m)} |" for m in metrics)
        lines += [head, "|---|---:|---:|---:|---:|" + "---:|" * len(metrics)]
        for e in sorted(here, key=lambda e: (e["tracks"][track.id]["mean_gap_pct"] is None,
                                             e["tracks"][track.id]["mean_gap_pct"] or 0.0)):
            t = e["tracks"][track.id]
            means = _metric_means(e, track.id)
            lines.append(f"| {e['name']} | {_num(t['mean_gap_pct'], 2, ' %')} | {_num(t['iqm_gap_pct'], 2, ' %')} | "
                         f"{_num(t['mean_score'], 1)} | {t['ok']} / {t['failed']} |"
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
    if rejected:
        lines += ["", "## Rejected result files", ""]
        lines += [f"- `{name}`: {why}" for name, why in rejected]
    if suite.absent_tracks:
        lines += ["", f"Tracks not in this version of invgym: {', '.join(suite.absent_tracks)}."]
    return "\n".join(lines) + "\n"


# === SVG charts ===

def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
            f'<title>{html.escape(title)}</title><rect width="100%" height="100%" fill="white"/>'
            + "".join(body) + "</svg>\n")


def _legend(names: list[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{y + 16 * i}" width="10" height="10" fill="{color}"/>'
                   f'<text x="{x + 14}" y="{y + 16 * i + 9}">{html.escape(name)}</text>')
    return out


def _nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` intervals over ``span``."""
    raw = max(span, 1e-12) / ticks
    exp = 10 ** math.floor(math.log10(raw))
    return next(step * exp for step in (1, 2, 2.5, 5, 10) if step * exp >= raw)


# Gaps beyond this are drawn to the edge and labelled: one poor baseline must not squash every other bar.
GAP_AXIS_CAP = 25.0


def gap_chart(suite: Suite, entries: list[dict[str, Any]]) -> str:
    """Grouped bars: mean gap (%) to the reference per track (groups) and entry (bars), values labelled."""
    tracks = [t.id for t in suite.tracks if any(t.id in e["tracks"] for e in entries)]
    names = [e["name"] for e in entries]
    # Each track's group holds only the entries evaluated on it, so groups differ in height.
    members = {t: [i for i, e in enumerate(entries) if t in e["tracks"]] for t in tracks}
    offsets, y = {}, 30
    for t in tracks:
        offsets[t] = y
        y += 14 * len(members[t]) + 16
    left, top, plot_w = 110, 30, 480
    height = max(y, top + 16 * len(names)) + 40
    width = left + plot_w + 260
    gaps = [e["tracks"][t]["mean_gap_pct"] for e in entries for t in tracks
            if t in e["tracks"] and e["tracks"][t]["mean_gap_pct"] is not None]
    high = min(max(gaps + [1.0]), GAP_AXIS_CAP)
    low = max(min(gaps + [0.0]), -GAP_AXIS_CAP)
    step = _nice_step(high - low)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    scale = plot_w / (high - low)
    x0 = left - low * scale
    body = [f'<text x="{left}" y="18" font-size="14" font-weight="bold">Mean gap to the reference per track (%)'
            "</text>"]
    for k in range(round((high - low) / step) + 1):  # grid and ticks
        v = low + k * step
        x = left + (v - low) * scale
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 35}" stroke="#ddd"/>'
                    f'<text x="{x:.1f}" y="{height - 20}" text-anchor="middle">{v:g}</text>')
    for track in tracks:
        y = offsets[track]
        middle = y + (14 * len(members[track]) + 10) / 2 + 4
        body.append(f'<text x="{left - 6}" y="{middle:.1f}" text-anchor="end">{html.escape(track)}</text>')
        for slot, i in enumerate(members[track]):
            e = entries[i]
            agg = e["tracks"][track]
            if agg["mean_gap_pct"] is None:
                continue
            gap = agg["mean_gap_pct"]
            shown = min(max(gap, low), high)
            x = min(x0, x0 + shown * scale)
            w = max(abs(shown) * scale, 1.0)
            label = f"{gap:.2f} %" + (" ▶" if gap > high else "")
            body.append(f'<rect x="{x:.1f}" y="{y + 5 + 14 * slot}" width="{w:.1f}" height="11" '
                        f'fill="{PALETTE[i % len(PALETTE)]}"><title>{html.escape(e["name"])} on '
                        f'{html.escape(track)}: {gap:.2f} %</title></rect>'
                        f'<text x="{max(x0, x + w) + 4:.1f}" y="{y + 14 + 14 * slot}" font-size="10">{label}</text>')
    body.append(f'<line x1="{x0:.1f}" y1="{top}" x2="{x0:.1f}" y2="{height - 35}" stroke="black"/>')
    body += _legend(names, left + plot_w + 70, top)
    return _svg(width, height, body, "Mean gap to the reference per track")


def cost_chart(suite: Suite, entries: list[dict[str, Any]]) -> str:
    """Scatter: each instance's average cost (y) against its reference cost (x), with the line y = x.

    Both axes are logarithmic when every cost is positive (costs span an order of magnitude across tracks).
    Instances whose reference cost is not positive (retail: a profit) are left out, so the others keep the log
    scales; the gap chart and the tables show them.
    """
    points = []
    for i, e in enumerate(entries):
        for row in e["rows"]:
            reference = suite.instance(row["instance"]).reference["cost"]
            if row["status"] == "ok" and reference > 0:
                points.append((reference, row["average_cost"], i, row["instance"]))
    size, left, top = 420, 60, 30
    width, height = left + size + 200, top + size + 50
    values = [v for p in points for v in p[:2]] or [1.0, 2.0]
    log = min(values) > 0
    f = math.log10 if log else (lambda v: v)
    lo, hi = f(min(values)), f(max(values))
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad

    def sx(v: float) -> float:
        return left + (f(v) - lo) / (hi - lo) * size

    def sy(v: float) -> float:
        return top + size - (f(v) - lo) / (hi - lo) * size

    inv = (lambda u: 10**u) if log else (lambda u: u)
    body = [f'<text x="{left}" y="18" font-size="14" font-weight="bold">Average cost vs reference cost'
            f'{" (log scales)" if log else ""}</text>',
            f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/>',
            f'<line x1="{sx(inv(lo)):.1f}" y1="{sy(inv(lo)):.1f}" x2="{sx(inv(hi)):.1f}" y2="{sy(inv(hi)):.1f}" '
            'stroke="#888" stroke-dasharray="4 3"/>']
    for k in range(6):
        v = inv(lo + (hi - lo) * k / 5)
        body.append(f'<text x="{sx(v):.1f}" y="{top + size + 16}" text-anchor="middle">{v:.3g}</text>'
                    f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    body.append(f'<text x="{left + size / 2}" y="{top + size + 36}" text-anchor="middle">reference cost</text>')
    for ref, cost, i, inst in points:
        body.append(f'<circle cx="{sx(ref):.1f}" cy="{sy(cost):.1f}" r="4" fill="{PALETTE[i % len(PALETTE)]}" '
                    f'fill-opacity="0.8"><title>{html.escape(entries[i]["name"])} on {html.escape(inst)}: '
                    f'{cost:.3f} vs {ref:.3f}</title></circle>')
    body += _legend([e["name"] for e in entries], left + size + 20, top)
    return _svg(width, height, body, "Average cost vs reference cost")


# === HTML ===

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right}th{background:#f3f3f3}.failed{color:#b00}img{max-width:100%;display:block;margin:1em 0}"""

_SCRIPT = """window.addEventListener('load',function(){var im=document.images,ok=0;
for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){ok++;}}
document.body.setAttribute('data-images-loaded',ok+'/'+im.length);});"""


def _html(suite: Suite, entries: list[dict[str, Any]], rejected: list[tuple[str, str]], charts: list[str]) -> str:
    e_ = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>invgym leaderboard</title>"
             f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
             "<h1>invgym leaderboard</h1>",
             f"<p>Suite <b>{e_(suite.name)} {e_(suite.version)}</b> (sha256 <code>{suite.sha256[:12]}</code>). "
             "Score: 0 = the family's naive policy, 100 = the reference (exact optimum, or best OR baseline). "
             "Gap = (cost − reference) / |reference|. Track tables show each entry's family metrics averaged over "
             "the track's instances; hover a cell for one instance's.</p>",
             "<h2>Overall</h2><table id='overall'><tr><th>rank</th><th>entry</th><th>kind</th><th>mean score</th>"
             "<th>mean gap</th><th>tracks</th><th>instances (failed)</th></tr>"]
    ranked = [(rank, e) for _, group in overall_groups(entries) for rank, e in enumerate(group, 1)]
    for rank, e in ranked:  # ranked among entries on the same tracks (scoring.overall_groups)
        o = e["overall"]
        parts.append(f"<tr class='entry' data-entry='{e_(e['name'])}'><td class='n'>{rank}</td>"
                     f"<td>{e_(e['name'])}</td><td>{e_(e['kind'])}</td><td class='n'>{_num(o['mean_score'], 1)}</td>"
                     f"<td class='n'>{_num(o['mean_gap_pct'], 2, ' %')}</td>"
                     f"<td>{e_(', '.join(sorted(e['tracks'])))}</td><td class='n'>{o['instances']} ({o['failed']})"
                     "</td></tr>")
    parts.append("</table><h2>Charts</h2>")
    parts += [f"<img src='{name}' alt='{e_(name)}'>" for name in charts]
    for track in suite.tracks:
        here = [e for e in entries if track.id in e["tracks"]]
        if not here:
            continue
        metrics = _metric_columns(here, track.id)
        parts.append(f"<h2>{e_(track.title)} (<code>{e_(track.id)}</code>)</h2><p>{e_(track.description)}</p>"
                     "<table class='track-metrics'><tr><th>entry</th><th>mean gap</th><th>IQM gap</th>"
                     "<th>mean score</th><th>ok / failed</th>"
                     + "".join(f"<th data-metric='{e_(m)}'>{e_(METRIC_NAMES.get(m, m))}</th>" for m in metrics)
                     + "</tr>")
        for e in here:
            t = e["tracks"][track.id]
            means = _metric_means(e, track.id)
            parts.append(f"<tr><td>{e_(e['name'])}</td><td class='n'>{_num(t['mean_gap_pct'], 2, ' %')}</td>"
                         f"<td class='n'>{_num(t['iqm_gap_pct'], 2, ' %')}</td>"
                         f"<td class='n'>{_num(t['mean_score'], 1)}</td><td class='n'>{t['ok']} / {t['failed']}"
                         "</td>" + "".join(f"<td class='n'>{_num(means.get(m), 3)}</td>" for m in metrics)
                         + "</tr>")
        parts.append("</table><table><tr><th>instance</th><th>reference</th>"
                     + "".join(f"<th>{e_(e['name'])}</th>" for e in here) + "</tr>")
        for inst in track.instances:
            cells = []
            for e in here:
                row = next((r for r in e["rows"] if r["instance"] == inst.id), None)
                if row is None:
                    cells.append("<td></td>")
                elif row["status"] != "ok":
                    cells.append(f"<td class='failed' title='{e_(row['reason'])}'>failed</td>")
                else:
                    tip = ", ".join(f"{k}={_num(v, 3)}" for k, v in row.get("metrics", {}).items())
                    half = (row["ci95"][1] - row["ci95"][0]) / 2
                    cells.append(f"<td class='n' title='{e_(tip)}'>{row['average_cost']:.3f} ± {half:.3f} "
                                 f"({row['gap_pct']:+.2f} %)</td>")
            parts.append(f"<tr><td><code>{e_(inst.id)}</code></td><td class='n' title='{e_(inst.reference['method'])}'>"
                         f"{inst.reference['cost']:.3f}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    if rejected:
        parts.append("<h2>Rejected result files</h2><ul>"
                     + "".join(f"<li><code>{e_(n)}</code>: {e_(w)}</li>" for n, w in rejected) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def render(*, root: str | Path | None = None, suite: str | Path | None = None) -> list[Path]:
    """Write ``LEADERBOARD.md`` and ``site/`` (index.html and its SVG charts) under ``root``; return the paths."""
    from invgym.leaderboard.submit import default_root

    root = Path(root) if root else default_root()
    loaded = load_suite(suite)
    entries, rejected = collect(root, loaded)
    site = root / "site"
    charts = {"gap_by_track.svg": gap_chart(loaded, entries), "cost_vs_reference.svg": cost_chart(loaded, entries)}
    written = [atomic_write_text(site / name, text) for name, text in charts.items()]
    written.append(atomic_write_text(site / "index.html", _html(loaded, entries, rejected, list(charts))))
    written.append(atomic_write_text(root / "LEADERBOARD.md", _markdown(loaded, entries, rejected)))
    return written
