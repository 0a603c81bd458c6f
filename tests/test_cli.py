"""The ``invgym`` command line: help everywhere, --version, --json, one-line errors naming the option."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import pytest

import invgym
from invgym.cli import main, parse_env_kwargs
from invgym.demand import Poisson
from invgym.registration import ENV_IDS


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help_list_every_command(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"invgym {invgym.__version__}"
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("list", "describe", "simulate", "solve", "train", "grade", "demo", "leaderboard"):
        assert command in out


@pytest.mark.parametrize("command", ["demo", "list", "describe", "simulate", "solve", "train", "grade",
                                     "leaderboard", "leaderboard run"])
def test_help_of_every_command_runs_nothing(capsys, command):
    code, out, _ = run(capsys, *command.split(), "--help")
    assert code == 0 and "Usage" in out
    assert "95 % CI" not in out  # demo --help prints help, it does not run the demo


def test_list_json_has_every_id_with_its_defaults(capsys):
    code, out, _ = run(capsys, "list", "--json")
    data = json.loads(out)
    assert code == 0 and sorted(data) == sorted(ENV_IDS)
    assert data["invgym/LostSales-v0"]["lead_time"] == 1
    assert data["invgym/LostSales-v0"]["lost_sales_cost"] == 9.0


def test_describe_resolves_parameters_and_shows_the_timeline(capsys):
    code, out, _ = run(capsys, "describe", "LostSales-v0", "-s", "lead_time=3", "--json")
    data = json.loads(out)
    assert code == 0 and data["parameters"]["lead_time"] == 3
    assert data["action_space"].startswith("Discrete(")
    assert "Arrival" in data["timeline"]
    code, out, _ = run(capsys, "describe", "invgym/Perishable-v0")
    assert code == 0 and "Period Timeline" in out


def test_describe_shows_the_space_the_env_offers(capsys):
    # ProcurementRemoval's signed orders are offered as indices from 0; describe must show that space, not the
    # scenario's signed one, and say how an index decodes.
    code, out, _ = run(capsys, "describe", "ProcurementRemoval-v0", "--json")
    data = json.loads(out)
    assert code == 0 and data["action_space"] == str(gym.make("invgym/ProcurementRemoval-v0").action_space)
    assert data["action_space"] == "Discrete(29)" and "-14" in data["action_decoding"]


def test_policy_names_are_spelling_insensitive(capsys):
    argv = ["simulate", "LostSales-v0", "--periods", "30", "--json", "--policy"]
    _, exact_name, _ = run(capsys, *argv, "BaseStock")
    code, kebab, _ = run(capsys, *argv, "base-stock")
    assert code == 0 and json.loads(kebab) == json.loads(exact_name)


def test_simulate_is_deterministic_and_prints_the_cost(capsys):
    argv = ["simulate", "LostSales-v0", "--policy", "BaseStock", "-s", "lead_time=2", "--periods", "60", "--json"]
    code, out, _ = run(capsys, *argv)
    first = json.loads(out)
    assert code == 0 and first["periods"] == 60
    means = first["per_period_means"]
    # The cost identity of the env, h * holding + p * lost, holds on the printed means.
    assert means["cost"] == pytest.approx(means["holding"] + 9.0 * means["lost"])
    assert first["average_cost"] == pytest.approx(means["cost"])
    _, again, _ = run(capsys, *argv)
    assert json.loads(again) == first
    _, other, _ = run(capsys, *argv[:-1], "--seed", "1", "--json")
    assert json.loads(other)["average_cost"] != first["average_cost"]


def test_solve_prints_zipkins_optimum(capsys):
    code, out, _ = run(capsys, "solve", "LostSales-v0", "-s", "lead_time=2", "--json")
    assert code == 0 and round(json.loads(out)["average_cost"], 2) == 6.09  # Zipkin (2008), Table 3


@pytest.mark.parametrize(("argv", "named"), [
    (["train", "LostSales-v0", "--agent", "foo"], "'--agent'"),
    (["simulate", "LostSales-v0", "--policy", "BaseStock", "--bogus"], "--bogus"),
    (["simulate", "LostSales-v0", "--policy", "Nope"], "'--policy'"),
    (["simulate", "LostSales-v0", "--policy", "BaseStock", "-s", "lead_time=-1"], "lead_time"),
    (["simulate", "LostSales-v0", "--policy", "BaseStock", "--periods", "0"], "'--periods'"),
    (["describe", "NoSuchEnv-v0"], "'ID'"),
    (["solve", "Retail-v0"], "retail"),
    (["leaderboard", "run", "--bogus"], "--bogus"),
])
def test_bad_arguments_give_one_line_naming_the_option(capsys, argv, named):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "error" in lines[0]


def test_set_parses_literals_and_demand_models():
    kwargs = parse_env_kwargs(["lead_time=4", "demand=Poisson(3)", "action_type=continuous", "initial_state=[1, 2]"])
    assert kwargs == {"lead_time": 4, "demand": Poisson(3), "action_type": "continuous", "initial_state": [1, 2]}


def test_python_dash_m_is_the_same_command():
    out = subprocess.run([sys.executable, "-m", "invgym", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"invgym {invgym.__version__}"


def train_json(capsys, env_id: str, agent: str, budget: int) -> dict:
    """``invgym train`` on a tiny budget and a tiny evaluation; its JSON, after checking it ran as asked."""
    code, out, _ = run(capsys, "train", env_id, "--agent", agent, "--budget", str(budget),
                       "--eval-envs", "4", "--eval-periods", "40", "--json")
    data = json.loads(out)
    assert code == 0 and data["budget"] == budget and data["agent"] == agent
    return data


@pytest.mark.slow
def test_train_direct_backprop_on_a_tiny_budget(capsys):
    pytest.importorskip("torch")
    data = train_json(capsys, "LostSales-v0", "direct-backprop", 3)
    assert data["average_cost"] > 0 and data["optimum"] == pytest.approx(5.44, abs=0.01)  # Zipkin L=1, p=9


@pytest.mark.slow
def test_train_orpr_on_a_tiny_budget(capsys):
    pytest.importorskip("stable_baselines3")
    assert train_json(capsys, "Replenishment-v0", "orpr", 1)["average_cost"] > 0
    code, _, err = run(capsys, "train", "LostSales-v0", "--agent", "orpr", "--budget", "1")
    assert code == 2 and "'--agent'" in err and "Replenishment-v0 only" in err
