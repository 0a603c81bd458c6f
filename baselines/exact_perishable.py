"""Exact solutions of the perishable scenario: average-cost and discounted value iteration on the full state.

The state is the kernel's own observation, the m - 1 + L vector of Nahmias (1982) and Fries (1975): entry k is
what is left of the order placed m - 1 + L - k periods ago, oldest first (on-hand units by remaining life, then
the pipeline). Every entry is the remainder of one order, so with integer orders in ``{0, ..., Q}`` (Q =
``max_order``) the state space is the box ``{0, ..., Q}^(m-1+L)`` — 121 states for De Moor et al.'s m = 2,
L = 1, Q = 10 — and it is closed under the dynamics. Demand follows the same truncated pmf the kernel samples
(``config.demand.pmf()``), so the solver and the env describe one chain.

**Transitions.** For each order q and demand d the next state is the kernel's shift of ``[x, q]`` after issuing;
it depends on d only up to the largest possible on-hand stock m Q, so demand is lumped at that level for the
next state, while the expected lost sales ``E(D - I)^+`` use the full pmf. Write ``[x, q] = (o, u)``: its first m
entries ``o`` are on hand, the last L entries ``u`` are the pipeline (with L = 0 the order itself is on hand). Demand
touches only ``o``: the next state is ``(a, u)``, where ``a`` is what is left of ``o[1:]`` after issuing. So one
sparse matrix ``P[o, a] = P(a | o)`` over the ``(Q + 1)^m`` on-hand vectors holds every transition, and because
``[x, q]`` indexed in C order is ``o`` then ``u``, ``E V(next)`` for every state and order at once is the product
``P @ V.reshape(A, B)`` (``A = (Q + 1)^(m-1)``, ``B = (Q + 1)^L``) read as ``(N, Q + 1)``. A sweep costs about
``nnz(P) (Q + 1)^L`` multiply-adds and the working memory is a few arrays over (state, order) pairs (estimated
before solving, recorded as ``info["memory_bytes"]`` and refused above ``max_memory_gb``, default 2 GiB).
Transitions are built here with numpy from the Period Timeline (not by calling the kernel), so the tests compare
two independent codes.

**Average cost.** Relative value iteration (Puterman 1994, Sec. 8.5.5) with the aperiodicity transformation
``V <- V + tau (T V - V)`` (tau = 0.9; Puterman 1994, Sec. 8.5.4); it stops when the span of ``T V - V`` is below
``tol``, and the optimal average cost lies in ``[min(T V - V), max(T V - V)]`` (Odoni's bounds).

**Discounted cost.** Value iteration with MacQueen's bounds: it stops when ``gamma / (1 - gamma)`` times the span
of ``T V - V`` is below ``tol``, and then every state's value is within ``tol / 2`` of the optimum. De Moor,
Gijsbrechts & Boute (2022) derive their optimal policies this way with gamma = 0.99.

**De Moor et al.'s protocol.** :func:`protocol_value` computes exactly what their simulation estimates: start
empty, run 100 periods, then sum 365 periods' rewards discounted by 0.99 (the first counted period undiscounted),
by propagating the state distribution through the warm-up and a 365-step backward recursion.

References:
    B. J. De Moor, J. Gijsbrechts & R. N. Boute (2022), "Reward shaping to improve the performance of deep
    reinforcement learning in perishable inventory management", EJOR 301(2), 535-545.
    S. Nahmias (1982), "Perishable inventory theory: a review", Operations Research 30(4), 680-708.
    M. Puterman (1994), "Markov Decision Processes", Wiley, Sec. 6.3 and 8.5.
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

__all__ = [
    "PerishableModel",
    "PerishableTablePolicy",
    "base_stock_orders",
    "perishable_memory",
    "policy_average_cost",
    "protocol_value",
    "solve_perishable",
    "solve_perishable_discounted",
]

DEFAULT_MAX_STATES = 2_000_000
DEFAULT_TOL = 1e-6
DEFAULT_MAX_ITERATIONS = 200_000
TAU = 0.9  # aperiodicity transformation of relative value iteration
OWNER = "solve_exact"


# === Model ===

def perishable_memory(config: Any) -> int:
    """Estimated peak working memory (bytes) of :class:`PerishableModel` and a solve of ``config``."""
    m, lead = config.shelf_life, config.lead_time
    r = int(np.floor(config.max_order)) + 1
    rows = r ** (m + lead)  # (state, order) pairs
    # Building P: a few (on-hand vectors x m) arrays per demand level and the triplets of all of them.
    build = 8 * r**m * (m * m * r + 3 * (m * r + 1))
    # Solving: row costs, P @ V, their sum and its minimum over (state, order); values and differences.
    return 8 * 4 * rows + 8 * 6 * r ** (m + lead - 1) + build


class PerishableModel:
    """The perishable MDP of a config on the integer lattice: states, expected costs and transitions.

    Attributes:
        shape: the state box ``(Q + 1,) * (m - 1 + L)``; ``states`` (N, W) lists it in C order.
        costs: (Q + 1, N) expected period cost of ordering q in each state (a view of ``row_costs``).
        row_costs: (N, Q + 1) the same costs, one row per state.
        issue: sparse (R^m, R^(m-1)) matrix ``P(a | o)``: on-hand vector ``o`` to what is left of its fresher
            buckets after issuing and outdating (``R = Q + 1``).
        pmf: (K,) demand probabilities lumped at K - 1 = m Q (the largest possible on-hand stock).
        memory_bytes: the working-memory estimate made before building (:func:`perishable_memory`).
    """

    def __init__(self, config: Any, max_states: int = DEFAULT_MAX_STATES,
                 max_memory_gb: float = DEFAULT_MAX_MEMORY_GB) -> None:
        from scipy.sparse import csr_matrix

        if isinstance(config.demand, ProductMixture):
            raise ValueError(
                "solve_exact needs stationary demand from one product; a ProductMixture draws a product per "
                "episode, so no single optimal policy exists. Solve each of its products separately."
            )
        m, lead = config.shelf_life, config.lead_time
        q_max = int(np.floor(config.max_order))
        width = m + lead - 1
        r = q_max + 1
        self.config = config
        self.width, self.max_order = width, q_max
        self.shape = (r,) * width
        count = r**width
        top = m * q_max  # the most that can be on hand at once
        what = (f"the perishable instance has {count:,} states ((max_order + 1)^(m - 1 + L) with max_order="
                f"{q_max}, m={m}, L={lead})")
        if count > max_states:
            raise ValueError(
                f"{what}, more than max_states={max_states:,}. Raise max_states if memory and time allow (it would "
                f"need about {perishable_memory(config) / 2**30:,.2f} GiB of working memory)."
            )
        self.memory_bytes = check_memory(perishable_memory(config), max_memory_gb, what)
        self.num_states = count
        self.states = (np.indices(self.shape).reshape(width, -1).T if width else np.zeros((1, 0), np.int64))
        self.start = self.index(np.asarray(config.initial_state, dtype=np.float64)[None, :])[0]
        full = config.demand.pmf()
        pmf = np.zeros(top + 1)
        pmf[: min(len(full), top + 1)] = full[: top + 1]
        pmf[top] += full[top + 1 :].sum()
        self.pmf = pmf
        mean = float(np.dot(np.arange(len(full)), full))
        # E min(D, I) = sum_{j < I} P(D > j): the expected sales from I units on hand.
        survival = 1.0 - np.cumsum(full)
        survival = np.concatenate([survival, np.zeros(max(top + 1 - len(full), 0))])
        expected_sales = np.concatenate([[0.0], np.cumsum(survival[:top])])
        # 3. ORDER: the row [x, q] = (o, u); o, its first m entries, is on hand (every on-hand vector at once).
        on_hand = np.indices((r,) * m).reshape(m, -1).T.astype(np.float64)
        vectors = len(on_hand)
        total = on_hand.sum(axis=1).astype(np.int64)
        # 5. ISSUING in the rule's order: bucket k gives what demand still needs after the buckets before it.
        order = np.arange(m) if config.issuing == "fifo" else np.arange(m)[::-1]
        before = np.concatenate([np.zeros((vectors, 1)), np.cumsum(on_hand[:, order], axis=1)[:, :-1]], axis=1)
        outdated = np.zeros(vectors)
        carried = np.zeros(vectors)
        fresher = (r,) * (m - 1)
        cols = np.empty((len(pmf), vectors), dtype=np.int64)
        for d, prob in enumerate(pmf):
            left = np.empty_like(on_hand)
            left[:, order] = on_hand[:, order] - np.clip(d - before, 0.0, on_hand[:, order])
            # 6. OUTDATING of the oldest bucket; 8. AGEING: the fresher buckets move up one place.
            outdated += prob * left[:, 0]
            carried += prob * left[:, 1:].sum(axis=1)
            rest = np.rint(left[:, 1:]).astype(np.int64)
            cols[d] = np.ravel_multi_index(tuple(rest.T), fresher) if m > 1 else 0
        rows = np.broadcast_to(np.arange(vectors), cols.shape)
        data = np.broadcast_to(pmf[:, None], cols.shape)
        keep = data != 0.0
        # Duplicate (o, a) pairs (demand levels leaving the same stock) are summed by the conversion.
        self.issue = csr_matrix((data[keep], (rows[keep], cols[keep])), shape=(vectors, r ** (m - 1)))
        self.pipelines = r**lead
        # 7. COSTS: c q + p E(D - I)^+ + w E[outdated] + h E[carried], with E(D - I)^+ = E D - E min(D, I).
        on_hand_cost = (config.lost_sales_cost * (mean - expected_sales[total]) + config.outdating_cost * outdated
                        + config.holding_cost * carried)
        row_costs = np.repeat(on_hand_cost, self.pipelines).reshape(count, r)
        row_costs += config.purchase_cost * np.arange(r)[None, :]
        self.row_costs = row_costs
        self.costs = row_costs.T

    def index(self, states: np.ndarray) -> np.ndarray:
        """Return the index of each state row (rounded to integers) in the box."""
        states = np.rint(states).astype(np.int64)
        if self.width == 0:
            return np.zeros(len(states), dtype=np.int64)
        return np.ravel_multi_index(tuple(states.T), self.shape)

    def expect_rows(self, values: np.ndarray) -> np.ndarray:
        """Return ``E[V(next state)]`` for every state and order, shape (N, Q + 1)."""
        return (self.issue @ values.reshape(-1, self.pipelines)).reshape(self.num_states, self.max_order + 1)

    def expect(self, values: np.ndarray) -> np.ndarray:
        """Return ``E[V(next state)]`` for every order and state, shape (Q + 1, N)."""
        return self.expect_rows(values).T

    def chain(self, orders: np.ndarray) -> tuple[Any, np.ndarray]:
        """Return the sparse transition matrix and expected cost vector of the stationary policy ``orders``."""
        from scipy.sparse import csr_matrix

        states = np.arange(self.num_states)
        pair = states * (self.max_order + 1) + orders  # the row [x, q] = (o, u) in C order
        vector, pipeline = pair // self.pipelines, pair % self.pipelines
        start, stop = self.issue.indptr[vector], self.issue.indptr[vector + 1]
        counts = stop - start
        rows = np.repeat(states, counts)
        entry = np.repeat(start - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        cols = self.issue.indices[entry] * self.pipelines + pipeline[rows]
        matrix = csr_matrix((self.issue.data[entry], (rows, cols)), shape=(self.num_states, self.num_states))
        return matrix, self.row_costs[states, orders]


# === Policy ===

class PerishableTablePolicy(FittedPolicy):
    """An exact perishable policy as a lookup table over the state box (units by age, then the pipeline).

    Observations are rounded to the nearest integers; each entry is what is left of one order, so it lies in
    ``[0, max_order]`` in any env with this ``max_order``.
    """

    family = "perishable"

    def __init__(self, table: np.ndarray, width: int, max_order: int, discrete: bool = True) -> None:
        super().__init__(width=width, max_order=max_order, states=int(table.size))
        self.table = table
        self.width = width
        self.max_order = max_order
        self.discrete = discrete

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Return the table's orders for a batch of observations (int64 for a discrete env, else float64)."""
        if obs.shape[1] < max(self.width, 1):
            raise ValueError(f"observations must have {max(self.width, 1)} columns. Got shape {obs.shape}.")
        x = np.rint(obs[:, : self.width]).astype(np.int64)
        if ((x < 0) | (x > self.max_order)).any():
            raise ValueError(f"an observation lies outside the solved box [0, {self.max_order}]^{self.width}.")
        orders = self.table[tuple(x.T)] if self.width else np.full(len(obs), int(self.table))
        return orders.astype(np.int64) if self.discrete else orders.astype(np.float64)

    def rollout_spec(self) -> tuple[str, dict[str, Any]]:
        """The table for ``BatchKernel.rollout_table`` (a constant order when the state is empty)."""
        return "table", {"table": np.asarray(self.table, dtype=np.float64)[..., None],
                         "offsets": np.zeros(self.width, dtype=np.int64)}


