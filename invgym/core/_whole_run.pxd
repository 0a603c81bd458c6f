# SPDX-License-Identifier: MIT
# One env's whole run in a compiled rollout, declared once: its stream and state row copied into the loop's
# locals at the start and written back at the end, with its part totals. Every scenario's rollout calls these.
# ``RunEnv`` is the head of every scenario's whole-run struct (its first field, by value), filled by ``fill_run_env``;
# each scenario's struct adds only its own parameters.

cimport cython
from libc.stdint cimport int32_t, int64_t, uint64_t

from invgym.core._kernel cimport BatchKernel


cdef struct RunEnv:
    # One env's kernel fields for its whole run, by value.
    uint64_t* rng  # the env's stream in the kernel (read at the start, written back at the end)
    double* x  # the env's state row in the kernel (the same)
    double* totals  # the env's part totals over the counted periods
    Py_ssize_t width  # the state row's length
    int64_t warmup, periods
    const double* path  # the replayed demand, from the run's first period on (NULL: sampled)
    const double* prob  # the env's product's alias table
    const int32_t* alias
    int64_t support


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.initializedcheck(False)
cdef inline void fill_run_env(RunEnv* e, BatchKernel k, Py_ssize_t i, double* x, Py_ssize_t width, int64_t period,
                              int64_t warmup, int64_t periods, double* totals) noexcept nogil:
    # Env i's head for a whole run of ``warmup + periods`` periods: its stream, its state row ``x`` (of length
    # ``width``) and its totals row, and its demand (the replayed path from ``period`` on, or its product's table).
    cdef int64_t pr = k.product[i]
    e.rng = &k.rng[i, 0]
    e.x = x
    e.totals = totals
    e.width = width
    e.warmup, e.periods = warmup, periods
    e.path = &k.demand_path[i, period] if k.replay else NULL
    e.prob = &k.alias_prob[pr, 0]
    e.alias = &k.alias_idx[pr, 0]
    e.support = k.support[pr]


cdef inline void load_run(const uint64_t* env_rng, const double* env_x, Py_ssize_t width, Py_ssize_t num_parts,
                          uint64_t* rng, double* x, double* acc) noexcept nogil:
    # The env's stream and state row into a whole-run loop's locals; its part totals start at zero. In locals,
    # the stores into a parts row cannot make the compiler re-read them every period.
    cdef Py_ssize_t k
    for k in range(4):
        rng[k] = env_rng[k]
    for k in range(width):
        x[k] = env_x[k]
    for k in range(num_parts):
        acc[k] = 0.0


cdef inline void store_run(uint64_t* env_rng, double* env_x, double* env_totals, Py_ssize_t width,
                           Py_ssize_t num_parts, const uint64_t* rng, const double* x,
                           const double* acc) noexcept nogil:
    # A whole-run loop's locals back into the env: its stream, its state row and its part totals.
    cdef Py_ssize_t k
    for k in range(4):
        env_rng[k] = rng[k]
    for k in range(width):
        env_x[k] = x[k]
    for k in range(num_parts):
        env_totals[k] = acc[k]
