"""Product × day demand panels: the data the retail scenarios run on, and a seeded synthetic generator.

A :class:`Panel` holds ``num_products`` daily series over the same calendar: demand (or recorded sales), promotion
flags, holiday flags, dates (``numpy.datetime64[D]``) and per-product attributes (price, unit cost, mean vendor
lead time, case pack, minimum order quantity). :func:`synthetic_panel` draws one that looks like retail data —
the default of every retail env, so nothing is ever downloaded; :mod:`invgym.loaders` reads the Favorita, M5 and
UCI Online Retail files a user downloads into the same format.

The generator's demand for product i on day t is a negative-binomial (gamma-Poisson) draw with mean

    mu[i, t] = level[i] * trend[i, t] * weekly[i, dow(t)] * yearly[i, t] * holiday[t] * promo[i, t] * shock[i, t]

with long-tailed (log-normal) levels across products, a zero-inflated share of slow movers, a Christmas peak
(ramping through December, stores closed on 25 December and 1 January), promotion uplifts with a pre-promotion
dip and a post-promotion dip (customers stock up), and a shock: a sudden level change that decays exponentially,
like the April 2016 Ecuador earthquake in the Favorita data. Only numpy is needed.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from invgym.validation import check_int, check_real

__all__ = ["ATTRIBUTES", "Panel", "default_panel", "synthetic_panel"]

# Per-product attributes every panel carries (loaders fill defaults, documented in ``Panel.with_defaults``).
ATTRIBUTES = ("price", "unit_cost", "lead_time_mean", "case_pack", "moq")


@dataclasses.dataclass(frozen=True, eq=False)
class Panel:
    """Daily demand of many products over one calendar.

    Attributes:
        demand: float64 array (num_products, num_days) of non-negative units (recorded sales for real data).
        promo: bool array (num_products, num_days): the product is on promotion that day.
        holiday: bool array (num_days,): a public holiday or a store-wide event that day.
        dates: ``datetime64[D]`` array (num_days,) of consecutive days.
        product_ids: array (num_products,) of product names (str).
        attributes: dict of float64 arrays (num_products,) with at least the keys in :data:`ATTRIBUTES`.
    """

    demand: np.ndarray
    promo: np.ndarray
    holiday: np.ndarray
    dates: np.ndarray
    product_ids: np.ndarray
    attributes: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        demand = np.ascontiguousarray(self.demand, dtype=np.float64)
        if demand.ndim != 2 or demand.shape[0] < 1 or demand.shape[1] < 2:
            raise ValueError(f"Panel demand must have shape (num_products >= 1, num_days >= 2). Got {demand.shape}.")
        if not np.all(np.isfinite(demand)) or np.any(demand < 0):
            raise ValueError("Panel demand must be finite and non-negative (treat returns before building a panel).")
        p, t = demand.shape
        promo = np.ascontiguousarray(self.promo, dtype=np.bool_)
        holiday = np.ascontiguousarray(self.holiday, dtype=np.bool_)
        dates = np.asarray(self.dates).astype("datetime64[D]")
        if promo.shape != (p, t) or holiday.shape != (t,) or dates.shape != (t,):
            raise ValueError(f"Panel promo must have shape {(p, t)}, holiday and dates shape {(t,)}. Got "
                             f"{promo.shape}, {holiday.shape} and {dates.shape}.")
        if np.any(np.diff(dates) != np.timedelta64(1, "D")):
            raise ValueError("Panel dates must be consecutive days (fill missing days before building a panel).")
        ids = np.asarray(self.product_ids).astype(str)
        if ids.shape != (p,):
            raise ValueError(f"Panel product_ids must have length {p}. Got {ids.shape} instead.")
        attributes = _default_attributes(demand, dict(self.attributes))
        for name, value in (("demand", demand), ("promo", promo), ("holiday", holiday), ("dates", dates),
                            ("product_ids", ids), ("attributes", attributes)):
            object.__setattr__(self, name, value)

    @property
    def num_products(self) -> int:
        """Number of products (rows)."""
        return self.demand.shape[0]

    @property
    def num_days(self) -> int:
        """Number of days (columns)."""
        return self.demand.shape[1]

    def day_of(self, date: Any) -> int:
        """Return the column of ``date`` (a ``datetime64``, or an ISO string such as "2016-01-01")."""
        day = np.datetime64(date, "D")
        index = int((day - self.dates[0]).astype(np.int64))
        if not 0 <= index < self.num_days:
            raise ValueError(f"the date {day} is outside the panel ({self.dates[0]} to {self.dates[-1]}).")
        return index

    def calendar(self) -> np.ndarray:
        """Return float64 (num_days, 4): sin/cos of the day of week and of the day of year (annual cycle)."""
        days = self.dates.astype(np.int64)  # days since 1970-01-01, a Thursday
        dow = (days + 3) % 7  # Monday = 0
        years = self.dates.astype("datetime64[Y]")
        doy = (self.dates - years.astype("datetime64[D]")).astype(np.int64)
        return np.stack([np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7),
                         np.sin(2 * np.pi * doy / 365.25), np.cos(2 * np.pi * doy / 365.25)], axis=1)

    def subset(self, products: Any = None, start: Any = None, end: Any = None) -> Panel:
        """Return the panel restricted to some products (indices) and the dates ``[start, end]`` (inclusive)."""
        rows = np.arange(self.num_products) if products is None else np.asarray(products, dtype=np.int64)
        lo = 0 if start is None else self.day_of(start)
        hi = self.num_days if end is None else self.day_of(end) + 1
        return Panel(self.demand[rows, lo:hi], self.promo[rows, lo:hi], self.holiday[lo:hi], self.dates[lo:hi],
                     self.product_ids[rows], {k: v[rows] for k, v in self.attributes.items()})

    def __repr__(self) -> str:
        return (f"Panel({self.num_products} products x {self.num_days} days, {self.dates[0]} to {self.dates[-1]}, "
                f"mean daily demand {self.demand.mean():.2f})")


def _default_attributes(demand: np.ndarray, attributes: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fill missing attributes with documented defaults; check the given ones.

    Defaults: price 1.0; unit cost 0.7 x price (a 30 % margin); mean vendor lead time 3 days; case pack 1;
    MOQ 0 (no minimum). Real data sets rarely record these, so loaders rely on the defaults.
    """
    p = demand.shape[0]
    out = {k: np.ascontiguousarray(v, dtype=np.float64).reshape(-1) for k, v in attributes.items()}
    out.setdefault("price", np.ones(p))
    out.setdefault("unit_cost", 0.7 * out["price"])
    out.setdefault("lead_time_mean", np.full(p, 3.0))
    out.setdefault("case_pack", np.ones(p))
    out.setdefault("moq", np.zeros(p))
    for name, value in out.items():
        if value.shape != (p,) or not np.all(np.isfinite(value)) or np.any(value < 0):
            raise ValueError(f"Panel attribute {name!r} must be {p} finite non-negative numbers.")
    if np.any(out["price"] <= 0) or np.any(out["case_pack"] < 1):
        raise ValueError("Panel attributes 'price' must be positive and 'case_pack' at least 1.")
    return out


