"""``invgym leaderboard verify FILE``: believe or reject a result file from a stranger.

A file is **rejected** when it violates the schema, when its content no longer matches its integrity hash (it was
edited), when it was made on another suite, when the agent artifact found here is not the one it was made with
(sha256 mismatch), when its gaps or scores do not follow from its costs, or when a claimed cost does not hold:
the agent is re-evaluated on held-out seeds, derived per instance from a maintainer secret
(``INVGYM_LEADERBOARD_SECRET``, never stored in the repo), and the claimed average cost must lie within
``z * sqrt(2) * stderr`` of the re-evaluated one, where ``stderr`` is the re-evaluation's standard error (the
claimed one is not trusted: inflating it would widen the test) and ``z`` is the two-sided normal quantile at a
family-wise level of 1 % over all instances checked (Bonferroni).

Also rejected: a file that lacks an instance of a track it covers, a claimed failure that runs on the held-out
seeds (a failure must reproduce), and a cost significantly below an exact optimum (impossible).

The secret is read once and removed from this process's environment before any agent code is located, and this
process marks itself non-dumpable (same-user processes cannot read its ``/proc/<pid>/environ``). The worker
processes are spawned without it and receive only the derived seeds; the agent itself runs in its jail
(:mod:`invgym.leaderboard.sandbox`) and receives neither. See docs/leaderboard.md, Threat model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import os
from pathlib import Path
from statistics import NormalDist
from typing import Any

from invgym.leaderboard.agents import AgentSpec, parse_agent, recorded_agent
from invgym.leaderboard.engine import DEFAULT_TIMEOUT, SECRET_ENV, make_task, run_tasks
from invgym.leaderboard.record import load_document
from invgym.leaderboard.sandbox import make_non_dumpable
from invgym.leaderboard.scoring import score_instance
from invgym.leaderboard.suite import load_suite

__all__ = ["FAMILYWISE_LEVEL", "PLAUSIBLE_STDERR_FACTOR", "VerifyReport", "copied_from", "expected_stderr",
           "heldout_seed", "static_problems", "verify"]

FAMILYWISE_LEVEL = 0.01


def heldout_seed(secret: str, suite_version: str, instance_id: str) -> int:
    """Seed of env 0 for an instance's held-out evaluation: HMAC-SHA256(secret, suite version / instance id).

    The seeds lie in ``[2^62, 2^62 + 2^61)``, far from the public seeds (0, 1, ...) and the fits' seeds (2^40 + i).
    """
    digest = hmac.new(secret.encode("utf-8"), f"{suite_version}/{instance_id}".encode(), hashlib.sha256).digest()
    return 2**62 + int.from_bytes(digest[:8], "big") % 2**61


@dataclasses.dataclass
class VerifyReport:
    """The verdict on one result file."""

    path: str
    accepted: bool
    problems: list[str]
    checks: list[dict[str, Any]]

    def summary(self) -> str:
        """Human-readable verdict, one line per problem and per instance checked."""
        lines = [f"{self.path}: {'ACCEPTED' if self.accepted else 'REJECTED'}"]
        lines += [f"  problem: {p}" for p in self.problems]
        for c in self.checks:
            if c["status"] == "claimed failed":
                verdict = "fails again" if c["holds"] else "RUNS: the failure does not reproduce"
                lines.append(f"  {c['instance']}: claimed failed -> {verdict}")
            elif c["status"] == "ok":
                verdict = "holds" if c["holds"] else "DOES NOT HOLD"
                lines.append(f"  {c['instance']}: claimed {c['claimed']:.4f}, held-out {c['heldout']:.4f} "
                             f"+- {c['tolerance']:.4f} -> {verdict}")
            else:
                lines.append(f"  {c['instance']}: re-evaluation failed: {c['reason']}")
        return "\n".join(lines)


def _missing_instances(document: dict[str, Any], suite: Any, quick: bool) -> list[str]:
    """Every instance of every track the file covers must be in it (a dropped bad instance is a rejection)."""
    tracks = sorted({row["track"] for row in document["results"]})
    present = {row["instance"] for row in document["results"]}
    problems = []
    for track in tracks:
        try:
            wanted = [inst.id for inst in suite.instances([track], quick)]
        except (KeyError, ValueError):
            continue  # an unknown track: its rows are reported as unknown instances
        missing = [i for i in wanted if i not in present]
        if missing:
            problems.append(f"incomplete: track {track} has {len(wanted)} instances in this suite's "
                            f"{'quick' if quick else 'default'} protocol, the file lacks {', '.join(missing)}")
    return problems


def _rescoring_problems(row: dict[str, Any], instance: Any) -> list[str]:
    rescored = score_instance({k: row[k] for k in ("instance", "status", "average_cost")}, instance)
    problems = []
    for key in ("gap_pct", "score"):
        claimed, expected = row[key], rescored[key]
        same = (claimed is None and (expected is None or not math.isfinite(expected))) or (
            claimed is not None and expected is not None and math.isclose(expected, claimed, rel_tol=1e-9,
                                                                          abs_tol=1e-9))
        if not same:
            problems.append(f"{row['instance']}: the claimed {key} {claimed!r} does not follow from its cost "
                            f"(expected {expected!r})")
    return problems


def _impossible(claim: dict[str, Any], new: dict[str, Any], instance: Any, z: float,
                costs: tuple[str, ...] = ("claimed", "re-evaluated")) -> list[str]:
    """A cost significantly below an exact optimum cannot be: reject it, whatever the re-evaluation says.

    "Significantly" is ``z`` standard errors, the larger of the claimed and the re-evaluated one (a forger
    cannot shrink the test by claiming a tiny standard error). ``costs`` says which of the two costs to test.
    """
    if instance.reference.get("method") != "solve_exact":
        return []
    optimum = float(instance.reference["cost"])
    # Only finite standard errors count (check_document already refuses a non-finite one in a file).
    stderr = max([0.0] + [float(e) for e in (claim.get("stderr"), new.get("stderr"))
                          if e is not None and math.isfinite(float(e))])
    margin = z * stderr + 1e-9 * abs(optimum)
    for label, cost in (("claimed", claim["average_cost"]), ("re-evaluated", new["average_cost"])):
        if label in costs and cost < optimum - margin:
            return [f"{claim['instance']}: impossible: the {label} cost {cost:.4f} is below the exact optimum "
                    f"{optimum:.4f} by more than {z:.2f} standard errors ({margin:.4f})"]
    return []


# The static check trusts a claimed standard error up to this many times the one expected on the instance (its naive
# policy's, scaled to the protocol's envs and periods). A forger could otherwise spread the per-seed costs (they
# must give the claimed stderr, see record.check_document) to widen the below-the-optimum margin. On the committed
# board every row within 10 standard errors of an exact optimum has 0.30 to 1.25 times the expected stderr.
PLAUSIBLE_STDERR_FACTOR = 3.0


def expected_stderr(instance: Any, protocol: Any) -> float | None:
    """The standard error a policy near the reference should show on ``protocol``: the naive policy's, scaled.

    The suite records the naive policy's stderr over its own protocol (``naive.details.protocol``); a mean over
    ``n`` envs of ``t`` measured periods each has a standard error of about ``1 / sqrt(n t)``. None where the suite
    does not record what this needs (the check then trusts the claimed stderr).
    """
    naive = instance.naive
    own = (naive.get("details") or {}).get("protocol")
    stderr = naive.get("stderr")
    if not own or not stderr or not all(k in own for k in ("num_envs", "periods", "warmup")):
        return None
    measured = protocol.num_envs * (protocol.periods - protocol.warmup)
    if measured <= 0:
        return None
    return float(stderr) * math.sqrt(own["num_envs"] * (own["periods"] - own["warmup"]) / measured)


def _claimed_impossible(row: dict[str, Any], instance: Any, protocol: Any, z: float) -> list[str]:
    """Without running anything: a claimed cost significantly below an exact optimum is impossible.

    "Significantly" is ``z`` claimed standard errors, the claimed one capped at :data:`PLAUSIBLE_STDERR_FACTOR`
    times :func:`expected_stderr` (so a widened spread of per-seed costs cannot hide it).
    """
    if instance.reference.get("method") != "solve_exact":
        return []
    stderr = float(row["stderr"])
    expected = expected_stderr(instance, protocol)
    if expected is not None:
        stderr = min(stderr, PLAUSIBLE_STDERR_FACTOR * expected)
    return _impossible({**row, "stderr": stderr}, {"average_cost": None, "stderr": None}, instance, z, ("claimed",))


def static_problems(document: dict[str, Any], suite: Any) -> list[str]:
    """The problems of a sound (schema-valid, hash-checked) result file that need no agent run.

    Checked: the suite it was made on, every instance of each track it covers present (in its recorded
    protocol), each row's instance, track and env known to the suite, its gap and score following from its cost,
    its number of per-seed costs the protocol's ``num_envs``, and no claimed cost significantly below an exact
    optimum (:func:`_claimed_impossible`, at the family-wise level of :data:`FAMILYWISE_LEVEL` over the file's ok
    rows). ``render`` ranks only files without any, and ``verify`` starts from them. Empty when sound.
    """
    recorded = document["suite"]
    if recorded["sha256"] != suite.sha256:
        return [f"suite mismatch: the file was made on suite {recorded['name']} {recorded['version']} "
                f"({recorded['sha256'][:12]}), this is {suite.name} {suite.version} ({suite.sha256[:12]})"]
    quick = document["protocol"] == "quick"
    problems = _missing_instances(document, suite, quick)
    ok = sum(row["status"] == "ok" for row in document["results"])
    z = NormalDist().inv_cdf(1.0 - FAMILYWISE_LEVEL / (2 * max(ok, 1)))
    for row in document["results"]:
        try:
            instance = suite.instance(row["instance"])
        except KeyError:
            problems.append(f"unknown instance {row['instance']!r} (not in this suite)")
            continue
        if instance.track != row["track"] or instance.env != row["env"]:
            problems.append(f"{row['instance']}: track or env differs from the suite's")
            continue
        if row["status"] != "ok":
            continue
        problems += _rescoring_problems(row, instance)
        protocol = suite.protocol(instance, quick)
        if len(row["env_costs"]) != protocol.num_envs:
            problems.append(f"{row['instance']}: {len(row['env_costs'])} env_costs, but the protocol runs "
                            f"{protocol.num_envs} envs")
        problems += _claimed_impossible(row, instance, protocol, z)
    return problems


def copied_from(rows: list[dict[str, Any]],
                baselines: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, int]]:
    """The (baseline, track) pairs where a submission's rows repeat the baseline's per-seed costs bit for bit.

    A pair is reported when the rows are identical on *every* instance of the track the two share, at least two
    of them. The same deterministic policy on the same public seeds gives the same costs, so a single identical
    instance is no evidence; a whole track (or file) identical to a baseline is what a plagiarised file looks
    like, whatever its ``agent`` block names, and also what an agent that learned exactly the baseline's policy
    gives. ``render`` cannot tell the two apart, so it lists such entries rather than refusing them.

    Args:
        rows: the submission's result rows.
        baselines: baseline name -> its result rows.

    Returns:
        ``[(baseline, track, number of identical instances)]``, sorted by track, then baseline.
    """
    mine = {r["instance"]: r for r in rows if r["status"] == "ok"}
    found = []
    for name, theirs in baselines.items():
        by_track: dict[str, list[bool]] = {}
        for r in theirs:
            if r["status"] == "ok" and r["instance"] in mine:
                by_track.setdefault(r["track"], []).append(mine[r["instance"]]["env_costs"] == r["env_costs"])
        found += [(name, track, len(same)) for track, same in by_track.items() if len(same) >= 2 and all(same)]
    return sorted(found, key=lambda f: (f[1], f[0]))


def _agent_here(document: dict[str, Any], agent: str | None, algo: str | None, board: Path) -> AgentSpec:
    recorded = document["agent"]
    if recorded["kind"] == "baseline" or agent is None:
        return recorded_agent({**recorded, "algo": algo or recorded["algo"]}, board)
    return parse_agent(agent, algo or recorded["algo"])


def _compare(claims: list[dict[str, Any]], rows: list[dict[str, Any]], loaded: Any, z: float,
             problems: list[str]) -> list[dict[str, Any]]:
    """Hold each claim against its held-out re-evaluation; append the problems, return the per-instance checks."""
    checks = []
    for claim, new in zip(claims, rows, strict=True):
        instance = loaded.instance(claim["instance"])
        if claim["status"] != "ok":  # a claimed failure must fail again: no hiding a bad instance as "failed"
            failed_again = new["status"] != "ok"
            checks.append({"instance": claim["instance"], "status": "claimed failed", "reason": claim["reason"],
                           "holds": failed_again, "heldout": new.get("average_cost")})
            if not failed_again:
                problems.append(f"{claim['instance']}: the file claims the agent failed ({claim['reason'][:200]}), "
                                f"but it ran on the held-out seeds (cost {new['average_cost']:.4f}): a failure "
                                "must reproduce as a failure")
            continue
        if new["status"] != "ok":
            checks.append({"instance": claim["instance"], "status": "failed", "reason": new["reason"],
                           "holds": False})
            problems.append(f"{claim['instance']}: the claimed result could not be reproduced: {new['reason']}")
            continue
        tolerance = z * math.sqrt(2.0) * new["stderr"] + 1e-9 * abs(new["average_cost"])
        holds = abs(claim["average_cost"] - new["average_cost"]) <= tolerance
        checks.append({"instance": claim["instance"], "status": "ok", "claimed": claim["average_cost"],
                       "heldout": new["average_cost"], "stderr": new["stderr"], "tolerance": tolerance,
                       "holds": holds})
        if not holds:
            problems.append(f"{claim['instance']}: the claimed cost {claim['average_cost']:.4f} does not hold: "
                            f"re-evaluated {new['average_cost']:.4f} on held-out seeds (tolerance {tolerance:.4f})")
        # The claimed cost was tested by static_problems (with a margin no wider than this one's).
        problems += _impossible(claim, new, instance, z, ("re-evaluated",))
    return checks


def verify(path: str | Path, *, agent: str | None = None, algo: str | None = None, jobs: int | None = None,
           ray: str | None = None, timeout: float = DEFAULT_TIMEOUT, suite: str | Path | None = None,
           progress: bool = True, memory_mb: int | None = None) -> VerifyReport:
    """Check a result file and re-evaluate its claims on held-out seeds.

    Args:
        path: the result file.
        agent: where the agent artifact is here, if not where the file says (its sha256 must still match).
        algo: the SB3 algorithm, if the file does not say.
        jobs: local worker processes (default: all CPUs).
        ray: a Ray cluster address ("local" to start one) instead of local processes.
        timeout: seconds an instance may take.
        suite: the suite file (the packaged one by default).
        progress: show a progress bar.
        memory_mb: address-space limit of the agent's sandbox process (default 4096).

    Raises:
        RuntimeError: if ``INVGYM_LEADERBOARD_SECRET`` is not set.
    """
    make_non_dumpable()  # same-user processes cannot read this process's environ (which still holds the secret)
    secret = os.environ.pop(SECRET_ENV, None)  # consumed: no code run later in this process can read it
    if not secret:
        raise RuntimeError(f"verify needs the maintainer secret: set {SECRET_ENV} (it is never stored in the "
                           "repository).")
    path = Path(path)
    document, problems = load_document(path)
    if problems:
        return VerifyReport(str(path), False, problems, [])
    loaded = load_suite(suite)
    if document["suite"]["sha256"] != loaded.sha256:
        return VerifyReport(str(path), False, static_problems(document, loaded), [])
    try:
        spec = _agent_here(document, agent, algo, path.resolve().parent.parent)
    except (ValueError, TypeError) as exc:
        return VerifyReport(str(path), False, [f"agent not found: {exc}"], [])
    if spec.sha256 != document["agent"]["sha256"]:
        return VerifyReport(str(path), False, [
            f"hash mismatch: the agent artifact {spec.spec} here has sha256 {spec.sha256[:12]}..., the file "
            f"claims {document['agent']['sha256'][:12]}...: it is not the agent that produced these results"], [])

    quick = document["protocol"] == "quick"
    problems += static_problems(document, loaded)  # what render checks too; the held-out runs come on top
    tasks, claims = [], []
    for row in document["results"]:
        try:
            instance = loaded.instance(row["instance"])
        except KeyError:
            continue  # reported by static_problems
        if instance.track != row["track"] or instance.env != row["env"]:
            continue
        protocol = dataclasses.replace(loaded.protocol(instance, quick),
                                       seed=heldout_seed(secret, loaded.version, instance.id))
        tasks.append(make_task({**spec.as_dict(), "path": spec.path}, instance, protocol, quick, entry="verify"))
        claims.append(row)
    del secret
    rows = run_tasks(tasks, jobs=jobs, ray=ray, timeout=timeout, store=None, max_tasks_per_worker=1,
                     progress=progress, description="verifying", memory_mb=memory_mb) if tasks else []
    z = NormalDist().inv_cdf(1.0 - FAMILYWISE_LEVEL / (2 * max(len(tasks), 1)))
    checks = _compare(claims, rows, loaded, z, problems)
    return VerifyReport(str(path), not problems, problems, checks)
