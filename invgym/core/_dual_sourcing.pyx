# SPDX-License-Identifier: MIT
# Dual sourcing (a regular and an expedited supplier), in the conventions of Veeraraghavan & Scheller-Wolf (2008)
# and Gijsbrechts et al. (2022): the batch kernel behind invgym/DualSourcing-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.math cimport fmax, fmin
from libc.stdint cimport int32_t, int64_t, uint64_t

from invgym.core._demand cimport sample_alias
from invgym.core._kernel cimport BatchKernel, draw_demand
from invgym.core._pipeline cimport shift_pipeline
from invgym.core._whole_run cimport RunEnv, fill_run_env, load_run, store_run

import numpy as np


# === Types and constants ===

# Columns of parts[i, :]: the period's total cost (money) and its drivers (units).
# Cost identity: cost = h * holding + b * (backorder + lost) + c_r * order_regular + c_e * order_expedited.
PARTS = ("cost", "holding", "backorder", "lost", "demand", "order_regular", "order_expedited")
cdef enum:
    P_COST = 0
    P_HOLDING = 1
    P_BACKORDER = 2
    P_LOST = 3
    P_DEMAND = 4
    P_ORDER_REGULAR = 5
    P_ORDER_EXPEDITED = 6
    NUM_PARTS = 7

# Fixed policies that rollout() runs without leaving compiled code, with their parameter columns.
POLICIES = {
    "constant": ("regular", "expedited"),
    "dual_index": ("expedited_level", "regular_level"),
    "single_index": ("expedited_level", "regular_level"),
    "capped_dual_index": ("expedited_level", "regular_level", "cap"),
    "tailored_base_surge": ("quantity", "level"),
}
cdef enum:
    CONSTANT = 0
    DUAL_INDEX = 1
    SINGLE_INDEX = 2
    CAPPED_DUAL_INDEX = 3
    TAILORED_BASE_SURGE = 4
    MAX_WIDTH = 128  # the longest state row the rollout keeps in locals (the env allows l_r + l_e - 1 <= 99)


cdef inline double clip(double q, double high) noexcept nogil:
    # An order is clipped to the action space [0, high] of its source (branch-free: fmax/fmin).
    return fmin(fmax(q, 0.0), high)


# === One period (the dynamics, written once: the env's step and the compiled rollout call it) ===

cdef inline void _period(double* x, int64_t lr, int64_t le, Py_ssize_t e0, double q_r, double q_e, double d,
                         bint lost_sales, double h, double b, double c_r, double c_e, double* out) noexcept nogil:
    # One period of one env: state row ``x`` ([net, regular pipeline, expedited pipeline]), orders (q_r, q_e),
    # demand d; the period's parts go to ``out``. Every scalar is an argument, so an inlined call keeps them in
    # registers.
    cdef double lost = 0.0, sold, arriving
    # 3. ORDER: both orders are placed; with l_e = 0 the expedited one is on hand at once and serves
    #    this period's demand (Veeraraghavan & Scheller-Wolf 2008).
    if le == 0:
        x[0] += q_e
    # 5. FULFILMENT: demand is backlogged (net inventory may fall below zero), or with lost sales met
    #    from stock on hand only and the excess lost.
    if lost_sales:
        sold = fmin(d, x[0])
        lost = d - sold
        x[0] -= sold
    else:
        x[0] -= d
    # 6. COSTS on the end-of-period state, purchases charged when ordered (Gijsbrechts et al. 2022,
    #    Sec. 6.2): h * on-hand + b * (backlog + lost) + c_r * q_r + c_e * q_e.
    out[P_HOLDING] = fmax(x[0], 0.0)
    out[P_BACKORDER] = fmax(-x[0], 0.0)
    out[P_LOST] = lost
    out[P_DEMAND] = d
    out[P_ORDER_REGULAR] = q_r
    out[P_ORDER_EXPEDITED] = q_e
    out[P_COST] = h * out[P_HOLDING] + b * (out[P_BACKORDER] + lost) + c_r * q_r + c_e * q_e
    # 1. ARRIVAL (start of period t+1): the regular order placed in t+1-l_r and the expedited order placed
    #    in t+1-l_e arrive (backlog is served first, as net inventory); both pipelines shift by one.
    arriving = shift_pipeline(&x[1], lr - 1, q_r)
    if le >= 1:
        arriving += shift_pipeline(&x[e0], le - 1, q_e)
    x[0] += arriving


