"""The scenario registry and the parameter tables: every declared part loads and behaves; the toy diff works.

``check_scenario`` walks one :class:`invgym.scenarios.Scenario` through every part it declares (and checks that
the parts it does not declare are clear errors). It runs on every built-in scenario and on the toy scenario of
``docs/adding_a_scenario.md``, registered from the diff printed there.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import re
import runpy
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import invgym
from invgym.envs.common import KernelEnv, KernelVectorEnv, ScenarioConfig, config_of, family_of
from invgym.parameters import arguments_table
from invgym.registration import ENV_IDS
from invgym.scenarios import PARTS, SCENARIOS, Scenario, add_scenario, get_scenario, scenario_of

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adding_a_scenario.md"
TOY = ROOT / "tests" / "toy_scenario.py"


def _small(scenario: Scenario) -> ScenarioConfig:
    """The scenario's default config with a short horizon."""
    config = scenario.load("config")()
    return config.replace(horizon=30)


def check_scenario(scenario: Scenario) -> None:  # noqa: C901 - one check per part, read top to bottom
    """Check every part ``scenario`` declares loads and behaves, and every part it does not declare is refused."""
    # config: the table builds a valid default config; replace (both kinds) validates and is lossless.
    config_cls = scenario.load("config")
    assert issubclass(config_cls, ScenarioConfig) and config_cls.parameters
    config = config_cls()
    assert dataclasses.replace(config) == config and config.replace() == config
    assert scenario_of(config) is scenario and family_of(config) == scenario.name
    horizon = next(p for p in config_cls.parameters if p.name == "horizon")
    with pytest.raises(ValueError, match=f"The 'horizon' parameter of {config_cls.__name__} must be an int"):
        dataclasses.replace(config, horizon=0)
    public = [p for p in config_cls.parameters if p.public]
    assert horizon.public

    # env and vector env: real signatures with the table's defaults; the docstring holds the table.
    env_cls, vector_cls = scenario.load("env"), scenario.load("vector_env")
    assert issubclass(env_cls, KernelEnv) and env_cls.config_class is config_cls
    assert issubclass(vector_cls, KernelVectorEnv) and vector_cls.config_class is config_cls
    signature = inspect.signature(env_cls)
    assert list(signature.parameters) == [p.name for p in public] + ["render_mode"]
    assert all(signature.parameters[p.name].default == p.default for p in public)
    vector_signature = inspect.signature(vector_cls)
    own = ["num_envs", "autoreset_mode", "render_mode"]
    assert list(vector_signature.parameters) == [*own, *(p.name for p in public), "copy", "info_parts"]
    assert arguments_table(public) in inspect.cleandoc(env_cls.__doc__)
    assert gym.spec(scenario.env_id).entry_point == scenario.env
    assert gym.spec(scenario.env_id).vector_entry_point == scenario.vector_env

    # kernel: the config builds the declared kernel class, from a compiled module.
    kernel_cls = scenario.load("kernel")
    bound = _small(scenario).bind(2)
    assert type(bound.kernel) is kernel_cls
    assert Path(importlib.import_module(scenario.kernel_module).__file__).suffix in (".so", ".pyd")

    # Both envs run: the registered id, and the vector env replaying env i with seed + i.
    env = gym.make(scenario.env_id, horizon=30)
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    action = env.action_space.sample()
    single = env.step(action)
    vector = vector_cls(num_envs=2, horizon=30)
    vector.reset(seed=2)
    batch = vector.step(np.stack([action, action]))
    assert np.array_equal(batch[0][1], single[0]) and batch[1][1] == single[1]

    small = _small(scenario)
    if scenario.declares("metrics"):
        table = scenario.load("metrics")
        assert table and all(callable(metric) for metric in table.values())
    if scenario.declares("naive_policy"):
        policy, description = scenario.load("naive_policy")(small)
        assert isinstance(description, str) and description
        result = invgym.evaluate(policy, small, num_envs=2, periods=20, warmup=0)
        assert math.isfinite(result.average_cost) and result.average_cost >= 0
        if scenario.declares("metrics"):
            assert set(result.metrics) == set(scenario.load("metrics"))
    if scenario.declares("exact_solver"):
        solver = scenario.load("exact_solver")
        assert {"max_states", "tol"} <= set(inspect.signature(solver).parameters)
        with pytest.raises(ValueError, match="state"):  # every solver refuses an instance above max_states
            solver(small, max_states=1)
    else:
        from invgym.baselines import solve_exact

        with pytest.raises(ValueError, match=f"no exact solver for the '{scenario.name}' family"):
            solve_exact(small)
    if scenario.declares("twin") or scenario.structure or scenario.declares("teacher"):
        pytest.importorskip("torch")
    if scenario.declares("twin"):
        import torch

        from invgym.twins import twin_for

        twin = twin_for(small)
        assert isinstance(twin, scenario.load("twin")) and tuple(twin.parts) == tuple(config_cls.parts)
        width = len(small.action_low)
        out = twin.rollout(lambda o: torch.zeros(o.shape[0], width, dtype=o.dtype), torch.zeros(2, 3))
        assert out.parts["cost"].shape == (2, 3) and torch.isfinite(out.total_cost).all()
    if scenario.structure:
        from invgym.agents.structure import PROPERTIES

        assert set(scenario.structure) <= set(PROPERTIES)
    if scenario.declares("teacher"):
        from invgym.agents.orpr import GridTeacher

        teacher = scenario.load("teacher")
        assert isinstance(teacher, GridTeacher) and len(teacher.levels(small)) > 0
        assert teacher.metric in scenario.load("metrics")

    for part in PARTS:
        if not scenario.declares(part):
            with pytest.raises(ValueError, match=f"the {scenario.name} scenario declares no"):
                scenario.load(part)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_declared_part_of_a_scenario_loads_and_behaves(name):
    check_scenario(SCENARIOS[name])


