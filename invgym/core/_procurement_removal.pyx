# SPDX-License-Identifier: MIT
# Joint procurement and removal (Maggiar & Sadighian): the batch kernel behind invgym/ProcurementRemoval-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.stdint cimport int32_t, int64_t, uint64_t

from invgym.core._demand cimport sample_alias
from invgym.core._kernel cimport BatchKernel, draw_demand
from invgym.core._pipeline cimport shift_pipeline
from invgym.core._whole_run cimport RunEnv, fill_run_env, load_run, store_run

import numpy as np


# === Types and constants ===

# Columns of parts[i, :]: the period's total cost (money), its drivers (units) and the salvage revenue (money).
# Cost identity: cost = holding_cost * holding + lost_sales_cost * lost + backorder_cost * backlog
#                       + purchase_cost * order + removal_cost * removed - salvage,
# with salvage = salvage_value * removed; only one of lost/backlog is ever non-zero (the backlog flag picks).
PARTS = ("cost", "holding", "lost", "backlog", "sales", "demand", "order", "removed", "salvage")
cdef enum:
    P_COST = 0
    P_HOLDING = 1
    P_LOST = 2
    P_BACKLOG = 3
    P_SALES = 4
    P_DEMAND = 5
    P_ORDER = 6
    P_REMOVED = 7
    P_SALVAGE = 8
    NUM_PARTS = 9

# Fixed policies that rollout() runs without leaving compiled code, with their parameter columns.
# "interval": order up to a, remove down to b, both on the inventory position (on-hand + pipeline).
# "phased_interval" takes 2 S columns, a_0, ..., a_{S-1}, b_0, ..., b_{S-1}: phase t mod S uses (a_phase, b_phase).
POLICIES = {"constant": ("quantity",), "interval": ("order_up_to", "remove_down_to"),
            "phased_interval": ("order_up_to[phase]", "remove_down_to[phase]")}
cdef enum:
    CONSTANT = 0
    INTERVAL = 1
    PHASED_INTERVAL = 2
    MAX_WIDTH = 64  # the longest state row the rollout keeps in locals (the env allows lead times up to 50)


# === One period (the dynamics, written once: the env's step and the compiled rollout call it) ===

cdef inline void _period(double* x, int64_t L, double u, double d, bint backlog, double h, double shortage,
                         double c, double salvage_value, double removal_cost, double* out) noexcept nogil:
    # One period of one env: state row ``x`` ([on_hand, pipeline oldest -> newest]), signed action u (order u if
    # u >= 0, remove -u otherwise), demand d; the period's parts go to ``out``. Every scalar is an argument, so an
    # inlined call keeps them in registers (the env's step and the compiled rollout both call it).
    cdef double q = 0.0, removed = 0.0, stock, y, end, sales, lost, backlog_units
    # 3. ORDER OR REMOVE. An order q = u joins the pipeline (with L = 0 it is on hand at once). A removal
    # request r = -u takes min(r, physical on-hand) units out now: removal is "up to" what is on the shelf,
    # so the action space stays state-independent; ``removed`` reports what actually left.
    if u >= 0.0:
        q = u
        if L == 0:
            x[0] += q
    else:
        stock = x[0] if x[0] > 0.0 else 0.0
        removed = -u if -u < stock else stock
        x[0] -= removed
    y = x[0]
    # 5. SALES AND LOST SALES OR BACKLOG: lost sales meet demand from on-hand only and lose the excess; with
    # backlogging the net inventory falls by d and what is negative waits as backorders. Either way sales are
    # the units of this period's demand met from the shelf at once: y^+ - end^+ = min(d, y^+).
    if backlog:
        end = y - d
        sales = (y if y > 0.0 else 0.0) - (end if end > 0.0 else 0.0)
        lost = 0.0
        backlog_units = -end if end < 0.0 else 0.0
    else:
        sales = d if d < y else y
        lost = d - sales
        end = y - sales
        backlog_units = 0.0
    x[0] = end
    # 6. COSTS on the end-of-period state: h * on-hand + (p * lost or b * backorders) + c * ordered
    # + k * removed - s * removed (Zipkin 2008, Sec. 2 conventions for h and p; removal as in the issue).
    out[P_HOLDING] = end if end > 0.0 else 0.0
    out[P_LOST] = lost
    out[P_BACKLOG] = backlog_units
    out[P_SALES] = sales
    out[P_DEMAND] = d
    out[P_ORDER] = q
    out[P_REMOVED] = removed
    out[P_SALVAGE] = salvage_value * removed
    out[P_COST] = (h * out[P_HOLDING] + shortage * (lost + backlog_units)
                  + c * q + removal_cost * removed - out[P_SALVAGE])
    # 1. ARRIVAL (start of period t+1): the order placed in t+1-L arrives; the pipeline shifts by one.
    if L >= 1:
        x[0] += shift_pipeline(&x[1], L - 1, q)


