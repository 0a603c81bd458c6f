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


IMITATION = {
    "naive": """
from invgym.leaderboard.baselines import naive_policy


def make_policy(config):
    return naive_policy(config)[0]
""",
    "constant": """
import numpy as np


def make_policy(config):
    return lambda obs: np.full(len(obs), 20, dtype=np.int64)
""",
    "teacher": """
from invgym.baselines import DaysOfCover


def make_policy(config):
    return DaysOfCover.fit(config.replace(split="train"))
""",
    # Tasks 1-3 done: label the teacher, clone it on its own features (mean sales, inventory position), then
    # raise the cover when a promotion is announced, by the uplift cheapest on the train window.
    "completed": """
import gymnasium as gym
import numpy as np

import invgym
from invgym.baselines import DaysOfCover


def make_policy(config):
    train = config.replace(split="train", product="all")
    teacher = DaysOfCover.fit(train)
    s, window, high = config.slices, int(teacher.params["window"]), float(config.action_high[0])

    def features(obs):
        obs = np.asarray(obs, dtype=np.float64)
        return (obs[:, s["sales"]][:, -window:].mean(axis=1), obs[:, s["inventory"]].sum(axis=1),
                obs[:, s["promo"]].max(axis=1))

    envs = gym.make_vec("invgym/Replenishment-v0", num_envs=200, vectorization_mode="vector_entry_point",
                        split="train", product="all")
    obs, _ = envs.reset(seed=0)
    xs, ys = [], []
    for _ in range(120):
        action = np.asarray(teacher(obs)).reshape(-1)
        xs.append(obs.copy())
        ys.append(action)
        obs, *_ = envs.step(action.astype(np.int64))
    x, y = np.concatenate(xs), np.concatenate(ys).astype(np.float64)
    rate, position, _ = features(x)
    ordered = y > 0
    w = np.linalg.lstsq(np.column_stack([rate, position, np.ones(len(x))])[ordered], y[ordered], rcond=None)[0]

    def with_uplift(uplift):
        def policy(obs):
            rate, position, promo = features(obs)
            raw = w[0] * rate * (1.0 + uplift * promo) + w[1] * position + w[2]
            return np.clip(np.ceil(raw - 1e-9), 0, high).astype(np.int64)
        return policy

    costs = {u: invgym.evaluate(with_uplift(u), train, num_envs=200, periods=300, warmup=30, seed=1).average_cost
             for u in (0.0, 0.25, 0.5, 1.0)}
    return with_uplift(min(costs, key=costs.get))
""",
}


def test_imitation_fails_trivial_submissions_and_the_plain_clone_and_passes_a_completed_one(capsys, tmp_path,
                                                                                            monkeypatch):
    monkeypatch.delenv(course.SECRET_ENV, raising=False)
    reports = {}
    for name, source in IMITATION.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        code, reports[name] = grade_json(capsys, "imitation", str(path))
        assert reports[name]["error"] is None and code == (0 if reports[name]["passed"] else 1)
    code, reports["starter"] = grade_json(capsys, "imitation", str(COURSE / "imitation" / "starter.py"))
    bench = reports["starter"]["benchmarks"]
    teacher_in_stock = bench["benchmark_metrics"]["in_stock_rate"]
    assert bench["optimum"] is None and bench["benchmark"] < bench["naive"]  # the teacher beats the naive rule
    assert {name: r["passed"] for name, r in reports.items()} == {
        "naive": False, "constant": False, "teacher": False, "completed": True, "starter": False}
    assert reports["naive"]["score"] == pytest.approx(0.0) and reports["teacher"]["score"] == pytest.approx(100.0)
    assert reports["teacher"]["cost"] == pytest.approx(bench["benchmark"])  # a faithful copy only ties the teacher
    # The starter's plain linear clone is within a hair of the teacher's cost but stocks out more often.
    assert reports["starter"]["metrics"]["in_stock_rate"] < teacher_in_stock
    assert reports["completed"]["cost"] <= reports["completed"]["threshold_cost"] < bench["benchmark"]
    assert reports["completed"]["metrics"]["in_stock_rate"] >= teacher_in_stock


def test_ppo_starter_runs_end_to_end_on_a_tiny_budget(capsys, monkeypatch):
    pytest.importorskip("stable_baselines3")
    monkeypatch.setenv("PPO_TIMESTEPS", "256")
    code, report = grade_json(capsys, "ppo", str(COURSE / "ppo" / "starter.py"))
    assert report["error"] is None and report["cost"] > 0
    assert code == 1 and report["passed"] is False  # 256 steps of PPO do not beat base-stock
