"""The one registry of scenarios: every part of a scenario, declared in one place.

Each :class:`Scenario` names its parts by entry-point strings (``"module:attribute"``), so this module imports
nothing of invgym and ``setup.py`` reads it to list the compiled kernels. A part is imported only when a consumer
asks for it (:meth:`Scenario.load`); a part a scenario does not declare (``None``) or one that cannot be imported
is a clear error, never a silent fallback. Everything keyed by scenario reads this registry: gymnasium
registration, ``family_of``, the twins, ``solve_exact``, the leaderboard's naive policy, the evaluation metrics,
the structural properties of the optimal policy and the ORPR teacher.

Adding a scenario = its own files (kernel, env module, and whatever parts it declares) + one entry in
:data:`SCENARIOS` (see ``docs/architecture.md``). :func:`add_scenario` registers one from outside the package.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

__all__ = ["PARTS", "SCENARIOS", "Scenario", "add_scenario", "get_scenario", "load_entry_point", "scenario_of"]

PARTS = ("config", "env", "vector_env", "kernel", "twin", "exact_solver", "naive_policy", "metrics", "teacher")
"""The parts a scenario can declare by entry point (``config``, ``env``, ``vector_env`` and ``kernel`` always)."""


def load_entry_point(entry: str) -> Any:
    """Import ``"module:attribute"`` and return the attribute (ImportError/AttributeError say which failed)."""
    module, sep, attribute = entry.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"an entry point must be 'module:attribute'. Got {entry!r} instead.")
    value = importlib.import_module(module)
    for name in attribute.split("."):
        value = getattr(value, name)
    return value


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Everything invgym knows about one scenario, by entry point.

    Attributes:
        name: the scenario's stem and family name (``"lost_sales"``): ``invgym/envs/<name>.py``,
            ``invgym/core/_<name>.pyx``, ``tests/test_<name>.py``.
        env_id: the registered Gymnasium id (namespaced and versioned).
        config: the :class:`~invgym.envs.common.ScenarioConfig` subclass (its parameter table).
        env: the single env class.
        vector_env: the native vector env class.
        kernel: the compiled batch kernel class.
        twin: the torch twin class (``from_config``), or None when the scenario has none.
        exact_solver: ``solver(config, *, max_states=..., max_memory_gb=..., tol=...) -> ExactSolution``, or None.
        naive_policy: ``naive(config) -> (policy, description)``: the policy that scores 0 on the leaderboard.
        metrics: a dict ``{name: metric(totals, env_periods)}`` that ``evaluate`` reports, or None to report the
            average of every per-period part.
        structure: names of :data:`invgym.agents.structure.PROPERTIES` known to hold for an optimal policy.
        teacher: the ORPR grid teacher (:class:`invgym.agents.orpr.GridTeacher`), or None.
    """

    name: str
    env_id: str
    config: str
    env: str
    vector_env: str
    kernel: str
    twin: str | None = None
    exact_solver: str | None = None
    naive_policy: str | None = None
    metrics: str | None = None
    structure: tuple[str, ...] = ()
    teacher: str | None = None

    @property
    def kernel_module(self) -> str:
        """The compiled module that holds the kernel (setup.py builds each such module once)."""
        return self.kernel.partition(":")[0]

    def declares(self, part: str) -> bool:
        """Return whether the scenario declares ``part`` (one of :data:`PARTS`)."""
        if part not in PARTS:
            raise ValueError(f"unknown scenario part {part!r}; the parts are {list(PARTS)}.")
        return getattr(self, part) is not None

    def load(self, part: str) -> Any:
        """Import and return ``part`` (one of :data:`PARTS`); ValueError if the scenario does not declare it."""
        if not self.declares(part):
            raise ValueError(f"the {self.name} scenario declares no {part.replace('_', ' ')} (see invgym.scenarios).")
        entry = getattr(self, part)
        try:
            return load_entry_point(entry)
        except (ImportError, AttributeError) as err:
            raise type(err)(f"the {self.name} scenario's {part} {entry!r} cannot be loaded: {err}") from err


