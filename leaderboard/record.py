"""Result files: what they hold, their integrity hash and their JSON-schema validation.

A result file records who produced it (invgym version and git commit; Python, numpy, torch and gymnasium
versions), what was evaluated (the agent's kind and the sha256 of its artifact), on what (the suite's name,
version and sha256, the protocol), the per-instance rows, and a timestamp. ``integrity.sha256`` hashes the
canonical JSON of everything else, so an edit that does not recompute it is caught as a hash mismatch; an edit
that does is caught by ``verify``, which re-evaluates the claims on held-out seeds.
"""

from __future__ import annotations

import datetime
import math
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from invgym.leaderboard._io import canonical_json, read_json, sha256_bytes
from invgym.leaderboard.scoring import score_entry

__all__ = ["SCHEMA", "agents_fingerprint", "build_document", "check_document", "code_fingerprint", "content_hash",
           "environment_info", "validate_name"]

SCHEMA = Path(__file__).resolve().parent / "schema.json"
SCHEMA_VERSION = 2  # 2: ok rows carry env_costs (per-seed costs); aggregates lost the hand-made IQM gap
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


def validate_name(name: Any) -> str:
    """Return a valid entry name (it becomes a file name) or raise ValueError."""
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise ValueError("The 'name' parameter must be 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                         f"letter or digit. Got {name!r} instead.")
    return name


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# What a board run writes in a checkout: changes there are the run's own output, not a dirty source.
BOARD_OUTPUTS = ("leaderboard/results", "leaderboard/runs", "leaderboard/quick", "leaderboard/LEADERBOARD.md",
                 "leaderboard/site")


def git_commit(root: str | Path | None = None) -> str | None:
    """Return the git commit of the invgym checkout, with "-dirty" if its *source* has local changes, or None.

    The board's own outputs (:data:`BOARD_OUTPUTS`) are left out of the check, so the files a run writes do not
    mark the files written after them as dirty; anything else modified (tracked files) does. ``root`` is the
    checkout (invgym's own by default).
    """
    import invgym

    root = Path(root) if root else Path(invgym.__file__).resolve().parent.parent
    excluded = [f":(exclude){path}" for path in BOARD_OUTPUTS]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded],
                               cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "") if commit else None


def _blas() -> str | None:
    """The BLAS numpy was built against (its name and version), from numpy's build configuration."""
    try:
        import numpy as np

        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}".strip()
    except Exception:  # an older numpy or an unusual build: the version alone is still recorded
        return None


def environment_info() -> dict[str, Any]:
    """Versions of everything that can change a number (read from package metadata: torch is not imported).

    Besides the packages, the BLAS numpy uses, the workers' (pinned) thread settings and the machine are recorded:
    a BLAS reduction's summation order can depend on its thread count (see docs/leaderboard.md, Reproducibility).
    """
    import invgym
    from invgym.leaderboard.engine import WORKER_THREADS

    return {
        "invgym": invgym.__version__,
        "git_commit": git_commit(),
        "agents_code": agents_fingerprint(),  # invgym.agents' files: what a learned entry's policy runs
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "gymnasium": _version("gymnasium"),
        "torch": _version("torch"),
        "stable_baselines3": _version("stable-baselines3"),
        "scipy": _version("scipy"),
        "sb3_contrib": _version("sb3-contrib"),
        "ray": _version("ray"),
        "blas": _blas(),
        "threads": dict(WORKER_THREADS),  # what every worker runs with (engine pins it)
        "platform": platform.platform(),
    }


def _fingerprint(packages: tuple[str, ...]) -> str:
    """sha256 over the source and compiled files of the named packages (found, not imported)."""
    import hashlib
    import importlib.util

    digest = hashlib.sha256()
    for package in packages:
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec is not None else []:
            for path in sorted(Path(root).rglob("*")):
                if path.suffix in (".py", ".pyx", ".pxd", ".so") and "__pycache__" not in path.parts:
                    digest.update(f"{path.relative_to(root)}\0".encode())
                    digest.update(path.read_bytes())
    return digest.hexdigest()


