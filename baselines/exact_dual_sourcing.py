"""Exact long-run average-cost optimum of the dual-sourcing scenario, by relative value iteration.

**Reduced state (the standard reduction; e.g. Veeraraghavan & Scheller-Wolf 2008; Sheopuri, Janakiraman
& Seshadri 2010).** With l = l_r - l_e, the decision state is ``(u, r_1, ..., r_{l-1})``: the expedited inventory
position u (net inventory plus every order arriving within l_e periods) and the l - 1 newest regular orders
r_1 (oldest) .. r_{l-1}. Ordering (q_r, q_e) raises the expedited position to y = u + q_e. Everything that
arrives by period t + l_e is in y, so the end-of-period net inventory of t + l_e is y minus the demand of the
l_e + 1 periods t, ..., t + l_e; charging that period's expected holding/backorder cost to period t gives the
period cost ``c_r q_r + c_e q_e + L(y)``, ``L(y) = E[h (y - D^{(l_e+1)})^+ + b (D^{(l_e+1)} - y)^+]``, whose
long-run average equals the env's. The next state is ``(y - D + r_1, r_2, ..., r_{l-1}, q_r)`` (``y - D + q_r``
when l = 1). With ``lost_sales=True`` (supported for l_e = 0 only, where u is the on-hand stock and nothing is
reduced) the next position is ``(y - D)^+ + r_1`` and L charges b per lost unit.

**Bounds.** Orders are those of the env's action space, ``{0, ..., max_order}`` per source (the defaults, one
period's largest demand, follow Veeraraghavan & Scheller-Wolf's observation that larger orders are never
needed; ``tests/test_dual_sourcing_baselines.py`` checks this on an instance). The position u is kept in
``[u_lo, u_hi]`` and transitions leaving it are clipped to the nearest end (a truncation). After solving, the
stationary distribution of the optimal policy's chain from the env's starting state is computed and the
probability that a transition is clipped (``info["clipped_mass"]``) must be below 1e-9; otherwise the range is
widened by one period's largest demand on each side and the problem solved again (a check, not a proof).

**Computation.** One Bellman sweep splits the joint minimum over (q_e, q_r): q_r affects only the next state, so
``M(y, r) = min_q [c_r q + E V(next(y, r, q))]`` is computed first from a matrix product ``T @ V`` (T maps
(y, r_1) to the distribution of the next position), then ``V(u, r) = min_{q_e} [c_e q_e + L(u + q_e) +
M(u + q_e, r)]`` is a minimum over shifted slices. Relative value iteration (Puterman 1994, Sec. 8.5.5) stops when
the span of ``T V - V`` is below ``tol``; Odoni's bounds bracket the optimal average cost and their midpoint is
returned.

References:
    S. Veeraraghavan & A. Scheller-Wolf (2008), "Now or later: a simple policy for effective dual sourcing in
    capacitated systems", Operations Research 56(4).
    A. Sheopuri, G. Janakiraman & S. Seshadri (2010), "New policies for the stochastic inventory control
    problem with two supply sources", Operations Research 58(3).
    J. Gijsbrechts, R. Boute, J. Van Mieghem & D. Zhang (2022), MSOM 24(3), Sec. 6.2 (the instances).
    M. Puterman (1994), "Markov Decision Processes", Wiley, Sec. 8.5.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from invgym.baselines.common import (
    DEFAULT_MAX_MEMORY_GB,
    ExactSolution,
    FittedPolicy,
    check_max_memory,
    check_memory,
    config_of,
)
from invgym.demand import ProductMixture
from invgym.validation import check_int, check_real

__all__ = ["DualSourcingTablePolicy", "dual_sourcing_bounds", "evaluate_dual_sourcing", "solve_dual_sourcing"]

DEFAULT_MAX_STATES = 2_000_000
DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITERATIONS = 100_000
CLIPPED_MASS_LIMIT = 1e-9
MAX_WIDENINGS = 8
OWNER = "solve_exact"


# === Bounds ===

def _quantile(pmf: np.ndarray, level: float, periods: int) -> int:
    total = np.array([1.0])
    for _ in range(periods):
        total = np.convolve(total, pmf)
    return int(np.searchsorted(np.cumsum(total), level - 1e-12))


def dual_sourcing_bounds(config: Any) -> tuple[int, int]:
    """Return the default range ``(u_lo, u_hi)`` of the expedited inventory position.

    ``u_hi`` is the b/(b+h) quantile of demand over l_r + 1 periods (the base-stock level of the regular source
    alone) plus one regular order; ``u_lo`` is minus one period's largest demand (0 with lost sales). The solver
    widens the range when the optimal chain reaches its ends.
    """
    pmf = config.demand.pmf()
    h, b = config.holding_cost, config.backorder_cost
    ratio = b / (b + h) if b > 0 else 0.0
    top = _quantile(pmf, ratio, config.regular_lead_time + 1) + int(np.floor(config.max_order[0]))
    low = 0 if config.lost_sales else -(len(pmf) - 1)
    return low, max(top, low + 1)


# === The reduced model ===

@dataclasses.dataclass
class _Model:
    """The reduced model on the box u in [lo, hi], r_j in [0, qr_max], orders in [0, qr_max] x [0, qe_max]."""

    config: Any
    lo: int
    hi: int
    qr_max: int
    qe_max: int

    def __post_init__(self) -> None:
        c = self.config
        self.lag = c.regular_lead_time - c.expedited_lead_time
        self.n_u = self.hi - self.lo + 1
        self.n_y = self.n_u + self.qe_max
        self.r = self.qr_max + 1
        self.cols = self.r ** (self.lag - 1)
        pmf = c.demand.pmf()
        self.support = np.flatnonzero(pmf > 0)
        self.prob = pmf[self.support]
        y = np.arange(self.n_y) + self.lo
        # L(y): expected holding/backorder (or lost-sales) cost of period t + l_e, from demand over l_e + 1 periods.
        lead_pmf = np.array([1.0])
        for _ in range(c.expedited_lead_time + 1):
            lead_pmf = np.convolve(lead_pmf, pmf)
        d = np.arange(len(lead_pmf))
        over = np.maximum(y[:, None] - d[None, :], 0.0) @ lead_pmf
        under = np.maximum(d[None, :] - y[:, None], 0.0) @ lead_pmf
        self.period_cost = c.holding_cost * over + c.backorder_cost * under
        # T[(y, a), u'] = P(clip(next(y, D) + a) = u'): a is r_1 (l >= 2) or q_r itself (l = 1).
        nxt = y[:, None] - self.support[None, :]
        if c.lost_sales:
            nxt = np.maximum(nxt, 0)
        raw = nxt[:, None, :] + np.arange(self.r)[None, :, None]  # (y, a, d)
        self.clip_prob = ((raw < self.lo) | (raw > self.hi)).astype(float) @ self.prob  # (y, a)
        self.next_u = np.clip(raw, self.lo, self.hi) - self.lo
        t = np.zeros((self.n_y * self.r, self.n_u))
        rows = np.repeat(np.arange(self.n_y * self.r), len(self.support))
        np.add.at(t, (rows, self.next_u.ravel()), np.tile(self.prob, self.n_y * self.r))
        self.t = t
        self.qr_cost = c.regular_cost * np.arange(self.r)
        self.qe_cost = c.expedited_cost * np.arange(self.qe_max + 1)

    @property
    def num_states(self) -> int:
        return self.n_u * self.cols

    def _inner(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``M(y, r)`` and its minimising q_r, both (n_y, cols)."""
        g = self.t @ values  # ((y, a), next cols)
        if self.lag == 1:
            g = g.reshape(self.n_y, self.r) + self.qr_cost
            return g.min(axis=1)[:, None], g.argmin(axis=1)[:, None]
        # The next state's columns are (r_2, ..., r_{l-1}, q_r): q_r is the last, fastest axis.
        g = g.reshape(self.n_y, self.r, self.cols // self.r, self.r) + self.qr_cost
        return g.min(axis=3).reshape(self.n_y, self.cols), g.argmin(axis=3).reshape(self.n_y, self.cols)

    def sweep(self, values: np.ndarray, policy: bool = False) -> Any:
        """One Bellman sweep ``T V`` (and, with ``policy``, the minimising (q_r, q_e) tables)."""
        inner, best_qr = self._inner(values)
        f = self.period_cost[:, None] + inner
        stacked = np.stack([self.qe_cost[q] + f[q : q + self.n_u] for q in range(self.qe_max + 1)])
        new = stacked.min(axis=0)
        if not policy:
            return new
        qe = stacked.argmin(axis=0)
        qr = np.take_along_axis(best_qr, np.arange(self.n_u)[:, None] + qe, axis=0)
        return new, qr, qe

    def chain(self, qr: np.ndarray, qe: np.ndarray, start: int, tol: float = 1e-13,
              max_iterations: int = 200_000) -> tuple[float, float, np.ndarray]:
        """Average cost, clipped mass and stationary distribution of the chain of tables (qr, qe), from ``start``."""
        u_idx = np.repeat(np.arange(self.n_u), self.cols)
        col = np.tile(np.arange(self.cols), self.n_u)
        qr, qe = qr.ravel(), qe.ravel()
        y = u_idx + qe
        if self.lag == 1:
            a, nxt_col = qr, np.zeros_like(col)
        else:
            a, nxt_col = col // (self.cols // self.r), (col % (self.cols // self.r)) * self.r + qr
        succ = self.next_u[y, a] * self.cols + nxt_col[:, None]  # (states, demand values)
        cost = self.qr_cost[qr] + self.qe_cost[qe] + self.period_cost[y]
        pi = np.zeros(self.num_states)
        pi[start] = 1.0
        weights = self.prob[None, :]
        for iteration in range(max_iterations):
            # The lazy chain (P + I) / 2 has the same stationary distribution and is aperiodic.
            new = 0.5 * pi + 0.5 * np.bincount(succ.ravel(), (pi[:, None] * weights).ravel(), self.num_states)
            if iteration % 16 == 0 and np.abs(new - pi).sum() < tol:
                pi = new
                break
            pi = new
        else:
            raise RuntimeError("the policy's Markov chain did not reach stationarity.")
        return float(pi @ cost), float(pi @ self.clip_prob[y, a]), pi

    def start_index(self) -> int:
        """Index of the env's starting state (net inventory, pipelines) in the reduced box."""
        c = self.config
        x = np.asarray(c.initial_state, dtype=float)
        u, r = _reduce(x[None, :], c)
        u = int(np.clip(np.rint(u[0]), self.lo, self.hi)) - self.lo
        r = np.clip(np.rint(r[0]), 0, self.qr_max).astype(int)
        flat = 0
        for v in r:
            flat = flat * self.r + int(v)
        return u * self.cols + flat


def _reduce(obs: np.ndarray, config: Any) -> tuple[np.ndarray, np.ndarray]:
    """Map observations to the reduced state: expedited position u and the l - 1 newest regular orders."""
    lr, le = config.regular_lead_time, config.expedited_lead_time
    regular = obs[:, 1:lr]
    u = obs[:, 0] + obs[:, lr:].sum(axis=1) + regular[:, :le].sum(axis=1)
    return u, regular[:, le:]


def _representatives(model: _Model) -> np.ndarray:
    """One observation per reduced state: net = u, the l_e oldest regular and all expedited orders zero."""
    c = model.config
    le = c.expedited_lead_time
    obs = np.zeros((model.num_states, c.width))
    obs[:, 0] = np.repeat(np.arange(model.n_u) + model.lo, model.cols)
    col = np.arange(model.cols)
    for j in range(model.lag - 1):
        obs[:, 1 + le + j] = np.tile((col // model.r ** (model.lag - 2 - j)) % model.r, model.n_u)
    return obs


# === Policy ===

class DualSourcingTablePolicy(FittedPolicy):
    """An optimal dual-sourcing policy as a lookup table over the reduced state (u, r_1, ..., r_{l-1}).

    Observations are reduced (u = net inventory + expedited pipeline + the l_e oldest regular orders) and
    rounded to the nearest integers; a state outside the solved box uses the nearest state of the box (the
    optimal chain from the env's starting state never leaves it; see the module docstring).
    """

    family = "dual_sourcing"

    def __init__(self, regular: np.ndarray, expedited: np.ndarray, config: Any, lo: int) -> None:
        super().__init__(regular_lead_time=config.regular_lead_time, expedited_lead_time=config.expedited_lead_time,
                         position_range=(lo, lo + regular.shape[0] - 1), states=int(regular.size))
        self.regular, self.expedited = regular, expedited
        self.config, self.lo = config, lo
        self.discrete = config.action_type == "discrete"

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the optimal (q_r, q_e) for a batch of observations (int64 for a discrete env, else float64)."""
        if obs.shape[1] != self.config.width:
            raise ValueError(f"observations must have {self.config.width} columns. Got shape {obs.shape} instead.")
        u, r = _reduce(obs, self.config)
        n_u, r_max = self.regular.shape[0], self.regular.shape[1] - 1 if self.regular.ndim > 1 else 0
        u = np.clip(np.rint(u).astype(np.int64) - self.lo, 0, n_u - 1)
        index = (u,) + tuple(np.clip(np.rint(r[:, j]).astype(np.int64), 0, r_max) for j in range(r.shape[1]))
        actions = np.stack([self.regular[index], self.expedited[index]], axis=1).astype(np.int64)
        return actions if self.discrete else actions.astype(np.float64)

    def rollout_spec(self) -> tuple[str, dict[str, Any]]:
        """The table for ``BatchKernel.rollout_table``: the reduction of ``_reduce`` as a projection, clipped."""
        c = self.config
        lr, le = c.regular_lead_time, c.expedited_lead_time
        projection = np.zeros((self.regular.ndim, c.width))
        projection[0, 0] = 1.0  # u = net inventory + expedited pipeline + the l_e oldest regular orders
        projection[0, lr:] = 1.0
        projection[0, 1 : 1 + le] = 1.0
        for j in range(self.regular.ndim - 1):  # then the l - 1 newest regular orders as they are
            projection[1 + j, 1 + le + j] = 1.0
        offsets = np.zeros(self.regular.ndim, dtype=np.int64)
        offsets[0] = self.lo
        table = np.stack([self.regular, self.expedited], axis=-1).astype(np.float64)
        return "table", {"table": table, "offsets": offsets, "obs_dim": c.width, "projection": projection,
                         "clip": True}


# === Solver ===

def _order_bounds(config: Any) -> tuple[int, int]:
    return int(np.floor(config.max_order[0])), int(np.floor(config.max_order[1]))


def _check(config: Any) -> None:
    if isinstance(config.demand, ProductMixture):
        raise ValueError(
            "solve_exact needs stationary demand from one product; a ProductMixture draws a product per "
            "episode, so no single optimal average cost exists. Solve each of its products separately."
        )
    if config.lost_sales and config.expedited_lead_time > 0:
        raise ValueError(
            "the exact dual-sourcing solver handles lost sales only with expedited_lead_time = 0 (the reduction "
            f"to the expedited inventory position needs backlogging). Got expedited_lead_time="
            f"{config.expedited_lead_time} instead."
        )


def _model(config: Any, lo: int, hi: int, max_states: int, max_memory_gb: float) -> _Model:
    qr, qe = _order_bounds(config)
    lag = config.regular_lead_time - config.expedited_lead_time
    states = (hi - lo + 1) * (qr + 1) ** (lag - 1)
    what = (f"the dual-sourcing instance has {states:,} reduced states (positions [{lo}, {hi}], regular orders "
            f"0..{qr}, l_r - l_e = {lag})")
    # One sweep: the work array T @ V over (y, a, next pipeline) three times (product, plus costs, argmin), the
    # (q_e, state) stack twice, T itself and a few arrays over the states.
    work = (hi - lo + 1 + qe) * (qr + 1) ** lag
    memory = 8 * (3 * work + 2 * (qe + 1) * states + (hi - lo + 1 + qe) * (qr + 1) * (hi - lo + 1) + 8 * states)
    if states > max_states:
        raise ValueError(f"{what}, more than max_states={max_states:,}. Lower max_order or raise max_states (it "
                         f"would need about {memory / 2**30:,.2f} GiB of working memory).")
    model = _Model(config, lo, hi, qr, qe)
    model.memory_bytes = check_memory(memory, max_memory_gb, what)
    return model


def solve_dual_sourcing(
    config: Any,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
    tol: float = DEFAULT_TOL,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    position_range: tuple[int, int] | None = None,
) -> ExactSolution:
    """Solve a dual-sourcing config for its optimal long-run average cost per period and an optimal policy.

    Orders range over the env's action space (integers up to ``max_order`` per source; with
    ``action_type="continuous"`` the problem is solved on the integer lattice). The horizon does not enter the
    long-run average; the starting state only selects the recurrent class checked for truncation.

    Args:
        config: a validated ``DualSourcingConfig`` (or an env or id) with a single demand model.
        max_states: refuse (ValueError naming the count) instances with more reduced states than this.
        max_memory_gb: refuse (ValueError naming the estimate) instances whose working memory, estimated before
            solving, exceeds this many GiB.
        tol: stop when the span of ``T V - V`` is below ``tol`` (cost units); the returned average cost is
            then within ``tol / 2`` of the optimum of the truncated model.
        max_iterations: raise RuntimeError if not converged after this many sweeps.
        position_range: fix ``(u_lo, u_hi)`` instead of the default range with automatic widening.

    Returns:
        ExactSolution with ``average_cost``, a :class:`DualSourcingTablePolicy`, ``num_states``, ``iterations``,
        the final ``span`` and ``info`` holding ``bounds`` (Odoni's bracket), ``position_range``,
        ``order_bounds``, ``chain_cost`` (the optimal table's average cost from its stationary distribution,
        a cross-check of ``average_cost``), ``clipped_mass``, ``values`` (relative values, shape of the box) and
        ``memory_bytes`` (the working-memory estimate made before solving).
    """
    config = config_of(config)
    max_states = check_int(max_states, "max_states", OWNER, 1, None)
    max_memory_gb = check_max_memory(max_memory_gb, OWNER)
    tol = check_real(tol, "tol", OWNER, 0.0, None, closed="neither")
    max_iterations = check_int(max_iterations, "max_iterations", OWNER, 1, None)
    _check(config)
    fixed = position_range is not None
    if fixed:
        lo = check_int(position_range[0], "position_range[0]", OWNER, None, None)
        hi = check_int(position_range[1], "position_range[1]", OWNER, lo + 1, None)
    else:
        lo, hi = dual_sourcing_bounds(config)
    widen = max(len(config.demand.pmf()) - 1, 1)
    for _ in range(MAX_WIDENINGS + 1):
        solution = _solve(_model(config, lo, hi, max_states, max_memory_gb), tol, max_iterations)
        if fixed or solution.info["clipped_mass"] < CLIPPED_MASS_LIMIT:
            return solution
        lo, hi = (lo if config.lost_sales else lo - widen), hi + widen
    raise RuntimeError(
        f"the optimal chain still reaches the ends of the position range after {MAX_WIDENINGS} widenings "
        f"(clipped mass {solution.info['clipped_mass']:.3g}); is ordering worth its cost at all?"
    )


def _solve(model: _Model, tol: float, max_iterations: int) -> ExactSolution:
    values = np.zeros((model.n_u, model.cols))
    span, lo, hi = np.inf, -np.inf, np.inf
    for iteration in range(1, max_iterations + 1):  # noqa: B007 - the sweep count is reported
        new = model.sweep(values)
        diff = new - values
        lo, hi = float(diff.min()), float(diff.max())
        span = hi - lo
        values = new - new.flat[0]  # relative values: keep them bounded
        if span < tol:
            break
    else:
        raise RuntimeError(
            f"relative value iteration did not converge in {max_iterations} sweeps (span {span:.3g} > tol {tol:g})."
        )
    _, qr, qe = model.sweep(values, policy=True)
    chain_cost, clipped, _ = model.chain(qr, qe, model.start_index())
    shape = (model.n_u,) + (model.r,) * (model.lag - 1)
    policy = DualSourcingTablePolicy(qr.reshape(shape), qe.reshape(shape), model.config, model.lo)
    info = {
        "bounds": (lo, hi),
        "position_range": (model.lo, model.hi),
        "order_bounds": (model.qr_max, model.qe_max),
        "chain_cost": chain_cost,
        "clipped_mass": clipped,
        "values": values.reshape(shape),
        "memory_bytes": model.memory_bytes,
    }
    return ExactSolution(average_cost=(lo + hi) / 2, policy=policy, num_states=model.num_states,
                         iterations=iteration, span=span, info=info)


def evaluate_dual_sourcing(config: Any, policy: Any, *, max_states: int = DEFAULT_MAX_STATES,
                           position_range: tuple[int, int] | None = None,
                           max_memory_gb: float = DEFAULT_MAX_MEMORY_GB) -> float:
    """Return the exact long-run average cost of a stationary policy, from its Markov chain.

    The policy is called once on one observation per reduced state (net inventory = u, the l_e oldest regular
    and all expedited orders zero), so the result is exact for policies that depend on the state only through
    (u, r_1, ..., r_{l-1}) — the dual-index family, the table policy — and that order integers. The chain is
    started from the env's starting state; its range is widened until no transition is clipped.

    Args:
        config: a validated ``DualSourcingConfig`` (or an env or id).
        policy: maps observations (n, width) to actions (n, 2) — any ``FittedPolicy``.
        max_states: refuse larger reduced models (ValueError).
        position_range: fix ``(u_lo, u_hi)`` instead of the default range with automatic widening.
        max_memory_gb: refuse models whose estimated working memory exceeds this many GiB.
    """
    config = config_of(config)
    max_memory_gb = check_max_memory(max_memory_gb, "evaluate_dual_sourcing")
    _check(config)
    lo, hi = position_range if position_range is not None else dual_sourcing_bounds(config)
    widen = max(len(config.demand.pmf()) - 1, 1)
    for _ in range(MAX_WIDENINGS + 1):
        model = _model(config, lo, hi, max_states, max_memory_gb)
        actions = np.asarray(policy(_representatives(model)), dtype=np.float64).reshape(model.num_states, 2)
        if np.any(actions != np.rint(actions)):
            raise ValueError("evaluate_dual_sourcing needs integer orders; the policy ordered fractional units.")
        qr = np.clip(actions[:, 0], 0, model.qr_max).astype(np.int64)
        qe = np.clip(actions[:, 1], 0, model.qe_max).astype(np.int64)
        cost, clipped, _ = model.chain(qr, qe, model.start_index())
        if position_range is not None or clipped < CLIPPED_MASS_LIMIT:
            return cost
        lo, hi = (lo if config.lost_sales else lo - widen), hi + widen
    raise RuntimeError(
        f"the policy's chain still reaches the ends of the position range after {MAX_WIDENINGS} widenings "
        f"(clipped mass {clipped:.3g}): its inventory drifts without bound (e.g. a base order above mean demand)."
    )
