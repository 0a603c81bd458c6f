# SPDX-License-Identifier: MIT
# Perishable inventory with a fixed shelf life, a lead time and lost sales (De Moor et al. 2022): invgym/Perishable-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.math cimport floor
from libc.stdint cimport int32_t, int64_t, uint64_t

from invgym.core._demand cimport sample_alias
from invgym.core._kernel cimport BatchKernel, draw_demand
from invgym.core._whole_run cimport RunEnv, fill_run_env, load_run, store_run

import numpy as np


# === Types and constants ===

# Columns of parts[i, :]: the period's total cost (money) and its drivers (units).
# Cost identity: cost = holding_cost * holding + lost_sales_cost * lost + outdating_cost * outdated
#                       + purchase_cost * order.
PARTS = ("cost", "holding", "lost", "outdated", "sales", "demand", "order")
cdef enum:
    P_COST = 0
    P_HOLDING = 1
    P_LOST = 2
    P_OUTDATED = 3
    P_SALES = 4
    P_DEMAND = 5
    P_ORDER = 6
    NUM_PARTS = 7

# The longest state row (m - 1 + L) the kernel takes; the env allows at most 50 + 50 - 1.
cdef enum:
    MAX_WIDTH = 256

# Issuing rules: FIFO serves the oldest units first, LIFO the freshest (Nahmias 2011, Ch. 2).
ISSUING = ("fifo", "lifo")
cdef enum:
    FIFO = 0
    LIFO = 1

# Fixed policies that rollout() runs without leaving compiled code, with their parameter columns.
POLICIES = {"constant": ("quantity",), "base_stock": ("level",), "capped_base_stock": ("level", "cap"),
            "ewa": ("level", "cap", "mean_demand")}
cdef enum:
    CONSTANT = 0
    BASE_STOCK = 1
    CAPPED_BASE_STOCK = 2
    EWA = 3


# === One period (the dynamics, written once: the env's step and the compiled rollout call it) ===

cdef inline void _period(double* y, Py_ssize_t m, Py_ssize_t w, int issuing, double q, double d, double h,
                         double p, double o, double c, double* out) noexcept nogil:
    # One period of one env: state row ``y`` (W = m + L - 1 entries and the scratch column W), order q, demand
    # d; the period's parts go to ``out``. Every scalar is an argument, so an inlined call keeps them in registers.
    cdef Py_ssize_t k
    cdef double need, take, sales, lost, outdated, holding
    # 3. ORDER: q is placed and paid for at once (De Moor et al. 2022); it takes the last place of the row,
    # which is on hand (freshest, m periods of life) when L = 0 and in the pipeline otherwise.
    y[w] = q
    # 5. ISSUING: demand is met from the m on-hand buckets y[0..m-1] only, FIFO oldest first or LIFO
    # freshest first; what cannot be met is lost.
    need = d
    if issuing == FIFO:
        for k in range(m):
            if need <= 0.0:
                break
            take = y[k] if y[k] < need else need
            y[k] -= take
            need -= take
    else:
        for k in range(m - 1, -1, -1):
            if need <= 0.0:
                break
            take = y[k] if y[k] < need else need
            y[k] -= take
            need -= take
    lost = need
    sales = d - lost
    # 6. OUTDATING: what is left of the oldest bucket (one period of life) expires at the end of the period.
    outdated = y[0]
    # 7. COSTS as De Moor et al. (2022) charge them: h per non-expired unit carried to the next period (the
    # arriving order is not charged), p per lost unit, w per outdated unit and c per ordered unit.
    holding = 0.0
    for k in range(1, m):
        holding += y[k]
    out[P_HOLDING] = holding
    out[P_LOST] = lost
    out[P_OUTDATED] = outdated
    out[P_SALES] = sales
    out[P_DEMAND] = d
    out[P_ORDER] = q
    out[P_COST] = h * holding + p * lost + o * outdated + c * q
    # 8. AGEING and 1. ARRIVAL (start of t+1): every unit loses a period of life, the outdated bucket leaves,
    # and the order placed in t+1-L becomes the freshest on-hand bucket: one shift of the row.
    for k in range(w):
        y[k] = y[k + 1]
    y[w] = 0.0


