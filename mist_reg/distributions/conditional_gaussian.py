r"""The conditional Gaussian ``q(y | x)``: an MLP gives the mean and the (co)variance of ``y``.

``covariance="diagonal"`` is the classic form (one log-variance per coordinate, the
density of CLUB and L1OUT); ``covariance="full"`` adds the strictly lower part of a
Cholesky factor, which is needed when the coordinates of ``y`` stay correlated given
``x`` (on the dense ``gaussian-5x5`` task a diagonal ``q`` misses about half of the
information). Log-variances are bounded, see :mod:`mist_reg.distributions.parametrization`.

Calling the module on a context returns a :class:`torch.distributions.Distribution` (the
"lazy" pattern of zuko), so it can be used wherever any ``q(x) -> Distribution`` can.

Example:
    >>> import torch
    >>> q = ConditionalGaussian(x_dim=3, y_dim=2, hidden_dims=[16])
    >>> x, y = torch.randn(8, 3), torch.randn(8, 2)
    >>> q(x).log_prob(y).shape
    torch.Size([8])
    >>> q(x.unsqueeze(1)).log_prob(y.unsqueeze(0)).shape  # every pair (x_i, y_j)
    torch.Size([8, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from mist_reg.distributions.parametrization import (
    DEFAULT_MAX_LOG_VAR,
    DEFAULT_MIN_LOG_VAR,
    bounded_log_variance,
    check_log_var_range,
)
from mist_reg.nn.mlp import mlp

__all__ = ["ConditionalGaussian", "Covariance", "COVARIANCES"]

Covariance = Literal["diagonal", "full"]
COVARIANCES: tuple[str, ...] = ("diagonal", "full")


def check_covariance(covariance: str) -> None:
    r"""Raises ``ValueError`` listing the valid values when ``covariance`` is unknown."""
    if covariance not in COVARIANCES:
        raise ValueError(f"unknown covariance {covariance!r}; valid values: {', '.join(COVARIANCES)}")


def cholesky_factor(log_var: Tensor, off_diagonal: Tensor, tril_index: Tensor) -> Tensor:
    r"""The lower-triangular ``[..., d, d]`` factor with diagonal ``exp(log_var / 2)`` and
    strictly lower entries ``off_diagonal`` (``[..., d * (d - 1) / 2]``, row by row)."""
    d = log_var.shape[-1]
    factor = log_var.new_zeros(*log_var.shape, d)
    factor[..., tril_index[0], tril_index[1]] = off_diagonal
    return factor + torch.diag_embed(torch.exp(0.5 * log_var))


class ConditionalGaussian(nn.Module):
    r"""``q(y | x) = N(y; mu(x), Sigma(x))`` with ``mu`` and ``Sigma`` from one MLP.

    Arguments:
        x_dim: The size of the context ``x``.
        y_dim: The size of ``y``.
        hidden_dims: The hidden widths of the MLP.
        covariance: ``"diagonal"`` (heads: mean and log-variance) or ``"full"`` (plus the
            ``y_dim * (y_dim - 1) / 2`` off-diagonal entries of a Cholesky factor whose
            diagonal is ``exp(log_var / 2)``).
        min_log_var: The lower end of the range of every log-variance (of the Cholesky
            diagonal for ``"full"``); the range keeps the head from saturating.
        max_log_var: The upper end of that range.

    Example:
        >>> q = ConditionalGaussian(2, 3, [8], covariance="full")
        >>> q(torch.zeros(4, 2)).covariance_matrix.shape
        torch.Size([4, 3, 3])
    """

    broadcasts_context: ClassVar[bool] = True
    r"""Its distributions broadcast a context ``[B, 1, x_dim]`` against values ``[B, M, ...]``."""

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden_dims: Sequence[int] = (64, 64),
        covariance: Covariance = "diagonal",
        min_log_var: float = DEFAULT_MIN_LOG_VAR,
        max_log_var: float = DEFAULT_MAX_LOG_VAR,
    ) -> None:
        super().__init__()
        check_covariance(covariance)
        check_log_var_range(min_log_var, max_log_var)
        self.x_dim, self.y_dim = x_dim, y_dim
        self.covariance = covariance
        self.min_log_var, self.max_log_var = float(min_log_var), float(max_log_var)
        n_off = y_dim * (y_dim - 1) // 2 if covariance == "full" else 0
        self.net = mlp(x_dim, hidden_dims, 2 * y_dim + n_off)
        self.register_buffer("_tril_index", torch.tril_indices(y_dim, y_dim, offset=-1), persistent=False)

    def parameters_of(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        r"""The mean ``[..., y_dim]``, bounded log-variance ``[..., y_dim]`` and (for
        ``"full"``) the off-diagonal Cholesky entries of ``q(. | x)``."""
        out = self.net(x)
        d = self.y_dim
        mean, raw = out[..., :d], out[..., d : 2 * d]
        log_var = bounded_log_variance(raw, self.min_log_var, self.max_log_var)
        off = out[..., 2 * d :] if self.covariance == "full" else None
        return mean, log_var, off

    def forward(self, x: Tensor) -> Distribution:
        r"""The distribution ``q(y | x)``, with batch shape ``x.shape[:-1]``."""
        mean, log_var, off = self.parameters_of(x)
        if off is None:
            return Independent(Normal(mean, torch.exp(0.5 * log_var), validate_args=False), 1, validate_args=False)
        return MultivariateNormal(mean, scale_tril=cholesky_factor(log_var, off, self._tril_index), validate_args=False)

    def extra_repr(self) -> str:
        return (
            f"x_dim={self.x_dim}, y_dim={self.y_dim}, covariance={self.covariance!r}, "
            f"log_var_range=({self.min_log_var}, {self.max_log_var})"
        )
