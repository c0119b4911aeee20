r"""Negative pairs of a batch: which ``y`` each row's ``x`` is scored against.

``neg_samples`` follows the torch_mist 0.1.5 convention: ``M > 0`` uses ``M`` negatives per row,
``0`` every other sample of the batch (``N - 1``), and ``M < 0`` uses ``N + M``. Negatives
of row ``i`` are ``y_{(i + s) mod N}`` for ``M`` distinct random shifts ``s``, so no row is
paired with its own ``y`` and every ``y`` serves as a negative equally often. With every
other sample, one score matrix gives them all: the positives are its diagonal.

Example:
    >>> import torch
    >>> scores = lambda x, y: x @ y.T
    >>> x, y = torch.randn(4, 2), torch.randn(4, 2)
    >>> positive, negative = batch_scores(x, y, 0, scores, None, None)
    >>> positive.shape, negative.shape
    (torch.Size([4]), torch.Size([4, 3]))
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from mist_reg.estimators.base import float32_scores

__all__ = ["resolve_neg_samples", "off_diagonal", "batch_scores"]


def resolve_neg_samples(neg_samples: int, batch_size: int) -> int:
    r"""The number of negatives per row for a batch of ``batch_size`` (see module docs).

    Example:
        >>> resolve_neg_samples(0, 128), resolve_neg_samples(-28, 128), resolve_neg_samples(16, 128)
        (127, 100, 16)
    """
    if batch_size < 2:
        raise ValueError(f"discriminative estimators need batches of at least 2 samples, got {batch_size}")
    m = neg_samples if neg_samples > 0 else batch_size - 1 if neg_samples == 0 else batch_size + neg_samples
    if m < 1:
        raise ValueError(f"neg_samples={neg_samples} leaves no negatives in a batch of {batch_size}")
    return min(m, batch_size - 1)


def off_diagonal(matrix: Tensor) -> Tensor:
    r"""The ``[..., N, N - 1]`` off-diagonal entries of square ``[..., N, N]`` matrices, row by row."""
    n, lead = matrix.shape[-1], matrix.shape[:-2]
    return matrix.flatten(-2)[..., 1:].unflatten(-1, (n - 1, n + 1))[..., :-1].reshape(*lead, n, n - 1)


def batch_scores(
    x: Tensor,
    y: Tensor,
    neg_samples: int,
    score_matrix: Callable[[Tensor, Tensor], Tensor],
    score_pairs: Callable[[Tensor, Tensor, Tensor], Tensor] | None,
    score_positive: Callable[[Tensor, Tensor], Tensor] | None,
) -> tuple[Tensor, Tensor]:
    r"""Positive ``[..., N]`` and negative ``[..., N, M]`` scores of a batch, in float32, from
    scoring functions of a critic (or of several at once, with a leading dimension):
    ``score_matrix(x, y)`` of every pair when ``M = N - 1``, else ``score_positive(x, y)``
    and ``score_pairs(x, y, index)`` of the drawn negatives (these two may be ``None`` when
    ``neg_samples`` resolves to every other sample)."""
    n = x.shape[0]
    m = resolve_neg_samples(neg_samples, n)
    if m == n - 1:
        matrix = score_matrix(x, y)
        return float32_scores(matrix.diagonal(dim1=-2, dim2=-1), off_diagonal(matrix))
    shifts = torch.randperm(n - 1, device=x.device)[:m] + 1
    index = (torch.arange(n, device=x.device).unsqueeze(1) + shifts) % n
    return float32_scores(score_positive(x, y), score_pairs(x, y, index))
