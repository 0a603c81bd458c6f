# SPDX-License-Identifier: MIT
# The compiled limit: minimal Cython loops over the kernels' own demand tables, for bench/ only (never imported
# by the package). Built on first use by pyximport (bench/probe.py), with the kernels' flags (bench/_probe.pyxbld).
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

from libc.math cimport floor
from libc.stdint cimport int32_t, int64_t, uint64_t

from invgym.core._demand cimport sample_alias
from invgym.core._rng cimport rng_seed

import numpy as np


# === Setup (one helper for every probe) ===

cdef class Tables:
    """A probe's inputs: the first product's alias table (contiguous) and a zeroed total per env."""

    cdef readonly object prob
    cdef readonly object alias
    cdef readonly object totals

    def __init__(self, alias_prob, alias_idx, Py_ssize_t num_envs):
        self.prob = np.ascontiguousarray(alias_prob[0], dtype=np.float64)
        self.alias = np.ascontiguousarray(alias_idx[0], dtype=np.int32)
        self.totals = np.zeros(num_envs)


# === Rollout ===

cdef inline double _lost_sales_env(uint64_t seed, const double* prob, const int32_t* alias, int64_t support,
                                   int64_t lead_time, double h, double p, double max_order, double level,
                                   int64_t periods) noexcept nogil:
    # One env's run, state in locals; its total cost.
    cdef uint64_t rng[4]
    cdef double x[64]
    cdef double q, d, sold, position, total = 0.0
    cdef int64_t s, k, width = lead_time if lead_time > 1 else 1
    rng_seed(rng, seed)
    for k in range(width):
        x[k] = 0.0
    for s in range(periods):
        position = 0.0
        for k in range(width):
            position += x[k]
        q = level - position
        q = 0.0 if q < 0.0 else (max_order if q > max_order else q)
        if lead_time == 0:
            x[0] += q
        d = sample_alias(rng, prob, alias, support)
        sold = d if d < x[0] else x[0]
        x[0] -= sold
        total += h * x[0] + p * (d - sold)
        if lead_time >= 1:
            x[0] += x[1] if lead_time > 1 else q
            for k in range(1, lead_time - 1):
                x[k] = x[k + 1]
            if lead_time > 1:
                x[lead_time - 1] = q
    return total


def lost_sales_rollout(alias_prob, alias_idx, int64_t support, int64_t lead_time, double h, double p,
                       double max_order, double level, int64_t num_envs, int64_t periods, bint constant=False):
    """Base-stock on lost sales: env i seeded with i, state in locals; returns each env's total cost.

    ``constant``: the loop is compiled for the given lead time as a constant (L = 1, 2, 3), as the kernels'
    whole-run loops are; otherwise it reads the lead time at run time.
    """
    cdef Tables tb = Tables(alias_prob, alias_idx, num_envs)
    cdef const double[::1] prob = tb.prob
    cdef const int32_t[::1] alias = tb.alias
    cdef double[::1] totals = tb.totals
    cdef int64_t i, L = lead_time
    with nogil:
        for i in range(num_envs):
            if constant and L == 1:
                totals[i] = _lost_sales_env(i, &prob[0], &alias[0], support, 1, h, p, max_order, level, periods)
            elif constant and L == 2:
                totals[i] = _lost_sales_env(i, &prob[0], &alias[0], support, 2, h, p, max_order, level, periods)
            elif constant and L == 3:
                totals[i] = _lost_sales_env(i, &prob[0], &alias[0], support, 3, h, p, max_order, level, periods)
            else:
                totals[i] = _lost_sales_env(i, &prob[0], &alias[0], support, L, h, p, max_order, level, periods)
    return tb.totals


# === Step ===

