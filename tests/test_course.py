"""The course kit end to end on the quick budget: starters, a passing solution, hidden seeds, the class board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from invgym import course
from invgym.cli import main

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

COURSE = Path(__file__).resolve().parents[1] / "examples" / "course"

SOLUTION = '''
from invgym.baselines import BaseStock


def make_policy(config):
    return BaseStock.fit(config)
'''


def grade_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["grade", *argv, "--quick", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_list_names_three_assignments_with_their_rubrics(capsys):
    assert main(["grade", "--list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(data) == ["imitation", "newsvendor", "ppo"]
    assert all("pass:" in a["rubric"] for a in data.values())
    for name in data:
        assert (COURSE / name / "starter.py").is_file() and (COURSE / name / "README.md").is_file()


def test_newsvendor_starter_fails_and_a_base_stock_search_passes(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv(course.SECRET_ENV, raising=False)
    code, starter = grade_json(capsys, "newsvendor", str(COURSE / "newsvendor" / "starter.py"))
    assert code == 1 and starter["passed"] is False and starter["hidden_seeds"] is False
    assert starter["cost"] > starter["threshold_cost"]
    solution = tmp_path / "alice.py"
    solution.write_text(SOLUTION)
    code, report = grade_json(capsys, "newsvendor", str(solution))
    bench = report["benchmarks"]
    assert code == 0 and report["passed"] is True and report["student"] == "alice"
    assert bench["optimum"] == pytest.approx(6.09, abs=0.01)  # Zipkin (2008), Table 3
    assert bench["optimum"] < bench["benchmark"] < bench["naive"]
    assert 0 < report["score"] <= 100


def test_hidden_seeds_come_from_the_secret_and_are_reproducible(tmp_path, monkeypatch):
    solution = tmp_path / "bob.py"
    solution.write_text(SOLUTION)
    monkeypatch.delenv(course.SECRET_ENV, raising=False)
    public = course.grade("newsvendor", solution, quick=True)
    monkeypatch.setenv(course.SECRET_ENV, "instructor-secret")
    hidden = course.grade("newsvendor", solution, quick=True)
    again = course.grade("newsvendor", solution, quick=True)
    assert hidden["hidden_seeds"] is True and hidden["cost"] == again["cost"]
    assert hidden["cost"] != public["cost"]


def test_a_broken_submission_fails_with_its_reason(tmp_path, capsys):
    broken = tmp_path / "carol.py"
    broken.write_text("def policy(obs):\n    return obs\n")
    code, report = grade_json(capsys, "newsvendor", str(broken))
    assert code == 1 and report["passed"] is False and "make_policy" in report["error"]
    assert main(["grade", "nope", str(broken)]) == 2
    assert "'ASSIGNMENT'" in capsys.readouterr().err


def test_class_board_from_a_folder_of_submissions(tmp_path, capsys):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "alice.py").write_text(SOLUTION)
    (folder / "bob.py").write_text((COURSE / "newsvendor" / "starter.py").read_text())
    out = tmp_path / "board"
    assert main(["grade", "newsvendor", "--board", str(folder), "--out", str(out), "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [g["student"] for g in result["grades"]] == ["alice", "bob"]  # passing first
    page = (out / "index.html").read_text()
    assert page.index("alice") < page.index("bob") and "pass" in page and "fail" in page
    assert json.loads((out / "grades.json").read_text())[0]["passed"] is True


def test_imitation_starter_runs_end_to_end(capsys):
    code, report = grade_json(capsys, "imitation", str(COURSE / "imitation" / "starter.py"))
    assert report["error"] is None and report["benchmarks"]["optimum"] is None
    assert "in_stock_rate" in report["metrics"] and code == (0 if report["passed"] else 1)


def test_ppo_starter_runs_end_to_end_on_a_tiny_budget(capsys, monkeypatch):
    pytest.importorskip("stable_baselines3")
    monkeypatch.setenv("PPO_TIMESTEPS", "256")
    code, report = grade_json(capsys, "ppo", str(COURSE / "ppo" / "starter.py"))
    assert report["error"] is None and report["cost"] > 0
    assert code == 1 and report["passed"] is False  # 256 steps of PPO do not beat base-stock
