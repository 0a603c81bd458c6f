"""The ``invgym leaderboard`` command line (typer): ``run``, ``submit``, ``verify``, ``check``, ``render``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from invgym.leaderboard.engine import DEFAULT_TIMEOUT

__all__ = ["app", "bare_ray", "main"]

app = typer.Typer(name="invgym leaderboard", add_completion=False, no_args_is_help=True,
                  help="The invgym leaderboard: evaluate baselines and agents on the suite, verify, render.")

_TRACK = "Track id (repeat for several); all by default."
_JOBS = "Local worker processes (default: all CPUs)."
_RAY = "Run on a Ray cluster at ADDRESS ('--ray' alone: start a local one)."
_ROOT = "Leaderboard directory (results/, runs/, LEADERBOARD.md, site/); the package's by default."
_AGENT = "module:factory, path/to/file.py:factory, an SB3 .zip (with --algo) or a TorchScript file."

# Optional[...] rather than "X | None": typer reads these annotations at runtime, also on Python 3.10.
Tracks = Annotated[Optional[list[str]], typer.Option("--track", "-t", help=_TRACK)]  # noqa: UP045
Quick = Annotated[bool, typer.Option("--quick", help="Small protocol and instance subset (tests, smoke runs).")]
Jobs = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help=_JOBS)]  # noqa: UP045
Ray = Annotated[Optional[str], typer.Option("--ray", help=_RAY, metavar="[ADDRESS]")]  # noqa: UP045
Timeout = Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds one instance may take.")]
Root = Annotated[Optional[Path], typer.Option("--root", help=_ROOT)]  # noqa: UP045
SuiteFile = Annotated[Optional[Path], typer.Option("--suite", help="Suite file (default: the packaged one).")]  # noqa: UP045
Progress = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]
Algo = Annotated[Optional[str], typer.Option("--algo", help="SB3 algorithm of a .zip agent (PPO, SAC, ...).")]  # noqa: UP045
Memory = Annotated[Optional[int], typer.Option("--memory-mb", min=64, help="Address-space limit of the agent's sandbox process (MiB; default 4096).")]  # noqa: UP045, E501
AgentHere = Annotated[Optional[str], typer.Option("--agent", help="Where the agent is here, if not where the file says.")]  # noqa: UP045, E501


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"invgym leaderboard: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def run(quick: Quick = False, track: Tracks = None, jobs: Jobs = None, ray: Ray = None,
        timeout: Timeout = DEFAULT_TIMEOUT, root: Root = None, suite: SuiteFile = None,
        progress: Progress = True) -> None:
    """Evaluate every built-in OR baseline on the suite, write their results and render the board."""
    from invgym.leaderboard.run import run as run_board

    try:
        written = run_board(quick=quick, tracks=track, jobs=jobs, ray=ray, timeout=timeout, root=root, suite=suite,
                            progress=progress)
    except ValueError as exc:
        _fail(str(exc))
    for path in written["results"] + written["board"]:
        typer.echo(f"wrote {path}")


@app.command()
def submit(agent: Annotated[str, typer.Option("--agent", help=_AGENT)],
           name: Annotated[str, typer.Option("--name", help="Entry name: results/NAME.json.")],
           track: Tracks = None, algo: Algo = None,
           quick: Quick = False, jobs: Jobs = None, ray: Ray = None, timeout: Timeout = DEFAULT_TIMEOUT,
           root: Root = None, suite: SuiteFile = None, progress: Progress = True, memory_mb: Memory = None) -> None:
    """Evaluate an agent on the public seeds, write results/NAME.json and re-render the board there."""
    from invgym.leaderboard.record import load_document
    from invgym.leaderboard.submit import submit as submit_agent

    try:
        path = submit_agent(agent, name, tracks=track, algo=algo, quick=quick, jobs=jobs, ray=ray, timeout=timeout,
                            root=root, suite=suite, progress=progress, memory_mb=memory_mb)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    document, _ = load_document(path)
    overall = document["summary"]["overall"]
    for row in document["results"]:
        if row["status"] == "ok":
            typer.echo(f"{row['instance']}: {row['average_cost']:.4f} +- {row['stderr']:.4f} "
                       f"(gap {row['gap_pct']:+.2f} %, score {row['score']:.1f})")
        else:
            typer.echo(f"{row['instance']}: FAILED: {row['reason']}")
    score = overall["mean_score"]
    typer.echo(f"wrote {path} (mean score {score:.1f}; {overall['failed']} failed)" if score is not None
               else f"wrote {path} ({overall['failed']} failed)")


@app.command()
def verify(file: Annotated[Path, typer.Argument(help="The result file to check.", exists=True, dir_okay=False)],
           agent: AgentHere = None, algo: Algo = None,
           jobs: Jobs = None, ray: Ray = None, timeout: Timeout = DEFAULT_TIMEOUT, suite: SuiteFile = None,
           progress: Progress = True, memory_mb: Memory = None) -> None:
    """Re-evaluate a result file on held-out seeds (needs INVGYM_LEADERBOARD_SECRET); exit 1 if rejected."""
    from invgym.leaderboard.verify import verify as verify_file

    try:
        report = verify_file(file, agent=agent, algo=algo, jobs=jobs, ray=ray, timeout=timeout, suite=suite,
                             progress=progress, memory_mb=memory_mb)
    except RuntimeError as exc:
        _fail(str(exc))
    typer.echo(report.summary())
    raise typer.Exit(0 if report.accepted else 1)


@app.command()
def check(entry: Annotated[Optional[list[str]], typer.Option("--entry", "-e", help="Entry name (repeat); all by default.")] = None,  # noqa: UP045, E501
          track: Tracks = None,
          instance: Annotated[Optional[list[str]], typer.Option("--instance", "-i", help="Instance id (repeat).")] = None,  # noqa: UP045, E501
          jobs: Jobs = None, timeout: Timeout = DEFAULT_TIMEOUT, root: Root = None, suite: SuiteFile = None,
          progress: Progress = True) -> None:
    """Re-run the committed results here (nothing written) and compare costs; exit 1 if any lies outside its CI."""
    from invgym.leaderboard.check import check as check_board

    report = check_board(root=root, entries=entry, tracks=track, instances=instance, jobs=jobs, timeout=timeout,
                         suite=suite, progress=progress)
    typer.echo(report.summary())
    raise typer.Exit(0 if report.reproduced else 1)


@app.command()
def render(root: Root = None, suite: SuiteFile = None) -> None:
    """Write LEADERBOARD.md and site/index.html (with its SVG charts) from results/."""
    from invgym.leaderboard.render import render as render_board

    for path in render_board(root=root, suite=suite):
        typer.echo(f"wrote {path}")


def bare_ray(argv: list[str]) -> list[str]:
    """Let ``--ray`` stand alone (start a local Ray): typer options always take a value."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--ray" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "local")
            break
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the app on ``argv`` (``sys.argv[1:]`` by default) and return its exit code."""
    argv = bare_ray(sys.argv[1:] if argv is None else argv)
    try:
        app(args=argv, prog_name="invgym leaderboard", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
