# SPDX-License-Identifier: MIT
# Lost sales with a lead time, in Zipkin's (2008) conventions: the batch kernel behind invgym/LostSales-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t
from libc.math cimport isfinite, llrint

from invgym.core._demand cimport sample_alias
from invgym.core._kernel cimport STEP_UNSUPPORTED, TABLE_MISSING, TABLE_UNSUPPORTED, BatchKernel, draw_demand
from invgym.core._pipeline cimport push_window, shift_pipeline
from invgym.core._whole_run cimport RunEnv, fill_run_env, load_run, store_run

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


# === One period (the dynamics, written once: the env's step and both compiled rollouts call it) ===

cdef inline void _period(double* x, int64_t L, double q, double d, double h, double p, double c,
                         double* history, Py_ssize_t num_history, double* out) noexcept nogil:
    # One period of one env: state row ``x`` ([on_hand, pipeline oldest -> newest]), order q, demand d; the
    # period's parts go to ``out``. Every scalar is an argument, so an inlined call keeps them in registers.
    cdef double sales, lost
    # 3. ORDER: q joins the pipeline; with L = 0 it is on hand at once and serves this period's demand.
    if L == 0:
        x[0] += q
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
    out[P_COST] = h * x[0] + p * lost + c * q
    push_window(history, num_history, sales)
    # 1. ARRIVAL (start of period t+1): the order placed in t+1-L arrives; the pipeline shifts by one.
    if L >= 1:
        x[0] += shift_pipeline(&x[1], L - 1, q)


# === One env's whole run (the two compiled rollouts) ===
# Each takes the env's fields by value and is called with constant ``kind`` and ``L`` where it can be (see
# ``_fixed_env_any``), so the compiler builds one loop per case with the state row and the stream in registers
# and no branch on either inside it.

cdef struct EnvRun:
    # One env's whole run, by value: the shared head (filled by ``fill_run_env``, its demand path from the env's
    # current period on) and this scenario's fields.
    RunEnv env
    double* history  # the env's sales window
    Py_ssize_t num_history
    double h, p, c, low, high
    double* last  # the parts of the last period run


cdef struct Source:
    # Where a whole-run loop's demand comes from, copied into the loop's locals (``_source``) so that the
    # stores into the state row cannot make the compiler re-read them from the EnvRun every period.
    const double* path  # NULL: sampled from the alias table
    const double* prob
    const int32_t* alias
    int64_t support
    double* history
    Py_ssize_t num_history


cdef inline Source _source(const EnvRun* r, bint plain) noexcept nogil:
    # The env's demand source; ``plain``: sampled demand and no sales window (the caller has checked).
    cdef Source src
    src.path = r.env.path
    if plain:
        src.path = NULL
    src.prob = r.env.prob
    src.alias = r.env.alias
    src.support = r.env.support
    src.history = r.history
    src.num_history = 0 if plain else r.num_history
    return src


cdef inline double _demand(const Source* src, int64_t s, uint64_t* rng) noexcept nogil:
    # Period s's demand: replayed from the path, or drawn from the alias table with the stream ``rng``.
    return src.path[s] if src.path != NULL else sample_alias(rng, src.prob, src.alias, src.support)


