"""The dual-index family of dual-sourcing heuristics: dual index, single index, capped dual index, tailored base-surge.

All four are order-up-to rules on two inventory positions computed before this period's orders (as the kernel's
``rollout`` computes them): the **expedited position** IPe — net inventory plus every order arriving within
l_e periods — and the **full position** IP — net inventory plus every outstanding order.

| policy | expedited order q_e | regular order q_r |
|---|---|---|
| :class:`DualIndex` (S_e, S_r) | (S_e - IPe)^+ | (S_r - IP - q_e)^+ |
| :class:`SingleIndex` (S_e, S_r) | (S_e - IP)^+ | (S_r - IP - q_e)^+ |
| :class:`CappedDualIndex` (S_e, S_r, cap) | (S_e - IPe)^+ | min((S_r - IP - q_e)^+, cap) |
| :class:`TailoredBaseSurge` (Q, S) | (S - IPe)^+ | Q |

Orders are then clipped to the action space ``[0, max_order]`` of each source, the expedited one first.

**Fitting.** ``fit(env)`` searches the parameters by simulation on the kernel's compiled rollout with common
random numbers: every candidate of a grid (see each ``fit``) is run on the same demand path (one env per
candidate, all seeded alike), the best ``keep`` are run again on a fresh, longer path, together with the unit
neighbours of the best, and the cheapest wins. Costs are estimated with a control variate: every unit bought is
eventually a unit demanded (or, with lost sales, sold), so purchases are counted as
``c_r (E[D] - lost) + (c_e - c_r) q_e`` per period, which removes the noise that demand's own variability
puts on ``c_r q_r`` without changing the long-run mean.

References:
    S. Veeraraghavan & A. Scheller-Wolf (2008), "Now or later: a simple policy for effective dual sourcing in
    capacitated systems", Operations Research 56(4) (dual index).
    A. Scheller-Wolf, S. Veeraraghavan & G.-J. van Houtum (2007), "Effective dual sourcing with a single index
    policy", working paper, Carnegie Mellon University (single index).
    J. Sun & J. Van Mieghem (2019), "Robust dual sourcing inventory management: optimality of capped dual index
    policies and smoothing", MSOM 21(4) (capped dual index).
    G. Allon & J. Van Mieghem (2010), "Global dual sourcing: tailored base-surge allocation to near- and
    offshore production", Management Science 56(1) (tailored base-surge).
    J. Gijsbrechts, R. Boute, J. Van Mieghem & D. Zhang (2022), MSOM 24(3), Sec. 6.2: the gaps of all four
    to the optimum, reproduced in ``tests/test_dual_sourcing_baselines.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, ClassVar

import numpy as np

from invgym.baselines.common import FIT_SEED, FittedPolicy, batch_rollout, check_param, config_of, fit_config
from invgym.demand import ProductMixture
from invgym.validation import check_int, check_real

__all__ = ["CappedDualIndex", "DualIndex", "DualSourcingPolicy", "SingleIndex", "TailoredBaseSurge"]

MAX_GRID = 4096


# === Shared pieces ===

class DualSourcingPolicy(FittedPolicy):
    """Base of the dual-sourcing heuristics: knows the env it was fitted for and finishes orders like the kernel.

    Subclasses list their parameters in ``names`` (the kernel's ``POLICIES`` columns, in order) and implement
    ``orders(ipe, ip)``. With a discrete action space, orders are returned as ints.
    """

    family = "dual_sourcing"
    policy: ClassVar[str] = ""
    names: ClassVar[tuple[str, ...]] = ()
    # Config fields the policy's orders depend on; evaluating it in an env that differs in one is refused.
    fitted_fields: ClassVar[tuple[str, ...]] = ("regular_lead_time", "expedited_lead_time", "max_order",
                                                "action_type")

    def __init__(self, env: Any, **params: Any) -> None:
        config = fit_config(env, {}, type(self).__name__, self.family)
        missing = [name for name in self.names if name not in params]
        if missing or len(params) != len(self.names):
            raise TypeError(f"{type(self).__name__} takes the parameters {list(self.names)}. Got {sorted(params)}.")
        # Levels may be negative (a position below zero is backordered); caps and quantities are >= 0.
        checked = {name: check_param(params[name], name, type(self).__name__, config,
                                     low=0.0 if name in ("cap", "quantity") else None) for name in self.names}
        super().__init__(**checked)
        self.config = config
        self.remember_fit(config)
        self.info: dict[str, Any] = {}

    def theta(self) -> np.ndarray:
        """Return the parameters in the kernel's column order."""
        return np.array([self.params[name] for name in self.names], dtype=np.float64)

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel's policy name and parameters, so ``invgym.evaluate`` runs it in compiled code."""
        return self.policy, self.theta()

    def orders(self, ipe: np.ndarray, ip: np.ndarray, max_r: float, max_e: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (q_r, q_e), already clipped, from the expedited and full positions."""
        raise NotImplementedError

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return (q_r, q_e) for a batch of observations, computed as the kernel's ``rollout`` computes them."""
        width = self.config.width
        if obs.shape[1] != width:
            raise ValueError(f"{type(self).__name__} needs observations with {width} columns. "
                             f"Got shape {obs.shape} instead.")
        ipe, ip = positions(obs, self.config)
        q_r, q_e = self.orders(ipe, ip, *map(float, self.config.max_order))
        actions = np.stack([q_r, q_e], axis=1)
        if self.config.action_type == "discrete":
            integer = actions.astype(np.int64)
            if np.array_equal(integer, actions):
                return integer
        return actions


def positions(obs: np.ndarray, config: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the expedited and full inventory positions of a batch of observations (summed as the kernel does)."""
    lr, le = config.regular_lead_time, config.expedited_lead_time
    ipe = obs[:, 0].astype(np.float64)
    for k in range(lr, obs.shape[1]):
        ipe = ipe + obs[:, k]
    for k in range(1, 1 + le):
        ipe = ipe + obs[:, k]
    ip = ipe
    for k in range(1 + le, lr):
        ip = ip + obs[:, k]
    return ipe, ip


def _clip(q: np.ndarray, high: float) -> np.ndarray:
    return np.minimum(np.maximum(q, 0.0), high)


def _quantile(config: Any, level: float, periods: int) -> int:
    return config.demand.quantile(level, periods) if periods > 0 else 0


# === The simulation search ===

@dataclasses.dataclass
class _Search:
    """Average cost per period of kernel policies on common random numbers (see the module docstring)."""

    config: Any
    periods: int
    screen_periods: int
    warmup: int
    seed: int
    keep: int

    def costs(self, name: str, candidates: np.ndarray, periods: int, seed: int) -> np.ndarray:
        """Control-variate cost of each candidate (one env each, all on the same demand path)."""
        config = dataclasses.replace(self.config, horizon=periods + self.warmup)
        tot = {key: value[:, 0] for key, value in batch_rollout(
            config, name, candidates, num_envs=1, periods=periods, warmup=self.warmup, seed=seed).items()}
        c = config
        purchases = c.regular_cost * (periods * c.demand.mean - tot["lost"]) + (
            c.expedited_cost - c.regular_cost) * tot["order_expedited"]
        return (purchases + c.holding_cost * tot["holding"]
                + c.backorder_cost * (tot["backorder"] + tot["lost"])) / periods

    def best(self, name: str, axes: list[np.ndarray], to_params: Any, valid: Any = None) -> tuple[np.ndarray, dict]:
        """Screen the grid over ``axes`` (coarsened to at most MAX_GRID points), then re-run the finalists."""
        stride = 1
        while math.prod(len(a[::stride]) for a in axes) > MAX_GRID:
            stride += 1
        grid = np.array(list(itertools.product(*[a[::stride] for a in axes])), dtype=np.float64)
        if valid is not None:
            grid = grid[valid(grid)]
        screen = self.costs(name, to_params(grid), self.screen_periods, self.seed)
        finalists = grid[np.argsort(screen)[: self.keep]]
        # The unit neighbours of the screen's best, so a coarse grid or a close call is settled by the long run.
        steps = np.array(list(itertools.product(*[(-1.0, 0.0, 1.0)] * len(axes))))
        lows, highs = np.array([a[0] for a in axes]), np.array([a[-1] for a in axes])
        near = np.clip(finalists[0] + steps * _unit(axes), lows, highs)
        finalists = np.unique(np.concatenate([finalists, near]), axis=0)
        if valid is not None:
            finalists = finalists[valid(finalists)]
        final = self.costs(name, to_params(finalists), self.periods, self.seed + 1)
        best = int(np.argmin(final))
        info = {"search_cost": float(final[best]), "candidates": len(grid), "finalists": len(finalists),
                "grid_stride": stride}
        return to_params(finalists[best : best + 1])[0], info


def _unit(axes: list[np.ndarray]) -> np.ndarray:
    return np.array([a[1] - a[0] if len(a) > 1 else 1.0 for a in axes])


def _search(cls: type, env: Any, env_kwargs: dict, periods: Any, screen_periods: Any, warmup: Any, seed: Any,
            keep: Any) -> tuple[Any, _Search]:
    owner = cls.__name__
    config = fit_config(env, env_kwargs, owner, cls.family)
    if isinstance(config.demand, ProductMixture):
        raise ValueError(f"{owner}.fit needs demand from one product; a ProductMixture draws a product per "
                         "episode. Fit each product separately.")
    search = _Search(
        config,
        check_int(periods, "periods", owner, 1, 10**9),
        check_int(screen_periods, "screen_periods", owner, 1, 10**9),
        check_int(warmup, "warmup", owner, 0, 10**9),
        check_int(seed, "seed", owner, 0, 2**63),
        check_int(keep, "keep", owner, 1, 10_000),
    )
    return config, search


def _levels(config: Any) -> dict[str, Any]:
    """Grid ranges from demand quantiles at the critical fractile b/(b+h) (and its complement)."""
    h, b = config.holding_cost, config.backorder_cost
    ratio = min(max(b / (b + h) if b + h > 0 else 0.5, 0.5), 1.0 - 1e-9)
    le, lr = config.expedited_lead_time, config.regular_lead_time
    spread = math.ceil(config.demand.mean)
    # Expedited level: around the newsvendor quantity of the l_e + 1 periods the expedited order covers.
    expedited = np.arange(_quantile(config, 1.0 - ratio, le + 1) - spread,
                          _quantile(config, ratio, le + 1) + spread + 1, dtype=np.float64)
    # Gap between the two levels: at most the demand over the l = l_r - l_e periods the regular order adds.
    gap = np.arange(0, _quantile(config, ratio, lr - le) + 2, dtype=np.float64)
    full = np.arange(_quantile(config, 1.0 - ratio, le + 1) - spread, _quantile(config, ratio, lr + 1) + spread + 1,
                     dtype=np.float64)
    one = np.arange(0, _quantile(config, ratio, 1) + 2, dtype=np.float64)
    return {"expedited": expedited, "gap": gap, "full": full, "one": one}


# === The heuristics ===

class DualIndex(DualSourcingPolicy):
    """Dual index (Veeraraghavan & Scheller-Wolf 2008): q_e = (S_e - IPe)^+, then q_r = (S_r - IP - q_e)^+.

    Optimal when the lead times are consecutive (l_r = l_e + 1; Fukuda 1964), and within 0.5 % of the optimum
    on the instances of Gijsbrechts et al. (2022).
    """

    policy = "dual_index"
    names = ("expedited_level", "regular_level")

    def orders(self, ipe: np.ndarray, ip: np.ndarray, max_r: float, max_e: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the dual-index orders."""
        q_e = _clip(self.params["expedited_level"] - ipe, max_e)
        return _clip(self.params["regular_level"] - ip - q_e, max_r), q_e

    @classmethod
    def fit(cls, env: Any, *, expedited_level: float | None = None, regular_level: float | None = None,
            periods: int = 400_000, screen_periods: int = 20_000, warmup: int = 1_000, seed: int = FIT_SEED,
            keep: int = 8, **env_kwargs: Any) -> DualIndex:
        """Return the dual-index policy with the given levels, or with the best levels found by simulation.

        The grid: S_e over the integers around the (1 - f) and f quantiles of demand over l_e + 1 periods, f =
        b/(b + h), and S_r - S_e from 0 to the f quantile of demand over l_r - l_e periods plus one.

        Args:
            env: a dual-sourcing env, vector env, config or id (with ``env_kwargs``).
            expedited_level: S_e; with ``regular_level`` given too, no search is run.
            regular_level: S_r.
            periods: counted periods of each finalist's run.
            screen_periods: counted periods of each candidate's screening run.
            warmup: uncounted periods first, in every run.
            seed: the seed of the common demand path (the finalists' path uses ``seed + 1``).
            keep: finalists carried from the screen to the long run.
            **env_kwargs: scenario parameters, with an id only.
        """
        if expedited_level is not None and regular_level is not None:
            return cls(config_of(env, **env_kwargs), expedited_level=expedited_level, regular_level=regular_level)
        config, search = _search(cls, env, env_kwargs, periods, screen_periods, warmup, seed, keep)
        levels = _levels(config)
        theta, info = search.best(cls.policy, [levels["expedited"], levels["gap"]],
                                  lambda g: np.c_[g[:, 0], g[:, 0] + g[:, 1]])
        policy = cls(config, expedited_level=theta[0], regular_level=theta[1])
        policy.info = info
        return policy


class SingleIndex(DualSourcingPolicy):
    """Single index (Scheller-Wolf, Veeraraghavan & van Houtum 2007): both orders on the full position IP.

    q_e = (S_e - IP)^+ and q_r = (S_r - IP - q_e)^+ with S_e <= S_r: in steady state the regular order
    replaces demand up to S_r - S_e and the excess of demand is expedited.
    """

    policy = "single_index"
    names = ("expedited_level", "regular_level")

    def orders(self, ipe: np.ndarray, ip: np.ndarray, max_r: float, max_e: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the single-index orders."""
        q_e = _clip(self.params["expedited_level"] - ip, max_e)
        return _clip(self.params["regular_level"] - ip - q_e, max_r), q_e

    @classmethod
    def fit(cls, env: Any, *, expedited_level: float | None = None, regular_level: float | None = None,
            periods: int = 400_000, screen_periods: int = 20_000, warmup: int = 1_000, seed: int = FIT_SEED,
            keep: int = 8, **env_kwargs: Any) -> SingleIndex:
        """Return the single-index policy with the given levels, or with the best levels found by simulation.

        The grid: S_r over the integers from the (1 - f) quantile of demand over l_e + 1 periods to the f
        quantile over l_r + 1 periods (each widened by the mean demand), f = b/(b + h), and S_r - S_e from 0 to
        the f quantile of one period's demand plus one. Other arguments as in :meth:`DualIndex.fit`.
        """
        if expedited_level is not None and regular_level is not None:
            return cls(config_of(env, **env_kwargs), expedited_level=expedited_level, regular_level=regular_level)
        config, search = _search(cls, env, env_kwargs, periods, screen_periods, warmup, seed, keep)
        levels = _levels(config)
        theta, info = search.best(cls.policy, [levels["full"], levels["one"]],
                                  lambda g: np.c_[g[:, 0] - g[:, 1], g[:, 0]])
        policy = cls(config, expedited_level=theta[0], regular_level=theta[1])
        policy.info = info
        return policy


class CappedDualIndex(DualSourcingPolicy):
    """Capped dual index (Sun & Van Mieghem 2019): the dual index with the regular order capped.

    q_e = (S_e - IPe)^+ and q_r = min((S_r - IP - q_e)^+, cap). The regular order sees this period's
    expedited order, as in the dual index; this is the form whose gaps match Gijsbrechts et al. (2022). As the
    lead-time gap grows it approaches the tailored base-surge policy (a constant regular order).
    """

    policy = "capped_dual_index"
    names = ("expedited_level", "regular_level", "cap")

    def orders(self, ipe: np.ndarray, ip: np.ndarray, max_r: float, max_e: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the capped dual-index orders."""
        q_e = _clip(self.params["expedited_level"] - ipe, max_e)
        return _clip(self.params["regular_level"] - ip - q_e, min(float(self.params["cap"]), max_r)), q_e

    @classmethod
    def fit(cls, env: Any, *, expedited_level: float | None = None, regular_level: float | None = None,
            cap: float | None = None, periods: int = 400_000, screen_periods: int = 20_000, warmup: int = 1_000,
            seed: int = FIT_SEED, keep: int = 8, **env_kwargs: Any) -> CappedDualIndex:
        """Return the capped dual-index policy with the given parameters, or the best found by simulation.

        The grid: S_e and S_r - S_e as in :meth:`DualIndex.fit`, and the cap over the integers from 0 to the
        f quantile of one period's demand plus one. Other arguments as in :meth:`DualIndex.fit`.
        """
        if expedited_level is not None and regular_level is not None and cap is not None:
            return cls(config_of(env, **env_kwargs), expedited_level=expedited_level, regular_level=regular_level,
                       cap=cap)
        config, search = _search(cls, env, env_kwargs, periods, screen_periods, warmup, seed, keep)
        levels = _levels(config)
        theta, info = search.best(cls.policy, [levels["expedited"], levels["gap"], levels["one"]],
                                  lambda g: np.c_[g[:, 0], g[:, 0] + g[:, 1], g[:, 2]])
        policy = cls(config, expedited_level=theta[0], regular_level=theta[1], cap=theta[2])
        policy.info = info
        return policy


class TailoredBaseSurge(DualSourcingPolicy):
    """Tailored base-surge (Allon & Van Mieghem 2010): a constant regular order Q, expedite up to S on IPe.

    The regular source covers a base of demand (Q must stay below mean demand, or stock piles up) and the
    expedited source the surges. Asymptotically optimal as the lead-time gap grows (Janakiraman, Seshadri &
    Sheopuri 2015).
    """

    policy = "tailored_base_surge"
    names = ("quantity", "level")

    def orders(self, ipe: np.ndarray, ip: np.ndarray, max_r: float, max_e: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the tailored base-surge orders."""
        q_e = _clip(self.params["level"] - ipe, max_e)
        return _clip(np.full_like(ipe, float(self.params["quantity"])), max_r), q_e

    @classmethod
    def fit(cls, env: Any, *, quantity: float | None = None, level: float | None = None,
            quantity_step: float | None = None, periods: int = 400_000, screen_periods: int = 20_000,
            warmup: int = 1_000, seed: int = FIT_SEED, keep: int = 8, **env_kwargs: Any) -> TailoredBaseSurge:
        """Return the tailored base-surge policy with the given (Q, S), or the best found by simulation.

        The grid: Q from 0 up to (not including) mean demand in steps of ``quantity_step`` (1 with a discrete
        action space — integer orders — else mean/20 by default: fractional base orders need a continuous
        action space), and S as S_e in :meth:`DualIndex.fit`. Other arguments as in :meth:`DualIndex.fit`.
        """
        if quantity is not None and level is not None:
            return cls(config_of(env, **env_kwargs), quantity=quantity, level=level)
        config, search = _search(cls, env, env_kwargs, periods, screen_periods, warmup, seed, keep)
        mean = config.demand.mean
        if config.action_type == "discrete":
            step = 1.0
        else:
            step = check_real(quantity_step if quantity_step is not None else mean / 20, "quantity_step",
                              cls.__name__, 0.0, None, closed="neither")
        quantities = np.arange(0.0, mean - 1e-9, step) if mean > 0 else np.zeros(1)
        levels = _levels(config)
        theta, info = search.best(cls.policy, [quantities, levels["expedited"]], lambda g: g.copy(),
                                  valid=lambda g: g[:, 0] < mean)
        policy = cls(config, quantity=theta[0], level=theta[1])
        policy.info = info
        return policy
