# SPDX-License-Identifier: MIT
# One product of a retail panel with lost sales and censored sales (Madeka et al. 2022): invgym/Retail-v0's kernel.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.stdint cimport int64_t

from invgym.core._kernel cimport BatchKernel, draw_demand
from invgym.core._pipeline cimport push_window, shift_pipeline
from invgym.core._rng cimport rng_below

import numpy as np


# === Types and constants ===

# Columns of parts[i, :]. Money: cost = purchase_cost + holding_cost + penalty - revenue (= -reward).
# Units: on_hand (end of day), sales, demand, lost, order. Indices: product (panel row), day (panel column).
PARTS = ("cost", "revenue", "purchase_cost", "holding_cost", "penalty", "on_hand", "sales", "demand", "lost",
         "order", "product", "day")
cdef enum:
    P_COST = 0
    P_REVENUE = 1
    P_PURCHASE = 2
    P_HOLDING_COST = 3
    P_PENALTY = 4
    P_ON_HAND = 5
    P_SALES = 6
    P_DEMAND = 7
    P_LOST = 8
    P_ORDER = 9
    P_PRODUCT = 10
    P_DAY = 11
    NUM_PARTS = 12
    NUM_CALENDAR = 4  # sin/cos of the day of week and of the day of year


# === State ===