cdef inline double _estimated_outdating(const double* x, Py_ssize_t m, Py_ssize_t w, int64_t L, int issuing,
                                        double mean) noexcept nogil:
    # EWA (Broekmeulen & van Donselaar 2009): age the current stock and pipeline forward, withdrawing the
    # policy's mean demand each period by the env's issuing rule, and count what outdates in periods
    # t, ..., t+L-1, i.e. before the order placed now can serve demand. Those units are in the inventory
    # position but will never meet demand, so the order adds them back.
    cdef double buf[MAX_WIDTH]
    cdef Py_ssize_t k, s, n = w
    cdef double need, take, total = 0.0
    if L == 0:
        return 0.0
    for k in range(w):
        buf[k] = x[k]
    for s in range(L):
        # In period t+s the on-hand buckets are buf[0..m-1] (the row shifted s times); it has n live entries.
        need = mean
        if issuing == FIFO:
            for k in range(m if m < n else n):
                take = buf[k] if buf[k] < need else need
                buf[k] -= take
                need -= take
        else:
            for k in range((m if m < n else n) - 1, -1, -1):
                take = buf[k] if buf[k] < need else need
                buf[k] -= take
                need -= take
        total += buf[0]
        for k in range(n - 1):
            buf[k] = buf[k + 1]
        n -= 1
        if n <= 0:
            break
    return total


# === One env's whole run (the compiled rollout) ===
# Called with constant ``kind``, shelf life, lead time, ``plain`` and ``count`` where it can be (see
# ``_fixed_env_any``), so the compiler builds one loop per case with the state row and the stream in registers.

cdef struct Run:
    # One env's whole run, by value: the shared head (filled by ``fill_run_env``) and this scenario's fields.
    RunEnv env
    double h, p, o, c, max_order, discount
    int issuing
    bint integer_orders


cdef inline void _fixed_span(const Run* r, int kind, int64_t m, int64_t L, const double* th, int64_t start,
                             int64_t stop, bint count, bint plain, double* y, uint64_t* rng,
                             double* acc) noexcept nogil:
    # Periods ``start`` to ``stop`` of one env's run (state row ``y`` and stream ``rng`` in the caller's locals),
    # adding the parts to ``acc`` when ``count`` (counted period s weighted by discount ** s); ``plain``: the
    # demand is sampled (the caller has checked).
    cdef double row[NUM_PARTS]
    cdef double q, d, position, weight = 1.0, discount = r.discount
    cdef Py_ssize_t k, w = m + L - 1
    cdef int64_t s
    cdef int issuing = r.issuing
    cdef bint integer_orders = r.integer_orders
    cdef double h = r.h, p = r.p, o = r.o, c = r.c, max_order = r.max_order
    cdef double th0 = th[0], th1 = th[1] if kind != CONSTANT and kind != BASE_STOCK else 0.0
    cdef double th2 = th[2] if kind == EWA else 0.0
    cdef const double* path = NULL if plain else r.env.path
    cdef const double* prob = r.env.prob
    cdef const int32_t* alias = r.env.alias
    cdef int64_t support = r.env.support
    for s in range(start, stop):
        # 3. ORDER by the fixed policy, from the inventory position (every age on hand plus pipeline).
        if kind == CONSTANT:
            q = th0
        else:
            position = 0.0
            for k in range(w):
                position += y[k]
            q = th0 - position
            if kind == EWA:
                q += _estimated_outdating(y, m, w, L, issuing, th2)
            if kind != BASE_STOCK and q > th1:
                q = th1
        if integer_orders:
            q = floor(q + 0.5)
        if q < 0.0:
            q = 0.0
        elif q > max_order:
            q = max_order
        # 4. DEMAND (draw_demand's two cases, at period s of the run).
        d = path[s] if path != NULL else sample_alias(rng, prob, alias, support)
        _period(y, m, w, issuing, q, d, h, p, o, c, row)
        if count:
            for k in range(NUM_PARTS):
                acc[k] += weight * row[k]
            weight *= discount


cdef inline void _fixed_env(const Run* r, int kind, int64_t m, int64_t L, const double* th) noexcept nogil:
    # One env's run: its stream and state row copied into this loop's locals (so that the stores into the
    # parts row cannot make the compiler re-read them), the warmup and the counted periods each a loop of its
    # own (``_fixed_span``), then the locals written back with the part totals.
    cdef uint64_t rng[4]
    cdef double y[MAX_WIDTH + 1]
    cdef double acc[NUM_PARTS]
    load_run(r.env.rng, r.env.x, r.env.width, NUM_PARTS, rng, y, acc)
    if r.env.path == NULL:
        _fixed_span(r, kind, m, L, th, 0, r.env.warmup, False, True, y, rng, acc)
        _fixed_span(r, kind, m, L, th, r.env.warmup, r.env.warmup + r.env.periods, True, True, y, rng, acc)
    else:
        _fixed_span(r, kind, m, L, th, 0, r.env.warmup, False, False, y, rng, acc)
        _fixed_span(r, kind, m, L, th, r.env.warmup, r.env.warmup + r.env.periods, True, False, y, rng, acc)
    store_run(r.env.rng, r.env.x, r.env.totals, r.env.width, NUM_PARTS, rng, y, acc)


