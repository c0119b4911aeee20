r"""A closed-form reference that holds all the dependence, reported from every row:
:func:`reference_on_all_rows`.

Where the default's critic starts from a closed-form reference (the Gaussian model, the
Gaussian mixture, :class:`~mist_reg.nn.references.mixture.MixtureLogRatio`, or the
Student-t copula, :class:`~mist_reg.nn.references.student_t.StudentTLogRatio`, chosen on
validation by :mod:`mist_reg.estimation.reference_choice`) and its trained correction does
not learn (:func:`~mist_reg.estimation.fit_settings.learned`: the kept weights'
validation estimate is not above the untrained start's), the network found nothing that the
closed-form model does not already hold. The trained critic is then that model, and its
held-out estimate is the model's log-ratio averaged over the 30% of rows kept for testing;
its error is then mostly the sampling error of those rows, not the misfit of the model.

A closed-form model is fitted (EM for the mixture, a reweighted covariance for the t copula)
in a fraction of the time a critic trains, so it is *cross-fitted* instead: the rows are cut
into :data:`FOLDS` folds, the model is fitted to the rows outside each fold (with the choices
the reference made by its search on the training rows: the mixture's number of components
and pooling of covariances, the t copula's degrees of freedom; searching again in every fold
costs more than the fits and did not help: docs/benchmarks.md), and its log-ratio
``log q(x, y) - log q(x) - log q(y)`` is averaged over the fold's rows. Every row is then
held out once, and every model is fitted on 80% of the rows instead of 70% less a tenth for
validation. The mean log-ratio of the normalised model, not a Donsker-Varadhan bound, is
reported (as for the closed-form reference model,
:class:`~mist_reg.estimators.reference_model.ReferenceModelMI`): the model's marginals are
exact marginals of its joint, so no partition term needs estimating from negative pairs.
Its standard error is the spread of the per-row log-ratios over ``sqrt(N)``.

Where the critic starts from the Gaussian model and its correction did not learn, the
model's MI has a closed form with an exactly known bias: the Gaussian MI of the covariance
of every row, that bias removed
(:func:`~mist_reg.functional.gaussian.gaussian_mutual_information`, as
:func:`~mist_reg.estimation.gaussian_estimate.gaussian_on_all_rows` reports it where the MI
is high for the rows), with no folds; only where every column is continuous and there are
at least :data:`~mist_reg.estimation.gaussian_estimate.ROWS_PER_COLUMN` rows per column.
So it is also where the correction did rise on the validation rows but the mixture
challenger's own search (:func:`gaussian_by_search`) kept one component: a held-out search
over both halves of the training rows (the rise is read on a tenth of them) found no
dependence beyond the Gaussian one, and the rise is then mostly the validation rows' noise
or the fitted start's finite-sample misfit, which the Gaussian MI of every row does not have.

The all-rows estimate replaces the held-out one only for the default estimator whose
training nobody configured, with no test rows given (given test rows stay the test rows)
and no cross-fitting asked for. Measured figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.fit_settings import learned
from mist_reg.estimation.gaussian_estimate import ROWS_PER_COLUMN, gaussian_of_every_row
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimators.averaged import AveragedMINE
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.nn.references.mixture import MixtureLogRatio
from mist_reg.nn.references.student_t import StudentTLogRatio

__all__ = [
    "reference_on_all_rows",
    "closed_form_reference",
    "gaussian_by_search",
    "reads_gaussian_of_every_row",
    "cross_fitted_log_ratios",
    "FOLDS",
    "ALL_ROWS_NAMES",
]

FOLDS = 5
"""Folds of the cross-fitted reference: each model is fitted on 80% of the rows."""

ALL_ROWS_NAMES = {MixtureLogRatio: "mixture (cross-fitted)", StudentTLogRatio: "student_t (cross-fitted)"}
"""The ``estimator_name`` of an estimate from :func:`reference_on_all_rows`, by the kind of reference."""

ClosedForm = MixtureLogRatio | StudentTLogRatio


def closed_form_reference(estimator: Any) -> ClosedForm | None:
    r"""The reference of ``estimator``'s critic where it is a fitted Gaussian mixture of
    several components or a Student-t copula of finite degrees of freedom, else ``None``
    (the Gaussian model, or no reference).

    Example:
        >>> from mist_reg.estimators import mine
        >>> closed_form_reference(mine(2, 2, hidden_dims=[8], reference="gaussian")) is None
        True
    """
    reference = _reference_of(estimator)
    if isinstance(reference, (MixtureLogRatio, StudentTLogRatio)) and not reference.is_gaussian:
        return reference
    return None


def _reference_of(estimator: Any) -> Any:
    r"""The reference of ``estimator``'s critic, or ``None``."""
    return getattr(getattr(estimator, "critic", None), "reference", None)