# === One env's whole run (the compiled rollout) ===
# Called with constant ``kind``, lead time, ``plain`` and ``count`` where it can be (see ``_fixed_env_any``), so
# the compiler builds one loop per case with the state row and the stream in registers and no branch on them.

cdef struct Run:
    # One env's whole run, by value: the shared head (filled by ``fill_run_env``) and this scenario's fields.
    RunEnv env
    const double* phase_prob  # a demand schedule's per-phase tables (num_phases = 0: none)
    const int32_t* phase_idx
    const int64_t* phase_support
    Py_ssize_t prob_width  # the row length of phase_prob and phase_idx
    int64_t num_phases, phases, t0  # phases: num_phases or 1; t0: the env's period at the start of the run
    double h, shortage, c, salvage, removal, max_order, max_removal
    bint backlog


cdef inline void _fixed_span(const Run* r, int kind, int64_t L, bint backlog, const double* th, int64_t start,
                             int64_t stop, bint count, bint plain, double* x, uint64_t* rng,
                             double* acc) noexcept nogil:
    # Periods ``start`` to ``stop`` of one env's run (state row ``x`` and stream ``rng`` in the caller's locals),
    # adding the parts to ``acc`` when ``count``; ``plain``: the demand is sampled from the product, without a
    # schedule (the caller has checked); ``backlog`` is r.backlog, passed as a constant.
    cdef double row[NUM_PARTS]
    cdef double u, d, position, a, b
    cdef Py_ssize_t k, ph, width = L if L > 1 else 1
    cdef int64_t s, t0 = r.t0, phases = r.phases, num_phases = 0 if plain else r.num_phases
    cdef double h = r.h, shortage = r.shortage, c = r.c, salvage = r.salvage, removal = r.removal
    cdef double max_order = r.max_order, max_removal = r.max_removal
    cdef double th0 = th[0], th1 = th[1] if kind == INTERVAL else 0.0
    cdef const double* path = NULL if plain else r.env.path
    cdef const double* prob = r.env.prob
    cdef const int32_t* alias = r.env.alias
    cdef int64_t support = r.env.support
    for s in range(start, stop):
        # 3. ORDER OR REMOVE by the fixed policy, from the inventory position (on-hand + pipeline).
        if kind == CONSTANT:
            u = th0
        else:
            if kind == INTERVAL:
                a = th0
                b = th1
            else:
                ph = (t0 + s) % phases
                a = th[ph]
                b = th[phases + ph]
            position = 0.0
            for k in range(width):
                position += x[k]
            if position < a:
                u = a - position
            elif position > b:
                u = b - position
            else:
                u = 0.0
        if u < -max_removal:
            u = -max_removal
        elif u > max_order:
            u = max_order
        # 4. DEMAND (``demand``'s cases): replayed from column s, from the product, or from the phase.
        if path != NULL:
            d = path[s]
        elif num_phases == 0:
            d = sample_alias(rng, prob, alias, support)
        else:
            ph = (t0 + s) % num_phases
            d = sample_alias(rng, &r.phase_prob[ph * r.prob_width], &r.phase_idx[ph * r.prob_width],
                             r.phase_support[ph])
        _period(x, L, u, d, backlog, h, shortage, c, salvage, removal, row)
        if count:
            for k in range(NUM_PARTS):
                acc[k] += row[k]


