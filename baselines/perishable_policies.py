"""Heuristics for the perishable scenario: naive, optimised and capped base-stock, and the EWA policy.

- :class:`NaiveBaseStock` orders up to the newsvendor level of a *non-perishable* lost-sales item: the
  ``(p - c) / (p - c + h)`` quantile of demand over L + 1 periods. It ignores outdating, so it overstocks.
- :class:`PerishableBaseStock` orders up to S on the inventory position (every age on hand plus the pipeline),
  with S found by simulation on common random numbers. De Moor et al. (2022) report it as their benchmark.
- :class:`PerishableCappedBaseStock` orders ``min((S - position)^+, r)``: the hybrid of base-stock and
  constant-order policies that Haijema & Minner (2016) recommend for perishables (capping smooths orders, so
  fewer units outdate).
- :class:`EstimatedWithdrawalBaseStock` — the stronger heuristic — is the EWA policy of Broekmeulen & van
  Donselaar (2009): order up to S plus the units of the current stock estimated to outdate before the new order
  can serve demand (ageing the stock with the mean demand withdrawn by the issuing rule), here with the order
  cap of the hybrid policies (``cap = max_order`` is the original EWA). It is chosen because it uses the age
  information the state carries, works for every m, L and issuing rule, nests the three policies above, and
  its two parameters are searched like the capped base-stock's. On De Moor et al.'s m = 2, L = 1 instances it
  comes within 0.1 % (FIFO) and 0.7 % (LIFO) of the optimal average cost, where base-stock is 1.2 % and 0.9 %
  above it (exact Markov-chain costs, ``tests/test_perishable_baselines.py``).

Every fitted policy names its kernel rollout form, so ``invgym.evaluate`` and De Moor et al.'s protocol
(``baselines/perishable_protocol.py``) run it in compiled code; its ``act`` gives bit-identical orders when
stepped. The searches use the fitting toolkit of ``baselines/common.py``.

References:
    B. J. De Moor, J. Gijsbrechts & R. N. Boute (2022), EJOR 301(2), 535-545.
    R. A. C. M. Broekmeulen & K. H. van Donselaar (2009), "A heuristic to manage perishable inventory with batch
    ordering, positive lead-times, and time-varying demand", Computers & Operations Research 36(11), 3013-3018.
    R. Haijema & S. Minner (2016), "Stock-level dependent ordering of perishables: a comparison of hybrid
    base-stock and constant order policies", International Journal of Production Economics 181, 215-225.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import (
    FIT_SEED,
    FittedPolicy,
    RolloutCost,
    check_fit_settings,
    check_param,
    descend,
    fit_config,
    steepest_descent,
)
from invgym.validation import check_real

__all__ = ["EstimatedWithdrawalBaseStock", "NaiveBaseStock", "PerishableBaseStock", "PerishableCappedBaseStock",
           "PerishablePolicy", "naive_level"]


# === Shared pieces ===


def _fractile(config: Any) -> float:
    underage = config.lost_sales_cost - config.purchase_cost  # a lost sale saves the purchase of the unit
    return underage / (underage + config.holding_cost) if underage > 0 else 0.0


def naive_level(config: Any) -> int:
    """Return the non-perishable newsvendor level: the (p - c)/(p - c + h) quantile of demand over L + 1 periods."""
    return config.demand.quantile(_fractile(config), config.lead_time + 1)


class PerishablePolicy(FittedPolicy):
    """Base of the perishable heuristics: knows the env it was fitted for and finishes orders like the kernel.

    Orders are rounded to the nearest integer (discrete action space) and clipped to ``[0, max_order]`` in the
    kernel's order of operations, so compiled and stepped evaluation agree to the last bit.
    """

    family = "perishable"
    fitted_fields: tuple[str, ...] = ("shelf_life", "lead_time", "issuing", "max_order", "action_type")

    def __init__(self, config: Any, **params: Any) -> None:
        super().__init__(**params)
        self.shelf_life = int(config.shelf_life)
        self.lead_time = int(config.lead_time)
        self.width = self.shelf_life + self.lead_time - 1
        self.fifo = config.issuing == "fifo"
        self.max_order = float(config.max_order)
        self.discrete = config.action_type == "discrete"
        self.remember_fit(config)
        self.info: dict[str, Any] = {}

    def _state(self, obs: np.ndarray) -> np.ndarray:
        if obs.shape[1] < max(self.width, 1):
            raise ValueError(f"{type(self).__name__} needs observations with {max(self.width, 1)} columns "
                             f"(shelf_life={self.shelf_life}, lead_time={self.lead_time}). Got {obs.shape}.")
        return obs[:, : self.width].astype(np.float64)

    def _position(self, x: np.ndarray) -> np.ndarray:
        # Summed column by column from the oldest entry, in the kernel's order (bit-identical orders).
        position = np.zeros(x.shape[0])
        for k in range(x.shape[1]):
            position += x[:, k]
        return position

    def _finish(self, q: np.ndarray) -> np.ndarray:
        if self.discrete:
            q = np.floor(q + 0.5)
        q = np.clip(q, 0.0, self.max_order)
        return q.astype(np.int64) if self.discrete else q


def _prepare(cls: type, env: Any, env_kwargs: dict, num_envs: Any, periods: Any, warmup: Any, discount: Any,
             seed: Any) -> tuple[Any, tuple[int, int, int, float, int]]:
    owner = cls.__name__
    config = fit_config(env, env_kwargs, owner, cls.family)
    num_envs, periods, warmup, seed = check_fit_settings(owner, num_envs, periods, warmup, seed)
    discount = check_real(discount, "discount", owner, 0.0, 1.0, closed="right")
    return config, (num_envs, periods, warmup, discount, seed)


def _level_bound(config: Any) -> int:
    # The inventory position never exceeds (m + L) max_order, so no larger level changes an order.
    return (config.shelf_life + config.lead_time) * int(np.ceil(config.max_order))


def _search(config: Any, settings: tuple, name: str, extra: list[float],
            fixed_cap: float | None) -> tuple[int, int | None, RolloutCost]:
    """Search the level (and the cap unless ``fixed_cap`` or the policy has none) on common random numbers.

    A descent over integer levels from :func:`naive_level` (with the cap at ``max_order``); then, for a capped
    policy, a scan of at most 25 evenly spread caps in ``[0, min(level, max_order)]`` at that level (the cost is
    flat in caps the orders never reach, so a descent in the cap alone can stall on a plateau) and steepest
    descent over the eight integer neighbours of (level, cap) from the best of them.
    """
    num_envs, periods, warmup, discount, seed = settings
    # The mean total (discounted) cost per env; the perishable rollout always gets the discount.
    cost = RolloutCost(config, num_envs, periods, warmup, seed, discount=discount, per_period=False)
    high, top = _level_bound(config), int(np.floor(config.max_order))
    capped = name != "base_stock"

    def run(level: int, cap: float) -> float:
        return cost(name, [float(level), *([float(cap)] if capped else []), *extra])

    first_cap = top if fixed_cap is None else fixed_cap
    level = descend(lambda s: run(s, first_cap), min(naive_level(config), high), 0, high)
    if not capped or fixed_cap is not None:
        return level, None, cost
    caps = np.unique(np.linspace(0, min(level, top), 25).round().astype(int)).tolist()
    start_cap = min(caps, key=lambda r: run(level, r))
    level, cap = steepest_descent(run, (level, start_cap), (high, top))
    return level, cap, cost


# === Policies ===

class NaiveBaseStock(PerishablePolicy):
    """Order up to the non-perishable newsvendor level on the inventory position, ignoring outdating.

    ``S = F_{L+1}^{-1}((p - c) / (p - c + h))``: the base-stock level a lost-sales item that never expires
    would use. The gap to :class:`PerishableBaseStock` measures what ignoring perishability costs.
    """

    @classmethod
    def fit(cls, env: Any, **env_kwargs: Any) -> NaiveBaseStock:
        """Return the naive policy of a perishable env, config or id (with ``env_kwargs``)."""
        config = fit_config(env, env_kwargs, cls.__name__, cls.family)
        return cls(config, level=naive_level(config))

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``(S - position)^+``, clipped to ``max_order``."""
        return self._finish(float(self.params["level"]) - self._position(self._state(obs)))

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "base_stock" policy with this level."""
        return "base_stock", np.array([self.params["level"]], dtype=np.float64)


class PerishableBaseStock(NaiveBaseStock):
    """Order up to S on the inventory position (all ages on hand plus the pipeline): ``q = (S - position)^+``."""

    @classmethod
    def fit(cls, env: Any, *, level: float | None = None, num_envs: int = 100, periods: int = 10_000,
            warmup: int = 200, discount: float = 1.0, seed: int = FIT_SEED,
            **env_kwargs: Any) -> PerishableBaseStock:
        """Return the base-stock policy with ``level``, or with the best level found by simulation.

        The search is a descent over the integers from :func:`naive_level`, every candidate simulated on the
        same demand (env i seeded with ``seed + i``) from the env's initial state. With the defaults it
        minimises the long-run average cost; ``periods=365, warmup=100, discount=0.99`` minimises De Moor et
        al.'s (2022) discounted objective instead.

        Args:
            env: a perishable env, vector env, config or id (with ``env_kwargs``).
            level: the order-up-to level S; None searches it.
            num_envs: envs (episodes) per candidate.
            periods: counted periods per env.
            warmup: uncounted periods first.
            discount: weight ``discount ** k`` on the k-th counted period (1: average cost).
            seed: env i of the search is seeded with ``seed + i``.
            **env_kwargs: scenario parameters, with an id only.
        """
        config, settings = _prepare(cls, env, env_kwargs, num_envs, periods, warmup, discount, seed)
        if level is not None:
            return cls(config, level=check_param(level, "level", cls.__name__, config))
        best, _, cost = _search(config, settings, "base_stock", [], None)
        policy = cls(config, level=best)
        policy.info = {"search_cost": cost("base_stock", [float(best)]), "evaluations": len(cost.cache),
                       "naive_level": naive_level(config)}
        return policy


class PerishableCappedBaseStock(PerishablePolicy):
    """Order up to S on the inventory position, at most r per order: ``q = min((S - position)^+, r)``.

    The hybrid of base-stock and constant-order policies (Haijema & Minner 2016); r = ``max_order`` is
    base-stock.
    """

    @classmethod
    def fit(cls, env: Any, *, level: float | None = None, cap: float | None = None, num_envs: int = 100,
            periods: int = 10_000, warmup: int = 200, discount: float = 1.0, seed: int = FIT_SEED,
            **env_kwargs: Any) -> PerishableCappedBaseStock:
        """Return the capped base-stock policy with ``level`` and ``cap``, or with the best ones by simulation.

        Args:
            env: a perishable env, vector env, config or id (with ``env_kwargs``).
            level: the order-up-to level S; None searches it.
            cap: the largest order r; None searches it (jointly with S when S is searched too; ``max_order``
                when S is given).
            num_envs: envs (episodes) per candidate.
            periods: counted periods per env.
            warmup: uncounted periods first.
            discount: weight ``discount ** k`` on the k-th counted period (1: average cost).
            seed: env i of the search is seeded with ``seed + i``.
            **env_kwargs: scenario parameters, with an id only.
        """
        config, settings = _prepare(cls, env, env_kwargs, num_envs, periods, warmup, discount, seed)
        owner = cls.__name__
        fixed_cap = None if cap is None else check_param(cap, "cap", owner, config)
        if level is not None:
            cap = config.max_order if fixed_cap is None else fixed_cap
            return cls(config, level=check_param(level, "level", owner, config), cap=cap)
        best, found, cost = _search(config, settings, "capped_base_stock", [], fixed_cap)
        cap = fixed_cap if found is None else found
        policy = cls(config, level=best, cap=cap)
        policy.info = {"search_cost": cost("capped_base_stock", [float(best), float(cap)]),
                       "evaluations": len(cost.cache)}
        return policy

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``min(S - position, r)^+``, clipped to ``max_order``."""
        q = float(self.params["level"]) - self._position(self._state(obs))
        return self._finish(np.minimum(q, float(self.params["cap"])))

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "capped_base_stock" policy with this level and cap."""
        return "capped_base_stock", np.array([self.params["level"], self.params["cap"]], dtype=np.float64)


class EstimatedWithdrawalBaseStock(PerishablePolicy):
    """EWA (Broekmeulen & van Donselaar 2009): order up to S plus the stock estimated to outdate first, capped.

    ``q = min((S - position + EO)^+, r)`` where EO ages the current stock and pipeline over the L periods before
    the new order can serve demand, withdrawing ``mean_demand`` per period by the env's issuing rule (FIFO
    oldest first, LIFO freshest first), and counts what expires in those periods (with L = 0, EO = 0). Units
    that will expire unused are in the position but serve no demand, so the order replaces them. The cap r of
    the hybrid policies (Haijema & Minner 2016) smooths orders; ``r = max_order`` is the original EWA.
    """

    @classmethod
    def fit(cls, env: Any, *, level: float | None = None, cap: float | None = None,
            mean_demand: float | None = None, num_envs: int = 100, periods: int = 10_000, warmup: int = 200,
            discount: float = 1.0, seed: int = FIT_SEED, **env_kwargs: Any) -> EstimatedWithdrawalBaseStock:
        """Return the EWA policy with ``level`` and ``cap``, or with the best ones found by simulation.

        Args:
            env: a perishable env, vector env, config or id (with ``env_kwargs``).
            level: the order-up-to level S; None searches it.
            cap: the largest order r; None searches it (jointly with S when S is searched too; ``max_order``,
                the original EWA, when S is given).
            mean_demand: the withdrawal per period used to estimate outdating; default the demand's mean.
            num_envs: envs (episodes) per candidate.
            periods: counted periods per env.
            warmup: uncounted periods first.
            discount: weight ``discount ** k`` on the k-th counted period (1: average cost).
            seed: env i of the search is seeded with ``seed + i``.
            **env_kwargs: scenario parameters, with an id only.
        """
        config, settings = _prepare(cls, env, env_kwargs, num_envs, periods, warmup, discount, seed)
        owner = cls.__name__
        mean = config.demand.mean if mean_demand is None else check_real(
            mean_demand, "mean_demand", owner, 0.0, None)
        fixed_cap = None if cap is None else check_param(cap, "cap", owner, config)
        if level is not None:
            cap = config.max_order if fixed_cap is None else fixed_cap
            return cls(config, level=check_param(level, "level", owner, config), cap=cap, mean_demand=mean)
        best, found, cost = _search(config, settings, "ewa", [mean], fixed_cap)
        cap = fixed_cap if found is None else found
        policy = cls(config, level=best, cap=cap, mean_demand=mean)
        policy.info = {"search_cost": cost("ewa", [float(best), float(cap), mean]), "evaluations": len(cost.cache)}
        return policy

    def estimated_outdating(self, x: np.ndarray) -> np.ndarray:
        """Return EO for a batch of states, as the kernel computes it (same operations, same order)."""
        total = np.zeros(x.shape[0])
        if self.lead_time == 0:
            return total
        buf = np.array(x, dtype=np.float64)
        m, live = self.shelf_life, buf.shape[1]
        for _ in range(self.lead_time):
            need = np.full(x.shape[0], float(self.params["mean_demand"]))
            for k in (range(min(m, live)) if self.fifo else range(min(m, live) - 1, -1, -1)):
                take = np.where(buf[:, k] < need, buf[:, k], need)
                buf[:, k] -= take
                need -= take
            total += buf[:, 0]
            buf[:, : live - 1] = buf[:, 1:live].copy()
            live -= 1
            if live <= 0:
                break
        return total

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return ``min(S - position + EO, r)^+``, rounded for a discrete space and clipped to ``max_order``."""
        x = self._state(obs)
        q = float(self.params["level"]) - self._position(x)
        q = q + self.estimated_outdating(x)
        return self._finish(np.minimum(q, float(self.params["cap"])))

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's "ewa" policy with this level, cap and mean demand."""
        return "ewa", np.array([self.params["level"], self.params["cap"], self.params["mean_demand"]],
                               dtype=np.float64)