def _gaussian_start(estimator: Any, averaged: bool = False) -> bool:
    r"""Whether ``estimator``'s critic starts from the Gaussian model (with ``averaged``, also
    an averaged critic whose members share it)."""
    reference = _reference_of(estimator)
    if reference is None and averaged:
        reference = getattr(estimator.critic, "base", None) if isinstance(estimator, AveragedMINE) else None
    return isinstance(reference, GaussianLogRatio) or (
        isinstance(reference, StudentTLogRatio) and reference.is_gaussian
    )


def _gaussian_readable(fitted: FoldModel, x: Tensor, y: Tensor) -> bool:
    r"""Whether the Gaussian MI of the rows ``x, y`` (in the critic's coordinates) can be
    reported without bias: every column continuous, at least :data:`ROWS_PER_COLUMN` rows
    per column."""
    continuous = fitted.x_map.n_leading == x.shape[1] and fitted.y_map.n_leading == y.shape[1]
    enough = x.shape[0] >= ROWS_PER_COLUMN * (x.shape[1] + y.shape[1])
    return continuous and x.is_floating_point() and y.is_floating_point() and enough


def _gaussian_on_all_rows(result: MIEstimate, fitted: FoldModel, x: Tensor, y: Tensor) -> MIEstimate:
    r"""The Gaussian MI of every row, its covariance's bias removed
    (:func:`~mist_reg.functional.gaussian.gaussian_mutual_information`), where
    :func:`_gaussian_readable`; else ``result``."""
    if not _gaussian_readable(fitted, x, y):
        return result
    return gaussian_of_every_row(result, x.double(), y.double(), estimator=result.estimator, log=result.log)


def gaussian_by_search(fitted: FoldModel) -> bool:
    r"""Whether ``fitted``'s critic starts from the Gaussian model (plain or averaged) and the
    mixture challenger's own held-out search, among several numbers of components, kept one
    (``TrainingLog.mixture_search``): the training rows showed no dependence beyond the
    Gaussian one, so a rise of its correction on the validation rows is not taken as structure.

    Example:
        >>> from mist_reg.estimation.fit_settings import TrainingLog
        >>> from mist_reg.estimation.preprocessing import ColumnPreprocessor
        >>> from mist_reg.estimators import mine
        >>> plain, estimator = ColumnPreprocessor("none", 2), mine(2, 2, hidden_dims=[8], reference="gaussian")
        >>> gaussian_by_search(FoldModel(estimator, TrainingLog(mixture_search=1), plain, plain))
        True
        >>> gaussian_by_search(FoldModel(estimator, TrainingLog(mixture_search=3), plain, plain))
        False
    """
    return fitted.log.mixture_search == 1 and _gaussian_start(fitted.estimator, averaged=True)


def reads_gaussian_of_every_row(fitted: FoldModel, x: Tensor, y: Tensor) -> bool:
    r"""Whether :func:`reference_on_all_rows`, given rows that include ``x, y`` (the training
    rows, not yet mapped), reports the Gaussian MI of every row for ``fitted`` whatever its
    correction learned: :func:`gaussian_by_search`, and the Gaussian MI readable on ``x, y``
    (then on more rows too).

    Example:
        >>> from mist_reg.estimation.fit_settings import TrainingLog
        >>> from mist_reg.estimation.preprocessing import ColumnPreprocessor
        >>> from mist_reg.estimators import mine
        >>> plain, estimator = ColumnPreprocessor("none", 2), mine(2, 2, hidden_dims=[8], reference="gaussian")
        >>> searched = FoldModel(estimator, TrainingLog(mixture_search=1), plain, plain)
        >>> x, y = torch.randn(600, 2), torch.randn(600, 2)
        >>> reads_gaussian_of_every_row(searched, x, y), reads_gaussian_of_every_row(searched, x[:5], y[:5])
        (True, False)
    """
    return gaussian_by_search(fitted) and _gaussian_readable(fitted, fitted.x_map(x), fitted.y_map(y))


def _unfitted_like(reference: ClosedForm) -> ClosedForm:
    r"""A new model of the kind of ``reference`` that keeps its choices when fitted."""
    if isinstance(reference, StudentTLogRatio):
        return StudentTLogRatio(reference.x_dim, reference.y_dim, df=reference.df_value, ridge=reference.ridge)
    model = MixtureLogRatio(reference.x_dim, reference.y_dim, covariance_floor=reference.covariance_floor)
    model.fixed_components, model.fixed_pooling = reference.n_components, reference.pooling
    return model


