"""A simulation-optimised replenishment teacher: days of cover per demand regime, promotions included (numpy only).

ORPR's OR model (Zhao et al. 2025) is not a single rule of thumb but an optimisation over the parameters of a
replenishment policy, evaluated by simulation under the business's constraints and its managers' preferences.
:class:`RegimeCover` is that model for ``invgym/Replenishment-v0``:

- **Policy** (review-period order-up-to): on a review day a SKU orders up to ``rate x (days[r] + promo_days[v] x
  n)`` on its inventory position, where ``rate`` is the mean of the observed sales history, ``r`` the SKU-day's
  *demand regime* (velocity tercile x variability tercile of the history, both observable), ``v`` its velocity
  tercile and ``n`` the number of announced promotion days ahead (the promotion regime). Case packs, MOQ,
  capacity and review days are the env's own rules (``constraints="round"``), vendor lead times its random draws.
- **Optimisation**: coordinate descent over the 9 + 3 parameters on a grid, each coordinate's candidates
  simulated at once on the compiled kernel over every SKU and the whole **train** window, with common random
  numbers (every candidate faces the same demand and the same vendor lead-time draws).
- **Managerial preference** (:class:`Preference`): minimise ``holding + lost_sales_weight x lost margin`` per
  SKU-day subject to an in-stock target, a turnover cap (days) and a holding budget (per SKU-day); a violated
  constraint costs ``penalty`` per unit of violation, so the search prefers any feasible parameter set.

The teacher's decisions on the states it visits are ORPR's labels (``ORLabeler(env, teacher=RegimeCover.fit(env))``).

:class:`SkuCover` is the same model with its parameters per SKU instead of per demand regime: each SKU's days of
cover and promotion days are optimised on that SKU's own train-window simulation (common random numbers across
candidates), under the preference applied to that SKU. A policy sees a SKU only through its observation, so SKUs
whose observed constraints (lead-time mean, case pack, MOQ, capacity) coincide form one group and share parameters.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from invgym.baselines.common import FittedPolicy, config_of, family_of
from invgym.validation import check_int, check_real

__all__ = ["Preference", "RegimeCover", "SkuCover", "regime_metrics", "sku_metrics"]

FIT_SEED = 2**40 + 7  # far from the public evaluation seeds
N_VELOCITY = N_VARIABILITY = 3


@dataclasses.dataclass(frozen=True)
class Preference:
    """A manager's preference: a weighted objective and optional constraints (None: no such constraint)."""

    lost_sales_weight: float = 1.0
    """Weight of the lost margin against holding cost in the objective (>= 0)."""
    in_stock_target: float | None = 0.95
    """Smallest SKU-day in-stock rate, in [0, 1]."""
    turnover_cap: float | None = None
    """Largest turnover (days of sales on hand), > 0."""
    holding_budget: float | None = None
    """Largest holding cost per SKU-day, > 0."""
    penalty: float = 1000.0
    """Objective cost per unit of constraint violation (per point of in-stock rate, per day of turnover, per unit
    of holding cost), > 0."""

    def validate(self) -> Preference:
        """Check every field; return self."""
        owner = type(self).__name__
        check_real(self.lost_sales_weight, "lost_sales_weight", owner, 0.0, None)
        if self.in_stock_target is not None:
            check_real(self.in_stock_target, "in_stock_target", owner, 0.0, 1.0)
        if self.turnover_cap is not None:
            check_real(self.turnover_cap, "turnover_cap", owner, 0.0, None, closed="right")
        if self.holding_budget is not None:
            check_real(self.holding_budget, "holding_budget", owner, 0.0, None, closed="right")
        check_real(self.penalty, "penalty", owner, 0.0, None, closed="right")
        return self

    def objective(self, m: dict[str, np.ndarray]) -> np.ndarray:
        """The penalised objective of candidates from their :func:`regime_metrics` (arrays over candidates)."""
        value = m["holding_cost"] + self.lost_sales_weight * m["lost_sales_cost"]
        if self.in_stock_target is not None:
            value = value + self.penalty * 100.0 * np.maximum(self.in_stock_target - m["in_stock_rate"], 0.0)
        if self.turnover_cap is not None:
            value = value + self.penalty * np.maximum(m["turnover_days"] - self.turnover_cap, 0.0)
        if self.holding_budget is not None:
            value = value + self.penalty * np.maximum(m["holding_cost"] - self.holding_budget, 0.0)
        return value


