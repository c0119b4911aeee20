r"""Class-conditional Gaussian classifiers with a shared covariance (linear discriminant analysis):
``x | y = k ~ N(mu_k, Sigma)``, so ``log q(k | x) = x' Sigma^-1 mu_k - mu_k' Sigma^-1 mu_k / 2 + log p̂(k)``
up to a constant, the exact posterior family when the classes are Gaussian with one covariance.

Two estimates are shrunk, because with ``d`` features and few rows per class both are noisy:

* the covariance, toward a multiple of the identity: ``(1 - lambda) S + lambda (tr S / d) I``
  with ``S`` the pooled within-class covariance of the standardised features and ``lambda``
  chosen on the validation rows;
* the class means, toward the grand mean by the positive-part James-Stein factor
  ``c_k = max(0, 1 - tr(Sigma^-1 S) / (n_k |mu_k - m|^2_Sigma^-1))``: the noise of a class mean
  of ``n_k`` rows adds ``tr(Sigma^-1 S) / n_k`` to its squared distance from the grand mean, which
  the plug-in mean would read as separation.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.randint(0, 3, (600,), generator=g)
    >>> x = 2.0 * torch.eye(3)[y] + torch.randn(600, 3, generator=g)
    >>> lda = SharedCovarianceGaussian()
    >>> ce = lda.fit(x[:400], y[:400], 3, x[400:], y[400:])
    >>> lda.log_probs(x[:2]).shape, ce < 1.0
    (torch.Size([2, 3]), True)
"""

from __future__ import annotations

import torch
from torch import Tensor

from mist_reg.estimation.classifiers.base import (
    LabelClassifier,
    best_calibrated,
)
from mist_reg.estimation.preprocessing import Standardizer

__all__ = ["SharedCovarianceGaussian"]

_SHRINKAGES = (0.001, 0.01, 0.03, 0.1, 0.2, 0.4, 0.7, 1.0)


class SharedCovarianceGaussian(LabelClassifier):
    r"""Linear discriminant analysis with a shrunk covariance and James-Stein class means.

    Arguments:
        shrinkages: The candidate covariance shrinkages ``lambda`` (in ``[0, 1]``), one chosen by
            the calibrated validation cross-entropy.

    Attributes:
        shrinkage: The chosen ``lambda``.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(1)
        >>> y = torch.randint(0, 2, (400,), generator=g)
        >>> x = torch.randn(400, 5, generator=g) + y[:, None]
        >>> lda = SharedCovarianceGaussian()
        >>> _ = lda.fit(x[:300], y[:300], 2, x[300:], y[300:])
        >>> lda.name, 0.0 <= lda.shrinkage <= 1.0
        ('lda', True)
    """

    name = "lda"

    def __init__(self, shrinkages: tuple[float, ...] = _SHRINKAGES) -> None:
        super().__init__()
        if not shrinkages or any(not 0.0 <= s <= 1.0 for s in shrinkages):
            raise ValueError(f"shrinkages must be values in [0, 1], got {shrinkages!r}")
        self.shrinkages = tuple(shrinkages)
        self.shrinkage = self.shrinkages[-1]

    def _moments(self, x: Tensor, y: Tensor) -> None:
        x = x.double()
        self.standardise = Standardizer().fit(x)
        z = self.standardise(x)
        counts = torch.bincount(y, minlength=self.n_classes).to(torch.float64)
        sums = torch.zeros(self.n_classes, z.shape[1], dtype=torch.float64, device=z.device).index_add_(0, y, z)
        means = sums / counts.clamp_min(1)[:, None]
        residuals = z - means[y]
        dof = max(len(z) - int((counts > 0).sum()), 1)
        eigenvalues, self.rotation = torch.linalg.eigh(residuals.T @ residuals / dof)
        self.eigenvalues = eigenvalues.clamp_min(0)
        self.rotated_means = means @ self.rotation  # the grand mean is 0 after standardising
        self.counts = counts

    def _parameters(self, shrinkage: float) -> tuple[Tensor, Tensor]:
        average = self.eigenvalues.mean().clamp_min(1e-12)
        variances = ((1 - shrinkage) * self.eigenvalues + shrinkage * average).clamp_min(1e-9 * average)
        distances = (self.rotated_means.square() / variances).sum(1)
        noise = (self.eigenvalues / variances).sum() / self.counts.clamp_min(1)
        factors = (1 - noise / distances.clamp_min(1e-12)).clamp(0, 1)
        return variances, factors[:, None] * self.rotated_means

    def _rotated(self, x: Tensor) -> Tensor:
        """Standardised features in the eigenbasis of the pooled covariance: computed once, then
        scored under every shrinkage."""
        return self.standardise(x.double()) @ self.rotation

    def _logits_with(self, rotated: Tensor, shrinkage: float) -> Tensor:
        variances, means = self._parameters(shrinkage)
        return (rotated / variances) @ means.T - 0.5 * (means.square() / variances).sum(1) + self.log_prior

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        self._moments(x, y)
        rotated = self._rotated(x_valid)
        options = ((shrinkage, self._logits_with(rotated, shrinkage)) for shrinkage in self.shrinkages)
        self.shrinkage, logits = best_calibrated(options, y_valid)
        return logits

    def _refit(self, x: Tensor, y: Tensor) -> None:
        self._moments(x, y)

    def _logits(self, x: Tensor) -> Tensor:
        return self._logits_with(self._rotated(x), self.shrinkage)
