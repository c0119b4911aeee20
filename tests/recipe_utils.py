"""Helpers of the recipe tests: importing the recipe scripts and their ``common`` package
from ``recipes/``, whatever the working directory."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
if str(RECIPES) not in sys.path:
    sys.path.insert(0, str(RECIPES))


def load_recipe(name: str) -> ModuleType:
    """The module of ``recipes/<name>.py`` (imported once, under ``recipe_<name>``)."""
    module_name = f"recipe_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def subprocess_env() -> dict[str, str]:
    """The environment of recipe subprocesses: one thread each, the repository importable."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = str(RECIPES.parent)
    env["PYTHONPATH"] = root + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else root
    return env
