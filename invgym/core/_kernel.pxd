# SPDX-License-Identifier: MIT
# The batch-kernel base class that every scenario kernel extends (declared once, cimported by each scenario).

cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t

from invgym.core._demand cimport sample_alias


cdef enum:
    TABLE_UNSUPPORTED = -2  # table_rollout's answer when the scenario has no loop of its own for the table
    TABLE_MISSING = -32768  # a compact (int16) table's mark for a state without a decision (NaN in the table)
    STEP_UNSUPPORTED = -2  # step_envs's answer when the scenario has no batch-step loop of its own for the case
    STEP_SLOW = -3  # step_actions's answer for actions its fast path does not take (nothing copied or moved)


cdef class BatchKernel:
    # === Shape ===
    cdef readonly Py_ssize_t num_envs
    cdef readonly Py_ssize_t obs_dim
    cdef readonly Py_ssize_t act_dim
    cdef readonly Py_ssize_t num_parts
    cdef readonly int64_t horizon
    cdef readonly bint same_step
    cdef readonly bint replay
    cdef readonly tuple init_args
    cdef dict _arrays

    # === Per-env streams and clocks ===
    cdef uint64_t[:, ::1] rng
    cdef int64_t[::1] t
    cdef unsigned char[::1] needs_reset

    # === Demand: a bank of alias tables (one row per product); env i uses row product[i] ===
    cdef double[:, ::1] alias_prob
    cdef int32_t[:, ::1] alias_idx
    cdef int64_t[::1] support
    cdef int64_t[::1] product
    cdef double[:, ::1] demand_path

    # === Action bounds (checked before any env moves) ===
    cdef double[::1] act_low
    cdef double[::1] act_high

    # === Caller-owned output buffers (bound once) ===
    cdef bint bound
    cdef float[:, ::1] obs
    cdef float[:, ::1] final_obs
    cdef double[::1] rewards
    cdef unsigned char[::1] terminated
    cdef unsigned char[::1] truncated
    cdef unsigned char[::1] finished
    cdef double[:, ::1] parts
    cdef bint has_parts_t
    cdef double[:, ::1] parts_t
    cdef readonly Py_ssize_t num_finished
    cdef double[:, ::1] actions

    # === Scenario hooks (overridden by each scenario kernel) ===
    cdef void reset_env(self, Py_ssize_t i) noexcept nogil
    cdef void step_env(self, Py_ssize_t i, const double* action) noexcept nogil
    cdef void write_obs(self, Py_ssize_t i, float* out) noexcept nogil
    # A scenario's own compiled loop for a plain lookup-table policy (state = the first ``nd`` columns); the base
    # returns TABLE_UNSUPPORTED and the generic loop of invgym.core._rollout_table runs instead.
    cdef Py_ssize_t table_rollout(self, const double* flat, const int16_t* small, const int64_t* offs,
                                  const int64_t* dims, const int64_t* strides, Py_ssize_t nd,
                                  double position_bound, double discount, int64_t periods, int64_t warmup,
                                  double* totals, int64_t* state, int* reason) noexcept nogil
    # A scenario's own loop over every env for one batch step (the actions already checked), with the numbers
    # of the generic loop in ``_advance``; returns the envs that finished (same-step), or STEP_UNSUPPORTED (the
    # base's answer) for the generic loop to run instead.
    cdef Py_ssize_t step_envs(self) noexcept nogil

    # === Shared helpers ===
    @cython.final
    cdef void start_episode(self, Py_ssize_t i) noexcept nogil
    @cython.final
    cdef void restart_env(self, Py_ssize_t i) noexcept nogil


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef inline double draw_demand(BatchKernel k, Py_ssize_t i, int64_t period, uint64_t* rng) noexcept nogil:
    # Env i's demand in ``period``: replayed when a path is set (the caller has checked its length), else one
    # alias draw from env i's product with the stream ``rng`` (env i's own, or a local copy of it in a rollout).
    # Inline here, so every scenario's loop compiles the draw into itself instead of calling across modules.
    cdef int64_t p
    if k.replay:
        return k.demand_path[i, period]
    p = k.product[i]
    return sample_alias(rng, &k.alias_prob[p, 0], &k.alias_idx[p, 0], k.support[p])
