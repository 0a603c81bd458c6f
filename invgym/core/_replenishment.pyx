# SPDX-License-Identifier: MIT
# JD-style SKU replenishment (the setting of Zhao et al. 2025, ORPR): random vendor lead times, review days, MOQ and
# case packs, a capacity limit, announced promotions; the batch kernel behind invgym/Replenishment-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.math cimport ceil, floor
from libc.stdint cimport int64_t

from invgym.core._kernel cimport BatchKernel, draw_demand
from invgym.core._pipeline cimport push_window
from invgym.core._rng cimport rng_below, rng_uniform

import numpy as np


# === Types and constants ===

# Columns of parts[i, :]. Money: cost = holding_cost + lost_sales_cost + order_cost (= -reward).
# Units: on_hand (end of day), on_order (end of day, not yet arrived), sales, demand, lost, order (placed, after
# the constraints), requested (the action). Flags: in_stock (stock on the shelf before demand), stockout (some
# demand lost). lead_time: the vendor lead time drawn for today's order (-1 when none was placed).
PARTS = ("cost", "holding_cost", "lost_sales_cost", "order_cost", "on_hand", "on_order", "sales", "demand", "lost",
         "order", "requested", "lead_time", "in_stock", "stockout", "product", "day")
cdef enum:
    P_COST = 0
    P_HOLDING_COST = 1
    P_LOST_COST = 2
    P_ORDER_COST = 3
    P_ON_HAND = 4
    P_ON_ORDER = 5
    P_SALES = 6
    P_DEMAND = 7
    P_LOST = 8
    P_ORDER = 9
    P_REQUESTED = 10
    P_LEAD = 11
    P_IN_STOCK = 12
    P_STOCKOUT = 13
    P_PRODUCT = 14
    P_DAY = 15
    NUM_PARTS = 16
    NUM_CALENDAR = 4  # sin/cos of the day of week and of the day of year
    NUM_SKU_FEATURES = 6  # is_review_day, days_to_next_review, lead_time_mean, case_pack, moq, capacity


# === State ===

