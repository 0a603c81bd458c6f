"""Exact long-run average-cost optimum of the lost-sales scenario, by relative value iteration (Zipkin 2008).

The state is the kernel's own observation, Zipkin's (2008, Sec. 2) vector ``x = (x_0, x_1, ..., x_{L-1})``:
on-hand stock after this period's arrival, then the orders placed in t-L+1, ..., t-1 (oldest first). In a period
the agent orders q, demand D is met from on-hand stock only, the period costs
``h (x_0 - D)^+ + p (D - x_0)^+ + c q``, and the next state is ``((x_0 - D)^+ + x_1, x_2, ..., x_{L-1}, q)``
(with L = 1 it is ``((x_0 - D)^+ + q)``; with L = 0 the order is on hand at once). Demand follows the same
truncated pmf the kernel samples (``config.demand.pmf()``), so the solver and the env describe one chain.

**Lossless reduction (Morton 1971, as Zipkin 2008 uses it).** The optimal order never exceeds the myopic order,
which is at most ``z = F_1^{-1}(p / (p + h))`` (single-period demand quantile) and at most ``(S - position)^+``
with ``S = F_{L+1}^{-1}(p / (p + h))`` (demand over L + 1 periods). Orders are therefore searched in
``{0, ..., min(z, S - position)}``, and the states reachable under such orders — outstanding orders at most z,
position ``x_0 + ... + x_{L-1}`` at most S — are closed under the dynamics and hold every recurrent state of an
optimal policy. For Poisson(5), p = 39, L = 4 this gives 27,951 states (DynaPlex's lost-sales model, with the
same bounds, discovers the same 27,951); Zipkin's Table 1 reports 27,945 for that cell. The 6-state difference
is unexplained (his exact truncation is not stated in enough detail to reproduce); the optimal costs agree with
his Table 3 to the printed digits, and relaxing both bounds leaves the optimum unchanged (tested).

**Computation.** The expectation over demand touches only ``(x_0, x_1)``: ordering q leads to
``((x_0 - D)^+ + x_1, x_2, ..., x_{L-1}, q)``, whose pipeline does not depend on demand. For L >= 2 one Bellman
sweep is compiled (``invgym.core._exact_lost_sales``): for every next pipeline it runs over ``k = x_0 + x_1`` and
accumulates the demand sum term by term, so a sweep costs about half a multiply-add per (state, order, demand)
triple it could touch and holds three arrays over the state box (values, new values, orders). For L <= 1 the sweep
is a small numpy matrix product. Relative value iteration (Puterman 1994, Sec. 8.5.5) stops when the span of
``T V - V`` drops below ``tol``; the optimal average cost then lies in ``[min(T V - V), max(T V - V)]`` (Odoni's
bounds), whose midpoint is returned.

**Size.** ``max_states`` (default 10,000,000) is the only limit on the state count; the working memory is
estimated before solving (:func:`lost_sales_memory`, about 45 bytes per cell of the box
``[0, S] x [0, z]^(L-1)``), logged, recorded as ``info["memory_bytes"]`` and refused above ``max_memory_gb``
(default 2 GiB). L = 6, p = 39 (3,704,180 states) needs about 0.35 GiB.

References:
    P. Zipkin (2008), "Old and new methods for lost-sales inventory systems", Operations Research 56(5).
    T. Morton (1971), "The near-myopic nature of the lagged-proportional-cost inventory problem with lost
    sales", Operations Research 19(7).
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
from invgym.core._exact_lost_sales import lost_sales_sweep, shift_valid
from invgym.validation import check_int, check_real

__all__ = ["LostSalesTablePolicy", "lost_sales_bounds", "lost_sales_memory", "lost_sales_state_count",
           "solve_lost_sales"]

DEFAULT_MAX_STATES = 10_000_000
DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITERATIONS = 100_000
# Bytes per cell of the state box at the compiled solver's peak: values, new values (float64), orders and the
# policy table (int32), the position and mask used once at the end, and info["values"] (float64).
BYTES_PER_CELL = 45
OWNER = "solve_exact"


# === Bounds and state count ===

def _quantile(pmf: np.ndarray, level: float, periods: int) -> int:
    """Smallest d with P(D_1 + ... + D_periods <= d) >= level for iid demands with this pmf."""
    total = np.array([1.0])
    for _ in range(periods):
        total = np.convolve(total, pmf)
    return int(np.searchsorted(np.cumsum(total), level - 1e-12))


def _ratio(config: Any) -> float:
    """Critical fractile p / (p + h); with p = 0 nothing is gained by ordering, so the bounds collapse to 0."""
    p, h = config.lost_sales_cost, config.holding_cost
    return p / (p + h) if p > 0 else 0.0


def lost_sales_bounds(config: Any) -> tuple[int, int]:
    """Return Morton's bounds ``(z, S)``: the largest optimal order and the largest inventory position.

    ``z`` is the p/(p+h) quantile of one period's demand (the myopic order at x = 0), capped by the env's
    ``max_order``; ``S`` is the p/(p+h) quantile of demand over L + 1 periods (Morton 1971). With a purchase
    cost c > 0 the true bounds use (p - c)/(p - c + h) and are smaller, so these remain valid.
    """
    pmf, ratio = config.demand.pmf(), _ratio(config)
    order = min(_quantile(pmf, ratio, 1), int(np.floor(config.max_order)))
    position = _quantile(pmf, ratio, config.lead_time + 1)
    return order, position


def lost_sales_state_count(lead_time: int, order_bound: int, position_bound: int) -> int:
    """Number of states ``x`` with ``x_1, ..., x_{L-1}`` in ``[0, order_bound]`` and ``sum(x) <= position_bound``."""
    # ways[s] = number of pipelines (x_1, ..., x_{L-1}) summing to s; each leaves S - s + 1 choices of x_0.
    # Floats keep huge counts from overflowing; they are exact below 2^53, far above any solvable size.
    ways = np.ones(1)
    for _ in range(max(lead_time - 1, 0)):
        ways = np.convolve(ways, np.ones(order_bound + 1))[: position_bound + 1]
    sums = np.arange(len(ways))
    return int(round(float(np.dot(ways, position_bound - sums + 1))))


# === Policy ===

class LostSalesTablePolicy(FittedPolicy):
    """The optimal lost-sales policy as a lookup table over Zipkin's state (on-hand, pipeline oldest first).

    Observations are rounded to the nearest integers (columns beyond the state, such as sales history, are
    ignored). States outside the table are handled as follows: when the inventory position is at least the
    position bound S the order is 0, which is optimal by Morton's bound; a state with position below S but an
    outstanding order above the order bound z (reachable only after orders no optimal policy places) raises
    ValueError, since the table holds no optimal decision for it.
    """

    family = "lost_sales"

    def __init__(self, table: np.ndarray, lead_time: int, order_bound: int, position_bound: int,
                 discrete: bool = True) -> None:
        super().__init__(lead_time=lead_time, order_bound=order_bound, position_bound=position_bound,
                         states=int(np.count_nonzero(table >= 0)))
        self.table = table
        self.lead_time = lead_time
        self.width = max(lead_time, 1)
        self.order_bound = order_bound
        self.position_bound = position_bound
        self.discrete = discrete

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the optimal orders for a batch of observations (int64 for a discrete env, else float64)."""
        if obs.shape[1] < self.width:
            raise ValueError(f"observations must have at least {self.width} columns (on-hand and pipeline). "
                             f"Got shape {obs.shape} instead.")
        x = np.rint(obs[:, : self.width]).astype(np.int64)
        position = x.sum(axis=1)
        orders = np.zeros(len(x), dtype=np.int64)
        below = position < self.position_bound  # at or above S the optimal order is 0 (Morton's bound)
        if below.any():
            inside = x[below]
            outside = (inside < 0).any(axis=1) | (inside[:, 1:] > self.order_bound).any(axis=1)
            if outside.any():
                row = inside[outside][0]
                raise ValueError(
                    f"state {row.tolist()} is outside the solved table: its position is below the bound "
                    f"S={self.position_bound} and an outstanding order exceeds the order bound "
                    f"z={self.order_bound}, which no optimal policy reaches."
                )
            orders[below] = self.table[tuple(inside.T)]
        return orders if self.discrete else orders.astype(np.float64)

    def rollout_spec(self) -> tuple[str, dict[str, Any]]:
        """The table for ``BatchKernel.rollout_table``: NaN where no state is solved, 0 from the bound S up.

        Built once per ``self.table`` (arrays read-only) with its int16 form, so that every ``evaluate`` call
        after the first skips rebuilding them; assigning a new ``table`` rebuilds them.
        """
        cached = getattr(self, "_spec", None)
        if cached is None or cached[0] is not self.table:
            from invgym.core._rollout_table import compact_table

            table = np.where(self.table >= 0, self.table, np.nan)[..., None]
            offsets = np.zeros(self.width, dtype=np.int64)
            compact = compact_table(table)
            for array in (table, offsets, compact):
                if isinstance(array, np.ndarray):
                    array.flags.writeable = False
            cached = (self.table, {"table": table, "offsets": offsets,
                                   "position_bound": float(self.position_bound), "compact": compact})
            self._spec = cached
        return "table", dict(cached[1])

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the cached rollout spec (rebuilt on first use)."""
        state = dict(self.__dict__)
        state.pop("_spec", None)
        return state


# === Solver ===

def _demand_tables(pmf: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``PY[x, y] = P((x - D)^+ = y)`` and the expected shortage+holding drivers for x in [0, n)."""
    k = len(pmf)
    tail = np.concatenate([np.cumsum(pmf[::-1])[::-1], np.zeros(max(n - k, 0) + 1)])  # tail[j] = P(D >= j)
    x = np.arange(n)[:, None]
    y = np.arange(n)[None, :]
    d = x - y
    py = np.where((y >= 1) & (d >= 0) & (d < k), pmf[np.clip(d, 0, k - 1)], 0.0)
    py[:, 0] = tail[:n]
    # E(x - D)^+ = sum_{j < x} P(D <= j): each unit below x is left over when demand does not reach it.
    cdf = np.concatenate([np.cumsum(pmf), np.ones(max(n - k, 0))])[:n]
    leftover = np.concatenate([[0.0], np.cumsum(cdf)[:-1]])
    return py, leftover


