"""One product of a retail panel with censored sales (Madeka et al. 2022): ``invgym/Retail-v0``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from invgym.core._retail import PARTS, RetailKernel
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.panels import Panel, default_panel
from invgym.parameters import Computed, Custom, Interval, OneOf, Param, WholeOrReal
from invgym.validation import check_int

__all__ = ["RetailConfig", "RetailEnv", "RetailVectorEnv", "resolve_products", "resolve_window"]

MAX_LEAD_TIME = 60
MAX_HISTORY = 366
MAX_LOOKAHEAD = 60
MAX_ORDER = 10_000_000
SPLITS = ("train", "test")


# === Shared by the panel scenarios (Retail-v0 and Replenishment-v0) ===


def check_panel(panel: Any, owner: str) -> Panel:
    """Return ``panel`` (the cached synthetic default when None), else raise a TypeError naming it."""
    if panel is None:
        return default_panel()
    if not isinstance(panel, Panel):
        raise TypeError(f"The 'panel' parameter of {owner} must be an invgym.panels.Panel (e.g. from "
                        f"synthetic_panel() or invgym.loaders). Got {type(panel).__name__} instead.")
    return panel


def resolve_products(product: Any, panel: Panel, owner: str) -> tuple[tuple[int, ...], bool]:
    """Turn the ``product`` argument into (panel rows, draw at reset?).

    None: every env draws a product uniformly at each reset from its own stream. An int k: every env runs
    product k. "all": env i runs product i mod P (a vector env of P envs runs every product once). A sequence
    of ints: env i runs ``product[i mod len(product)]``.
    """
    p = panel.num_products
    what = f"None, 'all', an int in [0, {p - 1}] or a sequence of such ints"
    if product is None:
        return tuple(range(p)), True
    if isinstance(product, str):
        if product != "all":
            raise ValueError(f"The 'product' parameter of {owner} must be {what}. Got {product!r} instead.")
        return tuple(range(p)), False
    if isinstance(product, int | np.integer) and not isinstance(product, bool | np.bool_):
        return (check_int(product, "product", owner, 0, p - 1),), False
    if isinstance(product, Sequence | np.ndarray) and len(product) > 0:
        return tuple(check_int(v, "product", owner, 0, p - 1) for v in product), False
    raise TypeError(f"The 'product' parameter of {owner} must be {what}. Got {product!r} instead.")


def resolve_window(panel: Panel, split: str, test_start: Any, history: int, owner: str) -> tuple[int, int, str]:
    """Return (first day, number of days, test_start as ISO) of the split's window on the panel.

    The test window runs from ``test_start`` to the panel's last day; the train window from day ``history``
    (so the first sales window holds recorded data) to the day before ``test_start``. The default
    ``test_start`` is the day two thirds into the panel (2016-01-01 for the default 2014-2016 panel).
    """
    t_total = panel.num_days
    if test_start is None:
        first_test = (2 * t_total) // 3
    else:
        try:
            first_test = panel.day_of(test_start)
        except (ValueError, TypeError, OverflowError) as err:
            raise ValueError(f"The 'test_start' parameter of {owner} must be a date inside the panel "
                             f"({panel.dates[0]} to {panel.dates[-1]}). Got {test_start!r} instead.") from err
    if not history < first_test < t_total:
        raise ValueError(f"The 'test_start' parameter of {owner} must leave at least one train day after the "
                         f"{history}-day history window and one test day. Got {panel.dates[first_test]} instead.")
    if split == "train":
        return history, first_test - history, str(panel.dates[first_test])
    return first_test, t_total - first_test, str(panel.dates[first_test])


def _check_panel(value: Any, name: str, owner: str, config: Any) -> Panel:
    return check_panel(value, owner)


def _check_product(value: Any, name: str, owner: str, config: Any) -> Any:
    products, _ = resolve_products(value, config.panel, owner)
    return tuple(products) if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str) else value


def _check_test_start(value: Any, name: str, owner: str, config: Any) -> str:
    return resolve_window(config.panel, config.split, value, config.history, owner)[2]


def _derive_window(config: Any) -> tuple[int, int]:
    start, length, _ = resolve_window(config.panel, config.split, config.test_start, config.history, config.owner)
    return start, length


def _check_window(value: Any, name: str, owner: str, config: Any) -> tuple[int, int]:
    start, length = _derive_window(config)
    what = (f"a pair (first day, number of days) inside the {config.split} window ({start}, {length}); None for "
            "the whole window")
    if not (isinstance(value, Sequence | np.ndarray) and len(value) == 2
            and all(isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in value)):
        raise TypeError(f"The '{name}' parameter of {owner} must be {what}. Got {value!r} instead.")
    first, days = int(value[0]), int(value[1])
    if not (start <= first and days >= 1 and first + days <= start + length):
        raise ValueError(f"The '{name}' parameter of {owner} must be {what}. Got {value!r} instead.")
    return first, days


def _products(config: Any) -> tuple[tuple[int, ...], bool]:
    return resolve_products(config.product, config.panel, config.owner)


# The parameters both panel scenarios declare (Retail-v0 and Replenishment-v0), and the fields derived from them.
PANEL = Param("panel", "Panel", None, Custom(_check_panel, "any panel"), "the daily demand panel (see invgym.panels)",
              derive=lambda c: default_panel(), default_doc="``default_panel()``", repr=False)
PRODUCT = Param("product", "None | int | str | tuple", None, Custom(_check_product, 'rows of the panel, or "all"'),
                "the product(s) each env runs (see below)", needs=("panel",))
SPLIT = Param("split", "str", "train", OneOf(SPLITS), "which window of the panel the episodes run on")
TEST_START = Param("test_start", "str", None, Custom(_check_test_start, "inside the panel, after ``history`` days"),
                   "first day of the test window (ISO date)", derive=lambda c: _check_test_start(None, "", c.owner, c),
                   default_doc="2/3 into the panel", needs=("panel", "split", "history"))
WINDOW = Param("window", "tuple[int, int]", None, Custom(_check_window, "inside the split's window"),
               "(first day, days) the episodes run on: the split's window, or a part of it (config only)",
               derive=_derive_window, default_doc="the split's window", follows=True, public=False,
               needs=("panel", "split", "test_start", "history"))
PRODUCTS = (Computed("products", "tuple[int, ...]", lambda c: _products(c)[0], "the panel rows env i runs, in turn"),
            Computed("draw_product", "bool", lambda c: _products(c)[1], "whether each reset draws a product"))


def _retail_max_order(config: Any) -> float:
    # Enough to cover L+1 days of the largest daily demand in the panel (promotions and Christmas too).
    return float(max(1, math.ceil((config.lead_time + 1) * float(config.panel.demand.max()))))


class RetailConfig(ScenarioConfig):
    """Validated parameters of the retail scenario (see :class:`RetailEnv` for their meaning).

    ``window`` (config only) narrows the episodes to part of the split's window; ``products`` and
    ``draw_product`` are derived from ``product``.
    """

    parts: ClassVar[tuple[str, ...]] = PARTS
    parameters: ClassVar[tuple[Param, ...]] = (
        PANEL, PRODUCT, SPLIT, TEST_START,
        Param("lead_time", "int", 0, Interval(int, 0, MAX_LEAD_TIME), "days from order to arrival", "L", "days"),
        Param("history", "int", 28, Interval(int, 0, MAX_HISTORY), "past days of sales observed", "H", "days"),
        Param("lookahead", "int", 7, Interval(int, 0, MAX_LOOKAHEAD), "days of promotions announced ahead", "k",
              "days"),
        Param("holding_rate", "float", 0.01, Interval(float, 0.0, None), "daily holding cost per unit cost", "h/c",
              "per day"),
        Param("lost_sales_penalty", "float", 0.0, Interval(float, 0.0, None),
              "cost of a lost sale, on top of the lost margin, per unit price", "b/p"),
        Param("max_order", "int | float", None, WholeOrReal(0, MAX_ORDER, positive=True, as_float=True),
              "largest order (float if continuous)", unit="units", derive=_retail_max_order,
              default_doc="(L+1) · max daily demand", needs=("lead_time", "panel", "action_type")),
        Param("horizon", "int", None, Interval(int, 1, 10**12), "days per episode (then truncation)", "T", "days",
              derive=lambda c: c.window[1], default_doc="window length", follows=True, needs=("window",)),
        Param("action_type", "str", "discrete", OneOf(ACTION_TYPES), "integer or real orders"),
        Param("initial_on_hand", "float", 0.0, Interval(float, 0.0, None), "stock at the start of an episode",
              unit="units"),
        WINDOW,
    )
    computed: ClassVar[tuple[Computed, ...]] = PRODUCTS

    @property
    def width(self) -> int:
        """On-hand plus the L-1 outstanding orders: max(L, 1)."""
        return max(self.lead_time, 1)

    @property
    def slices(self) -> dict[str, slice]:
        """Where each group of features sits in the observation."""
        w, h, k = self.width, self.history, self.lookahead + 1
        return {"inventory": slice(0, w), "sales": slice(w, w + h), "promo": slice(w + h, w + h + k),
                "holiday": slice(w + h + k, w + h + k + 1), "calendar": slice(w + h + k + 1, w + h + k + 5)}

    @property
    def obs_dim(self) -> int:
        """Length of the observation."""
        return self.width + self.history + self.lookahead + 1 + 1 + 4

    @property
    def obs_low(self) -> np.ndarray:  # noqa: D102
        low = np.zeros(self.obs_dim, dtype=np.float32)
        low[self.slices["calendar"]] = -1.0
        return low

    @property
    def obs_high(self) -> np.ndarray:  # noqa: D102
        high = np.full(self.obs_dim, np.inf, dtype=np.float32)
        high[1 : self.width] = self.max_order
        high[self.slices["promo"]] = 1.0
        high[self.slices["holiday"]] = 1.0
        high[self.slices["calendar"]] = 1.0
        return high

    def make_kernel(self, num_envs: int) -> RetailKernel:  # noqa: D102
        panel = self.panel
        price, unit_cost = panel.attributes["price"], panel.attributes["unit_cost"]
        return RetailKernel(num_envs, self.horizon, self.lead_time, self.history, self.lookahead, self.window[0],
                            self.window[1], panel.demand, panel.promo.astype(np.float64),
                            panel.holiday.astype(np.float64), panel.calendar(), price, unit_cost,
                            self.holding_rate * unit_cost, self.lost_sales_penalty * price,
                            np.array(self.products, dtype=np.int64), self.draw_product, self.max_order,
                            self.initial_on_hand)


class RetailEnv(KernelEnv):
    r"""Replenish one product of a retail panel from its censored sales history (the Amazon real-data setting).

    ## Description

    Each env is one product of a product × day panel (:mod:`invgym.panels`; by default the seeded synthetic
    panel of 200 products over 2014-2016, so nothing is downloaded; load Favorita, M5 or UCI Online Retail with
    :mod:`invgym.loaders`). Every day the agent orders; the order arrives ``lead_time`` days later (0: at once);
    demand that the shelf cannot meet is lost *and never observed*: the agent sees sales, not demand, nor the
    product's identity or demand parameters. One policy serves every product (Madeka et al. 2022): the vector env
    runs many products at once. Episodes run over the train or the test window, split by date.

    ## Action Space

    ``Discrete(max_order + 1)`` (units ordered) when ``action_type="discrete"``; ``Box(0, max_order, (1,))``
    when ``"continuous"`` (fractional units allowed). An action outside the space raises ``ValueError``.

    ## Observation Space

    A float32 vector of length ``max(L, 1) + history + lookahead + 6`` (``RetailConfig.slices`` names the groups):

    | index | meaning | symbol | min | max |
    |---|---|---|---|---|
    | 0 | on-hand stock after today's arrival | $x_0$ | 0 | inf |
    | 1 .. L-1 | outstanding orders placed in t-L+1 .. t-1 (oldest first) | $x_1..x_{L-1}$ | 0 | max_order |
    | next ``history`` | observed (censored) sales of the last H days, oldest first | $s_{t-H}..s_{t-1}$ | 0 | inf |
    | next ``lookahead + 1`` | promotion flags for today .. today + lookahead | $\pi_t..\pi_{t+k}$ | 0 | 1 |
    | next 1 | holiday today | | 0 | 1 |
    | last 4 | sin, cos of the day of week; sin, cos of the day of year | | -1 | 1 |

    ## Period Timeline

    1. **Arrival**: the order placed L days ago (L >= 1) reaches the shelf.
    2. **Observe**: inventory, past sales, announced promotions, holiday and calendar.
    3. **Order**: q_t joins the pipeline; with L = 0 it is on the shelf at once.
    4. **Demand**: D_t is the panel's value for (product, day) (or a replayed path).
    5. **Sales and lost sales**: min(on-hand, D_t) is sold and recorded in the sales window; the rest is lost.
    6. **Reward**: price · sales − unit cost · q_t − h · end-of-day on-hand − b · lost.

    ## Rewards

    reward = p·sales − c·q − h·on_hand − b·lost, undiscounted, per day, in the product's currency units, with the
    product's price p and unit cost c (panel attributes), h = ``holding_rate`` · c per unit per day and
    b = ``lost_sales_penalty`` · p per lost unit (a goodwill cost on top of the lost margin, 0 by default). The
    critical fractile of the one-day problem is (p − c + b) / (p − c + b + h).

    ## Starting State

    ``initial_on_hand`` units (0 by default) and an empty pipeline; the sales window holds the panel's recorded
    values for the ``history`` days before the window starts. The product is drawn per ``product``.

    ## Episode End

    - Termination: never.
    - Truncation: after ``horizon`` days (default: the split window's length). Days past the window wrap
      around to its first day, so long evaluation runs stay defined.

    ## Information

    After every step: ``cost`` (= −reward), ``revenue``, ``purchase_cost``, ``holding_cost``, ``penalty`` (money);
    ``on_hand`` (end of day), ``sales``, ``demand``, ``lost``, ``order`` (units); ``product`` and ``day`` (panel row
    and column). ``demand`` and ``lost`` are for evaluation only: a policy must not use them. Metrics
    (``invgym.metrics``): average reward, average inventory, demand-weighted service level.

    ## Arguments

    {arguments}

    ``product``: None draws a product uniformly at every reset from the env's own stream; an int fixes it;
    ``"all"`` gives env i product i mod P; a sequence gives env i ``product[i mod len]``.

    ## Vectorized environment

    >>> import gymnasium as gym, numpy as np, invgym
    >>> envs = gym.make_vec("invgym/Retail-v0", num_envs=200, vectorization_mode="vector_entry_point",
    ...                     product="all", split="test")
    >>> obs, _ = envs.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = envs.step(np.full(200, 3))
    >>> product, day = info["product"], info["day"]  # panel row and column of each env
    >>> obs.shape, int(product[199]), str(envs.config.panel.dates[int(day[0])])
    ((200, 42), 199, '2016-01-01')

    ## References

    - D. Madeka, K. Torkkola, C. Eisenach, A. Luo, D. Foster, S. Kakade (2022), "Deep inventory management",
      arXiv:2210.03137 (one policy across products, censored demand, predict-then-optimize baseline).
    - Corporación Favorita Grocery Sales Forecasting (Kaggle, 2017): the schema ``invgym.loaders`` reads.

    ## Version History

    - v0: initial release.
    """

    config_class = RetailConfig


class RetailVectorEnv(KernelVectorEnv):
    """``num_envs`` retail envs stepped together; takes :class:`RetailEnv`'s keywords (see its docstring)."""

    config_class = RetailConfig
