r"""Class-conditional Gaussians with a covariance per class (quadratic discriminant analysis),
``x | y = k ~ N(mu_k, Sigma_k)``: the exact posterior family when the classes are Gaussian with
different spreads, where the boundary between two classes is a quadric.

Each class covariance is shrunk toward the pooled one, which is shrunk toward a multiple of
the identity: ``Sigma_k = (1 - alpha) S_k + alpha ((1 - lambda) S + lambda (tr S / d) I)``,
``alpha`` and ``lambda`` chosen on the validation rows. It is a candidate only when every class
has more training rows than there are features (:func:`quadratic_fits`): with fewer, ``S_k``
is singular and the choice comes down to the shared covariance of
:class:`~mist_reg.estimation.classifiers.gaussian.SharedCovarianceGaussian`.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.randint(0, 2, (1000,), generator=g)
    >>> x = torch.randn(1000, 2, generator=g) * (1.0 + 3.0 * y[:, None])  # same mean, other spread
    >>> qda = ClassCovarianceGaussian()
    >>> qda.fit(x[:700], y[:700], 2, x[700:], y[700:]) < 0.55  # log 2 = 0.69 for a linear rule
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mist_reg.estimation.classifiers.base import (
    LabelClassifier,
    best_calibrated,
)
from mist_reg.estimation.preprocessing import Standardizer

__all__ = ["ClassCovarianceGaussian", "quadratic_fits"]

_POOLINGS = (0.05, 0.2, 0.5, 0.8)
_SHRINKAGES = (0.01, 0.1, 0.4)


def quadratic_fits(labels: Tensor, n_features: int, n_classes: int) -> bool:
    r"""Whether every one of ``n_classes`` classes has more rows in ``labels`` than ``n_features``.

    Example:
        >>> quadratic_fits(torch.tensor([0, 0, 0, 1, 1, 1]), 2, 2), quadratic_fits(torch.tensor([0, 0, 1]), 2, 2)
        (True, False)
    """
    return bool((torch.bincount(labels, minlength=n_classes) > n_features).all())


class ClassCovarianceGaussian(LabelClassifier):
    r"""Quadratic discriminant analysis with each class covariance shrunk toward the pooled one.

    Arguments:
        poolings: Candidate weights ``alpha`` of the pooled covariance.
        shrinkages: Candidate shrinkages ``lambda`` of the pooled covariance toward the identity.

    Attributes:
        pooling: The chosen ``alpha``.
        shrinkage: The chosen ``lambda``.

    Example:
        >>> g = torch.Generator().manual_seed(1)
        >>> y = torch.randint(0, 3, (600,), generator=g)
        >>> x = torch.randn(600, 3, generator=g) * (1.0 + y[:, None])
        >>> qda = ClassCovarianceGaussian()
        >>> _ = qda.fit(x[:400], y[:400], 3, x[400:], y[400:])
        >>> qda.name, qda.pooling in _POOLINGS
        ('qda', True)
    """

    name = "qda"

    def __init__(self, poolings: tuple[float, ...] = _POOLINGS, shrinkages: tuple[float, ...] = _SHRINKAGES) -> None:
        super().__init__()
        if any(not 0.0 <= v <= 1.0 for v in (*poolings, *shrinkages)) or not poolings or not shrinkages:
            raise ValueError(f"poolings and shrinkages must be values in [0, 1], got {poolings!r}, {shrinkages!r}")
        self.poolings, self.shrinkages = tuple(poolings), tuple(shrinkages)
        self.pooling, self.shrinkage = self.poolings[-1], self.shrinkages[0]

    def _moments(self, x: Tensor, y: Tensor) -> None:
        x = x.double()
        self.standardise = Standardizer().fit(x)
        z = self.standardise(x)
        counts = torch.bincount(y, minlength=self.n_classes).to(torch.float64)
        self.means = torch.zeros(self.n_classes, z.shape[1], dtype=torch.float64, device=z.device).index_add_(0, y, z)
        self.means /= counts.clamp_min(1)[:, None]
        residuals = z - self.means[y]
        scatter = torch.stack([residuals[y == k].T @ residuals[y == k] for k in range(self.n_classes)])
        self.covariances = scatter / (counts - 1).clamp_min(1)[:, None, None]
        self.pooled = scatter.sum(0) / max(len(z) - self.n_classes, 1)

    def _logits_with(self, z: Tensor, pooling: float, shrinkage: float) -> Tensor:  # z: standardised features
        d = self.pooled.shape[0]
        identity = torch.eye(d, dtype=torch.float64, device=self.pooled.device)
        target = (1 - shrinkage) * self.pooled + shrinkage * (torch.trace(self.pooled) / d) * identity
        covariances = (1 - pooling) * self.covariances + pooling * target
        factors = torch.linalg.cholesky(covariances + 1e-9 * identity)
        columns = []
        for k in range(self.n_classes):
            solved = torch.linalg.solve_triangular(factors[k], (z - self.means[k]).T, upper=False)
            log_det = 2 * factors[k].diagonal().log().sum()
            columns.append(-0.5 * solved.square().sum(0) - 0.5 * log_det)
        return torch.stack(columns, 1) + self.log_prior - 0.5 * d * math.log(2 * math.pi)

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        self._moments(x, y)
        z = self.standardise(x_valid.double())
        options = (
            ((pooling, shrinkage), self._logits_with(z, pooling, shrinkage))
            for pooling in self.poolings
            for shrinkage in self.shrinkages
        )
        (self.pooling, self.shrinkage), logits = best_calibrated(options, y_valid)
        return logits

    def _refit(self, x: Tensor, y: Tensor) -> None:
        self._moments(x, y)

    def _logits(self, x: Tensor) -> Tensor:
        return self._logits_with(self.standardise(x.double()), self.pooling, self.shrinkage)
