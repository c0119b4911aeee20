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
  make small. It shrinks as the classifier sees more rows, so the held-out value is a lower
  bound that tightens as data grow. Two things remove most of what is left: cross-fitting
  (5 folds by default: each classifier trains on 80% of the rows rather than 70%, and every
  row is tested once) and the extrapolation of the held-out value along the learning curve
  (:mod:`~mist_reg.estimation.label_curve`): the chosen family is fitted again on a quarter and
  a half of the training rows, and ``I(m) = I_inf - a / (m + c)`` through the three values
  gives ``I_inf``. That is an estimate, not a bound (``bound=None``); ``extrapolate=False``
  reports the held-out value (``bound="lower"``).

Where the classes are many and the features wide (100 classes, 256 dimensions, 40 rows per
class), a classifier fitted on a few thousand rows is far from the posterior ``p(y | x)``,
whatever the family: its held-out value falls well short of the truth (figures in
docs/benchmarks.md, "Class labels"), and the learning curve is what reaches it.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.randint(0, 2, (2000,), generator=g)
    >>> x = torch.randn(2000, 1, generator=g) + 4.0 * y[:, None]  # nearly separable
    >>> mi = label_mi(x, y, 2)
    >>> round(float(mi), 1), mi.bound, mi.estimator_name.endswith("(extrapolated)")  # the truth is 0.633 nats
    (0.6, None, True)
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Collection

import torch
from torch import Tensor
from tqdm.auto import tqdm

from mist_reg.estimation.classifiers import LabelClassifier, class_log_frequencies, default_classifiers
from mist_reg.estimation.classifiers.gaussianized import offered as bent
from mist_reg.estimation.classifiers.trees import native_threads_as_torch
from mist_reg.estimation.label_curve import CURVE_FRACTIONS, curve_weight, extrapolate_values
from mist_reg.estimation.label_splits import check_label_inputs, nested_subsets, stratified_folds, stratified_split
from mist_reg.estimation.result import MIEstimate, normal_interval, pooled_mean_and_error
from mist_reg.functional.bounds import BoundTerms, RunningBound

__all__ = ["label_mi"]

_VALIDATION_FRACTION = 0.2
_NO_GAIN = 1e-3  # nats: a validation gain below this is no gain
_FOLDS = 5  # every row tested once, each classifier trained on 80% of the rows
_CONTENDER_ERRORS = 3.0  # a family this many standard errors behind the first fold's choice is not tried again


def _choose_and_fit(
    x: Tensor,
    y: Tensor,
    n_classes: int,
    seed: int | None,
    families: Collection[str] | None = None,
    bent_columns: bool = False,
    ordered: bool = False,
) -> tuple[LabelClassifier, float, float, list[str], list[str]]:
    """Fits every candidate family (only those in ``families``, when any of them is a candidate)
    on a validation split of ``(x, y)``, refits the one of least validation cross-entropy on all
    the rows, and returns it, its validation gain over the class frequencies with its standard
    error, the names of the candidates, and the contenders: the candidates whose validation
    cross-entropy exceeds the chosen one's by at most ``_CONTENDER_ERRORS`` standard errors of
    their paired per-row difference (the chosen one included)."""
    fit, valid = stratified_split(y, _VALIDATION_FRACTION, seed)
    candidates = default_classifiers(y[fit], x.shape[1], n_classes, seed, bent_columns=bent_columns, ordered=ordered)
    candidates = [c for c in candidates if families is None or c.name in families] or candidates
    scores = [c.fit(x[fit], y[fit], n_classes, x[valid], y[valid]) for c in candidates]
    best = min(range(len(scores)), key=scores.__getitem__)
    losses = [c.validation_losses for c in candidates]
    contenders = [c.name for c, loss in zip(candidates, losses) if _within_noise(loss, losses[best])]
    chosen = candidates[best]
    gains = -losses[best] - class_log_frequencies(y[fit], n_classes).to(losses[best].device)[y[valid]]
    gain, gain_error = float(gains.mean()), float(gains.std() / len(gains) ** 0.5) if len(gains) > 1 else 0.0
    chosen.refit(x, y)
    return chosen, gain, gain_error, [c.name for c in candidates], contenders


