"""Evaluation of (agent, instance) tasks in isolated worker processes, locally or on a Ray cluster.

Every task runs :func:`execute`: build the agent's policy for the instance and call :func:`invgym.evaluate` under
the instance's protocol. Whatever the agent does — raise, return invalid actions, hang, crash its process — ends
as a ``{"status": "failed", "reason": ...}`` row for that task only. The parent process is the only writer: each
finished row is stored at once, atomically, as a partial result, so an interrupted run resumes where it stopped.

Workers are trusted: they are started with the ``spawn`` method after the maintainer secret (:data:`SECRET_ENV`)
has been removed from the environment, with BLAS pinned to one thread (:data:`WORKER_THREADS`), and mark
themselves non-dumpable. A submitted agent never runs in a worker: ``execute`` starts it in its own jailed
process (:mod:`invgym.leaderboard.sandbox`) that only sees observations and answers actions.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from invgym.leaderboard._io import atomic_write_json, canonical_json, read_json, sha256_bytes

__all__ = ["SECRET_ENV", "WORKER_THREADS", "PartialStore", "evaluate_sandboxed", "execute", "make_task", "run_tasks"]

SECRET_ENV = "INVGYM_LEADERBOARD_SECRET"
DEFAULT_TIMEOUT = 600.0


def make_task(agent: dict[str, Any], instance: Any, protocol: Any, quick: bool, entry: str = "",
              code: str = "") -> dict[str, Any]:
    """Return the picklable description of evaluating ``agent`` on ``instance`` under ``protocol``.

    ``code`` (see ``record.code_fingerprint``) only enters the task's fingerprint, so partial results made by
    other code are not reused.
    """
    return {
        "code": code,
        "entry": entry,
        "instance": instance.id,
        "track": instance.track,
        "env": instance.env,
        "kwargs": instance.kwargs,
        "protocol": protocol.as_dict(),
        "quick": quick,
        "agent": agent,
    }


def fingerprint(task: dict[str, Any]) -> str:
    """Hash of everything that determines a task's result (the agent's bytes included, its local path not)."""
    agent = {k: v for k, v in task["agent"].items() if k != "path"}
    kept = {k: v for k, v in task.items() if k != "limits"}  # time and memory limits do not change a result
    return sha256_bytes(canonical_json({**kept, "agent": agent}))


def _failed(task: dict[str, Any], reason: str, seconds: float = 0.0) -> dict[str, Any]:
    return {"instance": task["instance"], "track": task["track"], "env": task["env"], "status": "failed",
            "reason": reason[:2000], "seconds": round(seconds, 3)}


# Scenarios where env i's dynamics depend on its seed alone, so a batch can be stepped as two half-batches seeded
# from their first env on (Retail and Replenishment give env i the panel product i % len(products): not these).
SPLITTABLE = ("lost_sales", "perishable", "dual_sourcing", "procurement_removal")


def _policy_for(task: dict[str, Any], kwargs: dict[str, Any]) -> Any:
    """A built-in baseline runs here (trusted code, compiled rollout); any other agent runs in its sandbox."""
    from invgym.leaderboard.agents import build_policy

    agent = task["agent"]
    if agent["kind"] == "baseline":
        return build_policy(agent, task["env"], kwargs, quick=task["quick"])
    from invgym.baselines.common import config_of
    from invgym.leaderboard.sandbox import DEFAULT_MEMORY_MB, SandboxedPolicy
    from invgym.scenarios import scenario_of

    config = config_of(task["env"], **kwargs)
    limits = task.get("limits") or {}
    timeout = float(limits.get("timeout", DEFAULT_TIMEOUT))
    num_envs = task["protocol"]["num_envs"]
    groups = 2 if num_envs >= 2 and scenario_of(config).name in SPLITTABLE else 1
    return SandboxedPolicy(agent, task["env"], task["kwargs"], num_envs=num_envs,
                           obs_dim=int(config.observation_space().shape[0]),
                           act_dim=int(config.make_kernel(1).act_dim), instance=task["instance"],
                           quick=task["quick"], memory_mb=int(limits.get("memory_mb", DEFAULT_MEMORY_MB)),
                           cpu_seconds=timeout, timeout=timeout, groups=groups)


def _pipeline(policy: Any, bufs: list[Any], totals: list[Any], counts: list[Any], done: list[Any], steps: int,
              warmup: int, discrete: bool, space: Any) -> None:
    """The stepping loop of :func:`evaluate_sandboxed`: per period and group, receive, check, step, send, count."""
    import numpy as np

    from invgym.evaluate import as_actions

    num_envs, m = policy.bounds[-1][1], bufs[0].actions.shape[1]
    groups = list(enumerate(zip(policy.bounds, bufs, totals, counts, done, strict=True)))
    for g, buf in enumerate(bufs):
        policy.send(g, buf.obs)
    last = steps - 1
    # The period timeline of invgym.evaluate's _step, per group: act, step, count, note who restarts next step.
    for t in range(steps):
        for g, ((lo, hi), buf, total, count, finished) in groups:
            raw = policy.receive(g)
            try:
                actions = as_actions(raw, (hi - lo, m), discrete)
            except ValueError as exc:
                raise ValueError(f"{exc} (for envs {lo} to {hi - 1} of {num_envs}: the sandbox asks the policy "
                                 f"for each half of the envs separately)") from None
            np.copyto(buf.actions, actions)
            bad = buf.kernel.step()
            if bad >= 0:
                raise ValueError(f"the policy returned {buf.actions[bad].tolist()} for env {lo + bad}, outside the "
                                 f"action space {space}. Nothing is clipped.")
            if t < last:
                policy.send(g, buf.obs)  # before the counting: the agent starts on it while we count
            if t >= warmup:
                total += buf.parts
                count += ~finished
            np.logical_or(buf.terminated, buf.truncated, out=finished)


def evaluate_sandboxed(policy: Any, env_id: str, *, num_envs: int, periods: int, warmup: int, seed: int,
                       **env_kwargs: Any) -> Any:
    """``invgym.evaluate`` of a :class:`~invgym.leaderboard.sandbox.SandboxedPolicy`, its groups pipelined.

    Each group of envs (``policy.bounds``: the two halves) is its own kernel, env i seeded ``seed + i`` as in
    ``invgym.evaluate``; while the agent computes one group's actions this process steps the other group. An
    action only moves its own env, so every env sees the same demand and the same actions as in one batch: the
    result is identical, field by field, to ``invgym.evaluate(policy, ...)`` (``tests/test_sandbox_pipeline.py``
    checks it per scenario). Only for scenarios in :data:`SPLITTABLE`; with one group it is ``invgym.evaluate``.
    """
    import dataclasses

    import numpy as np

    import invgym
    from invgym.envs.common import config_of
    from invgym.evaluate import EvaluationResult, t975
    from invgym.metrics import metrics_for
    from invgym.scenarios import scenario_of

    if len(policy.bounds) == 1:
        policy.begin()
        try:
            return invgym.evaluate(policy, env_id, num_envs=num_envs, periods=periods, warmup=warmup, seed=seed,
                                   **env_kwargs)
        finally:
            policy.end()
    config = config_of(env_id, **env_kwargs)
    if scenario_of(config).name not in SPLITTABLE or policy.bounds[-1][1] != num_envs:
        raise ValueError(f"The 'policy' parameter of evaluate_sandboxed must split the {num_envs} envs of a "
                         f"scenario in {list(SPLITTABLE)}. Got bounds {policy.bounds} on {env_id!r} instead.")
    config = dataclasses.replace(config, horizon=warmup + periods)  # as invgym.evaluate: no env truncated
    bufs = [config.bind(hi - lo).reset(seed + lo) for lo, hi in policy.bounds]
    discrete = config.action_type == "discrete"
    space = config.action_space()
    totals = [np.zeros((hi - lo, buf.kernel.num_parts)) for (lo, hi), buf in zip(policy.bounds, bufs, strict=True)]
    counts = [np.zeros(hi - lo, dtype=np.int64) for lo, hi in policy.bounds]
    done = [np.zeros(hi - lo, dtype=np.bool_) for lo, hi in policy.bounds]
    policy.begin()
    try:
        _pipeline(policy, bufs, totals, counts, done, warmup + periods, warmup, discrete, space)
    finally:
        policy.end()
    totals, counts = np.concatenate(totals), np.maximum(np.concatenate(counts), 1)
    # The summary of invgym.evaluate, on the same per-env arrays.
    per_env = totals[:, type(config).parts.index("cost")] / counts
    mean = float(per_env.mean())
    stderr = float(per_env.std(ddof=1) / math.sqrt(num_envs)) if num_envs > 1 else math.nan
    half = t975(num_envs - 1) * stderr if num_envs > 1 else math.nan
    pooled = dict(zip(type(config).parts, totals.sum(axis=0).tolist(), strict=True))
    return EvaluationResult(average_cost=mean, stderr=stderr, ci95=(mean - half, mean + half), num_envs=num_envs,
                            periods=periods, warmup=warmup, seed=seed,
                            metrics=metrics_for(scenario_of(config).name, pooled, int(counts.sum())), env=env_id,
                            path="step", per_env_cost=per_env)


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one task and return its result row (never raises for the agent's faults).

    This is the trusted side: the kernel, the seed and the cost accounting live here. A submitted agent is
    started in its own jailed process (:mod:`invgym.leaderboard.sandbox`) that only receives observations and
    returns actions; it never sees the task (its seed, the protocol) nor this process.
    """
    from invgym.leaderboard.sandbox import make_non_dumpable

    os.environ.pop(SECRET_ENV, None)
    make_non_dumpable()
    # One thread per worker (see WORKER_THREADS; also read by torch when it is imported here).
    os.environ.update(WORKER_THREADS)
    start = time.perf_counter()
    policy = None
    try:
        import invgym
        from invgym.leaderboard.sandbox import AgentProcessError
        from invgym.leaderboard.suite import decode_kwargs

        kwargs = decode_kwargs(task["kwargs"])
        policy = _policy_for(task, kwargs)
        p = task["protocol"]
        evaluate = evaluate_sandboxed if type(policy).__name__ == "SandboxedPolicy" else invgym.evaluate
        result = evaluate(policy, task["env"], num_envs=p["num_envs"], periods=p["periods"], warmup=p["warmup"],
                          seed=p["seed"], **kwargs)
    except AgentProcessError as exc:  # raised by the agent in its process, or its process died: as it says
        return _failed(task, str(exc), time.perf_counter() - start)
    except Exception as exc:  # the agent's fault: report it for this instance only
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        return _failed(task, f"{type(exc).__name__}: {exc}{where}", time.perf_counter() - start)
    finally:
        if type(policy).__name__ == "SandboxedPolicy":
            policy.close()
    if not math.isfinite(result.average_cost) or not math.isfinite(result.stderr):
        return _failed(task, f"the average cost is not finite ({result.average_cost!r})", time.perf_counter() - start)
    return {
        "instance": task["instance"], "track": task["track"], "env": task["env"], "status": "ok",
        "average_cost": result.average_cost, "stderr": result.stderr, "ci95": list(result.ci95),
        "metrics": dict(result.metrics), "evaluation_path": result.path,
        "seconds": round(time.perf_counter() - start, 3),
        # Each env's average cost (env i ran on seed protocol.seed + i): the per-seed costs the board's
        # stratified-bootstrap CIs resample (scoring.interval_estimates).
        "env_costs": result.per_env_cost.tolist(),
    }


