# SPDX-License-Identifier: MIT
# One relative-value-iteration sweep of the lost-sales DP (baselines/exact_lost_sales.py), compiled, for L >= 2.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t


def lost_sales_sweep(const double[::1] values, double[::1] out, int32_t[::1] orders, const double[::1] pmf,
                     const double[::1] tail, const double[::1] cost, const int64_t[::1] pipeline_sum,
                     double purchase_cost, int64_t order_bound, int64_t position_bound, int64_t lead_time):
    """Write ``T V`` into ``out`` (and, when ``orders`` has cells, the first minimising order); return the span.

    Layout: cell ``p * (S + 1) + x_0`` holds state ``(x_0, x_1, ..., x_{L-1})`` where ``p`` indexes the pipeline
    ``(x_1, ..., x_{L-1})`` in C order over ``[0, z]^(L-1)``, so the on-hand stock is the fastest axis. Cells with
    ``x_0 + sum(pipeline) > S`` are padding: they are never read and ``out`` holds 0 there.

    Zipkin's (2008) transition: ordering q in state x leads to ``((x_0 - D)^+ + x_1, x_2, ..., x_{L-1}, q)``,
    whose pipeline ``T = (x_2, ..., x_{L-1}, q)`` does not depend on demand. For each ``T`` with ``v(y) = V(y, T)``
    the expectation over demand of every pair ``(x_0, x_1)`` with ``k = x_0 + x_1`` is
    ``sum_{d < x_0} P(D = d) v(k - d) + P(D >= x_0) v(x_1)``, and for a fixed ``k`` the partial sums over
    ``d`` grow by one term per ``x_0``: one pass over ``x_0 = 0..k`` gives all pairs of that ``k``.

    Args:
        values: V over the cells (padding ignored).
        out: receives ``c(x_0) + min_q (c q + E V(next))`` on valid cells and 0 on padding.
        orders: empty, or int32 over the cells: receives the first order attaining the minimum.
        pmf: demand probabilities, zero-padded to at least ``S + 1`` entries.
        tail: ``P(D >= j)`` for ``j = 0..S``.
        cost: expected holding and shortage cost of on-hand stock ``x_0 = 0..S``.
        pipeline_sum: ``sum(x_1, ..., x_{L-1})`` of every pipeline index.
        purchase_cost: c per unit ordered.
        order_bound: Morton's z (orders and pipeline entries lie in ``[0, z]``).
        position_bound: Morton's S.
        lead_time: L >= 2.

    Returns:
        ``(lo, hi)``: the least and greatest ``T V - V`` over the valid cells.
    """
    cdef int64_t r = order_bound + 1, n0 = position_bound + 1, s = position_bound
    cdef int64_t heads = 1, k, j, x1, n, h, q, p, t, idx, cells, top, first
    cdef int64_t i
    for i in range(lead_time - 2):
        heads *= r
    cells = heads * r * n0
    if values.shape[0] != cells or out.shape[0] != cells or (orders.shape[0] != 0 and orders.shape[0] != cells):
        raise ValueError(f"values and out must have {cells} cells (pipelines x on-hand stock).")
    if pmf.shape[0] < n0 or tail.shape[0] < n0 or cost.shape[0] < n0 or pipeline_sum.shape[0] != heads * r:
        raise ValueError("pmf, tail and cost need S + 1 entries and pipeline_sum one per pipeline.")
    cdef bint policy = orders.shape[0] != 0
    cdef double acc, cand, lo = INFINITY, hi = -INFINITY, diff, shift, qcost
    cdef const double* v
    with nogil:
        for idx in range(cells):
            out[idx] = INFINITY
        for h in range(heads):
            if pipeline_sum[h] > s:  # the pipeline (0, x_2, ..., x_{L-1}): its sum is that of the head
                continue
            top = order_bound if order_bound < s - pipeline_sum[h] else s - pipeline_sum[h]
            for q in range(top + 1):
                t = h * r + q
                n = s - pipeline_sum[h] - q + 1  # pairs with x_0 + x_1 <= n - 1 may order q
                v = &values[t * n0]
                qcost = purchase_cost * q
                for k in range(n):
                    acc = 0.0
                    first = k - order_bound if k > order_bound else 0
                    for j in range(first):
                        acc = acc + pmf[j] * v[k - j]
                    for j in range(first, k + 1):
                        x1 = k - j
                        cand = qcost + acc + tail[j] * v[x1]
                        idx = (x1 * heads + h) * n0 + j
                        if cand < out[idx]:
                            out[idx] = cand
                            if policy:
                                orders[idx] = <int32_t>q
                        acc = acc + pmf[j] * v[x1]
        for p in range(heads * r):
            for j in range(n0):
                idx = p * n0 + j
                if j + pipeline_sum[p] <= s:
                    out[idx] = out[idx] + cost[j]
                    diff = out[idx] - values[idx]
                    if diff < lo:
                        lo = diff
                    if diff > hi:
                        hi = diff
                else:
                    out[idx] = 0.0
    return lo, hi


def shift_valid(double[::1] values, const int64_t[::1] pipeline_sum, int64_t position_bound, double shift):
    """Subtract ``shift`` from every valid cell (relative values), in place; padding stays 0."""
    cdef int64_t n0 = position_bound + 1, p, j
    with nogil:
        for p in range(pipeline_sum.shape[0]):
            if pipeline_sum[p] > position_bound:
                continue
            for j in range(position_bound - pipeline_sum[p] + 1):
                values[p * n0 + j] -= shift
