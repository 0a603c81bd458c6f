"""The agent's jail: a separate process that sees observations and answers actions, and nothing else.

The trusted evaluator (``engine.execute``: the kernel, the seeds, the cost accounting) never runs agent code.
For a submitted agent it starts this module as a fresh interpreter, ``python -I -m invgym.leaderboard.sandbox``,
and evaluates a :class:`SandboxedPolicy`, whose every call

1. copies the batch of observations ``(num_envs, obs_dim)`` into a shared-memory block (a ``memfd``),
2. writes one byte on a pipe, and
3. sleeps in one ``poll`` until it can read back a fixed 48-byte header (dtype code, shape) or an error text,
   then copies the actions out of the block. Nothing the agent sends is unpickled or executed: the header is
   parsed as numbers, the actions as a raw numeric array, and ``invgym.evaluate`` then checks them against the
   action space as for any policy.

The jail, from strongest to weakest, by what the machine allows (:func:`sandbox_mode`):

- ``"namespaces"`` (root with util-linux ``unshare``): new PID, mount and network namespaces. The agent is PID 1
  of its own namespace with a fresh ``/proc`` (no other process can be seen, so no ``/proc/<pid>/environ``),
  only a loopback interface that is down (no network), every mount read-only, a fresh ``/dev`` holding only
  ``null``, ``zero``, ``random`` and ``urandom``, an empty private tmpfs as working directory, and no capabilities
  (bounding set emptied, ``no_new_privs``) so none of this can be undone. When it exits, the kernel kills every
  process it forked.
- ``"user-namespaces"`` (unprivileged user namespaces): the same namespaces inside a user namespace, the mounts
  read-only, ``/dev`` as it is (its devices keep their owners' permissions).
- ``"process"`` (neither): a separate process in its own session, killed with its process group.

In every mode: a scrubbed environment (``PATH``, ``HOME``/``TMPDIR`` = the working directory, one thread per BLAS),
``setrlimit`` on address space (``memory_mb``), CPU seconds and file size, ``PR_SET_PDEATHSIG`` (it dies with its
evaluator), and the trusted processes mark themselves non-dumpable (``PR_SET_DUMPABLE`` 0), so a process of the
same user without ``CAP_SYS_PTRACE`` cannot read their ``/proc/<pid>/environ`` or memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import math
import mmap
import os
import platform
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

__all__ = ["DEFAULT_MEMORY_MB", "MODE_ENV", "PROBED_ENV", "AgentProcessError", "SandboxedPolicy",
           "make_non_dumpable", "sandbox_mode"]

DEFAULT_MEMORY_MB = 4096
MODE_ENV = "INVGYM_SANDBOX"  # chooses a mode this machine allows (see sandbox_mode); never one it does not

# The reply header: kind (b"A" actions, b"E" error), dtype code, ndim, then four dims; 48 bytes.
_HEADER = struct.Struct("<cc6xq4q")
# Numeric dtypes an agent may answer with (bool is refused later by evaluate, with a clear message).
_DTYPES = {b"b": np.int8, b"B": np.uint8, b"h": np.int16, b"H": np.uint16, b"i": np.int32, b"I": np.uint32,
           b"q": np.int64, b"Q": np.uint64, b"e": np.float16, b"f": np.float32, b"d": np.float64, b"?": np.bool_}
_CODES = {np.dtype(v).str: k for k, v in _DTYPES.items()}
_MAX_ERROR = 4000
# The shared block: a control area, the observations of every env, then one actions block per group. The
# control area holds int64 words, each side's on its own cache lines (a spinning reader then does not pull a
# line the other side is writing), and the agent's reply header of each group:
_REQ = 0  # words 0, 1 (evaluator): observations posted per group
_SPIN = 2  # word 2 (evaluator): the agent's spin budget before it sleeps, ns (0: sleep at once)
_EVAL_SLEEPS = 8  # word 8 (evaluator): 1 while the evaluator sleeps (or is about to) on its wake-up pipe
_REP = 16  # words 16, 17 (agent): answers given per group
_AGENT_SLEEPS = 24  # word 24 (agent): 1 while the agent sleeps (or is about to) on its request pipe
_HEADERS = 256  # bytes 256 and 320 (agent): the reply header of group 0 and 1
_CONTROL = 512
_CHANNELS = ("auto", "spin", "one-cpu", "free")
# Spinning needs stores seen in program order by the other CPU (x86's TSO): the actions, then their count.
_SPIN_OK = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")
_SPIN_NS = 200_000  # a spin longer than this means the other side is not running: sleep
# "auto": more spins than this run out in a window of waits -> one CPU, sleeping; spinning again after _RETRY waits
_WINDOW, _MAX_MISSES, _RETRY = 256, 16, 2048
# The longest sleep before the counter is looked at again (a missed wake-up costs at most this): the evaluator's,
# and the agent's (longer: an agent that waits for the evaluator's next batch wakes less often for nothing).
_NAP_MS, _AGENT_NAP_MS = 2, 5

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)


class AgentProcessError(RuntimeError):
    """The agent process failed: it raised, answered garbage, or died (the message says which)."""


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def make_non_dumpable() -> None:
    """Mark this (trusted) process non-dumpable: same-user processes can no longer read its environ or memory."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _probe(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_MODES = ("namespaces", "user-namespaces", "process")  # strongest first
