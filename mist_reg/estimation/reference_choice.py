r"""Which closed-form reference a trained critic starts from: Gaussian, Student-t copula or
Gaussian mixture.

:func:`mist_reg.estimate_mi` trains a network correction on top of a closed-form log-ratio
(:class:`~mist_reg.nn.references.gaussian.ResidualCritic`). Three references are available,
and none is the better start everywhere:

* the Gaussian log-ratio (:class:`~mist_reg.nn.references.gaussian.GaussianLogRatio`) is
  bilinear plus quadratic in each variable, which the default separable correction with
  marginal terms can represent *exactly*: training can bend it into anything the
  correction expresses (spirals: 0.73-0.84 of 1.02 nats on BMI's tasks);
* the Student-t copula (:class:`~mist_reg.nn.references.student_t.StudentTLogRatio`) captures
  dependence through a shared scale (heavy tails) in closed form, which the correction
  learns only in part from a few thousand samples (BMI's ``student-identity-5-5-3``: the
  trained Gaussian start reaches 0.23 of 0.30, the t reference alone 0.29). But its
  log-ratio is not separable, so the correction cannot undo it where the t model has the
  wrong shape: fitted to a spiral it is the better *untrained* critic (0.47 against 0.42)
  and the worse start (0.68-0.79 after training against 0.73-0.84);
* the Gaussian mixture (:class:`~mist_reg.nn.references.mixture.MixtureLogRatio`) holds
  clustered, multimodal dependence in closed form (its marginals are mixtures too), which
  a separable correction of the Gaussian learns only in part; it is not separable either.

:func:`fit_with_reference_choice` therefore trains from the Gaussian start first, and
takes another start (a *challenger*, :data:`CHALLENGERS`) only when that model *alone*,
without training, already beats the trained Gaussian-start critic on the validation
data: the dependence the network did not learn is then the kind the model holds in
closed form. Of the challengers that do, the one with the highest validation estimate
is trained, and its training is kept if its best validation estimate is higher. A
challenger may be *relocated* before it is scored (:data:`Relocation`): refitted in other
coordinates of the same rows, where it is then scored on the same validation rows and
trained. So at most two critics are trained, as with the Gaussian and the t model alone.
All candidates are judged on the same validation samples, which the held-out test data
never enter, so the reported estimate remains a held-out bound of the critic chosen. A
challenger whose own choice (``df``, ``K``, each made on halves of the training samples)
falls on the Gaussian model is not scored: on Gaussian-copula data nothing but the
Gaussian start is trained.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimation.fitting import FitSettings, TrainingLog, fit_data_dependent, fit_estimator, sample_loaders
from mist_reg.estimation.reference_model_choice import reference_model_if_unresolved
from mist_reg.estimators.base import MIEstimator
from mist_reg.nn.critic import Critic
from mist_reg.nn.references.gaussian import shared_regularisation
from mist_reg.nn.references.mixture import MixtureLogRatio
from mist_reg.nn.references.student_t import StudentTLogRatio

__all__ = ["fit_with_reference_choice", "Relocated", "Relocation"]


@dataclass
class Relocated:
    """A challenger refitted in other coordinates of the same rows: its untrained estimator
    (reference fitted), the validation batches in those coordinates, and its training there."""

    challenger: MIEstimator
    valid_batches: Iterable
    train: Callable[[], tuple[MIEstimator, TrainingLog]]


Relocation = Callable[[Critic], "Relocated | None"]
"""Given a challenger's fitted reference, the challenger in other coordinates, or ``None`` to
keep it where it is."""


def _open_student_reference(estimator: MIEstimator) -> StudentTLogRatio | None:
    """The estimator's Student-t reference whose degrees of freedom are still to be chosen."""
    reference = getattr(getattr(estimator, "critic", None), "reference", None)
    if isinstance(reference, StudentTLogRatio) and reference.fixed_df is None:
        return reference
    return None


def _student_challenger(estimator: MIEstimator, reference: StudentTLogRatio) -> MIEstimator:
    """The untrained estimator with the open Student-t reference (it chooses ``df`` when fitted)."""
    return copy.deepcopy(estimator)


def _mixture_challenger(estimator: MIEstimator, reference: StudentTLogRatio) -> MIEstimator:
    """The untrained estimator with a Gaussian-mixture reference (it chooses ``K`` when
    fitted; where the sample size allows no more than one component for the joint
    dimension, :meth:`~mist_reg.nn.references.mixture.MixtureLogRatio.candidates_for`, it
    fits the Gaussian and is not scored)."""
    challenger = copy.deepcopy(estimator)
    challenger.critic.reference = MixtureLogRatio(reference.x_dim, reference.y_dim)
    return challenger


CHALLENGERS: tuple[Callable[[MIEstimator, StudentTLogRatio], MIEstimator], ...] = (
    _student_challenger,
    _mixture_challenger,
)
"""The starts that may replace the trained Gaussian start, each built from the untrained
default estimator: the Student-t copula and the Gaussian mixture."""


