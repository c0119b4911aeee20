r"""The coordinates a fold is fitted in: :func:`fit_in_coordinates` maps each side's continuous
columns (Gaussianised by default) or, where a closed-form reference fits better there,
standardises them, and fits the estimator.

:func:`mist_reg.estimate_mi` maps every continuous column through its empirical CDF to a
normal marginal. For copulas that makes the closed-form references exact (a monotone
distortion of each column leaves a Gaussian or Student-t copula as it was). Two kinds of
data are bent by it instead, because a per-column map whose slope differs from one mode of
a marginal to the next turns what is linear or Gaussian within each mode into a curve:

* **clusters**: a mixture of Gaussians stays one only under affine maps of its columns;
* **mixed columns**: beside indicator columns of discrete values, a continuous column is a
  mixture over those values, and a relation linear-Gaussian given the codes stops being so.

The log-ratio ``log p(x, y) - log p(x) - log p(y)`` does not depend on the coordinates of
either side, so a model may as well be fitted where it is exact, and two fits of it in two
coordinates are compared by a held-out DV bound, which is comparable across them. The
comparisons use two-fold bounds on every training row, not the validation estimates of two
trained critics, which rest on a tenth of them (docs/choosing-an-estimator.md, step 6,
shows such a choice going wrong): for sides with indicator columns, the Gaussian reference's
bound in the two coordinates, before anything is trained; for clustered data (where the
Gaussian-mixture challenger chose more than one component), the two mixtures' bounds from
their choice of ``K`` decide in which coordinates the mixture challenges the trained
Gaussian start (scored untrained on the same validation rows, and trained there if it
wins). The test rows enter no comparison, so the reported estimate stays a held-out bound.
Other data, and columns the user preprocesses otherwise, are fitted once.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import torch
from torch import Tensor

from mist_reg.estimation.fit_settings import FitSettings, TrainingLog
from mist_reg.estimation.fitting import fit_estimator, sample_loaders
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import ColumnPreprocessor, Preprocessing
from mist_reg.estimation.reference_choice import Relocated, fit_with_reference_choice
from mist_reg.estimators.base import MIEstimator
from mist_reg.nn.critic import Critic
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.nn.references.held_out import shifted_dv_bound, two_fold_halves
from mist_reg.nn.references.mixture import MixtureLogRatio

__all__ = ["FoldModel", "fit_in_coordinates"]


@dataclasses.dataclass
class FoldModel:
    r"""A fitted estimator with the maps of its coordinates (apply them to test rows)."""

    estimator: MIEstimator
    log: TrainingLog
    x_map: ColumnPreprocessor
    y_map: ColumnPreprocessor
    initial_state: dict[str, Any] | None = None  # the weights training started from, for refits on fewer rows


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
    columns of each side, or on standardised columns where the module documentation says
    so, and returns the fit kept with the maps of its coordinates."""
    c_x, c_y = n_continuous

    def fitted(kind: Preprocessing) -> tuple[ColumnPreprocessor, ColumnPreprocessor, Any, Any]:
        x_map, y_map = ColumnPreprocessor(kind, c_x).fit(x), ColumnPreprocessor(kind, c_y).fit(y)
        return x_map, y_map, x_map(x), y_map(y)

    x_map, y_map, xg, yg = fitted(preprocessing)
    choosing = model.by_default and preprocessing == "gaussianize" and bool(c_x or c_y)
    side = _continuous_side(x, y, c_x, c_y) if model.by_default else None
    if choosing and _has_indicators(x, y, c_x, c_y):
        xs_map, ys_map, xs, ys = fitted("standardize")
        if _gaussian_bound(xs, ys, settings) > _gaussian_bound(xg, yg, settings):
            estimator = model.build(xs.shape[1], ys.shape[1], fresh)
            estimator, log = fit_with_reference_choice(
                estimator, settings, xs, ys, reference_model=model.by_default, marginal_side=side
            )
            return FoldModel(estimator, log, xs_map, ys_map)
    moved: list[FoldModel] = []

    def standardised_mixture(gaussianised: Critic) -> Relocated | None:
        """The mixture challenger in standardised columns instead, where its mixture there has
        the higher two-fold bound (see the module documentation)."""
        if not (choosing and isinstance(gaussianised, MixtureLogRatio)):
            return None
        xs_map, ys_map, xs, ys = fitted("standardize")
        mixture = MixtureLogRatio(xs.shape[1], ys.shape[1])
        training, validation = sample_loaders(xs, ys, settings)
        mixture.fit_data(training.x, training.y)
        if not _compared_on_training_rows(mixture, gaussianised):
            return None
        mixture.freeze_choice()  # fit_estimator refits it on the same rows, without the search
        with torch.random.fork_rng(devices=[]):  # if it loses, later networks draw as without it
            alternative = model.build(xs.shape[1], ys.shape[1], fresh=True)
        alternative.critic.reference = mixture.to(next(alternative.parameters()).device)

        def train() -> tuple[MIEstimator, TrainingLog]:
            alternative_log = fit_estimator(alternative, settings, xs, ys)
            moved.append(FoldModel(alternative, alternative_log, xs_map, ys_map))
            return alternative, alternative_log

        return Relocated(alternative, validation, train)

    estimator = model.build(xg.shape[1], yg.shape[1], fresh)
    estimator, log = fit_with_reference_choice(
        estimator,
        settings,
        xg,
        yg,
        reference_model=model.by_default,
        relocate=standardised_mixture,
        marginal_side=side,
    )
    if moved and estimator is moved[0].estimator:
        return moved[0]
    return FoldModel(estimator, log, x_map, y_map)


def _continuous_side(x: Any, y: Any, c_x: int, c_y: int) -> Literal["x", "y"] | None:
    """The side of continuous columns only beside a side with discrete ones, if there is one
    (the side whose marginal the held-out reference model may fit by a mixture)."""
    if not _has_indicators(x, y, c_x, c_y):
        return None
    if c_y == y.shape[1] and c_y > 0:
        return "y"
    if c_x == x.shape[1] and c_x > 0:
        return "x"
    return None


def _has_indicators(x: Any, y: Any, c_x: int, c_y: int) -> bool:
    """Whether a side holds indicator columns of discrete values beside continuous ones."""
    floats = x.is_floating_point() and y.is_floating_point()
    return floats and (c_x < x.shape[1] or c_y < y.shape[1])


def _training_rows(x: Tensor, y: Tensor, settings: FitSettings) -> tuple[Tensor, Tensor]:
    """The rows :func:`~mist_reg.estimation.fitting.fit_estimator` trains on (validation rows left out)."""
    training, _ = sample_loaders(x, y, settings)
    return training.x, training.y


def _gaussian_bound(x: Tensor, y: Tensor, settings: FitSettings) -> float:
    """The Gaussian reference's two-fold held-out DV bound on the training rows of ``x, y``."""
    x, y = _training_rows(x, y, settings)
    folds = two_fold_halves(len(x), x.device)
    total = 0.0
    for train, test in (folds, folds[::-1]):
        reference = GaussianLogRatio(x.shape[1], y.shape[1])
        reference.fit_data(x[train], y[train])
        total += shifted_dv_bound(reference, x[test], y[test])
    return total / 2


def _compared_on_training_rows(standardised: MixtureLogRatio, gaussianised: MixtureLogRatio) -> bool:
    """Whether the standardised mixture's two-fold held-out bound beats the Gaussianised
    one's (neither, when either has none: a single candidate ``K``)."""
    if standardised.held_out_bound is None or gaussianised.held_out_bound is None:
        return False
    return standardised.held_out_bound > gaussianised.held_out_bound
