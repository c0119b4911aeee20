"""Named tasks: the catalogue behind :func:`get_task` and the default benchmark suite."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from mist_reg.tasks.base import Task, _check_float, _check_int
from mist_reg.tasks.families import FAMILY_FACTORIES
from mist_reg.tasks.gaussian import GaussianTask, StudentTTask, dense_gaussian, sparse_gaussian
from mist_reg.tasks.transforms import TransformedTask, cube, half_cube, normal_cdf, spiral

__all__ = ["staircase", "independent", "TASKS", "BENCHMARK_SUITE", "get_task", "list_tasks"]


def _rho_for_mi(mi: float, n_pairs: int = 1) -> float:
    # A correlation coefficient r between two unit Gaussians carries -0.5*log(1 - r**2) nats;
    # a dense block behaves like one pair with r = rho * sqrt(dim_x * dim_y).
    return math.sqrt(-math.expm1(-2 * mi) / n_pairs)


def staircase(level: float, cubic: bool = False, dim: int = 20) -> Task:
    r"""Gaussian staircase: ``dim`` independent (x_i, y_i) pairs sharing ``level`` nats in total.

    Arguments:
        level: Total mutual information in nats (> 0).
        cubic: If true, apply ``y -> y**3`` (MI unchanged).
        dim: Dimension of x and of y.

    Example:
        >>> round(staircase(4).mutual_information, 9), staircase(4, cubic=True).name
        (4.0, 'staircase-cubic-4')
    """
    level = _check_float(level, "level")
    if level <= 0:
        raise ValueError(f"level must be positive, got {level}")
    dim = _check_int(dim, "dim")
    base = sparse_gaussian(dim, dim, dim, _rho_for_mi(level / dim), name=f"staircase-{level:g}")
    return TransformedTask(base, transform_y=cube, name=f"staircase-cubic-{level:g}") if cubic else base


def independent(dim_x: int, dim_y: int) -> GaussianTask:
    r"""Independent standard normal x and y (MI = 0).

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.

    Example:
        >>> independent(3, 2).mutual_information
        0.0
    """
    task = sparse_gaussian(dim_x, dim_y, 0, 0.0, name=f"independent-{dim_x}x{dim_y}")
    task.description = "independent standard normal x and y"
    return task


_gaussian_5x5 = partial(dense_gaussian, 5, 5, _rho_for_mi(1.0, 25))

TASKS: dict[str, Callable[[], Task]] = {
    "gaussian-5x5": _gaussian_5x5,
    "gaussian-25x25": partial(dense_gaussian, 25, 25, _rho_for_mi(1.5, 625)),
    "gaussian-50x50": partial(dense_gaussian, 50, 50, _rho_for_mi(1.6, 2500)),
    "gaussian-sparse-25x25": partial(sparse_gaussian, 25, 25, 2, _rho_for_mi(0.5)),
    "student-t-5x5": partial(StudentTTask, torch.eye(10), 5, 2.0),
    "half-cube-5x5": lambda: TransformedTask(_gaussian_5x5(), half_cube, half_cube, "half-cube-5x5"),
    "normal-cdf-5x5": lambda: TransformedTask(_gaussian_5x5(), normal_cdf, normal_cdf, "normal-cdf-5x5"),
    "spiral-5x5": lambda: TransformedTask(_gaussian_5x5(), spiral(0.5), None, "spiral-5x5"),
    **{f"staircase-{k}": partial(staircase, k) for k in (2, 4, 6, 8, 10)},
    **{f"staircase-cubic-{k}": partial(staircase, k, True) for k in (2, 4, 6, 8, 10)},
    "independent-5x5": partial(independent, 5, 5),
    **FAMILY_FACTORIES,
}
"""Registered task factories, by name (the families of :mod:`mist_reg.tasks.families` included)."""

BENCHMARK_SUITE: tuple[str, ...] = (
    "gaussian-5x5",
    "gaussian-sparse-25x25",
    "gaussian-25x25",
    "student-t-5x5",
    "half-cube-5x5",
    "normal-cdf-5x5",
    "spiral-5x5",
    "staircase-2",
    "independent-5x5",
)
"""Default benchmark: small (at most 25-d) tasks covering every task family."""


def list_tasks() -> list[str]:
    r"""Names of all registered tasks.

    Example:
        >>> "gaussian-5x5" in list_tasks()
        True
    """
    return list(TASKS)


def get_task(name: str) -> Task:
    r"""Build a registered task by name.

    Arguments:
        name: A name from :func:`list_tasks`.

    Example:
        >>> get_task("staircase-2").dim_x
        20
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(TASKS)}")
    return TASKS[name]()
