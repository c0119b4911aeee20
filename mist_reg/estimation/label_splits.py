r"""The checks and the stratified splits behind :func:`mist_reg.estimation.label_estimate.label_mi`:
:func:`check_label_inputs` (one-line errors naming the argument), :func:`stratified_split`
(a held-out fraction of every class, at least one row of each class left to fit),
:func:`stratified_folds` (cross-fitting folds that share every class evenly) and
:func:`nested_subsets` (growing stratified subsets for a learning curve).

Example:
    >>> import torch
    >>> labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    >>> fit, held = stratified_split(labels, 0.5, seed=0)
    >>> labels[held].bincount().tolist(), len(fit)
    ([2, 3], 5)
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

from mist_reg.checks import check_finite

__all__ = [
    "single_row_count",
    "singleton_rows_message",
    "check_label_inputs",
    "stratified_split",
    "stratified_folds",
    "nested_subsets",
]


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)


def _check_features(features: object, name: str) -> Tensor:
    if not isinstance(features, Tensor) or features.ndim != 2 or not features.is_floating_point():
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"{name} must be a float tensor of shape [N, d], got {shape}; one-hot discrete columns first")
    check_finite(features, name)
    return features


def _check_labels(labels: object, n_classes: int, name: str) -> Tensor:
    if isinstance(labels, Tensor) and labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.is_floating_point() or labels.is_complex():
        what = f"{labels.dtype} of shape {tuple(labels.shape)}" if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(
            f"{name} must be an integer tensor of shape [N] (class indices), got {what}; "
            "mist_reg.labels.encode_labels maps any codes to indices"
        )
    labels = labels.to(torch.int64)
    if len(labels) and bool(((labels < 0) | (labels >= n_classes)).any()):
        row = int(((labels < 0) | (labels >= n_classes)).nonzero()[0])
        raise ValueError(
            f"{name} holds {int(labels[row])} at row {row}, outside the class indices 0..{n_classes - 1} "
            "(n_classes); encode the labels with mist_reg.labels.encode_labels or raise n_classes"
        )
    return labels


def single_row_count(labels: Tensor, n_classes: int) -> int:
    r"""The number of rows that are the only row of their class.

    Example:
        >>> single_row_count(torch.tensor([0, 0, 1, 2]), 3)
        2
    """
    return int((torch.bincount(labels, minlength=n_classes) == 1).sum())


def singleton_rows_message(labels: Tensor, n_classes: int) -> str | None:
    r"""Why ``labels`` cannot be cross-fitted, or ``None``: more than half of the rows are the only
    row of their class. Such a row can train a classifier or test it, never both, so the
    held-out cross-entropy would leave most rows out (and fit thousands of classes to do it).

    Example:
        >>> singleton_rows_message(torch.arange(10), 10)
        '10 of 10 rows are the only row of their class (10 classes): a class must occur in at least two rows to be both fitted and tested'
        >>> singleton_rows_message(torch.tensor([0, 0, 1, 1, 2]), 3) is None
        True
    """
    single = single_row_count(labels, n_classes)
    if 2 * single <= len(labels):
        return None
    return (
        f"{single} of {len(labels)} rows are the only row of their class "
        f"({int((torch.bincount(labels, minlength=n_classes) > 0).sum())} classes): "
        "a class must occur in at least two rows to be both fitted and tested"
    )


def check_label_inputs(
    features: object,
    labels: object,
    n_classes: object,
    features_test: object,
    labels_test: object,
    test_percentage: float,
    n_folds: int | None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    r"""Checks the arguments of :func:`~mist_reg.estimation.label_estimate.label_mi` and returns
    ``(features, labels, features_test, labels_test)`` with labels as int64 ``[N]``.

    Raises:
        ValueError: With one line that names the argument and the fix.

    Example:
        >>> check_label_inputs(torch.zeros(3, 2), torch.tensor([0, 1, 2]), 2, None, None, 0.3, None)
        Traceback (most recent call last):
        ...
        ValueError: labels holds 2 at row 2, outside the class indices 0..1 (n_classes); encode the labels with mist_reg.labels.encode_labels or raise n_classes
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    n_classes = int(n_classes)
    features = _check_features(features, "features")
    labels = _check_labels(labels, n_classes, "labels")
    if len(features) != len(labels):
        raise ValueError(f"features has {len(features)} rows but labels has {len(labels)}; pass one label per row")
    if (features_test is None) != (labels_test is None):
        raise ValueError("pass features_test and labels_test together, or neither")
    counts = torch.bincount(labels, minlength=n_classes)
    if features_test is not None:
        features_test = _check_features(features_test, "features_test")
        labels_test = _check_labels(labels_test, n_classes, "labels_test")
        if len(features_test) != len(labels_test) or features_test.shape[1] != features.shape[1]:
            raise ValueError(
                f"features_test has shape {tuple(features_test.shape)} and labels_test {len(labels_test)} rows; "
                f"pass one label per row and the {features.shape[1]} columns of features"
            )
        unseen = (torch.bincount(labels_test, minlength=n_classes) > 0) & (counts == 0)
        if bool(unseen.any()) and int((counts > 0).sum()) > 0:
            raise ValueError(
                f"labels_test holds class {int(unseen.nonzero()[0])}, which labels never holds; a classifier "
                "cannot be fitted to a class it has not seen: move some of its rows to the training rows"
            )
    else:
        crowded = singleton_rows_message(labels, n_classes)
        if crowded:
            raise ValueError(f"labels: {crowded}; merge rare classes, or pass features_test and labels_test")
        if n_folds is not None and (isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2):
            raise ValueError(f"n_folds must be an integer >= 2 or None, got {n_folds!r}")
        if not 0.0 < test_percentage < 1.0:
            raise ValueError(f"test_percentage must lie strictly between 0 and 1, got {test_percentage!r}")
    return features, labels, features_test, labels_test


