r"""A single continuous column read through one index of the other side: KSG of the pair
(fitted index, column), as a challenger of the default.

Where ``y = f(x) + noise``, ``y`` depends on ``x`` only through ``f(x)``, so
``I(X; Y) = I(f(X); Y)``. A regression ``g`` of the (Gaussianised) single column ``z`` on
features of the other side, fitted on training rows, gives a two-dimensional pair
``(g(x), z)`` with ``I(g(X); Z) <= I(X; Z)`` (data processing), equal where ``g`` is a
one-to-one function of ``f``; KSG estimates a smooth pair of two columns with little bias,
whatever the shape of the noise. A trained bound must instead learn ``f`` and the noise's
density from the same rows; on wide sides it learns ``f`` slowly where ``f`` is a simple
index: the cube of one projection in 128 columns, or the norm of 64 columns, whose effect
on each column is its square, with no linear part for a network to start from.

The features are the Gaussianised columns, with or without their squares minus one (an
index that is linear, or that reads the spread or norm of ``x``), fitted by ridge
regression; the feature set and the penalty are those of least leave-one-out error
(:func:`fit_ridge_index`). The route is a
challenger: the index is fitted on the default's training rows less its validation rows,
and kept where KSG of ``(g(x), z)`` on those validation rows beats the validation
estimate the default's training kept; it is then refitted on all training rows and KSG
is reported on the test rows (:func:`single_index_estimate`), which enter neither fit nor
choice. Mechanism and figures: ``docs/choosing-an-estimator.md`` and
``docs/benchmarks.md`` ("A single index").
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from mist_reg.estimation.data import split_indices
from mist_reg.estimation.diagnostics import largest_tie
from mist_reg.estimation.fit_settings import FitSettings, TrainingLog
from mist_reg.estimation.knn_estimate import DEFAULT_K, ksg_with_error_bar
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import ColumnPreprocessor, Preprocessing
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimation.single_column import single_column_side
from mist_reg.functional.knn import ksg_terms

__all__ = ["fit_ridge_index", "single_index_estimate", "MAX_INDEX_COLUMNS", "ESTIMATOR_NAME"]

MAX_INDEX_COLUMNS = 256
r"""The most columns of the other side: ``2 d`` features must stay well below the few
thousand training rows for a ridge regression to read one index from them."""

ESTIMATOR_NAME = "ksg (single index)"
r"""The name :func:`mist_reg.estimate_mi` reports where this route is kept."""

_PENALTIES = torch.logspace(-4, 2, 13, dtype=torch.float64)  # times the number of rows


def _features(x: Tensor) -> Tensor:
    return torch.cat([x, x.square() - 1], 1)


def _ridge(features: Tensor, target: Tensor) -> tuple[Tensor, float]:
    r"""Ridge weights of centred ``features`` for a centred ``target``, at the penalty of least
    leave-one-out squared error (closed form from one singular value decomposition), and
    that error."""
    u, s, vt = torch.linalg.svd(features, full_matrices=False)
    projected = u.T @ target
    n = len(target)
    best, best_error = s, math.inf
    for penalty in _PENALTIES * n:
        shrink = s.square() / (s.square() + penalty)
        fitted = u @ (shrink * projected)
        leverage = (u.square() * shrink).sum(1) + 1.0 / n
        error = float((((target - fitted) / (1 - leverage)).square()).mean())
        if error < best_error:
            best, best_error = shrink, error
    return vt.T @ (best / s.clamp_min(1e-300) * projected), best_error


def fit_ridge_index(x: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""The ridge regression of ``z: [N]`` on ``x: [N, d]`` (Gaussianised columns) or on
    ``[x, x^2 - 1]``, whichever has the least leave-one-out squared error, each at its
    penalty of least such error among ``N`` times ``10^-4 ... 10^2``: squares that carry
    nothing only add noise to a linear index. Returns the feature means, the weights (zero
    on the squares where they are left out) and the intercept; the index of rows ``x'`` is
    ``(features(x') - means) @ weights + intercept``.

    Raises:
        ValueError: When ``x`` is not ``[N, d]``, ``z`` not ``[N]``, or there are fewer than
            three rows.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(2000, 4, generator=g, dtype=torch.float64)
        >>> z = x.square().sum(1) + 0.3 * torch.randn(2000, generator=g, dtype=torch.float64)
        >>> means, weights, intercept = fit_ridge_index(x, z)
        >>> [abs(round(float(w), 1)) for w in weights]  # the squares carry the index
        [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
        >>> _, weights, _ = fit_ridge_index(x, x[:, 0] + 0.3 * torch.randn(2000, generator=g, dtype=torch.float64))
        >>> [abs(round(float(w), 1)) for w in weights]  # a linear index: the squares left out
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    """
    if x.dim() != 2 or z.dim() != 1 or len(x) != len(z):
        raise ValueError(f"need x [N, d] and z [N] with the same rows, got {tuple(x.shape)} and {tuple(z.shape)}")
    if len(z) < 3:
        raise ValueError(f"a leave-one-out choice needs at least 3 rows, got {len(z)}")
    features = _features(x.double())
    means = features.mean(0)
    centred, target = features - means, z.double() - z.double().mean()
    weights, error = _ridge(centred, target)
    linear, linear_error = _ridge(centred[:, : x.shape[1]], target)
    if linear_error <= error:
        weights = torch.cat([linear, torch.zeros_like(linear)])
    return means, weights, z.double().mean()


