r"""The coordinates a fold is fitted in: :func:`fit_in_coordinates` maps each side's continuous
columns (Gaussianised by default), fits the estimator there, and gives clustered data a
second fit on standardised columns.

Why a second fit. :func:`mist_reg.estimate_mi` maps every continuous column through its
empirical CDF to a normal marginal. For copulas that is what makes the closed-form
references exact: a monotone distortion of each column leaves a Gaussian or Student-t
copula as it was. For clusters it is the wrong map: a mixture of Gaussians stays one only
under affine maps of its columns, and a per-column map whose slope differs from one mode
of a marginal to the next bends every cluster into a shape that the mixture reference
needs more components to follow, and fits less well with the components the sample size
allows. The log-ratio ``log p(x, y) - log p(x) - log p(y)`` does not depend on the
coordinates of either side, so the mixture may as well be fitted where it is exact.

So when the Gaussian-mixture challenger has won on the Gaussianised columns (the dependence
is clustered: :mod:`~mist_reg.estimation.reference_choice`), a mixture is fitted again on
standardised columns (``K`` chosen as before, on halves of the training rows). The two
mixtures are compared by the same two-fold held-out bound that chose their ``K``, on the
same training rows: the log-ratio does not depend on the coordinates, so the bounds are
comparable, and they rest on every training row where the validation estimates of two
trained critics rest on a tenth of them (which picked the wrong coordinates by 0.001 nats
on a task where the right ones are 0.09 nats better). Where the standardised mixture wins, an
estimator is trained from it and kept with its maps; otherwise the first fit stands and
nothing more is trained. The test rows enter neither comparison, so the reported estimate
stays a held-out bound. Data whose mixture did not win, or whose columns the user
preprocesses otherwise, are fitted once, as before.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from mist_reg.estimation.fit_settings import FitSettings, TrainingLog
from mist_reg.estimation.fitting import fit_estimator, sample_loaders
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import ColumnPreprocessor, Preprocessing
from mist_reg.estimation.reference_choice import fit_with_reference_choice
from mist_reg.estimators.base import MIEstimator
from mist_reg.nn.references.mixture import MixtureLogRatio

__all__ = ["FoldModel", "fit_in_coordinates"]


@dataclasses.dataclass
class FoldModel:
    r"""A fitted estimator with the maps of its coordinates (apply them to test rows)."""

    estimator: MIEstimator
    log: TrainingLog
    x_map: ColumnPreprocessor
    y_map: ColumnPreprocessor


def _mixture_won(estimator: MIEstimator) -> bool:
    return isinstance(getattr(getattr(estimator, "critic", None), "reference", None), MixtureLogRatio)


def fit_in_coordinates(
    model: ModelSpec,
    preprocessing: Preprocessing,
    n_continuous: tuple[int, int],
    x: Any,
    y: Any,
    settings: FitSettings,
    fresh: bool,
) -> FoldModel:
    r"""Fits ``model`` on ``x, y`` after ``preprocessing`` of the first ``n_continuous``
    columns of each side, and once more on standardised columns where the module
    documentation says so; returns the fit with the higher best validation estimate."""
    c_x, c_y = n_continuous

    def fitted(kind: Preprocessing) -> tuple[ColumnPreprocessor, ColumnPreprocessor, Any, Any]:
        x_map, y_map = ColumnPreprocessor(kind, c_x).fit(x), ColumnPreprocessor(kind, c_y).fit(y)
        return x_map, y_map, x_map(x), y_map(y)

    x_map, y_map, xg, yg = fitted(preprocessing)
    estimator = model.build(xg.shape[1], yg.shape[1], fresh)
    estimator, log = fit_with_reference_choice(estimator, settings, xg, yg, reference_model=model.by_default)
    first = FoldModel(estimator, log, x_map, y_map)
    if not (model.by_default and preprocessing == "gaussianize" and (c_x or c_y) and _mixture_won(estimator)):
        return first
    x_map, y_map, xs, ys = fitted("standardize")
    mixture = MixtureLogRatio(xs.shape[1], ys.shape[1])
    training, _ = sample_loaders(xs, ys, settings)  # the rows fit_estimator trains on
    mixture.fit_data(training.x, training.y)
    by_mixtures = _compared_on_training_rows(mixture, estimator.critic.reference)
    if by_mixtures is False:
        return first
    mixture.freeze_choice()  # fit_estimator refits it on the same rows, without the search
    alternative = model.build(xs.shape[1], ys.shape[1], fresh=True)
    alternative.critic.reference = mixture
    alternative_log = fit_estimator(alternative, settings, xs, ys)
    if by_mixtures or _validation(alternative_log) > _validation(log):
        return FoldModel(alternative, alternative_log, x_map, y_map)
    return first


def _compared_on_training_rows(standardised: MixtureLogRatio, gaussianised: MixtureLogRatio) -> bool | None:
    """Whether the standardised mixture's two-fold held-out bound beats the Gaussianised
    one's; ``None`` when either has none (a single candidate ``K``)."""
    if standardised.held_out_bound is None or gaussianised.held_out_bound is None:
        return None
    return standardised.held_out_bound > gaussianised.held_out_bound


def _validation(log: TrainingLog) -> float:
    """The best validation estimate of a fit (``-inf`` without validation)."""
    return -math.inf if log.best_valid_mi is None else log.best_valid_mi
