# SPDX-License-Identifier: MIT
# Table-policy rollout: a lookup-table policy (an exact solver's, the myopic one's) run in any scenario's kernel
# without leaving compiled code, for any scenario whose state is its first observation columns.
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False

from libc.stdint cimport int16_t, int64_t
from libc.math cimport INFINITY, isfinite, llrint

from invgym.core._kernel cimport TABLE_MISSING, TABLE_UNSUPPORTED, BatchKernel

import numpy as np


# === Rollout ===

def rollout_table(BatchKernel kernel, table, offsets, int64_t periods, int64_t warmup=0,
                  double position_bound=INFINITY, double discount=1.0, obs_dim=None, cutoffs=None,
                  bint integral=False, fallback=None, projection=None, bint clip=False, compact=None):
    """Run a lookup-table policy in every env of ``kernel`` for ``warmup + periods`` periods, compiled.

    Env i's state is read as its first ``len(offsets)`` observation columns (or, with ``projection``, as
    ``projection @ obs``) rounded to the nearest integers, as the table policies' ``act`` rounds them; the
    action is ``table[x - offsets]``. The action is 0 when
    those columns sum to ``position_bound`` or more (a lost-sales table's Morton bound, Zipkin 2008) or when
    a column reaches its ``cutoffs`` entry (the myopic policy's bounds). A state outside the table goes to
    ``fallback`` when one is given (the only step that re-enters Python), else it is an error. The run
    continues from the current state (call ``reset`` first) and ignores the horizon.

    Args:
        table: float64 array of shape ``dims + (act_dim,)``; NaN marks a state the table holds no decision
            for.
        offsets: int64 array ``(len(dims),)``, the value of each state column at table index 0.
        periods: periods counted in the totals.
        warmup: periods run first and not counted.
        position_bound: the action is 0 from this inventory position up (inf: never).
        discount: counted period s (from 0) is weighted by ``discount ** s`` (1: plain sums).
        obs_dim: the observation width the table was solved for (None: any width from ``len(offsets)``).
        cutoffs: float64 ``(len(dims),)``: the action is 0 once state column k reaches ``cutoffs[k]``
            (None: never).
        integral: refuse a state column that is not an integer instead of rounding it.
        fallback: ``fallback(state tuple) -> action`` for states outside the table (None: an error).
        projection: float64 ``(len(dims), obs_dim)``: state k is ``projection[k] @ obs`` (a reduced state,
            e.g. dual sourcing's expedited inventory position); None: the first columns as they are.
        clip: a state outside the table uses the nearest state of the table's box instead.
        compact: what ``compact_table(table)`` returns for this table (its int16 form, or False when it has
            none), computed once by a caller that runs the same table many times; None: computed here. Only a
            plain table (none of the options above) uses it.

    Returns:
        float64 array (num_envs, num_parts): each part's (discounted) total over the counted periods.

    Raises:
        ValueError: naming the state, when an env reaches a state outside the table (without a fallback) or
            one without a decision, a fractional state (with ``integral``), or when the table's or the
            fallback's action lies outside the action space. Nothing is returned then; an exception raised
            by ``fallback`` propagates as it is.
    """
    offsets_arr = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
    table_arr = np.ascontiguousarray(table, dtype=np.float64)
    cdef Py_ssize_t nd = offsets_arr.shape[0], m = kernel.act_dim
    if table_arr.ndim != nd + 1 or table_arr.shape[nd] != m:
        raise ValueError(f"table must have shape dims + ({m},) with len(dims) = len(offsets) = {nd}. "
                         f"Got shape {table_arr.shape} instead.")
    if nd > kernel.obs_dim or (obs_dim is not None and obs_dim != kernel.obs_dim):
        raise ValueError(f"observations must have {nd if obs_dim is None else obs_dim} columns for this "
                         f"table. Got {kernel.obs_dim} instead.")
    if periods < 0 or warmup < 0:
        raise ValueError(f"periods and warmup must be >= 0. Got {periods} and {warmup} instead.")
    if not 0.0 < discount <= 1.0:
        raise ValueError(f"discount must be in (0, 1]. Got {discount} instead.")
    cutoffs_arr = np.full(max(nd, 1), np.inf)
    if cutoffs is not None:
        cutoffs_arr[:nd] = np.asarray(cutoffs, dtype=np.float64).reshape(nd)
    cdef const double[::1] cut = cutoffs_arr
    cdef bint has_fallback = fallback is not None
    cdef bint has_projection = projection is not None
    projection_arr = np.zeros((max(nd, 1), kernel.obs_dim))
    if has_projection:
        given = np.asarray(projection, dtype=np.float64)
        if given.shape != (nd, kernel.obs_dim):
            raise ValueError(f"projection must have shape ({nd}, {kernel.obs_dim}). Got {given.shape} instead.")
        projection_arr[:nd] = given
    cdef const double[:, ::1] proj = projection_arr
    if has_fallback and not callable(fallback):
        raise TypeError(f"fallback must be callable (state tuple -> action). Got {fallback!r} instead.")
    kernel._check_ready(0)
    needed = int(np.max(np.asarray(kernel.t))) + periods + warmup
    if kernel.replay and kernel.demand_path.shape[1] < needed:
        raise ValueError(f"the demand path has {kernel.demand_path.shape[1]} periods; {needed} are needed.")
    cdef const double[::1] flat = table_arr.reshape(-1)
    cdef const int64_t[::1] offs = offsets_arr
    dims_arr = np.array(table_arr.shape[:nd], dtype=np.int64)
    cdef const int64_t[::1] dims = dims_arr
    strides_arr = np.ones(max(nd, 1), dtype=np.int64)  # C order, in table rows
    for k in range(nd - 2, -1, -1):
        strides_arr[k] = strides_arr[k + 1] * dims_arr[k + 1]
    cdef const int64_t[::1] strides = strides_arr
    state_arr = np.zeros(max(nd, 1), dtype=np.int64)
    cdef int64_t[::1] state = state_arr
    totals_arr = np.zeros((kernel.num_envs, kernel.num_parts), dtype=np.float64)
    cdef double[:, ::1] totals = totals_arr
    cdef double[::1] acc = np.zeros(max(kernel.num_parts, 1))  # env i's running totals, written at its end
    cdef Py_ssize_t num_parts = kernel.num_parts
    obs_arr = np.zeros(kernel.obs_dim, dtype=np.float32)
    cdef float[::1] ob = obs_arr
    action_arr = np.zeros(m, dtype=np.float64)
    cdef double[::1] action = action_arr
    cdef Py_ssize_t i, j, k2, bad = -1
    cdef int reason = 0  # 1: outside the table or no decision, 2: an action outside the action space,
    # 3: a state column that is not an integer (with integral=True)
    cdef int64_t s, v, position, index
    cdef bint inside, beyond
    cdef double weight, a, value
    cdef const int16_t[::1] small
    cdef const int16_t* small_ptr = NULL
    if flat.shape[0] and not (has_fallback or has_projection or clip or integral or cutoffs is not None):
        # A plain table: the scenario's own loop runs it when it has one (the same numbers, period by period).
        if compact is None:
            compact = compact_table(table_arr)
        elif compact is not False and (not isinstance(compact, np.ndarray) or compact.dtype != np.int16
                                       or compact.shape != (flat.shape[0],)):
            raise ValueError(f"compact must be compact_table(table): int16 of shape ({flat.shape[0]},) or "
                             f"False. Got {compact!r:.60} instead.")
        if compact is not False:
            small = compact
            small_ptr = &small[0]
        with nogil:
            bad = kernel.table_rollout(&flat[0], small_ptr, &offs[0], &dims[0], &strides[0], nd, position_bound,
                                       discount, periods, warmup, &totals[0, 0], &state[0], &reason)
        if bad != TABLE_UNSUPPORTED:
            if reason == 2:
                action_arr[:] = table_arr[tuple((state_arr[:nd] - offsets_arr).tolist())]
            _raise_for(reason, bad, state_arr, nd, dims_arr, offsets_arr, ob, action_arr, kernel)
            return totals_arr
        bad, reason = -1, 0
    with nogil:
        for i in range(kernel.num_envs):
            weight = 1.0
            for j in range(num_parts):
                acc[j] = 0.0
            for s in range(warmup + periods):
                kernel.write_obs(i, &ob[0])
                position = 0
                index = 0
                inside = True
                beyond = False
                for k2 in range(nd):
                    if has_projection:
                        value = 0.0
                        for j in range(kernel.obs_dim):
                            value += proj[k2, j] * ob[j]
                    else:
                        value = ob[k2]
                    v = llrint(value)  # the policies' np.rint: nearest, ties to even
                    state[k2] = v
                    if integral and <double>v != value:
                        bad, reason = i, 3
                    position += v
                    if v >= cut[k2]:
                        beyond = True
                    v -= offs[k2]
                    if clip:
                        v = 0 if v < 0 else (dims[k2] - 1 if v >= dims[k2] else v)
                    if v < 0 or v >= dims[k2]:
                        inside = False
                    else:
                        index += v * strides[k2]
                if bad >= 0:
                    pass
                elif position >= position_bound or beyond:
                    for j in range(m):
                        action[j] = 0.0
                elif not inside:
                    if has_fallback:
                        with gil:
                            action_arr[:] = np.asarray(fallback(tuple(state_arr[:nd].tolist())),
                                                       dtype=np.float64).reshape(m)
                        for j in range(m):
                            a = action[j]
                            if not (isfinite(a) and a >= kernel.act_low[j] and a <= kernel.act_high[j]):
                                bad, reason = i, 2
                    else:
                        bad, reason = i, 1
                else:
                    for j in range(m):
                        a = flat[index * m + j]
                        action[j] = a
                        if not isfinite(a):
                            bad, reason = i, 1
                        elif a < kernel.act_low[j] or a > kernel.act_high[j]:
                            bad, reason = i, 2
                if bad >= 0:
                    break
                kernel.step_env(i, &action[0])
                kernel.t[i] += 1
                if s >= warmup:
                    for j in range(num_parts):
                        acc[j] += weight * kernel.parts[i, j]
                    weight *= discount
            if bad >= 0:
                break
            for j in range(num_parts):
                totals[i, j] = acc[j]
    _raise_for(reason, bad, state_arr, nd, dims_arr, offsets_arr, ob, action_arr, kernel)
    return totals_arr


