# SPDX-License-Identifier: MIT
# Lost sales with a lead time, in Zipkin's (2008) conventions: the batch kernel behind invgym/LostSales-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.stdint cimport int64_t, uint64_t

from invgym.core._kernel cimport BatchKernel, draw_demand
from invgym.core._pipeline cimport push_window, shift_pipeline

import numpy as np


# === Types and constants ===

# Columns of parts[i, :]: the period's total cost (money) and its drivers (units).
# Cost identity: cost = holding_cost * holding + lost_sales_cost * lost + purchase_cost * order.
PARTS = ("cost", "holding", "lost", "sales", "demand", "order")
cdef enum:
    P_COST = 0
    P_HOLDING = 1
    P_LOST = 2
    P_SALES = 3
    P_DEMAND = 4
    P_ORDER = 5
    NUM_PARTS = 6
    MAX_WIDTH = 64  # the longest state row the rollout keeps in locals (lead times up to 64)

# Fixed policies that rollout() runs without leaving compiled code, with their parameter columns.
# "vector_base_stock" takes lead_time + 1 columns, the levels s_0, ..., s_L (Zipkin 2008, Sec. 3).
POLICIES = {"constant": ("quantity",), "base_stock": ("level",), "capped_base_stock": ("level", "cap"),
            "vector_base_stock": ("levels",)}
cdef enum:
    CONSTANT = 0
    BASE_STOCK = 1
    CAPPED_BASE_STOCK = 2
    VECTOR_BASE_STOCK = 3


# === State ===

