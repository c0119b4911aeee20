r"""The equal-weight mixture of independently fitted conditional Gaussians:
:class:`ConditionalEnsemble`.

``q(y | x) = (1 / K) sum_k N(y; mu_k(x), diag sigma_k(x)^2)``, each member with its own MLP
(:func:`mist_reg.nn.ensemble_mlp.ensemble_mlp`: the ``K`` networks run as one) and, with
``column_hidden``, its own sum of one-column networks added to the MLP's output
(:class:`~mist_reg.nn.ensemble_mlp.EnsembleColumnwise`: a generalised additive model with
the MLP for what is not additive). The members
are fitted each on its own, by :meth:`ConditionalEnsemble.fitting_nll` (the sum of their own
negative log-likelihoods), not as a mixture: on a small training set each overfits in its
own way, and the mixture averages those errors. Because the logarithm is concave, the
mixture's log-likelihood is at least the mean of its members' on every row, and a
Barber-Agakov bound built on it stays a bound (a mixture of densities is a density).

Example:
    >>> import torch
    >>> from mist_reg.distributions import log_prob
    >>> q = ConditionalEnsemble(3, 1, [8], members=4)
    >>> x, y = torch.randn(5, 3), torch.randn(5, 1)
    >>> mixture, members = log_prob(q, x, y), q.member_log_prob(x, y)
    >>> members.shape, bool((mixture >= members.mean(-1) - 1e-6).all())
    (torch.Size([5, 4]), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from mist_reg.distributions.parametrization import (
    DEFAULT_MAX_LOG_VAR,
    DEFAULT_MIN_LOG_VAR,
    bounded_log_variance,
    check_log_var_range,
)
from mist_reg.nn.ensemble_mlp import EnsembleColumnwise, ensemble_mlp

__all__ = ["ConditionalEnsemble"]


class ConditionalEnsemble(nn.Module):
    r"""The equal-weight mixture of ``members`` conditional Gaussians with diagonal
    covariance (see the module documentation).

    Arguments:
        x_dim: The size of the context ``x``.
        y_dim: The size of ``y``.
        hidden_dims: The hidden widths of each member's MLP.
        members: The number of members.
        column_hidden: The hidden units of each member's network per column of ``x``
            (``None``: no additive part).
        min_log_var: The lower end of the range of every log-variance.
        max_log_var: The upper end of that range.
    """

    broadcasts_context: ClassVar[bool] = True
    r"""Its distributions broadcast a context ``[B, 1, x_dim]`` against values ``[B, M, ...]``."""

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden_dims: Sequence[int] = (64, 64),
        members: int = 4,
        column_hidden: int | None = None,
        min_log_var: float = DEFAULT_MIN_LOG_VAR,
        max_log_var: float = DEFAULT_MAX_LOG_VAR,
    ) -> None:
        super().__init__()
        if not isinstance(members, int) or members < 1:
            raise ValueError(f"an ensemble needs at least one member, got members={members!r}")
        check_log_var_range(min_log_var, max_log_var)
        self.x_dim, self.y_dim, self.members = x_dim, y_dim, members
        self.min_log_var, self.max_log_var = float(min_log_var), float(max_log_var)
        self.net = ensemble_mlp(members, x_dim, hidden_dims, 2 * y_dim)
        self.columns = None if column_hidden is None else EnsembleColumnwise(members, x_dim, column_hidden, 2 * y_dim)

    def parameters_of(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Every member's mean and bounded log-variance, ``[..., K, y_dim]`` each."""
        if x.shape[-1] != self.x_dim:
            raise ValueError(f"expected a context of {self.x_dim} features, got {list(x.shape)}")
        flat = x.reshape(-1, self.x_dim)
        out = self.net(flat)  # [K, N, 2 y_dim]
        if self.columns is not None:
            out = out + self.columns(flat)
        out = out.transpose(0, 1).reshape(*x.shape[:-1], self.members, 2 * self.y_dim)
        d = self.y_dim
        return out[..., :d], bounded_log_variance(out[..., d:], self.min_log_var, self.max_log_var)

    def _components(self, x: Tensor) -> Independent:
        mean, log_var = self.parameters_of(x)
        return Independent(Normal(mean, torch.exp(0.5 * log_var), validate_args=False), 1, validate_args=False)

    def forward(self, x: Tensor) -> Distribution:
        r"""The mixture ``q(y | x)``, with batch shape ``x.shape[:-1]``."""
        components = self._components(x)
        weights = Categorical(logits=x.new_zeros(*x.shape[:-1], self.members), validate_args=False)
        return MixtureSameFamily(weights, components, validate_args=False)

    def member_log_prob(self, x: Tensor, y: Tensor) -> Tensor:
        r"""``log q_k(y_i | x_i)`` of every member on aligned pairs, ``[N, K]``."""
        return self._components(x).log_prob(y.unsqueeze(-2))

    def fitting_nll(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The loss that fits every member on its own: the sum over members of their mean
        negative log-likelihoods (the gradient reaches each member through its term only)."""
        return -self.member_log_prob(x, y).mean(0).sum()

    def extra_repr(self) -> str:
        return f"members={self.members}, x_dim={self.x_dim}, y_dim={self.y_dim}, additive={self.columns is not None}"