def _table_policy(model: PerishableModel, orders: np.ndarray) -> PerishableTablePolicy:
    return PerishableTablePolicy(orders.reshape(model.shape).astype(np.int64), model.width, model.max_order,
                                 discrete=model.config.action_type == "discrete")


# === Solvers ===

def _settings(tol: Any, max_iterations: Any, max_states: Any,
              max_memory_gb: Any) -> tuple[float, int, int, float]:
    return (check_real(tol, "tol", OWNER, 0.0, None, closed="neither"),
            check_int(max_iterations, "max_iterations", OWNER, 1, None),
            check_int(max_states, "max_states", OWNER, 1, None),
            check_max_memory(max_memory_gb, OWNER))


def solve_perishable(config: Any, *, tol: float = DEFAULT_TOL, max_iterations: int = DEFAULT_MAX_ITERATIONS,
                     max_states: int = DEFAULT_MAX_STATES,
                     max_memory_gb: float = DEFAULT_MAX_MEMORY_GB) -> ExactSolution:
    """Solve a perishable config for its optimal long-run average cost per period and an optimal policy.

    With ``action_type="continuous"`` the problem is solved on the integer lattice (integer orders from integer
    states), optimal among integer-order policies. The horizon and initial state do not enter the average.

    Args:
        config: a validated ``PerishableConfig`` with a single demand model (not a ``ProductMixture``).
        tol: stop when the span of ``T V - V`` is below ``tol`` (cost units); the returned average cost is then
            within ``tol / 2`` of the optimum.
        max_iterations: raise RuntimeError if not converged after this many sweeps (e.g. a multichain model).
        max_states: refuse (ValueError naming the count) instances with more states than this.
        max_memory_gb: refuse (ValueError naming the estimate) instances whose working memory, estimated before
            solving, exceeds this many GiB.

    Returns:
        ExactSolution with ``average_cost``, a :class:`PerishableTablePolicy`, ``num_states``, ``iterations``,
        the final ``span`` and ``info`` holding ``bounds`` (Odoni's bracket), ``values`` (relative values over
        the state box), ``lattice`` and ``memory_bytes`` (the estimate made before solving).
    """
    tol, max_iterations, max_states, max_memory_gb = _settings(tol, max_iterations, max_states, max_memory_gb)
    model = PerishableModel(config, max_states, max_memory_gb)
    values = np.zeros(model.num_states)
    iteration = 0
    while True:
        iteration += 1
        diff = (model.row_costs + model.expect_rows(values)).min(axis=1) - values
        lo, hi = float(diff.min()), float(diff.max())
        span = hi - lo
        if span < tol:
            break
        if iteration >= max_iterations:
            raise RuntimeError(f"relative value iteration did not converge in {max_iterations} sweeps (span "
                               f"{span:.3g} > tol {tol:g}); the model may be multichain.")
        values = values + TAU * diff
        values -= values[0]  # relative values: pin the empty state at 0 to keep them bounded
    orders = (model.row_costs + model.expect_rows(values)).argmin(axis=1)
    info = {"bounds": (lo, hi), "values": values.reshape(model.shape),
            "lattice": config.action_type == "continuous", "memory_bytes": model.memory_bytes}
    return ExactSolution(average_cost=(lo + hi) / 2, policy=_table_policy(model, orders),
                         num_states=model.num_states, iterations=iteration, span=span, info=info)