def lost_sales_memory(lead_time: int, order_bound: int, position_bound: int) -> int:
    """Estimated peak working memory (bytes) of solving a lost-sales instance with these bounds."""
    n0, r = position_bound + 1, order_bound + 1
    if lead_time >= 2:
        return BYTES_PER_CELL * n0 * r ** (lead_time - 1) + 16 * r ** (lead_time - 1)
    # L <= 1: the numpy sweep's demand matrix W (n0 r x n0) and a few arrays over (state, order).
    return 8 * (n0 * r * n0 + 6 * n0 * r + 8 * n0)


def _check_size(lead_time: int, order_bound: int, position_bound: int, max_states: int,
                max_memory_gb: float) -> tuple[int, int]:
    count = lost_sales_state_count(lead_time, order_bound, position_bound)
    what = (f"the lost-sales instance has {count:,} states after Morton's reduction (order bound z={order_bound}, "
            f"position bound S={position_bound}, L={lead_time})")
    if count > max_states:
        raise ValueError(
            f"{what}, more than max_states={max_states:,}. Raise max_states if memory and "
            f"time allow (it would need about {lost_sales_memory(lead_time, order_bound, position_bound) / 2**30:,.2f}"
            " GiB of working memory)."
        )
    memory = check_memory(lost_sales_memory(lead_time, order_bound, position_bound), max_memory_gb, what)
    return count, memory


