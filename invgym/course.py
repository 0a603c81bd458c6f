"""Course kit: three graded assignments, scored on hidden seeds against the OR benchmarks and the optimum.

``invgym grade ASSIGNMENT student.py`` loads the student's file, calls its ``make_policy(config)`` (the scenario
config of the graded instance; it returns ``policy(obs_batch) -> actions`` in the scenario's units, or an SB3
model), evaluates the policy with :func:`invgym.evaluate` and prints a report (``--json`` for an LMS). Starter
code and statements are in ``examples/course/``.

Seeds: with ``INVGYM_COURSE_SECRET`` set (the instructor's), every evaluation seed is derived from the secret
and the assignment, so students cannot tune on them; without it the public practice seeds are used and the
report says so (``"hidden_seeds": false``). The same secret and file always give the same grade.

Scores: 0 is the naive policy's cost (the leaderboard's score-0 policy), 100 the reference's (the exact optimum
where one exists, else the OR benchmark: Replenishment has no exact solver), clipped to [0, 100] (``raw_score``
is not clipped). ``passed`` compares the student's cost with the assignment's benchmark (``threshold``: at most
2 % above the best base-stock policy for newsvendor; for imitation at least 0.5 % below the OR teacher's cost at
no lower in-stock rate, so that neither the naive rule, a constant order, the teacher itself nor the starter's
plain clone passes). The student's code runs in this process: grade files you trust (run
``invgym grade`` inside a container for untrusted submissions).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ASSIGNMENTS", "SECRET_ENV", "Assignment", "format_report", "grade", "grade_folder", "load_student"]

SECRET_ENV = "INVGYM_COURSE_SECRET"
PRACTICE_SEED = 20_261_206


@dataclasses.dataclass(frozen=True)
class Assignment:
    """One graded task: the instance, the benchmark the student must approach and the pass threshold."""

    name: str
    title: str
    env_id: str
    env_kwargs: dict[str, Any]
    benchmark: str  # "base_stock" or "teacher": the OR policy the threshold is relative to
    threshold: float  # pass when cost <= (1 + threshold) * benchmark cost (negative: must beat the benchmark)
    has_optimum: bool
    num_envs: int = 64
    periods: int = 2_000
    warmup: int = 200
    quick: dict[str, int] = dataclasses.field(default_factory=lambda: {"num_envs": 8, "periods": 300, "warmup": 50})
    extra: str = ""  # the pip extra the assignment needs beyond the base install
    in_stock_slack: float | None = None  # also require in-stock rate >= the benchmark's minus this

    def rubric(self) -> str:
        """One line: what passes."""
        what = {"base_stock": "the best base-stock policy", "teacher": "the OR teacher (days of cover)"}[
            self.benchmark]
        ref = "the exact optimum" if self.has_optimum else "the OR benchmark"
        cost = (f"average cost at most {100 * self.threshold:g} % above {what}" if self.threshold >= 0 else
                f"average cost at least {-100 * self.threshold:g} % below {what}")
        stock = ("" if self.in_stock_slack is None else " and an in-stock rate at least its" if
                 self.in_stock_slack == 0 else f" and an in-stock rate at most {self.in_stock_slack:g} below its")
        return (f"pass: {cost}{stock}; score 0 = the naive policy, 100 = {ref}"
                + (f"; needs the '{self.extra}' extra" if self.extra else ""))

    def describe(self) -> dict[str, Any]:
        """The assignment as JSON-able data (``invgym grade --list --json``)."""
        return {"title": self.title, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
                "benchmark": self.benchmark, "threshold": self.threshold, "rubric": self.rubric()}

    def config(self) -> Any:
        """The graded instance's scenario config."""
        from invgym.envs.common import config_for

        return config_for(self.env_id, **self.env_kwargs)


ASSIGNMENTS: dict[str, Assignment] = {
    "newsvendor": Assignment(
        "newsvendor", "Newsvendor and base-stock on lost sales (Zipkin's L = 2, p = 9)",
        "invgym/LostSales-v0", {"lead_time": 2, "lost_sales_cost": 9.0}, "base_stock", 0.02, True),
    "ppo": Assignment(
        "ppo", "PPO against base-stock at lead time 4 (Stable-Baselines3)",
        "invgym/LostSales-v0", {"lead_time": 4, "lost_sales_cost": 9.0}, "base_stock", 0.05, True, extra="rl"),
    "imitation": Assignment(
        "imitation", "ORPR-style imitation of an OR teacher on JD-style replenishment",
        "invgym/Replenishment-v0", {"split": "test", "product": "all"}, "teacher", -0.005, False,
        # Evaluating 200 SKUs for 300 days takes well under a CPU second, and a smaller sample flips the in-stock
        # comparison with the teacher (20 SKUs x 100 days put the starter's plain clone above it), so --quick
        # grades on the full sample too.
        num_envs=200, periods=300, warmup=30, quick={"num_envs": 200, "periods": 300, "warmup": 30},
        in_stock_slack=0.0),
}