_WORKS: dict[str, bool] = {}  # the probe's answer per mode, cached for this process
PROBED_ENV = "INVGYM_SANDBOX_PROBED"  # how a parent passes its answer on to its worker processes
_NS_FLAGS = ["--pid", "--fork", "--mount", "--mount-proc", "--net", "--kill-child"]


def _works(mode: str) -> bool:
    """Whether a probe process really sets this mode's jail up here (cached)."""
    if mode == "process":
        return True
    if mode not in _WORKS:
        ok = False
        if (sys.platform.startswith("linux") and shutil.which("unshare")
                and (mode != "namespaces" or os.geteuid() == 0)):
            workdir = tempfile.mkdtemp(prefix="invgym-probe-")
            try:
                ok = _probe([*_launcher(mode), sys.executable, "-I", "-m", "invgym.leaderboard.sandbox", "--probe",
                             mode, workdir])
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        _WORKS[mode] = ok
    return _WORKS[mode]


def sandbox_mode() -> str:
    """The jail agents run in: "namespaces", "user-namespaces" or "process" (see the module doc).

    By default the strongest this machine allows: a mode counts only if a probe process really sets its jail up
    (namespaces, read-only mounts, dropped capabilities); the answer is cached, and the engine passes it on to
    its worker processes. ``INVGYM_SANDBOX`` set to a mode chooses that mode instead, if this machine allows it
    (a weaker jail for benchmarks or debugging, or ``user-namespaces`` as root to try the unprivileged jail).

    Raises:
        ValueError: ``INVGYM_SANDBOX`` names no mode, or a mode this machine does not allow (it never makes the
            jail stronger than the probe found possible).
    """
    probed = os.environ.get(PROBED_ENV)
    if probed in _MODES:
        return probed
    forced = os.environ.get(MODE_ENV, "")
    if forced:
        if forced not in _MODES:
            raise ValueError(f"The {MODE_ENV} environment variable must be one of {list(_MODES)} or unset. "
                             f"Got {forced!r} instead.")
        if not _works(forced):
            allowed = [mode for mode in _MODES if _works(mode)]
            raise ValueError(f"The {MODE_ENV} environment variable must name a jail this machine allows, one of "
                             f"{allowed}. Got {forced!r} instead (its probe failed).")
        return forced
    return next(mode for mode in _MODES if _works(mode))


def _launcher(mode: str) -> list[str]:
    if mode == "namespaces":
        return [shutil.which("unshare") or "unshare", *_NS_FLAGS, "--"]
    if mode == "user-namespaces":
        return [shutil.which("unshare") or "unshare", "--user", "--map-root-user", *_NS_FLAGS, "--"]
    return []


def _scrubbed_env(workdir: str) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    return env


def _read_exact(fd: int, size: int, deadline: float, poll: Any) -> bytes:
    """Read ``size`` bytes from the non-blocking ``fd``, waiting (``poll``) at most until ``deadline``."""
    out = b""
    while True:
        try:
            chunk = os.read(fd, size - len(out))
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0 or not poll.poll(max(1, math.ceil(left * 1000))):
                raise TimeoutError from None
            continue
        if not chunk:
            raise EOFError
        out += chunk
        if len(out) == size:
            return out


