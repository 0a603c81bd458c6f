"""Lost sales with a lead time (Zipkin 2008): ``invgym/LostSales-v0``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from invgym.core._lost_sales import PARTS, LostSalesKernel
from invgym.demand import DemandModel, Poisson, kernel_tables
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.parameters import Demand, Interval, OneOf, Param, Vector, WholeOrReal
from invgym.validation import MAX_STATE

__all__ = ["LostSalesConfig", "LostSalesEnv", "LostSalesVectorEnv", "morton_max_order"]

MAX_LEAD_TIME = 50
MAX_ORDER = 100_000
MAX_HISTORY = 1024


def morton_max_order(demand: DemandModel, lead_time: int, holding_cost: float, lost_sales_cost: float) -> int:
    """Morton's (1971) bound: an optimal order never exceeds the p/(p+h) quantile of demand over L+1 periods.

    For a product mixture, the largest bound over its products. Used as the default ``max_order``.
    """
    ratio = lost_sales_cost / (lost_sales_cost + holding_cost) if lost_sales_cost + holding_cost > 0 else 1.0
    return max(1, max(p.quantile(ratio, lead_time + 1) for p in demand.products()))


def _morton(config: LostSalesConfig) -> int:
    return morton_max_order(config.demand, config.lead_time, config.holding_cost, config.lost_sales_cost)


class LostSalesConfig(ScenarioConfig):
    """Validated parameters of the lost-sales scenario (see :class:`LostSalesEnv` for their meaning)."""

    parts: ClassVar[tuple[str, ...]] = PARTS
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("lead_time", "int", 1, Interval(int, 0, MAX_LEAD_TIME), "periods from order to arrival",
              "L", "periods"),
        Param("demand", "DemandModel", Poisson(5.0), Demand(),
              "demand distribution of one period (a mixture: one product drawn per episode)", "D", "units"),
        Param("holding_cost", "float", 1.0, Interval(float, 0.0, None), "cost of a unit on hand at period end",
              "h", "per unit"),
        Param("lost_sales_cost", "float", 9.0, Interval(float, 0.0, None), "cost of a unit of demand lost", "p",
              "per unit"),
        Param("purchase_cost", "float", 0.0, Interval(float, 0.0, None), "cost of a unit ordered", "c",
              "per unit"),
        Param("max_order", "int | float", None, WholeOrReal(0, MAX_ORDER), "largest order (float if continuous)",
              unit="units", derive=_morton, default_doc="Morton's bound",
              needs=("demand", "lead_time", "holding_cost", "lost_sales_cost", "action_type")),
        Param("horizon", "int", 1000, Interval(int, 1, 10**12), "periods per episode (then truncation)", "T",
              "periods"),
        Param("action_type", "str", "discrete", OneOf(ACTION_TYPES), "integer or real orders"),
        Param("history", "int", 0, Interval(int, 0, MAX_HISTORY), "past sales appended to the observation", "H",
              "periods"),
        Param("initial_state", "tuple[float, ...]", None,
              Vector(lambda c: max(c.lead_time, 1), 0.0, MAX_STATE, "max(L, 1) numbers in [0, 1e7]"),
              "on-hand stock, then outstanding orders oldest first", unit="units",
              derive=lambda c: (0.0,) * max(c.lead_time, 1), default_doc="zeros", needs=("lead_time",)),
    )

    @property
    def width(self) -> int:
        """Length of Zipkin's state (on-hand plus L-1 outstanding orders): max(L, 1)."""
        return max(self.lead_time, 1)

    @property
    def obs_low(self) -> np.ndarray:  # noqa: D102
        return np.zeros(self.width + self.history, dtype=np.float32)

    @property
    def obs_high(self) -> np.ndarray:  # noqa: D102
        high = np.full(self.width + self.history, np.inf, dtype=np.float32)
        high[1 : self.width] = self.max_order  # an outstanding order is at most max_order
        return high

    def make_kernel(self, num_envs: int) -> LostSalesKernel:  # noqa: D102
        prob, alias, support = kernel_tables(self.demand)
        return LostSalesKernel(num_envs, self.horizon, self.lead_time, self.holding_cost, self.lost_sales_cost,
                               self.purchase_cost, self.max_order, self.history, np.array(self.initial_state),
                               prob, alias, support)


