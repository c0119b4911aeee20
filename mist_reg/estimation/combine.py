r"""Pooling fitted and evaluated estimators into one :class:`~mist_reg.estimation.result.MIEstimate`:
:func:`combine_fits` certifies each fit's Donsker-Varadhan estimate against the InfoNCE bound
of the same critic (:func:`certified`), pools the per-sample values of every fold, and issues
the warnings the fits call for (saturation, a non-finite loss, folds that disagree).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any

from mist_reg.estimation.fitting import TrainingLog
from mist_reg.estimation.result import MIEstimate, heterogeneity_p_value, normal_interval, pooled_mean_and_error
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.reference_model import ReferenceModelMI
from mist_reg.functional.bounds import RunningBound

__all__ = ["FoldFit", "combine_fits", "certified", "REFERENCE_MODEL_NAME"]

REFERENCE_MODEL_NAME = "reference_model"
"""The ``estimator_name`` of an estimate that reports the closed-form reference model
(:mod:`mist_reg.estimation.reference_model_choice`)."""


@dataclass
class FoldFit:
    """One fitted estimator and its evaluation on held-out samples."""

    model: MIEstimator
    log: TrainingLog
    running: RunningBound
    eval_batch: int  # the evaluation batch size (InfoNCE's negatives come from one batch)
    certificate: RunningBound | None = None  # e.g. MINE: the InfoNCE bound of the same critic and pairs
    fitted: Any = None  # the fit with the maps of its coordinates (FoldModel), where the caller keeps it


def fit_messages(fit: FoldFit, where: str = "") -> list[str]:
    """Warnings about one fitted estimator: a saturated estimate (InfoNCE), a non-finite loss."""
    messages: list[str] = []
    value = fit.running.value()
    cap = fit.model.saturation_cap(fit.eval_batch)
    if cap is not None and value > cap - min(0.1, 0.05 * cap):  # within 0.1 nats, or 5% of a small cap
        messages.append(
            f"{type(fit.model).__name__} is saturated{where}: its estimate {value:.3f} is close to its cap "
            + fit.model.saturation_meaning().format(cap=cap)
        )
    if fit.log.stop_reason == "non_finite_loss":
        messages.append(f"training stopped early on a non-finite loss{where}; the estimate uses the best weights seen")
    return messages


def certified(fit: FoldFit, where: str = "") -> tuple[FoldFit, list[str]]:
    """Guards the Donsker-Varadhan estimate against its Monte Carlo log-partition term.

    MINE reports ``mean f(x_i, y_i) - log mean exp f(x_i, y_j)``: the second term is a mean
    of weights ``exp f`` over held-out negative pairs. When the critic's range is large
    (high MI for the sample size), a handful of pairs carry the whole mean, and one pair
    that happens to fall where the critic is large drags the estimate down by many nats
    while the per-sample terms stay tight. The InfoNCE bound of the same critic on the same
    pairs (the estimator's :meth:`~mist_reg.estimators.base.MIEstimator.certificate_terms`)
    normalises each row by its own positive and negatives: it can neither exceed
    ``log(M + 1)`` nor be dragged down by one pair, and it is a lower bound in expectation
    for any critic. When the DV estimate lies below it, the partition term is what failed,
    and the InfoNCE value (what the held-out data certify) is reported instead, with a
    warning: the estimate cannot go below what it certifies. When the DV
    estimate stands but its partition term rests on few effective pairs, it is kept (its
    standard error includes that term's error) with a warning saying what is certified.

    Both apply only when the partition term rests on fewer effective pairs than there are
    held-out samples (:meth:`~mist_reg.functional.bounds.RunningBound.effective_pairs`): on ordinary tasks it rests on
    hundreds of thousands, on high-MI tasks with few samples on a handful, so the two
    regimes lie orders of magnitude apart.
    """
    cert = fit.certificate
    if cert is None or cert.n_samples == 0 or fit.running.n_partition == 0:
        return fit, []
    dv, nce = fit.running.value(), cert.value()
    partition_error = fit.running.partition_standard_error()
    pairs = fit.running.effective_pairs()
    cap = fit.model.certificate_cap(fit.eval_batch)
    if pairs >= fit.running.n_samples:  # the partition term averages more values than the per-sample term
        return fit, []
    if dv < nce:
        return dataclasses.replace(fit, running=cert), [
            f"the Donsker-Varadhan estimate{where} ({dv:.3f} nats) fell below the InfoNCE bound of the same "
            f"critic on the same held-out pairs ({nce:.3f}): its log-partition term rests on about {pairs:.1f} "
            "effective negative pairs (fewer than the held-out samples), as happens when the MI is high for the "
            "number of samples or the critic is heavy-tailed over negative pairs. Reporting the InfoNCE value, a "
            f"lower bound that cannot exceed log(M + 1) = {cap:.2f}: the data support at least this much, and the "
            "MI may be higher (with high MI, much higher: more samples are needed to measure it)"
        ]
    return fit, [
        f"the estimate{where} rests on a log-partition term carried by about {pairs:.1f} effective negative "
        f"pairs (Monte Carlo error {partition_error:.3f} nats, included in the standard error); the held-out "
        f"data certify at least {nce:.3f} nats (the InfoNCE bound of the same critic, capped at "
        f"log(M + 1) = {cap:.2f}), and the MI may be higher or lower than the estimate"
    ]


def _reported_name(fits: list[FoldFit], estimator_name: str | None) -> str | None:
    """``estimator_name``, or :data:`REFERENCE_MODEL_NAME` for folds that report the closed-form
    reference model instead of a trained critic, or the ``reported_name`` of a fold's
    estimator that has one (a challenger of the default); all of them, joined by ``+``, when
    folds differ."""
    names = [
        REFERENCE_MODEL_NAME
        if isinstance(f.model, ReferenceModelMI)
        else getattr(f.model, "reported_name", None) or estimator_name
        for f in fits
    ]
    unique = list(dict.fromkeys(names))
    if len(unique) == 1:
        return unique[0]
    return "+".join(str(name) for name in unique)


def combine_fits(
    fits: list[FoldFit], confidence: float, cross_fitted: bool, estimator_name: str | None = None
) -> MIEstimate:
    r"""The :class:`~mist_reg.estimation.result.MIEstimate` of one or more fitted and evaluated
    estimators: certified (see :func:`certified`), pooled over folds, with the warnings
    they call for (issued, and kept in ``warnings``); ``estimator_name`` is recorded."""
    messages: list[str] = []
    kept = []
    for k, fit in enumerate(fits):
        fit, certificate_messages = certified(fit, f" (fold {k + 1})" if cross_fitted else "")
        kept.append(fit)
        messages += certificate_messages
    fits = kept
    for k, fit in enumerate(fits):
        messages += fit_messages(fit, f" (fold {k + 1})" if cross_fitted else "")
    value, standard_error, n_test = pooled_mean_and_error([f.running for f in fits])
    fold_values = [f.running.value() for f in fits] if cross_fitted else []
    fold_errors = [f.running.standard_error() for f in fits] if cross_fitted else []
    if cross_fitted and all(math.isfinite(e) and e > 0 for e in fold_errors):
        p_value = heterogeneity_p_value(fold_values, fold_errors)
        if p_value < 0.01:
            messages.append(
                f"the fold estimates ({', '.join(f'{v:.3f}' for v in fold_values)}) differ more than their "
                f"standard errors explain (heterogeneity p = {p_value:.2g}): training varies between folds, "
                "and the interval, which reflects held-out sampling noise only, is likely too narrow"
            )
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=4)  # the caller of estimate_mi
    bounds = {f.model.bound for f in fits}
    return MIEstimate(
        value,
        standard_error=standard_error,
        interval=normal_interval(value, standard_error, confidence),
        confidence=confidence,
        bound=bounds.pop() if len(bounds) == 1 else None,
        n_test=n_test,
        n_folds=len(fits) if cross_fitted else None,
        estimator_name=_reported_name(fits, estimator_name),
        fold_estimates=fold_values,
        fold_standard_errors=fold_errors,
        estimator=fits[0].model,
        log=fits[0].log,
        fold_estimators=[f.model for f in fits] if cross_fitted else [],
        fold_logs=[f.log for f in fits] if cross_fitted else [],
        warnings=messages,
    )
