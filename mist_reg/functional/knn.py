r"""The Kraskov-Stögbauer-Grassberger (KSG) k-nearest-neighbour estimate of mutual
information (algorithm 1 of Kraskov, Stögbauer and Grassberger, Phys. Rev. E 69, 066138,
2004): :func:`ksg_mi` and its per-sample terms :func:`ksg_terms`. No trainable parameters.

Samples on the CPU go through k-d trees (:class:`scipy.spatial.cKDTree`, max norm,
``O(N log N)``; a one-dimensional marginal is counted by binary searches of its sorted
values instead, which count the same points); samples on a GPU are compared
``chunk_size`` rows at a time in float64.
Both count the same neighbours, so the result does not depend on the path or the chunk
size. What KSG assumes (continuous data, comparable scales): ``docs/error_bars.md``.

Example:
    >>> import torch
    >>> x = torch.randn(500, 1, generator=torch.Generator().manual_seed(0))
    >>> y = 2 * x + 0.1 * torch.randn(500, 1, generator=torch.Generator().manual_seed(1))
    >>> round(ksg_mi(x, y), 1)  # the truth: log(401) / 2 = 3.0 nats
    2.8
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mist_reg.checks import ArrayLike, as_samples, check_pair

__all__ = ["ksg_mi", "ksg_terms"]


def _chebyshev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise max-norm distances between the rows of ``a`` and ``b``."""
    return torch.cdist(a.unsqueeze(0), b.unsqueeze(0), p=math.inf).squeeze(0)


def ksg_mi(
    x: ArrayLike,
    y: ArrayLike,
    k: int = 5,
    chunk_size: int = 1024,
) -> float:
    r"""Estimate I(X; Y) in nats with the KSG k-nearest-neighbour estimator.

    For every sample ``i`` the joint space ``z = (x, y)`` is searched with the
    max-norm ``||z_i - z_j|| = max(||x_i - x_j||_inf, ||y_i - y_j||_inf)``;
    ``eps_i`` is the distance to its ``k``-th nearest neighbour (the sample
    itself excluded).  With ``n_x(i) = #{j != i : ||x_i - x_j||_inf < eps_i}``
    and ``n_y(i)`` defined likewise, the estimate is

    $$
    \hat I = \psi(k) + \psi(N) - \frac{1}{N}\sum_i
              \left[\psi(n_x(i) + 1) + \psi(n_y(i) + 1)\right].
    $$

    Distances are float64 and the neighbour counts integers, so the estimate does not
    depend on ``chunk_size``. It assumes continuous data: ties (discrete values,
    duplicated rows) bias it (see ``docs/error_bars.md``, "What KSG assumes").

    Arguments:
        x: Samples of X, shape ``[N, dx]`` (``[N]`` is treated as ``[N, 1]``,
            ``[N, ...]`` flattened), as a torch tensor, numpy array or list of
            real numbers: the rules of :func:`mist_reg.checks.as_samples`.
        y: Samples of Y paired row-by-row with ``x``, shape ``[N, dy]`` or
            ``[N]``.
        k: Number of nearest neighbours in the joint space; must satisfy
            ``1 <= k < N``.
        chunk_size: Number of query rows processed at once for samples on a GPU
            (peak memory a few ``chunk_size * N`` float64 buffers); samples on the CPU
            go through k-d trees and do not use it.

    Returns:
        The MI estimate in nats as a Python float.  It can be slightly
        negative when X and Y are independent.

    Raises:
        TypeError: If an input is not a tensor/array of real numbers, or
            ``k``/``chunk_size`` is not an integer.
        ValueError: If an input is a scalar or empty, ``x`` and ``y`` have
            different numbers of samples, ``N <= k``, ``k < 1``,
            ``chunk_size < 1`` or an input holds NaN/inf.

    Example:
        >>> import math
        >>> import torch
        >>> from mist_reg.functional.knn import ksg_mi
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(2000, 1, generator=g, dtype=torch.float64)
        >>> y = 0.8 * x + 0.6 * torch.randn(2000, 1, generator=g, dtype=torch.float64)
        >>> true_mi = -0.5 * math.log(1 - 0.8**2)  # about 0.511 nats
        >>> abs(ksg_mi(x, y, k=5) - true_mi) < 0.05
        True
    """
    return float(ksg_terms(x, y, k=k, chunk_size=chunk_size).mean())


