r"""``K`` independent MLPs of one shape run as one network (:class:`EnsembleLinear`,
:func:`ensemble_mlp`), and ``K`` sums of one-column networks (:class:`EnsembleColumnwise`).

Every layer holds the weights of all ``K`` members, ``[K, in, out]``, and applies them with
one batched matrix product, so a step of ``K`` small networks launches one kernel per layer
instead of ``K``; on a CPU a small network's step is mostly per-operation overhead, so
that is most of its cost (measured in ``docs/benchmarks.md``). Members share no parameter: the
gradient of a sum of per-member losses reaches each member through its own term only, and
Adam's update is elementwise, so training the ensemble is training each member on its own,
on the same batches. Each member is initialised as :class:`torch.nn.Linear` would be.

Example:
    >>> import torch
    >>> net = ensemble_mlp(4, 3, [16, 16], 2)
    >>> net(torch.randn(10, 3)).shape  # one output per member and row
    torch.Size([4, 10, 2])
    >>> net(torch.randn(4, 10, 3)).shape  # or one input per member
    torch.Size([4, 10, 2])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from mist_reg.nn.mlp import check_hidden_dims

__all__ = ["EnsembleLinear", "EnsembleColumnwise", "ensemble_mlp"]


class EnsembleLinear(nn.Module):
    r"""``K`` affine maps ``in_dim -> out_dim``, applied at once.

    Arguments:
        members: The number ``K`` of maps.
        in_dim: The number of input features.
        out_dim: The number of output features.

    Input ``[N, in_dim]`` (the same rows for every member) or ``[K, N, in_dim]``; output
    ``[K, N, out_dim]``.
    """

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        for name, value in (("members", members), ("in_dim", in_dim), ("out_dim", out_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.members, self.in_dim, self.out_dim = members, in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        r"""Each member as :class:`torch.nn.Linear` initialises itself: weights and biases
        uniform on ``[-1 / sqrt(in_dim), 1 / sqrt(in_dim)]``."""
        bound = 1.0 / math.sqrt(self.in_dim)
        self.weight.uniform_(-bound, bound)
        self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            if x.shape[-1] != self.in_dim:
                raise ValueError(f"expected inputs [N, {self.in_dim}], got {list(x.shape)}")
            return torch.matmul(x, self.weight) + self.bias  # [N, in] @ [K, in, out] broadcasts to [K, N, out]
        if x.dim() != 3 or x.shape[0] != self.members or x.shape[-1] != self.in_dim:
            raise ValueError(
                f"expected inputs [N, {self.in_dim}] or [{self.members}, N, {self.in_dim}], got {list(x.shape)}"
            )
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"members={self.members}, in_features={self.in_dim}, out_features={self.out_dim}"


class EnsembleColumnwise(nn.Module):
    r"""For each of ``K`` members, a sum of one-column networks: ``sum_d g_{k,d}(x_d)`` with
    ``g_{k,d}: R -> R^out_dim`` one hidden layer of ``hidden`` units (the additive part of
    a generalised additive model).

    An MLP spreads a sum of one-column effects over all its hidden units; a network per
    column learns each effect from its own column. The second layer is that of a linear map
    of the ``in_dim * hidden`` features together, initialised as such, and there is no
    output bias (an MLP beside it has one).

    Arguments:
        members: The number ``K`` of members.
        in_dim: The number ``D`` of input columns.
        hidden: The hidden units of each column's network.
        out_dim: The number of output features.

    Input ``[N, in_dim]`` or ``[K, N, in_dim]``; output ``[K, N, out_dim]``. Its
    intermediate features are ``[K, N, in_dim, hidden]``.

    Example:
        >>> import torch
        >>> g = EnsembleColumnwise(2, 3, 4, 1)
        >>> x, other = torch.randn(5, 3), torch.randn(5, 3)
        >>> other[:, 0] = x[:, 0]  # the same first column, the others changed
        >>> first_zeroed = lambda z: torch.cat([torch.zeros(5, 1), z[:, 1:]], 1)
        >>> torch.allclose(g(x) - g(first_zeroed(x)), g(other) - g(first_zeroed(other)), atol=1e-6)
        True
    """

    def __init__(self, members: int, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        for name, value in (("members", members), ("in_dim", in_dim), ("hidden", hidden), ("out_dim", out_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.members, self.in_dim, self.hidden, self.out_dim = members, in_dim, hidden, out_dim
        self.weight1 = nn.Parameter(torch.empty(members, in_dim, hidden))
        self.bias1 = nn.Parameter(torch.empty(members, in_dim, hidden))
        self.weight2 = nn.Parameter(torch.empty(members, in_dim * hidden, out_dim))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        r"""The first layer as a :class:`torch.nn.Linear` of one input, the second as one of
        ``in_dim * hidden`` inputs."""
        self.weight1.uniform_(-1.0, 1.0)
        self.bias1.uniform_(-1.0, 1.0)
        bound = 1.0 / math.sqrt(self.in_dim * self.hidden)
        self.weight2.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_dim or x.dim() not in (2, 3) or (x.dim() == 3 and x.shape[0] != self.members):
            raise ValueError(
                f"expected inputs [N, {self.in_dim}] or [{self.members}, N, {self.in_dim}], got {list(x.shape)}"
            )
        n = x.shape[-2]
        columns = x.unsqueeze(-1).unsqueeze(-4) if x.dim() == 2 else x.unsqueeze(-1)  # [1 or K, N, D, 1]
        features = torch.relu(columns * self.weight1.unsqueeze(1) + self.bias1.unsqueeze(1))  # [K, N, D, H]
        return torch.bmm(features.reshape(self.members, n, -1), self.weight2)

    def extra_repr(self) -> str:
        return f"members={self.members}, in_features={self.in_dim}, hidden={self.hidden}, out_features={self.out_dim}"


def ensemble_mlp(
    members: int,
    in_dim: int,
    hidden_dims: Sequence[int],
    out_dim: int,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    r"""``members`` MLPs ``in_dim -> hidden_dims... -> out_dim`` run as one (see the module
    documentation); the counterpart of :func:`mist_reg.nn.mlp.mlp`.

    Example:
        >>> ensemble_mlp(3, 2, [8], 1)
        Sequential(
          (0): EnsembleLinear(members=3, in_features=2, out_features=8)
          (1): ReLU()
          (2): EnsembleLinear(members=3, in_features=8, out_features=1)
        )
    """
    widths = [in_dim, *check_hidden_dims(hidden_dims)]
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [EnsembleLinear(members, a, b), activation()]
    layers.append(EnsembleLinear(members, widths[-1], out_dim))
    return nn.Sequential(*layers)
