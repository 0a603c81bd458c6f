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
# The block starts with a reserved control area (kept so the observations stay cache-line aligned).
_CONTROL = 128

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
    """

    def __init__(self, agent: dict[str, Any], env_id: str, env_kwargs: dict[str, Any], *, num_envs: int,
                 obs_dim: int, act_dim: int, instance: str = "", quick: bool = False,
                 memory_mb: int = DEFAULT_MEMORY_MB, cpu_seconds: float = 3600.0, timeout: float = 600.0) -> None:
        self.num_envs, self.obs_dim, self.act_dim, self.timeout = num_envs, obs_dim, act_dim, timeout
        self._timeout_ms = max(1, math.ceil(timeout * 1000))
        self.mode = sandbox_mode()
        try:
            self._launch(agent, env_id, env_kwargs, instance, quick, memory_mb, cpu_seconds)
        except BaseException:
            self.close()
            raise

    def _launch(self, agent: dict[str, Any], env_id: str, env_kwargs: dict[str, Any], instance: str, quick: bool,
                memory_mb: int, cpu_seconds: float) -> None:
        num_envs, obs_dim, act_dim = self.num_envs, self.obs_dim, self.act_dim
        obs_bytes = num_envs * obs_dim * 4
        self._act_capacity = max(num_envs * act_dim * 8, 64)
        total = _CONTROL + obs_bytes + self._act_capacity
        if hasattr(os, "memfd_create"):
            self._fd = os.memfd_create("invgym-agent")
        else:  # no memfd (not Linux): an unlinked temporary file, kept open by its own descriptor
            self._spare = tempfile.TemporaryFile()
            self._fd = os.dup(self._spare.fileno())
        os.ftruncate(self._fd, total)
        self._map = mmap.mmap(self._fd, total)
        self._obs = np.ndarray((num_envs, obs_dim), dtype=np.float32, buffer=self._map, offset=_CONTROL)
        self._act_offset = _CONTROL + obs_bytes
        self._views: dict[bytes, np.ndarray] = {}
        self._workdir = tempfile.mkdtemp(prefix="invgym-agent-")
        req_r, self._req = os.pipe()
        self._rep, rep_w = os.pipe()
        os.set_blocking(self._rep, False)  # read when there is something, else poll with the deadline
        self._poll = select.poll()
        self._poll.register(self._rep, select.POLLIN)
        init = {"agent": agent, "env": env_id, "kwargs": env_kwargs, "num_envs": num_envs, "obs_dim": obs_dim,
                "act_dim": act_dim, "instance": instance, "quick": quick, "memory_mb": int(memory_mb),
                "cpu_seconds": float(cpu_seconds), "workdir": self._workdir, "mode": self.mode,
                "fds": [req_r, rep_w, self._fd], "sizes": [obs_bytes, self._act_capacity]}
        command = [*_launcher(self.mode), sys.executable, "-I", "-m", "invgym.leaderboard.sandbox"]
        # The agent's stderr goes to a file (a pipe would block an agent that prints a lot); its tail is quoted
        # when it dies. RLIMIT_FSIZE bounds it.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(command, env=_scrubbed_env(self._workdir), cwd=self._workdir,
                                      pass_fds=(req_r, rep_w, self._fd), stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True,
                                      preexec_fn=_child_preexec)
        os.close(req_r)
        os.close(rep_w)
        try:
            self._proc.stdin.write(json.dumps(init).encode() + b"\n")
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self._expect_reply(start=True)

    # --- the channel ---

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

    def _expect_reply(self, start: bool = False) -> np.ndarray | None:
        # The hot path: one poll (it sleeps until the reply, the agent's death or the time limit) and one read of
        # the 48-byte header, which the agent writes in one piece; a header seen before maps to its checked view.
        if not self._poll.poll(self._timeout_ms):
            self._timed_out()
        header = b""
        with contextlib.suppress(BlockingIOError):
            header = os.read(self._rep, _HEADER.size)
        if len(header) != _HEADER.size:
            header = self._rest_of_header(header)
        view = self._views.get(header)
        if view is not None and not start:
            return view.copy()  # the agent can rewrite the block at any time: evaluate checks this copy
        kind, code, ndim, *dims = _HEADER.unpack(header)
        if kind == b"A" and not start:
            view = self._view(code, ndim, dims)
            if len(self._views) >= 16:  # a hostile agent answering ever new shapes cannot grow the cache
                self._views.clear()
            self._views[header] = view
            return view.copy()
        if kind == b"E":
            size = max(0, min(int(ndim), _MAX_ERROR))
            try:
                text = _read_exact(self._rep, size, time.monotonic() + self.timeout,
                                   self._poll).decode("utf-8", "replace")
            except (EOFError, TimeoutError):
                text = "(the error text was cut off)"
            raise AgentProcessError(text)
        if kind == b"R" and start:
            return None
        raise AgentProcessError(f"the agent process broke the protocol (reply {kind!r})")

    def _rest_of_header(self, header: bytes) -> bytes:
        """The slow path of a header read: the agent died, or wrote its header in pieces (a hostile agent)."""
        try:
            deadline = time.monotonic() + self.timeout
            return header + _read_exact(self._rep, _HEADER.size - len(header), deadline, self._poll)
        except EOFError:
            raise self._died() from None
        except TimeoutError:
            self._timed_out()

    def _timed_out(self) -> None:
        self.close()
        raise AgentProcessError(f"the agent did not answer within the time limit of {self.timeout:g} s "
                                "for one instance")

    def _view(self, code: bytes, ndim: int, dims: list[int]) -> np.ndarray:
        """The actions block seen as the array the header describes (checked: dtype, rank, shape, size)."""
        if code not in _DTYPES or not 0 <= ndim <= 4:
            raise AgentProcessError(f"the agent process broke the protocol (dtype code {code!r}, ndim {ndim})")
        shape = tuple(int(d) for d in dims[:ndim])
        if any(d < 0 for d in shape):
            raise AgentProcessError(f"the agent process answered an invalid shape {shape}")
        dtype = np.dtype(_DTYPES[code])
        if math.prod(shape) * dtype.itemsize > self._act_capacity:
            raise ValueError(f"the policy must return actions of shape ({self.num_envs},) or "
                             f"({self.num_envs}, {self.act_dim}). Got {dtype} of shape {shape} instead.")
        return np.ndarray(shape, dtype=dtype, buffer=self._map, offset=self._act_offset)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Send a batch of observations to the agent; return its actions (checked later by evaluate)."""
        np.copyto(self._obs, obs, casting="same_kind")
        try:
            os.write(self._req, b"S")
        except OSError:
            raise self._died() from None
        return self._expect_reply()

    def close(self) -> None:
        """Stop the agent process (and, with it, everything it forked) and free the channel."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
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
        for name in ("_req", "_rep", "_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)
        if getattr(self, "_map", None) is not None:
            self._obs, self._views = None, {}
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


def _slot(raw: Any, block: np.ndarray) -> tuple[np.ndarray, np.ndarray, bytes]:
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
        raise ValueError(f"the policy returned actions of shape {raw.shape} ({raw.dtype}), larger than a batch of "
                         f"actions for this instance.")
    view = block[:raw.nbytes].view(raw.dtype).reshape(raw.shape)
    return raw, view, _HEADER.pack(b"A", code, raw.ndim, *raw.shape, *(0,) * (4 - raw.ndim))


def _serve(act: Any, obs: np.ndarray, block: np.ndarray, req: int, rep: int) -> None:
    """Answer requests until the evaluator says stop (or goes away): actions into the block, then their header.

    The hot path per period is one blocking read, the policy, one copy into the block and one write; the checks
    of :func:`_slot` run once per dtype/shape the policy answers with.
    """
    slots: dict[tuple[Any, tuple[int, ...]], tuple[np.ndarray, bytes]] = {}
    while True:
        try:
            if os.read(req, 1) != b"S":
                return
        except OSError:
            return
        try:
            raw = act(obs.copy())
            slot = slots.get((raw.dtype, raw.shape)) if type(raw) is np.ndarray else None
            if slot is None:
                raw, view, header = _slot(raw, block)
                slot = slots[(raw.dtype, raw.shape)] = (view, header)
            np.copyto(slot[0], raw)
            os.write(rep, slot[1])
        except BaseException as exc:
            _reply_error(rep, _describe(exc))
            return


def _child_main() -> None:  # noqa: C901 - one straight sequence: read, jail, limit, build, serve
    init = json.loads(sys.stdin.buffer.readline())
    req, rep, shm = init["fds"]
    obs_bytes, act_bytes = init["sizes"]
    libc = _libc() if sys.platform.startswith("linux") else None
    try:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if init["mode"] in ("namespaces", "user-namespaces"):
            _jail_filesystem(init["mode"], init["workdir"], libc)
            _drop_capabilities(libc)
        os.chdir(init["workdir"])
        buffer = mmap.mmap(shm, _CONTROL + obs_bytes + act_bytes)
        obs = np.ndarray((init["num_envs"], init["obs_dim"]), dtype=np.float32, buffer=buffer, offset=_CONTROL)
        block = np.ndarray((act_bytes,), dtype=np.uint8, buffer=buffer, offset=_CONTROL + obs_bytes)
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
    _serve(act, obs, block, req, rep)


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