def _raise_for(int reason, Py_ssize_t bad, state_arr, Py_ssize_t nd, dims_arr, offsets_arr, ob, action_arr,
               BatchKernel kernel):
    """Raise the error of a rollout that stopped (``reason`` 1, 2 or 3 at env ``bad``); nothing when 0."""
    if reason == 1:
        raise ValueError(f"env {bad} reached the state {state_arr[:nd].tolist()}, outside the policy's table "
                         f"(dims {dims_arr.tolist()}, offsets {offsets_arr.tolist()}) or without a decision "
                         "in it: the table holds no decision for it.")
    if reason == 3:
        raise ValueError(f"the table policy needs integer states; env {bad} reached "
                         f"{np.asarray(ob[:nd]).tolist()}.")
    if reason == 2:
        raise ValueError(f"the table's action {action_arr.tolist()} at state {state_arr[:nd].tolist()} lies "
                         f"outside the action space [{np.asarray(kernel.act_low).tolist()}, "
                         f"{np.asarray(kernel.act_high).tolist()}].")


def compact_table(table):
    """The table as int16 (TABLE_MISSING where it holds no decision) when every decision is an integer that
    int16 holds exactly (and no -0.0, whose sign a conversion would lose); else False. One action column only.

    ``rollout_table(..., compact=compact_table(table))`` skips computing it again on every call.
    """
    table_arr = np.ascontiguousarray(table, dtype=np.float64)
    if table_arr.shape[table_arr.ndim - 1] != 1:
        return False
    flat = table_arr.reshape(-1)
    finite = np.isfinite(flat)
    values = flat[finite]
    if values.size and (np.any(values != np.rint(values)) or np.any(np.abs(values) > 32767)
                        or np.any(np.signbit(values) & (values == 0))):
        return False
    compact = np.full(flat.shape[0], TABLE_MISSING, dtype=np.int16)
    compact[finite] = values.astype(np.int16)
    return compact
