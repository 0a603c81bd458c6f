"""Interval policy for joint procurement and removal: order up to a, remove down to b (Maggiar & Sadighian).

On the inventory position x = on-hand + pipeline, the policy orders min(a - x, max_order) when x < a, asks to
remove min(x - b, max_removal) when x > b (the env removes up to what is on the shelf), and does nothing in
between. With a demand schedule of S phases the levels depend on the phase, ``(a_phase, b_phase)``. The exact
optimum has this structure with L = 0, and with backlogging and L = 1 (``tests/test_procurement_removal.py``).

:meth:`IntervalStock.fit` searches the levels by simulation with common random numbers: every candidate policy
runs in the compiled kernel (``rollout("interval")`` / ``"phased_interval"``) on the same demand streams (env j
of every candidate has the same seed, and the kernel draws exactly one uniform per period whatever the action),
so comparisons between candidates carry no sampling noise from demand. The levels are

    a_phase = round(m_phase + alpha),   b_phase = a_phase + delta   (delta may be +inf: never remove)

where m_phase is the mean demand over the L + 1 periods phase, ..., phase + L that an order placed in the phase
covers; for stationary demand this is just a = round(m + alpha). The search alternates exhaustive integer line
searches over alpha and delta (coordinate descent) until neither improves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import FIT_SEED, FittedPolicy, batch_rollout, fit_config
from invgym.validation import check_int

__all__ = ["IntervalStock"]


class IntervalStock(FittedPolicy):
    """A fitted interval policy; ``order_up_to`` and ``remove_down_to`` hold one level per phase.

    Actions are finished exactly as the kernel's ``rollout`` finishes them (u = a - x or b - x, clipped to
    ``[-max_removal, max_order]``), so stepped and compiled evaluations agree; ints for a discrete space.
    """

    family = "procurement_removal"

    # Config fields the actions depend on; acting in an env that differs in one of them is refused.
    fitted_fields: tuple[str, ...] = ("lead_time", "max_order", "max_removal", "action_type", "num_phases")

    def __init__(self, config: Any, order_up_to: Any, remove_down_to: Any, **params: Any) -> None:
        a = np.atleast_1d(np.asarray(order_up_to, dtype=np.float64))
        b = np.atleast_1d(np.asarray(remove_down_to, dtype=np.float64))
        phases = max(config.num_phases, 1)
        if a.shape != (phases,) or b.shape != (phases,) or np.any(b < a) or not np.all(np.isfinite(a)):
            raise ValueError(
                f"IntervalStock needs {phases} finite order_up_to levels a and as many remove_down_to levels "
                f"b >= a (one per phase). Got a={a.tolist()!r}, b={b.tolist()!r} instead."
            )
        phased = config.num_phases > 0
        super().__init__(order_up_to=a.tolist() if phased else float(a[0]),
                         remove_down_to=b.tolist() if phased else float(b[0]), **params)
        self.order_up_to, self.remove_down_to = a, b
        self.lead_time = int(config.lead_time)
        self.width = max(self.lead_time, 1)
        self.max_order, self.max_removal = float(config.max_order), float(config.max_removal)
        self.phased = phased
        self.discrete = config.action_type == "discrete"
        self.remember_fit(config)
        self.info: dict[str, Any] = {}

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the signed actions for a batch of observations (int64 if the env is discrete)."""
        need = self.width + (1 if self.phased else 0)
        if obs.shape[1] != need:
            raise ValueError(f"IntervalStock needs observations with {need} columns (on-hand, pipeline"
                             f"{', phase' if self.phased else ''}). Got shape {obs.shape} instead.")
        # Summed column by column from on-hand, in the kernel's order, so both paths give bit-identical actions.
        position = obs[:, 0].copy()
        for k in range(1, self.width):
            position += obs[:, k]
        phase = np.rint(obs[:, self.width]).astype(np.int64) if self.phased else np.zeros(len(obs), np.int64)
        a, b = self.order_up_to[phase], self.remove_down_to[phase]
        u = np.where(position < a, a - position, np.where(position > b, b - position, 0.0))
        u = np.clip(u, -self.max_removal, self.max_order)
        if self.discrete:
            integer = u.astype(np.int64)
            if np.array_equal(integer, u):
                return integer
        return u

    def rollout_spec(self) -> tuple[str, np.ndarray]:
        """Return the kernel policy: ``("interval", [a, b])`` or ``("phased_interval", [a..., b...])``."""
        if self.phased:
            return "phased_interval", np.concatenate([self.order_up_to, self.remove_down_to])
        return "interval", np.array([self.order_up_to[0], self.remove_down_to[0]])

    @classmethod
    def fit(cls, env: Any, *, order_up_to: Any = None, remove_down_to: Any = None, num_envs: int = 16,
            periods: int | None = None, warmup: int = 0, seed: int = FIT_SEED, max_rounds: int = 10,
            **env_kwargs: Any) -> IntervalStock:
        """Return the interval policy with the given levels, or with (alpha, delta) found by simulation search.

        The default objective is the env's own episode: the mean total cost of ``periods`` periods (the
        horizon, at most 2000) from its initial state; a ``warmup`` turns it into a long-run average.

        Args:
            env: a procurement-removal env, vector env, config or id (with ``env_kwargs``).
            order_up_to: the levels a (one per phase); give both levels, or neither to search them.
            remove_down_to: the levels b >= a (``inf``: never remove).
            num_envs: demand streams per candidate, in [1, 10^5]; stream j is seeded with ``seed + j``.
            periods: counted periods per stream, in [1, 10^6].
            warmup: uncounted periods run first, in [0, 10^6].
            seed: seed of stream 0.
            max_rounds: coordinate-descent rounds at most, in [1, 100].
            **env_kwargs: scenario parameters, with an id only.

        Returns:
            The policy; ``params`` records ``alpha`` and ``delta`` and ``info`` the fitted cost per period
            (``search_cost``) and the number of simulated candidates (``evaluations``).

        Example:
            >>> import invgym
            >>> from invgym.baselines import IntervalStock
            >>> policy = IntervalStock.fit("invgym/ProcurementRemoval-v0", lead_time=1, initial_state=[30])
            >>> policy
            IntervalStock(order_up_to=13.0, remove_down_to=14.0, alpha=3.0, delta=1.0)
            >>> policy([[3.0], [13.5], [30.0]]).tolist()  # order 10, do nothing, remove (up to) 14 = max_removal
            [10, 0, -14]
        """
        owner = "IntervalStock.fit"
        config = fit_config(env, env_kwargs, "IntervalStock", cls.family)
        if (order_up_to is None) != (remove_down_to is None):
            raise ValueError(f"{owner} takes both 'order_up_to' and 'remove_down_to', or neither (to search both). "
                             f"Got order_up_to={order_up_to!r}, remove_down_to={remove_down_to!r} instead.")
        if order_up_to is not None:
            return cls(config, order_up_to, remove_down_to)
        num_envs = check_int(num_envs, "num_envs", owner, 1, 100_000)
        periods = check_int(min(config.horizon, 2000) if periods is None else periods, "periods", owner, 1, 10**6)
        warmup = check_int(warmup, "warmup", owner, 0, 10**6)
        seed = check_int(seed, "seed", owner, 0, 2**63)
        max_rounds = check_int(max_rounds, "max_rounds", owner, 1, 100)
        phased = config.num_phases > 0
        means = _cover_means(config)
        sd = _cover_sd(config)
        start = float(np.sum(config.initial_state))
        evaluations = 0

        def levels(alpha: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            a = np.maximum(np.floor(means[None, :] + alpha[:, None] + 0.5), 0.0)
            return a, a + delta[:, None]

        def evaluate(alpha: np.ndarray, delta: np.ndarray) -> np.ndarray:
            # Every candidate on the same num_envs streams: env (c, j) of the batch is seeded with seed + j.
            nonlocal evaluations
            a, b = levels(alpha, delta)
            n = len(alpha)
            evaluations += n
            name = "phased_interval" if phased else "interval"
            totals = batch_rollout(config, name, np.concatenate([a, b], axis=1), num_envs=num_envs,
                                   periods=periods, warmup=warmup, seed=seed)["cost"]
            return totals.mean(axis=1) / periods

        # Integer grids: alpha puts a between 0 and the mean plus 8 standard deviations (or the initial
        # position); delta covers removal margins up to that height, plus "never remove" (inf, listed last).
        top = float(max(means.max() + 8.0 * sd + 4.0, start))
        alphas = np.arange(-np.ceil(means.max()), np.ceil(top - means.min()) + 1.0)
        deltas = np.concatenate([np.arange(0.0, np.ceil(top) + 1.0), [np.inf]])
        alpha, delta, best = 0.0, np.inf, np.inf
        for _ in range(max_rounds):
            costs = evaluate(alphas, np.full(len(alphas), delta))
            alpha = float(alphas[int(np.argmin(costs))])
            costs = evaluate(np.full(len(deltas), alpha), deltas)
            k = len(deltas) - 1 - int(np.argmin(costs[::-1]))  # among exact ties prefer the largest margin
            delta = float(deltas[k])
            improved = costs[k] < best - 1e-12
            best = min(best, float(costs[k]))
            if not improved:
                break
        a, b = levels(np.array([alpha]), np.array([delta]))
        policy = cls(config, a[0], b[0], alpha=alpha, delta=delta)
        policy.info = {"search_cost": best, "evaluations": evaluations}
        return policy


def _cover_means(config: Any) -> np.ndarray:
    """Mean demand over the L + 1 periods phase, ..., phase + L, per phase (one entry when stationary)."""
    phases = max(config.num_phases, 1)
    per = np.array([config.demand_at(t).mean for t in range(phases)])
    return np.array([sum(per[(ph + j) % phases] for j in range(config.lead_time + 1)) for ph in range(phases)])


def _cover_sd(config: Any) -> float:
    """Largest standard deviation of demand over L + 1 periods across phases (independent periods)."""
    phases = max(config.num_phases, 1)
    var = np.array([config.demand_at(t).variance for t in range(phases)])
    return float(max(np.sqrt(sum(var[(ph + j) % phases] for j in range(config.lead_time + 1)))
                     for ph in range(phases)))