def _index(x: Tensor, fit: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    means, weights, intercept = fit
    return (_features(x.double()) - means) @ weights + intercept


def single_index_estimate(
    log: TrainingLog,
    model: ModelSpec,
    preprocessing: Preprocessing,
    n_continuous: tuple[int, int],
    x: Tensor,
    y: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    settings: FitSettings,
    confidence: float,
) -> MIEstimate | None:
    r"""KSG of the fitted index and the single column on the test rows, where the default
    has a single-column side facing 2 to :data:`MAX_INDEX_COLUMNS` columns and the index's
    KSG on the validation rows beats ``log.best_valid_mi`` (the validation estimate the
    default's training kept); else ``None`` (see the module documentation).

    Arguments:
        log: The default's training log on these rows.
        model: The default's model (the route applies only to the default).
        preprocessing: The default's map of each column (the route needs ``"gaussianize"``).
        n_continuous: The continuous columns of ``x`` and ``y``.
        x: Training rows (with the default's validation rows among them).
        y: Paired with ``x``.
        x_test: Test rows.
        y_test: Paired with ``x_test``.
        settings: The default's fitting settings (its seed gives the validation rows).
        confidence: The level of the interval.

    Returns:
        The KSG estimate (``estimator_name`` :data:`ESTIMATOR_NAME`, its warnings issued),
        or ``None`` where the route does not apply or does not win.
    """
    if not (model.by_default and preprocessing == "gaussianize") or log.best_valid_mi is None:
        return None
    target = single_column_side(x, y, n_continuous)
    if target is None:
        return None
    (z, z_test, other, other_test) = (y, y_test, x, x_test) if target == "y" else (x, x_test, y, y_test)
    columns = n_continuous[0] if target == "y" else n_continuous[1]
    if not 2 <= other.shape[1] <= MAX_INDEX_COLUMNS or columns != other.shape[1]:
        return None
    settings = settings.resolved()
    if settings.valid_percentage <= 0:
        return None
    generator = torch.Generator().manual_seed(settings.seed) if settings.seed is not None else None
    fitting, valid = split_indices(len(x), settings.valid_percentage, generator)
    if len(valid) <= 2 * DEFAULT_K:
        return None
    other_map = ColumnPreprocessor(preprocessing, columns).fit(other)
    z_map = ColumnPreprocessor(preprocessing, 1).fit(z)
    other_g, z_g = other_map(other).double(), z_map(z).double()[:, 0]
    index = _index(other_g, fit_ridge_index(other_g[fitting], z_g[fitting]))
    if largest_tie(index) > DEFAULT_K:  # atoms (columns of few values): KSG would overcount
        return None
    on_valid = float(ksg_terms(index[valid, None], z_g[valid, None], k=DEFAULT_K).mean())
    if not on_valid > log.best_valid_mi:
        return None
    test_index = _index(other_map(other_test).double(), fit_ridge_index(other_g, z_g))[:, None]
    result = ksg_with_error_bar(
        test_index, z_test.double(), DEFAULT_K, preprocessing, confidence, settings.seed, settings.device
    )
    result.estimator_name = ESTIMATOR_NAME
    for message in result.warnings:
        warnings.warn(message, RuntimeWarning, stacklevel=5)
    return result