cdef void _fixed_env_any(const Run* r, int kind, int64_t m, int64_t L, const double* th) noexcept nogil:
    # ``_fixed_env`` with constant arguments for base-stock at the shelf lives and lead times of De Moor et al.
    # (2022) and the perishable track (m = 2..5, L = 1, 2), one compiled loop each.
    if kind == BASE_STOCK:
        if m == 2 and L == 1:
            _fixed_env(r, BASE_STOCK, 2, 1, th)
        elif m == 3 and L == 1:
            _fixed_env(r, BASE_STOCK, 3, 1, th)
        elif m == 3 and L == 2:
            _fixed_env(r, BASE_STOCK, 3, 2, th)
        elif m == 4 and L == 2:
            _fixed_env(r, BASE_STOCK, 4, 2, th)
        elif m == 5 and L == 2:
            _fixed_env(r, BASE_STOCK, 5, 2, th)
        else:
            _fixed_env(r, BASE_STOCK, m, L, th)
    elif kind == CONSTANT:
        _fixed_env(r, CONSTANT, m, L, th)
    elif kind == CAPPED_BASE_STOCK:
        _fixed_env(r, CAPPED_BASE_STOCK, m, L, th)
    else:
        _fixed_env(r, EWA, m, L, th)


# === State ===

@cython.final
cdef class PerishableKernel(BatchKernel):
    """``num_envs`` perishable systems; env i's state row holds units by the period in which they were ordered.

    With shelf life m and lead time L the observed row has W = m + L - 1 entries (Nahmias 1982; Fries 1975):
    entry k holds what is left of the order placed in period t - W + k. The first m entries (m - 1 when L = 0)
    are on hand, entry k having k + 1 periods of life left (entry 0 expires at the end of this period); the
    rest are the L - 1 outstanding orders, oldest first. One scratch column W holds this period's order, so
    every period is the same shift of the row ``[x_0, ..., x_{W-1}, q]`` by one place.
    """

    cdef readonly int64_t shelf_life
    cdef readonly int64_t lead_time
    cdef readonly int64_t width
    cdef readonly int issuing
    cdef readonly double holding_cost
    cdef readonly double lost_sales_cost
    cdef readonly double outdating_cost
    cdef readonly double purchase_cost
    cdef readonly double max_order
    cdef readonly bint integer_orders
    cdef double[:, ::1] state
    cdef double[::1] initial

    def __init__(self, Py_ssize_t num_envs, int64_t horizon, int64_t shelf_life, int64_t lead_time, int issuing,
                 double holding_cost, double lost_sales_cost, double outdating_cost, double purchase_cost,
                 double max_order, bint integer_orders, initial_state, alias_prob, alias_idx,
                 support):
        cdef int64_t width = shelf_life + lead_time - 1
        if shelf_life < 1 or lead_time < 0 or width > MAX_WIDTH:
            raise ValueError(f"shelf_life must be >= 1, lead_time >= 0 and shelf_life + lead_time - 1 <= {MAX_WIDTH}. "
                             f"Got {shelf_life} and {lead_time}.")
        if issuing != FIFO and issuing != LIFO:
            raise ValueError(f"issuing must be 0 (FIFO) or 1 (LIFO). Got {issuing} instead.")
        BatchKernel.__init__(
            self, num_envs, max(width, 1), 1, NUM_PARTS, horizon, [0.0], [max_order],
            alias_prob, alias_idx, support,
            (num_envs, horizon, shelf_life, lead_time, issuing, holding_cost, lost_sales_cost, outdating_cost,
             purchase_cost, max_order, integer_orders, initial_state, alias_prob, alias_idx, support),
        )
        self.shelf_life = shelf_life
        self.lead_time = lead_time
        self.width = width
        self.issuing = issuing
        self.holding_cost = holding_cost
        self.lost_sales_cost = lost_sales_cost
        self.outdating_cost = outdating_cost
        self.purchase_cost = purchase_cost
        self.max_order = max_order
        self.integer_orders = integer_orders
        self.initial = np.ascontiguousarray(initial_state, dtype=np.float64)
        if self.initial.shape[0] != width:
            raise ValueError(f"initial_state must have length {width}. Got {self.initial.shape[0]} instead.")
        self.state = self._own("state", np.zeros((num_envs, width + 1), dtype=np.float64))

    cdef void reset_env(self, Py_ssize_t i) noexcept nogil:
        cdef Py_ssize_t k
        for k in range(self.width):
            self.state[i, k] = self.initial[k]
        self.state[i, self.width] = 0.0

    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil:
        # 2. OBSERVE: on-hand units by remaining life (1 = expires this period, ..., m), then the pipeline
        # oldest first. With m = 1 and L = 0 nothing ever carries over and the single entry is always 0.
        cdef Py_ssize_t k
        if self.width == 0:
            out[0] = 0.0
        for k in range(self.width):
            out[k] = <float>self.state[i, k]

    # === Step ===

    cdef inline void period(self, Py_ssize_t i, double q, int64_t t, double* out) noexcept nogil:
        """One period of env i with order q in its period t; writes the parts row to ``out``."""
        # 4. DEMAND: sampled from env i's product, or replayed from the demand path.
        cdef double d = draw_demand(self, i, t, &self.rng[i, 0])
        _period(&self.state[i, 0], self.shelf_life, self.width, self.issuing, q, d, self.holding_cost,
                self.lost_sales_cost, self.outdating_cost, self.purchase_cost, out)

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], self.t[i], &self.parts[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]

    # === Rollout ===

    def rollout(self, str policy, params, int64_t periods, int64_t warmup=0, double discount=1.0):
        """Run a fixed policy in every env for ``warmup + periods`` periods without leaving compiled code.

        The run continues from the current state (call ``reset`` first) and ignores the horizon. Orders are
        clipped to the action space ``[0, max_order]`` and, for a discrete action space, rounded to the nearest
        integer.

        Args:
            policy: one of ``POLICIES`` — "constant" (q), "base_stock" (order up to S on the inventory position,
                all on-hand units of every age plus the pipeline), "capped_base_stock" (the same, at most ``cap``
                per order: a hybrid of base-stock and constant-order policies, Haijema & Minner 2016) or "ewa"
                (order up to S plus the estimated outdating of the current stock before the order arrives,
                withdrawing ``mean_demand`` per period, Broekmeulen & van Donselaar 2009; at most ``cap``).
            params: array (num_envs, k) or (k,) of the policy's parameters, in ``POLICIES[policy]`` order.
            periods: periods counted in the totals.
            warmup: periods run first and not counted.
            discount: counted period s (from 0) is weighted by ``discount ** s`` (1: plain sums); De Moor et al.
                (2022) evaluate with 0.99 after a warm-up of 100 periods.

        Returns:
            dict mapping each name in ``PARTS`` to a float64 array (num_envs,) of (discounted) totals.
        """
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {sorted(POLICIES)}. Got {policy!r} instead.")
        cdef int kind = list(POLICIES).index(policy)
        cdef double[:, ::1] theta = np.ascontiguousarray(
            np.broadcast_to(np.asarray(params, dtype=np.float64).reshape(-1, len(POLICIES[policy])),
                            (self.num_envs, len(POLICIES[policy]))))
        if periods < 0 or warmup < 0:
            raise ValueError(f"periods and warmup must be >= 0. Got {periods} and {warmup} instead.")
        if not 0.0 < discount <= 1.0:
            raise ValueError(f"discount must be in (0, 1]. Got {discount} instead.")
        if self.replay and self.demand_periods < periods + warmup:
            raise ValueError(f"the demand path has {self.demand_periods} periods; {periods + warmup} are needed.")
        totals_arr = np.zeros((self.num_envs, NUM_PARTS), dtype=np.float64)
        cdef double[:, ::1] totals = totals_arr
        cdef Py_ssize_t i
        cdef Run r
        r.h, r.p, r.o, r.c = self.holding_cost, self.lost_sales_cost, self.outdating_cost, self.purchase_cost
        r.max_order, r.discount = self.max_order, discount
        r.issuing, r.integer_orders = self.issuing, self.integer_orders
        with nogil:
            for i in range(self.num_envs):
                fill_run_env(&r.env, self, i, &self.state[i, 0], self.width + 1, 0, warmup, periods, &totals[i, 0])
                _fixed_env_any(&r, kind, self.shelf_life, self.lead_time, &theta[i, 0])
        return {name: totals_arr[:, k] for k, name in enumerate(PARTS)}
