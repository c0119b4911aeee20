r"""The affine map to the coordinates of a batch's Gaussian model (centred, scaled to unit
variance, and decorrelated when the batch can estimate the correlations): what the kernel
models of :mod:`~mist_reg.distributions.batch_kernel` compute their distances in. Why
decorrelating needs :data:`SAMPLES_PER_FEATURE` samples per feature: see that module.

Example:
    >>> import torch
    >>> z = torch.randn(500, 3) * torch.tensor([1.0, 10.0, 100.0])
    >>> Whitening(z)(z).std(0).round(decimals=1)
    tensor([1., 1., 1.])
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["Whitening", "SAMPLES_PER_FEATURE"]

SAMPLES_PER_FEATURE = 9
r"""Samples per feature from which ``whiten=None`` decorrelates (see the module documentation)."""


class Whitening:
    r"""The affine map to the coordinates of a batch's Gaussian model: ``z`` centred,
    scaled to unit variance and (with ``decorrelate``) decorrelated with the Cholesky
    factor of the sample correlation matrix plus ``ridge`` on its diagonal.
    ``decorrelate=None`` decorrelates when the batch holds at least
    :data:`SAMPLES_PER_FEATURE` samples per feature. Differentiable with respect to the
    batch it is fitted to.

    Example:
        >>> z = torch.randn(2000, 2) @ torch.tensor([[1.0, 0.8], [0.0, 0.3]])
        >>> w = Whitening(z)(z)
        >>> bool(torch.allclose(w.T @ w / 1999, torch.eye(2), atol=0.05))
        True
    """

    def __init__(self, z: Tensor, ridge: float = 1e-3, decorrelate: bool | None = True) -> None:
        n, d = z.shape
        self.mean, self.std = z.mean(0), z.std(0).clamp_min(1e-6)
        self.tril: Tensor | None = None
        if decorrelate is None:
            decorrelate = n >= SAMPLES_PER_FEATURE * d
        if decorrelate:
            standard = (z - self.mean) / self.std
            eye = torch.eye(d, dtype=z.dtype, device=z.device)
            self.tril = torch.linalg.cholesky(standard.T @ standard / max(n - 1, 1) + ridge * eye)

    def __call__(self, z: Tensor) -> Tensor:
        standard = (z - self.mean) / self.std
        if self.tril is None:
            return standard
        rows = standard.reshape(-1, standard.shape[-1])  # one solve with every row as a right-hand side
        solved = torch.linalg.solve_triangular(self.tril, rows.T, upper=False).T
        return solved.reshape(standard.shape)

    def log_abs_det(self) -> Tensor:
        r"""``log |det|`` of the map's Jacobian (densities of whitened values minus this are densities of ``z``)."""
        log_det = -self.std.log().sum()
        return log_det if self.tril is None else log_det - torch.diagonal(self.tril).log().sum()
