"""Benchmarks of Tidings: `python -m benchmarks` runs the performance suite and prints one table; single
components run as modules, e.g. `python -m benchmarks.extraction`."""