@cython.final
cdef class RetailKernel(BatchKernel):
    """``num_envs`` single-product stores replaying a panel; env i's state row is ``[on_hand, pipeline]``.

    The pipeline holds the L-1 orders placed in days t-L+1, ..., t-1 (oldest first), as in the lost-sales
    kernel; the order placed in t-L has arrived. Env i's product is ``products[i % len(products)]`` (cycle) or a
    uniform draw from ``products`` at every reset from env i's stream (random). Day t of an episode is panel
    column ``start + t % length``.
    """

    cdef readonly int64_t lead_time
    cdef readonly int64_t width
    cdef readonly int64_t history
    cdef readonly int64_t lookahead
    cdef readonly int64_t start
    cdef readonly int64_t length
    cdef readonly bint draw_product
    cdef readonly double max_order
    cdef readonly double initial_on_hand
    cdef double[:, ::1] panel_demand
    cdef double[:, ::1] panel_promo
    cdef double[::1] panel_holiday
    cdef double[:, ::1] panel_calendar
    cdef double[::1] price
    cdef double[::1] unit_cost
    cdef double[::1] holding
    cdef double[::1] penalty
    cdef int64_t[::1] products
    cdef double[:, ::1] state
    cdef double[:, ::1] sales_history

    def __init__(self, Py_ssize_t num_envs, int64_t horizon, int64_t lead_time, int64_t history, int64_t lookahead,
                 int64_t start, int64_t length, demand, promo, holiday, calendar, price, unit_cost, holding, penalty,
                 products, bint draw_product, double max_order, double initial_on_hand):
        cdef int64_t width = max(lead_time, 1)
        cdef Py_ssize_t obs_dim = width + history + lookahead + 1 + 1 + NUM_CALENDAR
        BatchKernel.__init__(
            self, num_envs, obs_dim, 1, NUM_PARTS, horizon, [0.0], [max_order],
            np.ones((1, 1)), np.zeros((1, 1), dtype=np.int32), np.ones(1, dtype=np.int64),
            (num_envs, horizon, lead_time, history, lookahead, start, length, demand, promo, holiday, calendar,
             price, unit_cost, holding, penalty, products, draw_product, max_order, initial_on_hand),
        )
        self.lead_time = lead_time
        self.width = width
        self.history = history
        self.lookahead = lookahead
        self.start = start
        self.length = length
        self.draw_product = draw_product
        self.max_order = max_order
        self.initial_on_hand = initial_on_hand
        self.panel_demand = np.ascontiguousarray(demand, dtype=np.float64)
        self.panel_promo = np.ascontiguousarray(promo, dtype=np.float64)
        self.panel_holiday = np.ascontiguousarray(holiday, dtype=np.float64)
        self.panel_calendar = np.ascontiguousarray(calendar, dtype=np.float64)
        self.price = np.ascontiguousarray(price, dtype=np.float64)
        self.unit_cost = np.ascontiguousarray(unit_cost, dtype=np.float64)
        self.holding = np.ascontiguousarray(holding, dtype=np.float64)
        self.penalty = np.ascontiguousarray(penalty, dtype=np.float64)
        self.products = np.ascontiguousarray(products, dtype=np.int64)
        cdef Py_ssize_t p = self.panel_demand.shape[0], T = self.panel_demand.shape[1]
        # Checked here too (not only in the config) so that a kernel built by hand can never read out of bounds.
        if (self.panel_promo.shape[0] != p or self.panel_promo.shape[1] != T or self.panel_holiday.shape[0] != T
                or self.panel_calendar.shape[0] != T or self.panel_calendar.shape[1] != NUM_CALENDAR
                or self.price.shape[0] != p or self.unit_cost.shape[0] != p or self.holding.shape[0] != p
                or self.penalty.shape[0] != p):
            raise ValueError("panel arrays have inconsistent shapes.")
        if self.products.shape[0] < 1 or np.min(products) < 0 or np.max(products) >= p:
            raise ValueError(f"products must be a non-empty list of panel rows in [0, {p - 1}].")
        if start < 0 or length < 1 or start + length > T:
            raise ValueError(f"the window [{start}, {start + length}) must lie inside the panel's {T} days.")
        self.state = self._own("state", np.zeros((num_envs, width), dtype=np.float64))
        self.sales_history = self._own("sales_history", np.zeros((num_envs, max(history, 1)), dtype=np.float64))

    cdef inline int64_t day_of(self, Py_ssize_t i, int64_t t) noexcept nogil:
        # Periods past the window wrap around to its first day (long evaluation runs).
        return self.start + t % self.length

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        cdef Py_ssize_t k
        cdef int64_t day, p
        if self.draw_product:
            self.product[i] = self.products[rng_below(&self.rng[i, 0], self.products.shape[0])]
        else:
            self.product[i] = self.products[i % self.products.shape[0]]
        p = self.product[i]
        self.state[i, 0] = self.initial_on_hand
        for k in range(1, self.width):
            self.state[i, k] = 0.0
        # The sales window starts with the panel's recorded values for the days before the episode (zeros
        # before the panel's first day); the agent's own censored sales replace them as the episode runs.
        for k in range(self.history):
            day = self.start - self.history + k
            self.sales_history[i, k] = self.panel_demand[p, day] if day >= 0 else 0.0

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        # 2. OBSERVE: inventory, past observed (censored) sales, promotions today..today+lookahead, holiday,
        # calendar. Never the demand itself nor the product's identity or parameters.
        cdef Py_ssize_t k, o = 0
        cdef int64_t p = self.product[i], day = self.day_of(i, self.t[i]), ahead
        for k in range(self.width):
            out[o] = <float>self.state[i, k]
            o += 1
        for k in range(self.history):
            out[o] = <float>self.sales_history[i, k]
            o += 1
        for k in range(self.lookahead + 1):
            ahead = day + k
            out[o] = <float>self.panel_promo[p, ahead] if ahead < self.panel_promo.shape[1] else 0.0
            o += 1
        out[o] = <float>self.panel_holiday[day]
        o += 1
        for k in range(NUM_CALENDAR):
            out[o + k] = <float>self.panel_calendar[day, k]

    # === Step ===

    cdef inline void period(self, Py_ssize_t i, double q, int64_t t, double* out) noexcept nogil:
        """One day of env i with order q in its period t; writes the parts row to ``out``."""
        cdef double* x = &self.state[i, 0]
        cdef Py_ssize_t k
        cdef int64_t L = self.lead_time, p = self.product[i], day = self.day_of(i, t)
        cdef double d, sales, lost, arriving
        # 3. ORDER: q joins the pipeline; with L = 0 it is on the shelf at once and serves today's demand.
        if L == 0:
            x[0] += q
        # 4. DEMAND: the panel's value for (product, day), or the replayed demand path.
        d = draw_demand(self, i, t, &self.rng[i, 0]) if self.replay else self.panel_demand[p, day]
        # 5. SALES AND LOST SALES: demand is met from the shelf only; the excess is lost and never observed.
        sales = d if d < x[0] else x[0]
        lost = d - sales
        x[0] -= sales
        # 6. REWARD (the revenue-minus-costs reward of Madeka et al. 2022): price * sales - unit cost * order - holding * end-of-day
        # on-hand - penalty * lost; cost = -reward.
        out[P_REVENUE] = self.price[p] * sales
        out[P_PURCHASE] = self.unit_cost[p] * q
        out[P_HOLDING_COST] = self.holding[p] * x[0]
        out[P_PENALTY] = self.penalty[p] * lost
        out[P_COST] = out[P_PURCHASE] + out[P_HOLDING_COST] + out[P_PENALTY] - out[P_REVENUE]
        out[P_ON_HAND] = x[0]
        out[P_SALES] = sales
        out[P_DEMAND] = d
        out[P_LOST] = lost
        out[P_ORDER] = q
        out[P_PRODUCT] = <double>p
        out[P_DAY] = <double>day
        # The window records sales, the censored demand.
        push_window(&self.sales_history[i, 0], self.history, sales)
        # 1. ARRIVAL (start of day t+1): the order placed in t+1-L arrives; the pipeline shifts by one.
        if L >= 1:
            x[0] += shift_pipeline(&x[1], L - 1, q)

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], self.t[i], &self.parts[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]
