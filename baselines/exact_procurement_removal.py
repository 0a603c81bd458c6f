"""Exact long-run average-cost optimum of the procurement-removal scenario, by relative value iteration.

The state is the kernel's own observation ``x = (x_0, x_1, ..., x_{L-1})``: on-hand stock after this period's
arrival (net inventory with backlogging), then the orders placed in t-L+1, ..., t-1, oldest first. The action
is the env's signed quantity: an order q in ``{0, ..., max_order}`` or a removal r in
``{1, ..., min(max_removal, x_0^+)}`` (the env removes "up to" the shelf; asking for more than is on hand is
the same decision as removing everything, so the solver only considers feasible removals). With the
post-decision stock ``y`` (``x_0 - r``, or ``x_0 + q`` when L = 0) the period costs
``c q + (k - s) r + h E(y - D)^+ + p E(D - y)^+`` (lost sales, y >= 0) or ``... + b E(D - y)^+`` (backlog), and
the next state is ``(e + x_1, x_2, ..., x_{L-1}, q)`` with ``e = (y - D)^+`` or ``e = y - D`` — the env's
Period Timeline exactly. Demand follows the same truncated pmf the kernel samples.

**Finite state space.** Orders and removals are the env's own action bounds, so no action is cut. The
inventory position ``x_0 + ... + x_{L-1}`` after an order is capped at a bound P; the solver starts from the
p/(p+h) quantile of demand over L + 1 periods (Morton's 1971 bound for pure lost sales), never below the
initial state's position, and enlarges P until no optimal order in the table is limited by it (a check, not a
proof). States with position at most P are closed under the dynamics. With backlogging the net inventory is
floored at ``-backlog_bound`` (mass below is moved to the floor): a truncation that only touches states a
policy reaches after a backlog beyond the 1 - 1e-9 quantile of demand over L + 1 periods.

**Computation.** The expectation over demand touches only ``(y, x_1)`` (``(y, q)`` when L = 1), so one
Bellman sweep is a matrix product ``W @ V`` giving ``G[y, x_1, ..., x_{L-1}, q]``, the expected cost-to-go of
every post-decision state; orders are then a masked minimum over q and removals a minimum over shifts of y.
Relative value iteration (Puterman 1994, Sec. 8.5.5) stops when the span of ``T V - V`` drops below ``tol``;
the optimal average cost lies in ``[min(T V - V), max(T V - V)]`` (Odoni's bounds), whose midpoint is returned.

Only stationary demand from one product is solved: a ``demand_schedule`` or a ``ProductMixture`` raises
ValueError.

References:
    A. Maggiar and A. Sadighian, joint inventory procurement and removal (Amazon): the interval structure.
    P. Zipkin (2008), "Old and new methods for lost-sales inventory systems", Operations Research 56(5).
    M. Puterman (1994), "Markov Decision Processes", Wiley, Sec. 8.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invgym.baselines.common import (
    DEFAULT_MAX_MEMORY_GB,
    ExactSolution,
    FittedPolicy,
    check_max_memory,
    check_memory,
)
from invgym.demand import ProductMixture
from invgym.validation import check_int, check_real

__all__ = ["ProcurementRemovalTablePolicy", "interval_levels", "solve_procurement_removal"]

DEFAULT_MAX_STATES = 1_000_000
DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITERATIONS = 100_000
OWNER = "solve_exact"


# === Policy ===

class ProcurementRemovalTablePolicy(FittedPolicy):
    """The optimal policy as a lookup table of signed actions over (on-hand, pipeline oldest first).

    Observations are rounded to the nearest integers; a phase column is not expected (stationary demand). A
    state outside the table (position above the bound P, a backlog below the floor, or an outstanding order
    above ``max_order``) raises ValueError naming it, since the table holds no optimal decision for it.
    """

    family = "procurement_removal"

    def __init__(self, table: np.ndarray, lead_time: int, floor: int, position_bound: int,
                 discrete: bool = True) -> None:
        super().__init__(lead_time=lead_time, floor=floor, position_bound=position_bound,
                         states=int(np.count_nonzero(table != _INVALID)))
        self.table = table
        self.lead_time = lead_time
        self.width = max(lead_time, 1)
        self.floor = floor
        self.position_bound = position_bound
        self.discrete = discrete

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the optimal signed actions for a batch of observations (int64 if discrete, else float64)."""
        if obs.shape[1] != self.width:
            raise ValueError(f"observations must have {self.width} columns (on-hand and pipeline). "
                             f"Got shape {obs.shape} instead.")
        x = np.rint(obs).astype(np.int64)
        index = x.copy()
        index[:, 0] -= self.floor
        shape = np.array(self.table.shape)
        inside = np.all((index >= 0) & (index < shape), axis=1)
        actions = np.full(len(x), _INVALID, dtype=np.int64)
        actions[inside] = self.table[tuple(index[inside].T)]
        bad = actions == _INVALID
        if bad.any():
            raise ValueError(
                f"state {x[bad][0].tolist()} is outside the solved table (net stock in [{self.floor}, "
                f"{self.position_bound}], inventory position at most {self.position_bound}); solve again with a "
                "larger position_bound or backlog_bound."
            )
        return actions if self.discrete else actions.astype(np.float64)

    def rollout_spec(self) -> tuple[str, dict[str, Any]]:
        """The table for ``BatchKernel.rollout_table``: NaN where no state is solved; net stock from the floor."""
        table = np.where(self.table != _INVALID, self.table, np.nan)[..., None]
        offsets = np.zeros(self.width, dtype=np.int64)
        offsets[0] = self.floor
        return "table", {"table": table, "offsets": offsets, "obs_dim": self.width}


