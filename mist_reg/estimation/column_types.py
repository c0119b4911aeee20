r"""Which columns of ``x`` and ``y`` are discrete: the first thing :func:`mist_reg.estimate_mi`
reads, because a code and a measurement need different models.

The rule, per column (``discrete_x=`` / ``discrete_y=`` override it):

* **bool, integer, string or other non-numeric columns are discrete** (class labels,
  categories, counts), unless an integer column takes more than ``N / 10`` distinct values:
  fewer than :data:`MIN_SAMPLES_PER_LEVEL` samples per value leave each value's probability
  unestimable, so such a column (an identifier, a large count) is read as a number, with a
  warning that names the override. Beside other columns, integer columns with more than
  :data:`MAX_FLOAT_LEVELS` values are read as numbers too (one warning per side) when their
  values number more than ``N / 10`` together: a wide side of such columns is a measurement
  (pixel intensities), and as codes each column would become hundreds of indicator columns,
  more than the rows can fit; one category of 30 values beside measurements stays a code.
* **A float column is discrete when it takes at most** :data:`MAX_FLOAT_LEVELS` **distinct
  values**, and at most ``N / 10``: codes stored as floats (``0.``/``1.`` labels, one-hot
  columns, Likert scales). A float measurement with so few values has been quantised so
  coarsely that its atoms dominate: a density model of it is wrong (each atom has infinite
  density), while a categorical model is exact. **A side of one float column whose values
  are all whole numbers** is read as an integer column would be (discrete with at most
  ``N / 10`` distinct values): 50 class labels loaded as ``float64`` are codes whatever their
  dtype. Pass ``discrete_x=False`` for a float column that only looks discrete.

A table whose rows mix strings and numbers (an object array, a list of rows, a pandas
``DataFrame``) is read column by column, each by its values: a column of numbers only
follows the rules above.

A *side* (all of ``x`` or all of ``y``) is **categorical** when every column is discrete and
the joint values of its columns number at most ``N / 10``: it can then be modelled by class
probabilities (:attr:`SideTypes.categorical`).

Example:
    >>> import torch
    >>> x = torch.randn(1000, 2)
    >>> y = torch.randint(0, 3, (1000,))
    >>> read_side(x, "x").discrete, read_side(y, "y").categorical
    ((), True)
    >>> read_side(torch.tensor([0.0, 1.0] * 500), "y").discrete  # a float label
    (0,)
    >>> read_side(torch.tensor([0.0, 1.0] * 500), "y", declared=False).discrete
    ()
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mist_reg.estimation.label_splits import single_row_count

__all__ = [
    "SideTypes",
    "read_side",
    "numeric_columns",
    "table_values",
    "Declared",
    "MAX_FLOAT_LEVELS",
    "MIN_SAMPLES_PER_LEVEL",
]

Declared = bool | Sequence[int] | None
"""``None``: read the types from the data; ``True`` / ``False``: every column discrete /
continuous; a sequence of column indices: exactly those columns discrete."""

MAX_FLOAT_LEVELS = 20
"""A float column with at most this many distinct values is read as discrete."""

MIN_SAMPLES_PER_LEVEL = 10
"""A discrete column (or side) needs this many samples per distinct value on average."""


@dataclass(frozen=True)
class SideTypes:
    r"""The column types of one side (``x`` or ``y``) and the codes of its discrete columns.

    Attributes:
        n_columns: The number of columns.
        discrete: The indices of the discrete columns.
        codes: ``[N, len(discrete)]`` int64 codes ``0 .. levels[j] - 1`` of the discrete
            columns (codes sorted as the values are), on the CPU.
        levels: The number of distinct values of each discrete column.
        joint: ``[N]`` int64 index of each row's combination of discrete values, ``0 ..
            n_joint - 1`` (all zero without discrete columns).
        n_joint: The number of distinct combinations of the discrete columns' values.
        ordered: Whether the side is one discrete column of numbers, whose codes (sorted as
            the values are) are then ordered: counts, ratings, whole years.
    """

    n_columns: int
    discrete: tuple[int, ...]
    codes: Tensor
    levels: tuple[int, ...]
    joint: Tensor
    n_joint: int
    ordered: bool = False

    @property
    def continuous(self) -> tuple[int, ...]:
        r"""The indices of the continuous columns."""
        return tuple(j for j in range(self.n_columns) if j not in self.discrete)

    @property
    def categorical(self) -> bool:
        r"""Whether every column is discrete and the joint values are few enough to model
        by class probabilities (at least ``MIN_SAMPLES_PER_LEVEL`` samples per value)."""
        n = self.joint.shape[0]
        return len(self.discrete) == self.n_columns and self.n_joint * MIN_SAMPLES_PER_LEVEL <= n

    @property
    def label_column(self) -> bool:
        r"""Whether the side is one discrete column with at least two rows per value on average:
        too few rows per value for class probabilities, enough for a classifier, which needs
        a class in two rows to fit and test it (e.g. 1,000 classes of five rows each)."""
        return self.n_columns == 1 and len(self.discrete) == 1 and 2 * self.n_joint <= self.joint.shape[0]


def _as_array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        if values.device.type == "meta":
            raise ValueError(f"{name} is on the meta device, which holds no values; pass a tensor with data")
        array = values.detach().cpu().numpy()
    elif isinstance(values, np.ndarray):
        array = values
    elif isinstance(values, (list, tuple)):
        try:
            array = np.asarray(values)
            if array.dtype.kind in "US":  # rows mixing strings and numbers: keep each value's type
                array = np.asarray(values, dtype=object)
        except ValueError as error:
            raise ValueError(f"{name} is a ragged sequence and cannot form an array: {error}") from None
    else:
        raise TypeError(f"{name} must be a torch.Tensor, numpy.ndarray or list, got {type(values).__name__}")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape [N] or [N, d], got shape {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty; at least 2 samples are needed")
    return array


def table_values(values: Any) -> Any:
    r"""A table object with a ``to_numpy`` method (a pandas ``DataFrame`` or ``Series``) as its
    numpy array (an object array where its columns' dtypes differ); anything else as it is.

    Example:
        >>> table_values([1, 2]), table_values(np.zeros(2)).shape
        ([1, 2], (2,))
    """
    if isinstance(values, (Tensor, np.ndarray)) or not callable(getattr(values, "to_numpy", None)):
        return values
    return values.to_numpy()


def _missing(value: Any) -> bool:
    """Whether a value of an object column stands for a missing one (``None``, NaN, ``pandas.NA``)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA: its comparisons are missing too
        return True
    except ValueError:  # an array in a cell: a value, compared element by element
        return False


def _typed_column(column: np.ndarray) -> np.ndarray:
    """An object column (a table whose rows mix strings and numbers) as the array its values
    make: all booleans -> bool, all other real numbers -> int64 or float64; else unchanged."""
    if column.dtype.kind != "O":
        return column
    values = column.tolist()
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values)
    return column


