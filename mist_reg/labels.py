r"""Class labels: any codes (integers such as ``{1990, 1991}``, booleans, strings, floats that
are whole codes) mapped to class indices ``0 .. K-1``, with errors that name the bad value.

A label is a code, not a number: ``{0, 100}`` and ``{0, 1}`` are the same two classes, and
a model of ``q(y | x)`` needs the index of each class, not its code.

Example:
    >>> import torch
    >>> labels = encode_labels([1990, 1991, 1990], "s")
    >>> labels.indices, labels.classes
    (tensor([0, 1, 0]), [1990, 1991])
    >>> encode_labels(["b", "a", "b"], "y").indices
    tensor([1, 0, 1])
    >>> encode_labels(torch.tensor([0.0, float("inf")]), "y")
    Traceback (most recent call last):
    ...
    ValueError: y holds the non-finite label inf at row 1; class labels must be finite codes
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["Labels", "encode_labels"]


@dataclass(frozen=True)
class Labels:
    r"""Class indices and the codes they stand for.

    Attributes:
        indices: ``[N]`` int64 class indices in ``0 .. K-1`` (on the device of a tensor input).
        classes: The ``K`` distinct codes, sorted; ``classes[k]`` is the code of class ``k``.
    """

    indices: Tensor
    classes: list[Any]

    @property
    def n_classes(self) -> int:
        r"""The number of distinct classes ``K``."""
        return len(self.classes)


def _as_numpy_column(values: Any, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        if values.device.type == "meta":
            raise ValueError(f"{name} is on the meta device, which holds no values; pass a tensor with data")
        array = values.detach().cpu().numpy()
    else:
        array = np.asarray(values, dtype=object if _has_strings(values) else None)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be one label per sample, shape [N] or [N, 1], got shape {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty; class labels need at least one sample")
    return array


def _has_strings(values: Any) -> bool:
    return isinstance(values, (list, tuple)) and any(isinstance(v, (str, bytes)) for v in values)


def encode_labels(values: Any, name: str = "y") -> Labels:
    r"""Maps class codes to class indices ``0 .. K-1`` (codes sorted, so the order is stable).

    Arguments:
        values: ``[N]`` or ``[N, 1]`` codes: a tensor, numpy array or list of integers,
            booleans, strings or floats with whole values.
        name: The argument's name, for error messages.

    Returns:
        The :class:`Labels`: int64 indices (on the device of a tensor input) and the codes.

    Raises:
        ValueError: On NaN or infinite codes, fractional float codes, an empty or
            multi-column input, or a tensor on the meta device.

    Example:
        >>> encode_labels([0, 100, 100000]).indices
        tensor([0, 1, 2])
        >>> encode_labels([0.5, 1.0], "s")
        Traceback (most recent call last):
        ...
        ValueError: s holds the fractional value 0.5 at row 0; class labels must be whole codes (or treat s as continuous)
    """
    device = values.device if isinstance(values, Tensor) else torch.device("cpu")
    array = _as_numpy_column(values, name)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} holds the non-finite label {array[row]} at row {row}; class labels must be finite codes"
            )
        fractional = array != np.round(array)
        if fractional.any():
            row = int(np.flatnonzero(fractional)[0])
            raise ValueError(
                f"{name} holds the fractional value {array[row]} at row {row}; class labels must be whole codes "
                f"(or treat {name} as continuous)"
            )
    elif array.dtype.kind == "O":
        for row, value in enumerate(array):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(
                    f"{name} holds the non-finite label {value} at row {row}; class labels must be finite codes"
                )
        try:
            classes_array, inverse = np.unique(array.astype(str), return_inverse=True)
        except TypeError as error:  # pragma: no cover - unhashable codes
            raise ValueError(f"{name} holds codes that cannot be compared: {error}") from None
        classes = [c.item() if hasattr(c, "item") else c for c in classes_array]
        return Labels(torch.as_tensor(inverse.reshape(-1), dtype=torch.int64, device=device), classes)
    elif array.dtype.kind not in "biuU":
        raise ValueError(f"{name} has dtype {array.dtype}, which is not a class code (integers, booleans, strings)")
    classes_array, inverse = np.unique(array, return_inverse=True)
    if array.dtype.kind == "f":
        classes_array = classes_array.astype(np.int64) if np.abs(classes_array).max() < 2**62 else classes_array
    classes = [c.item() if hasattr(c, "item") else c for c in classes_array]
    return Labels(torch.as_tensor(inverse.reshape(-1), dtype=torch.int64, device=device), classes)