_INVALID = np.iinfo(np.int32).min


def interval_levels(solution: ExactSolution) -> dict[str, Any]:
    """Read the interval structure off an exact solution (stationary demand).

    Returns ``{"order_up_to": a, "remove_down_to": b, "is_interval": bool, "violations": n}`` where, over the
    table's states, a is the largest post-order position and b the smallest post-removal position, and a
    violation is a state whose optimal action differs from the interval policy (a, b) applied to its position
    (orders limited by ``max_order``, removals by ``max_removal`` and by the shelf). With L = 0 or
    backlogging and L <= 1 the theory predicts no violations; with lost sales and L >= 2 the optimal order
    also depends on how the position splits into shelf and pipeline (Zipkin 2008), so violations are expected.
    """
    info = solution.info
    table = solution.policy.table
    valid = table != _INVALID
    position = info["position"]
    on_hand = info["on_hand"]
    after = position + table
    orders, removals = valid & (table > 0), valid & (table < 0)
    a = int(after[orders].max()) if orders.any() else None
    b = int(after[removals].min()) if removals.any() else None
    max_order, max_removal = info["max_order"], info["max_removal"]
    expected = np.zeros_like(table)
    if a is not None:
        expected = np.where(position < a, np.minimum(a - position, max_order), expected)
    if b is not None:
        shelf = np.maximum(on_hand, 0)
        expected = np.where(position > b, -np.minimum(np.minimum(position - b, max_removal), shelf), expected)
    violations = int(np.count_nonzero(valid & (expected != table)))
    return {"order_up_to": a, "remove_down_to": b, "is_interval": violations == 0, "violations": violations}


# === Solver ===

def _quantile(pmf: np.ndarray, level: float, periods: int) -> int:
    """Smallest d with P(D_1 + ... + D_periods <= d) >= level for iid demands with this pmf."""
    total = np.array([1.0])
    for _ in range(periods):
        total = np.convolve(total, pmf)
    return int(np.searchsorted(np.cumsum(total), level - 1e-12))


def _check_config(config: Any) -> None:
    if getattr(config, "demand_schedule", None) is not None:
        raise ValueError(
            "solve_exact solves stationary demand only (relative value iteration for the long-run average); "
            "this config has a demand_schedule. Use IntervalStock, or a config with a single demand model."
        )
    if isinstance(config.demand, ProductMixture):
        raise ValueError(
            "solve_exact needs stationary demand from one product; a ProductMixture draws a product per "
            "episode, so no single optimal average cost exists. Solve each of its products separately."
        )
    for name in ("max_order", "max_removal"):
        if float(getattr(config, name)) != np.floor(getattr(config, name)):
            raise ValueError(f"solve_exact works on the integer lattice: {name}={getattr(config, name)!r} must be a "
                             "whole number of units.")