# === Seeds and benchmarks ===


def _seed(assignment: Assignment) -> tuple[int, bool]:
    """The evaluation seed: derived from the instructor's secret when set, else the public practice seed."""
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        return PRACTICE_SEED, False
    digest = hashlib.sha256(f"{secret}:{assignment.name}".encode()).digest()
    return int.from_bytes(digest[:6], "big"), True


_BENCHMARKS: dict[tuple, dict[str, Any]] = {}


def _teacher(config: Any) -> Any:
    from invgym.baselines import DaysOfCover

    return DaysOfCover.fit(config.replace(split="train"))


def _benchmarks(assignment: Assignment, run: dict[str, int]) -> dict[str, Any]:
    """Naive, benchmark and (where known) optimal costs on the graded seeds; cached per process."""
    key = (assignment.name, tuple(sorted(run.items())))
    if key in _BENCHMARKS:
        return _BENCHMARKS[key]
    import invgym
    from invgym.baselines import BaseStock, solve_exact
    from invgym.leaderboard.baselines import naive_policy

    config = assignment.config()
    naive = invgym.evaluate(naive_policy(config)[0], config, **run)
    bench_policy = BaseStock.fit(config) if assignment.benchmark == "base_stock" else _teacher(config)
    bench = invgym.evaluate(bench_policy, config, **run)
    out = {"naive": naive.average_cost, "benchmark": bench.average_cost, "benchmark_policy": repr(bench_policy),
           "benchmark_metrics": bench.metrics, "optimum": None}
    if assignment.has_optimum:
        out["optimum"] = solve_exact(config).average_cost
    _BENCHMARKS[key] = out
    return out


# === Students ===


def load_student(path: str | os.PathLike) -> Callable[[Any], Any]:
    """Import a student's file and return its ``make_policy``; ValueError saying what is missing."""
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise ValueError(f"The 'student' parameter of grade must be an existing .py file. Got {str(path)!r} instead.")
    name = f"invgym_student_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    make_policy = getattr(module, "make_policy", None)
    if not callable(make_policy):
        raise ValueError(f"{path} must define make_policy(config) returning policy(obs) -> actions.")
    return make_policy


def grade(assignment: str, student: str | os.PathLike, quick: bool = False) -> dict[str, Any]:
    """Grade one student's file; return the report (JSON-able).

    Args:
        assignment: a key of :data:`ASSIGNMENTS`.
        student: the student's ``.py`` file (defines ``make_policy(config)``).
        quick: a small evaluation (fewer envs and periods), for tests and a first try.

    Returns:
        ``assignment``, ``student``, ``passed``, ``score`` (0 naive .. 100 reference), ``cost``, ``stderr``,
        ``benchmarks`` (naive, benchmark, optimum), ``threshold_cost``, ``metrics``, ``seed_kind`` and
        ``hidden_seeds``; a file that fails to load or act gets ``passed: false`` with ``error``.
    """
    import invgym

    if assignment not in ASSIGNMENTS:
        raise ValueError(f"The 'assignment' parameter of grade must be one of {sorted(ASSIGNMENTS)}. "
                         f"Got {assignment!r} instead.")
    task = ASSIGNMENTS[assignment]
    seed, hidden = _seed(task)
    run = {**({"num_envs": task.num_envs, "periods": task.periods, "warmup": task.warmup} if not quick
              else task.quick), "seed": seed}
    bench = _benchmarks(task, run)
    threshold_cost = (1.0 + task.threshold) * bench["benchmark"]
    report: dict[str, Any] = {"assignment": assignment, "title": task.title, "student": Path(student).stem,
                              "hidden_seeds": hidden, "quick": quick, "benchmarks": bench,
                              "threshold_cost": threshold_cost, "rubric": task.rubric()}
    try:
        policy = load_student(student)(task.config())
        result = invgym.evaluate(policy, task.config(), **run)
    except Exception as exc:  # noqa: BLE001 - any failure of student code is a failed grade, with its reason
        return {**report, "passed": False, "score": 0.0, "raw_score": None, "cost": None, "stderr": None, "metrics": {},
                "error": f"{type(exc).__name__}: {exc}"}
    reference = bench["optimum"] if bench["optimum"] is not None else bench["benchmark"]
    span = bench["naive"] - reference
    raw = 100.0 * (bench["naive"] - result.average_cost) / span if span > 0 else 0.0
    passed = result.average_cost <= threshold_cost
    if task.in_stock_slack is not None:
        passed = passed and (result.metrics["in_stock_rate"]
                             >= bench["benchmark_metrics"]["in_stock_rate"] - task.in_stock_slack)
    return {**report, "passed": bool(passed), "score": round(min(max(raw, 0.0), 100.0), 2),
            "raw_score": round(raw, 2), "cost": result.average_cost, "stderr": result.stderr,
            "metrics": result.metrics, "error": None}


