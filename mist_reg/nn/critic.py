r"""Critics: networks ``f(x, y) -> R`` that score how likely a pair comes from ``p(x, y)``.

Two kinds, as in the literature:

* :class:`JointCritic` feeds the concatenation ``[x, y]`` to one network. It is the more
  expressive kind, but every pair must be evaluated; scoring ``N x M`` pairs is done in
  chunks so that memory stays bounded, and the first linear layer is split so that
  ``W [x; y] = W_x x + W_y y`` costs ``N + M`` products rather than ``N * M``.
* :class:`SeparableCritic` scores ``f(x, y) = g(x)^T h(y) / temperature``; all ``N x M``
  pairs come from one matrix product.

Both take inputs ``x: [N, x_dim]`` and ``y: [M, y_dim]`` and provide ``forward`` (paired
scores), :meth:`Critic.score_matrix` (all pairs) and :meth:`Critic.score_pairs` (chosen
pairs).

Example:
    >>> import torch
    >>> critic = joint_critic(x_dim=2, y_dim=3, hidden_dims=[16])
    >>> x, y = torch.randn(5, 2), torch.randn(5, 3)
    >>> critic(x, y).shape, critic.score_matrix(x, y).shape
    (torch.Size([5]), torch.Size([5, 5]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mist_reg.nn.ensemble_mlp import EnsembleLinear
from mist_reg.nn.mlp import mlp

__all__ = ["Critic", "JointCritic", "SeparableCritic", "joint_critic", "separable_critic"]


class Critic(nn.Module):
    r"""The critic contract; subclasses implement :meth:`score_matrix` and :meth:`score_pairs`."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        r"""Scores of the aligned pairs ``(x_i, y_i)``: ``[N]``."""
        index = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
        return self.score_pairs(x, y, index).squeeze(1)

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        r"""Scores of every pair ``(x_i, y_j)``: ``[N, M]``."""
        raise NotImplementedError

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        r"""Scores ``f(x_i, y_{index[i, k]})`` for an ``[N, K]`` integer ``index``: ``[N, K]``."""
        raise NotImplementedError

    def fitting_loss(self, x: Tensor, y: Tensor) -> Tensor | None:
        r"""A loss that fits a model inside the critic alongside the bound that trains it
        (the likelihood of a density-ratio critic), or ``None`` (the default): the bound's
        objective is all the critic learns from."""
        return None

    @torch.no_grad()
    def zero_output_(self) -> None:
        r"""Makes the critic output zero everywhere while every parameter still receives
        gradients (used to start a correction of a reference critic at zero).

        The default zeroes the last linear layer; critics of another shape override it.
        """
        linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise NotImplementedError(f"{type(self).__name__} does not know how to start at zero")
        nn.init.zeros_(linears[-1].weight)
        if linears[-1].bias is not None:
            nn.init.zeros_(linears[-1].bias)


class JointCritic(Critic):
    r"""``f(x, y) = joint_net([x, y])``.

    Arguments:
        joint_net: A network mapping ``[..., x_dim + y_dim]`` to ``[..., 1]``.
        max_pairs_per_chunk: How many pairs one call of ``joint_net`` may see. Larger is
            faster, smaller bounds the memory of activations when scoring ``N x M`` pairs.

    Example:
        >>> net = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1))
        >>> critic = JointCritic(joint_net=net)
        >>> critic.score_matrix(torch.randn(4, 2), torch.randn(6, 3)).shape
        torch.Size([4, 6])
    """

    def __init__(self, joint_net: nn.Module, max_pairs_per_chunk: int = 1 << 16) -> None:
        super().__init__()
        if max_pairs_per_chunk < 1:
            raise ValueError(f"max_pairs_per_chunk must be positive, got {max_pairs_per_chunk}")
        self.joint_net = joint_net
        self.max_pairs_per_chunk = max_pairs_per_chunk

    def _split_first_layer(self) -> tuple[nn.Linear, nn.Module] | None:
        net = self.joint_net
        if isinstance(net, nn.Sequential) and len(net) > 1 and isinstance(net[0], nn.Linear):
            return net[0], net[1:]
        return None

    def _score_features(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        """Scores one chunk of rows; ``index`` selects the ``y`` partners of each row."""
        split = self._split_first_layer()
        if split is None:
            pairs = torch.cat([x.unsqueeze(1).expand(-1, index.shape[1], -1), y[index]], dim=-1)
            return self.joint_net(pairs).squeeze(-1)
        first, rest = split
        x_dim = x.shape[-1]
        hx = F.linear(x, first.weight[:, :x_dim], first.bias)
        hy = F.linear(y, first.weight[:, x_dim:])
        return rest(hx.unsqueeze(1) + hy[index]).squeeze(-1)

    def _chunked(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        rows_per_chunk = max(1, self.max_pairs_per_chunk // max(1, index.shape[1]))
        if rows_per_chunk >= x.shape[0]:
            return self._score_features(x, y, index)
        return torch.cat(
            [
                self._score_features(x[i : i + rows_per_chunk], y, index[i : i + rows_per_chunk])
                for i in range(0, x.shape[0], rows_per_chunk)
            ]
        )

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        index = torch.arange(y.shape[0], device=y.device).expand(x.shape[0], -1)
        return self._chunked(x, y, index)

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        return self._chunked(x, y, index)


class SeparableCritic(Critic):
    r"""``f(x, y) = g(x)^T h(y) / temperature``, optionally on unit-normalised features.

    Arguments:
        f_x: The projection head of ``x``, ``[..., x_dim] -> [..., k]``.
        f_y: The projection head of ``y``, ``[..., y_dim] -> [..., k]``.
        normalize: Whether to project both features on the unit sphere (cosine similarity).
        temperature: Divides the scores; small values sharpen cosine similarities.
        marginal_terms: When true, the last output of each head is a term of its own
            variable added to the score, ``f(x, y) = g(x)^T h(y) + u(x) + w(y)``: the form of
            a log density ratio that depends on each variable also alone (e.g. Gaussian).

    Example:
        >>> critic = SeparableCritic(nn.Linear(2, 8), nn.Linear(3, 8), normalize=True, temperature=0.1)
        >>> critic.score_matrix(torch.randn(4, 2), torch.randn(6, 3)).shape
        torch.Size([4, 6])
    """

    def __init__(
        self,
        f_x: nn.Module,
        f_y: nn.Module,
        normalize: bool = False,
        temperature: float = 1.0,
        marginal_terms: bool = False,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.f_x, self.f_y = f_x, f_y
        self.normalize = normalize
        self.temperature = temperature
        self.marginal_terms = marginal_terms

    def _features(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        hx, hy = self.f_x(x), self.f_y(y)
        if hx.shape[-1] != hy.shape[-1]:
            raise ValueError(
                f"f_x and f_y must output features of the same size, got {hx.shape[-1]} and {hy.shape[-1]}"
            )
        if self.marginal_terms:
            (hx, ux), (hy, uy) = hx.split([hx.shape[-1] - 1, 1], -1), hy.split([hy.shape[-1] - 1, 1], -1)
            ux, uy = ux.squeeze(-1), uy.squeeze(-1)
        else:
            ux = uy = hx.new_zeros(())
        if self.normalize:
            hx, hy = F.normalize(hx, dim=-1), F.normalize(hy, dim=-1)
        return hx / self.temperature, hy, ux, uy

    @torch.no_grad()
    def zero_output_(self) -> None:
        r"""Zeroes the last linear layer of ``f_x`` and, with marginal terms, the marginal
        output of ``f_y``: the score is zero, and ``f_x`` still gets gradients through
        ``h(y)``. Heads may end in :class:`torch.nn.Linear` or, for ``K`` heads run as one,
        :class:`~mist_reg.nn.ensemble_mlp.EnsembleLinear`."""
        last_x, last_y = _last_linear(self.f_x), _last_linear(self.f_y)
        if last_x is None or (self.marginal_terms and last_y is None):
            raise NotImplementedError("zero_output_ needs heads that end in nn.Linear or EnsembleLinear layers")
        _zero_outputs(last_x, slice(None))
        if self.marginal_terms:
            _zero_outputs(last_y, slice(-1, None))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        hx, hy, ux, uy = self._features(x, y)
        return (hx * hy).sum(-1) + ux + uy

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        hx, hy, ux, uy = self._features(x, y)
        marginal = ux.unsqueeze(-1) + uy.unsqueeze(-2) if self.marginal_terms else 0
        return hx @ hy.transpose(-1, -2) + marginal

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        hx, hy, ux, uy = self._features(x, y)  # heads run as K members: a leading [K] on each
        flat = index.reshape(-1)
        paired_y = hy.index_select(-2, flat).unflatten(-2, tuple(index.shape))
        marginal = (
            ux.unsqueeze(-1) + uy.index_select(-1, flat).unflatten(-1, tuple(index.shape)) if self.marginal_terms else 0
        )
        return torch.einsum("...nd,...nkd->...nk", hx, paired_y) + marginal


def _last_linear(head: nn.Module) -> nn.Linear | EnsembleLinear | None:
    """The last affine layer of a head, or ``None``."""
    layers = [m for m in head.modules() if isinstance(m, (nn.Linear, EnsembleLinear))]
    return layers[-1] if layers else None


def _zero_outputs(layer: nn.Linear | EnsembleLinear, outputs: slice) -> None:
    """Zeroes the weights and bias of some outputs of an affine layer (``nn.Linear`` holds
    ``[out, in]`` weights, ``EnsembleLinear`` ``[K, in, out]``)."""
    if isinstance(layer, EnsembleLinear):
        layer.weight[..., outputs].zero_()
        layer.bias[..., outputs].zero_()
        return
    layer.weight[outputs].zero_()
    if layer.bias is not None:
        layer.bias[outputs].zero_()


def joint_critic(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int], activation: type[nn.Module] = nn.ReLU
) -> JointCritic:
    r"""A :class:`JointCritic` on an MLP ``x_dim + y_dim -> hidden_dims -> 1``.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLP.
        activation: The activation between layers.

    Returns:
        The critic, untrained.

    Example:
        >>> import torch
        >>> joint_critic(3, 2, [16]).score_matrix(torch.randn(4, 3), torch.randn(6, 2)).shape
        torch.Size([4, 6])
    """
    return JointCritic(mlp(x_dim + y_dim, hidden_dims, 1, activation))


def separable_critic(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int],
    projection_dim: int | None = None,
    normalize: bool = False,
    temperature: float = 1.0,
    marginal_terms: bool = False,
    activation: type[nn.Module] = nn.ReLU,
) -> SeparableCritic:
    r"""A :class:`SeparableCritic` with two MLP heads.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of both heads.
        projection_dim: The number of features the heads end in (by default the last hidden
            width).
        normalize: Whether the features are normalised to unit length (cosine similarity).
        temperature: The divisor of the scores.
        marginal_terms: Whether each head has one more output, a marginal term ``u(x)`` or
            ``w(y)`` added to the score.
        activation: The activation between layers.

    Returns:
        The critic, untrained.

    Example:
        >>> import torch
        >>> critic = separable_critic(3, 2, [16], projection_dim=8, marginal_terms=True)
        >>> critic.f_x(torch.randn(4, 3)).shape  # 8 features and the marginal term
        torch.Size([4, 9])
    """
    hidden = list(hidden_dims)
    k = (projection_dim or (hidden[-1] if hidden else 16)) + int(marginal_terms)
    return SeparableCritic(
        mlp(x_dim, hidden, k, activation), mlp(y_dim, hidden, k, activation), normalize, temperature, marginal_terms
    )