def solve_procurement_removal(
    config: Any,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
    tol: float = DEFAULT_TOL,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    position_bound: int | None = None,
    backlog_bound: int | None = None,
) -> ExactSolution:
    """Solve a procurement-removal config for its optimal long-run average cost and an optimal policy.

    The horizon does not enter the long-run average; the initial state only widens the table so that the
    policy can act from it. With ``action_type="continuous"`` the problem is solved on the integer lattice.

    Args:
        config: a validated ``ProcurementRemovalConfig`` with one stationary demand model.
        max_states: refuse (ValueError naming the count) instances with more states than this.
        max_memory_gb: refuse (ValueError naming the estimate) instances whose working memory, estimated before
            solving, exceeds this many GiB.
        tol: stop when the span of ``T V - V`` is below ``tol``; the average cost is then within ``tol / 2``.
        max_iterations: raise RuntimeError if not converged after this many sweeps.
        position_bound: the cap P on the inventory position (default: see the module docstring); when given,
            it is used as is, without the enlarging check.
        backlog_bound: with backlogging, the floor -B of the net inventory (default: the 1 - 1e-9 quantile of
            demand over L + 1 periods, and at least the initial backlog).

    Returns:
        ExactSolution with ``average_cost``, a :class:`ProcurementRemovalTablePolicy`, ``num_states``,
        ``iterations``, the final ``span`` and ``info`` holding ``position_bound``, ``floor``, ``bounds``
        (Odoni's bracket), ``values`` (relative values, NaN outside the table), ``position`` and ``on_hand`` of
        every table cell, ``max_order``, ``max_removal``, ``lattice`` and ``memory_bytes`` (the working-memory
        estimate made before solving).

    Example:
        >>> import invgym
        >>> from invgym.baselines import solve_exact
        >>> no_removal = dict(lead_time=2, lost_sales_cost=9.0, purchase_cost=0.0, salvage_value=0.0, max_removal=0)
        >>> round(solve_exact("invgym/ProcurementRemoval-v0", **no_removal).average_cost, 2)  # Zipkin: 6.09
        6.09
    """
    max_states = check_int(max_states, "max_states", OWNER, 1, None)
    max_memory_gb = check_max_memory(max_memory_gb, OWNER)
    tol = check_real(tol, "tol", OWNER, 0.0, None, closed="neither")
    max_iterations = check_int(max_iterations, "max_iterations", OWNER, 1, None)
    _check_config(config)
    pmf = config.demand.pmf()
    lead = config.lead_time
    p, h = config.shortage_cost, config.holding_cost
    ratio = p / (p + h) if p + h > 0 else 0.0
    start = np.rint(np.asarray(config.initial_state)).astype(int)
    floor = 0
    if config.backlog:
        if backlog_bound is None:
            backlog_bound = max(_quantile(pmf, 1.0 - 1e-9, lead + 1), -int(start[0]))
        floor = -check_int(backlog_bound, "backlog_bound", OWNER, 0, None)
    fixed = position_bound is not None
    if fixed:
        bound = check_int(position_bound, "position_bound", OWNER, 0, None)
    else:
        bound = max(_quantile(pmf, ratio, lead + 1), int(start.sum()), 1)
    while True:
        solution = _solve(config, pmf, floor, bound, max_states, max_memory_gb, tol, max_iterations)
        if fixed or not solution.info["position_binds"]:
            return solution
        bound += max(int(config.max_order), 1)  # the bound limited an optimal order: enlarge and solve again