def test_the_registry_is_the_one_list_of_scenarios():
    """Names are stems, ids are unique, registration and the kernel list read the registry."""
    assert ENV_IDS == tuple(s.env_id for s in SCENARIOS.values())
    assert len(set(ENV_IDS)) == len(ENV_IDS) and all(i.startswith("invgym/") for i in ENV_IDS)
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert scenario.config.startswith(f"invgym.envs.{name}:") and scenario.kernel_module == f"invgym.core._{name}"
        assert scenario.twin is None or scenario.twin.startswith(f"invgym.twins.{name}:")
        assert scenario.env_id in gym.registry
    assert [s.name for s in SCENARIOS.values() if s.twin is None] == ["replenishment"]


def test_setup_builds_the_kernel_of_every_registered_scenario(monkeypatch):
    """setup.py's compiled-module list is derived from the registry (plus the shared kernel modules)."""
    import Cython.Build
    import setuptools

    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: None)
    monkeypatch.setattr(Cython.Build, "cythonize", lambda extensions, **kwargs: extensions)
    monkeypatch.chdir(ROOT)
    setup = runpy.run_path(str(ROOT / "setup.py"))
    assert "invgym.core._kernel" in setup["SHARED"]
    assert setup["KERNELS"] == [*setup["SHARED"], *dict.fromkeys(s.kernel_module for s in SCENARIOS.values())]


def test_unknown_or_missing_parts_are_clear_errors():
    with pytest.raises(ValueError, match="unknown scenario 'nope'; the scenarios are"):
        get_scenario("nope")
    broken = dataclasses.replace(SCENARIOS["lost_sales"], twin="invgym.twins.lost_sales:NoSuchTwin")
    with pytest.raises(AttributeError, match="the lost_sales scenario's twin .*NoSuchTwin.* cannot be loaded"):
        broken.load("twin")
    missing = dataclasses.replace(SCENARIOS["lost_sales"], exact_solver="invgym.baselines.no_such_module:solve")
    with pytest.raises(ImportError, match="exact_solver .* cannot be loaded"):
        missing.load("exact_solver")
    with pytest.raises(ValueError, match="unknown scenario part 'kernal'"):
        SCENARIOS["lost_sales"].load("kernal")
    with pytest.raises(ValueError, match="already registered"):
        add_scenario(SCENARIOS["lost_sales"])

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Unregistered(ScenarioConfig):
        pass

    with pytest.raises(ValueError, match="Unregistered is the config of no registered scenario"):
        family_of(Unregistered())


# === The parameter table ===


def test_a_directly_built_config_is_valid_or_raises_and_derived_defaults_are_computed():
    from invgym.envs.lost_sales import LostSalesConfig, LostSalesEnv, morton_max_order

    config = LostSalesConfig(lead_time=2)
    assert config.max_order == morton_max_order(config.demand, 2, 1.0, 9.0) and config.initial_state == (0.0, 0.0)
    assert LostSalesEnv(lead_time=2).config == dataclasses.replace(config, owner="LostSalesEnv")
    with pytest.raises(ValueError, match=r"The 'lead_time' parameter of LostSalesConfig must be an int in the "
                                         r"range \[0, 50\]. Got -1 instead."):
        LostSalesConfig(lead_time=-1)
    with pytest.raises(TypeError):
        LostSalesConfig("LostSalesEnv", 2)  # keyword-only: no field order to depend on
    with pytest.raises(ValueError, match="'initial_state' parameter of LostSalesConfig must be a sequence of 3"):
        dataclasses.replace(config, lead_time=3)  # the stored state no longer fits: replace validates


