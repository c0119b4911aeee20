r"""Checks of recipe settings, run before anything touches the disk.

Each factory returns a ``check(value)`` that raises a ``ValueError`` whose message completes
the flag's name (``"must lie in (0, 1), got 2.0"``); :func:`validate` applies a table of
them and prefixes the flag, so the command line reports ``--rate must lie in (0, 1), got
2.0``. A check goes in a field's ``option(..., check=...)`` or in a table given to
:func:`validate` from a config's ``__post_init__`` (the place for checks of fields that
subclasses redeclare, and for checks that relate two fields).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Settings:
    ...     rate: float = 0.8
    >>> validate(Settings(rate=2.0), {"rate": in_interval(0, 1)})
    Traceback (most recent call last):
    ...
    ValueError: --rate must lie in (0, 1), got 2.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "Check",
    "validate",
    "at_least",
    "positive",
    "non_negative",
    "in_interval",
    "each",
    "one_of",
    "penalty_weights",
    "estimator_name",
    "available_device",
    "run_folder",
]

Check = Callable[[Any], None]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(config: Any, checks: Mapping[str, Check]) -> None:
    r"""Applies ``checks[name]`` to each attribute ``name`` of ``config`` that is not ``None``.

    Arguments:
        config: A settings object (a dataclass instance).
        checks: Field name to check.

    Raises:
        ValueError: The first failed check, as ``--flag <message>``.

    Example:
        >>> from types import SimpleNamespace
        >>> validate(SimpleNamespace(steps=0), {"steps": at_least(1)})
        Traceback (most recent call last):
        ...
        ValueError: --steps must be at least 1, got 0
    """
    for name, check in checks.items():
        value = getattr(config, name)
        if value is None:
            continue
        try:
            check(value)
        except ValueError as error:
            raise ValueError(f"{_flag(name)} {error}") from None


def at_least(minimum: int) -> Check:
    r"""A check that a count is at least ``minimum``.

    Arguments:
        minimum: The smallest valid value.

    Returns:
        The check.

    Example:
        >>> at_least(2)(1)
        Traceback (most recent call last):
        ...
        ValueError: must be at least 2, got 1
    """

    def check(value: int) -> None:
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")

    return check


def positive(value: float) -> None:
    r"""Raises a ``ValueError`` unless ``value`` is a finite number above 0.

    Example:
        >>> positive(0.0)
        Traceback (most recent call last):
        ...
        ValueError: must be positive, got 0.0
    """
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be positive, got {value}")


def non_negative(value: float) -> None:
    r"""Raises a ``ValueError`` unless ``value`` is a finite number of at least 0.

    Example:
        >>> non_negative(-1.0)
        Traceback (most recent call last):
        ...
        ValueError: must be non-negative, got -1.0
    """
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"must be non-negative, got {value}")


def in_interval(low: float, high: float, closed: str = "neither") -> Check:
    r"""A check that a number lies between ``low`` and ``high``.

    Arguments:
        low: The lower end.
        high: The upper end.
        closed: Which ends belong to the interval: ``"neither"``, ``"left"``,
            ``"right"`` or ``"both"``.

    Returns:
        The check.

    Example:
        >>> in_interval(0, 1, closed="left")(1.0)
        Traceback (most recent call last):
        ...
        ValueError: must lie in [0, 1), got 1.0
    """
    if closed not in ("neither", "left", "right", "both"):
        raise ValueError(f"closed must be neither, left, right or both, got {closed!r}")
    left, right = closed in ("left", "both"), closed in ("right", "both")
    shown = f"{'[' if left else '('}{low:g}, {high:g}{']' if right else ')'}"

    def check(value: float) -> None:
        above = value >= low if left else value > low
        below = value <= high if right else value < high
        if not (math.isfinite(value) and above and below):
            raise ValueError(f"must lie in {shown}, got {value}")

    return check


def each(check: Check) -> Check:
    r"""A check that a list setting is not empty and that ``check`` accepts each of its items.

    Arguments:
        check: The check of one item.

    Returns:
        The check of the list.

    Example:
        >>> each(positive)((1.0, 0.0))
        Traceback (most recent call last):
        ...
        ValueError: must list values that are each positive, got 0.0
    """

    def check_all(values: Sequence[Any]) -> None:
        if not values:
            raise ValueError("must list at least one value")
        for value in values:
            try:
                check(value)
            except ValueError as error:
                message = str(error)
                if message.startswith("must be "):
                    raise ValueError(f"must list values that are each {message.removeprefix('must be ')}") from None
                raise ValueError(f"must list values each of which {message}") from None

    return check_all


def one_of(names: Sequence[str]) -> Check:
    r"""A check that a list setting names distinct items of ``names``, at least one.

    Arguments:
        names: The valid names.

    Returns:
        The check.

    Example:
        >>> one_of(("linear", "mlp"))(("linear", "svm"))
        Traceback (most recent call last):
        ...
        ValueError: must list distinct names from linear, mlp, got ['linear', 'svm']
    """

    def check(values: Sequence[str]) -> None:
        values = list(values)
        if not values or any(v not in names for v in values) or len(set(values)) != len(values):
            raise ValueError(f"must list distinct names from {', '.join(names)}, got {values}")

    return check


def penalty_weights(weights: Sequence[float]) -> None:
    r"""Raises a ``ValueError`` unless ``weights`` is a non-empty list of distinct, finite,
    non-negative penalty weights.

    Example:
        >>> penalty_weights((0.0, -1.0))
        Traceback (most recent call last):
        ...
        ValueError: must list non-negative weights, got [0.0, -1.0]
    """
    weights = list(weights)
    if not weights:
        raise ValueError("must list at least one weight, such as 0,1,3")
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(f"must list non-negative weights, got {weights}")
    if len(set(weights)) != len(weights):
        raise ValueError(f"must list distinct weights, got {weights}")


def estimator_name(name: str) -> None:
    r"""Raises a ``ValueError`` unless ``name`` is an estimator of :func:`mist_reg.list_estimators`.

    Example:
        >>> estimator_name("mine")
        >>> estimator_name("bogus")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: names no mist_reg estimator: 'bogus'; valid names: ...
    """
    from mist_reg import list_estimators

    names = list_estimators()
    if name not in names:
        raise ValueError(f"names no mist_reg estimator: {name!r}; valid names: {', '.join(names)}")


def available_device(name: str) -> None:
    r"""Raises a ``ValueError`` unless ``name`` is ``auto``, ``cpu``, or a ``cuda``,
    ``cuda:N`` or ``mps`` device that this machine has.

    Example:
        >>> available_device("cpu")
        >>> available_device("gpu")
        Traceback (most recent call last):
        ...
        ValueError: must be auto, cpu, cuda, cuda:N (N a GPU index) or mps, got 'gpu'
    """
    match = re.fullmatch(r"(auto|cpu|cuda|mps)(?::(\d+))?", name)
    if match is None or (match.group(2) is not None and match.group(1) != "cuda"):
        raise ValueError(f"must be auto, cpu, cuda, cuda:N (N a GPU index) or mps, got {name!r}")
    kind, index = match.group(1), match.group(2)
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} asks for CUDA, which is not available here; use --device auto or cpu")
        if index is not None and int(index) >= torch.cuda.device_count():
            raise ValueError(f"{name} asks for GPU {index}, but {torch.cuda.device_count()} are visible")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("mps asks for MPS, which is not available here; use --device auto or cpu")


def _protected(path: Path) -> str | None:
    resolved, cwd = path.resolve(), Path.cwd().resolve()
    if resolved == cwd:
        return "is the working directory"
    if resolved in cwd.parents:
        return "is a folder above the working directory"
    if resolved == Path.home().resolve():
        return "is the home directory"
    return None


def run_folder(path: str | Path) -> None:
    r"""Raises a ``ValueError`` when ``path`` cannot be a run folder: it names a file, the
    working directory, a folder above it, or the home directory (a run folder is a
    sub-folder of its own, such as ``runs/NAME``).

    Example:
        >>> run_folder("runs/example")
        >>> run_folder(".")
        Traceback (most recent call last):
        ...
        ValueError: . is the working directory; give a folder of the run's own, such as runs/NAME
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} is a file, not a folder; give a folder for the run, such as runs/NAME")
    problem = _protected(path)
    if problem is not None:
        raise ValueError(f"{path} {problem}; give a folder of the run's own, such as runs/NAME")
