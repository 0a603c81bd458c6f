"""leaderboard/sandbox.py's ``user-namespaces`` mode, exercised as an unprivileged user.

As root the jail is ``namespaces``, so the hostile-agent test of ``tests/test_sandbox.py`` never reaches the
non-root mode. Here a child drops to ``nobody`` (``setpriv``) inside a private mount namespace in which the
interpreter's prefix is reachable (it may live under a 0700 ``/root``), checks that ``sandbox_mode()`` is
``user-namespaces`` there, and evaluates a snooping agent through ``SandboxedPolicy``: it must see no other
process, write nothing outside its working directory, reach no socket, and score what the same policy scores
in-process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts jailed interpreters

AGENT = '''
import glob, os, socket
import numpy as np

TARGET, PORT = {target!r}, {port!r}


def make_agent(env):
    leaks = []
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    if len(pids) > 2:  # itself (and at most the unshare launcher's fork)
        leaks.append(f"sees {{len(pids)}} processes")
    try:
        open(os.path.join(TARGET, "forged"), "w").close()
        leaks.append("wrote outside its working directory")
    except OSError:
        pass
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=2).close()
        leaks.append("connected")
    except OSError:
        pass
    if leaks:
        raise RuntimeError("LEAK " + "; ".join(leaks))
    return lambda obs: np.clip(19.0 - obs.sum(axis=1), 0, 50).astype(np.int64)
'''

CHILD = '''
import os, sys
os.chdir("/tmp")
import invgym
from invgym.leaderboard._io import sha256_file
from invgym.leaderboard.sandbox import SandboxedPolicy, sandbox_mode

agent = sys.argv[1]
print("uid", os.geteuid(), "mode", sandbox_mode(), flush=True)
spec = {"kind": "python", "spec": f"{agent}:make_agent", "algo": None, "sha256": sha256_file(agent),
        "path": agent}
kwargs = {"lead_time": 2, "lost_sales_cost": 9.0}
with SandboxedPolicy(spec, "invgym/LostSales-v0", kwargs, num_envs=16, obs_dim=2, act_dim=1, timeout=60) as p:
    jailed = invgym.evaluate(p, "invgym/LostSales-v0", num_envs=16, periods=200, warmup=0, **kwargs)
import numpy as np
direct = invgym.evaluate(lambda obs: np.clip(19.0 - obs.sum(axis=1), 0, 50).astype(np.int64),
                         "invgym/LostSales-v0", num_envs=16, periods=200, warmup=0, **kwargs)
print("costs", repr(jailed.average_cost), repr(direct.average_cost), flush=True)
'''


def _blocking_dir(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` that other users cannot traverse, if any."""
    for parent in [*reversed(path.parents), path]:
        if parent != Path("/") and not parent.stat().st_mode & 0o001:
            return parent
    return None


def test_the_user_namespace_jail_as_an_unprivileged_user():
    if not sys.platform.startswith("linux"):
        pytest.skip("user namespaces are Linux only")
    if os.geteuid() != 0:
        pytest.skip("not root: this process's own sandbox_mode() is the unprivileged one, and "
                    "tests/test_sandbox.py's hostile agent exercises it")
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("needs util-linux unshare and setpriv to drop to an unprivileged user")
    prefix = Path(os.path.realpath(sys.base_prefix))
    blocking = _blocking_dir(prefix)
    work = Path(tempfile.mkdtemp(prefix="invgym-userns-"))
    server = socket.socket()
    try:
        work.chmod(0o755)
        target = work / "writable"
        target.mkdir()
        target.chmod(0o777)  # nobody may write here outside the jail: inside it, every mount is read-only
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        agent = work / "agent.py"
        agent.write_text(AGENT.format(target=str(target), port=server.getsockname()[1]))
        child = work / "child.py"
        child.write_text(CHILD)
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, str(child),
                str(agent)]
        script = 'exec "$@"'
        if blocking is not None:  # re-expose the interpreter's prefix in a private mount namespace only
            view = work / "view"
            view.mkdir()
            rest = prefix.relative_to(blocking)
            script = (f'mount --bind "{prefix}" "{view}" && mount -t tmpfs -o mode=755 tmpfs "{blocking}" && '
                      f'mkdir -p "{blocking / rest}" && mount --move "{view}" "{prefix}" && exec "$@"')
        run = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *drop],
                             capture_output=True, text=True, timeout=240)
        if "uid 65534 mode " not in run.stdout:
            pytest.skip(f"could not run the interpreter as nobody here: {run.stderr.strip()[-300:]}")
        if "mode user-namespaces" not in run.stdout:
            pytest.skip(f"unprivileged user namespaces are not available on this machine ({run.stdout.strip()})")
        assert run.returncode == 0, run.stderr[-2000:]
        costs = next(line for line in run.stdout.splitlines() if line.startswith("costs")).split()[1:]
        assert costs[0] == costs[1]  # the jailed policy scores what it scores in-process, to the bit
        assert not any(target.iterdir())
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