def solve_lost_sales(
    config: Any,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
    tol: float = DEFAULT_TOL,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    order_bound: int | None = None,
    position_bound: int | None = None,
) -> ExactSolution:
    """Solve a lost-sales config for its optimal long-run average cost per period and an optimal policy.

    The horizon, initial state and sales history of the config do not enter the long-run average. With
    ``action_type="continuous"`` the problem is solved on the integer lattice (integer orders from integer
    states), which is optimal among integer-order policies. When ``max_order`` is below Morton's order bound
    the position bound is no longer guaranteed lossless; the solver then enlarges it until no state's optimal
    order is limited by it (a check, not a proof).

    Args:
        config: a validated ``LostSalesConfig`` with a single demand model (not a ``ProductMixture``).
        max_states: refuse (ValueError naming the count) instances with more reduced states than this.
        max_memory_gb: refuse (ValueError naming the estimate) instances whose working memory, estimated before
            solving, exceeds this many GiB.
        tol: stop when the span of ``T V - V`` is below ``tol`` (cost units); the returned average cost is
            then within ``tol / 2`` of the optimum.
        max_iterations: raise RuntimeError if not converged after this many sweeps (e.g. a multichain model).
        order_bound: override Morton's order bound z (a larger value checks that the reduction is lossless).
        position_bound: override Morton's position bound S (likewise).

    Returns:
        ExactSolution with ``average_cost``, a :class:`LostSalesTablePolicy`, ``num_states``, ``iterations``,
        the final ``span`` and ``info`` holding ``order_bound``, ``position_bound``, ``bounds`` (Odoni's bracket
        on the average cost), ``values`` (relative values over the table, NaN outside), ``lattice`` and
        ``memory_bytes`` (the working-memory estimate made before solving).
    """
    max_states = check_int(max_states, "max_states", OWNER, 1, None)
    max_memory_gb = check_max_memory(max_memory_gb, OWNER)
    tol = check_real(tol, "tol", OWNER, 0.0, None, closed="neither")
    max_iterations = check_int(max_iterations, "max_iterations", OWNER, 1, None)
    if len(config.demand.products()) > 1:
        raise ValueError(
            f"solve_exact needs stationary demand from one product; the ProductMixture of "
            f"{len(config.demand.products())} products draws a product per episode, so no single optimal "
            "average cost exists. Solve each of its products separately."
        )
    z, s = lost_sales_bounds(config)
    # max_order below Morton's order bound: the position bound S is then not guaranteed lossless.
    capped = z < _quantile(config.demand.pmf(), _ratio(config), 1)
    if order_bound is not None:
        z = check_int(order_bound, "order_bound", OWNER, 0, int(np.floor(config.max_order)))
    if position_bound is not None:
        s = check_int(position_bound, "position_bound", OWNER, 0, None)
    while True:
        solution = _solve(config, z, s, max_states, max_memory_gb, tol, max_iterations)
        if not (capped and position_bound is None and solution.info.pop("position_binds")):
            solution.info.pop("position_binds", None)
            return solution
        s += max(z, 1)  # the capped problem may want more stock than Morton's S: enlarge and solve again


