"""Plain-Python reference dynamics, used only to test the kernels and twins (and as the benchmarks' baseline)."""
