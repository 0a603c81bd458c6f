"""The learned leaderboard entries (agents/board.py): retrain on a tiny budget, resume, record, render."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from invgym.agents.board import ENTRIES, load_policy, retrain  # noqa: E402
from invgym.leaderboard import render  # noqa: E402
from invgym.leaderboard._io import read_json  # noqa: E402
from invgym.leaderboard.record import check_document  # noqa: E402
from invgym.leaderboard.suite import DEFAULT_SUITE  # noqa: E402

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

INSTANCE = "lost-sales/L1-p9"
COMMITTED = Path(__file__).resolve().parents[1] / "leaderboard"


def _small_suite(path: Path) -> Path:
    """The packaged suite with one instance and a short protocol."""
    data = read_json(DEFAULT_SUITE)
    tracks = []
    for track in data["tracks"]:
        keep = [dict(i, protocol={"num_envs": 8, "periods": 300, "warmup": 30, "seed": 0})
                for i in track["instances"] if i["id"] == INSTANCE]
        if keep:
            tracks.append({**track, "instances": keep})
    data["tracks"] = tracks
    path.write_text(json.dumps(data))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_entry_retrains_on_a_tiny_budget_records_its_training_and_resumes(tmp_path, capsys):
    suite = _small_suite(tmp_path / "suite.json")
    root = tmp_path / "board"
    [path] = retrain(["KL-PPO"], budget="tiny", root=root, suite=suite, progress=True)
    assert "trained" in capsys.readouterr().out
    document = read_json(path)
    assert check_document(document) == []
    [row] = document["results"]
    assert row["instance"] == INSTANCE and row["status"] == "ok" and row["gap_pct"] is not None
    training = document["training"]
    assert training["seed"] == 0 and "python -m invgym.agents.board" in training["command"]
    assert training["settings"]["timesteps"] > 0 and training["settings"]["select_best"] is False
    record = training["instances"][INSTANCE]
    artifact = root / record["artifact"]
    assert record["cpu_seconds"] > 0 and _sha(artifact) == record["sha256"]
    agent_py = root / "learned" / "KL-PPO" / "agent.py"
    assert document["agent"]["sha256"] == _sha(agent_py) and record["sha256"] in agent_py.read_text()
    # The board renders it next to anything else in results/, without training.
    render(root=root, suite=suite)
    assert "KL-PPO" in (root / "LEADERBOARD.md").read_text()
    # A second run keeps the artifact (same settings) and writes the same scores.
    mtime = artifact.stat().st_mtime_ns
    [again] = retrain(["KL-PPO"], budget="tiny", root=root, suite=suite, progress=True)
    assert "kept" in capsys.readouterr().out and artifact.stat().st_mtime_ns == mtime
    assert read_json(again)["results"][0]["average_cost"] == row["average_cost"]


def test_a_changed_artifact_is_refused_and_bad_settings_name_the_parameter(tmp_path):
    import invgym

    folder = tmp_path / "entry"
    folder.mkdir()
    (folder / "x.pt").write_bytes(b"not the trained policy")
    env = invgym.make("invgym/LostSales-v0", lead_time=1, lost_sales_cost=9.0) if hasattr(invgym, "make") else None
    import gymnasium as gym

    env = env or gym.make("invgym/LostSales-v0", lead_time=1, lost_sales_cost=9.0)
    key = repr(env.unwrapped.config)
    with pytest.raises(RuntimeError, match="changed since it was trained"):
        load_policy(folder, {key: ("x.pt", "0" * 64, "sb3-policy")}, env)
    with pytest.raises(ValueError, match="has no trained policy"):
        load_policy(folder, {}, env)
    with pytest.raises(ValueError, match="'entries' parameter names 'Nope'"):
        retrain(["Nope"], root=tmp_path)
    with pytest.raises(ValueError, match="'budget' parameter must be one of"):
        retrain(["PPO"], budget="huge", root=tmp_path)
    with pytest.raises(ValueError, match="'tracks' parameter names 'nowhere'"):
        retrain(["PPO"], tracks=["nowhere"], root=tmp_path)


def test_the_committed_learned_entries_are_sound():
    # Every learned result file in leaderboard/results validates, records how it was trained, and names
    # artifacts that are in the repository with the recorded sha256.
    found = 0
    for name in ENTRIES:
        path = COMMITTED / "results" / f"{name}.json"
        if not path.is_file():
            continue
        found += 1
        document = read_json(path)
        assert check_document(document) == [], name
        assert document["agent"]["sha256"] == _sha(COMMITTED / "learned" / name / "agent.py")
        for instance, record in document["training"]["instances"].items():
            assert _sha(COMMITTED / record["artifact"]) == record["sha256"], (name, instance)
        assert {r["instance"] for r in document["results"]} == set(document["training"]["instances"])
    if not found:
        pytest.skip("no learned entry committed yet")


def test_check_finds_a_committed_learned_entry_from_any_directory(tmp_path, monkeypatch):
    # The result file names the agent relative to the leaderboard folder (learned/<entry>/agent.py:make_agent):
    # `check` looks for it there, not in the current directory (it used to skip the entry: "does not exist").
    from invgym.leaderboard.check import check

    monkeypatch.chdir(tmp_path)
    report = check(root=COMMITTED, entries=["ORPR-clone"], instances=[INSTANCE], jobs=1, progress=False)
    assert report.skipped == [] and len(report.rows) == 1, report.summary()
    assert report.rows[0]["verdict"] == "identical", report.summary()