def _solve(config: Any, z: int, s: int, max_states: int, max_memory_gb: float, tol: float,
           max_iterations: int) -> ExactSolution:
    lead_time = config.lead_time
    num_states, memory = _check_size(lead_time, z, s, max_states, max_memory_gb)
    h, p, c = config.holding_cost, config.lost_sales_cost, config.purchase_cost
    pmf = config.demand.pmf()
    mean = float(np.dot(np.arange(len(pmf)), pmf))
    py, leftover = _demand_tables(pmf, s + 1)
    # Expected period cost of on-hand stock x (Zipkin 2008, Sec. 2): h E(x - D)^+ + p E(D - x)^+,
    # with E(D - x)^+ = E D - x + E(x - D)^+.
    cost = h * leftover + p * (mean - np.arange(s + 1) + leftover)
    if lead_time >= 2:
        sweep = _CompiledSweep(pmf, cost, c, z, s, lead_time)
    elif lead_time == 1:
        sweep = _Sweep(py, cost, c, z, s)
    else:
        sweep = _ZeroLeadSweep(py, cost, c, z, s)
    values, lo, hi, span, iteration = sweep.iterate(tol, max_iterations)
    if span >= tol:
        raise RuntimeError(
            f"relative value iteration did not converge in {max_iterations} sweeps (span {span:.3g} > tol "
            f"{tol:g}); the model may be multichain (e.g. demand that is always zero)."
        )
    orders = sweep.policy(values)
    position = sweep.position
    valid = position <= s
    orders = np.where(valid, orders, -1).astype(np.int32)
    room = s - position  # orders limited by the position bound rather than by z
    binds = bool(np.any(valid & (room < z) & (orders == room) & (orders > 0)))
    del position, room
    table = np.ascontiguousarray(sweep.to_state_order(orders))
    del orders
    policy = LostSalesTablePolicy(table, lead_time, z, s, discrete=config.action_type == "discrete")
    np.copyto(values, np.nan, where=~valid)
    info = {
        "order_bound": z,
        "position_bound": s,
        "bounds": (lo, hi),
        "values": sweep.to_state_order(values),
        "lattice": config.action_type == "continuous",
        "position_binds": binds,
        "memory_bytes": memory,
    }
    return ExactSolution(average_cost=(lo + hi) / 2, policy=policy, num_states=num_states, iterations=iteration,
                         span=span, info=info)


