r"""Gathering features across processes with gradients, for estimators whose negatives
should come from the whole global batch under :class:`torch.nn.parallel.DistributedDataParallel`.

A plain :func:`torch.distributed.all_gather` returns tensors without a gradient, so the
samples of the other ranks would act as constants and the local encoder would only learn
from its own slice. :func:`gather_with_grad` is differentiable: every rank receives the
concatenation of all local batches, and the gradient of that concatenation flows back to
the slice this rank contributed.

How gradients combine (``R`` ranks, each with a local batch ``b_r``, global batch
``B = [b_1, ..., b_R]``; each rank computes a loss ``L_r`` on the gathered features):

* the exact adjoint of the gather gives rank ``r`` the gradient
  ``sum_{r'} dL_{r'} / dz_i`` for its own samples ``z_i``: the backward sums the incoming
  gradients over ranks (one ``all_reduce``) and keeps the local slice
  (``grad="all_reduce"``, the default);
* DDP then averages the parameter gradients over ranks, so the encoder receives
  ``d/dtheta (1/R) sum_r L_r``; parameters that see the gathered batch directly (a critic)
  receive ``(1/R) sum_r dL_r / dphi``, the same average;
* when every rank computes the same loss on the same gathered features (``L_r = L(B)``),
  this is exactly the gradient one process would get on the whole batch ``B``, for the
  encoder and for the critic alike, with no rescaling of the loss.

Multiplying the loss by ``R`` instead (the usual recipe with a backward that returns only
the local slice) fixes the encoder's gradient but makes the gradients of parameters that
see the whole gathered batch ``R`` times too large. ``grad="local"`` is the
communication-free variant of the exact adjoint: it returns the local slice of the
incoming gradient times ``R``, which equals the summed gradient whenever every rank
computes the same loss on the gathered tensor (a deterministic estimator on the same
batch), and is an unbiased stand-in otherwise.

Example:
    >>> import torch
    >>> x = torch.randn(4, 3, requires_grad=True)
    >>> gather_with_grad(x) is x  # without an initialised process group, nothing to gather
    True
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["is_distributed", "get_world_size", "get_rank", "gather_with_grad", "GradientMode"]

GradientMode = Literal["all_reduce", "local"]


def is_distributed(group: dist.ProcessGroup | None = None) -> bool:
    r"""Whether a process group with more than one rank is initialised.

    Example:
        >>> is_distributed()
        False
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def get_world_size(group: dist.ProcessGroup | None = None) -> int:
    r"""The number of ranks of ``group`` (1 without an initialised process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(group)
    return 1


def get_rank(group: dist.ProcessGroup | None = None) -> int:
    r"""The rank of this process in ``group`` (0 without an initialised process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group)
    return 0


def _all_gather(t: Tensor, group: dist.ProcessGroup | None, sizes: list[int] | None) -> Tensor:
    t = t.contiguous()
    if sizes is None:
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, t, group=group)
        return torch.cat(parts, dim=0)
    longest = max(sizes)
    padded = t.new_zeros((longest, *t.shape[1:]))
    padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded, group=group)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)], dim=0)


def _batch_sizes(t: Tensor, group: dist.ProcessGroup | None) -> list[int]:
    size = torch.tensor([t.shape[0]], dtype=torch.long, device=t.device)
    sizes = [torch.empty_like(size) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, size, group=group)
    return [int(s) for s in sizes]


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t: Tensor, group, sizes, mode: str) -> Tensor:
        rank = dist.get_rank(group)
        ctx.group, ctx.mode = group, mode
        ctx.world_size = dist.get_world_size(group)
        counts = sizes if sizes is not None else [t.shape[0]] * ctx.world_size
        ctx.start, ctx.length = sum(counts[:rank]), t.shape[0]
        return _all_gather(t, group, sizes)

    @staticmethod
    def backward(ctx, grad: Tensor):
        if ctx.mode == "all_reduce":
            grad = grad.contiguous().clone()
            dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
            local = grad.narrow(0, ctx.start, ctx.length)
        else:
            local = grad.narrow(0, ctx.start, ctx.length) * ctx.world_size
        return local, None, None, None


def gather_with_grad(
    t: Tensor,
    group: dist.ProcessGroup | None = None,
    grad: GradientMode = "all_reduce",
    equal_sizes: bool = True,
) -> Tensor:
    r"""Concatenates ``t`` of every rank along dimension 0, in rank order, with gradients.

    Without an initialised process group (or with a single rank) ``t`` is returned as it
    is. Tensors that do not require a gradient (labels, frozen features) are gathered
    without the autograd function.

    Arguments:
        t: The local tensor ``[n, ...]``; every rank must pass the same trailing shape.
        group: The process group (the default group if ``None``).
        grad: How the backward forms the local gradient (see the module documentation):
            ``"all_reduce"`` (the exact adjoint: gradients summed over ranks) or
            ``"local"`` (the local slice times the world size, no communication).
        equal_sizes: Whether every rank passes the same ``n`` (as with a
            :class:`~torch.utils.data.distributed.DistributedSampler`). ``False`` exchanges
            the sizes first (one more collective) and pads.

    Returns:
        The global tensor ``[sum of n over ranks, ...]``.
    """
    if grad not in ("all_reduce", "local"):
        raise ValueError(f"grad must be 'all_reduce' or 'local', got {grad!r}")
    if not isinstance(t, Tensor):
        raise TypeError(f"t must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() == 0:
        raise ValueError("t must have a batch dimension, got a 0-d tensor")
    if not is_distributed(group):
        return t
    sizes = None if equal_sizes else _batch_sizes(t, group)
    if not (t.requires_grad and torch.is_grad_enabled()):
        return _all_gather(t, group, sizes)
    return _GatherWithGrad.apply(t, group, sizes, grad)
