# SPDX-License-Identifier: MIT
# Demand sampling shared by every kernel: Walker's alias method over a truncated pmf on {0, ..., K-1}.
# Every demand model in invgym.demand compiles to such a table, so kernels know one sampler only.
# Reference: Vose (1991), "A linear algorithm for generating random numbers with a given distribution", IEEE TSE.

from invgym.core._rng cimport rng_uniform
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef inline double sample_alias(uint64_t* rng, const double* prob, const int32_t* alias,
                                Py_ssize_t k) noexcept nogil:
    # One uniform picks a column and, by its fractional part, the column's own value or its alias.
    cdef double u = rng_uniform(rng) * k
    cdef Py_ssize_t j = <Py_ssize_t>u
    if j >= k:
        j = k - 1
    # Both candidates are read and the choice is made with a mask, so it compiles to a select, not a branch
    # (the outcome is random: a branch on it is mispredicted often).
    cdef int64_t keep = -<int64_t>(u - j < prob[j])  # all ones: the column's own value; zero: its alias
    return <double>((j & keep) | (<int64_t>alias[j] & ~keep))