cdef class LostSalesStepper:
    """Lost sales stepped one period at a time over bound buffers (no autoreset logic beyond the horizon)."""

    cdef double[:, ::1] state
    cdef uint64_t[:, ::1] rng
    cdef const double[::1] prob
    cdef const int32_t[::1] alias
    cdef int64_t support, lead_time, width, horizon
    cdef int64_t[::1] t
    cdef double h, p
    cdef float[:, ::1] obs
    cdef double[::1] rewards
    cdef unsigned char[::1] truncated
    cdef const double[::1] actions

    def __init__(self, alias_prob, alias_idx, int64_t support, int64_t lead_time, double h, double p,
                 int64_t horizon, obs, rewards, truncated, actions):
        n = obs.shape[0]
        tables = Tables(alias_prob, alias_idx, n)
        self.prob, self.alias = tables.prob, tables.alias
        self.support, self.lead_time, self.h, self.p, self.horizon = support, lead_time, h, p, horizon
        self.width = lead_time if lead_time > 1 else 1
        self.state = np.zeros((n, self.width))
        self.rng = np.zeros((n, 4), dtype=np.uint64)
        self.t = np.zeros(n, dtype=np.int64)
        for i in range(n):
            rng_seed(&self.rng[i, 0], <uint64_t>i)
        self.obs, self.rewards, self.truncated, self.actions = obs, rewards, truncated.view(np.uint8), actions

    def step(self):
        """One period of every env with the bound actions; writes obs, rewards and truncated."""
        cdef Py_ssize_t i, k, n = self.state.shape[0]
        cdef int64_t L = self.lead_time
        cdef double q, d, sold
        cdef double* x
        with nogil:
            for i in range(n):
                x = &self.state[i, 0]
                q = self.actions[i]
                if L == 0:
                    x[0] += q
                d = sample_alias(&self.rng[i, 0], &self.prob[0], &self.alias[0], self.support)
                sold = d if d < x[0] else x[0]
                x[0] -= sold
                self.rewards[i] = -(self.h * x[0] + self.p * (d - sold))
                if L >= 1:
                    x[0] += x[1] if L > 1 else q
                    for k in range(1, L - 1):
                        x[k] = x[k + 1]
                    if L > 1:
                        x[L - 1] = q
                self.t[i] += 1
                self.truncated[i] = self.t[i] >= self.horizon
                if self.truncated[i]:
                    self.t[i] = 0
                    for k in range(self.width):
                        x[k] = 0.0
                for k in range(self.width):
                    self.obs[i, k] = <float>x[k]



# === Rollouts of the other scenarios (each with its bench's fixed policy; costs summed, state in locals) ===

cdef inline double _dual_sourcing_env(uint64_t seed, const double* prob, const int32_t* alias, int64_t support,
                                      int64_t lr, double c_r, double c_e, double h, double b, double max_regular,
                                      double max_expedited, double expedited_level, double regular_level,
                                      int64_t periods) noexcept nogil:
    # One env's run, state in locals; its total cost.
    cdef uint64_t rng[4]
    cdef double x[64]
    cdef double q_r, q_e, d, ip, total = 0.0
    cdef int64_t s, k
    rng_seed(rng, seed)
    for k in range(lr):
        x[k] = 0.0
    for s in range(periods):
        # l_e = 0: the expedited position is the net inventory; the full one adds the regular pipeline.
        q_e = expedited_level - x[0]
        q_e = 0.0 if q_e < 0.0 else (max_expedited if q_e > max_expedited else q_e)
        ip = x[0]
        for k in range(1, lr):
            ip += x[k]
        q_r = regular_level - ip - q_e
        q_r = 0.0 if q_r < 0.0 else (max_regular if q_r > max_regular else q_r)
        x[0] += q_e
        d = sample_alias(rng, prob, alias, support)
        x[0] -= d
        total += (h * (x[0] if x[0] > 0.0 else 0.0) + b * (-x[0] if x[0] < 0.0 else 0.0)
                  + c_r * q_r + c_e * q_e)
        if lr > 1:
            x[0] += x[1]
            for k in range(1, lr - 1):
                x[k] = x[k + 1]
            x[lr - 1] = q_r
        else:
            x[0] += q_r
    return total