def _tree_counts(xs: torch.Tensor, ys: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``n_x(i)``, ``n_y(i)`` of KSG from k-d trees (``O(N log N)``): the distance to the
    ``k``-th neighbour in the joint max norm, then the points strictly closer than it in
    each marginal, the sample itself excluded."""
    from scipy.spatial import cKDTree

    x, y = xs.cpu().numpy(), ys.cpu().numpy()
    joint = np.concatenate([x, y], axis=1)
    # k + 1 neighbours: the nearest is the sample itself (distance 0)
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1]
    positive = eps > 0
    radius = np.nextafter(eps, 0.0)  # "strictly closer than eps" as a closed ball
    counts = []
    for values in (x, y):
        inside = np.zeros(len(eps), dtype=np.int64)
        if positive.any():
            if values.shape[1] == 1:
                found = _column_counts(values[:, 0], values[positive, 0], radius[positive])
            else:
                found = cKDTree(values).query_ball_point(
                    values[positive], radius[positive], p=np.inf, return_length=True
                )
            inside[positive] = np.asarray(found, dtype=np.int64) - 1  # not the sample itself
        counts.append(torch.from_numpy(inside))
    return counts[0], counts[1]


def _column_counts(column: np.ndarray, centres: np.ndarray, radius: np.ndarray) -> np.ndarray:
    r"""How many values of ``column`` lie within ``radius`` of each centre, ``|v - c| <= r``
    with the difference rounded as a k-d tree rounds it: two binary searches of the sorted
    column, their ends then moved (a group of tied values at a time) until the rounded test
    holds inside and fails outside. The test is monotone in ``v``, so the values that pass
    are one run of the sorted column, and the counts equal the tree's.

    Example:
        >>> _column_counts(np.array([0.0, 0.1, 0.2, 0.2, 0.5]), np.array([0.2, 0.0]), np.array([0.1, 0.05]))
        array([3, 1])
    """
    ordered = np.sort(column)
    n = len(ordered)
    low = np.searchsorted(ordered, centres - radius, side="left")
    high = np.searchsorted(ordered, centres + radius, side="right")

    def passes(index: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.abs(ordered[index] - centres[rows]) <= radius[rows]

    while True:
        rows = np.flatnonzero(low > 0)
        grow_low = rows[passes(low[rows] - 1, rows)]
        rows = np.flatnonzero(low < n)
        shrink_low = rows[~passes(low[rows], rows)]
        rows = np.flatnonzero(high < n)
        grow_high = rows[passes(high[rows], rows)]
        rows = np.flatnonzero(high > 0)
        shrink_high = rows[~passes(high[rows] - 1, rows)]
        if not (len(grow_low) or len(shrink_low) or len(grow_high) or len(shrink_high)):
            return np.maximum(high - low, 0)
        low[grow_low] = np.searchsorted(ordered, ordered[low[grow_low] - 1], side="left")
        low[shrink_low] = np.searchsorted(ordered, ordered[low[shrink_low]], side="right")
        high[grow_high] = np.searchsorted(ordered, ordered[high[grow_high]], side="right")
        high[shrink_high] = np.searchsorted(ordered, ordered[high[shrink_high] - 1], side="left")


def _chunked_counts(xs: torch.Tensor, ys: torch.Tensor, k: int, chunk_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The same counts by comparing ``chunk_size`` rows with all ``N`` samples at a time."""
    n = xs.shape[0]
    n_x = torch.empty(n, dtype=torch.int64, device=xs.device)
    n_y = torch.empty(n, dtype=torch.int64, device=xs.device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        rows = torch.arange(stop - start, device=xs.device)
        cols = rows + start

        dist_x = _chebyshev(xs[start:stop], xs)
        dist_y = _chebyshev(ys[start:stop], ys)
        # Exclude each query point from its own neighbourhood.
        dist_x[rows, cols] = math.inf
        dist_y[rows, cols] = math.inf
        dist_z = torch.maximum(dist_x, dist_y)

        eps = torch.topk(dist_z, k, dim=1, largest=False).values[:, -1:]
        n_x[start:stop] = (dist_x < eps).sum(dim=1)
        n_y[start:stop] = (dist_y < eps).sum(dim=1)
    return n_x, n_y


def ksg_terms(
    x: ArrayLike,
    y: ArrayLike,
    k: int = 5,
    chunk_size: int = 1024,
) -> torch.Tensor:
    r"""The per-sample terms of the KSG estimate: ``psi(k) + psi(N) - psi(n_x(i) + 1) - psi(n_y(i) + 1)``
    for every sample ``i``, a float64 tensor ``[N]`` on the CPU whose mean is :func:`ksg_mi`.

    The terms are not independent (every count involves the other samples), so their
    standard deviation over ``sqrt(N)`` is not the standard error of the mean; see
    :func:`mist_reg.estimation.knn_estimate.ksg_estimate` for one whose coverage is measured.
    Arguments, errors and notes as in :func:`ksg_mi`.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(500, 1, generator=g)
        >>> y = x + torch.randn(500, 1, generator=g)
        >>> terms = ksg_terms(x, y)
        >>> terms.shape, float(terms.mean()) == ksg_mi(x, y)
        (torch.Size([500]), True)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(f"chunk_size must be an int, got {type(chunk_size).__name__}")
    k, chunk_size = int(k), int(chunk_size)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")

    xs = as_samples(x, "x", dtype=torch.float64)
    ys = as_samples(y, "y", dtype=torch.float64)
    check_pair(xs, ys)
    n = xs.shape[0]
    if n <= k:
        raise ValueError(f"need more samples than neighbours (N > k), got N={n}, k={k}")
    ys = ys.to(xs.device)
    if xs.device.type == "cpu":
        n_x, n_y = _tree_counts(xs, ys, k)
    else:
        n_x, n_y = _chunked_counts(xs, ys, k, chunk_size)

    digamma = torch.special.digamma
    marginal = digamma(n_x.to(torch.float64) + 1) + digamma(n_y.to(torch.float64) + 1)
    const = digamma(torch.tensor(float(k), dtype=torch.float64)) + digamma(torch.tensor(float(n), dtype=torch.float64))
    return (const - marginal).cpu()
