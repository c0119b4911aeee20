r"""Recipes: training scripts that maximise or minimise MI (``python -m recipes.NAME``),
``common/`` (what they share) and ``benchmarks/``."""