cdef inline void _fixed_span(EnvRun* r, int kind, int64_t L, const double* th, int64_t start, int64_t stop,
                             bint count, bint plain, double* x, uint64_t* rng, double* acc) noexcept nogil:
    # Periods ``start`` to ``stop`` of ``_fixed_env``'s loop (state row ``x`` and stream ``rng`` in the caller's
    # locals), adding the parts to ``acc`` when ``count``. ``plain``: the demand is sampled and there is no
    # sales window (the caller has checked). Called with constant ``count`` and ``plain``, so the warmup loop
    # carries no totals and the plain one no test of either case.
    cdef double row[NUM_PARTS]
    cdef Py_ssize_t k, l, width = L if L > 1 else 1
    cdef int64_t s
    cdef double q, d, position, recent, high = r.high, h = r.h, p = r.p, c = r.c
    cdef double level = th[0], cap = th[1] if kind == CAPPED_BASE_STOCK else 0.0  # in registers, not re-read
    cdef Source src = _source(r, plain)
    for s in range(start, stop):
        # 3. ORDER by the fixed policy, from the inventory position (on-hand plus pipeline).
        if kind == CONSTANT:
            q = th[0]
        elif kind == VECTOR_BASE_STOCK:
            # q = min(s_0, s_l - (l most recent orders) for 0 < l < L, s_L - inventory position).
            if L == 0:
                q = th[0] - x[0]
            else:
                q = th[0]
                recent = 0.0
                for l in range(1, L):
                    recent += x[L - l]
                    if th[l] - recent < q:
                        q = th[l] - recent
                if th[L] - (recent + x[0]) < q:
                    q = th[L] - (recent + x[0])
        else:
            position = 0.0
            for k in range(width):
                position += x[k]
            q = level - position
            if kind == CAPPED_BASE_STOCK and q > cap:
                q = cap
        if q < 0.0:
            q = 0.0
        elif q > high:
            q = high
        # 4. DEMAND (draw_demand's two cases, with the env's table or path hoisted out of the loop).
        d = _demand(&src, s, rng)
        _period(x, L, q, d, h, p, c, src.history, src.num_history, row)
        if count:
            for k in range(NUM_PARTS):
                acc[k] += row[k]


cdef inline void _fixed_env(EnvRun* r, int kind, int64_t L, const double* th) noexcept nogil:
    # ``rollout``'s loop for one env: the warmup, then the counted periods, each a loop of its own
    # (``_fixed_span``). L <= MAX_WIDTH (checked by the caller).
    cdef uint64_t rng[4]
    cdef double x[MAX_WIDTH]
    cdef double acc[NUM_PARTS]
    cdef Py_ssize_t width = L if L > 1 else 1
    load_run(r.env.rng, r.env.x, width, NUM_PARTS, rng, x, acc)
    if r.env.path == NULL and r.num_history == 0:
        _fixed_span(r, kind, L, th, 0, r.env.warmup, False, True, x, rng, acc)
        _fixed_span(r, kind, L, th, r.env.warmup, r.env.warmup + r.env.periods, True, True, x, rng, acc)
    else:
        _fixed_span(r, kind, L, th, 0, r.env.warmup, False, False, x, rng, acc)
        _fixed_span(r, kind, L, th, r.env.warmup, r.env.warmup + r.env.periods, True, False, x, rng, acc)
    store_run(r.env.rng, r.env.x, r.env.totals, width, NUM_PARTS, rng, x, acc)


cdef void _fixed_env_any(EnvRun* r, int kind, int64_t L, const double* th) noexcept nogil:
    # ``_fixed_env`` with constant arguments for the common lead times (one compiled loop each).
    if kind == BASE_STOCK:
        if L == 1:
            _fixed_env(r, BASE_STOCK, 1, th)
        elif L == 2:
            _fixed_env(r, BASE_STOCK, 2, th)
        elif L == 3:
            _fixed_env(r, BASE_STOCK, 3, th)
        elif L == 4:
            _fixed_env(r, BASE_STOCK, 4, th)
        else:
            _fixed_env(r, BASE_STOCK, L, th)
    elif kind == CONSTANT:
        _fixed_env(r, CONSTANT, L, th)
    elif kind == CAPPED_BASE_STOCK:
        _fixed_env(r, CAPPED_BASE_STOCK, L, th)
    else:
        _fixed_env(r, VECTOR_BASE_STOCK, L, th)


