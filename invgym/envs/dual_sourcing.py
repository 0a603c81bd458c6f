"""Dual sourcing, a regular and an expedited supplier (Veeraraghavan & Scheller-Wolf 2008): invgym/DualSourcing-v0."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from invgym.core._dual_sourcing import PARTS, DualSourcingKernel
from invgym.demand import DemandModel, DiscreteUniform, kernel_tables
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.parameters import Boolean, Custom, Demand, Interval, OneOf, Param
from invgym.validation import MAX_STATE, check_vector

__all__ = ["DualSourcingConfig", "DualSourcingEnv", "DualSourcingVectorEnv", "largest_demand"]

MAX_LEAD_TIME = 50
MAX_ORDER = 100_000


def largest_demand(demand: DemandModel) -> int:
    """Return the largest demand of one period (the last point of the compiled pmf; over every product).

    The default ``max_order`` of both sources: in steady state an order never needs to exceed one period's
    largest demand (Veeraraghavan & Scheller-Wolf 2008 make this observation for their instances).
    """
    return max(1, max(len(p.pmf()) - 1 for p in demand.products()))


def _check_max_order(value: Any, owner: str, discrete: bool) -> tuple[float, float]:
    """Return (regular, expedited) maxima (ints if discrete) from one number or a pair; raise naming ``max_order``."""
    kind = "an int" if discrete else "a float"
    what = f"{kind} in the range [0, {MAX_ORDER}] or a pair of them (regular, expedited)"
    pair = value if isinstance(value, tuple | list | np.ndarray) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"The 'max_order' parameter of {owner} must be {what}. Got {value!r} instead.")
    out = []
    for v in pair:
        ok_type = isinstance(v, numbers.Integral if discrete else numbers.Real) and not isinstance(v, bool | np.bool_)
        if not ok_type:
            raise TypeError(f"The 'max_order' parameter of {owner} must be {what}. Got {value!r} instead.")
        if not (np.isfinite(float(v)) and 0 <= float(v) <= MAX_ORDER):
            raise ValueError(f"The 'max_order' parameter of {owner} must be {what}. Got {value!r} instead.")
        out.append(int(v) if discrete else float(v))
    return out[0], out[1]


def _max_order(value: Any, name: str, owner: str, config: Any) -> tuple[float, float]:
    return _check_max_order(value, owner, config.action_type == "discrete")


def _width(config: Any) -> int:
    return config.regular_lead_time + max(config.expedited_lead_time - 1, 0)


def _initial_state(value: Any, name: str, owner: str, config: Any) -> tuple[float, ...]:
    # Net inventory may start negative (a backlog) unless sales are lost; outstanding orders are >= 0.
    width = _width(config)
    state = check_vector(value, name, owner, width, -MAX_STATE, MAX_STATE)
    if state[1:].min(initial=0.0) < 0 or (config.lost_sales and state[0] < 0):
        raise ValueError(
            f"The 'initial_state' parameter of {owner} must be a sequence of {width} finite numbers: net "
            f"inventory{' >= 0 (lost sales)' if config.lost_sales else ''}, then outstanding orders >= 0. "
            f"Got {state.tolist()!r} instead."
        )
    return tuple(state.tolist())


class DualSourcingConfig(ScenarioConfig):
    """Validated parameters of the dual-sourcing scenario (see :class:`DualSourcingEnv` for their meaning)."""

    parts: ClassVar[tuple[str, ...]] = PARTS
    parameters: ClassVar[tuple[Param, ...]] = (
        # The regular supplier is the slow one: l_r > l_e (l_r = l_e + 1 is the consecutive case).
        Param("regular_lead_time", "int", 2,
              Interval(int, lambda c: c.expedited_lead_time + 1, MAX_LEAD_TIME, doc=f"[l_e + 1, {MAX_LEAD_TIME}]"),
              "periods from a regular order to its arrival", "$l_r$", "periods", needs=("expedited_lead_time",)),
        Param("expedited_lead_time", "int", 0, Interval(int, 0, MAX_LEAD_TIME - 1),
              "periods from an expedited order to its arrival", "$l_e$", "periods"),
        Param("demand", "DemandModel", DiscreteUniform(0, 4), Demand(), "demand distribution of one period", "D",
              "units"),
        Param("regular_cost", "float", 100.0, Interval(float, 0.0, None), "cost of a unit ordered regularly",
              "$c_r$", "per unit"),
        # The expedited supplier is the expensive one, else it would be used alone.
        Param("expedited_cost", "float", 105.0,
              Interval(float, lambda c: c.regular_cost, None, closed="right", doc="(c_r, inf)"),
              "cost of a unit ordered expedited", "$c_e$", "per unit", needs=("regular_cost",)),
        Param("holding_cost", "float", 5.0, Interval(float, 0.0, None), "cost of a unit on hand at period end",
              "h", "per unit"),
        Param("backorder_cost", "float", 495.0, Interval(float, 0.0, None),
              "cost of a unit backordered (or lost) at period end", "b", "per unit"),
        Param("lost_sales", "bool", False, Boolean(), "unmet demand is lost instead of backordered"),
        Param("max_order", "int | float | tuple", None,
              Custom(_max_order, f"[0, {MAX_ORDER}], or a pair (regular, expedited)"),
              "largest order of each source (floats if continuous)", unit="units",
              derive=lambda c: _check_max_order(largest_demand(c.demand), c.owner, c.action_type == "discrete"),
              default_doc="largest demand of one period", needs=("demand", "action_type")),
        Param("horizon", "int", 1000, Interval(int, 1, 10**12), "periods per episode (then truncation)", "T",
              "periods"),
        Param("action_type", "str", "discrete", OneOf(ACTION_TYPES), "integer or real orders"),
        Param("initial_state", "tuple[float, ...]", None,
              Custom(_initial_state, "l_r + max(l_e - 1, 0) numbers: net inventory (>= 0 with lost sales), then "
                                     "outstanding orders >= 0"),
              "net inventory, then outstanding regular and expedited orders oldest first", unit="units",
              derive=lambda c: (0.0,) * _width(c), default_doc="zeros",
              needs=("regular_lead_time", "expedited_lead_time", "lost_sales")),
    )

    @property
    def width(self) -> int:
        """Length of the state: net inventory, l_r - 1 regular and max(l_e - 1, 0) expedited orders."""
        return self.regular_lead_time + max(self.expedited_lead_time - 1, 0)

    @property
    def action_low(self) -> np.ndarray:  # noqa: D102 - documented on ScenarioConfig
        return np.zeros(2)

    @property
    def action_high(self) -> np.ndarray:  # noqa: D102
        return np.array(self.max_order, dtype=np.float64)

    @property
    def obs_low(self) -> np.ndarray:  # noqa: D102
        low = np.zeros(self.width, dtype=np.float32)
        low[0] = 0.0 if self.lost_sales else -np.inf  # a backlog is negative net inventory
        return low

    @property
    def obs_high(self) -> np.ndarray:  # noqa: D102
        high = np.full(self.width, np.inf, dtype=np.float32)
        high[1 : self.regular_lead_time] = self.max_order[0]  # an outstanding order is at most its source's max
        high[self.regular_lead_time :] = self.max_order[1]
        return high

    def make_kernel(self, num_envs: int) -> DualSourcingKernel:  # noqa: D102
        prob, alias, support = kernel_tables(self.demand)
        return DualSourcingKernel(num_envs, self.horizon, self.regular_lead_time, self.expedited_lead_time,
                                  self.regular_cost, self.expedited_cost, self.holding_cost, self.backorder_cost,
                                  self.lost_sales, self.max_order[0], self.max_order[1],
                                  np.array(self.initial_state), prob, alias, support)


class DualSourcingEnv(KernelEnv):
    r"""Periodic-review inventory with two suppliers: a cheap slow one and an expensive fast one.

    ## Description

    A single item is reviewed every period. Each period the agent orders from a regular supplier (unit cost
    $c_r$, lead time $l_r$) and from an expedited supplier (unit cost $c_e > c_r$, lead time $l_e < l_r$).
    Unmet demand is backlogged (or lost with ``lost_sales=True``). The goal is to minimise the long-run average
    of purchase, holding and backorder cost. The defaults are the instance of Gijsbrechts, Boute, Van Mieghem &
    Zhang (2022, Sec. 6.2) after Veeraraghavan & Scheller-Wolf (2008): demand uniform on {0, ..., 4},
    $l_e = 0$, $l_r = 2$, $c_r = 100$, $c_e = 105$, $h = 5$, $b = 495$; their six instances are $l_r$ in
    {2, 3, 4} and $c_e$ in {105, 110}. With $l_r = l_e + 1$ (consecutive lead times) a dual-index policy is
    optimal (Fukuda 1964); otherwise the optimal policy is unknown in closed form.

    ## Action Space

    ``MultiDiscrete([max_r + 1, max_e + 1])`` — the integer orders $(q^r_t, q^e_t)$ (regular first) — when
    ``action_type="discrete"``; ``Box(0, [max_r, max_e], (2,), float32)`` when ``"continuous"`` (fractional
    units used as they are). An action outside the space raises ``ValueError``: it is never clipped silently.

    ## Observation Space

    A float32 vector of length $l_r + \max(l_e - 1, 0)$:

    | index | meaning | symbol | min | max |
    |---|---|---|---|---|
    | 0 | net inventory (on hand minus backlog) after this period's arrivals | $I_t$ | -inf (0 if lost sales) | inf |
    | 1 .. l_r-1 | regular orders placed in t-l_r+1 .. t-1 (oldest first) | $q^r_{t-l_r+1} .. q^r_{t-1}$ | 0 | max_r |
    | l_r .. | expedited orders placed in t-l_e+1, ..., t-1 (oldest first) | $q^e_{t-l_e+1} .. q^e_{t-1}$ | 0 | max_e |

    ## Period Timeline

    1. **Arrival**: the regular order placed in t - l_r and the expedited order placed in t - l_e (if l_e >= 1)
       are added to net inventory (a backlog is served first).
    2. **Observe**: the agent sees (net inventory, regular pipeline, expedited pipeline).
    3. **Order**: $q^r_t$ and $q^e_t$ are placed; with l_e = 0 the expedited order is on hand at once.
    4. **Demand**: $D_t$ is drawn from the env's product (or replayed from a demand path).
    5. **Fulfilment**: net inventory falls by $D_t$ (backlogging); with ``lost_sales=True`` only stock on hand
       is sold and the rest of $D_t$ is lost.
    6. **Costs** on the end-of-period state: $h I_t^+ + b (I_t^- + \text{lost}) + c_r q^r_t + c_e q^e_t$. An
       order placed in t from a source with lead time l first serves demand in t + l.

    ## Rewards

    Reward = -(h · end-of-period on-hand + b · (end-of-period backlog + lost units) + c_r · q_r + c_e · q_e),
    undiscounted, per period. Purchases are paid when ordered, so the long-run average includes them
    (about c_r · E[D] = 200 on the default instance), as in Gijsbrechts et al. (2022).

    ## Starting State

    ``initial_state`` (net inventory, then the outstanding orders as in the observation), all zeros by default.

    ## Episode End

    - Termination: never (the system runs forever).
    - Truncation: after ``horizon`` periods.

    ## Information

    ``info`` after every step: ``cost`` (the period's cost, = -reward), ``holding`` (end-of-period on-hand
    units), ``backorder`` (end-of-period backlogged units; 0 with lost sales), ``lost`` (units lost this period;
    0 when backlogging), ``demand``, ``order_regular`` and ``order_expedited`` (units ordered). The cost identity
    ``cost = h·holding + b·(backorder + lost) + c_r·order_regular + c_e·order_expedited`` holds exactly.
    ``reset`` returns an empty ``info``.

    ## Arguments

    {arguments}

    The default ``max_order`` is the largest demand of one period for both sources (4 on the default instance):
    in steady state an order never needs to exceed it, as Veeraraghavan & Scheller-Wolf (2008) note.
    ``reset(options={"demand_path": d})`` replays the demand sequence ``d``.

    ## Vectorized environment

    ``gym.make_vec("invgym/DualSourcing-v0", num_envs=N, vectorization_mode="vector_entry_point")`` returns a
    :class:`DualSourcingVectorEnv` that steps all N envs in one compiled call:

    >>> import gymnasium as gym, numpy as np, invgym
    >>> envs = gym.make_vec("invgym/DualSourcing-v0", num_envs=3, vectorization_mode="vector_entry_point",
    ...                     regular_lead_time=3)
    >>> obs, _ = envs.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([[2, 1], [2, 0], [3, 0]]))
    >>> obs.shape, reward.shape, sorted(k for k in info if not k.startswith("_"))
    ((3, 3), (3,), ['backorder', 'cost', 'demand', 'holding', 'lost', 'order_expedited', 'order_regular'])

    Env i of a vector env reset with ``seed=s`` replays the single env reset with ``seed=s + i``.

    ## References

    - S. Veeraraghavan & A. Scheller-Wolf (2008), "Now or later: a simple policy for effective dual sourcing in
      capacitated systems", Operations Research 56(4), 850-864 (dual-index policy, the instances' origin).
    - J. Gijsbrechts, R. Boute, J. Van Mieghem & D. Zhang (2022), "Can deep reinforcement learning improve
      inventory management? Performance on lost sales, dual-sourcing, and multi-echelon problems", MSOM 24(3),
      Sec. 6.2: the six instances; the dual-index, single-index, capped dual-index and tailored base-surge gaps
      to the optimum are reproduced in ``tests/test_dual_sourcing_baselines.py`` (two instances; all six with
      ``python -m bench.dual_sourcing --gaps``).
    - Y. Fukuda (1964), "Optimal policies for the inventory problem with negotiable leadtime", Management
      Science 10(4) (consecutive lead times: a dual-index policy is optimal; checked in
      ``tests/test_dual_sourcing_baselines.py``).

    ## Version History

    - v0: initial release.
    """

    config_class = DualSourcingConfig


class DualSourcingVectorEnv(KernelVectorEnv):
    """``num_envs`` dual-sourcing envs stepped together; takes :class:`DualSourcingEnv`'s keywords."""

    config_class = DualSourcingConfig
