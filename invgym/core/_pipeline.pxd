# SPDX-License-Identifier: MIT
# Moves every kernel shares, declared once: the order pipeline's shift at an arrival and the sales window's push.

cdef inline double shift_pipeline(double* pipeline, Py_ssize_t n, double order) noexcept nogil:
    # pipeline[0..n-1] holds the outstanding orders oldest first. The oldest arrives (it is returned), the rest
    # move up one place and this period's order joins at the end. With n = 0 (lead time 1) the order itself
    # arrives at the start of the next period.
    cdef Py_ssize_t k
    cdef double arriving
    if n == 0:
        return order
    arriving = pipeline[0]
    for k in range(n - 1):
        pipeline[k] = pipeline[k + 1]
    pipeline[n - 1] = order
    return arriving


cdef inline void push_window(double* window, Py_ssize_t n, double value) noexcept nogil:
    # A window of the last n values oldest first: drop the oldest, append ``value`` as the newest (n may be 0).
    cdef Py_ssize_t k
    if n == 0:
        return
    for k in range(n - 1):
        window[k] = window[k + 1]
    window[n - 1] = value
