"""Zipkin's (2008) myopic policy for lost sales: the order minimising the cost of the period it arrives in.

An order placed now arrives L periods later. Its arrival period t + L costs ``h (y - D)^+ + p (D - y)^+`` with
``y = V + q``, where V is the stock left on hand when the order arrives. V is random but its distribution
follows from the state ``x = (x_0, ..., x_{L-1})`` (on-hand, then outstanding orders oldest first):
``V_0 = x_0``, ``V_{k+1} = (V_k - D_k)^+ + x_{k+1}`` for k < L - 1, and ``V = (V_{L-1} - D_{L-1})^+``.
The cost is convex in q with forward difference ``(h + p) P(D <= V + q) - p``, so the myopic order is the
least ``q >= 0`` with ``P(D <= V + q) >= p / (p + h)`` (with p - c for p when there is a purchase cost c; see
``baselines/lost_sales_policy.py``). With L = 0 it is the newsvendor policy.

**Table.** The orders are tabulated once, at ``fit``, over the states the policy can reach, so ``act`` is a
lookup. Two bounds keep the table small and exact: (i) the myopic order never exceeds ``s_0``, the fractile
quantile of one period's demand (``q = s_0`` already meets the fractile with V = 0), so outstanding orders
stay in ``[0, s_0]``; (ii) since ``V >= x_k - (D_k + ... + D_{L-1})``, the order is 0 as soon as some
``x_k >= s_{L-k}``, the fractile quantile of demand over L - k + 1 periods (Morton 1971). States outside the
table but inside these bounds (e.g. a user-set ``initial_state``) are solved exactly on first sight and
remembered.

Reference:
    P. Zipkin (2008), "Old and new methods for lost-sales inventory systems", Operations Research 56(5),
    Sec. 3; the myopic column of Table 3 is reproduced in ``tests/test_lost_sales_baselines.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import fit_config
from invgym.baselines.lost_sales_policy import LostSalesPolicy, critical_fractile, effective_costs, fractile_levels
from invgym.validation import check_int

__all__ = ["Myopic"]

# Fractile comparisons allow this much rounding, as DemandModel.quantile does, so table and bounds agree.
_TOL = 1e-12


def _minus_demand(pmf: np.ndarray, n: int) -> np.ndarray:
    """Return ``M[v, w] = P((v - D)^+ = w)`` on ``{0, ..., n-1}``: the stock left after a period's demand."""
    v, w = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d = v - w
    m = np.where((w >= 1) & (d >= 0) & (d < len(pmf)), pmf[np.clip(d, 0, len(pmf) - 1)], 0.0)
    m[:, 0] = 1.0 - m[:, 1:].sum(axis=1)  # all of v sold: P(D >= v)
    return m


def _arrival_distribution(pmf: np.ndarray, dims: list[int], n: int) -> np.ndarray:
    """Distribution of V for every state in the box ``x_k in [0, dims[k])``: array ``dims + [n]``."""
    minus = _minus_demand(pmf, n)
    dist = np.zeros((dims[0], n))
    dist[np.arange(dims[0]), np.arange(dims[0])] = 1.0  # V_0 = x_0
    for k in range(1, len(dims) + 1):
        dist = dist @ minus  # period t+k-1's demand is met from V
        if k < len(dims):  # then order x_k arrives
            grown = np.zeros((*dist.shape[:-1], dims[k], n))
            for x in range(dims[k]):
                grown[..., x, x:] = dist[..., : n - x]
            dist = grown
    return dist


def _orders(dist: np.ndarray, cdf: np.ndarray, beta: float, top: int) -> np.ndarray:
    """Least q in ``[0, top]`` with ``P(D <= V + q) >= beta`` for each distribution of V (last axis)."""
    n = dist.shape[-1]
    reach = np.minimum(np.arange(n)[:, None] + np.arange(top + 1)[None, :], len(cdf) - 1)
    met = (dist @ cdf[reach]) >= beta - _TOL
    met[..., top] = True  # q = s_0 always meets the fractile (bound (i)); guard against rounding
    return np.argmax(met, axis=-1)