def dual_sourcing_rollout(alias_prob, alias_idx, int64_t support, int64_t regular_lead_time, double c_r,
                          double c_e, double h, double b, double max_regular, double max_expedited,
                          double expedited_level, double regular_level, int64_t num_envs, int64_t periods,
                          bint constant=False):
    """Dual index (S_e, S_r) with l_e = 0 and backlogging: env i seeded with i; returns each env's total cost.

    ``constant``: the loop is compiled for the given l_r as a constant (2, 3, 4); otherwise read at run time.
    """
    cdef Tables tb = Tables(alias_prob, alias_idx, num_envs)
    cdef const double[::1] prob = tb.prob
    cdef const int32_t[::1] alias = tb.alias
    cdef double[::1] totals = tb.totals
    cdef int64_t i, lr = regular_lead_time
    with nogil:
        for i in range(num_envs):
            if constant and lr == 2:
                totals[i] = _dual_sourcing_env(i, &prob[0], &alias[0], support, 2, c_r, c_e, h, b, max_regular,
                                               max_expedited, expedited_level, regular_level, periods)
            elif constant and lr == 3:
                totals[i] = _dual_sourcing_env(i, &prob[0], &alias[0], support, 3, c_r, c_e, h, b, max_regular,
                                               max_expedited, expedited_level, regular_level, periods)
            elif constant and lr == 4:
                totals[i] = _dual_sourcing_env(i, &prob[0], &alias[0], support, 4, c_r, c_e, h, b, max_regular,
                                               max_expedited, expedited_level, regular_level, periods)
            else:
                totals[i] = _dual_sourcing_env(i, &prob[0], &alias[0], support, lr, c_r, c_e, h, b, max_regular,
                                               max_expedited, expedited_level, regular_level, periods)
    return tb.totals


cdef inline double _perishable_env(uint64_t seed, const double* prob, const int32_t* alias, int64_t support,
                                   int64_t m, int64_t lead_time, double h, double p, double w, double c,
                                   double max_order, double level, int64_t periods) noexcept nogil:
    # One env's run, state in locals; its total cost.
    cdef uint64_t rng[4]
    cdef double y[128]
    cdef double q, d, need, take, holding, position, total = 0.0
    cdef int64_t s, k, width = m + lead_time - 1
    rng_seed(rng, seed)
    for k in range(width + 1):
        y[k] = 0.0
    for s in range(periods):
        position = 0.0
        for k in range(width):
            position += y[k]
        q = floor(level - position + 0.5)
        q = 0.0 if q < 0.0 else (max_order if q > max_order else q)
        y[width] = q
        d = sample_alias(rng, prob, alias, support)
        need = d
        for k in range(m):
            if need <= 0.0:
                break
            take = y[k] if y[k] < need else need
            y[k] -= take
            need -= take
        holding = 0.0
        for k in range(1, m):
            holding += y[k]
        total += h * holding + p * need + w * y[0] + c * q
        for k in range(width):
            y[k] = y[k + 1]
        y[width] = 0.0
    return total


def perishable_rollout(alias_prob, alias_idx, int64_t support, int64_t shelf_life, int64_t lead_time, double h,
                       double p, double w, double c, double max_order, double level, int64_t num_envs,
                       int64_t periods, bint constant=False):
    """Base-stock on perishables, FIFO, integer orders: env i seeded with i; returns each env's total cost.

    ``constant``: the loop is compiled for (m, L) = (3, 2) as constants when given them (the bench's instance);
    otherwise both are read at run time.
    """
    cdef Tables tb = Tables(alias_prob, alias_idx, num_envs)
    cdef const double[::1] prob = tb.prob
    cdef const int32_t[::1] alias = tb.alias
    cdef double[::1] totals = tb.totals
    cdef int64_t i, m = shelf_life, L = lead_time
    with nogil:
        for i in range(num_envs):
            if constant and m == 3 and L == 2:
                totals[i] = _perishable_env(i, &prob[0], &alias[0], support, 3, 2, h, p, w, c, max_order, level,
                                            periods)
            else:
                totals[i] = _perishable_env(i, &prob[0], &alias[0], support, m, L, h, p, w, c, max_order, level,
                                            periods)
    return tb.totals


