r"""The mutual information between features and a class label, ``I(X; Y) = H(Y) - H(Y | X)``,
as a held-out difference of cross-entropies (:func:`label_mi`).

On held-out rows the estimate is the mean of ``v_i = log q(y_i | x_i) - log p̂(y_i)``, where
``q`` is a classifier fitted on the training rows and ``p̂`` the smoothed class frequencies of
the training rows: ``CE(p̂) - CE(q)`` on the test rows. Each cross-entropy exceeds its entropy
by its model's excess risk (a KL divergence, never negative):

* ``p̂``'s excess is about ``(K - 1) / (2 N_train)`` nats (a multinomial fitted on ``N_train``
  labels), which raises the estimate by that much: at most 0.01 nats for 100 classes and 3,500
  training rows, so it is left as it is and stated here;
* ``q``'s excess lowers the estimate by ``E_x KL(p(y | x) || q(y | x))``: this is the bias that
  matters, and what the choice of the family (on validation rows, by cross-entropy), the
  shrinkage of its estimates, the temperature calibration and the refit on all training rows
  minimise. It shrinks with the training rows per class, so the estimate is a lower bound
  (``bound="lower"``) that tightens as data grow; cross-fitting (``n_folds``) trains on more rows.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.randint(0, 2, (2000,), generator=g)
    >>> x = torch.randn(2000, 1, generator=g) + 4.0 * y[:, None]  # nearly separable
    >>> mi = label_mi(x, y, 2)
    >>> round(float(mi), 1), mi.bound  # the truth is 0.633 nats
    (0.6, 'lower')
"""

from __future__ import annotations

import warnings
from collections import Counter

import torch
from torch import Tensor

from mist_reg.estimation.classifiers import LabelClassifier, class_log_frequencies, default_classifiers
from mist_reg.estimation.label_splits import check_label_inputs, stratified_folds, stratified_split
from mist_reg.estimation.result import MIEstimate, normal_interval, pooled_mean_and_error
from mist_reg.functional.bounds import BoundTerms, RunningBound

__all__ = ["label_mi"]

_VALIDATION_FRACTION = 0.2
_NO_GAIN = 1e-3  # nats: a validation gain below this is no gain


def _fit_and_test(
    x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor, n_classes: int, seed: int | None, messages: list[str]
) -> tuple[LabelClassifier, Tensor]:
    """Chooses a family on a validation part of the training rows, refits it on all of them,
    and returns it with the per-sample values ``log q(y | x) - log p̂(y)`` of the test rows."""
    fit, valid = stratified_split(y, _VALIDATION_FRACTION, seed)
    candidates = default_classifiers(y[fit], x.shape[1], n_classes, seed)
    scores = [c.fit(x[fit], y[fit], n_classes, x[valid], y[valid]) for c in candidates]
    chosen = candidates[min(range(len(scores)), key=scores.__getitem__)]
    gains = chosen.log_probs(x[valid]).gather(1, y[valid, None])[:, 0]
    gains = gains - class_log_frequencies(y[fit], n_classes).to(gains.device)[y[valid]]
    gain, gain_error = float(gains.mean()), float(gains.std() / len(gains) ** 0.5) if len(gains) > 1 else 0.0
    if gain <= max(2 * gain_error, _NO_GAIN):
        messages.append(
            f"the best classifier ({chosen.name}) beats the class frequencies on the validation rows by only "
            f"{gain:.4f} +- {gain_error:.4f} nats: the features show no information about the label that "
            f"{', '.join(c.name for c in candidates)} can find, and the estimate is about 0 by construction"
        )
    chosen.refit(x, y)
    log_q = chosen.log_probs(x_test).gather(1, y_test[:, None])[:, 0]
    return chosen, log_q - class_log_frequencies(y, n_classes).to(log_q.device)[y_test]