cdef inline void _positions(const double* x, int64_t le, Py_ssize_t e0, Py_ssize_t width, double* expedited,
                            double* full) noexcept nogil:
    # The expedited inventory position (net inventory plus every order arriving within l_e periods, i.e.
    # the expedited pipeline and the l_e oldest regular orders) and the full inventory position (net plus
    # every outstanding order), before this period's orders (Veeraraghavan & Scheller-Wolf 2008).
    cdef Py_ssize_t k
    cdef double ipe = x[0], ip
    for k in range(e0, width):
        ipe += x[k]
    for k in range(1, 1 + le):
        ipe += x[k]
    ip = ipe
    for k in range(1 + le, e0):
        ip += x[k]
    expedited[0] = ipe
    full[0] = ip


# === One env's whole run (the compiled rollout) ===
# Called with constant ``kind``, lead times, ``plain`` and ``count`` where it can be (see ``_fixed_env_any``), so
# the compiler builds one loop per case with the state row and the stream in registers and no branch on them.

cdef struct Run:
    # One env's whole run, by value: the shared head (filled by ``fill_run_env``) and this scenario's fields.
    RunEnv env
    double h, b, c_r, c_e, max_r, max_e
    bint lost_sales


cdef inline void _fixed_span(const Run* r, int kind, int64_t lr, int64_t le, const double* th, int64_t start,
                             int64_t stop, bint count, bint plain, double* x, uint64_t* rng,
                             double* acc) noexcept nogil:
    # Periods ``start`` to ``stop`` of one env's run (state row ``x`` and stream ``rng`` in the caller's locals),
    # adding the parts to ``acc`` when ``count``; ``plain``: the demand is sampled (the caller has checked).
    cdef double row[NUM_PARTS]
    cdef double q_r, q_e, ipe, ip, d
    cdef Py_ssize_t k, e0 = lr, width = lr + (le - 1 if le > 1 else 0)
    cdef int64_t s
    cdef bint lost_sales = r.lost_sales
    cdef double h = r.h, b = r.b, c_r = r.c_r, c_e = r.c_e, max_r = r.max_r, max_e = r.max_e
    cdef double th0 = th[0], th1 = th[1], th2 = th[2] if kind == CAPPED_DUAL_INDEX else 0.0
    cdef const double* path = NULL if plain else r.env.path
    cdef const double* prob = r.env.prob
    cdef const int32_t* alias = r.env.alias
    cdef int64_t support = r.env.support
    for s in range(start, stop):
        # 3. ORDER by the fixed policy, from the inventory positions before ordering.
        # The expedited order is clipped first, so that the regular order sees what was ordered.
        if kind == CONSTANT:
            q_e = clip(th1, max_e)
            q_r = clip(th0, max_r)
        else:
            _positions(x, le, e0, width, &ipe, &ip)
            if kind == DUAL_INDEX:
                q_e = clip(th0 - ipe, max_e)
                q_r = clip(th1 - ip - q_e, max_r)
            elif kind == SINGLE_INDEX:
                q_e = clip(th0 - ip, max_e)
                q_r = clip(th1 - ip - q_e, max_r)
            elif kind == CAPPED_DUAL_INDEX:
                q_e = clip(th0 - ipe, max_e)
                q_r = clip(th1 - ip - q_e, fmin(th2, max_r))
            else:
                q_e = clip(th1 - ipe, max_e)
                q_r = clip(th0, max_r)
        # 4. DEMAND (draw_demand's two cases, at period s of the run).
        d = path[s] if path != NULL else sample_alias(rng, prob, alias, support)
        _period(x, lr, le, e0, q_r, q_e, d, lost_sales, h, b, c_r, c_e, row)
        if count:
            for k in range(NUM_PARTS):
                acc[k] += row[k]


cdef inline void _fixed_env(const Run* r, int kind, int64_t lr, int64_t le, const double* th) noexcept nogil:
    # One env's run: its stream and state row copied into this loop's locals (so that the stores into the
    # parts row cannot make the compiler re-read them), the warmup and the counted periods each a loop of its
    # own (``_fixed_span``), then the locals written back with the part totals.
    cdef uint64_t rng[4]
    cdef double x[MAX_WIDTH]
    cdef double acc[NUM_PARTS]
    load_run(r.env.rng, r.env.x, r.env.width, NUM_PARTS, rng, x, acc)
    if r.env.path == NULL:
        _fixed_span(r, kind, lr, le, th, 0, r.env.warmup, False, True, x, rng, acc)
        _fixed_span(r, kind, lr, le, th, r.env.warmup, r.env.warmup + r.env.periods, True, True, x, rng, acc)
    else:
        _fixed_span(r, kind, lr, le, th, 0, r.env.warmup, False, False, x, rng, acc)
        _fixed_span(r, kind, lr, le, th, r.env.warmup, r.env.warmup + r.env.periods, True, False, x, rng, acc)
    store_run(r.env.rng, r.env.x, r.env.totals, r.env.width, NUM_PARTS, rng, x, acc)