def stratified_split(labels: Tensor, fraction: float, seed: int | None) -> tuple[Tensor, Tensor]:
    r"""Row indices ``(kept, held)``: about ``fraction`` of every class held out, at least one
    row of every class kept (and one held out when the class has two or more).

    Example:
        >>> kept, held = stratified_split(torch.tensor([0, 0, 1, 1, 1]), 0.2, seed=0)
        >>> sorted(torch.tensor([0, 0, 1, 1, 1])[held].tolist())
        [0, 1]
    """
    generator = _generator(seed)
    kept, held = [], []
    for k in torch.unique(labels).tolist():
        rows = (labels == k).nonzero()[:, 0]
        rows = rows[torch.randperm(len(rows), generator=generator).to(rows.device)]
        n_held = min(max(round(fraction * len(rows)), 1 if len(rows) > 1 else 0), len(rows) - 1)
        held.append(rows[:n_held])
        kept.append(rows[n_held:])
    return torch.cat(kept).sort().values, torch.cat(held).sort().values


def stratified_folds(labels: Tensor, n_folds: int, seed: int | None) -> list[Tensor]:
    r"""``n_folds`` boolean masks of held-out rows: every row held out once, every class dealt
    round the folds in a random order.

    Example:
        >>> folds = stratified_folds(torch.tensor([0, 0, 0, 1, 1, 1]), 3, seed=0)
        >>> [int(f.sum()) for f in folds], bool(sum(f.long() for f in folds).eq(1).all())
        ([2, 2, 2], True)
    """
    generator = _generator(seed)
    fold_of = torch.empty_like(labels)
    start = 0
    for k in torch.unique(labels).tolist():
        rows = (labels == k).nonzero()[:, 0]
        rows = rows[torch.randperm(len(rows), generator=generator).to(rows.device)]
        fold_of[rows] = (torch.arange(len(rows), device=rows.device) + start) % n_folds
        start += len(rows)
    return [fold_of == f for f in range(n_folds)]


def nested_subsets(labels: Tensor, fractions: tuple[float, ...], seed: int | None) -> list[Tensor]:
    r"""Row indices of growing subsets, each about ``fractions[j]`` of every class and each
    holding the one before (one random order per class, cut at every fraction); every class
    keeps at least one row.

    Example:
        >>> small, large = nested_subsets(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), (0.5, 1.0), seed=0)
        >>> len(small), len(large), set(small.tolist()) <= set(large.tolist())
        (4, 8, True)
    """
    generator = _generator(seed)
    subsets: list[list[Tensor]] = [[] for _ in fractions]
    for k in torch.unique(labels).tolist():
        rows = (labels == k).nonzero()[:, 0]
        rows = rows[torch.randperm(len(rows), generator=generator).to(rows.device)]
        for subset, fraction in zip(subsets, fractions):
            subset.append(rows[: max(1, round(fraction * len(rows)))])
    return [torch.cat(subset).sort().values for subset in subsets]