def numeric_columns(values: Any, name: str, columns: Sequence[int]) -> np.ndarray:
    r"""The ``columns`` of ``values`` (any input :func:`read_side` accepts) as one ``[N, len(columns)]``
    numeric array: how the continuous columns of a side that also holds strings are taken out.

    Raises:
        ValueError: Where one of the columns holds values other than numbers.

    Example:
        >>> table = [(1.5, "cat"), (2.5, "dog"), (0.5, "cat")]
        >>> numeric_columns(table, "x", [0]).ravel().tolist()
        [1.5, 2.5, 0.5]
    """
    array = _as_array(values, name)
    typed = [_typed_column(array[:, j]) for j in columns]
    for j, column in zip(columns, typed):
        if column.dtype.kind not in "biuf":
            raise ValueError(f"column {j} of {name} holds values other than numbers and cannot be continuous")
    return np.stack(typed, axis=1) if typed else np.zeros((array.shape[0], 0))


def _declared_columns(declared: Declared, n_columns: int, name: str) -> set[int] | None:
    if declared is None:
        return None
    if isinstance(declared, (bool, np.bool_)):
        return set(range(n_columns)) if declared else set()
    try:
        columns = [int(j) for j in declared]
    except TypeError:
        raise TypeError(
            f"discrete_{name} must be None, True, False or a sequence of column indices, got {declared!r}"
        ) from None
    bad = [j for j in columns if not -n_columns <= j < n_columns]
    if bad:
        raise ValueError(f"discrete_{name} names column {bad[0]}, but {name} has {n_columns} column(s)")
    return {j % n_columns for j in columns}


