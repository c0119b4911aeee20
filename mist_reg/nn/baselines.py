r"""Baselines: learned log-normalisers used by TUBA, AlphaTUBA (``a(x)``) and FLO (``u(x, y)``).

Example:
    >>> import torch
    >>> baseline = learned_baseline(x_dim=3, hidden_dims=[16])
    >>> baseline(torch.randn(5, 3)).shape
    torch.Size([5])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from mist_reg.nn.mlp import mlp

__all__ = [
    "ConstantBaseline",
    "LearnedBaseline",
    "JointBaseline",
    "learned_baseline",
    "joint_baseline",
]


class ConstantBaseline(nn.Module):
    r"""A single learned scalar ``a``, the same for every ``x``."""

    def __init__(self, init: float = 0.0) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x: Tensor) -> Tensor:
        return self.value.expand(x.shape[0])


class LearnedBaseline(nn.Module):
    r"""``a(x) = net(x)``: a network mapping ``[N, x_dim]`` to ``[N, 1]`` (or ``[N]``)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).reshape(x.shape[0])


class JointBaseline(nn.Module):
    r"""``u(x, y) = net([x, y])``, the joint baseline of FLO."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([x, y], dim=-1)).reshape(x.shape[0])


def learned_baseline(x_dim: int, hidden_dims: Sequence[int]) -> LearnedBaseline:
    r"""A :class:`LearnedBaseline` on an MLP ``x_dim -> hidden_dims -> 1``.

    Arguments:
        x_dim: The number of features of ``x``.
        hidden_dims: Hidden widths of the MLP.

    Returns:
        The baseline ``a(x)``, untrained.

    Example:
        >>> learned_baseline(3, [8])(torch.zeros(5, 3)).shape
        torch.Size([5])
    """
    return LearnedBaseline(mlp(x_dim, hidden_dims, 1))


def joint_baseline(x_dim: int, y_dim: int, hidden_dims: Sequence[int]) -> JointBaseline:
    r"""A :class:`JointBaseline` on an MLP ``x_dim + y_dim -> hidden_dims -> 1``.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLP.

    Returns:
        The baseline ``u(x, y)``, untrained.

    Example:
        >>> joint_baseline(3, 2, [8])(torch.zeros(5, 3), torch.zeros(5, 2)).shape
        torch.Size([5])
    """
    return JointBaseline(mlp(x_dim + y_dim, hidden_dims, 1))