cdef inline int64_t _table_span(EnvRun* r, int64_t L, Py_ssize_t nd, const double* flat, const int16_t* small,
                                const int64_t* offs, const int64_t* dims, const int64_t* strides,
                                double position_bound, int64_t start, int64_t stop, bint count, bint weighted,
                                bint plain, double discount, double* x, uint64_t* rng, double* row, double* acc,
                                double* weight, int64_t* state, int* reason) noexcept nogil:
    # Periods ``start`` to ``stop`` of ``_table_env``'s loop (state row ``x``, stream ``rng``, last parts ``row``
    # in the caller's locals); with ``count`` the parts are added to ``acc``, times the running discount weight
    # when ``weighted``; ``plain``: sampled demand and no sales window (the caller has checked). Called with
    # constant ``count``, ``weighted`` and ``plain`` so the warmup loop carries no totals, the undiscounted one
    # no weight and the plain one no test of either case. Returns the period where it stopped (``stop`` unless
    # ``reason`` is set).
    cdef Py_ssize_t k
    cdef int64_t s, v, position, index
    cdef double q = 0.0, d, w = weight[0], low = r.low, high = r.high, h = r.h, p = r.p, c = r.c
    cdef bint inside
    cdef Source src = _source(r, plain)
    for s in range(start, stop):
        position = 0
        index = 0
        inside = True
        for k in range(nd):
            v = llrint(<double><float>x[k])  # the observation's float32, rounded as np.rint rounds
            position += v
            v -= offs[k]
            if v < 0 or v >= dims[k]:
                inside = False
            else:
                index += v * strides[k]
        if position >= position_bound:
            q = 0.0
        elif not inside:
            reason[0] = 1
        elif small != NULL:
            if small[index] == TABLE_MISSING:
                reason[0] = 1
            q = small[index]
        else:
            q = flat[index]
            if not isfinite(q):
                reason[0] = 1
        if reason[0] == 0 and (q < low or q > high):
            reason[0] = 2
        if reason[0] != 0:
            for k in range(nd):
                state[k] = llrint(<double><float>x[k])
            weight[0] = w
            return s
        d = _demand(&src, s, rng)
        _period(x, L, q, d, h, p, c, src.history, src.num_history, row)
        if count:
            if weighted:
                for k in range(NUM_PARTS):
                    acc[k] += w * row[k]
                w *= discount
            else:
                for k in range(NUM_PARTS):
                    acc[k] += row[k]  # = 1.0 * row[k]: the weighted sum's numbers when discount is 1
    weight[0] = w
    return stop


cdef inline int64_t _table_spans(EnvRun* r, int64_t L, Py_ssize_t nd, const double* flat, const int16_t* small,
                                 const int64_t* offs, const int64_t* dims, const int64_t* strides,
                                 double position_bound, bint plain, double discount, double* x, uint64_t* rng,
                                 double* row, double* acc, int64_t* state, int* reason) noexcept nogil:
    # ``_table_env``'s warmup, then its counted periods (weighted only when discounted); the periods run.
    cdef double weight = 1.0
    cdef int64_t done, total = r.env.warmup + r.env.periods, warmup = r.env.warmup
    done = _table_span(r, L, nd, flat, small, offs, dims, strides, position_bound, 0, warmup, False, False, plain,
                       discount, x, rng, row, acc, &weight, state, reason)
    if done == warmup:
        if discount == 1.0:
            done = _table_span(r, L, nd, flat, small, offs, dims, strides, position_bound, warmup, total, True,
                               False, plain, discount, x, rng, row, acc, &weight, state, reason)
        else:
            done = _table_span(r, L, nd, flat, small, offs, dims, strides, position_bound, warmup, total, True,
                               True, plain, discount, x, rng, row, acc, &weight, state, reason)
    return done


cdef inline int64_t _table_env(EnvRun* r, int64_t L, Py_ssize_t nd, const double* flat, const int16_t* small,
                               const int64_t* offs, const int64_t* dims, const int64_t* strides,
                               double position_bound, double discount, int64_t* state, int* reason) noexcept nogil:
    # The generic table loop's numbers for one env, period by period: each state column written as a float32
    # observation, rounded to the nearest integer, looked up; the action unclipped; the demand drawn at the
    # env's clock. Returns the periods run (fewer than asked when ``reason`` is set, with ``state`` the
    # rounded state where it stopped). ``L`` <= MAX_WIDTH. The warmup and the counted periods run in loops of
    # their own (``_table_span``).
    cdef uint64_t rng[4]
    cdef double x[MAX_WIDTH]
    cdef double row[NUM_PARTS]
    cdef double acc[NUM_PARTS]
    cdef Py_ssize_t k, width = L if L > 1 else 1
    cdef int64_t done
    load_run(r.env.rng, r.env.x, width, NUM_PARTS, rng, x, acc)
    for k in range(NUM_PARTS):
        row[k] = 0.0
    if r.env.path == NULL and r.num_history == 0:
        done = _table_spans(r, L, nd, flat, small, offs, dims, strides, position_bound, True, discount, x, rng,
                            row, acc, state, reason)
    else:
        done = _table_spans(r, L, nd, flat, small, offs, dims, strides, position_bound, False, discount, x, rng,
                            row, acc, state, reason)
    store_run(r.env.rng, r.env.x, r.env.totals, width, NUM_PARTS, rng, x, acc)
    for k in range(NUM_PARTS):
        r.last[k] = row[k]
    return done


