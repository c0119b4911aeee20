r"""The conditional categorical ``q(y | x)`` for a discrete ``y``: an MLP gives the logits.

Values of ``y`` are class indices in ``{0, ..., n_classes - 1}``, given as ``[N]`` or
``[N, 1]`` tensors of integers or of integral floats (the estimation pipeline turns labels
into float ``[N, 1]``); :func:`mist_reg.distributions.log_density.as_value` converts them.

Example:
    >>> import torch
    >>> q = ConditionalCategorical(x_dim=3, n_classes=4, hidden_dims=[16])
    >>> x, y = torch.randn(8, 3), torch.randint(0, 4, (8,))
    >>> q(x).log_prob(y).shape
    torch.Size([8])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor, nn
from torch.distributions import Categorical

from mist_reg.nn.mlp import mlp

__all__ = ["ConditionalCategorical"]


class ConditionalCategorical(nn.Module):
    r"""``q(y | x) = Categorical(softmax(net(x)))``.

    Its distributions skip torch's argument validation, which costs a host-device sync
    per check (a dozen per step of a CLUB penalty on a GPU): class indices outside
    ``[0, n_classes)`` fail in ``log_prob``'s indexing instead (an index error on the CPU,
    a device-side assertion on CUDA).

    Arguments:
        x_dim: The size of the context ``x``.
        n_classes: The number of classes of ``y`` (at least 2).
        hidden_dims: The hidden widths of the MLP.

    Example:
        >>> import torch
        >>> q = ConditionalCategorical(2, n_classes=3, hidden_dims=[8])
        >>> q(torch.zeros(5, 2)).probs.shape
        torch.Size([5, 3])
    """

    broadcasts_context: ClassVar[bool] = True
    r"""Its distributions broadcast a context ``[B, 1, x_dim]`` against values ``[B, M, ...]``."""

    def __init__(self, x_dim: int, n_classes: int, hidden_dims: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        self.x_dim, self.n_classes = x_dim, n_classes
        self.net = mlp(x_dim, hidden_dims, n_classes)

    def forward(self, x: Tensor) -> Categorical:
        r"""The distribution ``q(y | x)``, with batch shape ``x.shape[:-1]``."""
        return Categorical(logits=self.net(x), validate_args=False)

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, n_classes={self.n_classes}"
