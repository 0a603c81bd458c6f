"""Joint procurement and removal (Maggiar & Sadighian): ``invgym/ProcurementRemoval-v0``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from invgym.core._procurement_removal import PARTS, ProcurementRemovalKernel
from invgym.demand import DemandModel, Poisson, ProductMixture, check_demand, kernel_tables
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.validation import check_bool, check_choice, check_int, check_real, check_vector

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


def _check_shortage(backlog: bool, lost_sales_cost: Any, backorder_cost: Any, owner: str) -> float:
    # Exactly one shortage cost applies; passing the other one is an error, not silently ignored.
    used, unused = ("backorder_cost", "lost_sales_cost") if backlog else ("lost_sales_cost", "backorder_cost")
    values = {"lost_sales_cost": lost_sales_cost, "backorder_cost": backorder_cost}
    if values[unused] is not None:
        raise ValueError(
            f"The '{unused}' parameter of {owner} applies only when backlog={not backlog}; with backlog={backlog} "
            f"set '{used}' instead. Got {unused}={values[unused]!r}."
        )
    value = DEFAULT_SHORTAGE_COST if values[used] is None else values[used]
    return check_real(value, used, owner, 0.0, None)


def _check_quantity(value: Any, name: str, owner: str, action_type: str) -> float:
    if action_type == "discrete":
        return float(check_int(value, name, owner, 0, MAX_QUANTITY))
    return check_real(value, name, owner, 0.0, float(MAX_QUANTITY))


@dataclasses.dataclass(frozen=True)
class ProcurementRemovalConfig(ScenarioConfig):
    """Validated parameters of the procurement-removal scenario (see :class:`ProcurementRemovalEnv`).

    ``demand`` is None when a ``demand_schedule`` is given; ``shortage_cost`` is the lost-sales cost p or, with
    ``backlog=True``, the backorder cost b (the env's ``lost_sales_cost`` / ``backorder_cost`` keywords).
    """

    parts: ClassVar[tuple[str, ...]] = PARTS
    lead_time: int = 1
    demand: DemandModel | None = dataclasses.field(default_factory=lambda: Poisson(5.0))
    demand_schedule: tuple[DemandModel, ...] | None = None
    backlog: bool = False
    holding_cost: float = 1.0
    shortage_cost: float = DEFAULT_SHORTAGE_COST
    purchase_cost: float = 2.0
    salvage_value: float = 1.0
    removal_cost: float = 0.0
    max_order: float = 0.0
    max_removal: float = 0.0
    horizon: int = 1000
    action_type: str = "discrete"
    initial_state: tuple[float, ...] = ()

    @classmethod
    def validate(
        cls,
        owner: str,
        lead_time: Any = 1,
        demand: Any = None,
        demand_schedule: Any = None,
        backlog: Any = False,
        holding_cost: Any = 1.0,
        lost_sales_cost: Any = None,
        backorder_cost: Any = None,
        purchase_cost: Any = 2.0,
        salvage_value: Any = 1.0,
        removal_cost: Any = 0.0,
        max_order: Any = None,
        max_removal: Any = None,
        horizon: Any = 1000,
        action_type: Any = "discrete",
        initial_state: Any = None,
        shortage_cost: Any = None,
    ) -> ProcurementRemovalConfig:
        """Check every parameter (raising ValueError/TypeError that names it) and return the config.

        ``shortage_cost`` is accepted so that ``replace`` can round-trip a config; users pass
        ``lost_sales_cost`` or ``backorder_cost``.
        """
        lead_time = check_int(lead_time, "lead_time", owner, 0, MAX_LEAD_TIME)
        backlog = check_bool(backlog, "backlog", owner)
        if shortage_cost is not None:
            if lost_sales_cost is not None or backorder_cost is not None:
                raise ValueError(f"{owner}: give 'shortage_cost' or 'lost_sales_cost'/'backorder_cost', not both.")
            lost_sales_cost, backorder_cost = (None, shortage_cost) if backlog else (shortage_cost, None)
        shortage = _check_shortage(backlog, lost_sales_cost, backorder_cost, owner)
        if demand_schedule is not None:
            if demand is not None:
                raise ValueError(
                    f"The 'demand' parameter of {owner} must be None when 'demand_schedule' is given (the "
                    f"schedule sets every period's demand). Got demand={demand!r}."
                )
            demand_schedule = _check_schedule(demand_schedule, owner)
        else:
            demand = check_demand(Poisson(5.0) if demand is None else demand, owner)
        holding_cost = check_real(holding_cost, "holding_cost", owner, 0.0, None)
        purchase_cost = check_real(purchase_cost, "purchase_cost", owner, 0.0, None)
        removal_cost = check_real(removal_cost, "removal_cost", owner, 0.0, None)
        # Net salvage above the purchase cost would make "buy, then remove" a money pump.
        salvage_value = check_real(salvage_value, "salvage_value", owner, 0.0, purchase_cost + removal_cost)
        action_type = check_choice(action_type, "action_type", owner, ACTION_TYPES)
        models = demand_schedule if demand_schedule is not None else (demand,)
        default = default_max_order(models, lead_time, holding_cost, shortage)
        max_order = _check_quantity(default if max_order is None else max_order, "max_order", owner, action_type)
        max_removal = _check_quantity(default if max_removal is None else max_removal, "max_removal", owner,
                                      action_type)
        horizon = check_int(horizon, "horizon", owner, 1, 10**12)
        width = max(lead_time, 1)
        if initial_state is None:
            initial_state = np.zeros(width)
        # Net inventory may start negative (waiting customers) only when backlogging; orders in transit never.
        initial_state = check_vector(initial_state, "initial_state", owner, width, None if backlog else 0.0, None)
        if np.any(initial_state[1:] < 0):
            raise ValueError(
                f"The 'initial_state' parameter of {owner} must hold outstanding orders (entries 1..) >= 0. "
                f"Got {initial_state.tolist()!r} instead."
            )
        return cls(owner, lead_time, demand, demand_schedule, backlog, holding_cost, shortage, purchase_cost,
                   salvage_value, removal_cost, max_order, max_removal, horizon, action_type,
                   tuple(initial_state.tolist()))

    def replace(self, **changes: Any) -> ProcurementRemovalConfig:
        """Return a validated copy with some parameters changed (e.g. a longer horizon for evaluation)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        if "lost_sales_cost" in changes or "backorder_cost" in changes:
            fields.pop("shortage_cost")
        if fields["action_type"] == "discrete":  # stored as floats, validated as ints
            fields["max_order"], fields["max_removal"] = int(self.max_order), int(self.max_removal)
        if "demand" in changes and "demand_schedule" not in changes:
            fields["demand_schedule"] = None
        elif "demand_schedule" in changes and "demand" not in changes:
            fields["demand"] = None
        fields.update(changes)
        owner = fields.pop("owner")
        return type(self).validate(owner, **fields)

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
    def lost_sales_cost(self) -> float:
        """The cost p per lost unit (0 when backlogging)."""
        return 0.0 if self.backlog else self.shortage_cost

    @property
    def backorder_cost(self) -> float:
        """The cost b per backordered unit per period (0 under lost sales)."""
        return self.shortage_cost if self.backlog else 0.0

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

    | parameter | symbol | type | default | allowed |
    |---|---|---|---|---|
    | ``lead_time`` | L | int | 1 | [0, 50] |
    | ``demand`` | D | ``invgym.demand`` model | ``Poisson(5.0)`` | any, ``ProductMixture`` too; None with a schedule |
    | ``demand_schedule`` | $D_\phi$ | sequence of models | None | 1 to 10000 plain models (no mixtures) |
    | ``backlog`` | | bool | False | True, False |
    | ``holding_cost`` | h | float | 1.0 | [0, inf) |
    | ``lost_sales_cost`` | p | float | 9.0 | [0, inf); only with ``backlog=False`` |
    | ``backorder_cost`` | b | float | 9.0 | [0, inf); only with ``backlog=True`` |
    | ``purchase_cost`` | c | float | 2.0 | [0, inf) |
    | ``salvage_value`` | s | float | 1.0 | [0, c + k] |
    | ``removal_cost`` | k | float | 0.0 | [0, inf) |
    | ``max_order`` | | int (float if continuous) | see below | [0, 100000] |
    | ``max_removal`` | | int (float if continuous) | see below | [0, 100000] |
    | ``horizon`` | T | int | 1000 | [1, 10^12] |
    | ``action_type`` | | str | "discrete" | "discrete", "continuous" |
    | ``initial_state`` | | max(L,1) floats | zeros | orders in transit >= 0; on-hand >= 0 unless ``backlog`` |

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

    def __init__(
        self,
        lead_time: int = 1,
        demand: DemandModel | None = None,
        demand_schedule: Sequence[DemandModel] | None = None,
        backlog: bool = False,
        holding_cost: float = 1.0,
        lost_sales_cost: float | None = None,
        backorder_cost: float | None = None,
        purchase_cost: float = 2.0,
        salvage_value: float = 1.0,
        removal_cost: float = 0.0,
        max_order: float | None = None,
        max_removal: float | None = None,
        horizon: int = 1000,
        action_type: str = "discrete",
        initial_state: Any = None,
        render_mode: str | None = None,
    ) -> None:
        config = ProcurementRemovalConfig.validate(
            type(self).__name__, lead_time=lead_time, demand=demand, demand_schedule=demand_schedule,
            backlog=backlog, holding_cost=holding_cost, lost_sales_cost=lost_sales_cost,
            backorder_cost=backorder_cost, purchase_cost=purchase_cost, salvage_value=salvage_value,
            removal_cost=removal_cost, max_order=max_order, max_removal=max_removal, horizon=horizon,
            action_type=action_type, initial_state=initial_state,
        )
        super().__init__(config, render_mode)


class ProcurementRemovalVectorEnv(KernelVectorEnv):
    """``num_envs`` procurement-removal envs stepped together; takes :class:`ProcurementRemovalEnv`'s keywords."""

    def __init__(self, num_envs: int = 1, autoreset_mode: Any = "next_step", render_mode: str | None = None,
                 **kwargs: Any) -> None:
        config = ProcurementRemovalConfig.validate(type(self).__name__, **kwargs)
        super().__init__(config, num_envs, autoreset_mode, render_mode)