def cross_fitted_log_ratios(
    reference: ClosedForm, x: Tensor, y: Tensor, folds: int = FOLDS, generator: torch.Generator | None = None
) -> Tensor:
    r"""``log q(x_i, y_i) - log q(x_i) - log q(y_i)`` for every row ``i``, ``q`` a model of the
    kind of the fitted ``reference``, with its choices, fitted on the rows outside ``i``'s
    fold; float64, shape ``[N]``.

    Example:
        >>> from mist_reg.tasks.mixtures import ClusteredMixtureTask
        >>> task = ClusteredMixtureTask(2, 2, n_clusters=3, spread=3.0)
        >>> x, y = task.sample(2000, seed=0)
        >>> reference = MixtureLogRatio(2, 2)
        >>> reference.fit_data(x, y)  # chooses the number of components
        >>> terms = cross_fitted_log_ratios(reference, x, y, generator=torch.Generator().manual_seed(0))
        >>> terms.shape, abs(float(terms.mean()) - task.mutual_information) < 0.1
        (torch.Size([2000]), True)
    """
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y must have the same number of rows, got {n} and {y.shape[0]}")
    if not 2 <= folds <= n:
        raise ValueError(f"folds must be between 2 and the number of rows ({n}), got {folds}")
    x, y = x.double(), y.to(device=x.device, dtype=torch.float64)
    order = torch.randperm(n, generator=generator).to(x.device)
    terms = torch.empty(n, dtype=torch.float64, device=x.device)
    for held in torch.tensor_split(order, folds):
        inside = torch.ones(n, dtype=torch.bool, device=x.device)
        inside[held] = False
        model = _unfitted_like(reference).to(x.device)
        model.fit_data(x[inside], y[inside])
        with torch.no_grad():
            terms[held] = model(x[held], y[held]).double()
    return terms


def reference_on_all_rows(
    result: MIEstimate, fitted: FoldModel, min_delta: float, rows: tuple[Tensor, Tensor] | None, seed: int | None
) -> MIEstimate:
    r"""``result`` itself, unless ``fitted`` is the default's critic on a closed-form
    reference whose correction did not learn by ``min_delta``, or on the Gaussian start whose
    mixture challenger kept one component (:func:`gaussian_by_search`; see the module
    documentation): then, over ``rows`` (every row of ``x`` and ``y``, training and
    held-out, mapped to the coordinates the critic was fitted in), the cross-fitted
    reference's mean log-ratio (:func:`closed_form_reference`), or for the Gaussian start the
    Gaussian MI with its bias removed. ``rows=None`` (test rows were given) keeps
    ``result``.

    Example:
        >>> from mist_reg.estimation.fit_settings import TrainingLog
        >>> from mist_reg.estimation.preprocessing import ColumnPreprocessor
        >>> from mist_reg.estimators import mine
        >>> x, y = torch.randn(600, 2), torch.randn(600, 2)
        >>> plain = ColumnPreprocessor("none", 2)
        >>> gaussian = FoldModel(mine(2, 2, hidden_dims=[8], reference="gaussian"), TrainingLog(), plain, plain)
        >>> held_out = MIEstimate(0.01, standard_error=0.05)
        >>> reference_on_all_rows(held_out, gaussian, 0.0, None, seed=0) is held_out  # test rows were given
        True
        >>> every_row = reference_on_all_rows(held_out, gaussian, 0.0, (x, y), seed=0)  # nothing learned
        >>> every_row.estimator_name, every_row.n_test, abs(every_row) < 0.02
        ('gaussian_unbiased', 600, True)
    """
    if rows is None:
        return result
    if gaussian_by_search(fitted):
        return _gaussian_on_all_rows(result, fitted, fitted.x_map(rows[0]), fitted.y_map(rows[1]))
    if learned(fitted.log, min_delta):
        return result
    reference = closed_form_reference(fitted.estimator)
    if reference is None and not _gaussian_start(fitted.estimator):
        return result
    x, y = fitted.x_map(rows[0]), fitted.y_map(rows[1])  # the coordinates the critic was fitted in
    if reference is None:
        return _gaussian_on_all_rows(result, fitted, x, y)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    terms = cross_fitted_log_ratios(reference, x, y, FOLDS, generator)
    if not bool(torch.isfinite(terms).all()):
        return result
    n = terms.shape[0]
    return MIEstimate(
        float(terms.mean()),
        standard_error=float(terms.std()) / math.sqrt(n),
        confidence=result.confidence,
        n_test=n,
        n_folds=FOLDS,
        estimator_name=ALL_ROWS_NAMES[type(reference)],
        estimator=result.estimator,
        log=result.log,
        warnings=list(result.warnings),
    )
