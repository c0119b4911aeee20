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

The features are blocks of the Gaussianised columns (the columns, their squares, pairwise
products, hinges), fitted by ridge regression; the feature set and the penalty are chosen
by leave-one-out error (:mod:`mist_reg.estimation.index_features`). A second index is the
single-index model started from it, ``z ~ h(w^T features(x))`` with a small network ``h``
(:func:`refine_index`): it finds the direction where ``f`` bends back and the ridge sees
little. The route is a challenger: each index is fitted on the default's training rows less
its validation rows, and the one whose KSG of ``(g(x), z)`` on those validation rows is
higher (the refined one only where it beats the ridge's by more than the paired standard
error of the two, so that a tie in the noise keeps the simpler index) is kept where it
beats the validation estimate the default's training kept; it is then refitted on all
training rows and KSG is reported on the test rows (:func:`single_index_estimate`), which
enter neither fit nor choice. Under cross-fitting each fold's rows are read by an index
fitted on the other folds, and KSG is taken over all the rows
(:func:`cross_fitted_index_estimate`).
Mechanism and figures: ``docs/choosing-an-estimator.md`` and ``docs/benchmarks.md`` ("A
single index", "A single-index model").
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

from mist_reg.estimation.data import split_indices
from mist_reg.estimation.diagnostics import largest_tie
from mist_reg.estimation.fit_settings import FitSettings, TrainingLog
from mist_reg.estimation.index_features import feature_count, fit_ridge_index, index_of, used_blocks
from mist_reg.estimation.index_features import features as all_features
from mist_reg.estimation.knn_estimate import DEFAULT_K, ksg_with_error_bar, subsampling_standard_error
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import ColumnPreprocessor, Preprocessing
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimation.single_column import single_column_side
from mist_reg.functional.knn import ksg_terms

__all__ = [
    "single_index_estimate",
    "cross_fitted_index_estimate",
    "index_reads_left_out",
    "refine_index",
    "INDEX_KINDS",
    "MAX_INDEX_COLUMNS",
    "ESTIMATOR_NAME",
]

MAX_INDEX_COLUMNS = 256
r"""The most columns of the other side: ``2 d`` features must stay well below the few
thousand training rows for a ridge regression to read one index from them."""

ESTIMATOR_NAME = "ksg (single index)"
r"""The name :func:`mist_reg.estimate_mi` reports where this route is kept."""

INDEX_KINDS = ("ridge", "single-index model")
r"""The indices tried: the ridge regression (:func:`fit_ridge_index`), and the single-index
model that starts from it (:func:`refine_index`)."""

_HIDDEN = 32  # units of each of the two hidden layers of the link h
_STEPS = 2000  # full-batch Adam steps at most
_PATIENCE = 100  # steps without a lower held-out squared error before stopping
_LEARNING_RATE = 1e-2


def refine_index(
    x: Tensor, z: Tensor, fit: tuple[Tensor, Tensor, Tensor], seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    r"""The single-index model ``z ~ h(w^T features(x))`` started from the ridge ``fit`` of
    :func:`fit_ridge_index` (its features, its weights scaled to an index of unit variance),
    ``w`` and a small network ``h`` (one input, two hidden layers of 32 SiLU units) fitted
    together by least squares with full-batch Adam, and stopped at the least squared error on
    a seventh of the rows held out from the fit. A ridge regression finds only the part of
    ``f`` that is linear in its features: where ``f`` bends back (``sin`` of a projection of
    many columns), the linear trace of each column is faint and the ridge's ``w`` is mostly
    noise, while the least-squares fit through ``h`` recovers ``w`` itself. Returns the fit
    with ``w`` in place of the ridge weights (zero on the features the ridge left out);
    ``seed`` fixes the held-out rows and ``h``'s start.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(3000, 16, generator=g, dtype=torch.float64)
        >>> z = torch.sin(2 * x.sum(1) / 4) + 0.2 * torch.randn(3000, generator=g, dtype=torch.float64)
        >>> ridge = fit_ridge_index(x, z)
        >>> refined = refine_index(x, z, ridge)
        >>> cosine = lambda w: float(w[:16].sum() / w[:16].norm() / 4)  # against the true direction
        >>> [round(cosine(fit[1]), 3) for fit in (ridge, refined)]  # the sine reads the ridge's error
        [0.988, 1.0]

    Raises:
        ValueError: When ``x`` is not ``[N, d]``, ``z`` not ``[N]``, or ``fit`` is not a
            ridge fit of ``d`` columns.
    """
    means, weights, _ = fit
    if x.dim() != 2 or z.dim() != 1 or len(x) != len(z):
        raise ValueError(f"need x [N, d] and z [N] with the same rows, got {tuple(x.shape)} and {tuple(z.shape)}")
    width = feature_count(x.shape[1])
    if weights.shape != (width,) or means.shape != weights.shape:
        raise ValueError(
            f"fit must be fit_ridge_index's of {x.shape[1]} columns (means and weights of {width} "
            f"features), got {tuple(means.shape)} and {tuple(weights.shape)}"
        )
    used = used_blocks(x.shape[1], weights.cpu())
    # a direction from a few thousand rows: single precision, on the CPU, suffices
    features = (all_features(x.double()) - means).cpu()[:, used].float()
    target = (z.double() - z.double().mean()).float().cpu()
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    held, kept = [(features[rows], target[rows]) for rows in (order[: len(x) // 7], order[len(x) // 7 :])]
    ridge_w = weights.cpu()[used]
    start = ridge_w / (features.double() @ ridge_w).std().clamp_min(1e-12)
    start = start.float()
    w = start.clone().requires_grad_(True)

    def uniform(*shape: int, bound: float) -> Tensor:
        return ((torch.rand(*shape, generator=generator) * 2 - 1) * bound).requires_grad_(True)

    layers = [
        (uniform(1, _HIDDEN, bound=1.0), uniform(_HIDDEN, bound=1.0)),
        (uniform(_HIDDEN, _HIDDEN, bound=_HIDDEN**-0.5), uniform(_HIDDEN, bound=_HIDDEN**-0.5)),
        (uniform(_HIDDEN, 1, bound=_HIDDEN**-0.5), uniform(1, bound=_HIDDEN**-0.5)),
    ]

    def error(rows: tuple[Tensor, Tensor]) -> Tensor:
        hidden = (rows[0] @ w)[:, None]
        for k, (matrix, bias) in enumerate(layers):
            hidden = hidden @ matrix + bias
            hidden = torch.nn.functional.silu(hidden) if k < len(layers) - 1 else hidden
        return (hidden[:, 0] - rows[1]).square().mean()

    optimizer = torch.optim.Adam([w] + [p for layer in layers for p in layer], lr=_LEARNING_RATE)
    best, best_w, waited = math.inf, start, 0
    for _ in range(_STEPS):
        optimizer.zero_grad()
        error(kept).backward()
        optimizer.step()
        with torch.no_grad():
            held_error = float(error(held))
        if held_error < best:
            best, best_w, waited = held_error, w.detach().clone(), 0
        elif (waited := waited + 1) >= _PATIENCE:
            break
    return (
        means,
        torch.zeros(len(weights), dtype=torch.float64).masked_scatter_(used, best_w.double()).to(weights.device),
        torch.zeros((), dtype=torch.float64, device=weights.device),
    )


def _fit_indices(
    x: Tensor, z: Tensor, seed: int, kinds: Sequence[str] = INDEX_KINDS
) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    r"""The fits of ``kinds`` of :data:`INDEX_KINDS` (one ridge regression for all)."""
    ridge = fit_ridge_index(x, z)
    return {kind: ridge if kind == "ridge" else refine_index(x, z, ridge, seed) for kind in kinds}


def _route_side(
    model: ModelSpec, preprocessing: Preprocessing, n_continuous: tuple[int, int], x: Tensor, y: Tensor
) -> str | None:
    r"""``"x"`` or ``"y"``, the side of the single column, where the route applies: the
    default model on Gaussianised columns, one continuous column facing 2 to
    :data:`MAX_INDEX_COLUMNS` continuous ones; else ``None``."""
    if not (model.by_default and preprocessing == "gaussianize"):
        return None
    target = single_column_side(x, y, n_continuous)
    if target is None:
        return None
    other, columns = (x, n_continuous[0]) if target == "y" else (y, n_continuous[1])
    return target if 2 <= other.shape[1] <= MAX_INDEX_COLUMNS and columns == other.shape[1] else None


def _gaussianised(preprocessing: Preprocessing, other: Tensor, z: Tensor) -> tuple[Tensor, Tensor, ColumnPreprocessor]:
    r"""The mapped columns of ``other`` and the mapped single column, and the map of ``other``."""
    other_map = ColumnPreprocessor(preprocessing, other.shape[1]).fit(other)
    return other_map(other).double(), ColumnPreprocessor(preprocessing, 1).fit(z)(z).double()[:, 0], other_map


def _validation_margins(
    target: str, log: TrainingLog, preprocessing: Preprocessing, x: Tensor, y: Tensor, settings: FitSettings
) -> dict[str, float] | None:
    r"""Per kind of :data:`INDEX_KINDS`, KSG of the index (fitted on the training rows ``x, y``
    less the default's validation rows) on those validation rows, minus ``log.best_valid_mi``;
    kinds whose index has ties are left out; ``None`` where there are no validation rows to
    compare on."""
    settings = settings.resolved()
    if log.best_valid_mi is None or settings.valid_percentage <= 0:
        return None
    generator = torch.Generator().manual_seed(settings.seed) if settings.seed is not None else None
    fitting, valid = split_indices(len(x), settings.valid_percentage, generator)
    if len(valid) <= 2 * DEFAULT_K:
        return None
    other_g, z_g, _ = _gaussianised(preprocessing, *((x, y) if target == "y" else (y, x)))
    scores = {}
    for kind, fit in _fit_indices(other_g[fitting], z_g[fitting], _seed(settings)).items():
        index = index_of(other_g, fit)[valid, None]
        if largest_tie(index) <= DEFAULT_K:  # else atoms (columns of few values): KSG would overcount
            scores[kind] = (float(ksg_terms(index, z_g[valid, None], k=DEFAULT_K).mean()), index)
    if "ridge" in scores:  # a refined index must beat the ridge's by more than their difference's noise
        ridge, ridge_index = scores["ridge"]
        for kind, (score, index) in list(scores.items()):
            if kind != "ridge" and not score - ridge > subsampling_standard_error(
                index, z_g[valid, None], generator=torch.Generator().manual_seed(0), minus=ridge_index
            ):
                del scores[kind]
    return {kind: score - log.best_valid_mi for kind, (score, _) in scores.items()}


def _seed(settings: FitSettings) -> int:
    return settings.seed if settings.seed is not None else 0


def _held_out_index(
    preprocessing: Preprocessing, other: Tensor, z: Tensor, other_test: Tensor, kind: str, seed: int
) -> Tensor:
    r"""The index of the rows ``other_test``, fitted on all the training rows ``other, z``."""
    other_g, z_g, other_map = _gaussianised(preprocessing, other, z)
    return index_of(other_map(other_test).double(), _fit_indices(other_g, z_g, seed, (kind,))[kind])


def _reported(
    index: Tensor, z: Tensor, preprocessing: Preprocessing, confidence: float, settings: FitSettings
) -> MIEstimate:
    result = ksg_with_error_bar(
        index[:, None], z.double(), DEFAULT_K, preprocessing, confidence, settings.seed, settings.device
    )
    result.estimator_name = ESTIMATOR_NAME
    for message in result.warnings:
        warnings.warn(message, RuntimeWarning, stacklevel=5)
    return result


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
    target = _route_side(model, preprocessing, n_continuous, x, y)
    if target is None:
        return None
    margins = _validation_margins(target, log, preprocessing, x, y, settings)
    if not margins or not max(margins.values()) > 0:
        return None
    kind = max(margins, key=margins.__getitem__)
    (other, z, other_test, z_test) = (x, y, x_test, y_test) if target == "y" else (y, x, y_test, x_test)
    index = _held_out_index(preprocessing, other, z, other_test, kind, _seed(settings))
    return _reported(index, z_test, preprocessing, confidence, settings)


def cross_fitted_index_estimate(
    folds: list[tuple[Tensor, TrainingLog, FitSettings]],
    model: ModelSpec,
    preprocessing: Preprocessing,
    n_continuous: tuple[int, int],
    x: Tensor,
    y: Tensor,
    confidence: float,
) -> MIEstimate | None:
    r"""The route under cross-fitting: each fold's index is fitted on the other folds' rows,
    and KSG of the pair ``(index, column)`` is taken over all the rows, each read by an index
    not fitted on it. Kept where the validation margins of the folds' own trainings (as in
    :func:`single_index_estimate`) are positive on average; else ``None``.

    Arguments:
        folds: Per fold, its held-out rows of ``x, y`` (indices), the default's training log
            on the other rows, and the settings it was trained with.
        model: The default's model.
        preprocessing: The default's map of each column.
        n_continuous: The continuous columns of ``x`` and ``y``.
        x: All the rows.
        y: Paired with ``x``.
        confidence: The level of the interval.

    Returns:
        The KSG estimate over all the rows (``n_folds`` set), or ``None``.
    """
    target = _route_side(model, preprocessing, n_continuous, x, y)
    if target is None:
        return None
    other, z = (x, y) if target == "y" else (y, x)
    trains = [torch.ones(len(x), dtype=torch.bool).index_fill_(0, held.cpu(), False) for held, _, _ in folds]
    totals = dict.fromkeys(INDEX_KINDS, 0.0)
    for train, (_, log, settings) in zip(trains, folds, strict=True):
        margins = _validation_margins(target, log, preprocessing, x[train], y[train], settings)
        if margins is None:
            return None
        totals = {kind: total + margins[kind] for kind, total in totals.items() if kind in margins}
    if not totals or not max(totals.values()) > 0:
        return None
    kind = max(totals, key=totals.__getitem__)
    index = torch.empty(len(x), dtype=torch.float64)
    for train, (held, _, settings) in zip(trains, folds, strict=True):
        index[held] = _held_out_index(preprocessing, other[train], z[train], other[held], kind, _seed(settings))
    if largest_tie(index) > DEFAULT_K:
        return None
    result = _reported(index, z, preprocessing, confidence, folds[0][2])
    result.n_folds = len(folds)
    return result


def index_reads_left_out(
    x: Tensor,
    y: Tensor,
    kept: Sequence[tuple[tuple[int, ...], tuple[int, ...]]],
    preprocessing: Preprocessing,
    seed: int | None,
) -> bool:
    r"""Whether an index of all the columns facing a single continuous column reads it better
    than an index of only the columns a split into independent blocks keeps (``kept``: the
    ``(x_columns, y_columns)`` of each block): the left-out columns then act on the single
    column jointly with the kept ones, through one index, which no test of pairs or groups
    of columns sees (``y = sin(2 sum x / sqrt(d)) + noise``: each column's own dependence is
    faint). Each index (the better of :data:`INDEX_KINDS`) is fitted on half the rows and
    scored by KSG on the other half; the index of all the columns must win by more than the
    standard error of the kept columns' KSG (an index with independent columns added is
    nearly the same index, whose score moves within that noise). ``False`` where no
    column is left out or the route does not apply (see :func:`single_index_estimate`).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(4000, 16, generator=g)
        >>> y = torch.sin(2 * x.sum(1, keepdim=True) / 4) + 0.2 * torch.randn(4000, 1, generator=g)
        >>> index_reads_left_out(x, y, [(tuple(range(15)), (0,))], "gaussianize", 0)  # column 15 left out
        True
        >>> y = torch.sin(2 * x[:, :15].sum(1, keepdim=True) / 4) + 0.2 * torch.randn(4000, 1, generator=g)
        >>> index_reads_left_out(x, y, [(tuple(range(15)), (0,))], "gaussianize", 0)  # column 15 independent
        False
    """
    target = single_column_side(x, y, (x.shape[1], y.shape[1]))
    if preprocessing != "gaussianize" or target is None:
        return False
    other, z = (x, y) if target == "y" else (y, x)
    used = sorted({c for columns in kept for c in columns[0 if target == "y" else 1]})
    if not 2 <= other.shape[1] <= MAX_INDEX_COLUMNS or len(used) == other.shape[1]:
        return False
    other_g, z_g, _ = _gaussianised(preprocessing, other, z)
    order = torch.randperm(len(z_g), generator=torch.Generator().manual_seed(seed or 0))
    fitting, scoring = order[: len(order) // 2], order[len(order) // 2 :]

    def read(columns: list[int]) -> tuple[float, Tensor]:
        features = other_g[:, columns]
        indices = [index_of(features, fit) for fit in _fit_indices(features[fitting], z_g[fitting], seed or 0).values()]
        scored = [(float(ksg_terms(i[scoring, None], z_g[scoring, None], k=DEFAULT_K).mean()), i) for i in indices]
        return max(scored, key=lambda pair: pair[0])

    kept_value, kept_index = read(used)
    error = subsampling_standard_error(
        kept_index[scoring, None], z_g[scoring, None], generator=torch.Generator().manual_seed(seed or 0)
    )
    return read(list(range(other.shape[1])))[0] > kept_value + error
