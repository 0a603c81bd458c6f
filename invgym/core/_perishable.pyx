# SPDX-License-Identifier: MIT
# Perishable inventory with a fixed shelf life, a lead time and lost sales (De Moor et al. 2022): invgym/Perishable-v0.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

cimport cython
from libc.math cimport floor
from libc.stdint cimport int64_t

from invgym.core._kernel cimport BatchKernel, draw_demand

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
        cdef double* y = &self.state[i, 0]
        cdef Py_ssize_t k, m = self.shelf_life, w = self.width
        cdef double d, need, take, sales, lost, outdated, holding
        # 3. ORDER: q is placed and paid for at once (De Moor et al. 2022); it takes the last place of the row,
        # which is on hand (freshest, m periods of life) when L = 0 and in the pipeline otherwise.
        y[w] = q
        # 4. DEMAND: sampled from env i's product, or replayed from the demand path.
        d = draw_demand(self, i, t, &self.rng[i, 0])
        # 5. ISSUING: demand is met from the m on-hand buckets y[0..m-1] only, FIFO oldest first or LIFO
        # freshest first; what cannot be met is lost.
        need = d
        if self.issuing == FIFO:
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
        out[P_COST] = (self.holding_cost * holding + self.lost_sales_cost * lost + self.outdating_cost * outdated
                       + self.purchase_cost * q)
        # 8. AGEING and 1. ARRIVAL (start of t+1): every unit loses a period of life, the outdated bucket leaves,
        # and the order placed in t+1-L becomes the freshest on-hand bucket: one shift of the row.
        for k in range(w):
            y[k] = y[k + 1]
        y[w] = 0.0

    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil:
        self.period(i, action[0], self.t[i], &self.parts[i, 0])
        self.rewards[i] = -self.parts[i, P_COST]

    # === Rollout ===

    cdef inline double estimated_outdating(self, Py_ssize_t i, double mean) noexcept nogil:
        # EWA (Broekmeulen & van Donselaar 2009): age the current stock and pipeline forward, withdrawing the
        # policy's mean demand each period by the env's issuing rule, and count what outdates in periods
        # t, ..., t+L-1, i.e. before the order placed now can serve demand. Those units are in the inventory
        # position but will never meet demand, so the order adds them back.
        cdef double* x = &self.state[i, 0]
        cdef double buf[MAX_WIDTH]
        cdef Py_ssize_t k, s, m = self.shelf_life, w = self.width, n = w
        cdef double need, take, total = 0.0
        if self.lead_time == 0:
            return 0.0
        for k in range(w):
            buf[k] = x[k]
        for s in range(self.lead_time):
            # In period t+s the on-hand buckets are buf[0..m-1] (the row shifted s times); it has n live entries.
            need = mean
            if self.issuing == FIFO:
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
        cdef double row[NUM_PARTS]
        cdef double q, position, weight
        cdef Py_ssize_t i, k
        cdef int64_t s
        with nogil:
            for i in range(self.num_envs):
                weight = 1.0
                for s in range(warmup + periods):
                    # 3. ORDER by the fixed policy, from the inventory position (every age on hand plus pipeline).
                    if kind == CONSTANT:
                        q = theta[i, 0]
                    else:
                        position = 0.0
                        for k in range(self.width):
                            position += self.state[i, k]
                        q = theta[i, 0] - position
                        if kind == EWA:
                            q += self.estimated_outdating(i, theta[i, 2])
                        if kind != BASE_STOCK and q > theta[i, 1]:
                            q = theta[i, 1]
                    if self.integer_orders:
                        q = floor(q + 0.5)
                    if q < 0.0:
                        q = 0.0
                    elif q > self.max_order:
                        q = self.max_order
                    self.period(i, q, s, row)
                    if s >= warmup:
                        for k in range(NUM_PARTS):
                            totals[i, k] += weight * row[k]
                        weight *= discount
        return {name: totals_arr[:, k] for k, name in enumerate(PARTS)}