def label_mi(
    features: Tensor,
    labels: Tensor,
    n_classes: int,
    features_test: Tensor | None = None,
    labels_test: Tensor | None = None,
    *,
    test_percentage: float = 0.3,
    n_folds: int | None = None,
    confidence: float = 0.95,
    seed: int | None = 0,
    device: torch.device | None = None,
) -> MIEstimate:
    r"""``I(X; Y)`` between features and a class label, from the held-out cross-entropy of a
    classifier chosen on validation rows (see the module docstring for its bias).

    The rows that fit are split once more (stratified, 20% for validation): every family of
    :func:`~mist_reg.estimation.classifiers.default_classifiers` (a shared-covariance Gaussian,
    logistic regression, a small MLP) chooses its hyperparameters and a temperature there, the
    family of least calibrated validation cross-entropy is refitted on all training rows (the
    MLP keeps its early-stopped weights) and tested. Nothing is clamped: when the chosen family
    beats the class frequencies on validation by less than twice the standard error of its gain
    (or less than 0.001 nats), a warning says that the estimate is about 0 by construction. Classes that occur nowhere in the labels are dropped; ``H(Y)`` and the
    classifiers see the others only.

    Arguments:
        features: ``[N, d]`` float features (discrete columns one-hot).
        labels: ``[N]`` (or ``[N, 1]``) int64 class indices in ``0 .. n_classes-1``
            (:func:`mist_reg.labels.encode_labels` makes them from any codes).
        n_classes: The number of classes ``K``.
        features_test, labels_test: Held-out rows to test on (both or neither); by default
            ``test_percentage`` of the rows are held out, stratified by class.
        test_percentage: The fraction of rows held out when no test rows are given.
        n_folds: Cross-fitting: the rows are split into ``n_folds`` stratified folds, each held
            out once while the others train, and the per-sample values of all folds are pooled.
        confidence: The level of the interval.
        seed: Seed of the splits and of the MLP (``None``: torch's global generator).
        device: Where to compute (default: the device of ``features``).

    Returns:
        An :class:`~mist_reg.estimation.result.MIEstimate` (nats), ``bound="lower"``,
        ``estimator_name`` ``"classifier:<family>"`` (families joined by ``+`` when the folds
        chose differently, most frequent first), its standard error that of the per-sample
        values, and fold estimates when cross-fitted. One class: exactly 0, nothing fitted.

    Raises:
        ValueError: On features that are not a finite float ``[N, d]`` tensor, labels that are
            not integers in ``0 .. n_classes-1``, mismatched lengths, a class with a single
            sample (it can be neither fitted and tested), test labels of a class absent from
            the training labels, or bad ``test_percentage`` / ``n_folds`` / ``confidence``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.randint(0, 3, (1500,), generator=g)
        >>> x = torch.randn(1500, 4, generator=g) + 2.0 * torch.eye(4)[y]
        >>> mi = label_mi(x, y, 3, n_folds=3)
        >>> mi.bound, mi.n_test, mi.n_folds, len(mi.fold_estimates), 0.4 < float(mi) < 0.8
        ('lower', 1500, 3, 3, True)
        >>> label_mi(x, torch.zeros(1500, dtype=torch.long), 1)  # one class: nothing to know
        MIEstimate(0.0000 nats, stderr=0.0000, 95% interval=(0.0000, 0.0000), bound='lower', estimator='constant label')
    """
    features, labels, features_test, labels_test = check_label_inputs(
        features, labels, n_classes, features_test, labels_test, test_percentage, n_folds
    )
    normal_interval(0.0, 0.0, confidence)  # checks confidence
    device = features.device if device is None else torch.device(device)
    all_labels = labels if labels_test is None else torch.cat([labels, labels_test])
    present = torch.bincount(all_labels, minlength=n_classes) > 0
    if int(present.sum()) < 2:
        n = len(all_labels) if labels_test is None or n_folds else len(labels_test)
        return MIEstimate(
            0.0, standard_error=0.0, confidence=confidence, bound="lower", n_test=n, estimator_name="constant label"
        )
    compact = torch.cumsum(present, 0) - 1  # class index among the classes present
    k_present = int(present.sum())
    x, y = features.to(device), compact[labels].to(device)
    if features_test is not None:
        splits = [(x, y, features_test.to(device), compact[labels_test].to(device))]
    elif n_folds:
        folds = stratified_folds(y, n_folds, seed)
        splits = [(x[~f], y[~f], x[f], y[f]) for f in folds]
    else:
        train, test = stratified_split(y, test_percentage, seed)
        splits = [(x[train], y[train], x[test], y[test])]
    messages: list[str] = []
    chosen, runs = [], []
    for k, (x_train, y_train, x_test, y_test) in enumerate(splits):
        fold_messages: list[str] = []
        classifier, values = _fit_and_test(
            x_train, y_train, x_test, y_test, k_present, None if seed is None else seed + k, fold_messages
        )
        chosen.append(classifier.name)
        messages += [f"(fold {k + 1}) {m}" for m in fold_messages] if len(splits) > 1 else fold_messages
        running = RunningBound()
        running.add(BoundTerms(values))
        runs.append(running)
    value, standard_error, n_test = pooled_mean_and_error(runs)
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    cross_fitted = len(splits) > 1
    return MIEstimate(
        value,
        standard_error=standard_error,
        interval=normal_interval(value, standard_error, confidence),
        confidence=confidence,
        bound="lower",
        n_test=n_test,
        n_folds=len(splits) if cross_fitted else None,
        fold_estimates=[r.value() for r in runs] if cross_fitted else [],
        fold_standard_errors=[r.standard_error() for r in runs] if cross_fitted else [],
        estimator_name="classifier:" + "+".join(name for name, _ in Counter(chosen).most_common()),
        warnings=messages,
    )
