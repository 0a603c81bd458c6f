"""``invgym leaderboard submit``: evaluate an agent on the suite's public seeds and write its result file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from invgym.atomic import remove_orphans
from invgym.leaderboard._io import atomic_write_json, read_json
from invgym.leaderboard.agents import AgentSpec, parse_agent
from invgym.leaderboard.engine import DEFAULT_TIMEOUT, PartialStore, make_task, run_tasks
from invgym.leaderboard.record import (
    agents_fingerprint,
    build_document,
    check_document,
    code_fingerprint,
    environment_info,
    validate_name,
)
from invgym.leaderboard.suite import Instance, Suite, load_suite

__all__ = ["default_root", "entry_lock", "evaluate_entries", "output_root", "submit"]


def default_root() -> Path:
    """Where results, partial runs and the board go: ``./leaderboard`` of the directory the user is in.

    Never the installed package, nor the checkout an editable install points to: a run started from a scratch
    directory writes into that scratch directory (``invgym leaderboard run`` from the repository root writes the
    repository's board, as before).
    """
    return Path.cwd() / "leaderboard"


def output_root(root: str | os.PathLike | None, quick: bool) -> Path:
    """Return the directory a run writes to: ``root`` (default :func:`default_root`), or ``root/quick`` for a quick one.

    Quick runs have their own results, partial runs and board, so they never replace full-protocol files.
    """
    base = Path(root) if root else default_root()
    return base / "quick" if quick else base


@contextlib.contextmanager
def entry_lock(root: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock on entry ``name`` under ``root`` (``runs/NAME.lock``) for the block.

    Two submissions under the same name then run one after the other (the second resumes from, or replaces, the
    first's partial results) instead of interleaving their writes; different names never wait for each other.
    Where ``fcntl`` is missing (Windows) nothing is locked: every write is still atomic.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock = root / "runs" / f"{name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def evaluate_entries(entries: list[tuple[str, str, AgentSpec]], suite: Suite, *, tracks: Any = None,
                     quick: bool = False, jobs: int | None = None, ray: str | None = None,
                     timeout: float = DEFAULT_TIMEOUT, root: Path | None = None, progress: bool = True,
                     isolate: bool = True, include: Callable[[str, Instance], bool] | None = None,
                     memory_mb: int | None = None) -> list[Path]:
    """Evaluate ``(name, kind, spec)`` entries in one pool; write ``root/results/<name>.json`` for each.

    ``root`` is used as given (callers pass :func:`output_root`, which sends quick runs to their own place).
    Partial per-instance results go to ``root/runs/<name>/`` and are reused when the same agent bytes, instance
    and protocol come again (an interrupted run resumes). ``include(name, instance)`` limits an entry to some
    instances (a lost-sales heuristic is not run on dual sourcing).
    """
    from invgym.leaderboard.scoring import require_rliable

    require_rliable()  # the board rendered after the run needs it: fail now, not after the evaluation
    instances = suite.instances(tracks, quick)
    if not instances:
        raise ValueError("no instance to evaluate: the chosen tracks are empty in this suite.")
    tasks: list[dict[str, Any]] = []
    owners: list[int] = []
    code = code_fingerprint()
    agents_code = None
    for k, (name, _, spec) in enumerate(entries):
        agent = {**spec.as_dict(), "path": spec.path}
        if agent["kind"] != "baseline" and agents_code is None:
            agents_code = agents_fingerprint()
        # A submission may run invgym.agents (every learned entry does): its partial results depend on it too.
        task_code = code if agent["kind"] == "baseline" else f"{code}+agents:{agents_code}"
        for inst in instances:
            if include is not None and not include(name, inst):
                continue
            tasks.append(make_task(agent, inst, suite.protocol(inst, quick), quick, entry=name, code=task_code))
            owners.append(k)
    root = Path(root) if root else output_root(None, quick)
    store = _EntryStores(root / "runs")
    environment = environment_info()  # read once, before this run writes anything (see record.git_commit)
    with contextlib.ExitStack() as locks:
        for name, _, _ in entries:
            locks.enter_context(entry_lock(root, name))
            # Under the lock no other writer of this entry lives: what a killed run left half-written goes.
            remove_orphans(root / "runs" / name)
            remove_orphans(root / "results", f"{name}.json")
        rows = run_tasks(tasks, jobs=jobs, ray=ray, timeout=timeout, store=store,
                         max_tasks_per_worker=1 if isolate else None, progress=progress,
                         memory_mb=memory_mb)
        paths = []
        for k, (name, kind, spec) in enumerate(entries):
            mine = [row for row, owner in zip(rows, owners, strict=True) if owner == k]
            if not mine:
                continue
            document = build_document(name, kind, spec.as_dict(), suite, quick, mine, environment=environment)
            problems = check_document(document)
            if problems:  # a bug of ours, never the agent's: refuse to write a file verify would reject
                raise RuntimeError(f"the result document of {name} does not validate: {problems}")
            paths.append(atomic_write_json(root / "results" / f"{name}.json", document))
    return paths


def _check_name_free(name: str, where: Path) -> None:
    """A submission never replaces a built-in baseline's or a learned board entry's results, in any letter case.

    Submitting again under one's own name replaces one's own file (that is how an entry is updated).
    """
    from invgym.leaderboard.baselines import available_baselines

    baselines = sorted(b.name for b in available_baselines())
    if name.lower() in {b.lower() for b in baselines}:
        raise ValueError(f"The 'name' parameter must not be the name of a built-in baseline ({', '.join(baselines)}"
                         f"): a submission under it would replace the baseline's results. Got {name!r} instead.")
    results = where / "results"
    for path in sorted(results.glob("*.json")) if results.is_dir() else []:
        if path.stem.lower() != name.lower():
            continue
        if path.stem != name:
            raise ValueError(f"The 'name' parameter {name!r} differs only in case from the entry {path.stem!r} of "
                             f"{results}: on a case-insensitive file system it would replace that file.")
        try:
            document = read_json(path)
        except (OSError, ValueError):
            continue  # unreadable: the next write replaces it, as before
        if document.get("kind") == "baseline" or "training" in document:
            what = "built-in baseline" if document.get("kind") == "baseline" else "learned board entry"
            raise ValueError(f"The 'name' parameter must not be the name of a {what} ({path}): a submission "
                             f"under it would replace its results. Got {name!r} instead.")


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
           progress: bool = True, board: bool = True, memory_mb: int | None = None) -> Path:
    """Evaluate an agent on the suite's public seeds; return the path of ``results/<name>.json``.

    The file goes to ``root/results/`` (``root/quick/results/`` for a quick run), and the board there is
    re-rendered unless ``board`` is False.

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
        root: the leaderboard directory (``results/``, ``runs/``); ``./leaderboard`` by default.
        suite: a suite file (the packaged ``suite.json`` by default).
        progress: show a progress bar.
        board: re-render ``LEADERBOARD.md`` and ``site/`` next to the results afterwards.
        memory_mb: address-space limit of the agent's sandbox process (default 4096).
    """
    name = validate_name(name)
    spec = parse_agent(agent, algo)
    loaded = load_suite(suite)
    where = output_root(root, quick)
    _check_name_free(name, where)
    (path,) = evaluate_entries([(name, "submission", spec)], loaded, tracks=tracks, quick=quick, jobs=jobs,
                               ray=ray, timeout=timeout, root=where, progress=progress, memory_mb=memory_mb)
    if board:
        from invgym.leaderboard.render import render

        render(root=where, suite=suite)
    return path