def solve_perishable_discounted(config: Any, discount: float = 0.99, *, tol: float = DEFAULT_TOL,
                                max_iterations: int = DEFAULT_MAX_ITERATIONS,
                                max_states: int = DEFAULT_MAX_STATES,
                                max_memory_gb: float = DEFAULT_MAX_MEMORY_GB) -> ExactSolution:
    """Solve a perishable config for the policy minimising expected discounted cost (De Moor et al. 2022).

    Args:
        config: a validated ``PerishableConfig`` with a single demand model.
        discount: the discount factor gamma in (0, 1); De Moor et al. use 0.99.
        tol: stop when MacQueen's bounds put every value within ``tol / 2`` of the optimum.
        max_iterations: raise RuntimeError if not converged after this many sweeps.
        max_states: refuse instances with more states than this.
        max_memory_gb: refuse instances whose estimated working memory exceeds this many GiB.

    Returns:
        ExactSolution whose ``policy`` is the discounted-optimal table policy and whose ``average_cost`` is that
        policy's exact long-run average cost (from the empty state); ``info`` holds ``discount``, ``values``
        (optimal discounted costs over the state box), ``lattice`` and ``memory_bytes``.
    """
    discount = check_real(discount, "discount", OWNER, 0.0, 1.0, closed="neither")
    tol, max_iterations, max_states, max_memory_gb = _settings(tol, max_iterations, max_states, max_memory_gb)
    model = PerishableModel(config, max_states, max_memory_gb)
    values = np.zeros(model.num_states)
    factor = discount / (1.0 - discount)
    span, lo, hi, iteration = np.inf, 0.0, 0.0, 0
    while factor * span >= tol:
        if iteration == max_iterations:
            raise RuntimeError(f"value iteration did not converge in {max_iterations} sweeps (span {span:.3g}).")
        iteration += 1
        new = (model.row_costs + discount * model.expect_rows(values)).min(axis=1)
        diff = new - values
        lo, hi = float(diff.min()), float(diff.max())
        span = hi - lo
        values = new
    # MacQueen (1966): V* lies in [V_n+1 + factor lo, V_n+1 + factor hi]; take the midpoint.
    values = values + factor * (lo + hi) / 2
    orders = (model.row_costs + discount * model.expect_rows(values)).argmin(axis=1)
    info = {"discount": discount, "values": values.reshape(model.shape),
            "lattice": config.action_type == "continuous", "memory_bytes": model.memory_bytes}
    return ExactSolution(average_cost=policy_average_cost(config, orders, model=model),
                         policy=_table_policy(model, orders), num_states=model.num_states, iterations=iteration,
                         span=span, info=info)


