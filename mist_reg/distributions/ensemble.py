r"""The equal-weight mixture of independently trained conditional Gaussians:
:class:`ConditionalEnsemble`.

``q(y | x) = (1 / K) sum_k q_k(y | x)``. Each member is fitted on its own (the same rows,
another initialisation), so each overfits a small training set in its own way; the mixture
averages those errors, and because the logarithm is concave its log-likelihood is at
least the mean of its members' on every row. A Barber-Agakov bound built on it stays a
bound (a mixture of densities is a density).

Example:
    >>> import torch
    >>> from mist_reg.distributions import log_prob
    >>> members = [ConditionalGaussian(3, 1, [8]) for _ in range(4)]
    >>> q = ConditionalEnsemble(members)
    >>> x, y = torch.randn(5, 3), torch.randn(5, 1)
    >>> mixture = log_prob(q, x, y)
    >>> mean_of_members = torch.stack([log_prob(m, x, y) for m in members]).mean(0)
    >>> bool((mixture >= mean_of_members - 1e-6).all()), mixture.shape
    (True, torch.Size([5]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from mist_reg.distributions.conditional_gaussian import ConditionalGaussian

__all__ = ["ConditionalEnsemble"]


class ConditionalEnsemble(nn.Module):
    r"""The equal-weight mixture of conditional Gaussians with diagonal covariance (see the
    module documentation).

    Arguments:
        members: The fitted :class:`~mist_reg.distributions.ConditionalGaussian` densities,
            all with the same ``x_dim`` and ``y_dim``.
    """

    broadcasts_context = True
    r"""Its distributions broadcast a context ``[B, 1, x_dim]`` against values ``[B, M, ...]``."""

    def __init__(self, members: Sequence[ConditionalGaussian]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        shapes = {(m.x_dim, m.y_dim, m.covariance) for m in members}
        if len(shapes) != 1 or next(iter(shapes))[2] != "diagonal":
            raise ValueError(f"members must share x_dim, y_dim and a diagonal covariance, got {sorted(shapes)}")
        self.members = nn.ModuleList(members)
        self.x_dim, self.y_dim = members[0].x_dim, members[0].y_dim

    def forward(self, x: Tensor) -> Distribution:
        r"""The mixture ``q(y | x)``, with batch shape ``x.shape[:-1]``."""
        means, log_vars = zip(*(member.parameters_of(x)[:2] for member in self.members))
        mean, log_var = torch.stack(means, -2), torch.stack(log_vars, -2)  # [..., K, y_dim]
        components = Independent(Normal(mean, torch.exp(0.5 * log_var), validate_args=False), 1, validate_args=False)
        weights = Categorical(logits=mean.new_zeros(mean.shape[:-1]), validate_args=False)
        return MixtureSameFamily(weights, components, validate_args=False)

    def extra_repr(self) -> str:
        return f"members={len(self.members)}, x_dim={self.x_dim}, y_dim={self.y_dim}"
