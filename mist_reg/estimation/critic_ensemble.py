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
nothing more is trained.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.fit_settings import FitSettings, TrainingLog
from mist_reg.estimation.fitting import fit_estimator
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimators.averaged import AveragedMINE
from mist_reg.estimators.discriminative import MINE
from mist_reg.nn.averaged_critic import AveragedCritic, separable_members
from mist_reg.nn.critic import SeparableCritic
from mist_reg.nn.references.gaussian import ResidualCritic

__all__ = ["ENSEMBLE_MEMBERS", "averaged_copy", "learned", "with_critic_ensemble"]

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


def learned(log: TrainingLog, min_delta: float) -> bool:
    r"""Whether the validation estimate of the weights kept rose above the first one (the
    untrained start) by ``min_delta``, the least rise that training counts as learning
    (:class:`~mist_reg.estimation.fit_settings.FitSettings`' ``min_delta``; training compares
    smoothed estimates, this the kept weights' own)."""
    if not log.records or log.best_valid_mi is None or not log.best_iteration or "valid_mi" not in log.records[0]:
        return False
    return log.best_valid_mi >= log.records[0]["valid_mi"] + min_delta


def with_critic_ensemble(fitted: FoldModel, model: ModelSpec, x: Any, y: Any, settings: FitSettings) -> FoldModel:
    r"""``fitted``, or, where the default's trained correction learned (see the module
    documentation and :func:`learned`) and no training option was configured
    (``model.averaged``), the mean of :data:`ENSEMBLE_MEMBERS` corrections
    trained on the same rows in the same coordinates."""
    if not model.averaged:
        return fitted
    if not _averageable(fitted.estimator) or not learned(fitted.log, settings.resolved().min_delta):
        return fitted
    averaged = averaged_copy(fitted.estimator)
    log = fit_estimator(averaged, settings, fitted.x_map(x), fitted.y_map(y))
    log.mixture_search = fitted.log.mixture_search  # the members keep the reference that search chose
    return dataclasses.replace(fitted, estimator=averaged, log=log, initial_state=None)