cdef void _fixed_env_any(const Run* r, int kind, int64_t lr, int64_t le, const double* th) noexcept nogil:
    # ``_fixed_env`` with constant arguments for the dual index and its capped form at l_e = 0 and the common
    # regular lead times (the instances of Gijsbrechts et al. 2022), one compiled loop each.
    if le == 0 and kind == DUAL_INDEX:
        if lr == 2:
            _fixed_env(r, DUAL_INDEX, 2, 0, th)
        elif lr == 3:
            _fixed_env(r, DUAL_INDEX, 3, 0, th)
        elif lr == 4:
            _fixed_env(r, DUAL_INDEX, 4, 0, th)
        else:
            _fixed_env(r, DUAL_INDEX, lr, 0, th)
    elif le == 0 and kind == CAPPED_DUAL_INDEX:
        if lr == 2:
            _fixed_env(r, CAPPED_DUAL_INDEX, 2, 0, th)
        elif lr == 3:
            _fixed_env(r, CAPPED_DUAL_INDEX, 3, 0, th)
        elif lr == 4:
            _fixed_env(r, CAPPED_DUAL_INDEX, 4, 0, th)
        else:
            _fixed_env(r, CAPPED_DUAL_INDEX, lr, 0, th)
    elif kind == DUAL_INDEX:
        _fixed_env(r, DUAL_INDEX, lr, le, th)
    elif kind == CAPPED_DUAL_INDEX:
        _fixed_env(r, CAPPED_DUAL_INDEX, lr, le, th)
    elif kind == SINGLE_INDEX:
        _fixed_env(r, SINGLE_INDEX, lr, le, th)
    elif kind == CONSTANT:
        _fixed_env(r, CONSTANT, lr, le, th)
    else:
        _fixed_env(r, TAILORED_BASE_SURGE, lr, le, th)


# === State ===

