"""Joint procurement and removal (Maggiar & Sadighian): ``invgym/ProcurementRemoval-v0``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from invgym.core._procurement_removal import PARTS, ProcurementRemovalKernel
from invgym.demand import DemandModel, Poisson, ProductMixture, check_demand, kernel_tables
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.parameters import Boolean, Custom, Interval, OneOf, Param, WholeOrReal
from invgym.validation import check_real, check_vector

__all__ = ["ProcurementRemovalConfig", "ProcurementRemovalEnv", "ProcurementRemovalVectorEnv"]

MAX_LEAD_TIME = 50
MAX_QUANTITY = 100_000
MAX_PHASES = 10_000
DEFAULT_SHORTAGE_COST = 9.0


def default_max_order(models: Sequence[DemandModel], lead_time: int, holding_cost: float,
                      shortage_cost: float) -> int:
    """The p/(p+h) quantile of demand over L+1 periods, the largest over products and phases.

    In the pure lost-sales case (no removal) this is Morton's (1971) bound on an optimal order; here it is the
    default ``max_order`` and ``max_removal``.
    """
    total = shortage_cost + holding_cost
    ratio = shortage_cost / total if total > 0 else 1.0
    return max(1, max(p.quantile(ratio, lead_time + 1) for m in models for p in m.products()))


def _check_schedule(value: Any, owner: str) -> tuple[DemandModel, ...]:
    what = (f"a non-empty sequence of at most {MAX_PHASES} demand models from invgym.demand (not product "
            "mixtures), one per phase")
    if isinstance(value, DemandModel) or not isinstance(value, Sequence) or not 1 <= len(value) <= MAX_PHASES:
        raise TypeError(f"The 'demand_schedule' parameter of {owner} must be {what}. Got {value!r} instead.")
    if not all(isinstance(m, DemandModel) and not isinstance(m, ProductMixture) for m in value):
        raise TypeError(f"The 'demand_schedule' parameter of {owner} must be {what}. Got {value!r} instead.")
    return tuple(value)


def _check_schedule_param(value: Any, name: str, owner: str, config: Any) -> tuple[DemandModel, ...]:
    return _check_schedule(value, owner)


def _check_demand(value: Any, name: str, owner: str, config: Any) -> DemandModel:
    if config.demand_schedule is not None:
        raise ValueError(
            f"The 'demand' parameter of {owner} must be None when 'demand_schedule' is given (the "
            f"schedule sets every period's demand). Got demand={value!r}."
        )
    return check_demand(value, owner, name)


def _shortage(backlog: bool) -> Any:
    """The check of ``lost_sales_cost`` (backlog=False) or ``backorder_cost`` (backlog=True): one of them applies."""

    def check(value: Any, name: str, owner: str, config: Any) -> float:
        if config.backlog != backlog:
            # The cost that does not apply is stored as 0; any other value is an error, never silently ignored.
            if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool) and value == 0:
                return 0.0
            used = "backorder_cost" if config.backlog else "lost_sales_cost"
            raise ValueError(
                f"The '{name}' parameter of {owner} applies only when backlog={backlog}; with "
                f"backlog={config.backlog} set '{used}' instead. Got {name}={value!r}."
            )
        return check_real(value, name, owner, 0.0, None)

    return check


def _quantity(config: Any) -> float:
    """Default ``max_order`` and ``max_removal``: :func:`default_max_order` over the products and phases."""
    models = config.demand_schedule if config.demand_schedule is not None else (config.demand,)
    default = default_max_order(models, config.lead_time, config.holding_cost, config.shortage_cost)
    return WholeOrReal(0, MAX_QUANTITY, as_float=True).check(default, "max_order", config.owner, config)


def _initial_state(value: Any, name: str, owner: str, config: Any) -> tuple[float, ...]:
    # Net inventory may start negative (waiting customers) only when backlogging; orders in transit never.
    state = check_vector(value, name, owner, max(config.lead_time, 1), None if config.backlog else 0.0, None)
    if np.any(state[1:] < 0):
        raise ValueError(
            f"The 'initial_state' parameter of {owner} must hold outstanding orders (entries 1..) >= 0. "
            f"Got {state.tolist()!r} instead."
        )
    return tuple(state.tolist())


_COSTS = ("lost_sales_cost", "backorder_cost")
_QUANTITY_NEEDS = ("demand", "demand_schedule", "lead_time", "holding_cost", *_COSTS, "action_type")


class ProcurementRemovalConfig(ScenarioConfig):
    """Validated parameters of the procurement-removal scenario (see :class:`ProcurementRemovalEnv`).

    ``demand`` is None when a ``demand_schedule`` is given. Of ``lost_sales_cost`` (p) and ``backorder_cost``
    (b) only the one of the mode applies (``backlog``); the other is 0. :attr:`shortage_cost` is the one that
    applies.
    """

    parts: ClassVar[tuple[str, ...]] = PARTS
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("lead_time", "int", 1, Interval(int, 0, MAX_LEAD_TIME), "periods from order to arrival", "L",
              "periods"),
        Param("demand", "DemandModel", None,
              Custom(_check_demand, "any, ``ProductMixture`` too; None with a schedule"),
              "demand distribution of one period", "D", "units",
              derive=lambda c: Poisson(5.0) if c.demand_schedule is None else None,
              default_doc="``Poisson(5.0)`` (None with a schedule)", needs=("demand_schedule",)),
        Param("demand_schedule", "sequence of DemandModel", None,
              Custom(_check_schedule_param, f"1 to {MAX_PHASES} plain models (no mixtures)"),
              "period t draws from model t mod S (see below)", "$D_\\phi$"),
        Param("backlog", "bool", False, Boolean(), "unmet demand waits (backorders) instead of being lost"),
        Param("holding_cost", "float", 1.0, Interval(float, 0.0, None), "cost of a unit on hand at period end",
              "h", "per unit"),
        Param("lost_sales_cost", "float", None, Custom(_shortage(False), "[0, inf); only with ``backlog=False``"),
              "cost of a unit of demand lost", "p", "per unit",
              derive=lambda c: 0.0 if c.backlog else DEFAULT_SHORTAGE_COST,
              default_doc=f"{DEFAULT_SHORTAGE_COST} (0 with ``backlog=True``)", needs=("backlog",)),
        Param("backorder_cost", "float", None, Custom(_shortage(True), "[0, inf); only with ``backlog=True``"),
              "cost of a unit backordered, per period", "b", "per unit",
              derive=lambda c: DEFAULT_SHORTAGE_COST if c.backlog else 0.0,
              default_doc=f"{DEFAULT_SHORTAGE_COST} (0 with ``backlog=False``)", needs=("backlog",)),
        Param("purchase_cost", "float", 2.0, Interval(float, 0.0, None), "cost of a unit ordered", "c",
              "per unit"),
        # Net salvage above the purchase cost would make "buy, then remove" a money pump.
        Param("salvage_value", "float", 1.0,
              Interval(float, 0.0, lambda c: c.purchase_cost + c.removal_cost, doc="[0, c + k]"),
              "value of a unit removed", "s", "per unit", needs=("purchase_cost", "removal_cost")),
        Param("removal_cost", "float", 0.0, Interval(float, 0.0, None), "cost of removing a unit", "k",
              "per unit"),
        Param("max_order", "int | float", None, WholeOrReal(0, MAX_QUANTITY, as_float=True),
              "largest order (float if continuous)", unit="units", derive=_quantity,
              default_doc="see below", needs=_QUANTITY_NEEDS),
        Param("max_removal", "int | float", None, WholeOrReal(0, MAX_QUANTITY, as_float=True),
              "largest removal (float if continuous)", unit="units", derive=_quantity,
              default_doc="see below", needs=_QUANTITY_NEEDS),
        Param("horizon", "int", 1000, Interval(int, 1, 10**12), "periods per episode (then truncation)", "T",
              "periods"),
        Param("action_type", "str", "discrete", OneOf(ACTION_TYPES), "integer or real orders"),
        Param("initial_state", "tuple[float, ...]", None,
              Custom(_initial_state, "max(L,1) numbers: orders in transit >= 0; on-hand >= 0 unless ``backlog``"),
              "net inventory, then outstanding orders oldest first", unit="units",
              derive=lambda c: (0.0,) * max(c.lead_time, 1), default_doc="zeros", needs=("lead_time", "backlog")),
    )

    def replace(self, **changes: Any) -> ProcurementRemovalConfig:
        """Return a validated copy with some parameters changed (e.g. a longer horizon for evaluation).

        Switching ``backlog`` without naming a cost carries the shortage cost over to the other mode; giving
        ``demand`` clears ``demand_schedule`` and vice versa.
        """
        changes = dict(changes)
        if "backlog" in changes and changes["backlog"] != self.backlog and not set(_COSTS) & set(changes):
            used = "backorder_cost" if changes["backlog"] else "lost_sales_cost"
            changes.update({name: None for name in _COSTS}, **{used: self.shortage_cost})
        if "demand" in changes and "demand_schedule" not in changes:
            changes["demand_schedule"] = None
        elif "demand_schedule" in changes and "demand" not in changes:
            changes["demand"] = None
        return super().replace(**changes)

    @property
    def shortage_cost(self) -> float:
        """The shortage cost that applies: ``backorder_cost`` (b) with ``backlog=True``, else ``lost_sales_cost``."""
        return self.backorder_cost if self.backlog else self.lost_sales_cost

    @property
    def width(self) -> int:
        """Length of the stock state (on-hand plus L-1 outstanding orders): max(L, 1)."""
        return max(self.lead_time, 1)

    @property
    def num_phases(self) -> int:
        """Number of schedule phases S (0 for stationary demand)."""
        return 0 if self.demand_schedule is None else len(self.demand_schedule)

    def demand_at(self, period: int) -> DemandModel:
        """Return the demand model of period ``period`` (phase ``period mod S`` with a schedule)."""
        if self.demand_schedule is None:
            return self.demand
        return self.demand_schedule[period % len(self.demand_schedule)]

    @property
    def action_low(self) -> np.ndarray:  # noqa: D102 - documented on ScenarioConfig
        return np.array([-self.max_removal])

    @property
    def action_high(self) -> np.ndarray:  # noqa: D102
        return np.array([self.max_order])

    @property
    def obs_low(self) -> np.ndarray:  # noqa: D102
        low = np.zeros(self.width + (1 if self.num_phases else 0), dtype=np.float32)
        if self.backlog:
            low[0] = -np.inf
        return low

    @property
    def obs_high(self) -> np.ndarray:  # noqa: D102
        high = np.full(self.width + (1 if self.num_phases else 0), np.inf, dtype=np.float32)
        high[1 : self.width] = self.max_order  # an outstanding order is at most max_order
        if self.num_phases:
            high[self.width] = self.num_phases - 1
        return high

    def make_kernel(self, num_envs: int) -> ProcurementRemovalKernel:  # noqa: D102
        phases: tuple = (None, None, None)
        if self.demand_schedule is not None:
            # One alias row per phase (kernel_tables lays out a mixture's products the same way). The base
            # class gets phase 0's row alone: it is never sampled, and a one-row bank keeps reset from drawing
            # a "product" out of the phases.
            phases = kernel_tables(ProductMixture(list(self.demand_schedule)))
            prob, alias, support = phases[0][:1], phases[1][:1], phases[2][:1]
        else:
            prob, alias, support = kernel_tables(self.demand)
        return ProcurementRemovalKernel(
            num_envs, self.horizon, self.lead_time, self.backlog, self.holding_cost, self.shortage_cost,
            self.purchase_cost, self.salvage_value, self.removal_cost, self.max_order, self.max_removal,
            np.array(self.initial_state), prob, alias, support, *phases,
        )


class ProcurementRemovalEnv(KernelEnv):
    r"""Periodic-review inventory where the agent may both order stock and remove excess stock.

    ## Description

    A single item is reviewed every period (Maggiar & Sadighian, Amazon). Each period the agent either orders
    units, which arrive ``lead_time`` (L) periods later at ``purchase_cost`` c each, or removes units from the
    shelf at once, returned or liquidated for ``salvage_value`` s each at a ``removal_cost`` k each. Unmet
    demand is lost (cost p per unit) or, with ``backlog=True``, backordered (cost b per unit per period).
    Removal pays when demand falls — a declining or seasonal mean given by ``demand_schedule`` — or when the
    system starts overstocked. The optimal policy has an interval structure: order up to a, remove down to b,
    do nothing in between; ``invgym.baselines.IntervalStock`` fits such a policy.

    ## Action Space

    One signed quantity u per period: u > 0 orders u units, u < 0 asks to remove -u units, u = 0 does
    nothing. With ``action_type="discrete"`` the space is ``Discrete(max_removal + max_order + 1)``, indices
    from 0 as SB3, RLlib and CleanRL assume, decoded inside the env as u = a - max_removal (index 0 removes
    ``max_removal`` units, index ``max_removal`` does nothing, the last index orders ``max_order``); with
    ``"continuous"`` it is ``Box(-max_removal, max_order, (1,), float32)``, u itself (fractional units allowed,
    no rounding). An action outside the space raises ``ValueError``; it is never clipped. Baselines and
    ``invgym.evaluate`` work in u (``config.action_low .. action_high``).

    **Removal is "up to" the shelf.** A removal request takes min(-u, on-hand) units (on-hand at the time of
    the decision, after this period's arrival; nothing when on-hand <= 0) and ``info["removed"]`` reports what
    actually left. This is part of the dynamics, not a repair: an agent's action space must be the same in
    every state (Gymnasium's and SB3's checkers, and every RL algorithm, draw actions without seeing the
    state), so a request beyond the shelf cannot be an error; it is charged and credited only for the units
    removed. The single signed action means ordering and removing never happen in the same period; an
    interval policy on the inventory position never does both.

    ## Observation Space

    A float32 vector of length ``max(L, 1)``, plus one when a ``demand_schedule`` is given:

    | index | meaning | symbol | min | max |
    |---|---|---|---|---|
    | 0 | on-hand stock after this period's arrival (net inventory if ``backlog``) | $x_0$ | 0 (-inf) | inf |
    | 1 .. L-1 | outstanding orders placed in t-L+1, ..., t-1 (oldest first) | $x_1 .. x_{L-1}$ | 0 | max_order |
    | max(L,1) | phase of the period, t mod S (only with ``demand_schedule``) | $\phi_t$ | 0 | S-1 |

    The inventory position $x_0 + \dots + x_{L-1}$ and the phase are all an interval policy needs.

    ## Period Timeline

    1. **Arrival**: the order placed in period t-L (if L >= 1) is added to on-hand stock.
    2. **Observe**: the agent sees (on-hand, outstanding orders oldest first, phase).
    3. **Order or remove**: an order q_t = u joins the pipeline (with L = 0 it is on hand at once); a removal
       takes r_t = min(-u, max(on-hand, 0)) units off the shelf now.
    4. **Demand**: D_t is drawn from the period's model (``demand``, or ``demand_schedule[t mod S]``), or
       replayed from a demand path.
    5. **Sales and lost sales or backlog**: under lost sales min(on-hand, D_t) is sold and the rest lost; with
       backlogging the net inventory falls by D_t and any negative part waits as backorders.
    6. **Costs** on the end-of-period state: h · on-hand + p · lost (or b · backorders) + c · q_t + k · r_t
       - s · r_t. An order placed in t first serves demand in t + L.

    ## Rewards

    Reward = -(h · end-of-period on-hand + p · lost units + b · backordered units + c · ordered units
    + k · removed units - s · removed units), undiscounted, per period. It is positive only when salvage
    exceeds the period's other costs.

    ## Starting State

    ``initial_state`` (on-hand, or net inventory with backlog, then outstanding orders), zeros by default. A
    positive on-hand start (e.g. ``initial_state=[40, 0]``) with a declining schedule is the overstock setting
    that removal is for.

    ## Episode End

    - Termination: never (the system runs forever).
    - Truncation: after ``horizon`` periods.

    ## Information

    ``info`` after every step: ``cost`` (= -reward), ``holding`` (end-of-period on-hand units), ``lost`` (lost
    units; 0 with backlog), ``backlog`` (end-of-period backorders; 0 under lost sales), ``sales`` (units of this
    period's demand met from the shelf at once, min(D_t, on-hand^+); backorders filled later are not counted
    again), ``demand``, ``order`` (units ordered), ``removed``
    (units actually removed) and ``salvage`` (revenue s · removed). The identity
    ``cost = h·holding + p·lost + b·backlog + c·order + k·removed - salvage`` holds exactly, and stock is
    conserved: the inventory position (on-hand + pipeline) changes by ``order - removed - sales`` under lost
    sales and by ``order - removed - demand`` with backlog.
    ``reset`` returns an empty ``info``.

    ## Arguments

    {arguments}

    **Demand schedule.** ``demand_schedule=[m_0, ..., m_{S-1}]`` draws period t's demand from ``m_{t mod S}``:
    a seasonal cycle is one season's models (e.g. ``[Poisson(m) for m in (3, 5, 8, 5)]``), a declining mean
    over an episode is ``horizon`` models (e.g. ``[Poisson(10 * 0.99**t) for t in range(T)]``); the phase
    t mod S is then observed. ``demand`` must be left None with a schedule. Net salvage s - k may not exceed
    c (``salvage_value <= purchase_cost + removal_cost``), else buying to remove would be a money pump. The
    unused shortage cost (``backorder_cost`` under lost sales, ``lost_sales_cost`` with backlog) must not be
    passed. The default ``max_order`` and ``max_removal`` are the p/(p+h) quantile of demand over L+1 periods
    (Morton's 1971 bound in the pure lost-sales case), the largest over products and phases.
    ``reset(options={"demand_path": d})`` replays the demand sequence ``d``.

    ## Vectorized environment

    ``gym.make_vec("invgym/ProcurementRemoval-v0", num_envs=N, vectorization_mode="vector_entry_point")``
    returns a :class:`ProcurementRemovalVectorEnv` that steps all N envs in one compiled call:

    >>> import gymnasium as gym, numpy as np, invgym
    >>> envs = gym.make_vec("invgym/ProcurementRemoval-v0", num_envs=3, vectorization_mode="vector_entry_point",
    ...                     lead_time=2, initial_state=[20, 0])
    >>> obs, _ = envs.reset(seed=0)
    >>> max_removal = int(envs.config.max_removal)
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([-4, 0, 6]) + max_removal)  # u = a - 14
    >>> obs.shape, info["removed"].tolist(), info["order"].tolist()
    ((3, 2), [4.0, 0.0, 0.0], [0.0, 0.0, 6.0])

    Env i of a vector env reset with ``seed=s`` replays the single env reset with ``seed=s + i``.

    ## References

    - A. Maggiar and A. Sadighian, joint inventory procurement and removal (Amazon): the scenario and the
      interval structure of its optimal policy. ``tests/test_procurement_removal.py`` checks that the exact
      optimum (``invgym.baselines.exact_procurement_removal``) is an interval policy on small instances.
    - P. Zipkin (2008), "Old and new methods for lost-sales inventory systems", Operations Research 56(5):
      with ``max_removal=0``, ``purchase_cost=0`` and lost sales this is Zipkin's model, and
      ``tests/test_procurement_removal.py`` reproduces cells of his Table 3 with the exact solver.

    ## Version History

    - v0: initial release.
    - v0, 2026-12-06: discrete actions are indices from 0 (decoded as u = a - max_removal) instead of
      ``Discrete(n, start=-max_removal)``, which SB3's and RLlib's discrete policies cannot sample. The
      dynamics, rewards and every leaderboard cost are unchanged (baselines and the leaderboard act in u on the
      kernel), so under the project's rule (a new -vN marks a change of dynamics or reward) the id stays -v0.
      Code that stepped the env with signed discrete orders adds ``max_removal``.
    """

    config_class = ProcurementRemovalConfig


class ProcurementRemovalVectorEnv(KernelVectorEnv):
    """``num_envs`` procurement-removal envs stepped together; takes :class:`ProcurementRemovalEnv`'s keywords."""

    config_class = ProcurementRemovalConfig
