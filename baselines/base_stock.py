"""Order-up-to heuristics for lost sales: constant order, base-stock and capped base-stock.

Each is fitted by simulation on the kernel's compiled rollout with common random numbers (see
``baselines/common.py``), and each names its rollout form, so :func:`invgym.evaluate` runs it in compiled
code.

References:
    P. Zipkin (2008), "Old and new methods for lost-sales inventory systems", Operations Research 56(5):
    the best base-stock column of Table 3 (reproduced in ``tests/test_lost_sales_baselines.py``).
    L. Xin (2021), "Understanding the performance of capped base-stock policies in lost-sales inventory
    models", Operations Research 69(1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import (
    FIT_SEED,
    RolloutCost,
    check_fit_settings,
    check_param,
    descend,
    fit_config,
    golden_section,
    steepest_descent,
)
from invgym.baselines.lost_sales_policy import LostSalesPolicy, fractile_levels

__all__ = ["BaseStock", "CappedBaseStock", "ConstantOrder"]


def _position(x: np.ndarray) -> np.ndarray:
    # Summed column by column from on-hand, in the kernel's order, so both paths give bit-identical orders.
    position = x[:, 0].copy()
    for k in range(1, x.shape[1]):
        position += x[:, k]
    return position


class ConstantOrder(LostSalesPolicy):
    """Order the same quantity q every period, whatever the state.

    Asymptotically optimal as the lead time grows (Goldberg et al. 2016); q must stay below mean demand, or
    stock piles up without bound. ``fit`` finds the best q by simulation.
    """

    @classmethod
    def fit(cls, env: Any, *, quantity: float | None = None, num_envs: int = 100, periods: int = 10_000,
            warmup: int = 1_000, seed: int = FIT_SEED, **env_kwargs: Any) -> ConstantOrder:
        """Return the constant-order policy with ``quantity``, or with the best quantity found by simulation.

        Args:
            env: a lost-sales env, vector env, config or id (with ``env_kwargs``).
            quantity: the order; None searches the integers in ``[0, max_order]`` by descent (and, for a
                continuous action space, refines the best by golden-section search to within 0.01).
            num_envs: envs per candidate in the search.
            periods: counted periods per env in the search.
            warmup: uncounted periods first (stock under a constant order settles slowly when q is near the
                mean).
            seed: env i of the search is seeded with ``seed + i``.
            **env_kwargs: scenario parameters, with an id only.
        """
        config = fit_config(env, env_kwargs, cls.__name__, cls.family)
        num_envs, periods, warmup, seed = check_fit_settings(cls.__name__, num_envs, periods, warmup, seed)
        if quantity is not None:
            return cls(config, quantity=check_param(quantity, "quantity", cls.__name__, config))
        cost = RolloutCost(config, num_envs, periods, warmup, seed)
        high = int(config.max_order)
        q: float = descend(lambda v: cost("constant", [v]), int(config.demand.mean) - 1, 0, high)
        if config.action_type == "continuous":
            low, high_real = max(q - 1.0, 0.0), min(q + 1.0, config.max_order)
            q = golden_section(lambda v: cost("constant", [v]), low, high_real, 0.01)
        policy = cls(config, quantity=q)
        policy.info = {"search_cost": cost("constant", [q]), "evaluations": len(cost.cache)}
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``q`` for every env."""
        return self._finish(np.full(self._state(obs).shape[0], float(self.params["quantity"])))

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "constant" policy with this quantity."""
        return "constant", np.array([self.params["quantity"]], dtype=np.float64)


class BaseStock(LostSalesPolicy):
    """Order up to S on the inventory position (on-hand plus outstanding orders): ``q = (S - position)^+``.

    The direct analogue of the optimal backorder policy; with lost sales it is optimal only for L = 0, where S
    is the newsvendor (critical-fractile) quantity. For L >= 1, ``fit`` searches the best S by simulation.
    """

    @classmethod
    def fit(cls, env: Any, *, level: float | None = None, num_envs: int = 100, periods: int = 10_000,
            warmup: int = 200, seed: int = FIT_SEED, **env_kwargs: Any) -> BaseStock:
        """Return the base-stock policy with ``level``, or with the best level.

        Args:
            env: a lost-sales env, vector env, config or id (with ``env_kwargs``).
            level: the order-up-to level S; None finds the best one: for L = 0 the critical-fractile quantile
                F^{-1}((p - c) / (p - c + h)) of one period's demand (exact), for L >= 1 a descent over the
                integers from Morton's level (the fractile quantile of demand over L + 1 periods), each
                candidate simulated on the same demand.
            num_envs: envs per candidate in the search.
            periods: counted periods per env in the search.
            warmup: uncounted periods first.
            seed: env i of the search is seeded with ``seed + i``.
            **env_kwargs: scenario parameters, with an id only.
        """
        config = fit_config(env, env_kwargs, cls.__name__, cls.family)
        num_envs, periods, warmup, seed = check_fit_settings(cls.__name__, num_envs, periods, warmup, seed)
        if level is not None:
            return cls(config, level=check_param(level, "level", cls.__name__, config))
        levels = fractile_levels(config)
        if config.lead_time == 0:
            policy = cls(config, level=levels[0])
            policy.info = {"method": "critical fractile"}
            return policy
        cost = RolloutCost(config, num_envs, periods, warmup, seed)
        best = descend(lambda s: cost("base_stock", [s]), levels[-1], 0, 4 * levels[-1] + 10)
        policy = cls(config, level=best)
        policy.info = {"method": "simulation search", "search_cost": cost("base_stock", [best]),
                       "evaluations": len(cost.cache), "morton_level": levels[-1]}
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``(S - position)^+``, clipped to ``max_order``."""
        return self._finish(float(self.params["level"]) - _position(self._state(obs)))

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "base_stock" policy with this level."""
        return "base_stock", np.array([self.params["level"]], dtype=np.float64)


class CappedBaseStock(LostSalesPolicy):
    """Order up to S on the inventory position, but at most r: ``q = min((S - position)^+, r)`` (Xin 2021).

    The cap smooths orders, which is what lost-sales systems reward; with r >= S it is the base-stock policy.
    """

    @classmethod
    def fit(cls, env: Any, *, level: float | None = None, cap: float | None = None, num_envs: int = 100,
            periods: int = 10_000, warmup: int = 200, seed: int = FIT_SEED,
            **env_kwargs: Any) -> CappedBaseStock:
        """Return the capped base-stock policy with ``level`` and ``cap``, or with the best pair.

        Args:
            env: a lost-sales env, vector env, config or id (with ``env_kwargs``).
            level: the order-up-to level S (give both ``level`` and ``cap``, or neither).
            cap: the largest order r. With neither given, S and r are searched jointly on the integers by
                steepest descent over the eight neighbours of (S, r), from Morton's levels (the fractile
                quantile of demand over L + 1 periods for S, over one period for r), on common random numbers.
            num_envs: envs per candidate in the search.
            periods: counted periods per env in the search.
            warmup: uncounted periods first.
            seed: env i of the search is seeded with ``seed + i``.
            **env_kwargs: scenario parameters, with an id only.
        """
        config = fit_config(env, env_kwargs, cls.__name__, cls.family)
        num_envs, periods, warmup, seed = check_fit_settings(cls.__name__, num_envs, periods, warmup, seed)
        if (level is None) != (cap is None):
            raise ValueError(f"{cls.__name__}.fit takes both 'level' and 'cap', or neither (to search both). "
                             f"Got level={level!r}, cap={cap!r} instead.")
        if level is not None:
            return cls(config, level=check_param(level, "level", cls.__name__, config),
                       cap=check_param(cap, "cap", cls.__name__, config))
        levels = fractile_levels(config)
        cost = RolloutCost(config, num_envs, periods, warmup, seed)
        high = (4 * levels[-1] + 10, max(int(config.max_order), 1))
        start = (levels[-1], levels[0])
        best = steepest_descent(lambda s, r: cost("capped_base_stock", [s, r]), start, high)
        policy = cls(config, level=best[0], cap=best[1])
        policy.info = {"search_cost": cost("capped_base_stock", list(best)), "evaluations": len(cost.cache)}
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``min(S - position, r)^+``, clipped to ``max_order``."""
        q = float(self.params["level"]) - _position(self._state(obs))
        return self._finish(np.minimum(q, float(self.params["cap"])))

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "capped_base_stock" policy with this level and cap."""
        return "capped_base_stock", np.array([self.params["level"], self.params["cap"]], dtype=np.float64)