class SandboxedPolicy:
    """``obs -> actions`` answered by an agent running in its jail (see the module docstring).

    The envs are split into ``groups`` consecutive row ranges (:attr:`bounds`); :meth:`send` posts one group's
    observations and :meth:`receive` returns that group's actions, so an evaluator can step one group while the
    agent computes the other (``engine.evaluate_sandboxed``). Calling the policy posts every group and returns
    all their actions, for ``invgym.evaluate``.

    Args:
        agent: the agent spec (``AgentSpec.as_dict()`` plus ``path``).
        env_id: the instance's env id.
        env_kwargs: the instance's kwargs, JSON-encoded as in the suite (``suite.encode_kwargs``).
        num_envs: the batch size of every call.
        obs_dim: observation length; actions may have up to ``act_dim`` columns.
        act_dim: action length.
        instance: the instance id (a factory may choose its model by it).
        quick: the quick protocol (passed on to the factory's fit, if it has one).
        memory_mb: address-space limit of the agent process.
        cpu_seconds: CPU-time limit of the agent process.
        timeout: seconds the agent may take to start, and to answer any one call.
        groups: 1, or 2 to split the envs into two halves (``num_envs // 2`` and the rest) answered separately.
        channel: how each side waits for the other (see the module docstring): ``"auto"`` spins while that pays
            and otherwise sleeps with both processes on one CPU; ``"spin"`` always spins first; ``"one-cpu"``
            always sleeps, both processes on one CPU; ``"free"`` always sleeps, placed by the scheduler.
    """

    def __init__(self, agent: dict[str, Any], env_id: str, env_kwargs: dict[str, Any], *, num_envs: int,
                 obs_dim: int, act_dim: int, instance: str = "", quick: bool = False,
                 memory_mb: int = DEFAULT_MEMORY_MB, cpu_seconds: float = 3600.0, timeout: float = 600.0,
                 groups: int = 1, channel: str = "auto") -> None:
        if groups not in (1, 2) or groups > num_envs:
            raise ValueError(f"The 'groups' parameter of SandboxedPolicy must be 1 or 2 (and at most num_envs = "
                             f"{num_envs}). Got {groups!r} instead.")
        if channel not in _CHANNELS:
            raise ValueError(f"The 'channel' parameter of SandboxedPolicy must be one of {list(_CHANNELS)}. "
                             f"Got {channel!r} instead.")
        self.num_envs, self.obs_dim, self.act_dim, self.timeout = num_envs, obs_dim, act_dim, timeout
        self.channel = channel
        half = num_envs // groups
        self.bounds = [(0, num_envs)] if groups == 1 else [(0, half), (half, num_envs)]
        self.mode = sandbox_mode()
        self._affinity = _affinity()
        try:
            self._launch(agent, env_id, env_kwargs, instance, quick, memory_mb, cpu_seconds)
            self._set_spin(0)  # until begin(): asleep, placed by the scheduler
            self._waits = self._misses = 0
            self._gave_up = False
        except BaseException:
            self.close()
            raise

    def _launch(self, agent: dict[str, Any], env_id: str, env_kwargs: dict[str, Any], instance: str, quick: bool,
                memory_mb: int, cpu_seconds: float) -> None:
        num_envs, obs_dim, act_dim = self.num_envs, self.obs_dim, self.act_dim
        obs_bytes = _aligned(num_envs * obs_dim * 4)
        capacities = [_aligned(max((hi - lo) * act_dim * 8, 64)) for lo, hi in self.bounds]
        total = _CONTROL + obs_bytes + sum(capacities)
        if hasattr(os, "memfd_create"):
            self._fd = os.memfd_create("invgym-agent")
        else:  # no memfd (not Linux): an unlinked temporary file, kept open by its own descriptor
            self._spare = tempfile.TemporaryFile()
            self._fd = os.dup(self._spare.fileno())
        os.ftruncate(self._fd, total)
        self._map = mmap.mmap(self._fd, total)
        self._ctl = memoryview(self._map)[:_CONTROL].cast("q")
        obs = np.ndarray((num_envs, obs_dim), dtype=np.float32, buffer=self._map, offset=_CONTROL)
        self._obs = [obs[lo:hi] for lo, hi in self.bounds]
        offsets = np.cumsum([_CONTROL + obs_bytes, *capacities]).tolist()
        self._blocks = list(zip(offsets, capacities, strict=False))  # (offset, capacity) per group
        self._views: list[dict[bytes, np.ndarray]] = [{} for _ in self.bounds]
        self._sent = [0] * len(self.bounds)
        self._workdir = tempfile.mkdtemp(prefix="invgym-agent-")
        req_r, self._req = os.pipe()  # to the agent: b"W" (wake up) or b"Q" (stop)
        self._rep, rep_w = os.pipe()  # from the agent: its ready header, or an error header and text
        self._wake, wake_w = os.pipe()  # from the agent: b"W" (wake up)
        for fd in (self._rep, self._wake):
            os.set_blocking(fd, False)  # read when there is something, else poll with the deadline
        self._poll = select.poll()
        self._poll.register(self._rep, select.POLLIN)
        self._poll.register(self._wake, select.POLLIN)
        self._rep_poll = select.poll()
        self._rep_poll.register(self._rep, select.POLLIN)
        init = {"agent": agent, "env": env_id, "kwargs": env_kwargs, "num_envs": num_envs, "obs_dim": obs_dim,
                "act_dim": act_dim, "instance": instance, "quick": quick, "memory_mb": int(memory_mb),
                "cpu_seconds": float(cpu_seconds), "workdir": self._workdir, "mode": self.mode,
                "fds": [req_r, rep_w, wake_w, self._fd], "size": total, "bounds": self.bounds,
                "blocks": self._blocks, "obs_offset": _CONTROL}
        command = [*_launcher(self.mode), sys.executable, "-I", "-m", "invgym.leaderboard.sandbox"]
        # The agent's stderr goes to a file (a pipe would block an agent that prints a lot); its tail is quoted
        # when it dies. RLIMIT_FSIZE bounds it.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(command, env=_scrubbed_env(self._workdir), cwd=self._workdir,
                                      pass_fds=(req_r, rep_w, wake_w, self._fd), stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True,
                                      preexec_fn=_child_preexec)
        for fd in (req_r, rep_w, wake_w):
            os.close(fd)
        try:
            self._proc.stdin.write(json.dumps(init).encode() + b"\n")
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        if not self._rep_poll.poll(max(1, math.ceil(self.timeout * 1000))):
            self._timed_out()
        kind, _, size = self._pipe_header()
        if kind != b"R":
            self._raise_reply(kind, size)

    # --- how the two sides wait ---

    def begin(self) -> None:
        """Start an evaluation: choose how to wait afresh (``"auto"`` tries spinning again, on every CPU allowed)."""
        self._unpin()
        spin = self.channel == "spin" or (self.channel == "auto" and _SPIN_OK and len(self.bounds) > 1
                                          and len(self._affinity) > 1)
        self._set_spin(_SPIN_NS if spin else 0)
        self._waits = self._misses = 0
        self._gave_up = False
        if spin and len(self._affinity) > 1:
            self._pin(apart=True)
        elif self.channel == "one-cpu" or (self.channel == "auto" and not spin):
            self._pin()

    def end(self) -> None:
        """End an evaluation: this process (and the agent) back on every CPU they were allowed before."""
        self._unpin()

    def _set_spin(self, ns: int) -> None:
        self._spin_ns = ns
        self._ctl[_SPIN] = ns  # the agent's budget: it reads it before each wait

    def _missed(self) -> None:
        """A spin that ran out: with ``"auto"``, too many in a window and both sides sleep on one CPU instead."""
        self._misses += 1
        if self.channel == "auto" and self._misses > _MAX_MISSES:
            self._set_spin(0)
            self._pin()
            self._gave_up, self._waits = True, 0  # tried again after _RETRY waits (the load may have passed)

    def _pin(self, apart: bool = False) -> None:
        """Put this process on the CPU it runs on, and the agent's process tree there too or, ``apart``, elsewhere.

        Together: a wake-up that does not cross CPUs costs several times less (``bench.leaderboard_sandbox
        --primitives``). Apart, to spin: left to the scheduler, a woken agent often lands on the waker's CPU, where
        two spinning processes only take turns.
        """
        if not hasattr(os, "sched_setaffinity"):
            return
        mine = _current_cpu(self._affinity)
        others = sorted(self._affinity - {mine})
        theirs = {others[(mine + 1) % len(others)] if others else mine} if apart else {mine}
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {mine})
        for pid in _tree(self._proc.pid):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, theirs)
        self._pinned = True

    def _unpin(self) -> None:
        if getattr(self, "_pinned", False):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, self._affinity)
            for pid in _tree(self._proc.pid) if self._proc is not None else ():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(pid, self._affinity)
            self._pinned = False

    def _wait(self, word: int, target: int) -> None:
        """Return once control word ``word`` reaches ``target``: spin up to the budget, then sleep on the pipes.

        Before either, wake the agent if it sleeps. A side that sleeps first raises its flag, then checks the word
        again, and the other side writes a wake-up byte only when it sees the flag. The flag and the word are
        plain stores to shared memory, so a wake-up can be missed when both sides store at once: every sleep is
        therefore bounded by a short poll (``_NAP_MS``) after which the word is checked again.
        """
        ctl = self._ctl
        if ctl[_AGENT_SLEEPS]:
            self._wake_agent()
        if self._gave_up:
            self._waits += 1
            if self._waits >= _RETRY:
                self.begin()
        if self._spin_ns:
            self._waits += 1
            if self._waits >= _WINDOW:
                self._waits = self._misses = 0
            end = time.perf_counter_ns() + self._spin_ns
            while ctl[word] < target:
                if time.perf_counter_ns() > end:
                    break
            else:
                return
            self._missed()
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                ctl[_EVAL_SLEEPS] = 1
                if ctl[word] >= target:
                    return
                if ctl[_AGENT_SLEEPS]:
                    self._wake_agent()
                left = deadline - time.monotonic()
                if left <= 0:
                    self._timed_out()
                for fd, _ in self._poll.poll(min(_NAP_MS, max(1, math.ceil(left * 1000)))):
                    if fd == self._rep:  # the agent only writes here to fail, or it died
                        kind, _, size = self._pipe_header()
                        self._raise_reply(kind, size)
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake, 4096)
        finally:
            if self._ctl is not None:  # (not closed by a time-out)
                ctl[_EVAL_SLEEPS] = 0

    def _wake_agent(self) -> None:
        try:
            os.write(self._req, b"W")
        except OSError:
            raise self._died() from None

    # --- the channel ---

    def send(self, group: int, obs: np.ndarray) -> None:
        """Post the observations of one group (rows ``bounds[group]``) to the agent."""
        np.copyto(self._obs[group], obs, casting="same_kind")
        self._sent[group] += 1
        self._ctl[_REQ + group] = self._sent[group]
        if self._spin_ns and self._ctl[_AGENT_SLEEPS]:  # it gave up spinning: wake it now, not when we wait
            self._missed()
            self._wake_agent()

    def receive(self, group: int) -> np.ndarray:
        """Wait for the agent's actions for the group's last observations; return a copy (checked by the caller)."""
        self._wait(_REP + group, self._sent[group])
        offset = _HEADERS + 64 * group
        header = self._map[offset:offset + _HEADER.size]
        view = self._views[group].get(header)
        if view is not None:
            return view.copy()  # the agent can rewrite the block at any time: the caller checks this copy
        kind, code, ndim, *dims = _HEADER.unpack(header)
        if kind != b"A":
            kind, _, size = self._pipe_header()  # an error: its text follows on the pipe
            self._raise_reply(kind, size)
        view = self._view(group, code, ndim, dims)
        if len(self._views[group]) >= 16:  # a hostile agent answering ever new shapes cannot grow the cache
            self._views[group].clear()
        self._views[group][header] = view
        return view.copy()

    def _pipe_header(self) -> tuple[bytes, bytes, int]:
        """Read a header from the reply pipe (the ready or error reply): (kind, code, size)."""
        try:
            header = _read_exact(self._rep, _HEADER.size, time.monotonic() + self.timeout, self._rep_poll)
        except EOFError:
            raise self._died() from None
        except TimeoutError:
            self._timed_out()
        kind, code, size, *_ = _HEADER.unpack(header)
        return kind, code, size

    def _raise_reply(self, kind: bytes, size: int) -> None:
        if kind == b"E":
            size = max(0, min(int(size), _MAX_ERROR))
            try:
                text = _read_exact(self._rep, size, time.monotonic() + self.timeout,
                                   self._rep_poll).decode("utf-8", "replace")
            except (EOFError, TimeoutError):
                text = "(the error text was cut off)"
            raise AgentProcessError(text)
        raise AgentProcessError(f"the agent process broke the protocol (reply {kind!r})")

    def _died(self) -> AgentProcessError:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        stderr = b""
        with contextlib.suppress(Exception):
            size = self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, size - _MAX_ERROR))
            stderr = self._stderr.read()
        # unshare --fork re-raises its child's fatal signal on itself, so a negative code is the agent's signal.
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if stderr else []
        return AgentProcessError(f"the agent process died ({how}): it crashed, exited, or hit its CPU or memory "
                                 "limit" + (f"; its last words: {tail[0][:300]}" if tail else ""))

    def _timed_out(self) -> None:
        self.close()
        raise AgentProcessError(f"the agent did not answer within the time limit of {self.timeout:g} s "
                                "for one instance")

    def _view(self, group: int, code: bytes, ndim: int, dims: list[int]) -> np.ndarray:
        """The group's actions block seen as the array the header describes (checked: dtype, rank, shape, size)."""
        if code not in _DTYPES or not 0 <= ndim <= 4:
            raise AgentProcessError(f"the agent process broke the protocol (dtype code {code!r}, ndim {ndim})")
        shape = tuple(int(d) for d in dims[:ndim])
        if any(d < 0 for d in shape):
            raise AgentProcessError(f"the agent process answered an invalid shape {shape}")
        dtype = np.dtype(_DTYPES[code])
        offset, capacity = self._blocks[group]
        if math.prod(shape) * dtype.itemsize > capacity:
            lo, hi = self.bounds[group]
            raise ValueError(f"the policy must return actions of shape ({hi - lo},) or ({hi - lo}, {self.act_dim})"
                             f". Got {dtype} of shape {shape} instead.")
        return np.ndarray(shape, dtype=dtype, buffer=self._map, offset=offset)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Send a batch of observations to the agent; return its actions (checked later by evaluate)."""
        for group, (lo, hi) in enumerate(self.bounds):
            self.send(group, obs[lo:hi])
        answers = [self.receive(group) for group in range(len(self.bounds))]
        if len(answers) == 1:
            return answers[0]
        if len({(a.dtype, a.shape[1:]) for a in answers}) != 1 or any(a.ndim == 0 for a in answers):
            raise ValueError(f"the policy must return actions of shape (n,) or (n, {self.act_dim}) for a batch of n "
                             f"observations. Got {[(str(a.dtype), a.shape) for a in answers]} for the two halves.")
        return np.concatenate(answers)

    def close(self) -> None:
        """Stop the agent process (and, with it, everything it forked) and free the channel."""
        self._unpin()
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError, TypeError):
                os.write(self._req, b"Q")
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
            self._proc = None
        for name in ("_stderr", "_spare"):
            handle = getattr(self, name, None)
            if handle is not None:
                with contextlib.suppress(Exception):
                    handle.close()
                setattr(self, name, None)
        for name in ("_req", "_rep", "_wake", "_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)
        if getattr(self, "_map", None) is not None:
            self._obs, self._views, self._blocks = None, [], []
            if getattr(self, "_ctl", None) is not None:
                self._ctl.release()
                self._ctl = None
            with contextlib.suppress(BufferError):
                self._map.close()
            self._map = None
        if getattr(self, "_workdir", None):
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> SandboxedPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _aligned(size: int) -> int:
    return (size + 63) // 64 * 64


def _affinity() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else {0}


def _current_cpu(allowed: set[int]) -> int:
    """The CPU this process last ran on (``/proc/self/stat``, field 39), or the first one allowed."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/stat") as handle:
            cpu = int(handle.read().rsplit(")", 1)[1].split()[36])
        if cpu in allowed:
            return cpu
    return min(allowed)