@cython.final
cdef class LostSalesKernel(BatchKernel):
    """``num_envs`` lost-sales systems; env i's state row is ``[on_hand, pipeline oldest -> newest]``.

    The pipeline holds the L-1 orders placed in periods t-L+1, ..., t-1 (Zipkin 2008, Sec. 2): the order placed
    in t-L has just arrived and is part of on_hand. With L = 0 the row is ``[on_hand]``.
    """

    cdef readonly int64_t lead_time
    cdef readonly int64_t width
    cdef readonly int64_t history
    cdef readonly double holding_cost
    cdef readonly double lost_sales_cost
    cdef readonly double purchase_cost
    cdef readonly double max_order
    cdef double[:, ::1] state
    cdef double[:, ::1] sales_history
    cdef double[::1] initial

    def __init__(self, Py_ssize_t num_envs, int64_t horizon, int64_t lead_time, double holding_cost,
                 double lost_sales_cost, double purchase_cost, double max_order, int64_t history,
                 initial_state, alias_prob, alias_idx, support):
        cdef int64_t width = max(lead_time, 1)
        BatchKernel.__init__(
            self, num_envs, width + history, 1, NUM_PARTS, horizon, [0.0], [max_order],
            alias_prob, alias_idx, support,
            (num_envs, horizon, lead_time, holding_cost, lost_sales_cost, purchase_cost, max_order, history,
             initial_state, alias_prob, alias_idx, support),
        )
        self.lead_time = lead_time
        self.width = width
        self.history = history
        self.holding_cost = holding_cost
        self.lost_sales_cost = lost_sales_cost
        self.purchase_cost = purchase_cost
        self.max_order = max_order
        self.initial = np.ascontiguousarray(initial_state, dtype=np.float64)
        if self.initial.shape[0] != width:
            raise ValueError(f"initial_state must have length {width}. Got {self.initial.shape[0]} instead.")
        self.state = self._own("state", np.zeros((num_envs, width), dtype=np.float64))
        self.sales_history = self._own("sales_history", np.zeros((num_envs, max(history, 1)), dtype=np.float64))

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        cdef Py_ssize_t k
        for k in range(self.width):
            self.state[i, k] = self.initial[k]
        for k in range(self.history):
            self.sales_history[i, k] = 0.0

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        # 2. OBSERVE: on_hand and the pipeline (Zipkin's state), then the past observed sales, oldest first.
        cdef Py_ssize_t k
        for k in range(self.width):
            out[k] = <float>self.state[i, k]
        for k in range(self.history):
            out[self.width + k] = <float>self.sales_history[i, k]

    # === Step ===

    cdef inline void period(self, Py_ssize_t i, double q, int64_t t, double* out, double* x,
                            uint64_t* rng) noexcept nogil:
        """One period of env i with order q in its period t, state row ``x`` and stream ``rng``; parts to ``out``."""
        cdef Py_ssize_t k
        cdef int64_t L = self.lead_time
        cdef double d, sales, lost, arriving
        # 3. ORDER: q joins the pipeline; with L = 0 it is on hand at once and serves this period's demand.
        if L == 0:
            x[0] += q
        # 4. DEMAND: sampled from env i's product, or replayed from the demand path.
        d = draw_demand(self, i, t, rng)
        # 5. SALES AND LOST SALES: demand is met from on-hand stock only; the excess is lost.
        sales = d if d < x[0] else x[0]
        lost = d - sales
        x[0] -= sales
        # 6. COSTS on the end-of-period state (Zipkin 2008, Sec. 2): h * on-hand + p * lost + c * ordered.
        out[P_HOLDING] = x[0]
        out[P_LOST] = lost
        out[P_SALES] = sales
        out[P_DEMAND] = d
        out[P_ORDER] = q
        out[P_COST] = self.holding_cost * x[0] + self.lost_sales_cost * lost + self.purchase_cost * q
        push_window(&self.sales_history[i, 0], self.history, sales)
        # 1. ARRIVAL (start of period t+1): the order placed in t+1-L arrives; the pipeline shifts by one.
        if L >= 1:
            x[0] += shift_pipeline(&x[1], L - 1, q)

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], self.t[i], &self.parts[i, 0], &self.state[i, 0], &self.rng[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]

    # === Rollout ===

    def rollout(self, str policy, params, int64_t periods, int64_t warmup=0):
        """Run a fixed policy in every env for ``warmup + periods`` periods without leaving compiled code.

        The run continues from the current state (call ``reset`` first) and ignores the horizon. Orders are
        clipped to the action space ``[0, max_order]``.

        Args:
            policy: one of ``POLICIES`` — "constant" (q), "base_stock" (order up to S on the inventory
                position on_hand + pipeline), "capped_base_stock" (the same, at most ``cap``; Xin 2021) or
                "vector_base_stock" (the least of s_l minus the l most recent orders, l < L, and s_L minus the
                inventory position; Zipkin 2008, Sec. 3).
            params: array (num_envs, k) or (k,) of the policy's parameters, in ``POLICIES[policy]`` order
                (k = lead_time + 1 levels for "vector_base_stock").
            periods: periods counted in the totals.
            warmup: periods run first and not counted.

        Returns:
            dict mapping each name in ``PARTS`` to a float64 array (num_envs,) of totals over counted periods.
        """
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {sorted(POLICIES)}. Got {policy!r} instead.")
        cdef int kind = list(POLICIES).index(policy)
        cdef Py_ssize_t ncols = self.lead_time + 1 if kind == VECTOR_BASE_STOCK else len(POLICIES[policy])
        cdef const double[:, ::1] theta = np.ascontiguousarray(
            np.broadcast_to(np.asarray(params, dtype=np.float64).reshape(-1, ncols), (self.num_envs, ncols)))
        if periods < 0 or warmup < 0:
            raise ValueError(f"periods and warmup must be >= 0. Got {periods} and {warmup} instead.")
        if self.replay and self.demand_periods < periods + warmup:
            raise ValueError(f"the demand path has {self.demand_periods} periods; {periods + warmup} are needed.")
        totals_arr = np.zeros((self.num_envs, NUM_PARTS), dtype=np.float64)
        cdef double[:, ::1] totals = totals_arr
        cdef double row[NUM_PARTS]
        cdef double acc[NUM_PARTS]
        cdef uint64_t rng[4]  # env i's stream and state row are copied to locals for its run, then written back,
        cdef double x[MAX_WIDTH]  # so that the compiler keeps them in registers across periods
        cdef double q, position, recent, high = self.max_order
        cdef Py_ssize_t i, k, l, width = self.width
        cdef int64_t L = self.lead_time
        cdef int64_t s
        if width > MAX_WIDTH:
            raise ValueError(f"rollout supports lead times up to {MAX_WIDTH}. Got {L} instead.")
        with nogil:
            for i in range(self.num_envs):
                for k in range(4):
                    rng[k] = self.rng[i, k]
                for k in range(width):
                    x[k] = self.state[i, k]
                for k in range(NUM_PARTS):
                    acc[k] = 0.0
                for s in range(warmup + periods):
                    # 3. ORDER by the fixed policy, from the inventory position (on-hand plus pipeline).
                    if kind == CONSTANT:
                        q = theta[i, 0]
                    elif kind == VECTOR_BASE_STOCK:
                        # q = min(s_0, s_l - (l most recent orders) for 0 < l < L, s_L - inventory position).
                        if L == 0:
                            q = theta[i, 0] - x[0]
                        else:
                            q = theta[i, 0]
                            recent = 0.0
                            for l in range(1, L):
                                recent += x[L - l]
                                if theta[i, l] - recent < q:
                                    q = theta[i, l] - recent
                            if theta[i, L] - (recent + x[0]) < q:
                                q = theta[i, L] - (recent + x[0])
                    else:
                        position = 0.0
                        for k in range(width):
                            position += x[k]
                        q = theta[i, 0] - position
                        if kind == CAPPED_BASE_STOCK and q > theta[i, 1]:
                            q = theta[i, 1]
                    if q < 0.0:
                        q = 0.0
                    elif q > high:
                        q = high
                    self.period(i, q, s, row, x, rng)
                    if s >= warmup:
                        for k in range(NUM_PARTS):
                            acc[k] += row[k]
                for k in range(4):
                    self.rng[i, k] = rng[k]
                for k in range(width):
                    self.state[i, k] = x[k]
                for k in range(NUM_PARTS):
                    totals[i, k] = acc[k]
        return {name: totals_arr[:, k] for k, name in enumerate(PARTS)}
