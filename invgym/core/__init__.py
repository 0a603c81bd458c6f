"""Compiled kernels: one Cython module per scenario over the shared BatchKernel."""