def _within_noise(loss: Tensor, best: Tensor) -> bool:
    """Whether per-row validation losses ``loss`` are worse than ``best`` on the same rows by at
    most ``_CONTENDER_ERRORS`` standard errors of the paired difference."""
    difference = (loss - best).double()
    error = float(difference.std() / len(difference) ** 0.5) if len(difference) > 1 else math.inf
    return float(difference.mean()) <= _CONTENDER_ERRORS * error


def _test_values(classifier: LabelClassifier, x_test: Tensor, y_test: Tensor, log_prior: Tensor) -> Tensor:
    """The per-sample values ``log q(y | x) - log p̂(y)`` of the test rows."""
    log_q = classifier.log_probs(x_test).gather(1, y_test[:, None])[:, 0]
    return log_q - log_prior.to(log_q.device)[y_test]


class _SplitCurve:
    """One train/test split: the family chosen on all its training rows, the test values at
    every size of the learning curve (the largest last) and the training sizes."""

    def __init__(
        self,
        split: tuple[Tensor, Tensor, Tensor, Tensor],
        n_classes: int,
        seed: int | None,
        curve: bool,
        families: Collection[str] | None = None,
        bent_columns: bool = False,
        ordered: bool = False,
    ) -> None:
        x, y, x_test, y_test = split
        log_prior = class_log_frequencies(y, n_classes)  # H(Y)'s term: all training rows at every size
        chosen = _choose_and_fit(x, y, n_classes, seed, families, bent_columns, ordered)
        classifier, gain, gain_error, names, self.contenders = chosen
        self.family, self.values, self.sizes = classifier.name, [], []
        self.informative = gain > max(2 * gain_error, _NO_GAIN)
        self.message = (
            None
            if self.informative
            else f"the best classifier ({classifier.name}) beats the class frequencies on the validation rows by only "
            f"{gain:.4f} +- {gain_error:.4f} nats: the features show no information about the label that "
            f"{', '.join(names)} can find, and the estimate is about 0 by construction"
        )
        if curve:
            for rows in nested_subsets(y, CURVE_FRACTIONS[:-1], seed):
                smaller, *_ = _choose_and_fit(
                    x[rows], y[rows], n_classes, seed, [classifier.name], bent_columns, ordered
                )
                self.values.append(_test_values(smaller, x_test, y_test, log_prior))
                self.sizes.append(float(len(rows)))
        self.values.append(_test_values(classifier, x_test, y_test, log_prior))
        self.sizes.append(float(len(y)))


def _extrapolation(curves: list[_SplitCurve], n_classes: int, messages: list[str]) -> float | None:
    """The weight of the learning curve's last step (``None``: report the held-out value),
    noting in ``messages`` why the curve is not used."""
    if not all(c.informative for c in curves):
        return None
    sizes = [sum(c.sizes[j] for c in curves) / len(curves) for j in range(len(CURVE_FRACTIONS))]
    if sizes[0] < 2 * n_classes or not sizes[0] < sizes[1] < sizes[2]:
        messages.append(
            f"too few training rows ({sizes[-1]:.0f} for {n_classes} classes) for a learning curve "
            "(its smallest size needs 2 rows per class): the held-out value, a lower bound, is reported"
        )
        return None
    pooled = [torch.cat([c.values[j] for c in curves]).double() for j in range(len(sizes))]
    values = [float(v.mean()) for v in pooled]
    step_errors = [float((b - a).std() / len(a) ** 0.5) for a, b in zip(pooled, pooled[1:])]
    weight, _, clamped = curve_weight(sizes, values, step_errors)
    if clamped:  # a hyperbola's steps shrink; one still steepening is no hyperbola's, and its asymptote unread
        messages.append(
            f"the learning curve ({', '.join(f'{v:.3f}' for v in values)} nats at "
            f"{', '.join(f'{m:.0f}' for m in sizes)} training rows) rises faster at its second doubling than at its "
            "first: the classifier is still finding the structure (a few informative columns among many, say), "
            "which three sizes cannot extrapolate; the held-out value, a lower bound, is reported; more rows help"
        )
        return None
    return weight


