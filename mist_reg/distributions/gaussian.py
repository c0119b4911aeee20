r"""A learned Gaussian ``q(z)`` without context: the marginal ``q(y)`` (or ``q(x)``) and,
over the concatenation ``[x, y]``, the joint ``q(x, y)``.

The module is called without arguments and returns a distribution, like an unconditional
zuko flow: ``q().log_prob(z)``. :meth:`LearnedGaussian.initialize` sets it to the
maximum-likelihood fit of some samples, which estimators do before training.

Example:
    >>> import torch
    >>> z = torch.randn(1000, 3) * 2 + 1
    >>> q = LearnedGaussian(3)
    >>> q.initialize(z)
    >>> q().log_prob(z).shape, bool(torch.allclose(q().mean, z.mean(0)))
    (torch.Size([1000]), True)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from mist_reg.distributions.conditional_gaussian import Covariance, check_covariance, cholesky_factor
from mist_reg.distributions.parametrization import (
    DEFAULT_MAX_LOG_VAR,
    DEFAULT_MIN_LOG_VAR,
    bounded_log_variance,
    check_log_var_range,
    raw_log_variance,
)

__all__ = ["LearnedGaussian"]


class LearnedGaussian(nn.Module):
    r"""``q(z) = N(z; mu, Sigma)`` with learned ``mu`` and ``Sigma`` (diagonal or full).

    Arguments:
        dim: The size of ``z``.
        covariance: ``"full"`` (a Cholesky factor, by default: a diagonal joint ``q(x, y)``
            could not represent any dependence) or ``"diagonal"``.
        min_log_var: The lower end of the range of the (Cholesky-diagonal) log-variances.
        max_log_var: The upper end of that range.

    Example:
        >>> q = LearnedGaussian(2, covariance="diagonal")
        >>> float(q().log_prob(torch.zeros(2)).detach())  # standard normal at the start
        -1.8378770351409912
    """

    def __init__(
        self,
        dim: int,
        covariance: Covariance = "full",
        min_log_var: float = DEFAULT_MIN_LOG_VAR,
        max_log_var: float = DEFAULT_MAX_LOG_VAR,
    ) -> None:
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        check_covariance(covariance)
        check_log_var_range(min_log_var, max_log_var)
        self.dim, self.covariance = dim, covariance
        self.min_log_var, self.max_log_var = float(min_log_var), float(max_log_var)
        self.loc = nn.Parameter(torch.zeros(dim))
        self.raw_log_var = nn.Parameter(raw_log_variance(torch.zeros(dim), self.min_log_var, self.max_log_var))
        n_off = dim * (dim - 1) // 2 if covariance == "full" else 0
        self.off_diagonal = nn.Parameter(torch.zeros(n_off))
        self.register_buffer("_tril_index", torch.tril_indices(dim, dim, offset=-1), persistent=False)

    def forward(self, context: Tensor | None = None) -> Distribution:
        r"""The distribution ``q(z)``; a ``context`` is refused (this density has none)."""
        if context is not None:
            raise ValueError("LearnedGaussian is unconditional: call it without a context")
        log_var = bounded_log_variance(self.raw_log_var, self.min_log_var, self.max_log_var)
        if self.covariance == "diagonal":
            return Independent(Normal(self.loc, torch.exp(0.5 * log_var), validate_args=False), 1, validate_args=False)
        return MultivariateNormal(
            self.loc, scale_tril=cholesky_factor(log_var, self.off_diagonal, self._tril_index), validate_args=False
        )

    @torch.no_grad()
    def initialize(self, samples: Tensor, ridge: float = 1e-4) -> None:
        r"""Sets ``q`` to the maximum-likelihood Gaussian of ``samples: [N, dim]`` (a
        ``ridge`` times the mean variance is added to the diagonal)."""
        if samples.dim() != 2 or samples.shape[1] != self.dim:
            raise ValueError(f"samples must have shape [N, {self.dim}], got {tuple(samples.shape)}")
        z = samples.detach().double()
        mean = z.mean(0)
        centred = z - mean
        cov = centred.T @ centred / max(z.shape[0], 1)
        cov = cov + ridge * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(self.dim, dtype=z.dtype, device=z.device)
        if self.covariance == "diagonal":
            log_var = cov.diagonal().log()
        else:
            factor = torch.linalg.cholesky(cov)
            log_var = 2 * factor.diagonal().log()
            rows, cols = self._tril_index
            self.off_diagonal.copy_(factor[rows, cols].to(self.off_diagonal))
        self.loc.copy_(mean.to(self.loc))
        self.raw_log_var.copy_(raw_log_variance(log_var, self.min_log_var, self.max_log_var).to(self.raw_log_var))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, covariance={self.covariance!r}"
