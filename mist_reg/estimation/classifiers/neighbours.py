r"""The k-nearest-neighbour classifier: ``q(k | x)`` from the labels of the ``k`` training rows
nearest to ``x`` (Euclidean, on standardised features), ``log q(k | x) = beta * log(c_k + 1/2)``
up to normalisation, where ``c_k`` counts the neighbours of class ``k``.

It is the family that resolves a class boundary of any shape at the spacing of the samples
(a ring, sectors of an angle, a step in the posterior), where the Gaussian, logistic and
small-MLP families smooth it; its variance grows with the dimension, as the distance to the
``k``-th neighbour shrinks only like ``N^(-1/d)``, so
:func:`~mist_reg.estimation.classifiers.default_classifiers` offers it for few features
(:func:`offered`). ``k`` is chosen on the validation rows by calibrated cross-entropy.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(1200, 2, generator=g)
    >>> y = (x.norm(dim=1) > 1.2).long()          # a ring: no linear or quadratic-Gaussian fit
    >>> model = NearestNeighbourClassifier()
    >>> ce = model.fit(x[:800], y[:800], 2, x[800:], y[800:])
    >>> ce < 0.25, model.k in model.ks
    (True, True)
"""

from __future__ import annotations

import torch
from torch import Tensor

from mist_reg.estimation.classifiers.base import LabelClassifier, best_calibrated
from mist_reg.estimation.preprocessing import Standardizer

__all__ = ["NearestNeighbourClassifier", "MAX_FEATURES", "MAX_ROWS", "offered"]

MAX_FEATURES = 8
r"""The most feature columns for which :func:`~mist_reg.estimation.classifiers.default_classifiers`
offers the neighbour classifier: beyond, a few thousand rows leave neighbourhoods too wide to
beat the smooth families, and the distances cost time for nothing."""

MAX_ROWS = 50_000
r"""The most training rows for which it is offered: its distances cost ``N^2``, and with that
many rows the MLP draws a sharp boundary too."""


def offered(n_rows: int, n_features: int) -> bool:
    r"""Whether :func:`~mist_reg.estimation.classifiers.default_classifiers` offers the
    neighbour classifier for ``n_rows`` training rows of ``n_features`` features.

    Example:
        >>> offered(4000, 2), offered(4000, 64), offered(10**6, 2)
        (True, False, False)
    """
    return n_features <= MAX_FEATURES and n_rows <= MAX_ROWS


_KS = (5, 10, 20, 40, 80)
_PSEUDO_COUNT = 0.5
_CHUNK_ELEMENTS = 1 << 24  # distances computed at once: 64 MiB of float32


class NearestNeighbourClassifier(LabelClassifier):
    r"""``q(k | x)`` from the class counts among the ``k`` nearest training rows.

    Arguments:
        ks: Candidate numbers of neighbours; the one with the best calibrated validation
            cross-entropy is kept (those above the number of training rows are skipped).

    Attributes:
        k: The chosen number of neighbours.

    Example:
        >>> import torch
        >>> y = torch.arange(60) % 3
        >>> x = torch.randn(60, 2) + 3 * torch.eye(3)[y, :2]
        >>> model = NearestNeighbourClassifier(ks=(3, 5))
        >>> _ = model.fit(x[:45], y[:45], 3, x[45:], y[45:])
        >>> model.name, model.log_probs(x[:2]).shape
        ('knn', torch.Size([2, 3]))
    """

    name = "knn"

    def __init__(self, ks: tuple[int, ...] = _KS) -> None:
        super().__init__()
        if not ks or any(int(k) != k or k < 1 for k in ks):
            raise ValueError(f"ks must be positive integers, got {ks!r}")
        self.ks = tuple(sorted(int(k) for k in ks))
        self.k = self.ks[0]

    def _store(self, x: Tensor, y: Tensor) -> None:
        self.standardise = Standardizer().fit(x.float())
        self.train_z, self.train_y = self.standardise(x.float()), y

    def _neighbour_labels(self, x: Tensor, k: int) -> Tensor:
        """The labels of the ``k`` nearest stored rows of each row of ``x``, ``[N, k]``."""
        z = self.standardise(x.float())
        rows = max(1, _CHUNK_ELEMENTS // max(1, len(self.train_z)))
        nearest = [torch.cdist(chunk, self.train_z).topk(k, dim=1, largest=False).indices for chunk in z.split(rows)]
        return self.train_y[torch.cat(nearest)]

    def _counts_logits(self, labels: Tensor, k: int) -> Tensor:
        counts = torch.nn.functional.one_hot(labels[:, :k], self.n_classes).sum(1)
        return (counts.double() + _PSEUDO_COUNT).log()

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        self._store(x, y)
        ks = [k for k in self.ks if k <= len(x)] or [len(x)]
        labels = self._neighbour_labels(x_valid, ks[-1])
        self.k, logits = best_calibrated(((k, self._counts_logits(labels, k)) for k in ks), y_valid)
        return logits

    def _refit(self, x: Tensor, y: Tensor) -> None:
        self._store(x, y)

    def _logits(self, x: Tensor) -> Tensor:
        k = min(self.k, len(self.train_z))
        return self._counts_logits(self._neighbour_labels(x, k), k)