class Myopic(LostSalesPolicy):
    """Zipkin's (2008) myopic policy: minimise the expected cost of the period in which the order arrives."""

    fitted_fields = ("lead_time", "max_order", "action_type", "demand", "holding_cost", "lost_sales_cost",
                     "purchase_cost")

    def __init__(self, config: Any, beta: float, table: np.ndarray, cutoffs: np.ndarray) -> None:
        super().__init__(config, critical_fractile=round(beta, 6))
        self.beta = beta
        self.table = table
        self.cutoffs = cutoffs
        self.top = fractile_levels(config)[0]
        self.pmf = config.demand.pmf()
        self.cdf = np.cumsum(self.pmf)
        self._cache: dict[tuple[int, ...], int] = {}

    @classmethod
    def fit(cls, env: Any, *, max_table_states: int = 2_000_000, **env_kwargs: Any) -> Myopic:
        """Return the myopic policy of a lost-sales env, with its orders tabulated over the reachable states.

        Args:
            env: a lost-sales env, vector env, config or id (with ``env_kwargs``).
            max_table_states: the most states tabulated; beyond it (long lead times) every state is solved
                on first sight instead.
            **env_kwargs: scenario parameters, with an id only.
        """
        config = fit_config(env, env_kwargs, cls.__name__, cls.family)
        max_table_states = check_int(max_table_states, "max_table_states", cls.__name__, 0, 100_000_000)
        beta = critical_fractile(*effective_costs(config))
        levels = fractile_levels(config)  # s_l, l = 0..L
        lead = config.lead_time
        width = max(lead, 1)
        # Bound (ii): the order is 0 once x_k >= s_{L-k} (x_0 against s_L; with L = 0, x_0 against s_0).
        cutoffs = np.array([levels[lead - k] for k in range(width)], dtype=np.int64)
        # Bound (i): reachable outstanding orders are at most s_0.
        dims = [int(cutoffs[0])] + [int(min(levels[0] + 1, cutoffs[k])) for k in range(1, width)]
        if int(np.prod(dims, dtype=np.float64)) > max_table_states:
            dims = [0] * width
        table = np.zeros(dims, dtype=np.int64)
        if all(dims):
            n = sum(d - 1 for d in dims) + 1
            dist = _arrival_distribution(config.demand.pmf(), dims, n) if lead > 0 else np.eye(dims[0])
            table = _orders(dist, np.cumsum(config.demand.pmf()), beta, levels[0])
        return cls(config, beta, table, cutoffs)

    def order(self, state: tuple[int, ...]) -> int:
        """Return the myopic order in one (integer) state, solved exactly (used outside the table)."""
        if any(x >= c for x, c in zip(state, self.cutoffs, strict=True)):
            return 0
        if state not in self._cache:
            n = sum(state) + 1
            minus = _minus_demand(self.pmf, n)
            dist = np.zeros(n)
            dist[state[0]] = 1.0  # V_0 = x_0
            for k in range(1, self.lead_time + 1):
                dist = dist @ minus
                if k < self.lead_time:
                    dist = np.concatenate([np.zeros(state[k]), dist[: n - state[k]]])
            self._cache[state] = int(_orders(dist, self.cdf, self.beta, self.top))
        return self._cache[state]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the myopic orders: a table lookup, 0 beyond Morton's bounds, exact solving elsewhere."""
        x = self._state(obs)
        xi = x.astype(np.int64)
        if not np.array_equal(xi, x):
            bad = x[np.any(xi != x, axis=1)][0]
            raise ValueError("Myopic needs integer states (on-hand and outstanding orders). "
                             f"Got {bad.tolist()}.")
        # Which rows are beyond a cutoff, which inside the table, and where: column by column, since numpy's
        # reductions over a short axis are slow.
        dims = self.table.shape
        zero = xi[:, 0] >= self.cutoffs[0]
        inside = xi[:, 0] < dims[0]
        index = xi[:, 0].copy()
        for k in range(1, xi.shape[1]):
            column = xi[:, k]
            zero |= column >= self.cutoffs[k]
            inside &= column < dims[k]
            index *= dims[k]
            index += column
        inside &= ~zero
        q = np.where(inside, self.table.reshape(-1)[np.where(inside, index, 0)] if self.table.size else 0, 0)
        for i in np.flatnonzero(~zero & ~inside):
            q[i] = self.order(tuple(xi[i].tolist()))
        return self._finish(q)

    def rollout_spec(self) -> tuple[str, dict[str, Any]]:
        """The table for ``BatchKernel.rollout_table``: 0 beyond the cutoffs, ``order`` for untabulated states."""
        table = np.clip(self.table, 0.0, self.max_order).astype(np.float64)[..., None]
        return "table", {"table": table, "offsets": np.zeros(self.width, dtype=np.int64),
                         "cutoffs": self.cutoffs.astype(np.float64), "integral": True,
                         "fallback": lambda state: float(np.clip(self.order(state), 0.0, self.max_order))}
