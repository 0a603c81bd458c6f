# SPDX-License-Identifier: MIT
# One env's whole run in a compiled rollout, declared once: its stream and state row copied into the loop's
# locals at the start and written back at the end, with its part totals. Every scenario's rollout calls these.

from libc.stdint cimport uint64_t


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