def test_replace_follows_derived_windows_but_dataclasses_replace_keeps_what_it_is_given():
    from invgym.envs.retail import RetailConfig

    train = RetailConfig()
    test = train.replace(split="test")
    assert test.window[0] > train.window[0] and test.horizon == test.window[1]
    with pytest.raises(ValueError, match="'window' parameter of RetailConfig must be a pair .* inside the test"):
        dataclasses.replace(train, split="test")  # the train window is not inside the test window: an error
    part = dataclasses.replace(train, window=(train.window[0] + 5, 10), horizon=10)
    assert part.window == (train.window[0] + 5, 10) and part.products == train.products


def test_the_docstring_table_and_signature_come_from_the_table():
    from invgym.envs.dual_sourcing import DualSourcingEnv

    doc = inspect.cleandoc(DualSourcingEnv.__doc__)
    assert "{arguments}" not in doc
    row = next(line for line in doc.splitlines() if line.startswith("| ``regular_lead_time``"))
    assert "[l_e + 1, 50]" in row and "periods" in row
    assert str(inspect.signature(DualSourcingEnv)).startswith("(regular_lead_time: 'int' = 2, expedited_lead_time")
    with pytest.raises(TypeError, match="DualSourcingEnv: got an unexpected keyword argument 'lead_time'"):
        DualSourcingEnv(lead_time=2)


# === The toy scenario of docs/adding_a_scenario.md ===


def _diff_blocks() -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"```diff\n(.*?)```", DOC.read_text(), re.S)]


def _added(lines: list[str]) -> str:
    return "".join(line[1:] + "\n" for line in lines if line.startswith("+") and not line.startswith("+++"))


@pytest.fixture
def toy():
    """Register the toy scenario from the docs' diff (and remove it again afterwards)."""
    new_file, entry = _diff_blocks()
    assert "+++ b/tests/toy_scenario.py" in new_file and _added(new_file) == TOY.read_text()
    assert "+++ b/invgym/scenarios.py" in entry
    source = (ROOT / "invgym" / "scenarios.py").read_text()
    body = [line for line in entry if line[:1] in (" ", "+", "-") and not line.startswith(("+++", "---"))]
    first = next(i for i, line in enumerate(body) if line.startswith("+"))
    last = max(i for i, line in enumerate(body) if line.startswith("+"))
    before, after = ("".join(line[1:] + "\n" for line in part) for part in (body[:first], body[last + 1:]))
    assert before + after in source  # the hunk applies: its context lines are adjacent in the registry
    scenario = eval(_added(entry).rstrip().rstrip(","), {"Scenario": Scenario})  # noqa: S307 - our own docs
    add_scenario(scenario)
    yield scenario
    del SCENARIOS[scenario.name]
    del gym.registry[scenario.env_id]


def test_the_toy_scenario_of_the_docs_is_built_from_its_files_and_one_registry_entry(toy):
    check_scenario(toy)
    env = gym.make("invgym-toy/Instant-v0", lost_sales_cost=9.0)
    assert env.unwrapped.config.lost_sales_cost == 9.0 and family_of(env) == "instant"
    with pytest.raises(ValueError, match=r"The 'holding_cost' parameter of InstantEnv must be a float in the "
                                         r"range \[0, inf\). Got -1.0 instead."):
        gym.make("invgym-toy/Instant-v0", holding_cost=-1.0)


def test_the_toy_twin_replays_its_kernel(toy):
    torch = pytest.importorskip("torch")
    from invgym.twins import twin_for

    config = config_of("invgym-toy/Instant-v0", horizon=50)
    policy, _ = toy.load("naive_policy")(config)
    env = gym.make("invgym-toy/Instant-v0", horizon=50).unwrapped
    obs, _ = env.reset(seed=7)
    costs, demands = [], []
    for _ in range(50):
        obs, reward, _, _, info = env.step(int(policy(obs[None, :])[0]))
        costs.append(-reward)
        demands.append(info["demand"])
    out = twin_for(config).rollout(lambda o: torch.as_tensor(policy(o.numpy())).to(o.dtype),
                                   torch.tensor([demands], dtype=torch.float64))
    assert out.parts["cost"][0].tolist() == pytest.approx(costs)
