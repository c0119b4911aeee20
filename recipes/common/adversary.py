r"""Adversarial removal of an attribute through a gradient-reversal layer.

Ganin et al., "Domain-Adversarial Training of Neural Networks" (JMLR 2016), and Edwards
and Storkey, "Censoring Representations with an Adversary" (ICLR 2016): an adversary
``a(z)`` is trained to predict the attribute ``S`` from the features ``Z`` by minimising
its cross-entropy, while the encoder receives the *opposite* of that gradient, scaled by
a weight ``lambda``. Both happen in one backward pass: a gradient-reversal layer is the
identity in the forward pass and multiplies the incoming gradient by ``-lambda`` in the
backward pass, so the adversary (after the layer) descends its loss at unit scale and
the encoder (before it) ascends ``lambda`` times the same loss.

Example:
    >>> z = torch.randn(64, 8, requires_grad=True)
    >>> s = torch.randint(0, 2, (64,))
    >>> penalty = AdversaryPenalty(8, n_classes=2, weight=3.0)
    >>> penalty(z, s).backward()            # the value is the adversary's cross-entropy
    >>> z.grad.shape
    torch.Size([64, 8])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["reverse_gradient", "AdversaryPenalty", "classifier"]


class _ReverseGradient(torch.autograd.Function):
    r"""Identity forward; the gradient times ``-scale`` backward."""

    @staticmethod
    def forward(ctx, t: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(t: Tensor, scale: float = 1.0) -> Tensor:
    r"""``t`` unchanged, with its gradient multiplied by ``-scale`` in the backward pass.

    Example:
        >>> t = torch.ones(3, requires_grad=True)
        >>> (2 * reverse_gradient(t, 0.5)).sum().backward()
        >>> t.grad
        tensor([-1., -1., -1.])
    """
    if scale < 0:
        raise ValueError(f"scale must be non-negative, got {scale}")
    return _ReverseGradient.apply(t, float(scale))


def classifier(in_dim: int, n_classes: int, hidden: int = 64, layers: int = 2) -> nn.Sequential:
    r"""An MLP ``in_dim -> hidden (x layers, ReLU) -> n_classes`` (logits)."""
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    modules.append(nn.Linear(width, n_classes))
    return nn.Sequential(*modules)


class AdversaryPenalty(nn.Module):
    r"""An adversary (a 2x``hidden`` MLP) behind a gradient-reversal layer.

    ``forward(z, s)`` returns the adversary's cross-entropy on ``S``; add it to the task
    loss. Its gradient trains the adversary at unit scale and pushes the encoder, through
    the reversal, by ``-weight`` times the same gradient. ``weight`` may change between
    steps (a warm-up).
    """

    def __init__(self, z_dim: int, n_classes: int = 2, hidden: int = 64, weight: float = 1.0) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.net = classifier(z_dim, n_classes, hidden)
        self.weight = float(weight)

    def forward(self, z: Tensor, s: Tensor) -> Tensor:
        return F.cross_entropy(self.net(reverse_gradient(z.float(), self.weight)), s)
