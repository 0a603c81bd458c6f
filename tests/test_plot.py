"""invgym.plot: every picture draws on real runs, writes PNG and SVG, and the default ranges suit exact tables."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("matplotlib")

import invgym  # noqa: E402
from invgym import plot  # noqa: E402
from invgym.baselines import BaseStock, solve_exact  # noqa: E402

ENV_ID = "invgym/LostSales-v0"


def _pixels(path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(str(path))


def test_import_invgym_does_not_import_matplotlib():
    code = "import sys, invgym, invgym.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_trajectory_and_cost_breakdown_of_a_run(tmp_path):
    env = gym.make(ENV_ID, lead_time=2).unwrapped
    policy = BaseStock.fit(ENV_ID, lead_time=2)
    obs, _ = env.reset(seed=0)
    observations, infos = [], []
    for _ in range(50):
        observations.append(obs)
        obs, _, _, _, info = env.step(int(policy(obs)[0]))
        infos.append(info)
    fig = plot.trajectory(np.array(observations), infos, config=env.config, title="base-stock")
    png = plot.save(fig, tmp_path / "run.png")
    assert _pixels(png).std() > 0.05
    means = {k: float(np.mean([i[k] for i in infos])) for k in infos[0]}
    parts = plot.cost_parts(env.config, means)
    assert sum(parts.values()) == pytest.approx(means["cost"])  # h * holding + p * lost is the whole cost
    svg = plot.save(plot.cost_breakdown({"base-stock": parts}), tmp_path / "costs.svg")
    assert svg.read_text().lstrip().startswith("<?xml") and "holding" in svg.read_text()
    with pytest.raises(ValueError, match="one row per info"):
        plot.trajectory(np.array(observations[:3]), infos, config=env.config)


@pytest.mark.slow
def test_policy_contour_default_range_covers_an_exact_table(tmp_path):
    exact = solve_exact(ENV_ID, lead_time=2)
    fig = plot.policy_contour(exact.policy, ENV_ID, lead_time=2)  # the default range stays inside the table
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("on-hand") and ax.get_ylabel().startswith("order arriving next")
    assert ax.get_ylim()[1] <= exact.policy.params["order_bound"] + 0.5
    assert _pixels(plot.save(fig, tmp_path / "contour.png")).std() > 0.05
    with pytest.raises(ValueError, match="'dims' parameter"):
        plot.policy_contour(exact.policy, ENV_ID, dims=(0, 5), lead_time=2)


def test_policy_maps_difference_is_zero_against_itself_and_not_against_base_stock():
    exact = solve_exact(ENV_ID, lead_time=2).policy
    fig = plot.policy_maps({"optimal": exact, "same": exact, "base-stock": BaseStock.fit(ENV_ID, lead_time=2)},
                           ENV_ID, lead_time=2)
    same, base = (ax for ax in fig.axes if ax.get_title() in ("same - optimal", "base-stock - optimal"))
    assert np.abs(same.collections[0].get_array()).max() == 0
    assert np.abs(base.collections[0].get_array()).max() > 0


@pytest.mark.slow
def test_leaderboard_charts_use_stable_colours_and_round_axes(tmp_path):
    gaps = {"lost-sales": {"BaseStock": 3.2, "Myopic": 0.4, "my-agent": 1.1}, "retail": {"DaysOfCover": 12.0}}
    fig = plot.gap_by_track(gaps, learned=["my-agent"])
    assert fig.axes[0].get_xlim() == (0, 20.0)  # 12 % * 1.35 rounded up to a 1-2-2.5-5 step
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["lost-sales", "retail"]
    assert plot.colour_for("BaseStock") == plot.colour_for("BaseStock") != plot.colour_for("Myopic")
    points = [{"track": t, "name": n, "reference": 10.0, "cost": 10.0 * (1 + g / 100)}
              for t, entries in gaps.items() for n, g in entries.items()]
    fig = plot.cost_vs_reference(points, learned=["my-agent"])
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["lost-sales", "retail"]
    plot.save(fig, tmp_path / "scatter.svg")
    with pytest.raises(ValueError, match="'path' parameter of save"):
        plot.save(fig, tmp_path / "scatter.gif")


@pytest.mark.slow
def test_cli_simulate_writes_the_trajectory_picture(tmp_path, capsys):
    from invgym.cli import main

    out = tmp_path / "sim.png"
    assert main(["simulate", "LostSales-v0", "-p", "BaseStock", "--periods", "30", "--plot", str(out),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plot"] == str(out)
    assert _pixels(out).std() > 0.05
    assert invgym.__version__