_SHARED = "invgym.baselines.naive"

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(
        "lost_sales", "invgym/LostSales-v0",
        config="invgym.envs.lost_sales:LostSalesConfig",
        env="invgym.envs.lost_sales:LostSalesEnv",
        vector_env="invgym.envs.lost_sales:LostSalesVectorEnv",
        kernel="invgym.core._lost_sales:LostSalesKernel",
        twin="invgym.twins.lost_sales:LostSalesTwin",
        exact_solver="invgym.baselines.exact_lost_sales:solve_lost_sales",
        naive_policy=f"{_SHARED}:lost_sales",
        metrics="invgym.metrics:LOST_SALES_METRICS",
        structure=("monotone", "bounded_sensitivity", "ordered_sensitivity"),
        teacher="invgym.agents.orpr:BASE_STOCK_TEACHER",
    ),
    Scenario(
        "procurement_removal", "invgym/ProcurementRemoval-v0",
        config="invgym.envs.procurement_removal:ProcurementRemovalConfig",
        env="invgym.envs.procurement_removal:ProcurementRemovalEnv",
        vector_env="invgym.envs.procurement_removal:ProcurementRemovalVectorEnv",
        kernel="invgym.core._procurement_removal:ProcurementRemovalKernel",
        twin="invgym.twins.procurement_removal:ProcurementRemovalTwin",
        exact_solver="invgym.baselines.exact_procurement_removal:solve_procurement_removal",
        naive_policy=f"{_SHARED}:procurement_removal",
        structure=("monotone", "bounded_sensitivity"),
    ),
    Scenario(
        "dual_sourcing", "invgym/DualSourcing-v0",
        config="invgym.envs.dual_sourcing:DualSourcingConfig",
        env="invgym.envs.dual_sourcing:DualSourcingEnv",
        vector_env="invgym.envs.dual_sourcing:DualSourcingVectorEnv",
        kernel="invgym.core._dual_sourcing:DualSourcingKernel",
        twin="invgym.twins.dual_sourcing:DualSourcingTwin",
        exact_solver="invgym.baselines.exact_dual_sourcing:solve_dual_sourcing",
        naive_policy=f"{_SHARED}:dual_sourcing",
        structure=("monotone", "bounded_sensitivity", "bounded_total_sensitivity"),
    ),
    Scenario(
        "perishable", "invgym/Perishable-v0",
        config="invgym.envs.perishable:PerishableConfig",
        env="invgym.envs.perishable:PerishableEnv",
        vector_env="invgym.envs.perishable:PerishableVectorEnv",
        kernel="invgym.core._perishable:PerishableKernel",
        twin="invgym.twins.perishable:PerishableTwin",
        exact_solver="invgym.baselines.exact_perishable:solve_perishable",
        naive_policy=f"{_SHARED}:perishable",
        metrics="invgym.metrics:PERISHABLE_METRICS",
        structure=("monotone", "bounded_sensitivity"),
    ),
    Scenario(
        "retail", "invgym/Retail-v0",
        config="invgym.envs.retail:RetailConfig",
        env="invgym.envs.retail:RetailEnv",
        vector_env="invgym.envs.retail:RetailVectorEnv",
        kernel="invgym.core._retail:RetailKernel",
        twin="invgym.twins.retail:RetailTwin",
        naive_policy=f"{_SHARED}:panel",
        metrics="invgym.metrics:RETAIL_METRICS",
        structure=("monotone",),
    ),
    Scenario(
        "replenishment", "invgym/Replenishment-v0",
        config="invgym.envs.replenishment:ReplenishmentConfig",
        env="invgym.envs.replenishment:ReplenishmentEnv",
        vector_env="invgym.envs.replenishment:ReplenishmentVectorEnv",
        kernel="invgym.core._replenishment:ReplenishmentKernel",
        naive_policy=f"{_SHARED}:panel",
        metrics="invgym.metrics:REPLENISHMENT_METRICS",
        structure=("monotone",),
        teacher="invgym.agents.orpr:DAYS_OF_COVER_TEACHER",
    ),
)}
"""Every scenario by name, in registration order. Extend it with :func:`add_scenario`, never by assignment."""


def add_scenario(scenario: Scenario) -> None:
    """Add a scenario to the registry and register its env id with Gymnasium.

    Raises ValueError if its name or env id is already taken.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"add_scenario expects an invgym.scenarios.Scenario. Got {scenario!r} instead.")
    if scenario.name in SCENARIOS or any(s.env_id == scenario.env_id for s in SCENARIOS.values()):
        raise ValueError(f"a scenario named {scenario.name!r} or with id {scenario.env_id!r} is already registered.")
    SCENARIOS[scenario.name] = scenario
    from invgym.registration import register_scenario

    register_scenario(scenario)


def get_scenario(name: str) -> Scenario:
    """Return the scenario called ``name``; ValueError naming the known ones otherwise."""
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown scenario {name!r}; the scenarios are {list(SCENARIOS)}.") from None


def scenario_of(config: Any) -> Scenario:
    """Return the scenario whose config class ``config`` is an instance of (compared by entry point)."""
    by_config = {s.config: s for s in SCENARIOS.values()}
    for cls in type(config).__mro__:
        scenario = by_config.get(f"{cls.__module__}:{cls.__qualname__}")
        if scenario is not None:
            return scenario
    raise ValueError(f"{type(config).__name__} is the config of no registered scenario (known configs: "
                     f"{list(by_config)}); add its Scenario to invgym.scenarios.")
