"""Perishable inventory with a fixed shelf life (De Moor, Gijsbrechts & Boute 2022): ``invgym/Perishable-v0``."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from invgym.core._perishable import ISSUING, PARTS, PerishableKernel
from invgym.demand import DemandModel, Gamma, check_demand, kernel_tables
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.validation import check_choice, check_int, check_real, check_vector

__all__ = ["PerishableConfig", "PerishableEnv", "PerishableVectorEnv"]

MAX_SHELF_LIFE = 50
MAX_LEAD_TIME = 50
MAX_ORDER = 100_000


def _default_demand() -> DemandModel:
    # De Moor et al. (2022): gamma with mean 4 and CV 0.5, rounded to the nearest integer, capped at 100.
    return Gamma(4.0, 0.5, cap=100)


@dataclasses.dataclass(frozen=True)
class PerishableConfig(ScenarioConfig):
    """Validated parameters of the perishable scenario (see :class:`PerishableEnv` for their meaning)."""

    parts: ClassVar[tuple[str, ...]] = PARTS
    shelf_life: int = 2
    lead_time: int = 1
    issuing: str = "fifo"
    demand: DemandModel = dataclasses.field(default_factory=_default_demand)
    holding_cost: float = 1.0
    lost_sales_cost: float = 5.0
    outdating_cost: float = 7.0
    purchase_cost: float = 3.0
    max_order: float | int = 10
    horizon: int = 1000
    action_type: str = "discrete"
    initial_state: tuple[float, ...] = ()

    @classmethod
    def validate(
        cls,
        owner: str,
        shelf_life: Any = 2,
        lead_time: Any = 1,
        issuing: Any = "fifo",
        demand: Any = None,
        holding_cost: Any = 1.0,
        lost_sales_cost: Any = 5.0,
        outdating_cost: Any = 7.0,
        purchase_cost: Any = 3.0,
        max_order: Any = 10,
        horizon: Any = 1000,
        action_type: Any = "discrete",
        initial_state: Any = None,
    ) -> PerishableConfig:
        """Check every parameter (raising ValueError/TypeError that names it) and return the config."""
        shelf_life = check_int(shelf_life, "shelf_life", owner, 1, MAX_SHELF_LIFE)
        lead_time = check_int(lead_time, "lead_time", owner, 0, MAX_LEAD_TIME)
        issuing = check_choice(issuing, "issuing", owner, ISSUING)
        demand = check_demand(_default_demand() if demand is None else demand, owner)
        holding_cost = check_real(holding_cost, "holding_cost", owner, 0.0, None)
        lost_sales_cost = check_real(lost_sales_cost, "lost_sales_cost", owner, 0.0, None)
        outdating_cost = check_real(outdating_cost, "outdating_cost", owner, 0.0, None)
        purchase_cost = check_real(purchase_cost, "purchase_cost", owner, 0.0, None)
        action_type = check_choice(action_type, "action_type", owner, ACTION_TYPES)
        if action_type == "discrete":
            max_order = check_int(max_order, "max_order", owner, 0, MAX_ORDER)
        else:
            max_order = check_real(max_order, "max_order", owner, 0.0, float(MAX_ORDER))
        horizon = check_int(horizon, "horizon", owner, 1, 10**12)
        width = shelf_life + lead_time - 1
        if initial_state is None:
            initial_state = np.zeros(width)
        # Each entry is what is left of one order, so it never exceeds max_order.
        initial_state = check_vector(initial_state, "initial_state", owner, width, 0.0, float(max_order))
        return cls(owner, shelf_life, lead_time, issuing, demand, holding_cost, lost_sales_cost, outdating_cost,
                   purchase_cost, max_order, horizon, action_type, tuple(initial_state.tolist()))

    @property
    def width(self) -> int:
        """Length of the Nahmias/Fries state: m - 1 + L (units by order period, oldest first)."""
        return self.shelf_life + self.lead_time - 1

    @property
    def on_hand_width(self) -> int:
        """How many leading state entries are on hand at the start of a period: m (m - 1 when L = 0)."""
        return min(self.shelf_life, self.width)

    @property
    def action_low(self) -> np.ndarray:  # noqa: D102 - documented on ScenarioConfig
        return np.zeros(1)

    @property
    def action_high(self) -> np.ndarray:  # noqa: D102
        return np.array([self.max_order])

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

    | parameter | symbol | type | default | allowed |
    |---|---|---|---|---|
    | ``shelf_life`` | m | int | 2 | [1, 50] |
    | ``lead_time`` | L | int | 1 | [0, 50] |
    | ``issuing`` | | str | "fifo" | "fifo", "lifo" |
    | ``demand`` | D | ``invgym.demand`` model | ``Gamma(4.0, 0.5, cap=100)`` | any model, incl. ``ProductMixture`` |
    | ``holding_cost`` | h | float | 1.0 | [0, inf) |
    | ``lost_sales_cost`` | p | float | 5.0 | [0, inf) |
    | ``outdating_cost`` | w | float | 7.0 | [0, inf) |
    | ``purchase_cost`` | c | float | 3.0 | [0, inf) |
    | ``max_order`` | | int (float if continuous) | 10 | [0, 100000] |
    | ``horizon`` | T | int | 1000 | [1, 10^12] |
    | ``action_type`` | | str | "discrete" | "discrete", "continuous" |
    | ``initial_state`` | | sequence of m-1+L floats | zeros | each in [0, max_order] |

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

    def __init__(
        self,
        shelf_life: int = 2,
        lead_time: int = 1,
        issuing: str = "fifo",
        demand: DemandModel | None = None,
        holding_cost: float = 1.0,
        lost_sales_cost: float = 5.0,
        outdating_cost: float = 7.0,
        purchase_cost: float = 3.0,
        max_order: float = 10,
        horizon: int = 1000,
        action_type: str = "discrete",
        initial_state: Any = None,
        render_mode: str | None = None,
    ) -> None:
        config = PerishableConfig.validate(
            type(self).__name__, shelf_life=shelf_life, lead_time=lead_time, issuing=issuing, demand=demand,
            holding_cost=holding_cost, lost_sales_cost=lost_sales_cost, outdating_cost=outdating_cost,
            purchase_cost=purchase_cost, max_order=max_order, horizon=horizon, action_type=action_type,
            initial_state=initial_state,
        )
        super().__init__(config, render_mode)


class PerishableVectorEnv(KernelVectorEnv):
    """``num_envs`` perishable envs stepped together; takes :class:`PerishableEnv`'s keywords (see its docstring)."""

    def __init__(self, num_envs: int = 1, autoreset_mode: Any = "next_step", render_mode: str | None = None,
                 **kwargs: Any) -> None:
        config = PerishableConfig.validate(type(self).__name__, **kwargs)
        super().__init__(config, num_envs, autoreset_mode, render_mode)