cdef inline double _procurement_removal_env(uint64_t seed, const double* prob, const int32_t* alias,
                                            int64_t support, int64_t L, double h, double p, double c,
                                            double salvage, double removal, double max_order, double max_removal,
                                            double order_up_to, double remove_down_to, double start,
                                            int64_t periods) noexcept nogil:
    # One env's run, state in locals; its total cost.
    cdef uint64_t rng[4]
    cdef double x[64]
    cdef double u, q, removed, d, sold, position, total = 0.0
    cdef int64_t s, k
    rng_seed(rng, seed)
    x[0] = start
    for k in range(1, L):
        x[k] = 0.0
    for s in range(periods):
        position = 0.0
        for k in range(L):
            position += x[k]
        u = order_up_to - position if position < order_up_to else (
            remove_down_to - position if position > remove_down_to else 0.0)
        u = -max_removal if u < -max_removal else (max_order if u > max_order else u)
        q = 0.0
        removed = 0.0
        if u >= 0.0:
            q = u
        else:
            removed = -u if -u < x[0] else (x[0] if x[0] > 0.0 else 0.0)
            x[0] -= removed
        d = sample_alias(rng, prob, alias, support)
        sold = d if d < x[0] else x[0]
        x[0] -= sold
        total += h * x[0] + p * (d - sold) + c * q + (removal - salvage) * removed
        if L > 1:
            x[0] += x[1]
            for k in range(1, L - 1):
                x[k] = x[k + 1]
            x[L - 1] = q
        else:
            x[0] += q
    return total


def procurement_removal_rollout(alias_prob, alias_idx, int64_t support, int64_t lead_time, double h, double p,
                                double c, double salvage, double removal, double max_order, double max_removal,
                                double order_up_to, double remove_down_to, initial_on_hand, int64_t num_envs,
                                int64_t periods, bint constant=False):
    """Interval policy (order up to a, remove down to b), lost sales, L >= 1: env i seeded with i; total costs.

    ``constant``: the loop is compiled for the given lead time as a constant (L = 1, 2, 3); otherwise read at
    run time.
    """
    cdef Tables tb = Tables(alias_prob, alias_idx, num_envs)
    cdef const double[::1] prob = tb.prob
    cdef const int32_t[::1] alias = tb.alias
    cdef double[::1] totals = tb.totals
    cdef double start = initial_on_hand
    cdef int64_t i, L = lead_time
    with nogil:
        for i in range(num_envs):
            if constant and L == 1:
                totals[i] = _procurement_removal_env(i, &prob[0], &alias[0], support, 1, h, p, c, salvage, removal,
                                                     max_order, max_removal, order_up_to, remove_down_to, start,
                                                     periods)
            elif constant and L == 2:
                totals[i] = _procurement_removal_env(i, &prob[0], &alias[0], support, 2, h, p, c, salvage, removal,
                                                     max_order, max_removal, order_up_to, remove_down_to, start,
                                                     periods)
            elif constant and L == 3:
                totals[i] = _procurement_removal_env(i, &prob[0], &alias[0], support, 3, h, p, c, salvage, removal,
                                                     max_order, max_removal, order_up_to, remove_down_to, start,
                                                     periods)
            else:
                totals[i] = _procurement_removal_env(i, &prob[0], &alias[0], support, L, h, p, c, salvage, removal,
                                                     max_order, max_removal, order_up_to, remove_down_to, start,
                                                     periods)
    return tb.totals
