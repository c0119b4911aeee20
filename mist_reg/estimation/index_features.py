r"""The features of the single index (:mod:`mist_reg.estimation.single_index`) and the ridge
regression that reads one index from them (:func:`fit_ridge_index`).

A ridge regression of one column ``z`` on features of the other side's Gaussianised
columns ``x`` reads the part of ``f`` in ``z = f(x) + noise`` that is linear in those
features. The features come in blocks, each for a shape of ``f`` the others miss:

* ``columns``: ``x`` itself, a linear index;
* ``squares``: ``x_i^2 - 1``, the spread or norm of ``x``;
* ``products``: ``x_i x_j`` (``i < j``) for 2 to :data:`MAX_PRODUCT_COLUMNS` columns, with
  the squares any quadratic form (the product of two columns or of two projections);
* ``hinges``: ``max(0, x_i - t)`` at the knots :data:`KNOTS` for up to
  :data:`MAX_HINGE_COLUMNS` columns, with the columns a piecewise-linear function of each
  column: an additive ``f = sum_i g_i(x_i)`` with kinks, steps or waves in ``g_i``, which
  one straight and one squared term per column do not follow.

The sets tried are :data:`FEATURE_SETS`; the one of fewest features whose leave-one-out error
is within one standard error of the least wins (the one-standard-error rule), so blocks that carry
nothing, or less than the error's noise, stay out: they would add their own noise to a
simpler index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "fit_ridge_index",
    "index_of",
    "features",
    "block_mask",
    "used_blocks",
    "feature_count",
    "FEATURE_SETS",
    "KNOTS",
    "MAX_PRODUCT_COLUMNS",
    "MAX_HINGE_COLUMNS",
]

MAX_PRODUCT_COLUMNS = 16
r"""The most columns whose pairwise products are features: ``d (d - 1) / 2`` products (120
at 16 columns) beside the other blocks must stay well below the training rows."""

MAX_HINGE_COLUMNS = 64
r"""The most columns with hinges: five per column (320 at 64 columns) beside ``2 d``."""

KNOTS = (-1.5, -0.75, 0.0, 0.75, 1.5)
r"""Where the hinges bend, on Gaussianised columns: about the 7th, 23rd, 50th, 77th and 93rd
percentiles, so that each of the six linear pieces holds a share of the rows."""

FEATURE_SETS: tuple[tuple[str, ...], ...] = (
    ("columns",),
    ("columns", "squares"),
    ("columns", "squares", "products"),
    ("columns", "squares", "hinges"),
)
r"""The blocks of each feature set tried (sets with a block a side of that many columns does
not have are skipped); of those within one standard error of the least leave-one-out error,
the one of fewest features is kept (products outnumber hinges from 12 columns on)."""

_PENALTIES = torch.logspace(-4, 2, 13, dtype=torch.float64)  # times the number of rows


def _blocks(d: int) -> dict[str, int]:
    r"""The width of each block that ``d`` columns have, in the order of :func:`features`."""
    widths = {"columns": d, "squares": d}
    if 2 <= d <= MAX_PRODUCT_COLUMNS:
        widths["products"] = d * (d - 1) // 2
    if d <= MAX_HINGE_COLUMNS:
        widths["hinges"] = len(KNOTS) * d
    return widths


def feature_count(d: int) -> int:
    r"""The number of features of ``d`` columns, all blocks together.

    Example:
        >>> feature_count(2), feature_count(16), feature_count(100)  # products to 16, hinges to 64
        (15, 232, 200)
    """
    return sum(_blocks(d).values())


def block_mask(d: int, blocks: Sequence[str]) -> Tensor:
    r"""A boolean mask over the features of ``d`` columns, true on ``blocks``.

    Example:
        >>> block_mask(2, ("squares",)).tolist()  # columns, squares, one product, ten hinges
        [False, False, True, True, False, False, False, False, False, False, False, False, False, False, False]
    """
    return torch.cat([torch.full((width,), name in blocks) for name, width in _blocks(d).items()])


def features(x: Tensor) -> Tensor:
    r"""All feature blocks of the columns ``x: [N, d]``, in the order of :func:`block_mask`.

    Example:
        >>> features(torch.tensor([[1.0, 2.0]])).tolist()  # x, x^2 - 1, x0 x1, then hinges per knot
        [[1.0, 2.0, 0.0, 3.0, 2.0, 2.5, 3.5, 1.75, 2.75, 1.0, 2.0, 0.25, 1.25, 0.0, 0.5]]
    """
    parts = [x, x.square() - 1]
    names = _blocks(x.shape[1])
    if "products" in names:
        first, second = torch.triu_indices(x.shape[1], x.shape[1], 1, device=x.device)
        parts.append(x[:, first] * x[:, second])
    if "hinges" in names:
        parts.extend(torch.relu(x - knot) for knot in KNOTS)
    return torch.cat(parts, 1)


def _ridge(centred: Tensor, target: Tensor) -> tuple[Tensor, float, float]:
    r"""Ridge weights of centred features for a centred ``target``, at the penalty of least
    leave-one-out squared error (closed form from one singular value decomposition), that
    error and its standard error over the rows."""
    u, s, vt = torch.linalg.svd(centred, full_matrices=False)
    projected, squares = u.T @ target, u.square()  # the leverages are squares @ shrink
    n = len(target)
    best, best_error, best_se = s, math.inf, math.inf
    for penalty in _PENALTIES * n:
        shrink = s.square() / (s.square() + penalty)
        fitted = u @ (shrink * projected)
        leverage = squares @ shrink + 1.0 / n
        errors = ((target - fitted) / (1 - leverage)).square()
        error = float(errors.mean())
        if error < best_error:
            best, best_error, best_se = shrink, error, float(errors.std()) / math.sqrt(n)
    return vt.T @ (best / s.clamp_min(1e-300) * projected), best_error, best_se


def fit_ridge_index(x: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""The ridge regression of ``z: [N]`` on the features of ``x: [N, d]`` (Gaussianised
    columns) of the set of :data:`FEATURE_SETS` of fewest features whose leave-one-out squared
    error is within one standard error of the least, each set at its penalty of least such error
    among ``N`` times ``10^-4 ... 10^2``.
    Returns the feature means, the weights (zero on the blocks left out) and the intercept;
    the index of rows ``x'`` is :func:`index_of` ``(x', fit)``.

    Raises:
        ValueError: When ``x`` is not ``[N, d]``, ``z`` not ``[N]``, or there are fewer than
            three rows.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(2000, 4, generator=g, dtype=torch.float64)
        >>> noise = lambda: 0.3 * torch.randn(2000, generator=g, dtype=torch.float64)
        >>> def blocks(weights):  # the blocks a fit reads
        ...     return [name for name in ("columns", "squares", "products", "hinges") if weights[block_mask(4, (name,))].any()]
        >>> blocks(fit_ridge_index(x, x[:, 0] + noise())[1])
        ['columns']
        >>> blocks(fit_ridge_index(x, x.square().sum(1) + noise())[1])  # the norm
        ['columns', 'squares']
        >>> blocks(fit_ridge_index(x, x[:, 0] * x[:, 1] + noise())[1])  # a quadratic form
        ['columns', 'squares', 'products']
        >>> blocks(fit_ridge_index(x, torch.relu(x - 0.4).sum(1) + noise())[1])  # additive, with kinks
        ['columns', 'squares', 'hinges']
    """
    if x.dim() != 2 or z.dim() != 1 or len(x) != len(z):
        raise ValueError(f"need x [N, d] and z [N] with the same rows, got {tuple(x.shape)} and {tuple(z.shape)}")
    if len(z) < 3:
        raise ValueError(f"a leave-one-out choice needs at least 3 rows, got {len(z)}")
    d = x.shape[1]
    all_features = features(x.double())
    means = all_features.mean(0)
    centred, target = all_features - means, z.double() - z.double().mean()
    fits = []
    for blocks in FEATURE_SETS:
        if set(blocks) <= _blocks(d).keys():
            mask = block_mask(d, blocks).to(x.device)
            fits.append((mask, *_ridge(centred[:, mask], target)))
    _, _, least, least_se = min(fits, key=lambda fit: fit[2])
    # the set of fewest features within one standard error of the least error: more features
    # that lower the error by less than its noise add their own noise to the index
    mask, fitted, _, _ = min((fit for fit in fits if fit[2] <= least + least_se), key=lambda fit: int(fit[0].sum()))
    return (
        means,
        torch.zeros(all_features.shape[1], dtype=torch.float64, device=x.device).masked_scatter_(mask, fitted),
        z.double().mean(),
    )


def used_blocks(d: int, weights: Tensor) -> Tensor:
    r"""The mask of the blocks of ``d`` columns on which ``weights`` is not all zero.

    Example:
        >>> weights = torch.zeros(feature_count(2))
        >>> weights[2] = 1.0  # the square of column 0
        >>> used_blocks(2, weights).tolist()[:5]  # columns, squares, the product
        [False, False, True, True, False]
    """
    return block_mask(d, [name for name in _blocks(d) if weights[block_mask(d, (name,)).to(weights.device)].any()])


def index_of(x: Tensor, fit: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    r"""The index of the rows ``x`` under ``fit`` (means, weights, intercept) of
    :func:`fit_ridge_index`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(1000, 3, generator=g, dtype=torch.float64)
        >>> z = x.sum(1) + 0.1 * torch.randn(1000, generator=g, dtype=torch.float64)
        >>> bool(torch.corrcoef(torch.stack([index_of(x, fit_ridge_index(x, z)), z]))[0, 1] > 0.99)
        True
    """
    means, weights, intercept = fit
    return (features(x.double()) - means) @ weights + intercept