class LostSalesEnv(KernelEnv):
    r"""Periodic-review inventory with lost sales and a lead time, in Zipkin's (2008) conventions.

    ## Description

    A single item is reviewed every period. Each period the agent orders a quantity that arrives ``lead_time``
    (L) periods later; demand that cannot be met from stock on hand is lost. The goal is to minimise the long-run
    average of holding plus lost-sales (plus purchase) cost. With Poisson(5) demand, h = 1 and p in
    {4, 9, 19, 39}, L = 1..4 this is exactly the instance set of Zipkin (2008), Table 3.

    ## Action Space

    ``Discrete(max_order + 1)`` — the integer order quantity q in {0, ..., max_order} — when
    ``action_type="discrete"``; ``Box(0, max_order, (1,), float32)`` when ``"continuous"``. Continuous orders are
    used as they are (fractional units allowed, no rounding). An action outside the space (negative, above
    ``max_order``, NaN, or a float for the discrete space) raises ``ValueError``: it is never clipped silently.

    ## Observation Space

    A float32 vector of length ``max(L, 1) + history``:

    | index | meaning | symbol | min | max |
    |---|---|---|---|---|
    | 0 | on-hand stock after this period's arrival | $x_0$ | 0 | inf |
    | 1 .. L-1 | outstanding orders placed in t-L+1, ..., t-1 (oldest first) | $x_1 .. x_{L-1}$ | 0 | max_order |
    | max(L,1) .. +H-1 | units sold in the last H = ``history`` periods, oldest first | $s_{t-H} .. s_{t-1}$ | 0 | inf |

    Sales are *observed* (censored) demand: when the shelf is empty the agent sees sales, not demand.

    ## Period Timeline

    1. **Arrival**: the order placed in period t-L (if L >= 1) is added to on-hand stock.
    2. **Observe**: the agent sees (on-hand, outstanding orders oldest first, past sales).
    3. **Order**: q_t is placed and joins the pipeline; with L = 0 it is on hand at once.
    4. **Demand**: D_t is drawn from the env's product (or replayed from a demand path).
    5. **Sales and lost sales**: min(on-hand, D_t) is sold; the rest of D_t is lost.
    6. **Costs** on the end-of-period state: h · on-hand + p · lost + c · q_t. An order placed in t first serves
       demand in t + L.

    ## Rewards

    Reward = -(h · end-of-period on-hand + p · lost units + c · ordered units), undiscounted, per period.

    ## Starting State

    ``initial_state`` (on-hand and outstanding orders), all zeros by default; past sales start at zero.

    ## Episode End

    - Termination: never (the system runs forever).
    - Truncation: after ``horizon`` periods.

    ## Information

    ``info`` after every step: ``cost`` (the period's cost, = -reward), ``holding`` (end-of-period on-hand units),
    ``lost`` (lost units), ``sales`` (units sold), ``demand`` (units demanded), ``order`` (units ordered). The cost
    identity ``cost = h·holding + p·lost + c·order`` holds exactly. ``reset`` returns an empty ``info``.

    ## Arguments

    {arguments}

    The default ``max_order`` is Morton's (1971) bound, the p/(p+h) quantile of demand over L+1 periods, which an
    optimal policy never exceeds. ``reset(options={"demand_path": d})`` replays the demand sequence ``d``.

    ## Vectorized environment

    ``gym.make_vec("invgym/LostSales-v0", num_envs=N, vectorization_mode="vector_entry_point", lead_time=2)``
    returns a :class:`LostSalesVectorEnv` that steps all N envs in one compiled call:

    >>> import gymnasium as gym, numpy as np, invgym
    >>> envs = gym.make_vec("invgym/LostSales-v0", num_envs=3, vectorization_mode="vector_entry_point",
    ...                     lead_time=2)
    >>> obs, _ = envs.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([5, 5, 5]))
    >>> obs.shape, reward.shape, sorted(k for k in info if not k.startswith("_"))
    ((3, 2), (3,), ['cost', 'demand', 'holding', 'lost', 'order', 'sales'])

    Env i of a vector env reset with ``seed=s`` replays the single env reset with ``seed=s + i``.

    ## References

    - P. Zipkin (2008), "Old and new methods for lost-sales inventory systems", Operations Research 56(5),
      1256-1263. Table 3 is reproduced in ``tests/test_lost_sales_exact.py``.
    - T. Morton (1971), "The near-myopic nature of the lagged-proportional-cost inventory problem with lost
      sales", Operations Research 19(7).

    ## Version History

    - v0: initial release.
    """

    config_class = LostSalesConfig


class LostSalesVectorEnv(KernelVectorEnv):
    """``num_envs`` lost-sales envs stepped together; takes :class:`LostSalesEnv`'s keywords (see its docstring)."""

    config_class = LostSalesConfig
