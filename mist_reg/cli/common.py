r"""What the subcommands of ``mist-reg`` share: the usage error, argument types, checks of
names and devices, and JSON output (non-finite numbers become ``null``).

Example:
    >>> finite({"estimate": float("inf"), "folds": [1.0, float("nan")]})
    {'estimate': None, 'folds': [1.0, None]}
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TextIO, TypeVar

import torch

from mist_reg.estimation.estimate import DEFAULT_ESTIMATOR, ESTIMATE_NAMES, KSG, TRAINED_DEFAULT
from mist_reg.estimators.registry import ESTIMATORS, list_estimators, normalize_name

__all__ = [
    "PROG",
    "CommandError",
    "ESTIMATOR_HELP",
    "positive_int",
    "fraction",
    "parameter",
    "finite",
    "jsonable",
    "dump",
    "check_estimator",
    "check_device",
    "check_folds",
    "run_quietly",
]

PROG = "mist-reg"
ESTIMATOR_HELP = (
    f"'{DEFAULT_ESTIMATOR}' ({KSG} for one-dimensional continuous x and y given no training option, "
    f"else {TRAINED_DEFAULT}), '{KSG}', or a registered estimator (see 'mist-reg estimators')"
)
T = TypeVar("T")


class CommandError(Exception):
    r"""Bad input to a command: reported on one line, exit code 2."""


def positive_int(text: str) -> int:
    r"""An argument type: a positive integer.

    Example:
        >>> positive_int("3")
        3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def column_types(text: str) -> bool | list[int] | None:
    r"""An argument type for ``--discrete-x`` / ``--discrete-y``: ``auto`` (read the types from
    the data), ``yes`` / ``no`` (every column discrete / continuous) or column positions
    within the selected variable (``0,2``), the ones that are discrete.

    Example:
        >>> column_types("auto"), column_types("yes"), column_types("0,2")
        (None, True, [0, 2])
    """
    named = {"auto": None, "yes": True, "no": False}
    if text in named:
        return named[text]
    try:
        columns = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected auto, yes, no or column positions such as 0,2; got {text!r}"
        ) from None
    if any(c < 0 for c in columns):
        raise argparse.ArgumentTypeError(f"column positions count from 0, got {text!r}")
    return columns


def fraction(text: str) -> float:
    r"""An argument type: a number strictly between 0 and 1.

    Example:
        >>> fraction("0.3")
        0.3
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text!r}")
    return value


def parameter(text: str) -> tuple[str, Any]:
    r"""An argument type: ``NAME=VALUE`` with a Python literal (``hidden_dims=[64,64]``)
    or a bare word (``critic_type=joint``) as the value.

    Example:
        >>> parameter("hidden_dims=[8, 8]")
        ('hidden_dims', [8, 8])
        >>> parameter("hidden_dims=[8")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: cannot read the value of hidden_dims: '[8' is not a Python literal (a bracket or quote left open?); write e.g. hidden_dims=[64,64]
    """
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. hidden_dims=[64,64]), got {text!r}")
    name, raw = name.strip(), raw.strip()
    try:
        return name, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        if re.fullmatch(r"[A-Za-z_][\w.-]*", raw):
            return name, raw  # a bare word such as critic_type=joint
        raise argparse.ArgumentTypeError(
            f"cannot read the value of {name}: {raw!r} is not a Python literal (a bracket or quote left open?); "
            f"write e.g. hidden_dims=[64,64]"
        ) from None


def finite(value: Any) -> Any:
    r"""``value`` made JSON-safe: NaN and infinities become ``None`` (JSON's ``null``; an
    exact copy has infinite MI), containers converted recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    r"""``value`` when JSON can hold it, else its ``repr``.

    Example:
        >>> jsonable([1, 2]), jsonable(object)
        ([1, 2], "<class 'object'>")
    """
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def dump(value: Any, out: TextIO) -> None:
    r"""Writes ``value`` to ``out`` as indented JSON (non-finite numbers as ``null``)."""
    out.write(json.dumps(finite(value), indent=2, allow_nan=False) + "\n")


def check_estimator(name: str, also: Sequence[str] = ESTIMATE_NAMES) -> None:
    """Refuses a name that is neither registered nor one of ``also`` (by default the
    other names :func:`~mist_reg.estimation.estimate.estimate_mi` takes)."""
    if normalize_name(name) in also:
        return
    if normalize_name(name) not in ESTIMATORS:
        valid = list(also) + list_estimators()
        raise CommandError(f"unknown estimator {name!r}; valid names: {', '.join(valid)}")


def check_device(device: str | None) -> None:
    r"""Raises a :class:`CommandError` unless ``device`` is ``None``, ``cpu`` or a CUDA device of this machine."""
    if device is None:
        return
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise CommandError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if resolved.type not in ("cpu", "cuda"):
        raise CommandError(f"unsupported device {device!r}; use cpu, cuda or cuda:N")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"device {device!r} was asked for but CUDA is not available; use --device cpu")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise CommandError(
            f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )


def check_folds(n_folds: int | None) -> None:
    r"""Raises a :class:`CommandError` unless ``n_folds`` is ``None`` or at least 2."""
    if n_folds is not None and n_folds < 2:
        raise CommandError(f"--n-folds must be at least 2, got {n_folds}")


def run_quietly(fn: Callable[[], T]) -> tuple[T, list[str]]:
    r"""Runs ``fn`` and returns its result and the messages of the RuntimeWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = fn()
    return result, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