def _tree(pid: int) -> list[int]:
    """A process and its descendants (``/proc/<pid>/task/*/children``; just ``pid`` where that is missing)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError, ValueError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
    return found


def _child_preexec() -> None:
    """In the forked child before exec: die with the evaluator (the launcher passes it on with --kill-child)."""
    if sys.platform.startswith("linux"):
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# === The agent side (runs in the jail) ===


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> int:
    def enc(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    return libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))


def _mount_flags(options: str) -> int:
    """The flags a read-only bind remount must keep (in a user namespace they are locked: dropping one fails)."""
    flags = 0
    for opt, bit in (("nosuid", _MS_NOSUID), ("nodev", _MS_NODEV), ("noexec", _MS_NOEXEC), ("noatime", 1024),
                     ("nodiratime", 2048), ("relatime", 1 << 21), ("strictatime", 1 << 24)):
        if opt in options.split(","):
            flags |= bit
    return flags


def _jail_filesystem(mode: str, workdir: str, libc: Any) -> None:
    """Make every mount read-only, give the agent a private tmpfs working directory (and a minimal /dev as root)."""
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE, None)  # nothing done here propagates outside
    if mode == "namespaces":
        import stat

        _mount(libc, "tmpfs", "/dev", "tmpfs", _MS_NOSUID, "mode=755,size=64k")
        for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
            os.mknod(f"/dev/{name}", 0o666 | stat.S_IFCHR, os.makedev(1, minor))
            os.chmod(f"/dev/{name}", 0o666)
        os.mkdir("/dev/shm")
    with open("/proc/self/mountinfo") as handle:
        mounts = [line.split() for line in handle]
    for fields in sorted(mounts, key=lambda f: f[4].count("/")):
        target = fields[4].replace("\\040", " ")
        if target == "/dev" and mode == "namespaces" or target.startswith("/proc"):
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _mount_flags(fields[5])
        _mount(libc, None, target, None, flags, None)  # a failure leaves that mount as it was; checked below
    if mode == "namespaces":
        _mount(libc, "tmpfs", "/dev", None, _MS_REMOUNT | _MS_NOSUID | _MS_RDONLY, "mode=755,size=64k")
        _mount(libc, "tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64m")
    if _mount(libc, "tmpfs", workdir, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=256m,mode=700") != 0:
        raise OSError(ctypes.get_errno(), f"could not mount the agent's working directory {workdir}")
    probe = os.path.join(os.path.dirname(workdir), f".invgym-probe-{os.getpid()}")
    try:
        open(probe, "w").close()
    except OSError:
        return
    os.unlink(probe)
    raise OSError("the file system is still writable inside the jail")


def _drop_capabilities(libc: Any) -> None:
    """Empty the bounding set and every capability set, then set no_new_privs: nothing can be regained."""
    cap = 0
    while libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 or ctypes.get_errno() != 22:  # EINVAL: past the last
        cap += 1
        if cap > 128:
            break

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _limit(memory_mb: int, cpu_seconds: float) -> None:
    import resource

    memory = int(memory_mb) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(cpu_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**28, 2**28))


def _reply_error(fd: int, text: str) -> None:
    data = text.encode("utf-8", "replace")[:_MAX_ERROR]
    os.write(fd, _HEADER.pack(b"E", b"\0", len(data), 0, 0, 0, 0) + data)


def _describe(exc: BaseException) -> str:
    import traceback
    from pathlib import Path

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _slot(raw: Any, block: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Check the policy's first answer of a new dtype/shape; return it as an array, its block view and header."""
    if type(raw) is not np.ndarray:
        if isinstance(raw, tuple):
            raise TypeError("the policy returned a tuple: pass the model (or a callable returning only actions), "
                            "not model.predict.")
        if hasattr(raw, "detach"):  # a torch tensor
            raw = raw.detach().cpu().numpy()
        raw = np.asarray(raw)
    code = _CODES.get(raw.dtype.str)
    if code is None or raw.ndim > 4:
        raise ValueError(f"the policy must return numeric actions. Got {raw.dtype} of shape {raw.shape} instead.")
    if raw.nbytes > block.size:
        raise ValueError(f"the policy returned actions of shape {raw.shape} ({raw.dtype}) for a batch of {rows} "
                         "observations, larger than a batch of actions for this instance.")
    view = block[:raw.nbytes].view(raw.dtype).reshape(raw.shape)
    return raw, view, _HEADER.pack(b"A", code, raw.ndim, *raw.shape, *(0,) * (4 - raw.ndim))