def _best_challenger(
    challengers: list[MIEstimator],
    train_batches: Iterable,
    valid_batches: Iterable,
    device: Any,
    to_beat: float,
    relocate: Relocation | None,
) -> tuple[MIEstimator, Relocated | None] | None:
    """The challenger whose reference, fitted on the training batches and untrained (in the
    coordinates ``relocate`` moves it to, if any), has the highest validation estimate above
    ``to_beat``; references that fit the Gaussian model (``is_gaussian``) are not scored."""
    best, best_value = None, to_beat
    for challenger in challengers:
        challenger.to(device)
        fit_data_dependent(challenger, train_batches)
        if challenger.critic.reference.is_gaussian:
            continue
        relocated = relocate(challenger.critic.reference) if relocate is not None else None
        scored, batches = (relocated.challenger, relocated.valid_batches) if relocated else (challenger, valid_batches)
        value = evaluate_mi(scored, data_loader=batches, device=device)
        if value > best_value:
            best, best_value = (challenger, relocated), value
    return best


def fit_with_reference_choice(
    estimator: MIEstimator,
    settings: FitSettings,
    x: Any = None,
    y: Any = None,
    train_loader: Iterable | None = None,
    valid_loader: Iterable | None = None,
    reference_model: bool = False,
    relocate: Relocation | None = None,
    marginal_side: Literal["x", "y"] | None = None,
) -> tuple[MIEstimator, TrainingLog]:
    r"""Fits ``estimator`` like :func:`~mist_reg.estimation.fitting.fit_estimator`, choosing its
    critic's reference as the module documentation describes when the critic has a
    :class:`~mist_reg.nn.references.student_t.StudentTLogRatio` reference with ``df=None``
    (any other estimator is fitted as it is). First, with ``reference_model`` (the default
    of :func:`mist_reg.estimate_mi`), when the critic has a closed-form reference whose
    partition term the validation samples cannot resolve, nothing is trained and the
    reference model is returned
    (:func:`~mist_reg.estimation.reference_model_choice.reference_model_if_unresolved`, with
    ``marginal_side``, the side of continuous columns beside discrete ones).

    ``relocate``, given a challenger's fitted reference, may return the challenger refitted
    in other coordinates (:class:`Relocated`), where it is then scored and trained; a
    trained challenger is kept only if it beats the Gaussian start on validation.

    Returns:
        The fitted estimator (``estimator`` itself, a fitted copy that starts from the
        Student-t or the Gaussian-mixture reference, or a
        :class:`~mist_reg.estimators.reference_model.ReferenceModelMI`) and its
        :class:`~mist_reg.estimation.fitting.TrainingLog`.

    Example:
        >>> from mist_reg.estimators import mine
        >>> from mist_reg.estimation.preprocessing import MarginalGaussianizer
        >>> from mist_reg.tasks import get_task
        >>> x, y = get_task("student-t-5x5").sample(3000, seed=0)
        >>> x, y = MarginalGaussianizer().fit(x)(x), MarginalGaussianizer().fit(y)(y)  # as estimate_mi does
        >>> estimator = mine(5, 5, hidden_dims=[32], reference="student_t")
        >>> fitted, log = fit_with_reference_choice(estimator, FitSettings(max_iterations=100, seed=0), x, y)
        >>> fitted.critic.reference.df_value  # the closed-form t model won on validation
        2.0
    """
    with shared_regularisation():  # one choice of the Gaussian model's regularisation per training set
        return _fit_with_reference_choice(
            estimator, settings, x, y, train_loader, valid_loader, reference_model, relocate, marginal_side
        )


def _fit_with_reference_choice(
    estimator: MIEstimator,
    settings: FitSettings,
    x: Any,
    y: Any,
    train_loader: Iterable | None,
    valid_loader: Iterable | None,
    reference_model: bool,
    relocate: Relocation | None = None,
    marginal_side: Literal["x", "y"] | None = None,
) -> tuple[MIEstimator, TrainingLog]:
    if reference_model:
        unresolved = reference_model_if_unresolved(estimator, settings, x, y, train_loader, valid_loader, marginal_side)
        if unresolved is not None:
            return unresolved
    student_reference = _open_student_reference(estimator)
    if student_reference is None:
        return estimator, fit_estimator(estimator, settings, x, y, train_loader, valid_loader)
    challengers = [build(estimator, student_reference) for build in CHALLENGERS]
    student_reference.fixed_df = math.inf  # the Gaussian start
    log = fit_estimator(estimator, settings, x, y, train_loader, valid_loader)
    settings = settings.resolved()
    train_batches, valid_batches = (
        (train_loader, valid_loader)
        if train_loader is not None
        else sample_loaders(x, y, settings, valid_loader, estimator.accepts_class_labels)
    )
    if valid_batches is None or log.best_valid_mi is None:
        return estimator, log
    best = _best_challenger(challengers, train_batches, valid_batches, settings.device, log.best_valid_mi, relocate)
    log.mixture_search = _mixture_search(challengers)
    if best is None:
        return estimator, log
    challenger, relocated = best
    if relocated is not None:
        challenger, challenger_log = relocated.train()
    else:
        challenger.critic.reference.freeze_choice()  # train from the model chosen (not chosen again)
        challenger_log = fit_estimator(challenger, settings, x, y, train_loader, valid_loader)
    if challenger_log.best_valid_mi is not None and challenger_log.best_valid_mi > log.best_valid_mi:
        challenger_log.mixture_search = log.mixture_search
        return challenger, challenger_log
    return estimator, log


def _mixture_search(challengers: list[MIEstimator]) -> int | None:
    """The number of components the fitted mixture challenger's own search chose, or ``None``
    where it did not search among several (too few rows)."""
    for challenger in challengers:
        reference = challenger.critic.reference
        if isinstance(reference, MixtureLogRatio) and reference.held_out_bound is not None:
            return reference.n_components
    return None