# === Policy evaluation ===

def base_stock_orders(config: Any, level: float, model: PerishableModel | None = None) -> np.ndarray:
    """Return the orders of the base-stock policy ``q = (S - sum(x))^+``, capped at ``max_order``, per state."""
    model = PerishableModel(config) if model is None else model
    return np.clip(level - model.states.sum(axis=1), 0, model.max_order).astype(np.int64)


def _as_orders(model: PerishableModel, policy: Any) -> np.ndarray:
    if isinstance(policy, PerishableTablePolicy):
        return policy.table.reshape(-1).astype(np.int64)
    orders = np.asarray(policy, dtype=np.int64).reshape(-1)
    if orders.shape != (model.num_states,) or (orders < 0).any() or (orders > model.max_order).any():
        raise ValueError(f"orders must be {model.num_states} ints in [0, {model.max_order}], one per state.")
    return orders


def policy_average_cost(config: Any, policy: Any, model: PerishableModel | None = None) -> float:
    """Return the exact long-run average cost of a stationary policy from the config's initial state.

    Args:
        config: a validated ``PerishableConfig``.
        policy: a :class:`PerishableTablePolicy` or an array of one order per state (C order over the box).
        model: a prebuilt :class:`PerishableModel` of ``config`` (built when None).
    """
    model = PerishableModel(config) if model is None else model
    matrix, cost = model.chain(_as_orders(model, policy))
    # The long-run distribution from the start state: power iteration with the lazy chain (I + P) / 2, which
    # converges for periodic chains too and picks the recurrent class the start state reaches.
    mu = np.zeros(model.num_states)
    mu[model.start] = 1.0
    transpose = matrix.T.tocsr()
    for _ in range(1_000_000):
        new = 0.5 * (mu + transpose @ mu)
        if np.abs(new - mu).sum() < 1e-13:
            mu = new
            break
        mu = new
    return float(mu @ cost)