def label_mi(
    features: Tensor,
    labels: Tensor,
    n_classes: int,
    features_test: Tensor | None = None,
    labels_test: Tensor | None = None,
    *,
    test_percentage: float = 0.3,
    n_folds: int | None = _FOLDS,
    extrapolate: bool = True,
    confidence: float = 0.95,
    seed: int | None = 0,
    device: torch.device | None = None,
    verbose: bool = False,
    ordered: bool = False,
) -> MIEstimate:
    r"""``I(X; Y)`` between features and a class label, from the held-out cross-entropy of a
    classifier chosen on validation rows, cross-fitted and extrapolated to infinitely many
    training rows along its learning curve (see the module docstring for its bias).

    The rows are split into ``n_folds`` stratified folds, each held out once while the others
    train. The training rows are split once more (stratified, 20% for validation): every family
    of :func:`~mist_reg.estimation.classifiers.default_classifiers` (shrunk LDA, QDA, logistic
    regression, a small MLP; LDA on Gaussianised columns, neighbours and boosted trees where
    they are offered) chooses its hyperparameters, a temperature and a floor of class
    frequencies there, and the family of least calibrated validation cross-entropy is refitted
    on all training rows (the MLP keeps its early-stopped weights; the trees are grown for the
    rounds chosen) and tested. A family whose validation cross-entropy on the first fold
    exceeds that fold's choice by more than three standard errors of the paired per-row
    difference is not fitted on the other folds. With
    ``extrapolate``, that family is fitted again (hyperparameters chosen afresh) on a quarter
    and a half of every class's training rows and tested on the same rows, and the three held-out
    values are extrapolated to infinitely many training rows by the hyperbola of
    :mod:`~mist_reg.estimation.label_curve`; the held-out cross-entropy of any classifier is
    an upper bound on ``H(Y | X)`` that tightens as it sees more rows, and the curve estimates
    what it tightens to. The estimate is then no longer a bound (``bound=None``); without
    ``extrapolate`` (or where the curve is not used: no information found, fewer than 2
    rows per class at its smallest size, or a curve that steepens, each said in ``warnings``)
    it is the held-out value,
    ``bound="lower"``.

    When the chosen family beats the class frequencies on validation by less than twice the
    standard error of its gain (or less than 0.001 nats), a warning says that the estimate is
    about 0 by construction. Classes that occur nowhere in the labels are dropped; ``H(Y)`` and
    the classifiers see the others only. A class of a single row trains in every fold and is
    never tested (a warning says so).

    Arguments:
        features: ``[N, d]`` float features (discrete columns one-hot).
        labels: ``[N]`` (or ``[N, 1]``) int64 class indices in ``0 .. n_classes-1``
            (:func:`mist_reg.labels.encode_labels` makes them from any codes).
        n_classes: The number of classes ``K``.
        features_test: Held-out rows to test on (with ``labels_test``, or neither); the
            folds and ``test_percentage`` are then unused.
        labels_test: The class indices of ``features_test``.
        test_percentage: The fraction of rows held out (stratified) when ``n_folds`` is ``None``.
        n_folds: The cross-fitting folds (default 5: each classifier trains on 80% of the rows,
            and every row is tested once); ``None`` for one split by ``test_percentage``.
        extrapolate: Extrapolate the held-out value along the learning curve (three fits per
            fold instead of one); ``False`` reports the held-out value, a lower bound.
        confidence: The level of the interval.
        seed: Seed of the splits and of the MLP (``None``: torch's global generator).
        device: Where to compute (default: the device of ``features``).
        verbose: Show a progress bar over the folds.
        ordered: Whether the class indices are sorted as numeric values (counts, ratings):
            the ordered probit (:mod:`~mist_reg.estimation.classifiers.ordinal`) is then a
            candidate too.

    Returns:
        An :class:`~mist_reg.estimation.result.MIEstimate` (nats): ``estimator_name``
        ``"classifier:<family>"`` (families joined by ``+`` when the folds chose differently,
        most frequent first) followed by ``" (extrapolated)"`` when the learning curve was
        used, ``bound`` ``None`` then and ``"lower"`` otherwise, its standard error that of the
        per-sample values (for the extrapolation, of their combination over the curve's two
        largest sizes), and fold estimates when cross-fitted. One class: exactly 0, nothing
        fitted, with a warning.

    Raises:
        ValueError: On features that are not a finite float ``[N, d]`` tensor, labels that are
            not integers in ``0 .. n_classes-1``, mismatched lengths, test labels of a class
            absent from the training labels, or bad ``test_percentage`` / ``n_folds`` /
            ``confidence``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.randint(0, 3, (1500,), generator=g)
        >>> x = torch.randn(1500, 4, generator=g) + 2.0 * torch.eye(4)[y]
        >>> mi = label_mi(x, y, 3, n_folds=3)
        >>> mi.bound, mi.n_test, mi.n_folds, len(mi.fold_estimates), 0.4 < float(mi) < 0.8
        (None, 1500, 3, 3, True)
        >>> label_mi(x, y, 3, extrapolate=False).bound
        'lower'
    """
    features, labels, features_test, labels_test = check_label_inputs(
        features, labels, n_classes, features_test, labels_test, test_percentage, n_folds
    )
    normal_interval(0.0, 0.0, confidence)  # checks confidence
    device = features.device if device is None else torch.device(device)
    all_labels = labels if labels_test is None else torch.cat([labels, labels_test])
    counts = torch.bincount(all_labels, minlength=n_classes)
    messages: list[str] = []
    if int((counts > 0).sum()) < 2:
        n = len(all_labels) if labels_test is None or n_folds else len(labels_test)
        message = f"the labels hold one class only ({int(counts.argmax())}): I(X; Y) = 0 exactly, nothing was fitted"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return MIEstimate(
            0.0,
            standard_error=0.0,
            confidence=confidence,
            bound="lower",
            n_test=n,
            estimator_name="constant label",
            warnings=[message],
        )
    present = counts > 0
    compact = torch.cumsum(present, 0) - 1  # class index among the classes present
    k_present = int(present.sum())
    x, y = features.to(device), compact[labels].to(device)
    if features_test is not None:
        splits = [(x, y, features_test.to(device), compact[labels_test].to(device))]
    else:
        single = (counts[labels] == 1).to(device)  # a class of one row can be fitted or tested, not both
        if bool(single.any()):
            messages.append(
                f"class {int(labels[single.cpu()][0])} of the labels has a single row "
                f"({int(single.sum())} such classes): it trains every classifier and is never tested, so its "
                "contribution to I(X; Y) is left out; merge rare classes or collect more rows to count it"
            )
        if n_folds:
            folds = stratified_folds(y, n_folds, seed)
            splits = [(x[~f], y[~f], x[f & ~single], y[f & ~single]) for f in folds]
        else:
            train, test = stratified_split(y, test_percentage, seed)
            splits = [(x[train], y[train], x[test], y[test])]
    curves: list[_SplitCurve] = []
    progress = tqdm(splits, desc="classifier", unit="fold", disable=not verbose)
    bent_columns = bent(x)  # read once, on the first rows
    with native_threads_as_torch(cells=x.numel()):
        for k, split in enumerate(progress):  # the first fold's clear losers are not fitted again
            families = curves[0].contenders if curves else None
            fold_seed = None if seed is None else seed + k
            curves.append(_SplitCurve(split, k_present, fold_seed, extrapolate, families, bent_columns, ordered))
            progress.set_postfix(family=curves[-1].family)
    for k, curve in enumerate(curves):
        if curve.message:
            messages.append(f"(fold {k + 1}) {curve.message}" if len(curves) > 1 else curve.message)
    weight = _extrapolation(curves, k_present, messages) if extrapolate else None
    runs = []
    for curve in curves:
        values = curve.values[-1] if weight is None else extrapolate_values(*curve.values[-2:], weight)
        running = RunningBound()
        running.add(BoundTerms(values))
        runs.append(running)
    value, standard_error, n_test = pooled_mean_and_error(runs)
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    cross_fitted = len(splits) > 1
    families = "+".join(name for name, _ in Counter(c.family for c in curves).most_common())
    return MIEstimate(
        value,
        standard_error=standard_error,
        interval=normal_interval(value, standard_error, confidence),
        confidence=confidence,
        bound="lower" if weight is None else None,
        n_test=n_test,
        n_folds=len(splits) if cross_fitted else None,
        fold_estimates=[r.value() for r in runs] if cross_fitted else [],
        fold_standard_errors=[r.standard_error() for r in runs] if cross_fitted else [],
        estimator_name=f"classifier:{families}" + ("" if weight is None else " (extrapolated)"),
        warnings=messages,
    )
