"""Perishable inventory with a fixed shelf life (De Moor, Gijsbrechts & Boute 2022): ``invgym/Perishable-v0``."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from invgym.core._perishable import ISSUING, PARTS, PerishableKernel
from invgym.demand import DemandModel, Gamma, kernel_tables
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.parameters import Demand, Interval, OneOf, Param, Vector, WholeOrReal

__all__ = ["PerishableConfig", "PerishableEnv", "PerishableVectorEnv"]

MAX_SHELF_LIFE = 50
MAX_LEAD_TIME = 50
MAX_ORDER = 100_000


def _default_demand() -> DemandModel:
    # De Moor et al. (2022): gamma with mean 4 and CV 0.5, rounded to the nearest integer, capped at 100.
    return Gamma(4.0, 0.5, cap=100)


class PerishableConfig(ScenarioConfig):
    """Validated parameters of the perishable scenario (see :class:`PerishableEnv` for their meaning)."""

    parts: ClassVar[tuple[str, ...]] = PARTS
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("shelf_life", "int", 2, Interval(int, 1, MAX_SHELF_LIFE), "periods a unit can be sold, then outdates",
              "m", "periods"),
        Param("lead_time", "int", 1, Interval(int, 0, MAX_LEAD_TIME), "periods from order to arrival", "L",
              "periods"),
        Param("issuing", "str", "fifo", OneOf(ISSUING), "oldest (fifo) or newest (lifo) units sold first"),
        Param("demand", "DemandModel", _default_demand(), Demand(), "demand distribution of one period", "D",
              "units"),
        Param("holding_cost", "float", 1.0, Interval(float, 0.0, None), "cost of a unit on hand at period end",
              "h", "per unit"),
        Param("lost_sales_cost", "float", 5.0, Interval(float, 0.0, None), "cost of a unit of demand lost", "p",
              "per unit"),
        Param("outdating_cost", "float", 7.0, Interval(float, 0.0, None), "cost of a unit that outdates", "w",
              "per unit"),
        Param("purchase_cost", "float", 3.0, Interval(float, 0.0, None), "cost of a unit ordered", "c",
              "per unit"),
        Param("max_order", "int | float", 10, WholeOrReal(0, MAX_ORDER), "largest order (float if continuous)",
              unit="units", needs=("action_type",)),
        Param("horizon", "int", 1000, Interval(int, 1, 10**12), "periods per episode (then truncation)", "T",
              "periods"),
        Param("action_type", "str", "discrete", OneOf(ACTION_TYPES), "integer or real orders"),
        # Each entry is what is left of one order, so it never exceeds max_order.
        Param("initial_state", "tuple[float, ...]", None,
              Vector(lambda c: c.shelf_life + c.lead_time - 1, 0.0, lambda c: float(c.max_order),
                     "m - 1 + L numbers, each in [0, max_order]"),
              "units by order period, oldest first", unit="units",
              derive=lambda c: (0.0,) * (c.shelf_life + c.lead_time - 1), default_doc="zeros",
              needs=("shelf_life", "lead_time", "max_order")),
    )

    @property
    def width(self) -> int:
        """Length of the Nahmias/Fries state: m - 1 + L (units by order period, oldest first)."""
        return self.shelf_life + self.lead_time - 1

    @property
    def on_hand_width(self) -> int:
        """How many leading state entries are on hand at the start of a period: m (m - 1 when L = 0)."""
        return min(self.shelf_life, self.width)

    @property
    def obs_low(self) -> np.ndarray:  # noqa: D102
        return np.zeros(max(self.width, 1), dtype=np.float32)

    @property
    def obs_high(self) -> np.ndarray:  # noqa: D102
        # Every entry is what is left of a single order, so max_order bounds it.
        return np.full(max(self.width, 1), self.max_order, dtype=np.float32)

    def make_kernel(self, num_envs: int) -> PerishableKernel:  # noqa: D102
        prob, alias, support = kernel_tables(self.demand)
        return PerishableKernel(num_envs, self.horizon, self.shelf_life, self.lead_time, ISSUING.index(self.issuing),
                                self.holding_cost, self.lost_sales_cost, self.outdating_cost, self.purchase_cost,
                                self.max_order, self.action_type == "discrete", np.array(self.initial_state),
                                prob, alias, support)


class PerishableEnv(KernelEnv):
    r"""Periodic-review inventory of a perishable item with a fixed shelf life, a lead time and lost sales.

    ## Description

    A single item keeps for ``shelf_life`` (m) periods once it is on hand; whatever is unsold by then expires
    (is outdated) and is thrown away. Each period the agent orders a quantity that arrives ``lead_time`` (L)
    periods later; demand is met from stock on hand, oldest first (FIFO) or freshest first (LIFO), and demand
    that cannot be met is lost. The goal is to minimise purchase, holding, lost-sales and outdating cost. The
    defaults are scenario A of De Moor, Gijsbrechts & Boute (2022) with m = 2, L = 1, outdating cost 7, FIFO.

    ## Action Space

    ``Discrete(max_order + 1)`` — the integer order quantity q in {0, ..., max_order} — when
    ``action_type="discrete"``; ``Box(0, max_order, (1,), float32)`` when ``"continuous"``. Continuous orders are
    used as they are (fractional units allowed). An action outside the space raises ``ValueError``.

    ## Observation Space

    A float32 vector of length m - 1 + L (the state of Nahmias 1982 and Fries 1975; length 1, always 0, when
    m = 1 and L = 0). Entry k is what is left of the order placed in period t - (m - 1 + L) + k, so the vector
    runs from the oldest units to the newest order:

    | index | meaning | symbol | min | max |
    |---|---|---|---|---|
    | 0 .. m-1 | on-hand units with k + 1 periods of life left (k = 0: expire now) | $x_0 .. x_{m-1}$ | 0 | max_order |
    | m .. m+L-2 | outstanding orders placed in t-L+1, ..., t-1 (oldest first) | $x_m .. x_{m+L-2}$ | 0 | max_order |

    With L = 0 the on-hand part has m - 1 entries (lives 1 .. m-1): this period's order arrives at once with
    life m. Every entry is the remainder of a single order, so ``max_order`` bounds it.

    ## Period Timeline

    1. **Arrival**: the order placed in period t-L (if L >= 1) arrives as the freshest bucket, with m periods
       of life; it is charged no holding cost before this period.
    2. **Observe**: the agent sees the units by remaining life and the pipeline.
    3. **Order**: q_t is placed and paid for (c per unit); with L = 0 it is on hand at once as the freshest bucket.
    4. **Demand**: D_t is drawn from the env's product (or replayed from a demand path).
    5. **Issuing**: min(on-hand, D_t) is sold from stock on hand, FIFO (oldest first) or LIFO (freshest first);
       the rest of D_t is lost.
    6. **Outdating**: whatever is left of the oldest bucket (one period of life) expires.
    7. **Costs**: c · q_t + p · lost + w · outdated + h · (non-expired units carried to the next period).
    8. **Ageing**: every remaining unit loses one period of life. An order placed in t first serves demand in t + L.

    ## Rewards

    Reward = -(c · ordered + p · lost + w · outdated + h · carried units), undiscounted, per period.

    ## Starting State

    ``initial_state`` (the m - 1 + L entries above), all zeros by default: the system starts empty, as in
    De Moor et al. (2022).

    ## Episode End

    - Termination: never (the system runs forever).
    - Truncation: after ``horizon`` periods.

    ## Information

    ``info`` after every step: ``cost`` (the period's cost, = -reward), ``holding`` (non-expired units carried to
    the next period), ``lost`` (lost units), ``outdated`` (units that expired), ``sales`` (units sold), ``demand``
    (units demanded), ``order`` (units ordered). The cost identity ``cost = h·holding + p·lost + w·outdated +
    c·order`` holds exactly, and units are conserved: stock and pipeline change by ``order - sales - outdated``.
    ``reset`` returns an empty ``info``.

    ## Arguments

    {arguments}

    The default ``max_order`` of 10 is De Moor et al.'s (mean demand 4); raise it for larger demand.
    ``reset(options={"demand_path": d})`` replays the demand sequence ``d``.

    ## Vectorized environment

    ``gym.make_vec("invgym/Perishable-v0", num_envs=N, vectorization_mode="vector_entry_point", shelf_life=3)``
    returns a :class:`PerishableVectorEnv` that steps all N envs in one compiled call:

    >>> import gymnasium as gym, numpy as np, invgym
    >>> envs = gym.make_vec("invgym/Perishable-v0", num_envs=3, vectorization_mode="vector_entry_point",
    ...                     shelf_life=3, lead_time=2, issuing="lifo")
    >>> obs, _ = envs.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = envs.step(np.array([5, 5, 5]))
    >>> obs.shape, reward.shape, sorted(k for k in info if not k.startswith("_"))
    ((3, 4), (3,), ['cost', 'demand', 'holding', 'lost', 'order', 'outdated', 'sales'])

    Env i of a vector env reset with ``seed=s`` replays the single env reset with ``seed=s + i``.

    ## References

    - B. J. De Moor, J. Gijsbrechts & R. N. Boute (2022), "Reward shaping to improve the performance of deep
      reinforcement learning in perishable inventory management", European Journal of Operational Research
      301(2), 535-545. Its m = 2, L = 1 examples (optimal and best base-stock values, FIFO and LIFO, and the
      optimal policies of its Fig. 3) are reproduced in ``tests/test_perishable_baselines.py``.
    - S. Nahmias (1982), "Perishable inventory theory: a review", Operations Research 30(4), 680-708;
      B. E. Fries (1975), "Optimal ordering policy for a perishable commodity with fixed lifetime", Operations
      Research 23(1), 46-61 (the m - 1 + L dimensional state).
    - R. A. C. M. Broekmeulen & K. H. van Donselaar (2009), "A heuristic to manage perishable inventory with batch
      ordering, positive lead-times, and time-varying demand", Computers & Operations Research 36(11), and
      R. Haijema & S. Minner (2016), International Journal of Production Economics 181 (the EWA and capped
      base-stock policies the kernel's ``rollout`` runs; see ``invgym.baselines.perishable_policies``).

    ## Version History

    - v0: initial release.
    """

    config_class = PerishableConfig


class PerishableVectorEnv(KernelVectorEnv):
    """``num_envs`` perishable envs stepped together; takes :class:`PerishableEnv`'s keywords (see its docstring)."""

    config_class = PerishableConfig
