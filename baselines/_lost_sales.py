"""What the lost-sales heuristics share: a policy base class, critical fractiles and the simulation search.

**Purchase cost.** Every unit bought is, in the long run, a unit sold, so a purchase cost c adds
``c E[sales] = c (E[D] - E[lost])`` per period: a constant minus c per lost unit. The heuristics therefore
work with the effective lost-sales cost ``p - c`` and the critical fractile ``(p - c) / (p - c + h)``; for
c = 0 (Zipkin 2008) this is the usual ``p / (p + h)``.

**Search.** Heuristics with free parameters are fitted by simulation on the kernel's compiled rollout with
common random numbers: every candidate is run on the same demand (env i seeded with ``seed + i``), so
differences between candidates carry little noise, and the integer parameters are improved by local descent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from invgym.baselines.common import FAMILIES, FittedPolicy, config_of
from invgym.validation import check_int

# Fits search on seeds far from evaluate()'s default seeds 0, 1, ..., so a fitted policy is judged on fresh
# demand.
FIT_SEED = 2**40


class LostSalesPolicy(FittedPolicy):
    """Base of the lost-sales heuristics: knows the env it was fitted for and finishes orders like the kernel.

    Orders are clipped to ``[0, max_order]`` exactly as the kernel's ``rollout`` clips them, so the compiled
    and the stepped evaluation of a policy agree to the last bit; with a discrete action space orders are
    returned as ints.
    """

    family = "lost_sales"

    # Config fields the policy's orders depend on; evaluating it in an env that differs in one of them is
    # refused.
    fitted_fields: tuple[str, ...] = ("lead_time", "max_order", "action_type")

    def __init__(self, config: Any, **params: Any) -> None:
        super().__init__(**params)
        self.lead_time = int(config.lead_time)
        self.width = max(self.lead_time, 1)
        self.max_order = float(config.max_order)
        self.discrete = config.action_type == "discrete"
        self.fitted_for = {name: getattr(config, name) for name in self.fitted_fields}
        self.info: dict[str, Any] = {}

    def check_env(self, env: Any) -> Any:
        """Return the env's config; raise ValueError unless it is the env the policy was fitted for."""
        config = super().check_env(env)
        differ = [name for name, value in self.fitted_for.items() if getattr(config, name) != value]
        if differ:
            fitted = ", ".join(f"{name}={self.fitted_for[name]!r}" for name in differ)
            found = ", ".join(f"{name}={getattr(config, name)!r}" for name in differ)
            raise ValueError(f"{type(self).__name__} was fitted for {fitted}; this env has {found}: "
                             "fit it on this env.")
        return config

    def _state(self, obs: np.ndarray) -> np.ndarray:
        """Zipkin's state (on-hand, then outstanding orders oldest first) from a batch of observations."""
        if obs.shape[1] < self.width:
            raise ValueError(f"{type(self).__name__} needs observations with at least {self.width} columns "
                             f"(lead_time={self.lead_time}). Got shape {obs.shape} instead.")
        return obs[:, : self.width]

    def _finish(self, q: np.ndarray) -> np.ndarray:
        """Clip orders to ``[0, max_order]`` as the kernel's rollout does; ints for discrete action spaces."""
        q = np.clip(q, 0.0, self.max_order)
        if self.discrete:
            integer = q.astype(np.int64)
            if np.array_equal(integer, q):
                return integer
        return q


def effective_costs(config: Any) -> tuple[float, float]:
    """Return ``(h, p - c)``: the holding cost and the lost-sales cost net of the purchase cost."""
    return config.holding_cost, config.lost_sales_cost - config.purchase_cost


def critical_fractile(holding_cost: float, lost_sales_cost: float) -> float:
    """Return the newsvendor fractile ``p / (p + h)``; 0 (never order) when losing a sale costs nothing."""
    if lost_sales_cost <= 0.0:
        return 0.0
    return lost_sales_cost / (lost_sales_cost + holding_cost)


def fractile_levels(config: Any) -> list[int]:
    """Return Morton's (1971) levels ``s_l``, l = 0..L: the fractile quantile of demand over l + 1 periods.

    ``s_L`` is the base-stock level of the backorder system (the standard base-stock policy) and ``s_0`` the
    newsvendor quantity of one period; Zipkin (2008, Sec. 3) uses them as the standard vector base-stock
    levels.
    """
    beta = critical_fractile(*effective_costs(config))
    return [config.demand.quantile(beta, periods) for periods in range(1, config.lead_time + 2)]


def check_fit_settings(owner: str, num_envs: Any, periods: Any, warmup: Any,
                       seed: Any) -> tuple[int, int, int, int]:
    """Validate the simulation settings of a fit."""
    return (check_int(num_envs, "num_envs", owner, 1, 1_000_000),
            check_int(periods, "periods", owner, 1, 10**9),
            check_int(warmup, "warmup", owner, 0, 10**9),
            check_int(seed, "seed", owner, 0, 2**63))


def fit_config(env: Any, env_kwargs: dict, owner: str) -> Any:
    """Return the lost-sales config of ``env`` (an env, vector env, config or id with ``env_kwargs``)."""
    config = config_of(env, **env_kwargs)
    found = FAMILIES.get(type(config).__name__, type(config).__name__)
    if found != "lost_sales":
        raise ValueError(f"{owner} is a lost_sales policy; it cannot act in a {found} env.")
    return config


class RolloutCost:
    """Average cost per period of a kernel policy (a ``POLICIES`` name and parameters), on common demand.

    One kernel is built and re-seeded identically for every candidate; results are memoised by parameters.
    """

    def __init__(self, config: Any, num_envs: int, periods: int, warmup: int, seed: int) -> None:
        import dataclasses

        config = dataclasses.replace(config, horizon=periods + warmup)
        self._buf = config.bind(num_envs)
        self.kernel = self._buf.kernel
        self.seeds = np.uint64(seed) + np.arange(num_envs, dtype=np.uint64)
        self.periods, self.warmup = periods, warmup
        self.cache: dict[tuple, float] = {}

    def __call__(self, name: str, params: Any) -> float:
        """Return the mean cost per period of the policy ``name`` with ``params``."""
        key = (name, *np.asarray(params, dtype=np.float64).reshape(-1).tolist())
        if key not in self.cache:
            self.kernel.reset(self.seeds)
            parts = self.kernel.rollout(name, params, self.periods, self.warmup)
            self.cache[key] = float(parts["cost"].mean()) / self.periods
        return self.cache[key]


def descend(cost: Callable[[int], float], start: int, low: int, high: int) -> int:
    """Return a local minimum of ``cost`` over the integers in ``[low, high]``, by descent from ``start``.

    Steps toward the cheaper neighbour until neither neighbour is cheaper (for costs unimodal in the
    parameter, as base-stock and constant-order costs are, this is the minimum).
    """
    x = min(max(start, low), high)
    while True:
        here = cost(x)
        if x > low and cost(x - 1) < here:
            x -= 1
        elif x < high and cost(x + 1) < here:
            x += 1
        else:
            return x