def code_fingerprint() -> str:
    """sha256 over the source and compiled files of invgym and its baselines (what a baseline's result depends on).

    Partial results carry it, so a run resumed after the code changed evaluates again instead of mixing
    results from two versions of a kernel. It leaves ``invgym.agents`` out (see :func:`agents_fingerprint`), so a
    change to the learning agents does not re-run the baselines.
    """
    return _fingerprint(("invgym", "invgym.baselines", "invgym.leaderboard"))


def agents_fingerprint() -> str:
    """sha256 over the files of ``invgym.agents`` (``agents/``): the learned entries' code (their agent.py loads it).

    A submission's partial results carry it besides :func:`code_fingerprint` (a resumed run re-evaluates them
    after the agents' code changed), and every result file records it as ``environment.agents_code``.
    """
    return _fingerprint(("invgym.agents",))


def content_hash(document: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the document without its ``integrity`` field."""
    return sha256_bytes(canonical_json({k: v for k, v in document.items() if k != "integrity"}))


def build_document(name: str, kind: str, agent: dict[str, Any], suite: Any, quick: bool,
                   rows: list[dict[str, Any]], environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """Assemble a result file's content (scored against the suite, timestamped, hashed).

    ``environment`` is :func:`environment_info` taken at the start of the run (read now when None).
    """
    scored = score_entry(rows, suite)
    document = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "kind": kind,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment if environment is not None else environment_info(),
        "agent": agent,
        "suite": {"name": suite.name, "version": suite.version, "sha256": suite.sha256},
        "protocol": "quick" if quick else "default",
        "results": scored["rows"],
        "summary": {"tracks": scored["tracks"], "overall": scored["overall"]},
    }
    document["integrity"] = {"algorithm": "sha256", "sha256": content_hash(document)}
    return document


def check_document(document: Any) -> list[str]:
    """Return the problems of a result document: schema violations, then a hash mismatch (empty when sound)."""
    from invgym.leaderboard.suite import validate_document

    problems = [f"schema violation: {p}" for p in validate_document(document, SCHEMA)]
    if problems:
        return problems
    if content_hash(document) != document["integrity"]["sha256"]:
        problems.append("hash mismatch: the file was edited after it was written (its content no longer matches "
                        "integrity.sha256)")
    ids = [row["instance"] for row in document["results"]]
    if len(ids) != len(set(ids)):
        problems.append("an instance appears twice in results")
    problems += [p for row in document["results"] for p in _non_finite(row)]
    if problems:
        return problems
    problems += [p for row in document["results"] if row["status"] == "ok" for p in _env_cost_problems(row)]
    return problems


def _non_finite(row: dict[str, Any]) -> list[str]:
    """The numbers a row is scored and verified by must be finite (JSON can hold NaN and Infinity literals).

    A NaN compares as "not different" from anything: a NaN stderr passed the env-cost check and made verify's
    impossibility margin NaN, and a NaN cost or score breaks the board's sort.
    """
    problems = []
    for key in ("average_cost", "stderr", "ci95", "gap_pct", "score"):
        value = row.get(key)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            problems.append(f"{row.get('instance')}: its {key} {value!r} is not a finite number")
    return problems


def _env_cost_problems(row: dict[str, Any]) -> list[str]:
    """An ok row's per-env costs must give its average cost and standard error (they are what the CIs resample)."""
    costs = row["env_costs"]
    n = len(costs)
    mean = math.fsum(costs) / n
    stderr = math.sqrt(math.fsum((c - mean) ** 2 for c in costs) / (n - 1) / n) if n > 1 else math.nan
    tolerance = 1e-9 * max(1.0, abs(row["average_cost"]))
    if not all(math.isfinite(c) for c in costs) or abs(mean - row["average_cost"]) > tolerance:
        return [f"{row['instance']}: its env_costs average {mean!r}, not its average_cost {row['average_cost']!r}"]
    if n > 1 and abs(stderr - row["stderr"]) > 1e-6 * max(1e-9, row["stderr"]) + 1e-12:
        return [f"{row['instance']}: its env_costs give the standard error {stderr!r}, not its stderr "
                f"{row['stderr']!r}"]
    return []


def load_document(path: str | Path) -> tuple[dict[str, Any] | None, list[str]]:
    """Read a result file; return ``(document, problems)`` (document None when it is not JSON)."""
    try:
        document = read_json(path)
    except (OSError, ValueError) as exc:
        return None, [f"unreadable: {exc}"]
    return document, check_document(document)
