r"""The Hilbert-Schmidt independence criterion (HSIC) between features and an attribute, as
a penalty: it handles a binary, multi-group or continuous (vector) attribute alike.

``HSIC = tr(K H L H) / (n - 1)^2`` (the biased estimate of Gretton et al., "Measuring
Statistical Dependence with Hilbert-Schmidt Norms", ALT 2005), ``H`` the centring matrix,
``K`` the mean of Gaussian kernels on the standardised features (widths ``b * sqrt(d)``),
``L`` the kernel of the attribute: ``[s_i = s_j]`` for classes, a Gaussian kernel of width
``sqrt(k)`` on standardised values ``[N, k]``. It is zero exactly when ``Z`` and ``S`` are
independent (for characteristic kernels), and has no adversary to fool.

Example:
    >>> z, s = torch.randn(128, 4), torch.randn(128)
    >>> float(hsic_penalty(z, s)) < float(hsic_penalty(z + s[:, None], s))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from recipes.common.mmd import DEFAULT_BANDWIDTHS

__all__ = ["hsic_penalty", "HSICPenalty"]


def _gaussian_gram(u: Tensor, bandwidths: Sequence[float]) -> Tensor:
    u = (u - u.mean(0)) / u.std(0).clamp_min(1e-6)
    squared = torch.cdist(u, u).pow(2)
    d = u.shape[1]
    return torch.stack([torch.exp(-squared / (2.0 * b * b * d)) for b in bandwidths]).mean(0)


def hsic_penalty(z: Tensor, s: Tensor, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> Tensor:
    r"""The biased HSIC estimate between ``z: [N, d]`` and ``s`` (``[N]`` integer classes, or
    ``[N]`` / ``[N, k]`` float values), differentiable with respect to ``z``.

    Example:
        >>> s = torch.randint(0, 3, (64,))
        >>> bool(hsic_penalty(torch.randn(64, 2), s) >= 0)
        True
    """
    n = z.shape[0]
    z = z.float()
    if s.is_floating_point():
        values = s.reshape(n, -1).float()
        kernel_s = _gaussian_gram(values, (1.0,))
    else:
        kernel_s = (s.reshape(n, 1) == s.reshape(1, n)).float()
    kernel_z = _gaussian_gram(z, bandwidths)
    centred_z = kernel_z - kernel_z.mean(0, keepdim=True) - kernel_z.mean(1, keepdim=True) + kernel_z.mean()
    return (centred_z * kernel_s).sum() / (n - 1) ** 2


class HSICPenalty(nn.Module):
    r"""``weight * hsic_penalty(z, s)``; ``weight`` may change between steps."""

    def __init__(self, weight: float = 1.0, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> None:
        super().__init__()
        self.weight, self.bandwidths = weight, tuple(bandwidths)

    def forward(self, z: Tensor, s: Tensor) -> Tensor:
        return self.weight * hsic_penalty(z, s, self.bandwidths)
