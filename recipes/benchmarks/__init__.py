r"""Benchmarks: scripts that print figures (accuracy, wall time, memory) against a named
reference measured in the same run; run each with ``python -m recipes.benchmarks.NAME``.
The docs cite the results they keep under ``results/``."""
