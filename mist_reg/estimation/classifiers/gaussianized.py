r"""Linear discriminant analysis on features mapped column by column to normal marginals
(:class:`~mist_reg.estimation.preprocessing.MarginalGaussianizer`, fitted on the training rows).

Embedding features often pass through a monotone map of each coordinate after the last linear
layer (an activation such as ``tanh`` or a sigmoid, a skewed or heavy-tailed score): classes
that are Gaussian with one covariance before it are not after it, and a linear discriminant
in the raw features misses what the map bent. A monotone map of each feature leaves
``I(X; Y)`` unchanged, and its empirical CDF followed by the normal quantile undoes it up to
an affine map per column, after which the shared-covariance Gaussian is again the right
family. Where every column is already nearly Gaussian, the map is nearly affine, the two LDAs
tie, and fitting both only costs time: :func:`offered` keeps it to features with a bent
column. The measurements are in docs/benchmarks.md ("Features bent column by column").

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.randint(0, 3, (900,), generator=g)
    >>> x = torch.tanh(3.0 * (torch.eye(3)[y] + 0.5 * torch.randn(900, 3, generator=g)))  # saturated
    >>> model = GaussianizedLDA()
    >>> ce = model.fit(x[:600], y[:600], 3, x[600:], y[600:])
    >>> model.log_probs(x[:2]).shape, model.name
    (torch.Size([2, 3]), 'gaussianized-lda')
"""

from __future__ import annotations

from torch import Tensor

from mist_reg.estimation.classifiers.gaussian import SharedCovarianceGaussian
from mist_reg.estimation.preprocessing import MarginalGaussianizer, Standardizer

__all__ = ["GaussianizedLDA", "BENT_CORRELATION", "offered"]

BENT_CORRELATION = 0.99
r"""A column is bent when the correlation of its standardised and its Gaussianised values is
below this: more than about 2% of the Gaussianised column's variance is not an affine map of
the column."""

_GATE_ROWS = 2000  # rows the gate reads: its correlations are then known to about 0.001


def offered(features: Tensor) -> bool:
    r"""Whether some column of ``features`` is bent (:data:`BENT_CORRELATION`), read on at most
    2,000 rows spaced evenly through them.

    Example:
        >>> import torch
        >>> x = torch.randn(1000, 3, generator=torch.Generator().manual_seed(0))
        >>> offered(x), offered(torch.tanh(3 * x))
        (False, True)
    """
    x = features[:: max(1, len(features) // _GATE_ROWS)][:_GATE_ROWS].double()  # spread over rows sorted by class
    if x.shape[0] < 3:
        return False
    standardised = Standardizer().fit(x)(x)
    gaussianized = MarginalGaussianizer().fit(x)(x)
    a, b = standardised - standardised.mean(0), gaussianized - gaussianized.mean(0)
    spread = (a.square().mean(0) * b.square().mean(0)).sqrt()
    moving = spread > 0  # a constant column is neither bent nor straight
    if not bool(moving.any()):
        return False
    correlation = (a * b).mean(0)[moving] / spread[moving]
    return bool(correlation.min() < BENT_CORRELATION)


class GaussianizedLDA(SharedCovarianceGaussian):
    r""":class:`~mist_reg.estimation.classifiers.gaussian.SharedCovarianceGaussian` on features
    Gaussianised column by column (the map fitted on the rows that fit, again on refit)."""

    name = "gaussianized-lda"

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        self.marginals = MarginalGaussianizer().fit(x.double())
        return super()._fit(self.marginals(x.double()), y, self.marginals(x_valid.double()), y_valid)

    def _refit(self, x: Tensor, y: Tensor) -> None:
        self.marginals = MarginalGaussianizer().fit(x.double())
        super()._refit(self.marginals(x.double()), y)

    def _logits(self, x: Tensor) -> Tensor:
        return super()._logits(self.marginals(x.double()))