def _solve(config: Any, pmf: np.ndarray, floor: int, bound: int, max_states: int, max_memory_gb: float,
           tol: float, max_iterations: int) -> ExactSolution:
    sweep = _Sweep(config, pmf, floor, bound, max_states, max_memory_gb)
    valid = sweep.valid
    values = np.zeros(sweep.shape)
    span, lo, hi, iterations = np.inf, -np.inf, np.inf, 0
    while iterations < max_iterations:
        iterations += 1
        new = sweep(values)
        new[~valid] = 0.0  # cells outside the table are never reached from inside; keep them finite
        diff = (new - values)[valid]
        lo, hi = float(diff.min()), float(diff.max())
        span = hi - lo
        # Relative value iteration: subtract the value of a reference state to keep the values bounded.
        values = new - new[sweep.reference]
        if span < tol:
            break
    if span >= tol:
        raise RuntimeError(
            f"relative value iteration did not converge in {max_iterations} sweeps (span {span:.3g} > tol "
            f"{tol:g}); the model may be multichain or periodic (e.g. demand that is always zero)."
        )
    actions = sweep.policy(values)
    table = np.where(valid, actions, _INVALID).astype(np.int64)
    after = sweep.position + actions
    binds = bool(np.any(valid & (actions > 0) & (after >= bound)))
    policy = ProcurementRemovalTablePolicy(table.reshape(sweep.state_shape), config.lead_time, floor, bound,
                                           discrete=config.action_type == "discrete")
    info = {
        "position_bound": bound,
        "floor": floor,
        "bounds": (lo, hi),
        "values": np.where(valid, values, np.nan).reshape(sweep.state_shape),
        "position": sweep.position.reshape(sweep.state_shape),
        "on_hand": sweep.on_hand.reshape(sweep.state_shape),
        "max_order": sweep.max_order,
        "max_removal": sweep.max_removal,
        "lattice": config.action_type == "continuous",
        "position_binds": binds,
        "memory_bytes": sweep.memory_bytes,
    }
    return ExactSolution(average_cost=(lo + hi) / 2, policy=policy, num_states=int(valid.sum()),
                         iterations=iterations, span=span, info=info)