def _serve(act: Any, init: dict[str, Any], buffer: mmap.mmap, req: int, rep: int, wake: int) -> None:
    """Answer requests, group after group, until the evaluator says stop (or goes away).

    The hot path per group is a wait on the shared request counter (spinning, or sleeping on the request pipe),
    the policy, one copy into the group's block and a store of its answer count; the checks of :func:`_slot`
    run once per group and dtype/shape the policy answers with.
    """
    ctl = memoryview(buffer)[:_CONTROL].cast("q")
    obs = np.ndarray((init["num_envs"], init["obs_dim"]), dtype=np.float32, buffer=buffer,
                     offset=init["obs_offset"])
    rows = [obs[lo:hi] for lo, hi in init["bounds"]]
    blocks = [np.ndarray((size,), dtype=np.uint8, buffer=buffer, offset=offset) for offset, size in init["blocks"]]
    os.set_blocking(req, False)
    poll = select.poll()
    poll.register(req, select.POLLIN)
    slots: dict[tuple[int, Any, tuple[int, ...]], tuple[np.ndarray, bytes]] = {}
    shown = [b""] * len(rows)
    counts = [0] * len(rows)
    group = 0
    while True:
        counts[group] += 1
        if not _agent_wait(ctl, _REQ + group, counts[group], req, wake, poll):
            return
        header = None
        try:
            raw = act(rows[group].copy())
            slot = slots.get((group, raw.dtype, raw.shape)) if type(raw) is np.ndarray else None
            if slot is None:
                raw, view, header = _slot(raw, blocks[group], len(rows[group]))
                slot = slots[(group, raw.dtype, raw.shape)] = (view, header)
            np.copyto(slot[0], raw)
        except BaseException as exc:
            _reply_error(rep, _describe(exc))
            header = _HEADER.pack(b"E", b"\0", 0, 0, 0, 0, 0)  # the text is on the pipe
            buffer[_HEADERS + 64 * group:_HEADERS + 64 * group + _HEADER.size] = header
            ctl[_REP + group] = counts[group]
            return
        if slot[1] != shown[group]:
            buffer[_HEADERS + 64 * group:_HEADERS + 64 * group + _HEADER.size] = shown[group] = slot[1]
        ctl[_REP + group] = counts[group]  # after the actions and their header: x86 stores are seen in order
        group = (group + 1) % len(rows)


