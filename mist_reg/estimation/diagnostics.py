r"""Checks on samples before estimating: exact copies, whose mutual information is infinite.

When a continuous variable is a copy of another (``y`` identical to ``x``, a duplicated
column, a rescaled or otherwise strictly monotone function of a column, an invertible
linear map of some coordinates), ``I(X; Y)`` is infinite, and every estimator trained on
such samples returns a number that says more about the estimator than about the data (a
Donsker-Varadhan estimate can come out hundreds of nats below zero). :func:`exact_dependence`
finds the cheap-to-detect cases so that :func:`mist_reg.estimate_mi` can say so instead.

A copy counts only for a continuous variable: the shared coordinate must take distinct
values on (nearly) every sample. Discrete variables that are copies of each other have a
finite MI (the entropy), which estimation can measure.

Example:
    >>> import torch
    >>> x = torch.randn(500, 3)
    >>> exact_dependence(x, x.clone())
    'column 1 of y is a strictly increasing function of column 1 of x'
    >>> print(exact_dependence(x, torch.randn(500, 2)))
    None
    >>> exact_dependence(x, x @ torch.randn(3, 3)).startswith('a linear combination of y')
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["exact_dependence", "is_continuous", "largest_tie", "tie_warnings", "LINEAR_TOLERANCE", "CONTINUOUS_SHARE"]

# The relative residual below which a linear relation counts as exact: rounding to single
# precision leaves about 6e-8, and a residual of 1e-6 already means more than
# log(1e6) = 13.8 nats in that direction, beyond what any sample size measures.
LINEAR_TOLERANCE = 1e-6
CONTINUOUS_SHARE = 0.99
"""A column is continuous when it takes distinct values on at least this share of the rows."""
_MAX_LINEAR_DIM = 256  # the linear check costs O(N (x_dim + y_dim)^2)
_FALSE_COPY = 1e-6
"""The largest chance that independent continuous columns pass the rank check: two columns of
``N`` distinct values share their order with probability ``1 / N!``, and ``2 x_dim y_dim`` pairs
are compared, so the check runs only where ``2 x_dim y_dim / N!`` is below this (N >= 12 for
one column each)."""


def is_continuous(values: Tensor) -> bool:
    """Whether a column takes distinct values on at least :data:`CONTINUOUS_SHARE` of the samples.

    Example:
        >>> is_continuous(torch.randn(100)), is_continuous(torch.randint(0, 5, (100,)))
        (True, False)
    """
    return torch.unique(values).numel() >= CONTINUOUS_SHARE * values.numel()


def largest_tie(values: Tensor) -> int:
    """The number of rows sharing the most frequent value of a column.

    Example:
        >>> largest_tie(torch.tensor([0.5, -999.0, 1.5, -999.0, -999.0]))
        3
    """
    return int(torch.unique(values, return_counts=True)[1].max())


def tie_warnings(
    x: Tensor, y: Tensor, k: int, columns: tuple[tuple[int, ...], tuple[int, ...]] | None = None
) -> list[str]:
    """Messages naming the columns in which a value repeats more than ``k`` times, for KSG.

    ``columns`` gives, for x and y, the user's index of each column of ``x`` and ``y``
    (when these hold only some of the user's columns); by default column ``j`` is ``j``.

    Example:
        >>> tie_warnings(torch.tensor([[0.0], [1.0]] * 10), torch.randn(20, 1), 5)[0][:49]
        'column 0 of x has a value shared by 10 of 20 rows'
    """
    messages = []
    names = columns or (tuple(range(x.shape[1])), tuple(range(y.shape[1])))
    for name, z, index in (("x", x, names[0]), ("y", y, names[1])):
        for j in range(z.shape[1]):
            tie = largest_tie(z[:, j])
            if tie > k:
                messages.append(
                    f"column {index[j]} of {name} has a value shared by {tie} of {z.shape[0]} rows: KSG assumes continuous "
                    f"data, and a value shared by more than k = {k} rows makes its neighbour counts measure the tie "
                    "(the estimate may be far too high); estimator='default' models discrete and tied columns"
                )
    return messages


def _monotone_copy(x: Tensor, y: Tensor) -> str | None:
    """A column of ``y`` whose ranks equal (or reverse) those of a column of ``x``."""
    n = x.shape[0]
    if math.lgamma(n + 1) < math.log(2 * x.shape[1] * y.shape[1] / _FALSE_COPY):
        return None  # so few rows that some pair of columns would share its order by chance

    def ends(z: Tensor, sign: int) -> list[tuple[int, int]]:
        """The first and the last entry of the stable sorting order of each column of
        ``sign * z``: the first row of its minimum and the last row of its maximum."""
        first, last = (z.argmin(0), z.flip(0).argmax(0)) if sign > 0 else (z.argmax(0), z.flip(0).argmin(0))
        return list(zip(first.tolist(), (n - 1 - last).tolist(), strict=True))

    def order(column: Tensor) -> Tensor | None:
        """The column's stable sorting order, or ``None`` for a column that is not
        continuous (as :func:`is_continuous` says)."""
        rows = torch.argsort(column, stable=True)
        ranked = column[rows]
        distinct = 1 + int((ranked[1:] != ranked[:-1]).sum())  # exact_dependence passes 8 rows or more
        return rows if distinct >= CONTINUOUS_SHARE * n else None

    # a strictly increasing copy has the same stable order, so the same ends: only columns
    # whose ends match are sorted (a decreasing copy is an increasing copy of -y)
    index: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(ends(x, 1)):
        index.setdefault(key, []).append(i)
    orders: dict[tuple[str, int], Tensor | None] = {}

    def cached(name: str, column: Tensor, j: int) -> Tensor | None:
        if (name, j) not in orders:
            orders[name, j] = order(column)
        return orders[name, j]

    directions = (("increasing", 1, ends(y, 1)), ("decreasing", -1, ends(y, -1)))
    for j in range(y.shape[1]):
        for direction, sign, y_ends in directions:
            for i in index.get(y_ends[j], []):
                x_order, y_order = cached("x", x[:, i], i), cached(direction, sign * y[:, j], j)
                if x_order is not None and y_order is not None and torch.equal(x_order, y_order):
                    return f"column {j + 1} of y is a strictly {direction} function of column {i + 1} of x"
    return None


def _basis(z: Tensor) -> Tensor:
    """An orthonormal basis of the centred columns of ``z`` (rank-revealing)."""
    z = z - z.mean(0)
    u, s, _ = torch.linalg.svd(z, full_matrices=False)
    keep = s > s[0] * 1e-9 if s.numel() and s[0] > 0 else torch.zeros_like(s, dtype=torch.bool)
    return u[:, keep]


def _linear_copy(x: Tensor, y: Tensor) -> str | None:
    """A linear combination of ``y`` that is a linear function of ``x`` up to rounding."""
    n = x.shape[0]
    if x.shape[1] + y.shape[1] > _MAX_LINEAR_DIM or n < 2 * (x.shape[1] + y.shape[1]) + 10:
        return None  # too costly, or so few samples that subspaces meet by chance
    qx, qy = _basis(x), _basis(y)
    if qx.shape[1] == 0 or qy.shape[1] == 0:
        return None
    residual = qy - qx @ (qx.T @ qy)  # the part of y's span outside x's span
    _, s, vh = torch.linalg.svd(residual, full_matrices=False)
    smallest = float(s[-1])  # the sine of the smallest angle between the two spans
    if smallest > LINEAR_TOLERANCE or not is_continuous(qy @ vh[-1]):
        return None
    return f"a linear combination of y is a linear function of x (relative residual {smallest:.1e})"


@torch.no_grad()
def exact_dependence(x: Tensor, y: Tensor) -> str | None:
    r"""Says how ``y`` copies ``x``, or returns ``None`` when no exact copy is found.

    Two checks, both cheap: a column of ``y`` whose ranks equal or reverse those of a
    column of ``x`` (identical or duplicated columns, any strictly monotone function of
    one column; checked where chance agreement of independent columns is below one in a
    million), and a direction of ``y`` lying in the span of ``x`` up to a relative
    residual of :data:`LINEAR_TOLERANCE` (``y`` equal to ``x``, invertible linear maps,
    affine copies of some coordinates; checked when ``x_dim + y_dim <= 256`` and there are
    at least ``2 (x_dim + y_dim) + 10`` samples). Only continuous coordinates count (distinct
    values on at least 99% of the samples). Other exact functions (nonlinear maps mixing
    coordinates) are not detected.

    Arguments:
        x: Samples ``[N, x_dim]``.
        y: Samples ``[N, y_dim]``, paired row by row with ``x``.

    Returns:
        A description of the copy, or ``None``.
    """
    if x.shape[0] < 8:
        return None
    x, y = x.detach().cpu().double(), y.detach().cpu().double()
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        return None
    return _monotone_copy(x, y) or _linear_copy(x, y)
