r"""Where the trained correction of the default critic learned something, it is trained
again as :data:`ENSEMBLE_MEMBERS` members from fresh initialisations, run as one network,
and their mean is the critic reported (:func:`with_critic_ensemble`).

A correction trained on a few thousand rows is one fit among many: two trainings of the same
network on the same rows end at estimates that differ by more than their error bars where
the structure is hard to learn (a spiral, a product of columns). The Donsker-Varadhan bound
is concave in the critic, so the bound of the members' mean is at least the mean of their
bounds on the same rows, and it gains where their errors differ
(:mod:`mist_reg.nn.averaged_critic`). The members keep the closed-form reference that the
first fit chose (:mod:`~mist_reg.estimation.reference_choice`), in the same coordinates, and
are trained on the same training rows, split and batches; one training stops them all,
where their mean's validation estimate is best.

Where the first fit's validation estimate did not rise above its closed-form start by
``ESTIMATE_MIN_DELTA``, the least rise training counts as learning (Student-t copulas, most
clusters), the reference is the critic, the members would add nothing to average, and
nothing more is trained; nor where the estimate is to be the Gaussian MI of every row
whatever the correction learned
(:func:`~mist_reg.estimation.closed_form_all_rows.reads_gaussian_of_every_row`), and no side
is a single column (whose index route reads the members' validation estimate).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from mist_reg.estimation.closed_form_all_rows import reads_gaussian_of_every_row
from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.fit_settings import FitSettings, learned
from mist_reg.estimation.fitting import fit_estimator
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimators.averaged import AveragedMINE
from mist_reg.estimators.discriminative import MINE
from mist_reg.nn.averaged_critic import AveragedCritic, separable_members
from mist_reg.nn.critic import SeparableCritic
from mist_reg.nn.references.gaussian import ResidualCritic

__all__ = ["ENSEMBLE_MEMBERS", "averaged_copy", "with_critic_ensemble"]

ENSEMBLE_MEMBERS = 4
"""How many corrections are averaged, as in the one-column bound's ensemble
(:data:`~mist_reg.estimation.single_column.ENSEMBLE_SIZE`): the spread of a mean of ``K``
independent fits falls like ``1 / sqrt(K)``, so four remove three quarters of its variance,
and a step of four members run as one network costs well under four steps
(``recipes/benchmarks/critic_ensemble_step.py``; figures in ``docs/benchmarks.md``)."""


def averaged_copy(estimator: MINE, members: int = ENSEMBLE_MEMBERS) -> AveragedMINE | None:
    r"""An :class:`~mist_reg.estimators.averaged.AveragedMINE` with ``members`` fresh copies of
    the shape of ``estimator``'s separable correction on top of (a copy of) its reference, or
    ``None`` where the estimator is not MINE on such a residual critic.

    Example:
        >>> from mist_reg.estimation.model_spec import ModelSpec
        >>> averaged = averaged_copy(ModelSpec("mine", {}, by_default=True).build(3, 2))
        >>> averaged.critic.n_members, type(averaged.critic.base).__name__
        (4, 'StudentTLogRatio')
    """
    if not _averageable(estimator):
        return None
    critic = estimator.critic
    base = copy.deepcopy(critic.reference)
    averaged = AveragedCritic(separable_members(critic.correction, members), base, critic.offset)
    parameter = next(estimator.parameters(), None)
    result = AveragedMINE(averaged, estimator.neg_samples, estimator.gamma)
    return result.to(parameter.device) if parameter is not None else result


def _averageable(estimator: Any) -> bool:
    """Whether the estimator is MINE on a closed-form reference plus a separable correction."""
    critic = getattr(estimator, "critic", None)
    return (
        type(estimator) is MINE
        and isinstance(critic, ResidualCritic)
        and isinstance(critic.correction, SeparableCritic)
    )


def with_critic_ensemble(
    fitted: FoldModel, model: ModelSpec, x: Any, y: Any, settings: FitSettings, every_row: bool = False
) -> FoldModel:
    r"""``fitted``, or, where the default's trained correction learned (see the module
    documentation and :func:`~mist_reg.estimation.fit_settings.learned`) and no training
    option was configured (``model.averaged``), the mean of :data:`ENSEMBLE_MEMBERS`
    corrections trained on the same rows in the same coordinates. With ``every_row`` (the
    estimate is to be read from every row, not from given test rows or folds), nothing is
    trained where the Gaussian MI of every row will be reported instead
    (:func:`~mist_reg.estimation.closed_form_all_rows.reads_gaussian_of_every_row`) and
    neither side is a single column (whose index route reads the members' validation
    estimate).

    Example:
        >>> import torch
        >>> from mist_reg.estimation.fit_settings import TrainingLog
        >>> from mist_reg.estimation.preprocessing import ColumnPreprocessor
        >>> model = ModelSpec("mine", {}, by_default=True, averaged=True)
        >>> plain, x = ColumnPreprocessor("none", 2), torch.randn(200, 2)
        >>> fitted = FoldModel(model.build(2, 2), TrainingLog(), plain, plain)  # untrained: learned nothing
        >>> with_critic_ensemble(fitted, model, x, x, FitSettings()) is fitted
        True
    """
    if not model.averaged:
        return fitted
    if not _averageable(fitted.estimator) or not learned(fitted.log, settings.resolved().min_delta):
        return fitted
    if every_row and min(x.shape[1], y.shape[1]) > 1 and reads_gaussian_of_every_row(fitted, x, y):
        return fitted
    averaged = averaged_copy(fitted.estimator)
    log = fit_estimator(averaged, settings, fitted.x_map(x), fitted.y_map(y))
    log.mixture_search = fitted.log.mixture_search  # the members keep the reference that search chose
    return dataclasses.replace(fitted, estimator=averaged, log=log, initial_state=None)
