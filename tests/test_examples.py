"""examples/: every script runs on a small budget and prints figures that agree with the literature or its baselines."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from invgym.leaderboard import submit
from invgym.leaderboard._io import read_json

pytestmark = pytest.mark.slow  # training or leaderboard runs: deselect with -m 'not slow'

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TABLE_3 = json.loads((Path(__file__).parent / "data" / "zipkin_2008_table3.json").read_text())
PRINTED = 0.005  # half a unit in the last printed digit of Zipkin's Table 3


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_listed_in_the_examples_readme():
    """examples/README.md names every script, so none is undocumented."""
    listed = (EXAMPLES / "README.md").read_text()
    scripts = sorted(path.name for path in EXAMPLES.glob("*.py"))
    assert scripts and all(f"`{name}`" in listed for name in scripts), scripts


def test_quickstart_reproduces_zipkin(capsys):
    """The quickstart's base-stock cost and optimum are Zipkin's (2008) Table 3 figures for L = 2, p = 9."""
    figures = _load("quickstart").main([])
    published = TABLE_3["9"]["2"]
    assert abs(figures["optimum"] - published["optimal"]) < PRINTED
    assert abs(figures["base_stock"] - published["base_stock"]) < 4 * figures["stderr"] + PRINTED
    assert "gap" in capsys.readouterr().out


def test_direct_backprop_example_beats_base_stock():
    """A short DirectBackprop run already beats the best base-stock policy on the same demand."""
    pytest.importorskip("torch")
    figures = _load("direct_backprop").main(["--epochs", "60"])
    assert figures["optimum"] - 4 * figures["stderr"] < figures["learnt"] < figures["base_stock"]


def test_figure1_example_renders_the_two_by_four_grid(tmp_path):
    """The Figure 1 script trains both policies on a tiny budget and writes a readable PNG of the 2 x 4 grid."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from PIL import Image

    out = tmp_path / "figure1.png"
    figures = _load("figure1").main(["--epochs", "2", "--products", "4", "--history", "8", "--resolution", "7",
                                     "--eval-envs", "4", "--out", str(out)])
    assert figures["path"] == str(out) and sorted(figures["products"]) == [0, 1, 2, 3]
    assert set(figures["rows"]) == {"unpenalised", "penalised"}
    for row in figures["rows"].values():
        assert math.isfinite(row["cost"]) and 0.0 <= row["ordered_sensitivity"] <= 1.0
    rows = figures["rows"]  # the paired difference is the mean of per-env differences: it equals the cost gap
    assert figures["paired"]["diff"] == pytest.approx(rows["penalised"]["cost"] - rows["unpenalised"]["cost"])
    assert figures["paired"]["stderr"] >= 0.0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1400, 660)
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically


def test_sb3_ppo_example_runs():
    """The PPO example trains, is evaluated through predict, and prints the three rows."""
    pytest.importorskip("stable_baselines3")
    figures = _load("sb3_ppo").main(["--timesteps", "2048"])
    assert math.isfinite(figures["ppo"]) and figures["ppo"] > figures["optimum"] - 0.1
    assert abs(figures["optimum"] - TABLE_3["9"]["2"]["optimal"]) < PRINTED


def test_orpr_example_clone_matches_teacher():
    """ORPR's quick run reports all three policies; the clone's cost is within 2 % of the teacher's."""
    pytest.importorskip("torch")
    report = _load("orpr_replenishment").main(["--quick"])
    assert set(report) == {"teacher", "pretrained", "fine-tuned"}
    teacher, clone = report["teacher"]["cost"], report["pretrained"]["cost"]
    assert abs(clone - teacher) <= 0.02 * teacher
    assert all(0.0 <= metrics["in_stock_rate"] <= 1.0 for metrics in report.values())


def test_leaderboard_agent_example_submits(tmp_path):
    """The example submission file goes through `submit` with no failed instance and a plausible gap."""
    path = submit(f"{EXAMPLES / 'leaderboard_agent.py'}:make_agent", "example", quick=True, root=tmp_path,
                  tracks=["lost-sales"], progress=False)
    rows = read_json(path)["results"]
    assert rows and all(row["status"] == "ok" for row in rows)
    # Capped base-stock is near-optimal at short lead times: never below the optimum, within 3 % of it.
    assert all(-4 * row["stderr"] < row["average_cost"] - row["reference_cost"] < 0.03 * row["reference_cost"]
               for row in rows)
