r"""Gradient-boosted decision trees (scikit-learn's ``HistGradientBoostingClassifier``): ``q(k | x)``
from a sum of shallow trees on binned features, grown until the validation cross-entropy
stops falling.

A tree splits one column at a threshold at a time, so it is the family that draws posteriors
made of thresholds and interactions of a few columns (tabular data: indicator columns beside
measurements, a label set by a step in one feature, an exclusive-or of two), which the
Gaussian, logistic and small-MLP families smooth and the neighbour classifier resolves only
in few dimensions (measured in docs/benchmarks.md, "Boosted trees"). It is poor where the
posterior depends on oblique directions of many columns (embeddings), which the validation
choice then sees. One tree per class and round makes it costly for many classes and wide
features, so :func:`~mist_reg.estimation.classifiers.default_classifiers` offers it only
where the trees of a round together see few columns (:func:`offered`).

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(1200, 6, generator=g)
    >>> y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()  # an exclusive-or of two signs among six columns
    >>> model = BoostedTrees(seed=0)
    >>> model.fit(x[:800], y[:800], 2, x[800:], y[800:]) < 0.3  # nats; log 2 = 0.69 is chance
    True
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager

import numpy as np
import torch
from torch import Tensor

from mist_reg.estimation.classifiers.base import LabelClassifier

__all__ = ["BoostedTrees", "MAX_COLUMNS_PER_ROUND", "SINGLE_THREAD_CELLS", "offered", "native_threads_as_torch"]

MAX_COLUMNS_PER_ROUND = 128
r"""The most columns the trees of one boosting round see together (features times trees per
round: one for two classes, one per class beyond) for which the family is offered: a round
costs about as much as its trees' columns times the rows."""

_FLOOR = 1e-12  # the probability given to a class absent from the training rows


def offered(n_features: int, n_classes: int) -> bool:
    r"""Whether :func:`~mist_reg.estimation.classifiers.default_classifiers` offers boosted trees
    for ``n_features`` columns and ``n_classes`` classes.

    Example:
        >>> offered(64, 2), offered(16, 5), offered(64, 10)
        (True, True, False)
    """
    trees_per_round = 1 if n_classes <= 2 else n_classes
    return n_features * trees_per_round <= MAX_COLUMNS_PER_ROUND


SINGLE_THREAD_CELLS = 100_000
r"""Below this many feature cells (rows times columns) the trees run on one OpenMP thread: a
boosting round over so few cells costs less than waking threads for it."""


def native_threads_as_torch(cells: int) -> AbstractContextManager:
    r"""A context in which scikit-learn's OpenMP threads (the trees') number as many as torch's
    (``torch.get_num_threads()``, which ``estimate_mi(cpu_threads=...)`` sets), not every core;
    one below :data:`SINGLE_THREAD_CELLS` feature cells.

    Example:
        >>> with native_threads_as_torch(cells=5000 * 8):
        ...     pass
    """
    from threadpoolctl import threadpool_limits

    threads = 1 if cells < SINGLE_THREAD_CELLS else torch.get_num_threads()
    return threadpool_limits(limits=threads, user_api="openmp")


class BoostedTrees(LabelClassifier):
    r"""Histogram gradient boosting, stopped at the round of least validation cross-entropy;
    :meth:`refit` grows that many rounds on all the rows.

    Arguments:
        learning_rate: The shrinkage of each round.
        max_rounds: The most boosting rounds.
        patience: Rounds without a better validation cross-entropy before stopping. An
            interaction with no marginal trace (an exclusive-or of two of many columns) is
            found only once a tree happens to split on one of its columns, so the validation
            curve can stall for many rounds before it falls: ten rounds gave up on some such
            fits that thirty let through.
        seed: Seed of the binning subsample.

    Attributes:
        rounds: The number of rounds kept.
    """

    name = "trees"

    def __init__(
        self, learning_rate: float = 0.1, max_rounds: int = 500, patience: int = 30, seed: int | None = 0
    ) -> None:
        super().__init__()
        self.learning_rate, self.max_rounds, self.patience, self.seed = learning_rate, max_rounds, patience, seed
        self.rounds = 0

    def _model(self, rounds: int, early_stopping: bool):  # noqa: ANN202 - scikit-learn is imported lazily
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=rounds,
            early_stopping=early_stopping,
            n_iter_no_change=self.patience,
            validation_fraction=None,
            random_state=self.seed,
        )

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        features, labels = _numpy(x), y.cpu().numpy()
        self.model = None
        if len(np.unique(labels)) < 2:  # nothing to boost: the one class seen, as every other family says
            self.only_class, self.rounds = int(labels[0]), 0
            return self._logits(x_valid)
        seen = np.isin(y_valid.cpu().numpy(), labels)  # rows of a class the trees never saw cannot score them
        self.model = self._model(self.max_rounds, early_stopping=True)
        self.model.fit(features, labels, X_val=_numpy(x_valid)[seen], y_val=y_valid.cpu().numpy()[seen])
        self.rounds = int(self.model.n_iter_)
        return self._logits(x_valid)

    def _refit(self, x: Tensor, y: Tensor) -> None:
        labels = y.cpu().numpy()
        self.model = None
        if len(np.unique(labels)) < 2 or self.rounds == 0:
            self.only_class = int(np.bincount(labels).argmax())
            return
        self.model = self._model(self.rounds, early_stopping=False)
        self.model.fit(_numpy(x), labels)

    def _logits(self, x: Tensor) -> Tensor:
        logits = np.full((x.shape[0], self.n_classes), math.log(_FLOOR))
        if self.model is None:
            logits[:, self.only_class] = 0.0
        else:
            probabilities = self.model.predict_proba(_numpy(x))
            logits[:, self.model.classes_] = np.log(np.maximum(probabilities, _FLOOR))
        return torch.from_numpy(logits).to(x.device)


def _numpy(x: Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()