cdef int64_t _table_env_any(EnvRun* r, int64_t L, Py_ssize_t nd, const double* flat, const int16_t* small,
                            const int64_t* offs, const int64_t* dims, const int64_t* strides,
                            double position_bound, double discount, int64_t* state, int* reason) noexcept nogil:
    # ``_table_env`` with constant arguments where the state is the whole row (nd = L) at common lead times.
    if nd == L and L == 1:
        return _table_env(r, 1, 1, flat, small, offs, dims, strides, position_bound, discount, state, reason)
    if nd == L and L == 2:
        return _table_env(r, 2, 2, flat, small, offs, dims, strides, position_bound, discount, state, reason)
    if nd == L and L == 3:
        return _table_env(r, 3, 3, flat, small, offs, dims, strides, position_bound, discount, state, reason)
    if nd == L and L == 4:
        return _table_env(r, 4, 4, flat, small, offs, dims, strides, position_bound, discount, state, reason)
    return _table_env(r, L, nd, flat, small, offs, dims, strides, position_bound, discount, state, reason)


# === One batch step (the env's and the vector env's step) ===

cdef inline void _step_envs(LostSalesKernel k, int64_t L) noexcept nogil:
    # Every env of ``k`` one period on with the bound actions (next-step autoreset), writing what ``_advance``'s
    # generic loop writes: rewards, flags, clock, parts, observation, then the parts by key in a second pass (one
    # contiguous row per part: measured 1.16x faster at N=1024 than writing six strided rows env by env). Called
    # with constant ``L``.
    # Every buffer is reached through a local pointer: the flag stores (chars) may alias anything, so fields
    # read through ``k`` would be reloaded after each.
    cdef Py_ssize_t i, j, n = k.num_envs, obs_dim = k.obs_dim, width = L if L > 1 else 1
    cdef Py_ssize_t num_history = k.history, hw = k.sales_history.shape[1], pw = k.alias_prob.shape[1]
    cdef Py_ssize_t dw = k.demand_path.shape[1]
    cdef const double* actions = &k.actions[0, 0]
    cdef unsigned char* terminated = &k.terminated[0]
    cdef unsigned char* truncated = &k.truncated[0]
    cdef unsigned char* needs_reset = &k.needs_reset[0]
    cdef int64_t* t = &k.t[0]
    cdef int64_t horizon = k.horizon
    cdef float* obs = &k.obs[0, 0]
    cdef double* parts = &k.parts[0, 0]
    cdef double* parts_t = &k.parts_t[0, 0] if k.has_parts_t else NULL
    cdef double* rewards = &k.rewards[0]
    cdef double* state = &k.state[0, 0]
    cdef double* history = &k.sales_history[0, 0]
    cdef uint64_t* rng = &k.rng[0, 0]
    cdef const int64_t* product = &k.product[0]
    cdef const double* prob = &k.alias_prob[0, 0]
    cdef const int32_t* alias = &k.alias_idx[0, 0]
    cdef const int64_t* support = &k.support[0]
    cdef const double* path = &k.demand_path[0, 0] if k.replay else NULL
    cdef double h = k.holding_cost, p = k.lost_sales_cost, c = k.purchase_cost, d
    cdef double* x
    cdef double* row
    cdef int64_t pr
    for i in range(n):
        if needs_reset[i]:
            # Next-step autoreset (Gymnasium 1.x default): the action is ignored, the episode restarts.
            k.restart_env(i)
            continue
        terminated[i] = 0
        x = &state[i * width]
        row = &parts[i * NUM_PARTS]
        # 4. DEMAND at the env's clock (draw_demand's two cases).
        if path != NULL:
            d = path[i * dw + t[i]]
        else:
            pr = product[i]
            d = sample_alias(&rng[i * 4], &prob[pr * pw], &alias[pr * pw], support[pr])
        _period(x, L, actions[i], d, h, p, c, &history[i * hw], num_history, row)
        rewards[i] = -row[P_COST]
        t[i] += 1
        truncated[i] = t[i] >= horizon
        # 2. OBSERVE (write_obs).
        for j in range(width):
            obs[i * obs_dim + j] = <float>x[j]
        for j in range(num_history):
            obs[i * obs_dim + width + j] = <float>history[i * hw + j]
        if truncated[i]:
            needs_reset[i] = 1
    if parts_t != NULL:
        for j in range(NUM_PARTS):
            for i in range(n):
                parts_t[j * n + i] = parts[i * NUM_PARTS + j]


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
    cdef double[::1] last_parts  # the whole-run loops' last period (scratch)

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
        self.last_parts = np.zeros(NUM_PARTS)
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
        # 4. DEMAND: sampled from env i's product, or replayed from the demand path.
        cdef double d = draw_demand(self, i, t, rng)
        _period(x, self.lead_time, q, d, self.holding_cost, self.lost_sales_cost, self.purchase_cost,
                &self.sales_history[i, 0], self.history, out)

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], self.t[i], &self.parts[i, 0], &self.state[i, 0], &self.rng[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]

    cdef Py_ssize_t step_envs(self) noexcept nogil:
        # The batch step of ``_advance`` (next-step autoreset) as one loop of this kernel, with the buffers in
        # locals and the period inlined: the generic loop's numbers, env by env. Same-step autoreset runs the
        # generic loop.
        if self.same_step:
            return STEP_UNSUPPORTED
        if self.lead_time == 1:
            _step_envs(self, 1)
        elif self.lead_time == 2:
            _step_envs(self, 2)
        elif self.lead_time == 3:
            _step_envs(self, 3)
        else:
            _step_envs(self, self.lead_time)
        return 0

    cdef Py_ssize_t table_rollout(self, const double* flat, const int16_t* small, const int64_t* offs,
                                  const int64_t* dims, const int64_t* strides, Py_ssize_t nd,
                                  double position_bound, double discount, int64_t periods, int64_t warmup,
                                  double* totals, int64_t* state, int* reason) noexcept nogil:
        # The table rollout of invgym.core._rollout_table for a state of on-hand and pipeline columns, one env
        # at a time in ``_table_env`` (the same numbers as the generic loop, period by period).
        cdef Py_ssize_t i, k, n = self.num_envs
        cdef int64_t done, total = warmup + periods
        cdef EnvRun r
        if nd > self.width or self.width > MAX_WIDTH:
            return TABLE_UNSUPPORTED
        for i in range(n):
            self._env_run(i, &r, self.t[i], warmup, periods, &totals[i * NUM_PARTS])
            done = _table_env_any(&r, self.lead_time, nd, flat, small, offs, dims, strides, position_bound,
                                  discount, state, reason)
            self.t[i] += done
            if done > 0:
                for k in range(NUM_PARTS):
                    self.parts[i, k] = r.last[k]
                self.rewards[i] = -r.last[P_COST]
            if reason[0] != 0:
                return i
        return -1

    cdef inline void _env_run(self, Py_ssize_t i, EnvRun* r, int64_t period, int64_t warmup, int64_t periods,
                              double* totals) noexcept nogil:
        # Env i's fields for a whole-run loop, its demand from ``period`` on.
        fill_run_env(&r.env, self, i, &self.state[i, 0], self.width, period, warmup, periods, totals)
        r.history = &self.sales_history[i, 0]
        r.num_history = self.history
        r.h, r.p, r.c = self.holding_cost, self.lost_sales_cost, self.purchase_cost
        r.low, r.high = self.act_low[0], self.act_high[0]
        r.last = &self.last_parts[0]

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
        cdef Py_ssize_t i
        cdef EnvRun r
        if self.width > MAX_WIDTH:
            raise ValueError(f"rollout supports lead times up to {MAX_WIDTH}. Got {self.lead_time} instead.")
        with nogil:
            for i in range(self.num_envs):
                self._env_run(i, &r, 0, warmup, periods, &totals[i, 0])
                _fixed_env_any(&r, kind, self.lead_time, &theta[i, 0])
        return {name: totals_arr[:, k] for k, name in enumerate(PARTS)}