cdef inline void _fixed_env(const Run* r, int kind, int64_t L, const double* th) noexcept nogil:
    # One env's run: its stream and state row copied into this loop's locals (so that the stores into the
    # parts row cannot make the compiler re-read them), the warmup and the counted periods each a loop of its
    # own (``_fixed_span``), then the locals written back with the part totals.
    cdef uint64_t rng[4]
    cdef double x[MAX_WIDTH]
    cdef double acc[NUM_PARTS]
    cdef bint plain = r.env.path == NULL and r.num_phases == 0
    load_run(r.env.rng, r.env.x, r.env.width, NUM_PARTS, rng, x, acc)
    if plain and not r.backlog:
        _fixed_span(r, kind, L, False, th, 0, r.env.warmup, False, True, x, rng, acc)
        _fixed_span(r, kind, L, False, th, r.env.warmup, r.env.warmup + r.env.periods, True, True, x, rng, acc)
    elif plain:
        _fixed_span(r, kind, L, True, th, 0, r.env.warmup, False, True, x, rng, acc)
        _fixed_span(r, kind, L, True, th, r.env.warmup, r.env.warmup + r.env.periods, True, True, x, rng, acc)
    else:
        _fixed_span(r, kind, L, r.backlog, th, 0, r.env.warmup, False, False, x, rng, acc)
        _fixed_span(r, kind, L, r.backlog, th, r.env.warmup, r.env.warmup + r.env.periods, True, False, x, rng, acc)
    store_run(r.env.rng, r.env.x, r.env.totals, r.env.width, NUM_PARTS, rng, x, acc)


cdef void _fixed_env_any(const Run* r, int kind, int64_t L, const double* th) noexcept nogil:
    # ``_fixed_env`` with constant arguments for the interval policy at the common lead times, one loop each.
    if kind == INTERVAL:
        if L == 1:
            _fixed_env(r, INTERVAL, 1, th)
        elif L == 2:
            _fixed_env(r, INTERVAL, 2, th)
        elif L == 3:
            _fixed_env(r, INTERVAL, 3, th)
        elif L == 4:
            _fixed_env(r, INTERVAL, 4, th)
        else:
            _fixed_env(r, INTERVAL, L, th)
    elif kind == CONSTANT:
        _fixed_env(r, CONSTANT, L, th)
    else:
        _fixed_env(r, PHASED_INTERVAL, L, th)


# === State ===

