r"""A Gaussian mixture that holds all the dependence, reported from every row:
:func:`mixture_on_all_rows`.

Where the default's critic starts from the Gaussian-mixture reference
(:class:`~mist_reg.nn.references.mixture.MixtureLogRatio`, chosen on validation by
:mod:`mist_reg.estimation.reference_choice`) and its trained correction does not learn
(:func:`~mist_reg.estimation.critic_ensemble.learned`: the kept weights' validation
estimate is not above the untrained start's), the network found nothing that the closed-form
mixture does not already hold. The trained critic is then the mixture, and its held-out
estimate is the mixture's log-ratio averaged over the 30% of rows kept for testing, and its
error is then mostly the sampling error of those rows, not the misfit of the mixture.

EM fits a mixture in a fraction of the time a critic trains, so the mixture is
*cross-fitted* instead: the rows are cut into :data:`FOLDS` folds, a mixture is fitted to
the rows outside each fold (with the number of components and the pooling of covariances
that the reference chose by its search on the training rows; searching again in every fold
costs more than the fits and gave the same error), and its log-ratio
``log q(x, y) - log q(x) - log q(y)`` is averaged over the fold's rows. Every row is then
held out once, and every mixture is fitted on 80% of the rows instead of 70% less a tenth
for validation. The mean log-ratio of a normalised model, not a Donsker-Varadhan bound, is
reported (as for the closed-form reference model,
:class:`~mist_reg.estimators.reference_model.ReferenceModelMI`): the mixture's marginals
are exact mixtures of its joint, so no partition term needs estimating from negative pairs.
Its standard error is the spread of the per-row log-ratios over ``sqrt(N)``.

The all-rows estimate replaces the held-out one only for the default estimator whose
training nobody configured, with no test rows given (given test rows stay the test rows)
and no cross-fitting asked for.
Measured figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.critic_ensemble import learned
from mist_reg.estimation.result import MIEstimate
from mist_reg.nn.references.mixture import MixtureLogRatio

__all__ = ["mixture_on_all_rows", "fitted_mixture", "cross_fitted_log_ratios", "FOLDS", "MIXTURE_ALL_ROWS_NAME"]

FOLDS = 5
"""Folds of the cross-fitted mixture: each mixture is fitted on 80% of the rows."""

MIXTURE_ALL_ROWS_NAME = "mixture (cross-fitted)"
"""The ``estimator_name`` of an estimate from :func:`mixture_on_all_rows`."""


def fitted_mixture(estimator: Any) -> MixtureLogRatio | None:
    r"""The Gaussian-mixture reference of ``estimator``'s critic where one of several
    components was fitted, else ``None``.

    Example:
        >>> from mist_reg.estimators import mine
        >>> estimator = mine(2, 2, hidden_dims=[8], reference="gaussian")
        >>> fitted_mixture(estimator) is None
        True
    """
    reference = getattr(getattr(estimator, "critic", None), "reference", None)
    if isinstance(reference, MixtureLogRatio) and not reference.is_gaussian:
        return reference
    return None


def cross_fitted_log_ratios(
    x: Tensor,
    y: Tensor,
    folds: int = FOLDS,
    generator: torch.Generator | None = None,
    like: MixtureLogRatio | None = None,
) -> Tensor:
    r"""``log q(x_i, y_i) - log q(x_i) - log q(y_i)`` for every row ``i``, ``q`` the Gaussian
    mixture fitted on the rows outside ``i``'s fold; float64, shape ``[N]``. Each fold's
    mixture chooses its number of components and pooling by its own search, or takes those
    of the fitted mixture ``like``.

    Example:
        >>> from mist_reg.tasks.mixtures import ClusteredMixtureTask
        >>> task = ClusteredMixtureTask(2, 2, n_clusters=3, spread=3.0)
        >>> x, y = task.sample(2000, seed=0)
        >>> terms = cross_fitted_log_ratios(x, y, generator=torch.Generator().manual_seed(0))
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
        mixture = MixtureLogRatio(x.shape[1], y.shape[1]).to(x.device)
        if like is not None:
            mixture.fixed_components, mixture.fixed_pooling = like.n_components, like.pooling
        mixture.fit_data(x[inside], y[inside])
        with torch.no_grad():
            terms[held] = mixture(x[held], y[held]).double()
    return terms


def mixture_on_all_rows(
    result: MIEstimate, fitted: FoldModel, min_delta: float, rows: tuple[Tensor, Tensor] | None, seed: int | None
) -> MIEstimate:
    r"""``result`` itself, unless ``fitted`` is the default's critic on a Gaussian-mixture
    reference whose correction did not learn by ``min_delta`` (see the module
    documentation): then the cross-fitted mixture's mean log-ratio over ``rows``, every row
    of ``x`` and ``y`` (training and held-out), mapped to the coordinates the critic was
    fitted in. ``rows=None`` (test rows were given) keeps ``result``.

    Example:
        >>> from mist_reg.estimation.fit_settings import TrainingLog
        >>> from mist_reg.estimation.preprocessing import ColumnPreprocessor
        >>> from mist_reg.estimators import mine
        >>> x = torch.randn(100, 2)
        >>> plain = FoldModel(mine(2, 2, hidden_dims=[8]), TrainingLog(), ColumnPreprocessor("none", 2), ColumnPreprocessor("none", 2))
        >>> held_out = MIEstimate(1.0, standard_error=0.05)
        >>> mixture_on_all_rows(held_out, plain, 0.0, (x, x), seed=0) is held_out  # a Gaussian reference
        True
    """
    if rows is None or fitted_mixture(fitted.estimator) is None or learned(fitted.log, min_delta):
        return result
    x, y = fitted.x_map(rows[0]), fitted.y_map(rows[1])
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    terms = cross_fitted_log_ratios(x, y, FOLDS, generator, like=fitted_mixture(fitted.estimator))
    if not bool(torch.isfinite(terms).all()):
        return result
    n = terms.shape[0]
    return MIEstimate(
        float(terms.mean()),
        standard_error=float(terms.std()) / math.sqrt(n),
        confidence=result.confidence,
        n_test=n,
        n_folds=FOLDS,
        estimator_name=MIXTURE_ALL_ROWS_NAME,
        estimator=result.estimator,
        log=result.log,
        warnings=list(result.warnings),
    )