def _features(obs: np.ndarray, slices: dict[str, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the sales rate, its coefficient of variation, and the announced promotion days ahead."""
    sales = obs[:, slices["sales"]]
    rate = sales.mean(axis=1)
    cv = np.where(rate > 0, sales.std(axis=1) / np.maximum(rate, 1e-9), 0.0)
    promo = obs[:, slices["promo"]].sum(axis=1)
    return rate, cv, promo


def _orders(obs: np.ndarray, days: np.ndarray, promo_days: np.ndarray, rate_edges: np.ndarray,
            cv_edges: np.ndarray, slices: dict[str, slice], max_order: float, discrete: bool) -> np.ndarray:
    """Order up to the regime's cover; ``days`` (B, 9) and ``promo_days`` (B, 3) hold each row's parameters."""
    rate, cv, promo = _features(obs, slices)
    v = np.searchsorted(rate_edges, rate, side="right")
    r = v * N_VARIABILITY + np.searchsorted(cv_edges, cv, side="right")
    rows = np.arange(len(obs))
    cover = days[rows, r] + promo_days[rows, v] * promo
    position = obs[:, slices["inventory"]].sum(axis=1)
    q = np.clip(np.ceil(cover * rate - position - 1e-9), 0.0, max_order)
    return q.astype(np.int64) if discrete else q


def _fit_inputs(owner: str, env: Any, preference: Preference | None, grid: Any, promo_grid: Any, rounds: Any,
                env_kwargs: dict[str, Any]) -> tuple[Any, Preference, np.ndarray, np.ndarray, int]:
    # The checked inputs of RegimeCover.fit and SkuCover.fit (one copy of their checks and defaults).
    config = config_of(env, **env_kwargs)
    if family_of(config) != "replenishment":
        raise ValueError(f"{owner} works on invgym/Replenishment-v0. Got the {family_of(config)} scenario.")
    preference = (Preference() if preference is None else preference).validate()
    grid = np.arange(0.0, 61.0) if grid is None else np.asarray(grid, np.float64)
    promo_grid = np.arange(0.0, 3.01, 0.5) if promo_grid is None else np.asarray(promo_grid, np.float64)
    for name, values in (("grid", grid), ("promo_grid", promo_grid)):
        if values.ndim != 1 or not values.size or not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"The '{name}' parameter of {owner}.fit must be a non-empty sequence of "
                             f"non-negative floats. Got {values.tolist()!r} instead.")
    return config, preference, grid, promo_grid, check_int(rounds, "rounds", f"{owner}.fit", 1, 20)


class RegimeCover(FittedPolicy):
    """Order up to ``rate x (days[regime] + promo_days[velocity] x announced promotion days)`` on review days.

    Args:
        config: a Replenishment-v0 config (observation layout, ``max_order``).
        days: 9 days of cover, regime ``3 x velocity + variability`` (terciles, low to high).
        promo_days: 3 extra days of cover per announced promotion day, by velocity tercile.
        rate_edges: the 2 sales-rate tercile edges (units/day).
        cv_edges: the 2 coefficient-of-variation tercile edges.
    """

    family = "replenishment"

    def __init__(self, config: Any, days: Any, promo_days: Any, rate_edges: Any, cv_edges: Any) -> None:
        if family_of(config) != "replenishment":
            raise ValueError(f"RegimeCover works on invgym/Replenishment-v0. Got the {family_of(config)} scenario.")
        days, promo_days = np.asarray(days, np.float64), np.asarray(promo_days, np.float64)
        for name, value, size in (("days", days, N_VELOCITY * N_VARIABILITY), ("promo_days", promo_days, N_VELOCITY),
                                  ("rate_edges", np.asarray(rate_edges), N_VELOCITY - 1),
                                  ("cv_edges", np.asarray(cv_edges), N_VARIABILITY - 1)):
            if value.shape != (size,) or not np.isfinite(value).all() or (value < 0).any():
                raise ValueError(f"The '{name}' parameter of RegimeCover must be {size} non-negative finite floats. "
                                 f"Got {value.tolist()!r} instead.")
        super().__init__(days=days.tolist(), promo_days=promo_days.tolist(),
                         rate_edges=np.asarray(rate_edges, np.float64).tolist(),
                         cv_edges=np.asarray(cv_edges, np.float64).tolist())
        self.slices, self.max_order = config.slices, float(config.max_order)
        self.discrete = config.action_type == "discrete"
        self.info: dict[str, Any] = {}

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the orders of a batch of observations."""
        obs = np.asarray(obs, dtype=np.float64)
        n = len(obs)
        p = self.params
        return _orders(obs, np.tile(p["days"], (n, 1)), np.tile(p["promo_days"], (n, 1)),
                       np.asarray(p["rate_edges"]), np.asarray(p["cv_edges"]), self.slices, self.max_order,
                       self.discrete)

    @classmethod
    def fit(cls, env: Any, preference: Preference | None = None, grid: Any = None, promo_grid: Any = None,
            rounds: int = 2, seed: int = FIT_SEED, **env_kwargs: Any) -> RegimeCover:
        """Optimise the parameters by simulation on the train window under ``preference``.

        Args:
            env: a Replenishment-v0 env, config or id (with ``env_kwargs``).
            preference: a :class:`Preference` (default: in-stock >= 95 %, holding + lost margin).
            grid: candidate days of cover (default 0, 1, ..., 60).
            promo_grid: candidate extra days per announced promotion day (default 0, 0.5, ..., 3).
            rounds: passes of coordinate descent over the 12 parameters, in [1, 20].
            seed: env i of every simulation is seeded ``seed + i`` (common random numbers).
            **env_kwargs: scenario parameters, with an id only.
        """
        config, preference, grid, promo_grid, rounds = _fit_inputs(
            "RegimeCover", env, preference, grid, promo_grid, rounds, env_kwargs)
        train = config.replace(split="train")  # its products (all by default), the train window
        rate_edges, cv_edges = _regime_edges(train, seed)
        # Start on the grid (its middle value), so every coordinate step can keep the current value.
        days = np.full(N_VELOCITY * N_VARIABILITY, float(np.sort(grid)[len(grid) // 2]))
        promo_days = np.full(N_VELOCITY, float(promo_grid[0]))
        history, evaluations = [], 0
        for _ in range(rounds):
            for which, size, values in (("days", len(days), grid), ("promo_days", len(promo_days), promo_grid)):
                for k in range(size):
                    cand_days = np.tile(days, (len(values), 1))
                    cand_promo = np.tile(promo_days, (len(values), 1))
                    (cand_days if which == "days" else cand_promo)[:, k] = values
                    m = regime_metrics(train, cand_days, cand_promo, rate_edges, cv_edges, seed)
                    evaluations += len(values)
                    obj = preference.objective(m)
                    best = int(np.argmin(obj))
                    (days if which == "days" else promo_days)[k] = values[best]
                    history.append({"parameter": f"{which}[{k}]", "value": float(values[best]),
                                    "objective": float(obj[best])})
        policy = cls(config, days, promo_days, rate_edges, cv_edges)
        final = regime_metrics(train, days[None], promo_days[None], rate_edges, cv_edges, seed)
        policy.info = {"train": {k: float(v[0]) for k, v in final.items()},
                       "objective": float(preference.objective(final)[0]), "preference": dataclasses.asdict(preference),
                       "evaluations": evaluations, "history": history}
        return policy


def _regime_edges(train: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tercile edges of the sales rate and its CV over the review-day states of the train window."""
    from invgym.baselines.days_of_cover import DaysOfCover, protection_period

    incumbent = DaysOfCover(train, protection_period(train))
    products = len(train.products)
    buf = dataclasses.replace(train, product=tuple(train.products)).bind(products).reset(seed)
    review = train.slices["review"].start
    rates, cvs = [], []
    for t in range(train.window[1]):
        obs = buf.obs.copy()
        if t % 7 == 0:
            keep = obs[:, review] > 0.5
            rate, cv, _ = _features(np.asarray(obs[keep], np.float64), train.slices)  # as the policy computes them
            rates.append(rate)
            cvs.append(cv)
        buf.actions[:, 0] = incumbent(obs)
        buf.kernel.step()
    rate, cv = np.concatenate(rates), np.concatenate(cvs)
    return np.quantile(rate, [1 / 3, 2 / 3]), np.quantile(cv, [1 / 3, 2 / 3])


WINDOW_PARTS = ("holding_cost", "lost_sales_cost", "in_stock", "on_hand", "sales")  # summed by _simulate_window


def _simulate_window(config: Any, k: int, row_days: np.ndarray, row_promo: np.ndarray, rate_edges: np.ndarray,
                     cv_edges: np.ndarray, seed: int) -> np.ndarray:
    """Run ``k`` candidates on every SKU of ``config`` over its window; per-env sums of :data:`WINDOW_PARTS`.

    Env ``c x P + i`` runs product ``i`` with row ``c x P + i`` of ``row_days`` / ``row_promo``, seeded
    ``seed + i``: every candidate sees the same demand and lead-time draws (common random numbers).
    Returns an array of shape ``(k x P, len(WINDOW_PARTS))``.
    """
    products = len(config.products)
    run = dataclasses.replace(config, product=tuple(config.products) * k)  # env j runs products[j], no draw
    buf = run.bind(k * products).reset(np.tile(seed + np.arange(products, dtype=np.uint64), k))
    parts = type(config).parts
    cols = [parts.index(p) for p in WINDOW_PARTS]
    totals = np.zeros((k * products, len(cols)))
    slices, max_order, discrete = config.slices, float(config.max_order), config.action_type == "discrete"
    for _ in range(config.window[1]):
        # In float64, as RegimeCover.act and SkuCover.act compute them: on the kernel's float32 observations
        # ceil() rounds a unit up more often, so the policy evaluated would order less than the one fitted.
        obs = np.asarray(buf.obs, np.float64)
        buf.actions[:, 0] = _orders(obs, row_days, row_promo, rate_edges, cv_edges, slices, max_order, discrete)
        buf.kernel.step()
        totals += buf.parts[:, cols]
    return totals


def regime_metrics(config: Any, days: np.ndarray, promo_days: np.ndarray, rate_edges: np.ndarray,
                   cv_edges: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Simulate candidate parameter sets (rows of ``days`` / ``promo_days``) on every SKU over the window.

    One batch of ``products x candidates`` envs: env ``c x P + i`` runs product ``i`` with candidate ``c``,
    seeded ``seed + i`` (the same demand and lead-time draws for every candidate). Returns per candidate the
    holding and lost-margin cost per SKU-day, the SKU-day in-stock rate and the turnover days.
    """
    days, promo_days = np.atleast_2d(days), np.atleast_2d(promo_days)
    k, products = len(days), len(config.products)
    row_days, row_promo = np.repeat(days, products, axis=0), np.repeat(promo_days, products, axis=0)
    totals = _simulate_window(config, k, row_days, row_promo, rate_edges, cv_edges, seed)
    per = totals.reshape(k, products, len(WINDOW_PARTS)).sum(axis=1)
    sku_days = products * config.window[1]
    return {"holding_cost": per[:, 0] / sku_days, "lost_sales_cost": per[:, 1] / sku_days,
            "in_stock_rate": per[:, 2] / sku_days,
            "turnover_days": np.where(per[:, 4] > 0, per[:, 3] / np.maximum(per[:, 4], 1e-12), np.inf)}


SKU_FEATURES = 4  # lead-time mean, case pack, MOQ, capacity: the observation's last fields after the review schedule


def _sku_keys(obs: np.ndarray, slices: dict[str, slice]) -> list[tuple[float, ...]]:
    """Per row, the SKU's observed constraints (float32, as observed), which tell SKUs apart."""
    start = slices["review"].start + 2
    return [tuple(r) for r in np.asarray(obs[:, start:start + SKU_FEATURES], np.float32).tolist()]


def sku_metrics(config: Any, days: np.ndarray, promo_days: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Simulate per-SKU candidates on every SKU of ``config`` over its window; metrics per candidate and SKU.

    ``days`` and ``promo_days`` are (candidates, products): env ``c x P + i`` runs product ``i`` ordering up to
    ``rate x (days[c, i] + promo_days[c, i] x announced promotion days)``, seeded ``seed + i`` (the same demand and
    lead times for every candidate). Returns the per-(candidate, SKU) sums of holding cost, lost-margin cost,
    in-stock days, on-hand units and sales, and the SKU-days simulated per SKU (``"days"``).
    """
    days, promo_days = np.asarray(days, np.float64), np.asarray(promo_days, np.float64)
    k, products = days.shape
    row_days = np.repeat(days.reshape(-1, 1), N_VELOCITY * N_VARIABILITY, axis=1)  # one value: no regimes
    row_promo = np.repeat(promo_days.reshape(-1, 1), N_VELOCITY, axis=1)
    edges = np.zeros(N_VELOCITY - 1)
    totals = _simulate_window(config, k, row_days, row_promo, edges, edges, seed)
    out = {name: totals[:, j].reshape(k, products) for j, name in enumerate(WINDOW_PARTS)}
    out["days"] = np.full(products, float(config.window[1]))
    return out


def _group_metrics(m: dict[str, np.ndarray], groups: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Per (candidate, group) metrics of :func:`sku_metrics` sums: the preference's inputs."""
    def by_group(a: np.ndarray) -> np.ndarray:
        out = np.zeros(a.shape[:-1] + (n_groups,))
        np.add.at(out, (..., groups), a)
        return out

    sku_days = by_group(m["days"])
    holding, lost = by_group(m["holding_cost"]), by_group(m["lost_sales_cost"])
    on_hand, sales = by_group(m["on_hand"]), by_group(m["sales"])
    return {"holding_cost": holding / sku_days, "lost_sales_cost": lost / sku_days,
            "in_stock_rate": by_group(m["in_stock"]) / sku_days,
            "turnover_days": np.where(sales > 0, on_hand / np.maximum(sales, 1e-12), np.inf)}


class SkuCover(FittedPolicy):
    """Order up to ``rate x (days + promo_days x announced promotion days)`` with each SKU group's own parameters.

    Args:
        config: a Replenishment-v0 config (observation layout, ``max_order``).
        keys: per SKU group, its observed constraints (lead-time mean, case pack, MOQ, capacity).
        days: per group, days of cover.
        promo_days: per group, extra days of cover per announced promotion day.
        default_days: days of cover of a SKU whose constraints match no group (an unseen SKU).
        default_promo_days: its extra days per announced promotion day.
    """

    family = "replenishment"

    def __init__(self, config: Any, keys: Any, days: Any, promo_days: Any, default_days: float,
                 default_promo_days: float) -> None:
        if family_of(config) != "replenishment":
            raise ValueError(f"SkuCover works on invgym/Replenishment-v0. Got the {family_of(config)} scenario.")
        keys = [tuple(float(np.float32(v)) for v in key) for key in keys]
        days, promo_days = np.asarray(days, np.float64), np.asarray(promo_days, np.float64)
        if any(len(key) != SKU_FEATURES for key in keys) or len(set(keys)) != len(keys):
            raise ValueError(f"The 'keys' parameter of SkuCover must be distinct {SKU_FEATURES}-tuples of observed SKU "
                             "constraints (lead-time mean, case pack, MOQ, capacity).")
        for name, value in (("days", days), ("promo_days", promo_days)):
            if value.shape != (len(keys),) or not np.isfinite(value).all() or (value < 0).any():
                raise ValueError(f"The '{name}' parameter of SkuCover must be {len(keys)} non-negative finite floats "
                                 f"(one per key). Got {value.tolist()!r} instead.")
        check_real(default_days, "default_days", "SkuCover", 0.0, None)
        check_real(default_promo_days, "default_promo_days", "SkuCover", 0.0, None)
        super().__init__(keys=[list(k) for k in keys], days=days.tolist(), promo_days=promo_days.tolist(),
                         default_days=float(default_days), default_promo_days=float(default_promo_days))
        self.slices, self.max_order = config.slices, float(config.max_order)
        self.discrete = config.action_type == "discrete"
        self._index = {key: i for i, key in enumerate(keys)}
        self._days = np.append(days, float(default_days))  # the last entry: an unseen SKU
        self._promo = np.append(promo_days, float(default_promo_days))
        self.info: dict[str, Any] = {}

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the orders of a batch of observations."""
        obs = np.asarray(obs)
        unseen = len(self._days) - 1
        g = np.array([self._index.get(key, unseen) for key in _sku_keys(obs, self.slices)], dtype=np.int64)
        row_days = np.repeat(self._days[g][:, None], N_VELOCITY * N_VARIABILITY, axis=1)
        row_promo = np.repeat(self._promo[g][:, None], N_VELOCITY, axis=1)
        edges = np.zeros(N_VELOCITY - 1)
        return _orders(np.asarray(obs, np.float64), row_days, row_promo, edges, edges, self.slices, self.max_order,
                       self.discrete)

    @classmethod
    def fit(cls, env: Any, preference: Preference | None = None, grid: Any = None, promo_grid: Any = None,
            rounds: int = 2, seed: int = FIT_SEED, **env_kwargs: Any) -> SkuCover:
        """Optimise each SKU group's parameters by simulation on the train window under ``preference``.

        Coordinate descent over (days, promotion days), both coordinates of every group at once: a group's
        objective depends only on its own parameters, so the groups are separate problems sharing one batch of
        simulations. The preference (objective and constraints) applies to each group's own metrics.

        Args:
            env: a Replenishment-v0 env, config or id (with ``env_kwargs``).
            preference: a :class:`Preference` (default: in-stock >= 95 %, holding + lost margin).
            grid: candidate days of cover (default 0, 1, ..., 60).
            promo_grid: candidate extra days per announced promotion day (default 0, 0.5, ..., 3).
            rounds: passes of coordinate descent, in [1, 20].
            seed: env i of every simulation is seeded ``seed + i`` (common random numbers).
            **env_kwargs: scenario parameters, with an id only.
        """
        config, preference, grid, promo_grid, rounds = _fit_inputs(
            "SkuCover", env, preference, grid, promo_grid, rounds, env_kwargs)
        train = config.replace(split="train")
        products = len(train.products)
        obs = dataclasses.replace(train, product=tuple(train.products)).bind(products).reset(seed).obs
        sku_keys = _sku_keys(obs, train.slices)
        keys = list(dict.fromkeys(sku_keys))  # first-seen order
        groups = np.array([keys.index(key) for key in sku_keys], dtype=np.int64)
        n = len(keys)
        days = np.full(n, float(np.sort(grid)[len(grid) // 2]))
        promo = np.full(n, float(promo_grid[0]))
        evaluations, objective = 0, None
        for _ in range(rounds):
            for which, values in (("days", grid), ("promo_days", promo_grid)):
                cand_days = np.tile(days[groups], (len(values), 1))
                cand_promo = np.tile(promo[groups], (len(values), 1))
                (cand_days if which == "days" else cand_promo)[:] = values[:, None]
                m = _group_metrics(sku_metrics(train, cand_days, cand_promo, seed), groups, n)
                evaluations += len(values)
                obj = preference.objective(m)  # (candidates, groups)
                best = np.argmin(obj, axis=0)
                (days if which == "days" else promo)[:] = values[best]
                objective = obj[best, np.arange(n)]
        policy = cls(config, keys, days, promo, float(np.median(days)), float(np.median(promo)))
        final = sku_metrics(train, days[groups][None], promo[groups][None], seed)
        total = _group_metrics(final, np.zeros(products, dtype=np.int64), 1)
        per_group = _group_metrics(final, groups, n)
        policy.info = {"train": {k: float(v[0, 0]) for k, v in total.items()},
                       "groups": n, "products": products, "evaluations": evaluations,
                       "objective": objective.tolist(),
                       "group_in_stock": per_group["in_stock_rate"][0].tolist(),
                       "preference": dataclasses.asdict(preference)}
        return policy
