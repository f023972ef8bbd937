"""Benchmarks of Tidings components, run as modules: python -m benchmarks.<name>."""