def protocol_value(config: Any, policy: Any, *, warmup: int = 100, periods: int = 365, discount: float = 0.99,
                   model: PerishableModel | None = None) -> float:
    """Return the exact expected discounted *reward* of De Moor et al.'s (2022) evaluation protocol.

    Start in the config's initial state (empty by default), run ``warmup`` periods, then sum the next
    ``periods`` rewards (negative costs) weighted by ``discount ** k`` for the k-th counted period (k from 0).
    Their simulations estimate this number by averaging episodes.

    Args:
        config: a validated ``PerishableConfig``.
        policy: a :class:`PerishableTablePolicy` or an array of one order per state.
        warmup: uncounted periods first.
        periods: counted periods.
        discount: weight factor per counted period.
        model: a prebuilt :class:`PerishableModel` of ``config`` (built when None).
    """
    warmup = check_int(warmup, "warmup", "protocol_value", 0, 10**7)
    periods = check_int(periods, "periods", "protocol_value", 1, 10**7)
    discount = check_real(discount, "discount", "protocol_value", 0.0, 1.0, closed="right")
    model = PerishableModel(config) if model is None else model
    matrix, cost = model.chain(_as_orders(model, policy))
    transpose = matrix.T.tocsr()
    mu = np.zeros(model.num_states)
    mu[model.start] = 1.0
    for _ in range(warmup):
        mu = transpose @ mu
    value = np.zeros(model.num_states)
    for _ in range(periods):
        value = cost + discount * (matrix @ value)
    return -float(mu @ value)
