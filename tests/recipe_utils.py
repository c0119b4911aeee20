"""Helpers of the recipe tests: the recipes package (``recipes.*``, importable from the
repository root, which pytest puts on the import path) and the environment of recipe
subprocesses."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"


def load_recipe(name: str) -> ModuleType:
    """The module ``recipes.<name>`` (``"fairness"``, ``"benchmarks.penalty_cost"``, ...)."""
    return importlib.import_module(f"recipes.{name}")


def recipe_command(name: str) -> list[str]:
    """The command line that runs ``recipes.<name>`` (``python -m recipes.<name>``)."""
    import sys

    return [sys.executable, "-m", f"recipes.{name}"]


def subprocess_env() -> dict[str, str]:
    """The environment of recipe subprocesses: one thread each, the repository importable."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = str(ROOT)
    env["PYTHONPATH"] = root + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else root
    return env
