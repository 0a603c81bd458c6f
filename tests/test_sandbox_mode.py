"""leaderboard/sandbox.py: INVGYM_SANDBOX chooses a jail this machine allows, and nothing else."""

from __future__ import annotations

import os

import pytest

from invgym.leaderboard import engine, sandbox
from invgym.leaderboard.sandbox import MODE_ENV, sandbox_mode


@pytest.fixture
def only_process(monkeypatch):
    """A machine whose probes find no namespaces (the probe's cache says so), with nothing set."""
    monkeypatch.delenv(MODE_ENV, raising=False)
    monkeypatch.delenv(sandbox.PROBED_ENV, raising=False)
    monkeypatch.setattr(sandbox, "_WORKS", {"namespaces": False, "user-namespaces": False})


def test_the_default_is_the_strongest_mode_the_probes_allow(only_process, monkeypatch):
    assert sandbox_mode() == "process"
    monkeypatch.setattr(sandbox, "_WORKS", {"namespaces": False, "user-namespaces": True})
    assert sandbox_mode() == "user-namespaces"
    monkeypatch.setattr(sandbox, "_WORKS", {"namespaces": True, "user-namespaces": True})
    assert sandbox_mode() == "namespaces"


def test_the_variable_chooses_a_weaker_mode_the_machine_allows(only_process, monkeypatch):
    monkeypatch.setattr(sandbox, "_WORKS", {"namespaces": True, "user-namespaces": True})
    monkeypatch.setenv(MODE_ENV, "user-namespaces")
    assert sandbox_mode() == "user-namespaces"
    monkeypatch.setenv(MODE_ENV, "process")
    assert sandbox_mode() == "process"


def test_the_variable_never_asks_for_a_jail_the_machine_does_not_allow(only_process, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "namespaces")
    with pytest.raises(ValueError, match=r"The INVGYM_SANDBOX environment variable must name a jail this machine "
                                         r"allows, one of \['process'\]. Got 'namespaces' instead"):
        sandbox_mode()
    monkeypatch.setenv(MODE_ENV, "chroot")
    with pytest.raises(ValueError, match=r"must be one of \['namespaces', 'user-namespaces', 'process'\] or unset. "
                                         r"Got 'chroot' instead"):
        sandbox_mode()
    # ... and a run refuses it once, before any worker starts
    with pytest.raises(ValueError, match="INVGYM_SANDBOX"), engine._without_secret():
        pass


def test_workers_take_their_parents_probe(only_process, monkeypatch):
    monkeypatch.setattr(sandbox, "_WORKS", {"namespaces": False, "user-namespaces": True})
    with engine._without_secret():
        assert os.environ[sandbox.PROBED_ENV] == "user-namespaces"
        monkeypatch.setattr(sandbox, "_WORKS", {})  # a worker has probed nothing itself
        assert sandbox_mode() == "user-namespaces"
    assert sandbox.PROBED_ENV not in os.environ