class PartialStore:
    """Per-task partial results under ``directory``, each stored with the fingerprint of its task."""

    def __init__(self, directory: str | os.PathLike | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    def _path(self, task: dict[str, Any]) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{task['entry']}__{task['instance']}")
        return self.directory / f"{safe}.json"

    def load(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """Return the stored row of this exact task (same agent bytes, instance, protocol), else None."""
        if self.directory is None:
            return None
        try:
            data = read_json(self._path(task))
        except (FileNotFoundError, ValueError):  # absent, or unreadable: redo it
            return None
        if data.get("fingerprint") != fingerprint(task):
            return None
        return data.get("result")

    def save(self, task: dict[str, Any], row: dict[str, Any]) -> None:
        """Store a finished row atomically."""
        if self.directory is not None:
            atomic_write_json(self._path(task), {"fingerprint": fingerprint(task), "result": row})


# Every worker runs its BLAS on one thread, set before numpy loads (BLAS reads these once, at load): workers
# already run in parallel, and a reduction's summation order can change with the thread count, which made
# results differ between machines (issue 14). Recorded in every result file (record.environment_info).
WORKER_THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@contextlib.contextmanager
def _without_secret() -> Iterator[None]:
    """Start child processes without the secret in their environment and with BLAS pinned to one thread."""
    from invgym.leaderboard.sandbox import PROBED_ENV, sandbox_mode

    mode = sandbox_mode()  # a bad INVGYM_SANDBOX fails here, once, before any worker starts
    saved = os.environ.pop(SECRET_ENV, None)
    pinned = {**WORKER_THREADS, PROBED_ENV: mode}  # workers reuse this process's jail probe
    threads = {var: os.environ.get(var) for var in pinned}
    os.environ.update(pinned)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[SECRET_ENV] = saved
        for var, value in threads.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _serve(conn: Any) -> None:
    """Worker loop: receive a task, send back its row; stop on None or when the parent goes away."""
    from invgym.leaderboard.sandbox import make_non_dumpable

    os.environ.pop(SECRET_ENV, None)
    make_non_dumpable()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(execute(task))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        with _without_secret():
            self.proc.start()
        child.close()
        self.task: dict[str, Any] | None = None
        self.started = 0.0
        self.done = 0

    def submit(self, task: dict[str, Any]) -> None:
        self.task, self.started = task, time.monotonic()
        self.conn.send(task)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError, BrokenPipeError):
                self.conn.send(None)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _run_local(tasks: list[dict[str, Any]], jobs: int, timeout: float, max_tasks_per_worker: int | None,
               on_result: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("spawn")
    pending = deque(tasks)
    idle: list[_Worker] = []
    busy: list[_Worker] = []
    try:
        while pending or busy:
            while pending and len(busy) < jobs:
                worker = idle.pop() if idle else _Worker(ctx)
                worker.submit(pending.popleft())
                busy.append(worker)
            now = time.monotonic()
            wake = min(w.started + timeout for w in busy) - now
            ready = wait([w.conn for w in busy], timeout=max(0.0, min(wake, 1.0)))
            now = time.monotonic()
            for worker in list(busy):
                task = worker.task
                if worker.conn in ready:
                    try:
                        row = worker.conn.recv()
                    except (EOFError, OSError):
                        worker.proc.join(timeout=5)
                        row = _failed(task, f"the worker process died (exit code {worker.proc.exitcode}): the "
                                      "agent crashed it or ran out of memory", now - worker.started)
                        busy.remove(worker)
                        worker.stop(kill=True)
                        on_result(task, row)
                        continue
                    busy.remove(worker)
                    worker.done += 1
                    if max_tasks_per_worker is not None and worker.done >= max_tasks_per_worker:
                        worker.stop()
                    else:
                        idle.append(worker)
                    on_result(task, row)
                elif now - worker.started > timeout:
                    busy.remove(worker)
                    worker.stop(kill=True)
                    on_result(task, _failed(task, f"exceeded the time limit of {timeout:g} s for one instance",
                                            now - worker.started))
    finally:
        for worker in idle + busy:
            worker.stop(kill=worker in busy)


def _run_ray(tasks: list[dict[str, Any]], address: str, timeout: float, isolate: bool,
             on_result: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("--ray needs Ray: pip install 'invgym[ray]'.") from exc
    if not ray.is_initialized():
        with _without_secret():
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
    # max_calls=1 gives every task a fresh worker process, as the local backend does for submissions.
    remote = ray.remote(num_cpus=1, max_retries=0, max_calls=1 if isolate else 0,
                        runtime_env={"env_vars": dict(WORKER_THREADS)})(execute)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    pending = deque(tasks)
    running: dict[Any, tuple[dict[str, Any], float]] = {}
    while pending or running:
        while pending and len(running) < slots:
            task = pending.popleft()
            running[remote.remote(task)] = (task, time.monotonic())
        done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
        for ref in done:
            task, started = running.pop(ref)
            try:
                row = ray.get(ref)
            except Exception as exc:  # the worker died: report it for this task
                row = _failed(task, f"the Ray worker failed: {type(exc).__name__}: {exc}",
                              time.monotonic() - started)
            on_result(task, row)
        now = time.monotonic()
        for ref, (task, started) in list(running.items()):
            if now - started > timeout:
                ray.cancel(ref, force=True)
                running.pop(ref)
                on_result(task, _failed(task, f"exceeded the time limit of {timeout:g} s for one instance",
                                        now - started))


def run_tasks(tasks: list[dict[str, Any]], *, jobs: int | None = None, ray: str | None = None,
              timeout: float = DEFAULT_TIMEOUT, store: PartialStore | None = None,
              max_tasks_per_worker: int | None = 1, progress: bool = True,
              description: str = "evaluating", memory_mb: int | None = None) -> list[dict[str, Any]]:
    """Run tasks (resuming those the store already holds) and return their rows in task order.

    Args:
        tasks: from :func:`make_task`.
        jobs: local worker processes (default: the number of CPUs).
        ray: a Ray address ("local" starts one in this process) to run on a Ray cluster instead.
        timeout: seconds one task may take; past it the task is reported failed and its worker killed.
        store: partial results; finished rows are saved there at once and found again on resume.
        max_tasks_per_worker: tasks a local worker runs before it is replaced (1 isolates every task;
            None keeps workers for the whole run, which trusted built-in baselines can afford).
        progress: show a progress bar (tqdm, on stderr).
        description: the progress bar's label.
        memory_mb: address-space limit of a submitted agent's sandbox process (default
            ``sandbox.DEFAULT_MEMORY_MB``).
    """
    if memory_mb is None:
        from invgym.leaderboard.sandbox import DEFAULT_MEMORY_MB

        memory_mb = DEFAULT_MEMORY_MB
    store = store or PartialStore(None)
    for task in tasks:
        task.setdefault("limits", {"timeout": timeout, "memory_mb": memory_mb})
    rows: dict[int, dict[str, Any]] = {}
    todo = []
    for i, task in enumerate(tasks):
        found = store.load(task)
        if found is not None:
            rows[i] = found
        else:
            todo.append(task)
    index = {id(task): i for i, task in enumerate(tasks)}
    bar = None
    try:
        from tqdm import tqdm
    except ImportError:  # no progress bar without tqdm; nothing else depends on it
        progress = False
    if progress:
        bar = tqdm(total=len(tasks), initial=len(rows), desc=description, unit="instance", dynamic_ncols=True)

    def on_result(task: dict[str, Any], row: dict[str, Any]) -> None:
        store.save(task, row)
        rows[index[id(task)]] = row
        if bar is not None:
            bar.set_postfix_str(f"{task['entry']} {task['instance']}: {row['status']}", refresh=False)
            bar.update(1)

    try:
        if todo:
            if ray is not None:
                _run_ray(todo, ray, timeout, max_tasks_per_worker == 1, on_result)
            else:
                jobs = max(1, jobs or os.cpu_count() or 1)
                _run_local(todo, min(jobs, len(todo)), timeout, max_tasks_per_worker, on_result)
    finally:
        if bar is not None:
            bar.close()
    return [rows[i] for i in range(len(tasks))]
