r"""Samples of ``x`` and ``y`` read with their column types (:mod:`mist_reg.estimation.column_types`)
into the float features a model sees: :func:`read_pair`.

A continuous column passes as it is (a later per-coordinate map, fitted on training rows,
Gaussianises it); a discrete column becomes indicator columns, one per value but the
first (dummy coding: the values are codes, so no order or distance between them is
implied, and no column is a linear function of the others). Test samples, when given, are
read with the training samples so that a value gets the same code in both.

Example:
    >>> import torch
    >>> x = torch.stack([torch.randn(100), torch.arange(100.0) % 3], 1)  # a measurement, a code
    >>> pair = read_pair(x, torch.randint(0, 2, (100,)))
    >>> pair.x_types.discrete, pair.x.shape, pair.n_continuous_x, pair.y_types.categorical
    ((1,), torch.Size([100, 3]), 1, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mist_reg.checks import WideCentring, as_samples, check_pair
from mist_reg.estimation.column_types import Declared, SideTypes, numeric_columns, read_side

__all__ = ["TypedPair", "read_pair", "indicators"]


@dataclass(frozen=True)
class TypedPair:
    r"""Samples with their column types, as features.

    Attributes:
        x: ``[N, c_x + e_x]`` float32 features of x: its ``c_x`` continuous columns, then
            the indicator columns of its discrete ones; the rows of ``x_test`` follow those
            of ``x``.
        y: The same for y.
        x_types: The column types of x (over the rows of ``x`` and ``x_test``).
        y_types: The column types of y.
        n_continuous_x: ``c_x``, the number of continuous columns leading ``x``.
        n_continuous_y: ``c_y``.
        n_train: The number of rows that came from ``x`` (the rest from ``x_test``).
    """

    x: Tensor
    y: Tensor
    x_types: SideTypes
    y_types: SideTypes
    n_continuous_x: int
    n_continuous_y: int
    n_train: int

    @property
    def has_test(self) -> bool:
        r"""Whether held-out rows were given."""
        return self.x.shape[0] > self.n_train


def indicators(types: SideTypes) -> Tensor:
    r"""``[N, sum(levels) - len(levels)]`` float32 indicator columns of the discrete columns
    (one per value but the first).

    Example:
        >>> from mist_reg.estimation.column_types import read_side
        >>> indicators(read_side(torch.tensor([0, 2, 1, 2] * 10), "y"))[:4].tolist()
        [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    """
    n = types.codes.shape[0]
    blocks = [
        torch.nn.functional.one_hot(types.codes[:, j], levels)[:, 1:].float() for j, levels in enumerate(types.levels)
    ]
    return torch.cat(blocks, 1) if blocks else torch.zeros(n, 0)


def _numeric(values: Any) -> bool:
    if isinstance(values, Tensor):
        return True
    if isinstance(values, np.ndarray):
        return values.dtype.kind not in "OUS"
    if isinstance(values, (list, tuple)):
        return not any(isinstance(v, (str, bytes)) for v in np.asarray(values, dtype=object).reshape(-1)[:1000])
    return True


def _side(train: Any, test: Any, name: str, declared: Declared) -> tuple[Tensor, SideTypes, int, int]:
    """Features, types, the number of continuous columns and of training rows of one side."""
    centring = WideCentring()
    parts = [(v, label) for v, label in ((train, name), (test, f"{name}_test")) if v is not None]
    numeric = [as_samples(v, label, centring) if _numeric(v) else None for v, label in parts]
    raw = train if test is None else _stack(train, test, name)
    types = read_side(raw, name, declared)
    n_train = len(train) if not isinstance(train, Tensor) else train.shape[0]
    continuous = list(types.continuous)
    values = None
    if continuous and all(v is not None for v in numeric):
        values = torch.cat(numeric, 0)[:, continuous]
    elif continuous:  # a table mixing strings and numbers: its numeric columns, taken out one by one
        centring = WideCentring()
        values = torch.cat([as_samples(numeric_columns(v, label, continuous), label, centring) for v, label in parts])
    device = values.device if values is not None else (train.device if isinstance(train, Tensor) else None)
    coded = indicators(types).to(device) if device is not None else indicators(types)
    features = coded if values is None else torch.cat([values, coded.to(values.device)], 1)
    return features, types, len(continuous), n_train


def _stack(train: Any, test: Any, name: str) -> Any:
    def as_array(v: Any) -> np.ndarray:
        array = v.detach().cpu() if isinstance(v, Tensor) else v
        if isinstance(array, Tensor) and array.dtype in (torch.float16, torch.bfloat16):
            array = array.float()
        array = np.asarray(array)
        if array.dtype.kind in "US" and isinstance(v, (list, tuple)):  # rows mixing strings and numbers
            array = np.asarray(v, dtype=object)
        return array[:, None] if array.ndim == 1 else array

    a, b = as_array(train), as_array(test)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"{name}_test has {b.shape[-1]} features but {name} has {a.shape[-1]}")
    return np.concatenate([a, b], 0)


def read_pair(
    x: Any,
    y: Any,
    x_test: Any = None,
    y_test: Any = None,
    discrete_x: Declared = None,
    discrete_y: Declared = None,
) -> TypedPair:
    r"""Reads ``x`` and ``y`` (and held-out ``x_test``, ``y_test``) with their column types.

    Arguments:
        x: ``[N]`` or ``[N, d_x]`` samples (tensor, numpy array or list; strings allowed in
            discrete columns).
        y: ``[N]`` or ``[N, d_y]`` samples paired row by row with ``x``.
        x_test: Held-out samples of x, or ``None``.
        y_test: Held-out samples of y, paired with ``x_test``.
        discrete_x: The type override of x (see :data:`mist_reg.estimation.column_types.Declared`).
        discrete_y: The type override of y.

    Returns:
        The :class:`TypedPair`.

    Raises:
        ValueError: For unpaired rows, test data of another width, or the errors of
            :func:`mist_reg.checks.as_samples` and :func:`mist_reg.estimation.column_types.read_side`.

    Example:
        >>> pair = read_pair(["a", "b"] * 50, [0, 1] * 50)
        >>> pair.x_types.categorical, pair.y_types.categorical, pair.x.shape
        (True, True, torch.Size([100, 1]))
    """
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    x_features, x_types, c_x, n_train = _side(x, x_test, "x", discrete_x)
    y_features, y_types, c_y, n_train_y = _side(y, y_test, "y", discrete_y)
    check_pair(x_features[:n_train], y_features[:n_train_y])
    n_test_x, n_test_y = x_features.shape[0] - n_train, y_features.shape[0] - n_train_y
    if n_test_x != n_test_y:
        raise ValueError(f"x_test and y_test must hold the same number of samples, got {n_test_x} and {n_test_y}")
    return TypedPair(x_features, y_features, x_types, y_types, c_x, c_y, n_train)
