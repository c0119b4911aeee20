r"""What :func:`mist_reg.estimate_mi` returns, and the statistics behind its error bar:
:class:`MIEstimate` (a ``float`` carrying its standard error, interval and provenance),
:func:`normal_interval`, the pooling of per-sample values over cross-fitting folds
(:func:`pooled_mean_and_error`) and Cochran's Q test that the folds agree
(:func:`heterogeneity_p_value`). See ``docs/error_bars.md``.

Example:
    >>> mi = MIEstimate(0.5, standard_error=0.05)
    >>> float(mi), mi.bound, [round(v, 3) for v in mi.interval]
    (0.5, None, [0.402, 0.598])
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from mist_reg.functional.bounds import RunningBound

if TYPE_CHECKING:
    from mist_reg.estimation.fitting import TrainingLog
    from mist_reg.estimators.base import MIEstimator

__all__ = ["MIEstimate", "normal_interval", "pooled_mean_and_error", "heterogeneity_p_value"]


class MIEstimate(float):
    r"""The result of :func:`~mist_reg.estimation.estimate.estimate_mi`: a ``float`` (nats) carrying what produced it.

    Arithmetic, comparisons and formatting treat it as the plain number; the attributes
    say how far to trust it.

    Attributes:
        standard_error: The standard error of the estimate from held-out sampling noise:
            the standard deviation of the per-sample values over the held-out samples,
            divided by the square root of their number (see ``docs/error_bars.md``).
        interval: ``(low, high)``, the normal-approximation interval
            ``estimate -+ z * standard_error`` at level ``confidence``. It reflects the
            held-out sampling noise only: the bias of a bound (a lower bound errs low
            by however far the fitted critic is from the optimal one) is not covered.
        confidence: The level of ``interval`` (0.95 by default).
        bound: ``"lower"``, ``"upper"`` or ``None``.
        n_test: The number of held-out samples the estimate was computed on (with
            cross-fitting, every sample).
        n_folds: The number of cross-fitting folds, or ``None`` for one train/test split.
        fold_estimates: With cross-fitting, the estimate on each held-out fold (their
            mean weighted by fold size is the estimate); empty otherwise.
        fold_standard_errors: The standard error of each fold's estimate.
        estimator_name: Which estimator produced the number: a registered name (``"mine"``
            for :func:`~mist_reg.estimation.estimate.estimate_mi`'s trained default), the class name of
            an estimator instance, or ``"ksg"`` (the default for one-dimensional ``x`` and
            ``y``, see :mod:`mist_reg.estimation.knn_estimate`; ``"ksg (single index)"``
            where a one-column side was read through a fitted index of the other,
            :mod:`mist_reg.estimation.single_index`); ``None`` when not recorded.
        estimator: The fitted estimator (in evaluation mode); with cross-fitting, the one
            fitted for the first fold (all of them are in ``fold_estimators``); ``None``
            for KSG, which fits nothing.
        log: The :class:`~mist_reg.estimation.fitting.TrainingLog` of ``estimator``.
        fold_estimators: With cross-fitting, the estimator of every fold; empty otherwise.
        fold_logs: With cross-fitting, the training log of every fold; empty otherwise.
        warnings: Messages about the reliability of the number (e.g. saturation).
        parts: Where the columns split into independent groups
            (:mod:`mist_reg.estimation.independent_blocks`), ``(x columns, y columns,
            estimate)`` for each group with columns of both; the estimate is their sum.
            Empty otherwise.

    Example:
        >>> mi = MIEstimate(0.5, standard_error=0.05, confidence=0.95)
        >>> mi + 1.0, isinstance(mi, float)
        (1.5, True)
        >>> [round(v, 3) for v in mi.interval]
        [0.402, 0.598]
    """

    standard_error: float
    interval: tuple[float, float]
    confidence: float
    bound: str | None
    n_test: int
    n_folds: int | None
    fold_estimates: list[float]
    fold_standard_errors: list[float]
    estimator_name: str | None
    estimator: MIEstimator | None
    log: TrainingLog | None
    fold_estimators: list[MIEstimator]
    fold_logs: list[TrainingLog]
    warnings: list[str]
    parts: list[tuple[tuple[int, ...], tuple[int, ...], MIEstimate]]

    def __new__(cls, value: float, **attributes: Any) -> MIEstimate:
        result = super().__new__(cls, value)
        defaults: dict[str, Any] = {
            "standard_error": float("nan"),
            "confidence": 0.95,
            "bound": None,
            "n_test": 0,
            "n_folds": None,
            "fold_estimates": [],
            "fold_standard_errors": [],
            "estimator_name": None,
            "estimator": None,
            "log": None,
            "fold_estimators": [],
            "fold_logs": [],
            "warnings": [],
            "parts": [],
        }
        for name, attribute in {**defaults, **attributes}.items():
            setattr(result, name, attribute)
        if "interval" not in attributes:
            result.interval = normal_interval(float(value), result.standard_error, result.confidence)
        return result

    def __repr__(self) -> str:
        low, high = self.interval
        return (
            f"MIEstimate({float(self):.4f} nats, stderr={self.standard_error:.4f}, "
            f"{self.confidence:.0%} interval=({low:.4f}, {high:.4f}), bound={self.bound!r}"
            + (f", estimator={self.estimator_name!r})" if self.estimator_name is not None else ")")
        )

    def to_dict(self) -> dict[str, Any]:
        r"""The number and its error bar as plain Python values (for JSON).

        Example:
            >>> sorted(MIEstimate(0.5, standard_error=0.05).to_dict())[:4]
            ['bound', 'confidence', 'estimate', 'estimator_name']
        """
        return {
            "estimate": float(self),
            "standard_error": self.standard_error,
            "interval": list(self.interval),
            "confidence": self.confidence,
            "bound": self.bound,
            "estimator_name": self.estimator_name,
            "n_test": self.n_test,
            "n_folds": self.n_folds,
            "fold_estimates": list(self.fold_estimates),
            "fold_standard_errors": list(self.fold_standard_errors),
            "warnings": list(self.warnings),
            "parts": [{"x_columns": list(xs), "y_columns": list(ys), **part.to_dict()} for xs, ys, part in self.parts],
        }


def normal_interval(value: float, standard_error: float, confidence: float = 0.95) -> tuple[float, float]:
    r"""``(value - z * standard_error, value + z * standard_error)`` with ``z`` the
    ``(1 + confidence) / 2`` quantile of the standard normal distribution.

    Example:
        >>> [round(v, 4) for v in normal_interval(1.0, 0.1, 0.95)]
        [0.804, 1.196]
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if not math.isfinite(standard_error):
        return (float("nan"), float("nan"))
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    return (value - z * standard_error, value + z * standard_error)


def pooled_mean_and_error(folds: Sequence[RunningBound]) -> tuple[float, float, int]:
    r"""The mean and standard error of the per-sample values pooled over every fold, and
    their number, where a sample's value is its per-sample term minus its fold's
    log-partition term.

    The pooled variance is the within-fold sum of squares (a fold's is ``n_k`` times its
    squared standard error) plus the between-fold one, over ``n - 1``.

    Example:
        >>> from mist_reg.functional.bounds import BoundTerms
        >>> folds = [RunningBound(), RunningBound()]
        >>> folds[0].add(BoundTerms(torch.tensor([0.0, 1.0])))
        >>> folds[1].add(BoundTerms(torch.tensor([2.0, 3.0])))
        >>> mean, error, n = pooled_mean_and_error(folds)
        >>> mean, round(error, 4), n  # those of [0, 1, 2, 3]
        (1.5, 0.6455, 4)
    """
    counts = [f.n_samples for f in folds]
    values = [f.value() for f in folds]
    n = sum(counts)
    mean = sum(c * v for c, v in zip(counts, values)) / n
    if n < 2:
        return mean, float("nan"), n
    within = sum((c - 1) * c * f.standard_error() ** 2 for c, f in zip(counts, folds) if c > 1)
    between = sum(c * (v - mean) ** 2 for c, v in zip(counts, values))
    return mean, math.sqrt((within + between) / (n - 1) / n), n


def heterogeneity_p_value(values: Sequence[float], errors: Sequence[float]) -> float:
    r"""The p-value of Cochran's Q test that the fold estimates ``values`` share one mean,
    given their standard errors (chi-square with ``K - 1`` degrees of freedom).

    Example:
        >>> round(heterogeneity_p_value([1.0, 1.0, 1.0], [0.1, 0.1, 0.1]), 3)
        1.0
        >>> heterogeneity_p_value([0.5, 1.0, 1.5], [0.05, 0.05, 0.05]) < 1e-6
        True
    """
    weights = [1 / e**2 for e in errors]
    mean = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    q = sum(w * (v - mean) ** 2 for w, v in zip(weights, values))
    dof = len(values) - 1
    return float(
        torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64), torch.tensor(q / 2, dtype=torch.float64))
    )
