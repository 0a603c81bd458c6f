"""``invgym leaderboard run``: evaluate every built-in OR baseline on the suite, write their results, render.

All (baseline, instance) pairs go to one pool of worker processes (all CPUs by default, or a Ray cluster), each
baseline fitted on the instance and evaluated like a submission; a baseline is run on the instances of its own
scenario family only (and where it applies: the myopic table only up to lead time 4). Interrupted runs resume
from ``runs/``; the default protocol finishes within 10 minutes on 2 cores, ``quick`` in well under a minute.
"""

from __future__ import annotations

from pathlib import Path

from invgym.baselines.common import family_of
from invgym.leaderboard.agents import baseline_spec
from invgym.leaderboard.baselines import available_baselines
from invgym.leaderboard.engine import DEFAULT_TIMEOUT
from invgym.leaderboard.render import render
from invgym.leaderboard.submit import evaluate_entries, output_root
from invgym.leaderboard.suite import Instance, load_suite

__all__ = ["run"]


def run(*, quick: bool = False, tracks: list[str] | None = None, jobs: int | None = None, ray: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, root: str | Path | None = None, suite: str | Path | None = None,
        progress: bool = True) -> dict[str, list[Path]]:
    """Evaluate the built-in baselines and render the board; return the written result and board files.

    Args:
        quick: the small protocol and instance subset (tests).
        tracks: track ids (all by default).
        jobs: local worker processes (default: all CPUs).
        ray: a Ray cluster address ("local" to start one) instead of local processes.
        timeout: seconds one (baseline, instance) pair may take.
        root: the leaderboard directory (``results/``, ``runs/``, ``LEADERBOARD.md``, ``site/``); by default
            ``./leaderboard`` of the current directory. A quick run writes under ``root/quick/`` instead.
        suite: the suite file (the packaged one by default).
        progress: show a progress bar.
    """
    root = output_root(root, quick)
    loaded = load_suite(suite)
    instances = loaded.instances(tracks, quick)
    configs = {inst.id: inst.config() for inst in instances}
    families = {inst.id: family_of(configs[inst.id]) for inst in instances}
    baselines = {b.name: b for b in available_baselines()}

    def include(name: str, instance: Instance) -> bool:
        baseline = baselines[name]
        return baseline.serves(families[instance.id]) and baseline.applies(configs[instance.id])

    entries = [(name, "baseline", baseline_spec(name)) for name in baselines
               if any(include(name, inst) for inst in instances)]
    results = evaluate_entries(entries, loaded, tracks=tracks, quick=quick, jobs=jobs, ray=ray, timeout=timeout,
                               root=root, progress=progress, isolate=False, include=include)
    board = render(root=root, suite=suite)
    return {"results": results, "board": board}