class _NumpySweep:
    """Relative value iteration over a numpy sweep ``self(values) -> T V`` on a padded box."""

    def iterate(self, tol: float, max_iterations: int) -> tuple[np.ndarray, float, float, float, int]:
        valid = self.position <= self.s
        values = np.zeros(valid.shape)
        span, lo, hi = np.inf, -np.inf, np.inf
        iteration = 0
        while iteration < max_iterations:
            iteration += 1
            new = self(values)
            new[~valid] = 0.0  # padding cells of the box hold 0 so that the matrix product stays finite
            diff = (new - values)[valid]
            lo, hi = float(diff.min()), float(diff.max())
            span = hi - lo
            # Relative value iteration: subtract the value of the empty state to keep the values bounded.
            values = new - new.flat[0]
            if span < tol:
                break
        return values, lo, hi, span, iteration


class _CompiledSweep:
    """Relative value iteration for L >= 2 with the compiled sweep, on the layout [pipeline, x_0].

    The pipeline ``(x_1, ..., x_{L-1})`` is indexed in C order over ``[0, z]^(L-1)`` and the on-hand stock is the
    fastest axis, so the values of one next pipeline are contiguous (see ``lost_sales_sweep``).
    """

    def __init__(self, pmf: np.ndarray, cost: np.ndarray, c: float, z: int, s: int, lead_time: int) -> None:
        n0, r = s + 1, z + 1
        self.lead_time, self.n0, self.r, self.s, self.z, self.c = lead_time, n0, r, s, z, float(c)
        self.pmf = np.zeros(max(n0, len(pmf)))
        self.pmf[: len(pmf)] = pmf
        self.tail = np.ascontiguousarray(np.cumsum(self.pmf[::-1])[::-1][:n0])  # P(D >= j)
        self.cost = np.ascontiguousarray(cost, dtype=np.float64)
        pipeline = np.zeros(1, dtype=np.int64)  # x_1 + ... + x_{L-1}, x_1 slowest
        for _ in range(lead_time - 1):
            pipeline = (pipeline[:, None] + np.arange(r)[None, :]).ravel()
        self.pipeline = pipeline

    @property
    def position(self) -> np.ndarray:
        return self.pipeline[:, None] + np.arange(self.n0)[None, :]

    def _sweep(self, values: np.ndarray, out: np.ndarray, orders: np.ndarray) -> tuple[float, float]:
        return lost_sales_sweep(values, out, orders, self.pmf, self.tail, self.cost, self.pipeline, self.c,
                                self.z, self.s, self.lead_time)

    def iterate(self, tol: float, max_iterations: int) -> tuple[np.ndarray, float, float, float, int]:
        cells = len(self.pipeline) * self.n0
        values, out, none = np.zeros(cells), np.empty(cells), np.empty(0, dtype=np.int32)
        span, lo, hi = np.inf, -np.inf, np.inf
        iteration = 0
        while iteration < max_iterations:
            iteration += 1
            lo, hi = self._sweep(values, out, none)
            span = hi - lo
            values, out = out, values
            # Relative value iteration: subtract the value of the empty state to keep the values bounded.
            shift_valid(values, self.pipeline, self.s, values[0])
            if span < tol:
                break
        self._spare = out
        return values.reshape(len(self.pipeline), self.n0), lo, hi, span, iteration

    def policy(self, values: np.ndarray) -> np.ndarray:
        orders = np.full(values.size, -1, dtype=np.int32)
        self._sweep(values.reshape(-1), self._spare, orders)
        del self._spare
        return orders.reshape(values.shape)

    def to_state_order(self, array: np.ndarray) -> np.ndarray:
        """Reshape a [pipeline, x_0] array to the state's own order [x_0, x_1, ..., x_{L-1}]."""
        box = array.reshape((self.r,) * (self.lead_time - 1) + (self.n0,))
        return box.transpose((self.lead_time - 1,) + tuple(range(self.lead_time - 1)))