def _christmas(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (multiplier, holiday flags): a December ramp to ~2.2x on 23-24 Dec, closed on 25 Dec and 1 Jan."""
    month_day = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    month = (dates.astype("datetime64[M]").astype(np.int64) % 12) + 1
    mult = np.ones(dates.shape[0])
    december = month == 12
    # The ramp through December peaks just before Christmas (as in Favorita's sales).
    mult[december] = 1.0 + 1.2 * (np.minimum(month_day[december], 24) / 24.0) ** 2
    closed = (december & (month_day == 25)) | ((month == 1) & (month_day == 1))
    mult[closed] = 0.0
    labour_day = (month == 5) & (month_day == 1)
    mult[labour_day] *= 1.3
    holiday = (december & (month_day >= 20)) | closed | ((month == 1) & (month_day <= 2)) | labour_day
    return mult, holiday


def synthetic_panel(
    num_products: int = 200,
    num_days: int = 1096,
    start: str = "2014-01-01",
    seed: int = 0,
    slow_mover_share: float = 0.3,
    promo_rate: float = 0.02,
    shock_date: str | None = "2016-04-16",
    shock_size: float = 0.6,
    shock_decay_days: float = 20.0,
) -> Panel:
    """Draw a retail-like panel; the same arguments give the same panel.

    Args:
        num_products: products (rows), in [1, 100000].
        num_days: consecutive days, in [2, 36500]; the default covers 2014-2016 (train/test by date).
        start: first date (ISO).
        seed: seed of every draw.
        slow_mover_share: share of intermittent (zero-inflated) products, in [0, 1].
        promo_rate: per product and day, the chance a promotion starts (each lasts 3-10 days), in [0, 0.5].
        shock_date: the day a shock lifts demand (None for no shock; ignored outside the panel). The default is
            the 2016 Ecuador earthquake (16 April), whose relief purchases the Favorita data shows.
        shock_size: mean relative level change at the shock (drawn per product around it), in [-0.9, 5].
        shock_decay_days: e-folding time of the shock's decay, in (0, 3650].

    Returns:
        A :class:`Panel` with attributes price, unit_cost, lead_time_mean, case_pack and moq drawn per product.
    """
    owner = "synthetic_panel"
    num_products = check_int(num_products, "num_products", owner, 1, 100_000)
    num_days = check_int(num_days, "num_days", owner, 2, 36_500)
    seed = check_int(seed, "seed", owner, 0, 2**63 - 1)
    slow_mover_share = check_real(slow_mover_share, "slow_mover_share", owner, 0.0, 1.0)
    promo_rate = check_real(promo_rate, "promo_rate", owner, 0.0, 0.5)
    shock_size = check_real(shock_size, "shock_size", owner, -0.9, 5.0)
    shock_decay_days = check_real(shock_decay_days, "shock_decay_days", owner, 0.0, 3650.0, closed="right")
    try:
        first = np.datetime64(start, "D")
    except ValueError as err:
        raise ValueError(f"The 'start' parameter of {owner} must be an ISO date. Got {start!r} instead.") from err
    rng = np.random.default_rng(seed)
    p, n = num_products, num_days
    dates = first + np.arange(n).astype("timedelta64[D]")
    t = np.arange(n)

    # Long-tailed levels (log-normal, as unit sales across a retailer's assortment); slow movers sell rarely.
    level = np.exp(rng.normal(1.0, 1.1, p))
    slow = rng.random(p) < slow_mover_share
    level[slow] = rng.uniform(0.05, 0.6, slow.sum())
    trend = np.exp(rng.normal(0.0, 0.15, p)[:, None] * t[None, :] / 365.0)
    # Weekly profile: weekends busier, with a per-product twist; normalised to mean one.
    base_week = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.3, 1.0])
    weekly = base_week[None, :] * np.exp(rng.normal(0.0, 0.08, (p, 7)))
    weekly /= weekly.mean(axis=1, keepdims=True)
    dow = (dates.astype(np.int64) + 3) % 7
    yearly_amp = rng.uniform(0.0, 0.25, p)
    yearly_phase = rng.uniform(0, 2 * np.pi, p)
    doy_angle = 2 * np.pi * t / 365.25
    yearly = 1.0 + yearly_amp[:, None] * np.sin(doy_angle[None, :] + yearly_phase[:, None])
    xmas, holiday = _christmas(dates)

    # Promotions: episodes of 3-10 days with an uplift; the week before dips slightly, the days after dip more.
    promo = np.zeros((p, n), dtype=np.bool_)
    effect = np.ones((p, n))
    starts = np.argwhere(rng.random((p, n)) < promo_rate)
    for i, s in starts:
        if promo[i, max(s - 3, 0) : s + 1].any():
            continue
        length = int(rng.integers(3, 11))
        uplift = float(rng.uniform(1.5, 3.0))
        promo[i, s : s + length] = True
        effect[i, s : s + length] *= uplift
        effect[i, max(s - 7, 0) : s] *= 0.92
        effect[i, s + length : s + length + 5] *= 0.75

    # The shock: a jump of relative size ~ shock_size that decays with e-folding time shock_decay_days.
    shock = np.ones((p, n))
    if shock_date is not None:
        t0 = int((np.datetime64(shock_date, "D") - first).astype(np.int64))
        if 0 <= t0 < n:
            size = np.maximum(shock_size * rng.lognormal(0.0, 0.5, p), -0.9)
            after = t >= t0
            shock[:, after] += size[:, None] * np.exp(-(t[after] - t0) / shock_decay_days)[None, :]

    mu = level[:, None] * trend * weekly[:, dow] * yearly * xmas[None, :] * effect * shock
    # Gamma-Poisson noise (variance mu + mu^2 / k): over-dispersed, as retail counts are.
    k = rng.uniform(2.0, 10.0, p)[:, None]
    rate = rng.gamma(k, mu / k) if p * n else mu
    demand = rng.poisson(rate).astype(np.float64)
    # Slow movers are zero-inflated: most days nothing sells even when the rate is positive.
    demand[slow] *= rng.random((slow.sum(), n)) < 0.5

    price = np.round(np.exp(rng.normal(1.5, 0.8, p)), 2) + 0.5
    unit_cost = np.round(price * rng.uniform(0.55, 0.8, p), 2)
    lead_time_mean = rng.integers(2, 9, p).astype(np.float64)
    # Case packs grow with the selling rate (slow movers come in singles); the MOQ is one to three cases.
    packs = np.array([1.0, 6.0, 12.0, 24.0])
    case_pack = packs[np.clip(np.searchsorted([2.0, 10.0, 40.0], level), 0, 3)]
    moq = case_pack * rng.integers(1, 4, p)
    moq[case_pack == 1] = 0.0
    ids = np.array([f"SKU{i:05d}" for i in range(p)])
    attributes = {"price": price, "unit_cost": unit_cost, "lead_time_mean": lead_time_mean, "case_pack": case_pack,
                  "moq": moq, "level": level, "slow_mover": slow.astype(np.float64)}
    return Panel(demand, promo, holiday, dates, ids, attributes)


@functools.lru_cache(maxsize=4)
def default_panel(num_products: int = 200, seed: int = 0) -> Panel:
    """Return (and cache) ``synthetic_panel(num_products, seed=seed)``, the retail envs' default data."""
    return synthetic_panel(num_products=num_products, seed=seed)
