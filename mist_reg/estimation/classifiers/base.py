r"""What every classifier of a class label shares: the :class:`LabelClassifier` contract (fit with
hyperparameters chosen on a validation part, optional refit on more rows, calibrated
``log q(y | x)``), the smoothed class frequencies :func:`class_log_frequencies` and the
temperature calibration :func:`fit_inverse_temperature`. Features are standardised by
:class:`mist_reg.estimation.preprocessing.Standardizer`.

Example:
    >>> import torch
    >>> logits = torch.tensor([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [4.0, 0.0]])
    >>> labels = torch.tensor([0, 1, 1, 0])
    >>> beta = fit_inverse_temperature(logits, labels)  # one mistake in four: flatten the logits
    >>> 0.0 < beta < 1.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn.functional import cross_entropy

__all__ = [
    "LabelClassifier",
    "class_log_frequencies",
    "fit_inverse_temperature",
    "fit_floor",
    "mixed_with_prior",
    "mean_cross_entropy",
    "calibrated_cross_entropy",
    "best_calibrated",
]


def class_log_frequencies(labels: Tensor, n_classes: int) -> Tensor:
    r"""``log p̂(k)`` with ``p̂(k) = (n_k + 1/2) / (N + K/2)``: the class frequencies of ``labels``
    with half a count added to every class (the Krichevsky-Trofimov estimate), so that a class
    absent from ``labels`` keeps a finite log-probability.

    Arguments:
        labels: ``[N]`` int64 class indices in ``0 .. n_classes-1``.
        n_classes: The number of classes ``K``.

    Returns:
        ``[K]`` float64 log-probabilities (they sum to one after ``exp``).

    Example:
        >>> class_log_frequencies(torch.tensor([0, 0, 0, 1]), 3).exp()
        tensor([0.6364, 0.2727, 0.0909], dtype=torch.float64)
    """
    counts = torch.bincount(labels, minlength=n_classes).to(torch.float64)
    return torch.log((counts + 0.5) / (counts.sum() + n_classes / 2))


def mean_cross_entropy(log_probs: Tensor, labels: Tensor) -> float:
    r"""``-mean_i log q(y_i | x_i)`` from ``[N, K]`` log-probabilities (or logits) and ``[N]`` labels.

    Example:
        >>> round(mean_cross_entropy(torch.zeros(3, 2), torch.tensor([0, 1, 0])), 4)  # log 2
        0.6931
    """
    return float(cross_entropy(log_probs.double(), labels))


def fit_inverse_temperature(logits: Tensor, labels: Tensor, max_steps: int = 50) -> float:
    r"""The factor ``beta`` that minimises the cross-entropy of ``softmax(beta * logits)`` on
    ``(logits, labels)``: temperature scaling with one parameter (``beta = 1 / T``).

    The cross-entropy is convex in ``beta`` (its second derivative is the mean variance of the
    logits under the model), so Newton's method, with its step halved to keep ``beta > 0``,
    finds the minimum in a few steps.

    Arguments:
        logits: ``[N, K]`` scores of a classifier on validation rows.
        labels: ``[N]`` int64 classes of those rows.
        max_steps: The most Newton steps.

    Returns:
        ``beta > 0``; 1 leaves the classifier as it is.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
        >>> fit_inverse_temperature(logits, torch.tensor([0, 1])) > 5  # always right: sharpen
        True
    """
    logits = logits.double()
    chosen = logits.gather(1, labels[:, None])[:, 0]
    beta = 1.0
    for _ in range(max_steps):
        p = torch.softmax(beta * logits, dim=1)
        expected = (p * logits).sum(1)
        gradient = float((expected - chosen).mean())
        curvature = float(((p * logits.square()).sum(1) - expected.square()).mean())
        if curvature <= 1e-12:  # constant logits, or a separable set: sharpen while it helps
            beta = beta * 2 if gradient < 0 else beta
            if gradient >= 0 or beta > 1e4:
                break
            continue
        step = gradient / curvature
        while beta - step <= 0:
            step /= 2
        beta -= step
        if abs(step) <= 1e-6 * beta:
            break
    return min(beta, 1e4)


def mixed_with_prior(log_probs: Tensor, log_prior: Tensor, floor: float) -> Tensor:
    r"""``log((1 - floor) q + floor p̂)``: a classifier's ``[N, K]`` log-probabilities mixed with
    the class frequencies ``[K]``, so that no class is less likely than ``floor p̂(k)``.

    Example:
        >>> mixed = mixed_with_prior(torch.tensor([[0.0, -100.0]]), torch.tensor([-0.7, -0.7]), 0.01)
        >>> round(mixed[0, 1].item(), 2)  # log(0.01 * exp(-0.7)) instead of -100
        -5.31
    """
    if floor <= 0:
        return log_probs
    return torch.logaddexp(log_probs + math.log1p(-floor), log_prior.to(log_probs) + math.log(floor))


def fit_floor(log_probs: Tensor, labels: Tensor, log_prior: Tensor) -> float:
    r"""The weight ``floor`` of the class frequencies in :func:`mixed_with_prior` that minimises the
    cross-entropy on ``(log_probs, labels)``, among ``c / n`` for ``c`` in ``0.5, 1, 2, 4, ..., 64``
    (``n`` rows, at most 1/2).

    A classifier that is right on every validation row can be sharpened without limit, and then
    one held-out row on the wrong side of its boundary costs tens of nats; the floor never goes
    below ``1 / (2 n)``, about how often ``n`` rows without a mistake leave room for one, and it
    costs at most ``-log(1 - floor)`` nats per row.

    Example:
        >>> log_probs = torch.log(torch.tensor([[0.99, 0.01], [0.99, 0.01], [0.99, 0.01], [0.99, 0.01]]))
        >>> fit_floor(log_probs, torch.tensor([0, 0, 0, 1]), torch.log(torch.tensor([0.5, 0.5])))
        0.5
    """
    n = len(labels)
    best = None
    for c in (0.5, 1, 2, 4, 8, 16, 32, 64):
        floor = min(c / n, 0.5)
        score = mean_cross_entropy(mixed_with_prior(log_probs, log_prior, floor), labels)
        if best is None or score < best[0]:
            best = (score, floor)
    return best[1]


def calibrated_cross_entropy(logits: Tensor, labels: Tensor) -> float:
    r"""The cross-entropy of ``softmax(beta * logits)`` at the best temperature
    (:func:`fit_inverse_temperature`): how a hyperparameter's validation logits are scored.

    Example:
        >>> logits = torch.tensor([[4.0, 0.0], [0.0, 4.0]])
        >>> calibrated_cross_entropy(logits, torch.tensor([0, 1])) < 0.01
        True
    """
    return mean_cross_entropy(fit_inverse_temperature(logits, labels) * logits.double(), labels)


def best_calibrated(options: Iterable[tuple[Any, Tensor]], labels: Tensor) -> tuple[Any, Tensor]:
    r"""Of ``(option, validation logits)`` pairs, the one of least
    :func:`calibrated_cross_entropy` on ``labels`` (the first on ties).

    Example:
        >>> labels = torch.tensor([0, 1])
        >>> good, bad = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        >>> best_calibrated([("bad", bad), ("good", good)], labels)[0]
        'good'
    """
    best = None
    for option, logits in options:
        score = calibrated_cross_entropy(logits, labels)
        if best is None or score < best[0]:
            best = (score, option, logits)
    if best is None:
        raise ValueError("best_calibrated needs at least one option")
    return best[1], best[2]


class LabelClassifier:
    r"""A classifier ``q(y | x)`` of a class label, calibrated for held-out cross-entropy.

    :meth:`fit` fits on training rows, chooses its hyperparameters, one temperature
    (:func:`fit_inverse_temperature`) and a floor of class frequencies (:func:`fit_floor`) on
    validation rows by cross-entropy, and returns the calibrated validation cross-entropy
    (how the families are compared); :meth:`refit` fits again on more rows with the chosen
    hyperparameters, temperature and floor (a no-op for a family whose fit depends on the
    validation rows, e.g. early stopping, except that the class frequencies are those of all
    the rows); :meth:`log_probs` gives the calibrated ``log q(y | x)``.

    Subclasses implement ``_fit`` (returns the chosen hyperparameters' validation logits),
    ``_refit`` and ``_logits``.

    Attributes:
        name: The family, e.g. ``"lda"``; the estimate is labelled ``"classifier:<name>"``.
        n_classes: ``K``, set by :meth:`fit`.
        beta: The fitted inverse temperature.
        floor: The fitted weight of the class frequencies mixed into ``q``.
        validation_cross_entropy: The calibrated cross-entropy on the validation rows.
        validation_losses: Its per-row terms ``-log q(y_i | x_i)``, ``[N_valid]`` float64.
    """

    name: ClassVar[str] = "classifier"
    refits: ClassVar[bool] = True

    def __init__(self) -> None:
        self.n_classes = 0
        self.beta, self.floor = 1.0, 0.0
        self.validation_cross_entropy = math.nan

    def fit(self, x: Tensor, y: Tensor, n_classes: int, x_valid: Tensor, y_valid: Tensor) -> float:
        r"""Fits on ``(x, y)``, chooses hyperparameters and the temperature on ``(x_valid, y_valid)``.

        Returns:
            The calibrated cross-entropy on the validation rows (nats).
        """
        self.n_classes = n_classes
        self.log_prior = class_log_frequencies(y, n_classes)
        logits = self._fit(x, y, x_valid, y_valid)
        self.beta = fit_inverse_temperature(logits, y_valid)
        calibrated = torch.log_softmax(self.beta * logits.double(), dim=1)
        self.floor = fit_floor(calibrated, y_valid, self.log_prior)
        mixed = mixed_with_prior(calibrated, self.log_prior, self.floor)
        self.validation_losses = -mixed.gather(1, y_valid[:, None])[:, 0]
        self.validation_cross_entropy = mean_cross_entropy(mixed, y_valid)
        return self.validation_cross_entropy

    def refit(self, x: Tensor, y: Tensor) -> None:
        r"""Fits again on ``(x, y)`` (all training rows) with the hyperparameters and temperature chosen by :meth:`fit`."""
        self.log_prior = class_log_frequencies(y, self.n_classes)
        if self.refits:
            self._refit(x, y)

    def log_probs(self, x: Tensor) -> Tensor:
        r"""The calibrated ``log q(k | x)``, ``[N, K]`` float64."""
        calibrated = torch.log_softmax(self.beta * self._logits(x).double(), dim=1)
        return mixed_with_prior(calibrated, self.log_prior, self.floor)

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        raise NotImplementedError

    def _refit(self, x: Tensor, y: Tensor) -> None:
        raise NotImplementedError

    def _logits(self, x: Tensor) -> Tensor:
        raise NotImplementedError
