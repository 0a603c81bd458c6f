"""Throughput benchmarks (run as python -m bench.<stem>); never tests."""