@cython.final
cdef class ProcurementRemovalKernel(BatchKernel):
    """``num_envs`` procurement-removal systems; env i's state row is ``[on_hand, pipeline oldest -> newest]``.

    As in Zipkin's (2008) lost-sales state, the pipeline holds the L-1 orders placed in t-L+1, ..., t-1; the
    order placed in t-L has just arrived and is part of ``on_hand``. With backlogging ``on_hand`` is the net
    inventory (negative when customers wait). With a demand schedule of S phases, period t's demand is drawn
    from phase ``t mod S``'s alias table, and the phase is observed.
    """

    cdef readonly int64_t lead_time
    cdef readonly int64_t width
    cdef readonly bint backlog
    cdef readonly double holding_cost
    cdef readonly double shortage_cost
    cdef readonly double purchase_cost
    cdef readonly double salvage_value
    cdef readonly double removal_cost
    cdef readonly double max_order
    cdef readonly double max_removal
    cdef readonly int64_t num_phases
    cdef double[:, ::1] state
    cdef double[::1] initial
    cdef double[:, ::1] phase_prob
    cdef int32_t[:, ::1] phase_idx
    cdef int64_t[::1] phase_support

    def __init__(self, Py_ssize_t num_envs, int64_t horizon, int64_t lead_time, bint backlog,
                 double holding_cost, double shortage_cost, double purchase_cost, double salvage_value,
                 double removal_cost, double max_order, double max_removal, initial_state,
                 alias_prob, alias_idx, support, phase_prob=None, phase_idx=None, phase_support=None):
        cdef int64_t width = max(lead_time, 1)
        cdef int64_t phases = 0 if phase_prob is None else np.asarray(phase_prob).shape[0]
        BatchKernel.__init__(
            self, num_envs, width + (1 if phases > 0 else 0), 1, NUM_PARTS, horizon, [-max_removal], [max_order],
            alias_prob, alias_idx, support,
            (num_envs, horizon, lead_time, backlog, holding_cost, shortage_cost, purchase_cost, salvage_value,
             removal_cost, max_order, max_removal, initial_state, alias_prob, alias_idx, support,
             phase_prob, phase_idx, phase_support),
        )
        self.lead_time = lead_time
        self.width = width
        self.backlog = backlog
        self.holding_cost = holding_cost
        self.shortage_cost = shortage_cost
        self.purchase_cost = purchase_cost
        self.salvage_value = salvage_value
        self.removal_cost = removal_cost
        self.max_order = max_order
        self.max_removal = max_removal
        self.num_phases = phases
        self.initial = np.ascontiguousarray(initial_state, dtype=np.float64)
        if self.initial.shape[0] != width:
            raise ValueError(f"initial_state must have length {width}. Got {self.initial.shape[0]} instead.")
        # A schedule's per-phase bank sits beside the base's product bank (which then holds one row, so the base
        # never draws a product at reset); without a schedule a 1x1 placeholder keeps the memoryviews valid.
        if phases > 0:
            self.phase_prob = np.ascontiguousarray(phase_prob, dtype=np.float64)
            self.phase_idx = np.ascontiguousarray(phase_idx, dtype=np.int32)
            self.phase_support = np.ascontiguousarray(phase_support, dtype=np.int64)
            if self.phase_idx.shape[0] != phases or self.phase_support.shape[0] != phases:
                raise ValueError("phase_prob, phase_idx and phase_support must have one row per phase.")
            if self.alias_prob.shape[0] != 1:
                raise ValueError("with a demand schedule the product bank must hold one row (it is never sampled).")
        else:
            self.phase_prob = np.ones((1, 1), dtype=np.float64)
            self.phase_idx = np.zeros((1, 1), dtype=np.int32)
            self.phase_support = np.ones(1, dtype=np.int64)
        self.state = self._own("state", np.zeros((num_envs, width), dtype=np.float64))

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        cdef Py_ssize_t k
        for k in range(self.width):
            self.state[i, k] = self.initial[k]

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        # 2. OBSERVE: on-hand (net inventory if backlogging) and the pipeline, then the phase t mod S (schedule only).
        cdef Py_ssize_t k
        for k in range(self.width):
            out[k] = <float>self.state[i, k]
        if self.num_phases > 0:
            out[self.width] = <float>(self.t[i] % self.num_phases)

    # === Step ===

    cdef inline double demand(self, Py_ssize_t i, int64_t index, int64_t period) noexcept nogil:
        # 4. DEMAND: replayed (path[i, index]) or drawn from the product (stationary) or from phase period mod S.
        cdef int64_t ph
        if self.replay or self.num_phases == 0:
            return draw_demand(self, i, index, &self.rng[i, 0])
        ph = period % self.num_phases
        return sample_alias(&self.rng[i, 0], &self.phase_prob[ph, 0], &self.phase_idx[ph, 0],
                            self.phase_support[ph])

    cdef inline void period(self, Py_ssize_t i, double u, double d, double* out) noexcept nogil:
        """One period of env i with signed action u (order u if u >= 0, remove -u otherwise) and demand d."""
        _period(&self.state[i, 0], self.lead_time, u, d, self.backlog, self.holding_cost, self.shortage_cost,
                self.purchase_cost, self.salvage_value, self.removal_cost, out)

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        cdef int64_t t = self.t[i]
        self.period(i, action[0], self.demand(i, t, t), &self.parts[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]

    # === Rollout ===

    def rollout(self, str policy, params, int64_t periods, int64_t warmup=0):
        """Run a fixed policy in every env for ``warmup + periods`` periods without leaving compiled code.

        The run continues from the current state and phase (call ``reset`` first) and ignores the horizon; a
        replayed demand path is read from its column 0 on. Actions are clipped to ``[-max_removal, max_order]``.

        Args:
            policy: one of ``POLICIES`` — "constant" (the signed quantity u every period), "interval" (order
                up to a when the inventory position on_hand + pipeline is below a, remove down to b when it is
                above b, do nothing in between; the removal is "up to" the physical on-hand as in ``step``) or
                "phased_interval" (the same with levels (a_phase, b_phase) for the phase t mod S of a demand
                schedule; S = 1 without a schedule).
            params: array (num_envs, k) or (k,) of the policy's parameters, in ``POLICIES[policy]`` order
                (k = 2 S for "phased_interval": the S order-up-to levels, then the S remove-down-to levels).
            periods: periods counted in the totals.
            warmup: periods run first and not counted.

        Returns:
            dict mapping each name in ``PARTS`` to a float64 array (num_envs,) of totals over counted periods.
        """
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {sorted(POLICIES)}. Got {policy!r} instead.")
        cdef int kind = list(POLICIES).index(policy)
        cdef int64_t phases = self.num_phases if self.num_phases > 0 else 1
        cdef Py_ssize_t ncols = 2 * phases if kind == PHASED_INTERVAL else len(POLICIES[policy])
        arr = np.asarray(params, dtype=np.float64)
        if arr.size % ncols != 0 or arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != ncols):
            raise ValueError(f"params of {policy!r} must have {ncols} columns. Got shape {arr.shape} instead.")
        cdef const double[:, ::1] theta = np.ascontiguousarray(
            np.broadcast_to(arr.reshape(-1, ncols), (self.num_envs, ncols)))
        if periods < 0 or warmup < 0:
            raise ValueError(f"periods and warmup must be >= 0. Got {periods} and {warmup} instead.")
        if self.replay and self.demand_periods < periods + warmup:
            raise ValueError(f"the demand path has {self.demand_periods} periods; {periods + warmup} are needed.")
        if self.width > MAX_WIDTH:
            raise ValueError(f"rollout supports lead times up to {MAX_WIDTH}. Got {self.lead_time} instead.")
        totals_arr = np.zeros((self.num_envs, NUM_PARTS), dtype=np.float64)
        cdef double[:, ::1] totals = totals_arr
        cdef Py_ssize_t i
        cdef Run r
        r.phase_prob, r.phase_idx = &self.phase_prob[0, 0], &self.phase_idx[0, 0]
        r.phase_support, r.prob_width = &self.phase_support[0], self.phase_prob.shape[1]
        r.num_phases, r.phases = self.num_phases, phases
        r.h, r.shortage, r.c = self.holding_cost, self.shortage_cost, self.purchase_cost
        r.salvage, r.removal = self.salvage_value, self.removal_cost
        r.max_order, r.max_removal, r.backlog = self.max_order, self.max_removal, self.backlog
        with nogil:
            for i in range(self.num_envs):
                fill_run_env(&r.env, self, i, &self.state[i, 0], self.width, 0, warmup, periods, &totals[i, 0])
                r.t0 = self.t[i]
                _fixed_env_any(&r, kind, self.lead_time, &theta[i, 0])
        return {name: totals_arr[:, k] for k, name in enumerate(PARTS)}
