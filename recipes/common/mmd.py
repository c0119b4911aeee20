r"""A kernel two-sample penalty between the features of the groups of an attribute.

As in the Variational Fair Autoencoder (Louizos et al., "The Variational Fair
Autoencoder", ICLR 2016), the encoder is penalised by the maximum mean discrepancy (MMD;
Gretton et al., "A Kernel Two-Sample Test", JMLR 2012) between the distributions of
``Z`` in the groups ``S = 0`` and ``S = 1``: zero exactly when the two distributions agree
(for a characteristic kernel), so nothing is left for any reader of ``Z`` to tell the
groups apart by. There is no adversary to fool.

Here the squared MMD is the biased (V-statistic) estimate on the batch, with the mean of
Gaussian (RBF) kernels ``exp(-||a - b||^2 / (2 sigma^2))``, ``sigma = b * sqrt(d)`` for each
``b`` of ``bandwidths``, on features standardised with the batch's mean and standard
deviation (with gradients through them), so that the encoder cannot shrink the penalty
by shrinking the scale of ``Z``. With more than two groups, each group is compared with
the rest and the terms summed.

Example:
    >>> z = torch.randn(128, 4)
    >>> s = torch.randint(0, 2, (128,))
    >>> float(mmd_penalty(z, s)) < float(mmd_penalty(z + 2.0 * s[:, None], s))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["DEFAULT_BANDWIDTHS", "mmd2", "mmd_penalty", "MMDPenalty"]

DEFAULT_BANDWIDTHS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
r"""Kernel widths in units of ``sqrt(d)`` (the typical distance of standardised features)."""


def mmd2(a: Tensor, b: Tensor, sigmas: Sequence[float]) -> Tensor:
    r"""The biased estimate of the squared MMD between samples ``a`` ``[n, d]`` and ``b``
    ``[m, d]`` with the mean of RBF kernels of widths ``sigmas`` (a kernel with values in ``[0, 1]``)."""
    both = torch.cat([a, b])
    distances = torch.cdist(both, both).pow(2)
    kernel = sum(torch.exp(-distances / (2.0 * s * s)) for s in sigmas) / len(sigmas)
    n = len(a)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2.0 * kernel[:n, n:].mean()


def mmd_penalty(z: Tensor, s: Tensor, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> Tensor:
    r"""The squared MMD between the groups of ``s`` in batch-standardised ``z`` (see the
    module documentation); ``0`` when the batch holds a single group."""
    if z.dim() != 2 or s.shape != (z.shape[0],):
        raise ValueError(f"z must be [N, d] and s [N], got {tuple(z.shape)} and {tuple(s.shape)}")
    if not bandwidths or any(b <= 0 for b in bandwidths):
        raise ValueError(f"bandwidths must be positive, got {list(bandwidths)}")
    z = z.float()
    z = (z - z.mean(0)) / z.std(0).clamp_min(1e-5)
    sigmas = [b * z.shape[1] ** 0.5 for b in bandwidths]
    groups = torch.unique(s)
    if len(groups) < 2:
        return z.sum() * 0.0
    pairs = [groups[1:]] if len(groups) == 2 else [g.view(1) for g in groups]
    total = z.new_zeros(())
    for group in pairs:
        inside = torch.isin(s, group)
        total = total + mmd2(z[inside], z[~inside], sigmas)
    return total


class MMDPenalty(nn.Module):
    r"""``weight * mmd_penalty(z, s)`` as a module (``weight`` may change between steps)."""

    def __init__(self, weight: float = 1.0, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS) -> None:
        super().__init__()
        self.weight, self.bandwidths = float(weight), tuple(float(b) for b in bandwidths)

    def forward(self, z: Tensor, s: Tensor) -> Tensor:
        return self.weight * mmd_penalty(z, s, self.bandwidths)