def _is_discrete(column: np.ndarray, n_levels: int, n: int, alone: bool) -> bool:
    kind = column.dtype.kind
    if kind == "b" or kind in "OUS":
        return True
    if n_levels * MIN_SAMPLES_PER_LEVEL > n:
        return False
    if n_levels <= MAX_FLOAT_LEVELS:
        return True
    # many values: a lone column of whole numbers, whatever its dtype, is a label (labels read from
    # a CSV file as floats); in a wider side it is an ordered measurement (pixel intensities)
    return alone and (kind in "iu" or bool(np.all(column == np.round(column))))


def _distinct_counts(array: np.ndarray) -> np.ndarray | None:
    """Each column's number of distinct values, every column sorted at once; ``None`` where
    the array is not numeric, is empty or holds NaN (the column-by-column path reads those,
    and names the column and row of a NaN)."""
    if array.dtype.kind not in "biuf" or array.shape[0] == 0 or (array.dtype.kind == "f" and np.isnan(array).any()):
        return None
    ranked = np.sort(array, axis=0)
    return 1 + (ranked[1:] != ranked[:-1]).sum(0)


def _unique_codes(column: np.ndarray, name: str, j: int) -> tuple[np.ndarray, int]:
    if column.dtype.kind == "f" and np.isnan(column).any():
        row = int(np.flatnonzero(np.isnan(column))[0])
        raise ValueError(f"{name} holds NaN at row {row} of column {j}; drop or impute the row first")
    if column.dtype.kind == "O":
        for row, value in enumerate(column):
            if _missing(value):
                raise ValueError(
                    f"{name} holds a missing value ({value}) at row {row} of column {j}; drop or impute the row first"
                )
        column = column.astype(str)
    _, inverse = np.unique(column, return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1


def _check_repeated(codes: np.ndarray, n_levels: int, name: str, j: int, numeric: bool) -> None:
    """Refuses a discrete column most of whose rows hold a value seen once (identifiers): as
    classes, such a value can train a model or test it, never both, and its indicator columns
    would number about as many as the rows."""
    single = single_row_count(torch.from_numpy(codes), n_levels)
    if 2 * single <= len(codes):
        return
    fix = f"pass discrete_{name}=False to read it as a number" if numeric else "encode it as numbers"
    raise ValueError(
        f"column {j} of {name} is read as classes but {single} of its {len(codes)} rows hold a value that no "
        f"other row holds ({n_levels} distinct values); {fix}, or merge rare values"
    )


def read_side(values: Any, name: str, declared: Declared = None) -> SideTypes:
    r"""Reads which columns of ``values`` are discrete (see the module documentation) and
    codes them.

    Arguments:
        values: ``[N]`` or ``[N, d]`` samples: a tensor, numpy array or list (strings allowed).
        name: ``"x"`` or ``"y"``, for messages and the name of the override argument.
        declared: ``discrete_x`` / ``discrete_y`` of :func:`mist_reg.estimate_mi`: ``None``
            reads the types, ``True`` / ``False`` declares every column discrete / continuous,
            a sequence of column indices declares exactly those discrete.

    Returns:
        The :class:`SideTypes`.

    Raises:
        ValueError: For NaN in a discrete column, an override naming a missing column, a
            non-numeric column declared continuous, a discrete column most of whose rows hold a
            value no other row holds (identifiers), or a shape other than ``[N]`` / ``[N, d]``.

    Example:
        >>> import numpy as np
        >>> side = read_side(np.array(["cat", "dog", "cat", "cat"] * 10), "y")
        >>> side.discrete, side.levels, side.codes[:4, 0].tolist()
        ((0,), (2,), [0, 1, 0, 0])
    """
    array = _as_array(values, name)
    n, d = array.shape
    forced = _declared_columns(declared, d, name)
    discrete, codes, levels = [], [], []
    counts = _distinct_counts(array)
    many_valued: list[tuple[int, int]] = []  # (column, values): integers of a wide side, > MAX_FLOAT_LEVELS values
    numbers = []
    for j in range(d):
        column = _typed_column(array[:, j])
        numeric = column.dtype.kind in "biuf"
        numbers.append(numeric)
        if forced is not None and j not in forced:
            if not numeric:
                raise ValueError(
                    f"column {j} of {name} holds non-numeric values ({column.dtype}) and cannot be continuous; "
                    f"leave it out of discrete_{name}=False or encode it as numbers"
                )
            continue
        if not numeric and column.dtype.kind not in "OUS":
            raise TypeError(f"column {j} of {name} has dtype {column.dtype}, neither numbers nor codes")
        column_codes, n_levels = None, (int(counts[j]) if counts is not None else 0)
        if counts is None:
            column_codes, n_levels = _unique_codes(column, name, j)
        if forced is None and not _is_discrete(column, n_levels, n, d == 1):
            if column.dtype.kind in "iu" and n_levels * MIN_SAMPLES_PER_LEVEL <= n:
                many_valued.append((j, n_levels))
            elif column.dtype.kind in "iu":
                warnings.warn(
                    f"column {j} of {name} holds {n_levels} distinct integers in {n} samples (fewer than "
                    f"{MIN_SAMPLES_PER_LEVEL} samples per value): it is read as a number, not as classes; pass "
                    f"discrete_{name}=True to read it as classes",
                    RuntimeWarning,
                    stacklevel=3,
                )
            continue
        if column_codes is None:
            column_codes, _ = _unique_codes(column, name, j)
        _check_repeated(column_codes, n_levels, name, j, numeric)
        discrete.append(j)
        codes.append(column_codes)
        levels.append(n_levels)
    if many_valued and sum(k for _, k in many_valued) * MIN_SAMPLES_PER_LEVEL <= n:
        # few enough indicator columns to learn from the rows: codes, as a lone column would be
        for j, n_levels in many_valued:
            column_codes, _ = _unique_codes(_typed_column(array[:, j]), name, j)
            discrete.append(j)
            codes.append(column_codes)
            levels.append(n_levels)
        order = sorted(range(len(discrete)), key=discrete.__getitem__)
        discrete, codes, levels = ([v[i] for i in order] for v in (discrete, codes, levels))
    elif many_valued:
        columns = [j for j, _ in many_valued]
        shown = ", ".join(map(str, columns[:5])) + (", ..." if len(columns) > 5 else "")
        warnings.warn(
            f"{len(columns)} integer column(s) of {name} ({shown}) take more than {MAX_FLOAT_LEVELS} values "
            f"beside other columns, {sum(k for _, k in many_valued)} in all, more than one per "
            f"{MIN_SAMPLES_PER_LEVEL} samples: they are read as numbers (ordered measurements), not as classes; "
            f"pass discrete_{name}=[column indices] to read them as classes",
            RuntimeWarning,
            stacklevel=3,
        )
    if discrete:
        stacked = np.stack(codes, axis=1)
        _, joint = np.unique(stacked, axis=0, return_inverse=True)
        joint = joint.reshape(-1)
        n_joint = int(joint.max()) + 1
    else:
        stacked, joint, n_joint = np.zeros((n, 0), dtype=np.int64), np.zeros(n, dtype=np.int64), 1
    return SideTypes(
        n_columns=d,
        discrete=tuple(discrete),
        codes=torch.from_numpy(stacked.astype(np.int64)),
        levels=tuple(levels),
        joint=torch.from_numpy(joint.astype(np.int64)),
        n_joint=n_joint,
        ordered=d == 1 and discrete == [0] and numbers[0],
    )