def _agent_wait(ctl: memoryview, word: int, target: int, req: int, wake: int, poll: Any) -> bool:
    """Wait until control word ``word`` reaches ``target`` (see ``SandboxedPolicy._wait``); False: stop."""
    if ctl[word] >= target:
        return True
    if ctl[_EVAL_SLEEPS]:
        os.write(wake, b"W")
    spin = ctl[_SPIN]
    if spin > 0:
        end = time.perf_counter_ns() + spin
        while ctl[word] < target:
            if time.perf_counter_ns() > end:
                break
        else:
            return True
    try:
        while True:
            ctl[_AGENT_SLEEPS] = 1
            if ctl[word] >= target:
                return True
            if ctl[_EVAL_SLEEPS]:
                os.write(wake, b"W")
            if poll.poll(_AGENT_NAP_MS):
                try:
                    data = os.read(req, 4096)
                except BlockingIOError:
                    continue
                if not data or b"Q" in data:  # the evaluator is gone, or says stop
                    return False
    except OSError:
        return False
    finally:
        ctl[_AGENT_SLEEPS] = 0


def _child_main() -> None:  # noqa: C901 - one straight sequence: read, jail, limit, build, serve
    init = json.loads(sys.stdin.buffer.readline())
    req, rep, wake, shm = init["fds"]
    libc = _libc() if sys.platform.startswith("linux") else None
    try:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if init["mode"] in ("namespaces", "user-namespaces"):
            _jail_filesystem(init["mode"], init["workdir"], libc)
            _drop_capabilities(libc)
        os.chdir(init["workdir"])
        buffer = mmap.mmap(shm, init["size"])
        _limit(init["memory_mb"], init["cpu_seconds"])
    except BaseException as exc:
        _reply_error(rep, f"the sandbox could not be set up: {_describe(exc)}")
        return
    try:
        from invgym.leaderboard.agents import build_policy
        from invgym.leaderboard.suite import decode_kwargs

        policy = build_policy(init["agent"], init["env"], decode_kwargs(init["kwargs"]), quick=init["quick"],
                              instance=init["instance"])
        from invgym.envs.common import config_of
        from invgym.evaluate import policy_actions

        # With the instance's config, an SB3 model trained on the env (discrete actions as indices from 0)
        # gets the env's offset added back, as invgym.evaluate does for it in-process.
        act = policy_actions(policy, config_of(init["env"], **decode_kwargs(init["kwargs"])))
    except BaseException as exc:
        _reply_error(rep, _describe(exc))
        return
    os.write(rep, _HEADER.pack(b"R", b"\0", 0, 0, 0, 0, 0))
    _serve(act, init, buffer, req, rep, wake)


def _probe_main(mode: str, workdir: str) -> None:
    """Set the jail up and exit: 0 when every step worked (see :func:`sandbox_mode`)."""
    libc = _libc()
    _jail_filesystem(mode, workdir, libc)
    _drop_capabilities(libc)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        _probe_main(sys.argv[2], sys.argv[3])
    else:
        _child_main()
