r"""Invertible per-coordinate transforms fitted on training samples.

Mutual information is unchanged by an invertible map of each variable, so
``I(X; Y) = I(g(X); h(Y))``: mapping each coordinate to a standard normal marginal
removes heavy tails and odd scales before a critic ever sees the data, at no cost in
information. :func:`mist_reg.estimate_mi` applies :class:`MarginalGaussianizer` by default.

Example:
    >>> import torch
    >>> x = torch.randn(1000, 2).exp()  # log-normal marginals
    >>> z = MarginalGaussianizer().fit(x)(x)
    >>> bool(abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05)
    True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from mist_reg.checks import scaled_moments

__all__ = ["Standardizer", "MarginalGaussianizer", "ColumnPreprocessor", "make_preprocessor", "Preprocessing"]

Preprocessing = Literal["gaussianize", "standardize", "none"]


class Standardizer(nn.Module):
    r"""``(x - mean) / std`` per coordinate, with statistics of the fitted samples.

    The statistics are computed and applied in units of a power of two near each column's
    largest magnitude (:func:`mist_reg.checks.scaled_moments`), an exact rescaling, so that
    float64 columns of values above ``~1e154`` or below ``~1e-154`` (whose squares overflow
    or vanish) are standardised like any other. A constant column becomes zeros.

    Example:
        >>> x = torch.randn(500, 1, dtype=torch.float64)
        >>> z = Standardizer().fit(x * 1e200)(x * 1e200)
        >>> torch.allclose(z, Standardizer().fit(x)(x))
        True
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("unit", torch.ones(0))
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("std", torch.ones(0))

    def fit(self, x: Tensor) -> Standardizer:
        self.unit, self.mean, std = scaled_moments(x, correction=1)
        self.std = torch.where(std > 0, std, torch.ones_like(std))
        return self

    def forward(self, x: Tensor) -> Tensor:
        return (x / self.unit - self.mean) / self.std


class MarginalGaussianizer(nn.Module):
    r"""Maps each coordinate through its empirical CDF, then the standard normal quantile.

    The empirical CDF is interpolated linearly between ``n_knots`` quantiles of the fitted
    samples, so the map is monotone and continuous; values beyond the fitted range are
    clamped to its ends.

    Arguments:
        n_knots: The number of quantiles kept per coordinate.
    """

    def __init__(self, n_knots: int = 2048) -> None:
        super().__init__()
        if n_knots < 2:
            raise ValueError(f"n_knots must be at least 2, got {n_knots}")
        self.n_knots = n_knots
        self.register_buffer("knots", torch.zeros(0, 0))
        self.register_buffer("levels", torch.zeros(0))

    def fit(self, x: Tensor) -> MarginalGaussianizer:
        n = x.shape[0]
        k = min(self.n_knots, n)
        levels = (torch.arange(k, dtype=torch.float64, device=x.device) + 0.5) / k
        # torch.quantile's linear interpolation, on columns sorted once (the sort is the cost)
        ranked = _sorted_columns(x.detach()).double()  # [d, n]
        position = levels * (n - 1)
        below, above = position.long(), position.ceil().long()
        knots = ranked[:, below].lerp(ranked[:, above], position - below)
        self.knots = knots.to(x.dtype)  # [d, k]
        self.levels = levels.to(x.dtype)
        return self

    def forward(self, x: Tensor) -> Tensor:
        if self.knots.numel() == 0:
            raise RuntimeError("MarginalGaussianizer must be fitted before use")
        knots, levels = self.knots, self.levels
        k = knots.shape[1]
        values = x.T.contiguous()  # [d, N]
        right = torch.searchsorted(knots, values).clamp(1, k - 1)
        left = right - 1
        k_left, k_right = knots.gather(1, left), knots.gather(1, right)
        # halves: the differences of values near the float's largest cannot overflow; a
        # relative gap, not an absolute floor, so that columns of any scale interpolate
        offset, gap = values / 2 - k_left / 2, k_right / 2 - k_left / 2
        spread = gap > 0
        weight = torch.where(spread, offset / torch.where(spread, gap, 1.0), (offset > 0).to(offset.dtype))
        weight = weight.clamp(0, 1)
        prob = levels[left] + weight * (levels[right] - levels[left])
        return torch.special.ndtri(prob).T.contiguous()


def _sorted_columns(x: Tensor) -> Tensor:
    """The values of each column of ``x: [N, d]`` in increasing order, as rows ``[d, N]``
    (numpy's vectorised sort on the CPU, where it is the faster; the figures are in
    ``docs/benchmarks.md``)."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not torch.isnan(x).any():
        return torch.from_numpy(np.sort(x.T.numpy(), axis=1))
    return x.T.sort(dim=1).values


def make_preprocessor(kind: Preprocessing) -> nn.Module:
    r"""The transform named ``kind``: ``"gaussianize"``, ``"standardize"`` or ``"none"``."""
    if kind == "gaussianize":
        return MarginalGaussianizer()
    if kind == "standardize":
        return Standardizer()
    if kind in ("none", None):
        return _Identity()
    raise ValueError(f"unknown preprocessing {kind!r}; valid choices: gaussianize, standardize, none")


class _Identity(nn.Module):
    def fit(self, x: Tensor) -> _Identity:
        return self

    def forward(self, x: Tensor) -> Tensor:
        return x


class ColumnPreprocessor(nn.Module):
    r"""The transform named ``kind`` on the first ``n_leading`` columns (the continuous ones);
    the other columns (indicators of discrete values) and integer inputs (class indices)
    pass unchanged.

    Example:
        >>> import torch
        >>> x = torch.cat([torch.randn(500, 1).exp(), torch.randint(0, 2, (500, 1)).float()], 1)
        >>> z = ColumnPreprocessor("gaussianize", 1).fit(x)(x)
        >>> bool(abs(z[:, 0].mean()) < 0.05), bool(torch.equal(z[:, 1], x[:, 1]))
        (True, True)
    """

    def __init__(self, kind: Preprocessing, n_leading: int) -> None:
        super().__init__()
        self.inner, self.n_leading = make_preprocessor(kind), n_leading

    def fit(self, x: Tensor) -> ColumnPreprocessor:
        if x.is_floating_point() and self.n_leading:
            self.inner.fit(x[:, : self.n_leading])
        return self

    def forward(self, x: Tensor) -> Tensor:
        if not x.is_floating_point() or not self.n_leading:
            return x
        if self.n_leading == x.shape[1]:
            return self.inner(x)
        return torch.cat([self.inner(x[:, : self.n_leading]), x[:, self.n_leading :]], 1)
