"""A toy scenario that proves the contributor checklist of docs/architecture.md (built by tests/test_scenarios.py).

Instant replenishment: a lost-sales store whose orders arrive at once (no lead time), declared with a parameter
table of its own and run on the compiled lost-sales kernel. Its files are this module (config, Env, VectorEnv,
naive policy) and one registry entry; the twin and the metrics are the lost-sales ones, reused by entry point.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from invgym.core._lost_sales import PARTS, LostSalesKernel
from invgym.demand import Poisson, kernel_tables
from invgym.envs.common import KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.parameters import Demand, Interval, Param

MAX_ORDER = 10_000


class InstantConfig(ScenarioConfig):
    """Validated parameters of the instant-replenishment toy (see :class:`InstantEnv`)."""

    parts: ClassVar[tuple[str, ...]] = PARTS
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("demand", "DemandModel", Poisson(4.0), Demand(), "demand distribution of one period", "D", "units"),
        Param("holding_cost", "float", 1.0, Interval(float, 0.0, None), "cost of a unit on hand at period end",
              "h", "per unit"),
        Param("lost_sales_cost", "float", 4.0, Interval(float, 0.0, None), "cost of a unit of demand lost", "p",
              "per unit"),
        Param("max_order", "int", None, Interval(int, 1, MAX_ORDER), "largest order", unit="units",
              derive=lambda c: max(1, c.demand.quantile(0.9999)), default_doc="the 0.9999 quantile of demand",
              needs=("demand",)),
        Param("horizon", "int", 100, Interval(int, 1, 10**9), "periods per episode (then truncation)", "T",
              "periods"),
    )

    # What the lost-sales kernel and twin read beyond the table: this scenario fixes them.
    lead_time: ClassVar[int] = 0
    purchase_cost: ClassVar[float] = 0.0
    history: ClassVar[int] = 0
    initial_state: ClassVar[tuple[float, ...]] = (0.0,)
    action_type: ClassVar[str] = "discrete"

    @property
    def obs_low(self) -> np.ndarray:  # noqa: D102
        return np.zeros(1, dtype=np.float32)

    @property
    def obs_high(self) -> np.ndarray:  # noqa: D102
        return np.full(1, np.inf, dtype=np.float32)

    def make_kernel(self, num_envs: int) -> LostSalesKernel:  # noqa: D102
        prob, alias, support = kernel_tables(self.demand)
        return LostSalesKernel(num_envs, self.horizon, 0, self.holding_cost, self.lost_sales_cost, 0.0,
                               self.max_order, 0, np.zeros(1), prob, alias, support)


class InstantEnv(KernelEnv):
    """Instant replenishment: order, receive at once, meet demand, lose what is short.

    ## Observation Space

    ``Box(0, inf, (1,))``: the stock on hand.

    ## Arguments

    {arguments}
    """

    config_class = InstantConfig


class InstantVectorEnv(KernelVectorEnv):
    """``num_envs`` instant-replenishment envs stepped together; takes :class:`InstantEnv`'s keywords."""

    config_class = InstantConfig


def naive_policy(config: InstantConfig) -> tuple[object, str]:
    """Order up to the critical fractile p / (p + h) of one period's demand (the newsvendor level)."""
    level = config.demand.quantile(config.lost_sales_cost / (config.lost_sales_cost + config.holding_cost))

    def policy(obs: np.ndarray) -> np.ndarray:
        return np.maximum(level - np.asarray(obs)[:, 0], 0).astype(np.int64)

    return policy, f"order up to the newsvendor level {level}"