@cython.final
cdef class DualSourcingKernel(BatchKernel):
    """``num_envs`` dual-sourcing systems; env i's state row is ``[net, regular pipeline, expedited pipeline]``.

    ``net`` is the net inventory (on hand minus backlog) after this period's arrivals. The regular pipeline holds
    the l_r - 1 regular orders placed in t-l_r+1, ..., t-1 (oldest first), the expedited pipeline the
    max(l_e - 1, 0) expedited orders placed in t-l_e+1, ..., t-1: what arrived at the start of t is in ``net``.
    """

    cdef readonly int64_t regular_lead_time
    cdef readonly int64_t expedited_lead_time
    cdef readonly int64_t width
    cdef readonly double regular_cost
    cdef readonly double expedited_cost
    cdef readonly double holding_cost
    cdef readonly double backorder_cost
    cdef readonly bint lost_sales
    cdef readonly double max_regular
    cdef readonly double max_expedited
    cdef Py_ssize_t e0
    cdef double[:, ::1] state
    cdef double[::1] initial

    def __init__(self, Py_ssize_t num_envs, int64_t horizon, int64_t regular_lead_time,
                 int64_t expedited_lead_time, double regular_cost, double expedited_cost, double holding_cost,
                 double backorder_cost, bint lost_sales, double max_regular, double max_expedited,
                 initial_state, alias_prob, alias_idx, support):
        if not 0 <= expedited_lead_time < regular_lead_time:
            raise ValueError(f"lead times must satisfy 0 <= l_e < l_r. Got l_e={expedited_lead_time}, "
                             f"l_r={regular_lead_time} instead.")
        cdef int64_t width = regular_lead_time + max(expedited_lead_time - 1, 0)
        BatchKernel.__init__(
            self, num_envs, width, 2, NUM_PARTS, horizon, [0.0, 0.0], [max_regular, max_expedited],
            alias_prob, alias_idx, support,
            (num_envs, horizon, regular_lead_time, expedited_lead_time, regular_cost, expedited_cost,
             holding_cost, backorder_cost, lost_sales, max_regular, max_expedited, initial_state, alias_prob,
             alias_idx, support),
        )
        self.regular_lead_time = regular_lead_time
        self.expedited_lead_time = expedited_lead_time
        self.width = width
        self.e0 = regular_lead_time  # column of the oldest expedited order in the pipeline
        self.regular_cost = regular_cost
        self.expedited_cost = expedited_cost
        self.holding_cost = holding_cost
        self.backorder_cost = backorder_cost
        self.lost_sales = lost_sales
        self.max_regular = max_regular
        self.max_expedited = max_expedited
        self.initial = np.ascontiguousarray(initial_state, dtype=np.float64)
        if self.initial.shape[0] != width:
            raise ValueError(f"initial_state must have length {width}. Got {self.initial.shape[0]} instead.")
        self.state = self._own("state", np.zeros((num_envs, width), dtype=np.float64))

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        cdef Py_ssize_t k
        for k in range(self.width):
            self.state[i, k] = self.initial[k]

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        # 2. OBSERVE: net inventory, the regular pipeline, then the expedited pipeline (each oldest first).
        cdef Py_ssize_t k
        for k in range(self.width):
            out[k] = <float>self.state[i, k]

    # === Step ===

    cdef inline void period(self, Py_ssize_t i, double q_r, double q_e, int64_t t, double* out) noexcept nogil:
        """One period of env i with orders (q_r, q_e) in its period t; writes the parts row to ``out``."""
        # 4. DEMAND: sampled from env i's product, or replayed from the demand path.
        cdef double d = draw_demand(self, i, t, &self.rng[i, 0])
        _period(&self.state[i, 0], self.regular_lead_time, self.expedited_lead_time, self.e0, q_r, q_e, d,
                self.lost_sales, self.holding_cost, self.backorder_cost, self.regular_cost, self.expedited_cost,
                out)

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], action[1], self.t[i], &self.parts[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]

    # === Rollout ===

    def rollout(self, str policy, params, int64_t periods, int64_t warmup=0):
        """Run a fixed policy in every env for ``warmup + periods`` periods without leaving compiled code.

        The run continues from the current state (call ``reset`` first) and ignores the horizon. Orders are
        clipped to the action space ``[0, max_order]`` of each source. With IPe the expedited inventory
        position and IP the full inventory position before ordering (see ``_positions``):

        - "constant" (q_r, q_e): fixed orders every period.
        - "dual_index" (S_e, S_r): q_e = (S_e - IPe)^+, then q_r = (S_r - IP - q_e)^+ (Veeraraghavan &
          Scheller-Wolf 2008).
        - "single_index" (S_e, S_r): q_e = (S_e - IP)^+, q_r = (S_r - IP - q_e)^+ (Scheller-Wolf,
          Veeraraghavan & van Houtum 2007).
        - "capped_dual_index" (S_e, S_r, cap): q_e = (S_e - IPe)^+, q_r = min((S_r - IP - q_e)^+, cap)
          (Sun & Van Mieghem 2019). As in the dual index, the regular order sees this period's expedited order:
          this form reproduces the capped dual-index gaps of Gijsbrechts et al. (2022, Sec. 6.2), while
          leaving q_e out of the regular index does not (0.04 % instead of 0.00 % at l_r = 2, c_e = 105).
        - "tailored_base_surge" (Q, S): q_r = Q, q_e = (S - IPe)^+ (Allon & Van Mieghem 2010).

        Args:
            policy: one of ``POLICIES``.
            params: array (num_envs, k) or (k,) of the policy's parameters, in ``POLICIES[policy]`` order.
            periods: periods counted in the totals.
            warmup: periods run first and not counted.

        Returns:
            dict mapping each name in ``PARTS`` to a float64 array (num_envs,) of totals over counted periods.
        """
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {sorted(POLICIES)}. Got {policy!r} instead.")
        cdef int kind = list(POLICIES).index(policy)
        cdef Py_ssize_t ncols = len(POLICIES[policy])
        # np.array copies: a broadcast view is read-only, and a memoryview needs a writable buffer.
        cdef double[:, ::1] theta = np.array(
            np.broadcast_to(np.asarray(params, dtype=np.float64).reshape(-1, ncols), (self.num_envs, ncols)),
            dtype=np.float64, order="C")
        if not np.all(np.isfinite(theta)):
            raise ValueError("policy parameters must be finite.")
        if periods < 0 or warmup < 0:
            raise ValueError(f"periods and warmup must be >= 0. Got {periods} and {warmup} instead.")
        if self.replay and self.demand_periods < periods + warmup:
            raise ValueError(f"the demand path has {self.demand_periods} periods; {periods + warmup} are needed.")
        if self.width > MAX_WIDTH:
            raise ValueError(f"rollout supports state rows up to {MAX_WIDTH}. Got {self.width} instead.")
        totals_arr = np.zeros((self.num_envs, NUM_PARTS), dtype=np.float64)
        cdef double[:, ::1] totals = totals_arr
        cdef Py_ssize_t i
        cdef Run r
        r.h, r.b, r.c_r, r.c_e = self.holding_cost, self.backorder_cost, self.regular_cost, self.expedited_cost
        r.max_r, r.max_e, r.lost_sales = self.max_regular, self.max_expedited, self.lost_sales
        with nogil:
            for i in range(self.num_envs):
                fill_run_env(&r.env, self, i, &self.state[i, 0], self.width, 0, warmup, periods, &totals[i, 0])
                _fixed_env_any(&r, kind, self.regular_lead_time, self.expedited_lead_time, &theta[i, 0])
        return {name: totals_arr[:, k] for k, name in enumerate(PARTS)}