class _Sweep(_NumpySweep):
    """One Bellman sweep for L = 1, as a matrix product and a masked minimum.

    The state is the on-hand stock x_0; ordering q leads to ``(x_0 - D)^+ + q``. Hence, for all states and
    orders at once, ``E V(next) = W @ V`` with ``W[(x_0, q), v] = P((x_0 - D)^+ + q = v)``.
    """

    def __init__(self, py: np.ndarray, cost: np.ndarray, c: float, z: int, s: int) -> None:
        n0, r = s + 1, z + 1
        self.n0, self.r, self.s = n0, r, s
        self.cost = cost[:, None]
        w = np.zeros((n0, r, n0))
        for q in range(r):
            w[:, q, q:] = py[:, : n0 - q]
        self.w = w.reshape(n0 * r, n0)
        self.position = np.arange(n0)[:, None]
        # An order past the position bound is not allowed (infinite cost); ordering costs c per unit.
        orders = np.arange(r)[None, :]
        self.penalty = np.where(self.position + orders <= s, c * orders, np.inf)

    def q_values(self, values: np.ndarray) -> np.ndarray:
        return (self.w @ values.reshape(self.n0)).reshape(self.n0, self.r) + self.penalty

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return self.cost + self.q_values(values).min(axis=1)[:, None]

    def policy(self, values: np.ndarray) -> np.ndarray:
        return self.q_values(values).argmin(axis=1)[:, None]

    def to_state_order(self, array: np.ndarray) -> np.ndarray:
        return array.reshape(self.n0)


class _ZeroLeadSweep(_NumpySweep):
    """One Bellman sweep for L = 0: the order is on hand at once, so the period starts at y = x_0 + q."""

    def __init__(self, py: np.ndarray, cost: np.ndarray, c: float, z: int, s: int) -> None:
        n0, r = s + 1, z + 1
        self.py, self.cost, self.n0, self.s = py, cost, n0, s
        self.position = np.arange(n0)[:, None]
        after = self.position + np.arange(r)[None, :]
        self.penalty = np.where(after <= s, c * np.arange(r)[None, :], np.inf)
        self.after = np.minimum(after, s)

    def q_values(self, values: np.ndarray) -> np.ndarray:
        # Period cost and expected future value from the post-order stock y, then y = x_0 + q.
        return (self.cost + self.py @ values.ravel())[self.after] + self.penalty

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return self.q_values(values).min(axis=1)[:, None]

    def policy(self, values: np.ndarray) -> np.ndarray:
        return self.q_values(values).argmin(axis=1)[:, None]

    def to_state_order(self, array: np.ndarray) -> np.ndarray:
        return array.reshape(self.n0)