@cython.final
cdef class ReplenishmentKernel(BatchKernel):
    """``num_envs`` SKUs replaying a panel; env i keeps on-hand stock and a ring of arrivals by day.

    ``arrivals[i, d % W]`` holds the units due at the start of day d (W = max lead time + 1), so orders with
    random lead times may cross. Env i's SKU is ``products[i % len(products)]`` (cycle) or drawn uniformly from
    ``products`` at every reset (random). Day t of an episode is panel column ``start + t % length``.
    """

    cdef readonly int64_t history
    cdef readonly int64_t notice
    cdef readonly int64_t start
    cdef readonly int64_t length
    cdef readonly int64_t review_period
    cdef readonly int64_t ring
    cdef readonly bint draw_product
    cdef readonly double max_order
    cdef readonly double order_cost
    cdef double[:, ::1] panel_demand
    cdef double[:, ::1] panel_promo
    cdef double[::1] panel_holiday
    cdef double[:, ::1] panel_calendar
    cdef double[::1] holding
    cdef double[::1] lost_cost
    cdef double[:, ::1] lead_cdf
    cdef double[::1] lead_mean
    cdef double[::1] case_pack
    cdef double[::1] moq
    cdef double[::1] capacity
    cdef double[::1] initial_on_hand
    cdef int64_t[::1] products
    cdef double[::1] on_hand
    cdef double[::1] on_order
    cdef double[:, ::1] arrivals
    cdef double[:, ::1] sales_history

    def __init__(self, Py_ssize_t num_envs, int64_t horizon, int64_t history, int64_t notice, int64_t start,
                 int64_t length, demand, promo, holiday, calendar, holding, lost_cost, double order_cost, lead_pmf,
                 case_pack, moq, capacity, initial_on_hand, int64_t review_period, products, bint draw_product,
                 double max_order):
        cdef Py_ssize_t obs_dim = 2 + history + notice + 1 + 1 + NUM_CALENDAR + NUM_SKU_FEATURES
        BatchKernel.__init__(
            self, num_envs, obs_dim, 1, NUM_PARTS, horizon, [0.0], [max_order],
            np.ones((1, 1)), np.zeros((1, 1), dtype=np.int32), np.ones(1, dtype=np.int64),
            (num_envs, horizon, history, notice, start, length, demand, promo, holiday, calendar, holding,
             lost_cost, order_cost, lead_pmf, case_pack, moq, capacity, initial_on_hand, review_period, products,
             draw_product, max_order),
        )
        self.history = history
        self.notice = notice
        self.start = start
        self.length = length
        self.review_period = review_period
        self.draw_product = draw_product
        self.max_order = max_order
        self.order_cost = order_cost
        self.panel_demand = np.ascontiguousarray(demand, dtype=np.float64)
        self.panel_promo = np.ascontiguousarray(promo, dtype=np.float64)
        self.panel_holiday = np.ascontiguousarray(holiday, dtype=np.float64)
        self.panel_calendar = np.ascontiguousarray(calendar, dtype=np.float64)
        self.holding = np.ascontiguousarray(holding, dtype=np.float64)
        self.lost_cost = np.ascontiguousarray(lost_cost, dtype=np.float64)
        pmf = np.ascontiguousarray(lead_pmf, dtype=np.float64)
        self.lead_cdf = np.cumsum(pmf, axis=1)
        self.lead_mean = pmf @ np.arange(pmf.shape[1], dtype=np.float64)
        self.case_pack = np.ascontiguousarray(case_pack, dtype=np.float64)
        self.moq = np.ascontiguousarray(moq, dtype=np.float64)
        self.capacity = np.ascontiguousarray(capacity, dtype=np.float64)
        self.initial_on_hand = np.ascontiguousarray(initial_on_hand, dtype=np.float64)
        self.products = np.ascontiguousarray(products, dtype=np.int64)
        self.ring = pmf.shape[1]
        cdef Py_ssize_t p = self.panel_demand.shape[0], T = self.panel_demand.shape[1]
        # Checked here too (not only in the config) so that a kernel built by hand can never read out of bounds.
        per_sku = (holding, lost_cost, case_pack, moq, capacity, initial_on_hand)
        if (self.panel_promo.shape[0] != p or self.panel_promo.shape[1] != T or self.panel_holiday.shape[0] != T
                or self.panel_calendar.shape[0] != T or self.panel_calendar.shape[1] != NUM_CALENDAR
                or pmf.shape[0] != p or any(np.shape(a) != (p,) for a in per_sku)):
            raise ValueError("panel arrays have inconsistent shapes.")
        if not np.allclose(pmf.sum(axis=1), 1.0) or np.any(pmf < 0):
            raise ValueError("each row of lead_pmf must be a pmf.")
        self.lead_cdf[:, self.ring - 1] = 1.0  # rounding never leaves a draw past the last lead time
        if np.any(np.asarray(case_pack) < 1) or review_period < 1:
            raise ValueError("case packs and the review period must be at least 1.")
        if self.products.shape[0] < 1 or np.min(products) < 0 or np.max(products) >= p:
            raise ValueError(f"products must be a non-empty list of panel rows in [0, {p - 1}].")
        if start < 0 or length < 1 or start + length > T:
            raise ValueError(f"the window [{start}, {start + length}) must lie inside the panel's {T} days.")
        self.on_hand = self._own("on_hand", np.zeros(num_envs, dtype=np.float64))
        self.on_order = self._own("on_order", np.zeros(num_envs, dtype=np.float64))
        self.arrivals = self._own("arrivals", np.zeros((num_envs, self.ring), dtype=np.float64))
        self.sales_history = self._own("sales_history", np.zeros((num_envs, max(history, 1)), dtype=np.float64))

    cdef inline int64_t day_of(self, int64_t t) noexcept nogil:
        # Periods past the window wrap around to its first day (long evaluation runs).
        return self.start + t % self.length

    cdef inline int64_t days_to_review(self, Py_ssize_t i, int64_t day) noexcept nogil:
        # SKU p is reviewed on the days with (day + p) % R == 0: schedules are staggered across SKUs, as buyers
        # spread their weekly ordering.
        cdef int64_t r = (day + self.product[i]) % self.review_period
        return (self.review_period - r) % self.review_period

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        cdef Py_ssize_t k
        cdef int64_t day, p
        if self.draw_product:
            self.product[i] = self.products[rng_below(&self.rng[i, 0], self.products.shape[0])]
        else:
            self.product[i] = self.products[i % self.products.shape[0]]
        p = self.product[i]
        self.on_hand[i] = self.initial_on_hand[p]
        self.on_order[i] = 0.0
        for k in range(self.ring):
            self.arrivals[i, k] = 0.0
        # The sales window starts with the panel's recorded values before the episode (zeros before day 0).
        for k in range(self.history):
            day = self.start - self.history + k
            self.sales_history[i, k] = self.panel_demand[p, day] if day >= 0 else 0.0

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        # 2. OBSERVE: stock, total on order (arrival days are unknown: lead times are random), past censored
        # sales, the promotions announced so far (today .. today + notice), holiday, calendar, review schedule,
        # and the SKU's constraints.
        cdef Py_ssize_t k, o = 2
        cdef int64_t p = self.product[i], day = self.day_of(self.t[i]), ahead, wait
        out[0] = <float>self.on_hand[i]
        out[1] = <float>self.on_order[i]
        for k in range(self.history):
            out[o] = <float>self.sales_history[i, k]
            o += 1
        for k in range(self.notice + 1):
            ahead = day + k
            out[o] = <float>self.panel_promo[p, ahead] if ahead < self.panel_promo.shape[1] else 0.0
            o += 1
        out[o] = <float>self.panel_holiday[day]
        o += 1
        for k in range(NUM_CALENDAR):
            out[o] = <float>self.panel_calendar[day, k]
            o += 1
        wait = self.days_to_review(i, day)
        out[o] = 1.0 if wait == 0 else 0.0
        out[o + 1] = <float>wait
        out[o + 2] = <float>self.lead_mean[p]
        out[o + 3] = <float>self.case_pack[p]
        out[o + 4] = <float>self.moq[p]
        out[o + 5] = <float>self.capacity[p]

    cdef inline double effective_order(self, Py_ssize_t i, double q, int64_t day) noexcept nogil:
        """The order placed for a requested q, after the review day, case pack, MOQ and capacity rules."""
        cdef int64_t p = self.product[i]
        cdef double pack = self.case_pack[p], moq, room, n
        if q <= 0.0 or self.days_to_review(i, day) != 0:
            return 0.0  # orders are placed on review days only
        n = ceil(q / pack - 1e-9) * pack  # whole cases, rounding up (the buyer asked for at least q)
        moq = ceil(self.moq[p] / pack - 1e-9) * pack
        if n < moq:
            n = moq  # raised to the minimum order quantity
        room = self.capacity[p] - self.on_hand[i] - self.on_order[i]
        if n > room:
            n = floor(room / pack + 1e-9) * pack  # trimmed to whole cases that fit the capacity
            if n < moq or n < 0.0:
                n = 0.0  # what fits is below the MOQ: nothing is ordered
        return n

    def infeasible(self, actions):
        """Return the first env whose requested order the constraints would change, or -1 (strict mode)."""
        cdef double[:, ::1] a = np.ascontiguousarray(actions, dtype=np.float64).reshape(self.num_envs, 1)
        cdef Py_ssize_t i
        for i in range(self.num_envs):
            if self.needs_reset[i]:
                continue  # this env restarts this step; its action is ignored
            if abs(self.effective_order(i, a[i, 0], self.day_of(self.t[i])) - a[i, 0]) > 1e-9:
                return i
        return -1

    # === Step ===

    cdef inline void period(self, Py_ssize_t i, double requested, int64_t t, double* out) noexcept nogil:
        """One day of env i with the requested order in its period t; writes the parts row to ``out``."""
        cdef int64_t p = self.product[i], day = self.day_of(t), lead = -1
        cdef Py_ssize_t k, slot
        cdef double q, d, sales, lost, u, available
        # 3. ORDER: the constraints turn the request into the order placed; its vendor lead time is drawn now
        # from the SKU's distribution (inverse cdf), and it joins the arrival ring, or the shelf if lead = 0.
        q = self.effective_order(i, requested, day)
        if q > 0.0:
            u = rng_uniform(&self.rng[i, 0])
            lead = 0
            while self.lead_cdf[p, lead] <= u:
                lead += 1
            if lead == 0:
                self.on_hand[i] += q
            else:
                self.arrivals[i, (t + lead) % self.ring] += q
                self.on_order[i] += q
        # 4. DEMAND: the panel's value for (SKU, day), or the replayed demand path.
        d = draw_demand(self, i, t, &self.rng[i, 0]) if self.replay else self.panel_demand[p, day]
        # 5. SALES AND LOST SALES from the shelf; the excess is lost (e-commerce customers buy elsewhere).
        available = self.on_hand[i]
        sales = d if d < available else available
        lost = d - sales
        self.on_hand[i] -= sales
        # 6. COSTS on the end-of-day state: h * on-hand + lost margin * lost + fixed cost per order placed.
        out[P_HOLDING_COST] = self.holding[p] * self.on_hand[i]
        out[P_LOST_COST] = self.lost_cost[p] * lost
        out[P_ORDER_COST] = self.order_cost if q > 0.0 else 0.0
        out[P_COST] = out[P_HOLDING_COST] + out[P_LOST_COST] + out[P_ORDER_COST]
        out[P_ON_HAND] = self.on_hand[i]
        out[P_ON_ORDER] = self.on_order[i]
        out[P_SALES] = sales
        out[P_DEMAND] = d
        out[P_LOST] = lost
        out[P_ORDER] = q
        out[P_REQUESTED] = requested
        out[P_LEAD] = <double>lead
        out[P_IN_STOCK] = 1.0 if available > 0.0 else 0.0
        out[P_STOCKOUT] = 1.0 if lost > 0.0 else 0.0
        out[P_PRODUCT] = <double>p
        out[P_DAY] = <double>day
        push_window(&self.sales_history[i, 0], self.history, sales)
        # 1. ARRIVAL (start of day t+1): everything due that day reaches the shelf.
        slot = (t + 1) % self.ring
        self.on_hand[i] += self.arrivals[i, slot]
        self.on_order[i] -= self.arrivals[i, slot]
        self.arrivals[i, slot] = 0.0

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], self.t[i], &self.parts[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]
