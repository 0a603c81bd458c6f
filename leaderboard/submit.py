"""``invgym leaderboard submit``: evaluate an agent on the suite's public seeds and write its result file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invgym.leaderboard._io import atomic_write_json
from invgym.leaderboard.agents import AgentSpec, parse_agent
from invgym.leaderboard.engine import DEFAULT_TIMEOUT, PartialStore, make_task, run_tasks
from invgym.leaderboard.record import build_document, check_document, code_fingerprint, validate_name
from invgym.leaderboard.suite import Instance, Suite, load_suite

__all__ = ["default_root", "evaluate_entries", "submit"]


def default_root() -> Path:
    """Where results, partial runs and the board go.

    ``leaderboard/`` of the checkout invgym runs from (an editable install, as in the README), else
    ``./leaderboard``: an installed package is never written into.
    """
    here = Path(__file__).resolve().parent
    if (here.parent / "pyproject.toml").is_file() and os.access(here, os.W_OK):
        return here
    return Path.cwd() / "leaderboard"


def evaluate_entries(entries: list[tuple[str, str, AgentSpec]], suite: Suite, *, tracks: Any = None,
                     quick: bool = False, jobs: int | None = None, ray: str | None = None,
                     timeout: float = DEFAULT_TIMEOUT, root: Path | None = None, progress: bool = True,
                     isolate: bool = True, include: Callable[[str, Instance], bool] | None = None) -> list[Path]:
    """Evaluate ``(name, kind, spec)`` entries in one pool; write ``root/results/<name>.json`` for each.

    Partial per-instance results go to ``root/runs/<name>/`` and are reused when the same agent bytes, instance
    and protocol come again (an interrupted run resumes). ``include(name, instance)`` limits an entry to some
    instances (a lost-sales heuristic is not run on dual sourcing).
    """
    instances = suite.instances(tracks, quick)
    if not instances:
        raise ValueError("no instance to evaluate: the chosen tracks are empty in this suite.")
    tasks: list[dict[str, Any]] = []
    owners: list[int] = []
    code = code_fingerprint()
    for k, (name, _, spec) in enumerate(entries):
        agent = {**spec.as_dict(), "path": spec.path}
        for inst in instances:
            if include is not None and not include(name, inst):
                continue
            tasks.append(make_task(agent, inst, suite.protocol(inst, quick), quick, entry=name, code=code))
            owners.append(k)
    root = Path(root) if root else default_root()
    store = _EntryStores(root / "runs")
    rows = run_tasks(tasks, jobs=jobs, ray=ray, timeout=timeout, store=store,
                     max_tasks_per_worker=1 if isolate else None, progress=progress)
    paths = []
    for k, (name, kind, spec) in enumerate(entries):
        mine = [row for row, owner in zip(rows, owners, strict=True) if owner == k]
        if not mine:
            continue
        document = build_document(name, kind, spec.as_dict(), suite, quick, mine)
        problems = check_document(document)
        if problems:  # a bug of ours, never the agent's: refuse to write a file verify would reject
            raise RuntimeError(f"the result document of {name} does not validate: {problems}")
        paths.append(atomic_write_json(root / "results" / f"{name}.json", document))
    return paths


class _EntryStores(PartialStore):
    """Partial results in one sub-directory per entry."""

    def _path(self, task: dict[str, Any]) -> Path:
        original = self.directory
        try:
            self.directory = original / task["entry"]
            return super()._path(task)
        finally:
            self.directory = original


def submit(agent: str, name: str, *, tracks: list[str] | None = None, algo: str | None = None,
           quick: bool = False, jobs: int | None = None, ray: str | None = None,
           timeout: float = DEFAULT_TIMEOUT, root: str | Path | None = None, suite: str | Path | None = None,
           progress: bool = True) -> Path:
    """Evaluate an agent on the suite's public seeds; return the path of ``results/<name>.json``.

    Args:
        agent: ``module:factory``, ``path/to/file.py:factory``, an SB3 ``.zip`` (with ``algo``) or a TorchScript
            file (see :mod:`invgym.leaderboard.agents`).
        name: the entry's name (the result file's stem).
        tracks: track ids to evaluate (all by default).
        algo: the Stable-Baselines3 algorithm of a ``.zip`` agent ("PPO", ...).
        quick: the small protocol and instance subset used in tests.
        jobs: local worker processes (default: all CPUs).
        ray: a Ray cluster address ("local" to start one) instead of local processes.
        timeout: seconds an instance may take before it is reported failed.
        root: the leaderboard directory (``results/``, ``runs/``); the package's by default.
        suite: a suite file (the packaged ``suite.json`` by default).
        progress: show a progress bar.
    """
    name = validate_name(name)
    spec = parse_agent(agent, algo)
    loaded = load_suite(suite)
    (path,) = evaluate_entries([(name, "submission", spec)], loaded, tracks=tracks, quick=quick, jobs=jobs,
                               ray=ray, timeout=timeout, root=Path(root) if root else default_root(),
                               progress=progress)
    return path
