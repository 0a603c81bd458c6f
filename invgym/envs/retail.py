"""One product of a retail panel with censored sales (Madeka et al. 2022): ``invgym/Retail-v0``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from invgym.core._retail import PARTS, RetailKernel
from invgym.envs.common import ACTION_TYPES, KernelEnv, KernelVectorEnv, ScenarioConfig
from invgym.panels import Panel, default_panel
from invgym.validation import check_choice, check_int, check_real

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
        except (ValueError, TypeError) as err:
            raise ValueError(f"The 'test_start' parameter of {owner} must be a date inside the panel "
                             f"({panel.dates[0]} to {panel.dates[-1]}). Got {test_start!r} instead.") from err
    if not history < first_test < t_total:
        raise ValueError(f"The 'test_start' parameter of {owner} must leave at least one train day after the "
                         f"{history}-day history window and one test day. Got {panel.dates[first_test]} instead.")
    if split == "train":
        return history, first_test - history, str(panel.dates[first_test])
    return first_test, t_total - first_test, str(panel.dates[first_test])


@dataclasses.dataclass(frozen=True)
class RetailConfig(ScenarioConfig):
    """Validated parameters of the retail scenario (see :class:`RetailEnv` for their meaning)."""

    parts: ClassVar[tuple[str, ...]] = PARTS
    panel: Panel = dataclasses.field(default_factory=default_panel, repr=False)
    product: Any = None
    split: str = "train"
    test_start: str = ""
    lead_time: int = 0
    history: int = 28
    lookahead: int = 7
    holding_rate: float = 0.01
    lost_sales_penalty: float = 0.0
    max_order: float = 0.0
    horizon: int = 0
    action_type: str = "discrete"
    initial_on_hand: float = 0.0
    products: tuple[int, ...] = ()
    draw_product: bool = True
    window: tuple[int, int] = (0, 0)

    @classmethod
    def validate(
        cls,
        owner: str,
        panel: Any = None,
        product: Any = None,
        split: Any = "train",
        test_start: Any = None,
        lead_time: Any = 0,
        history: Any = 28,
        lookahead: Any = 7,
        holding_rate: Any = 0.01,
        lost_sales_penalty: Any = 0.0,
        max_order: Any = None,
        horizon: Any = None,
        action_type: Any = "discrete",
        initial_on_hand: Any = 0.0,
    ) -> RetailConfig:
        """Check every parameter (raising ValueError/TypeError that names it) and return the config."""
        panel = check_panel(panel, owner)
        products, draw = resolve_products(product, panel, owner)
        split = check_choice(split, "split", owner, SPLITS)
        lead_time = check_int(lead_time, "lead_time", owner, 0, MAX_LEAD_TIME)
        history = check_int(history, "history", owner, 0, MAX_HISTORY)
        lookahead = check_int(lookahead, "lookahead", owner, 0, MAX_LOOKAHEAD)
        start, length, test_start = resolve_window(panel, split, test_start or None, history, owner)
        holding_rate = check_real(holding_rate, "holding_rate", owner, 0.0, None)
        lost_sales_penalty = check_real(lost_sales_penalty, "lost_sales_penalty", owner, 0.0, None)
        action_type = check_choice(action_type, "action_type", owner, ACTION_TYPES)
        if max_order is None:
            # Enough to cover L+1 days of the largest daily demand in the panel (promotions and Christmas too).
            max_order = max(1, math.ceil((lead_time + 1) * float(panel.demand.max())))
        elif action_type == "discrete":
            max_order = check_int(max_order, "max_order", owner, 1, MAX_ORDER)
        else:
            max_order = check_real(max_order, "max_order", owner, 0.0, float(MAX_ORDER), closed="right")
        horizon = length if horizon is None else check_int(horizon, "horizon", owner, 1, 10**12)
        initial_on_hand = check_real(initial_on_hand, "initial_on_hand", owner, 0.0, None)
        if isinstance(product, Sequence | np.ndarray) and not isinstance(product, str):
            product = tuple(products)  # hashable, like every other field
        return cls(owner, panel, product, split, test_start, lead_time, history, lookahead, holding_rate,
                   lost_sales_penalty, float(max_order), horizon, action_type, initial_on_hand, products, draw,
                   (start, length))

    def replace(self, **changes: Any) -> RetailConfig:
        """Return a validated copy with some parameters changed (derived fields are recomputed)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.init and f.name not in ("owner", "products", "draw_product", "window")}
        if self.action_type == "discrete":
            fields["max_order"] = int(self.max_order)
        if self.horizon == self.window[1] and "horizon" not in changes:
            fields["horizon"] = None  # the default horizon follows the (possibly new) window
        fields.update(changes)
        return type(self).validate(self.owner, **fields)

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
    def action_low(self) -> np.ndarray:  # noqa: D102 - documented on ScenarioConfig
        return np.zeros(1)

    @property
    def action_high(self) -> np.ndarray:  # noqa: D102
        return np.array([self.max_order])

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

    | parameter | symbol | type | default | allowed |
    |---|---|---|---|---|
    | ``panel`` | | ``invgym.panels.Panel`` | ``default_panel()`` | any panel |
    | ``product`` | | None, int, "all", sequence | None | rows of the panel |
    | ``split`` | | str | "train" | "train", "test" |
    | ``test_start`` | | ISO date | 2/3 into the panel | inside the panel, after ``history`` days |
    | ``lead_time`` | L | int | 0 | [0, 60] |
    | ``history`` | H | int | 28 | [0, 366] |
    | ``lookahead`` | k | int | 7 | [0, 60] |
    | ``holding_rate`` | h/c | float | 0.01 | [0, inf) |
    | ``lost_sales_penalty`` | b/p | float | 0.0 | [0, inf) |
    | ``max_order`` | | int (float if continuous) | (L+1) · max daily demand | [1, 10^7] |
    | ``horizon`` | T | int | window length | [1, 10^12] |
    | ``action_type`` | | str | "discrete" | "discrete", "continuous" |
    | ``initial_on_hand`` | | float | 0.0 | [0, inf) |

    ``product``: None draws a product uniformly at every reset from the env's own stream; an int fixes it;
    ``"all"`` gives env i product i mod P; a sequence gives env i ``product[i mod len]``.

    ## Vectorized environment

    >>> import gymnasium as gym, numpy as np, invgym
    >>> envs = gym.make_vec("invgym/Retail-v0", num_envs=200, vectorization_mode="vector_entry_point",
    ...                     product="all", split="test")
    >>> obs, _ = envs.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = envs.step(np.full(200, 3))
    >>> obs.shape, int(info["product"][199]), str(envs.config.panel.dates[int(info["day"][0])])
    ((200, 42), 199, '2016-01-01')

    ## References

    - D. Madeka, K. Torkkola, C. Eisenach, A. Luo, D. Foster, S. Kakade (2022), "Deep inventory management",
      arXiv:2210.03137 (one policy across products, censored demand, predict-then-optimize baseline).
    - Corporación Favorita Grocery Sales Forecasting (Kaggle, 2017): the schema ``invgym.loaders`` reads.

    ## Version History

    - v0: initial release.
    """

    def __init__(
        self,
        panel: Panel | None = None,
        product: Any = None,
        split: str = "train",
        test_start: Any = None,
        lead_time: int = 0,
        history: int = 28,
        lookahead: int = 7,
        holding_rate: float = 0.01,
        lost_sales_penalty: float = 0.0,
        max_order: float | None = None,
        horizon: int | None = None,
        action_type: str = "discrete",
        initial_on_hand: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        config = RetailConfig.validate(
            type(self).__name__, panel=panel, product=product, split=split, test_start=test_start,
            lead_time=lead_time, history=history, lookahead=lookahead, holding_rate=holding_rate,
            lost_sales_penalty=lost_sales_penalty, max_order=max_order, horizon=horizon, action_type=action_type,
            initial_on_hand=initial_on_hand,
        )
        super().__init__(config, render_mode)


class RetailVectorEnv(KernelVectorEnv):
    """``num_envs`` retail envs stepped together; takes :class:`RetailEnv`'s keywords (see its docstring)."""

    def __init__(self, num_envs: int = 1, autoreset_mode: Any = "next_step", render_mode: str | None = None,
                 **kwargs: Any) -> None:
        config = RetailConfig.validate(type(self).__name__, **kwargs)
        super().__init__(config, num_envs, autoreset_mode, render_mode)
