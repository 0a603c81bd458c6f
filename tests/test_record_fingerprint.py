"""leaderboard/record.py: what partial results and result files fingerprint (the learned agents' code included)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

from invgym.leaderboard import record
from invgym.leaderboard.agents import baseline_spec, parse_agent
from invgym.leaderboard.engine import fingerprint
from invgym.leaderboard.suite import load_suite

submit = importlib.import_module("invgym.leaderboard.submit")  # the module (the package exports the function)

TOY = str(Path(submit.__file__).resolve().parent / "toy_agent.py") + ":make_agent"


def test_a_package_fingerprint_changes_with_any_of_its_files(tmp_path, monkeypatch):
    package = tmp_path / "fingerprinted_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = record._fingerprint(("fingerprinted_pkg",))
    assert record._fingerprint(("fingerprinted_pkg",)) == first
    (package / "sub" / "mod.py").write_text("X = 2\n")
    assert record._fingerprint(("fingerprinted_pkg",)) != first
    assert "fingerprinted_pkg" not in sys.modules  # found, never imported


def test_the_agents_fingerprint_covers_agents_and_the_code_fingerprint_does_not():
    [folder] = importlib.util.find_spec("invgym.agents").submodule_search_locations
    assert (Path(folder) / "board.py").is_file()  # the learned entries' loader is hashed
    assert record.agents_fingerprint() == record._fingerprint(("invgym.agents",))
    assert record.agents_fingerprint() != record.code_fingerprint()
    info = record.environment_info()
    assert info["agents_code"] == record.agents_fingerprint()


def _tasks(monkeypatch, tmp_path):
    """The tasks evaluate_entries would run for one baseline and one submission (stopped before running)."""
    seen = []

    def capture(tasks, **_):
        seen.extend(tasks)
        raise KeyboardInterrupt

    monkeypatch.setattr(submit, "run_tasks", capture)
    entries = [("BaseStock", "baseline", baseline_spec("BaseStock")), ("toy", "submission", parse_agent(TOY))]
    with pytest.raises(KeyboardInterrupt):
        submit.evaluate_entries(entries, load_suite(), tracks=["lost-sales"], quick=True, root=tmp_path,
                                progress=False)
    return {task["entry"]: fingerprint(task) for task in seen}


def test_only_a_submissions_partial_results_depend_on_the_agents_code(monkeypatch, tmp_path):
    before = _tasks(monkeypatch, tmp_path)
    monkeypatch.setattr(submit, "agents_fingerprint", lambda: "0" * 64)  # agents/ changed
    after = _tasks(monkeypatch, tmp_path)
    assert after["BaseStock"] == before["BaseStock"]  # baseline rows stay valid
    assert after["toy"] != before["toy"]  # a resumed submission evaluates again