def format_report(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    bench = report["benchmarks"]
    lines = [f"{report['title']} — {report['student']}",
             f"  {'PASS' if report['passed'] else 'FAIL'}   score {report['score']:.1f} / 100   ({report['rubric']})"]
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    else:
        lines.append(f"  your cost      {report['cost']:9.4f} +- {report['stderr']:.4f}")
    if report["metrics"].get("in_stock_rate") is not None:
        lines.append(f"  in-stock rate  {report['metrics']['in_stock_rate']:9.4f}   (benchmark "
                     f"{bench['benchmark_metrics']['in_stock_rate']:.4f})")
    lines += [f"  pass if <=     {report['threshold_cost']:9.4f}",
              f"  benchmark      {bench['benchmark']:9.4f}   {bench['benchmark_policy']}",
              f"  score-0 policy {bench['naive']:9.4f}"]
    if bench["optimum"] is not None:
        lines.append(f"  optimum        {bench['optimum']:9.4f}")
    lines.append("  seeds: hidden (INVGYM_COURSE_SECRET)" if report["hidden_seeds"] else
                 f"  seeds: public practice seeds (set {SECRET_ENV} to grade on hidden ones)")
    return "\n".join(lines)


# === Class leaderboard ===

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}: class leaderboard</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 60rem; padding: 0 1rem; }
table { border-collapse: collapse; width: 100%; } th, td { padding: .3rem .6rem; border-bottom: 1px solid #ddd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .pass { color: #1a7f37; } .fail { color: #cf222e; }
.wrap { overflow-x: auto; }
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ rubric }}. {{ "Hidden seeds." if hidden else "Public practice seeds (no INVGYM_COURSE_SECRET)." }}
Benchmark {{ "%.4f"|format(bench.benchmark) }}, naive {{ "%.4f"|format(bench.naive) }}
{%- if bench.optimum is not none %}, optimum {{ "%.4f"|format(bench.optimum) }}{% endif %}.</p>
<div class="wrap"><table>
<thead><tr><th>#</th><th>student</th><th>result</th><th>score</th><th>cost</th><th>note</th></tr></thead>
<tbody>
{% for g in grades %}<tr><td class="num">{{ loop.index }}</td><td>{{ g.student }}</td>
<td class="{{ 'pass' if g.passed else 'fail' }}">{{ "pass" if g.passed else "fail" }}</td>
<td class="num">{{ "%.1f"|format(g.score) }}</td>
<td class="num">{{ "%.4f"|format(g.cost) if g.cost is not none else "–" }}</td><td>{{ g.error or "" }}</td></tr>
{% endfor %}</tbody></table></div>
</body></html>
"""


def grade_folder(assignment: str, folder: str | os.PathLike, out: str | os.PathLike, quick: bool = False,
                 on_graded: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Grade every ``*.py`` in ``folder``; write ``grades.json`` and a class leaderboard ``index.html`` to ``out``.

    Returns:
        ``{"grades": [...best first], "page": path, "json": path}``.
    """
    import jinja2

    from invgym.atomic import atomic_write_text

    files = sorted(Path(folder).glob("*.py"))
    if not files:
        raise ValueError(f"The 'folder' parameter of grade_folder must hold .py submissions. None in {folder}.")
    grades = []
    for path in files:
        grades.append(grade(assignment, path, quick=quick))
        if on_graded is not None:
            on_graded(grades[-1])
    grades.sort(key=lambda g: (not g["passed"], -g["score"], g["student"]))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = ASSIGNMENTS[assignment]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.from_string(_PAGE).render(title=task.title, rubric=task.rubric(), hidden=grades[0]["hidden_seeds"],
                                         bench=grades[0]["benchmarks"], grades=grades)
    json_path = atomic_write_text(out / "grades.json", json.dumps(grades, indent=2, default=float) + "\n")
    page_path = atomic_write_text(out / "index.html", page)
    return {"grades": grades, "page": str(page_path), "json": str(json_path)}