class _Sweep:
    """One Bellman sweep on the box of states ``[x_0 - floor, x_1, ..., x_{L-1}]``, flattened to (n0, m).

    ``G[y, x_1, ..., x_{L-1}, q]`` (for L = 0 just ``G[y]``) is the expected period cost of post-decision
    stock y plus the expected relative value of the next state. The next state's first entry
    ``e(y, D) + x_1`` (``e + q`` when L = 1) depends on demand, y and one pipeline entry only, so with
    ``W[(y, u), v] = P(e(y, D) + u = v)`` every G comes from one product ``W @ V``: V's columns enumerate the
    next pipeline ``(x_2, ..., x_{L-1}, q)``, which is the trailing part of G's index.
    """

    def __init__(self, config: Any, pmf: np.ndarray, floor: int, bound: int, max_states: int,
                 max_memory_gb: float) -> None:
        lead = config.lead_time
        self.lead = lead
        self.n0 = n0 = bound - floor + 1
        self.max_order = z = int(config.max_order)
        self.max_removal = int(config.max_removal)
        r = z + 1
        self.m = m = r ** max(lead - 1, 0)
        self.shape = (n0, m)
        self.state_shape = (n0,) + (r,) * max(lead - 1, 0)
        cells = n0 * (r ** max(lead, 1) if lead >= 1 else 1)
        box = n0 * m
        what = (f"the procurement-removal instance has a state box of {box:,} cells (position bound P={bound}, "
                f"floor {floor}, L={lead}, max_order={z})")
        # One sweep: the post-decision array G, W @ V, the order costs and Q-values over (state, order) (four
        # arrays of `cells` doubles), W itself, and a dozen arrays over the state box.
        memory = 8 * (4 * cells + n0 * r * n0 + 12 * box)
        self.memory_bytes = check_memory(memory, max_memory_gb, what)
        self.on_hand = np.broadcast_to(np.arange(floor, bound + 1)[:, None], self.shape)
        pipe = np.zeros(1, dtype=np.int64)  # x_1 + ... + x_{L-1} over the flattened pipeline (x_1 slowest)
        for _ in range(lead - 1):
            pipe = (pipe[:, None] + np.arange(r)[None, :]).ravel()
        self.position = self.on_hand + pipe[None, :]
        self.valid = self.position <= bound
        count = int(self.valid.sum())
        if count > max_states:
            raise ValueError(f"the instance has {count:,} states (position bound P={bound}, floor {floor}, "
                             f"L={lead}, max_order={z}), more than max_states={max_states:,}.")
        self.reference = (-floor, 0)  # the empty state: zero stock, nothing in the pipeline
        self.bound, self.floor = bound, floor
        # Expected period cost of post-decision stock y: h E(y - D)^+ + shortage cost, and e's distribution.
        y = np.arange(floor, bound + 1)
        k = len(pmf)
        d = np.arange(k)
        end = y[:, None] - d[None, :]
        if config.backlog:
            short = np.maximum(-end, 0)
        else:
            short = np.maximum(d[None, :] - np.maximum(y[:, None], 0), 0)
            end = np.maximum(end, 0)
        self.cost = (config.holding_cost * np.maximum(end, 0) + config.shortage_cost * short) @ pmf
        e_index = np.clip(end - floor, 0, None)  # backlog below the floor is moved to the floor (truncation)
        pe = np.zeros((n0, n0))
        np.add.at(pe, (np.repeat(np.arange(n0), k), e_index.ravel()), np.tile(pmf, n0))
        self.c = config.purchase_cost
        self.net_removal = config.removal_cost - config.salvage_value  # (k - s) per removed unit
        if lead == 0:
            self.w = pe
        else:
            # W[(y, u), v] = P(e + u = v) for the arriving quantity u in [0, z]; mass past the box is never
            # used by a valid post-decision state (its position bounds e + u).
            w = np.zeros((n0, r, n0))
            for u in range(r):
                w[:, u, u:] = pe[:, : n0 - u]
            self.w = w.reshape(n0 * r, n0)
        # Orders allowed from each state: position + q <= bound (and q <= max_order by construction).
        q = np.arange(r)
        self.order_cost = np.where(self.position[..., None] + q <= bound, self.c * q, np.inf)  # (n0, m, r)

    def post_values(self, values: np.ndarray) -> np.ndarray:
        """Return G as (n0, m, r) for L >= 1 — [y, (x_1..x_{L-1}), q] — or (n0,) for L = 0."""
        n0, r, lead = self.n0, self.max_order + 1, self.lead
        if lead == 0:
            return self.cost + self.w @ values[:, 0]
        future = self.w @ values  # [(y, u), (next pipeline)] with u = x_1 (L >= 2) or q (L = 1)
        if lead == 1:
            g = future.reshape(n0, r)[:, None, :]  # [y, (), q]
        else:
            # future is [y, x_1, (x_2, ..., x_{L-1}, q)]; the last axis of that tuple is q.
            g = future.reshape(n0, self.m, r)
        return g + self.cost[:, None, None]

    def q_values(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the best order value and its order, and the best removal value and its removal."""
        g = self.post_values(values)
        n0 = self.n0
        if self.lead == 0:
            # Order q: post-decision y = x_0 + q; removal r: y = x_0 - r (only from stock on the shelf).
            r = self.max_order + 1
            idx = np.minimum(np.arange(n0)[:, None] + np.arange(r)[None, :], n0 - 1)
            order_q = g[idx] + self.order_cost[:, 0, :]
            g0 = g[:, None]
        else:
            order_q = g + self.order_cost
            g0 = g[..., 0]  # post-removal states order nothing
        best_order = order_q.min(axis=-1).reshape(self.shape)
        arg_order = order_q.argmin(axis=-1).reshape(self.shape)
        best_remove = np.full(self.shape, np.inf)
        arg_remove = np.zeros(self.shape, dtype=np.int64)
        shelf = np.maximum(self.on_hand, 0)
        for amount in range(1, self.max_removal + 1):
            if amount > n0 - 1:
                break
            # The state with on-hand x_0 removes `amount` and continues as post-decision stock x_0 - amount.
            shifted = np.full(self.shape, np.inf)
            shifted[amount:] = g0[:-amount] + self.net_removal * amount
            shifted[shelf < amount] = np.inf
            better = shifted < best_remove
            best_remove = np.where(better, shifted, best_remove)
            arg_remove = np.where(better, amount, arg_remove)
        return best_order, arg_order, best_remove, arg_remove

    def __call__(self, values: np.ndarray) -> np.ndarray:
        best_order, _, best_remove, _ = self.q_values(values)
        return np.minimum(best_order, best_remove)

    def policy(self, values: np.ndarray) -> np.ndarray:
        """Return the signed optimal action of every state (ties go to ordering, then to less removal)."""
        best_order, arg_order, best_remove, arg_remove = self.q_values(values)
        return np.where(best_remove < best_order - 1e-9, -arg_remove, arg_order)
