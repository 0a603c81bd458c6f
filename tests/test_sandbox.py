"""leaderboard/sandbox.py: a hostile agent is contained, fails only its own instance, and forges no score.

One agent file misbehaves differently on each lost-sales instance (its factory takes the instance id): it
monkeypatches the evaluator, reads every ``/proc/*/environ``, walks the board for result files and the secret and
tries to overwrite one, forks a process meant to outlive it, opens a socket to a server of this test, reserves
memory until its limit refuses it, sleeps, answers NaN or a wrong shape, and segfaults. Every instance ends as the
test expects, with the reason; the honest ones keep their honest costs; the board's files are untouched; nothing
outlives the run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from pathlib import Path

import pytest

from invgym.leaderboard import submit, verify
from invgym.leaderboard._io import read_json
from invgym.leaderboard.engine import SECRET_ENV
from invgym.leaderboard.sandbox import sandbox_mode
from invgym.leaderboard.suite import DEFAULT_SUITE

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

SECRET = "sandbox-test-secret-" + uuid.uuid4().hex
MARKER = "invgym-orphan-" + uuid.uuid4().hex

HOSTILE = '''
import ctypes, glob, os, socket, sys, time
import numpy as np

SECRET, MARKER, PORT, VICTIM, ROOT = {secret!r}, {marker!r}, {port!r}, {victim!r}, {root!r}


def honest(env):
    c = env.unwrapped.config
    level = round(c.demand.mean * (c.lead_time + 1) + 2 * c.demand.variance ** 0.5)
    return lambda obs: np.clip(level - np.asarray(obs).sum(axis=1), 0, int(c.max_order)).astype(np.int64)


def snoop():
    """Everything this process can find that it must not: the secret anywhere, a writable result file."""
    found = []
    for path in glob.glob("/proc/*/environ"):
        try:
            if SECRET.encode() in open(path, "rb").read():
                found.append(path)
        except OSError:
            pass
    for base, _, files in os.walk(ROOT):
        for name in files:
            try:
                if SECRET.encode() in open(os.path.join(base, name), "rb").read():
                    found.append(name)
            except OSError:
                pass
    if SECRET in str(os.environ):
        found.append("os.environ")
    try:
        with open(VICTIM, "w") as handle:
            handle.write("forged")
        found.append("wrote " + VICTIM)
    except OSError:
        pass
    return found


def make_agent(env, instance):
    cell = instance.split("/")[1]
    if cell == "L1-p4":  # rewrite the evaluator in this process: returns a forged 4.0 everywhere
        import invgym, invgym.evaluate as module

        class Fake:
            average_cost, stderr, ci95, metrics, path = 4.0, 0.0, (4.0, 4.0), dict(), "step"

        invgym.evaluate = module.evaluate = lambda *a, **k: Fake()
        return honest(env)
    if cell == "L1-p9":  # look for the secret and for files to overwrite, at construction and while acting
        leaks = snoop()
        if leaks:
            raise RuntimeError("LEAK " + repr(leaks))
        return honest(env)
    if cell == "L1-p19":  # a child meant to outlive the agent
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", MARKER])
        return honest(env)
    if cell == "L1-p39":  # phone home
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"LEAK")
            raise RuntimeError("LEAK connected")
        except OSError:
            pass
        return honest(env)
    if cell == "L2-p4":  # exhaust memory: reserve 128 MiB at a time until refused, and say how much it got
        # The limit is on address space (RLIMIT_AS), which counts what is reserved, touched or not; touching the
        # pages would add seconds of page faults per GiB on a loaded machine and race the time limit.
        hog, got = [], 0
        try:
            while True:
                hog.append(np.empty(2**24))
                got += 128
        except MemoryError:
            raise MemoryError(f"refused after {{got}} MiB") from None
    if cell == "L2-p9":  # sleep past the time limit
        time.sleep(600)
    if cell == "L2-p19":
        return lambda obs: np.full(len(obs), np.nan)
    if cell == "L2-p39":
        return lambda obs: np.zeros((len(obs), 5), dtype=np.int64)
    if cell == "L3-p4":  # segfault
        return lambda obs: ctypes.string_at(0)
    sys.stderr.write("noise " * 50_000)  # L3-p9: honest but loud (more than a pipe's buffer)
    return honest(env)
'''

CELLS = ["L1-p4", "L1-p9", "L1-p19", "L1-p39", "L2-p4", "L2-p9", "L2-p19", "L2-p39", "L3-p4", "L3-p9"]


def _tiny_suite(path: Path) -> Path:
    data = read_json(DEFAULT_SUITE)
    data["quick_protocol"] = {"num_envs": 32, "periods": 300, "warmup": 20, "seed": 0}
    keep = {f"lost-sales/{c}" for c in CELLS}
    data["tracks"] = [{**t, "instances": [dict(i, quick=True) for i in t["instances"] if i["id"] in keep]}
                      for t in data["tracks"] if t["id"] == "lost-sales"]
    path.write_text(json.dumps(data))
    return path


def _orphans() -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if MARKER.encode() in cmdline.read_bytes():
                found.append(str(cmdline))
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc (the fork and environ checks read it)")
def test_a_hostile_agent_is_contained_and_forges_nothing(tmp_path, monkeypatch):
    if sandbox_mode() == "process":
        pytest.skip("no PID/mount/network namespaces on this machine (neither root with unshare nor unprivileged "
                    "user namespaces): the agent is only a separate process here, which cannot stop it writing "
                    "files or opening sockets (docs/leaderboard.md, threat model)")
    root = tmp_path / "board"
    victim = root / "quick" / "results" / "victim.json"
    victim.parent.mkdir(parents=True)
    victim.write_text('{"untouched": true}')
    (root / "secret-copy.txt").write_text("nothing here")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    source = HOSTILE.format(secret=SECRET, marker=MARKER, port=server.getsockname()[1], victim=str(victim),
                            root=str(root))
    agent = tmp_path / "hostile.py"
    agent.write_text(source)
    suite = _tiny_suite(tmp_path / "suite.json")
    monkeypatch.setenv(SECRET_ENV, SECRET)  # present while submitting too: it must not reach the agent
    path = submit(f"{agent}:make_agent", "hostile", quick=True, root=root, suite=suite, jobs=2, timeout=20,
                  progress=False, board=False, memory_mb=1024)
    rows = {r["instance"].split("/")[1]: r for r in read_json(path)["results"]}
    reasons = {cell: rows[cell].get("reason", "") for cell in rows}
    assert not any("LEAK" in reason for reason in reasons.values()), reasons
    ok = {cell for cell, row in rows.items() if row["status"] == "ok"}
    assert ok == {"L1-p4", "L1-p9", "L1-p19", "L1-p39", "L3-p9"}, reasons
    for cell in ok:  # honest costs, whatever the agent patched in its own process: never the forged 4.0
        assert rows[cell]["average_cost"] >= rows[cell]["reference_cost"] - 4 * rows[cell]["stderr"], cell
    # Refused below the 1024 MB limit: without it, this machine (overcommit) would grant far more address space.
    hog = re.search(r"MemoryError: refused after (\d+) MiB", reasons["L2-p4"])
    assert hog and 0 < int(hog.group(1)) < 1024, reasons["L2-p4"]
    assert "time limit of 20 s" in reasons["L2-p9"]
    assert "non-integer action nan" in reasons["L2-p19"]
    assert "(16, 5)" in reasons["L2-p39"] and "shape" in reasons["L2-p39"]  # per half of the 32 envs
    assert "SIGSEGV" in reasons["L3-p4"], reasons["L3-p4"]
    assert victim.read_text() == '{"untouched": true}'
    assert _orphans() == []  # the forked child died with the agent
    with pytest.raises(BlockingIOError):
        server.accept()  # nothing connected
    server.close()
    # The file verifies on held-out seeds, with the secret set: the snooping instance finds nothing then either.
    report = verify(path, suite=suite, jobs=2, timeout=20, progress=False, memory_mb=1024)
    assert not any("LEAK" in str(check.get("reason", "")) for check in report.checks), report.summary()
    assert report.accepted, report.summary()
    assert SECRET_ENV not in os.environ
    assert victim.read_text() == '{"untouched": true}' and _orphans() == []


def test_the_jail_mode_is_the_strongest_this_machine_allows():
    mode = sandbox_mode()
    assert mode in ("namespaces", "user-namespaces", "process")
    if os.geteuid() == 0 and Path("/usr/bin/unshare").exists():
        assert mode == "namespaces"
