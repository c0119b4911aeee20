r"""Evaluating any density ``q`` on samples: aligned pairs, all pairs and chosen pairs.

A conditional density is any callable ``q(context) -> torch.distributions.Distribution``
(the modules of this package, zuko flows, or a plain function); a marginal or joint one is
called without arguments. Values are formatted for the distribution by :func:`as_value`:
a scalar-event distribution (a categorical) receives ``[N]`` class indices, as ``long``
when its support is discrete.

All-pairs evaluation, ``log q(y_j | x_i)`` for ``N x M`` pairs, is done over chunks of rows
of at most ``max_pairs`` pairs, each recomputed in the backward pass (activation
checkpointing) when gradients are needed: the peak memory is that of the ``[N, M]``
result plus the activations of ``max_pairs`` evaluations of ``q``, whatever ``N``.

A density whose ``pairs_in_closed_form`` is true (a model fitted to a batch, such as the
kernel classifier of :class:`~mist_reg.distributions.BatchKernel`) evaluates all pairs
with its own ``pairwise_log_prob(x, y)``. Densities whose class sets ``broadcasts_context = True`` (those of this package) are
evaluated once per row and broadcast over the ``M`` values; any other callable receives
the context expanded to every pair, which is what zuko flows need.

Example:
    >>> import torch
    >>> from torch.distributions import Independent, Normal
    >>> q = lambda x: Independent(Normal(x, torch.ones_like(x)), 1)
    >>> x, y = torch.randn(5, 2), torch.randn(7, 2)
    >>> pairwise_log_prob(q, x, y).shape
    torch.Size([5, 7])
    >>> bool(torch.allclose(pairwise_log_prob(q, x, y, max_pairs=3), pairwise_log_prob(q, x, y)))
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Distribution
from torch.utils.checkpoint import checkpoint

__all__ = [
    "ConditionalDensity",
    "DEFAULT_MAX_PAIRS",
    "as_value",
    "is_discrete",
    "log_prob",
    "marginal_log_prob",
    "pairwise_log_prob",
    "indexed_log_prob",
]

ConditionalDensity = Callable[[Tensor], Distribution]

DEFAULT_MAX_PAIRS = 1 << 16
r"""Pairs evaluated at once by :func:`pairwise_log_prob` and :func:`indexed_log_prob`."""


def is_discrete(dist: Distribution) -> bool:
    r"""Whether ``dist`` has a discrete support (``False`` when the support is unknown).

    Arguments:
        dist: Any distribution.

    Example:
        >>> from torch.distributions import Categorical, Normal
        >>> is_discrete(Categorical(logits=torch.zeros(4))), is_discrete(Normal(0.0, 1.0))
        (True, False)
    """
    try:
        support = dist.support
    except NotImplementedError:
        return False
    return bool(getattr(support, "is_discrete", False))


def as_value(dist: Distribution, y: Tensor) -> Tensor:
    r"""``y`` in the layout ``dist.log_prob`` expects: for scalar-event distributions the
    trailing size-1 feature axis of an ``[N, 1]`` (or ``[B, K, 1]``) ``y`` is dropped, and
    discrete values become ``long``.

    Arguments:
        dist: The distribution ``y`` is evaluated under.
        y: Values, ``[N, d]``, ``[N]`` or ``[B, K, ...]``.

    Returns:
        ``y`` reshaped (and cast) for ``dist.log_prob``.

    Raises:
        ValueError: When a discrete ``dist`` is given non-integral values.

    Example:
        >>> from torch.distributions import Categorical
        >>> as_value(Categorical(logits=torch.zeros(3, 4)), torch.tensor([[1.0], [0.0], [3.0]]))
        tensor([1, 0, 3])
    """
    if len(dist.event_shape) == 0 and y.dim() >= 2 and y.shape[-1] == 1:
        y = y.squeeze(-1)
    if is_discrete(dist) and y.is_floating_point():
        rounded = y.round()
        if not torch.equal(rounded, y):
            fractional = y[rounded != y].flatten()[0]
            raise ValueError(
                f"a discrete q(y | x) needs class indices, but y holds the non-integral value {float(fractional):g}; "
                "pass the attribute as an integer tensor, or use a density for continuous y"
            )
        y = rounded.long()
    return y


def log_prob(q: ConditionalDensity, x: Tensor, y: Tensor) -> Tensor:
    r"""``log q(y_i | x_i)`` of aligned pairs.

    Arguments:
        q: A conditional density: ``q(context)`` returns a :class:`~torch.distributions.Distribution`.
        x: ``[N, x_dim]`` contexts.
        y: ``[N, y_dim]`` (or ``[N]``) values.

    Returns:
        ``[N]`` log-densities.

    Example:
        >>> from torch.distributions import Independent, Normal
        >>> q = lambda x: Independent(Normal(x, torch.ones_like(x)), 1)
        >>> log_prob(q, torch.zeros(3, 2), torch.zeros(3, 2)).shape
        torch.Size([3])
    """
    dist = q(x)
    return dist.log_prob(as_value(dist, y))


def marginal_log_prob(q: Callable[[], Distribution], z: Tensor) -> Tensor:
    r"""``log q(z_i)`` for an unconditional density ``q`` (called without arguments).

    Arguments:
        q: A marginal density: ``q()`` returns a :class:`~torch.distributions.Distribution`.
        z: ``[N, d]`` values.

    Returns:
        ``[N]`` log-densities.

    Example:
        >>> from torch.distributions import Independent, Normal
        >>> q = lambda: Independent(Normal(torch.zeros(2), torch.ones(2)), 1)
        >>> round(float(marginal_log_prob(q, torch.zeros(1, 2))[0]), 4)  # -log(2 pi)
        -1.8379
    """
    dist = q()
    return dist.log_prob(as_value(dist, z))


def _pairs(q: ConditionalDensity, x: Tensor, y: Tensor) -> Tensor:
    """``log q(y[i, k] | x_i)`` for ``x: [B, dx]`` and ``y: [B, K, ...]``: ``[B, K]``."""
    if getattr(q, "broadcasts_context", False):
        dist = q(x.unsqueeze(1))
        return dist.log_prob(as_value(dist, y))
    k = y.shape[1]
    dist = q(x.unsqueeze(1).expand(-1, k, -1))
    return dist.log_prob(as_value(dist, y))


def _rows(n_rows: int, n_per_row: int, max_pairs: int) -> int:
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be positive, got {max_pairs}")
    return max(1, min(n_rows, max_pairs // max(1, n_per_row)))


def _chunked(fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor, rows: int) -> Tensor:
    if rows >= x.shape[0]:
        return fn(x, y)
    recompute = torch.is_grad_enabled()
    parts = []
    for start in range(0, x.shape[0], rows):
        xs, ys = x[start : start + rows], y[start : start + rows]
        parts.append(checkpoint(fn, xs, ys, use_reentrant=False) if recompute else fn(xs, ys))
    return torch.cat(parts)


def pairwise_log_prob(q: ConditionalDensity, x: Tensor, y: Tensor, max_pairs: int = DEFAULT_MAX_PAIRS) -> Tensor:
    r"""``log q(y_j | x_i)`` for every pair: ``[N, M]`` from ``x: [N, x_dim]``, ``y: [M, ...]``.

    Memory: the ``[N, M]`` result plus the activations of at most ``max_pairs`` pairs
    (rows are evaluated in chunks, recomputed in backward when gradients are on).

    Arguments:
        q: A conditional density: ``q(context)`` returns a :class:`~torch.distributions.Distribution`.
        x: ``[N, x_dim]`` contexts.
        y: ``[M, ...]`` values.
        max_pairs: The most pairs evaluated at once.

    Returns:
        ``[N, M]``: entry ``[i, j]`` is ``log q(y_j | x_i)``.

    Raises:
        ValueError: When ``max_pairs`` is not positive.

    Example:
        >>> from torch.distributions import Independent, Normal
        >>> q = lambda x: Independent(Normal(x, torch.ones_like(x)), 1)
        >>> pairwise_log_prob(q, torch.zeros(3, 2), torch.zeros(5, 2), max_pairs=4).shape
        torch.Size([3, 5])
    """
    if getattr(q, "pairs_in_closed_form", False):  # a model fitted to a batch that evaluates all pairs itself
        return q.pairwise_log_prob(x, y)
    m = y.shape[0]
    rows = _rows(x.shape[0], m, max_pairs)
    return _chunked(lambda xs, ys: _pairs(q, xs, ys), x, y.unsqueeze(0).expand(x.shape[0], *y.shape), rows)


def indexed_log_prob(
    q: ConditionalDensity, x: Tensor, y: Tensor, index: Tensor, max_pairs: int = DEFAULT_MAX_PAIRS
) -> Tensor:
    r"""``log q(y_{index[i, k]} | x_i)``: chosen pairs, ``K`` per row.

    Arguments:
        q: A conditional density: ``q(context)`` returns a :class:`~torch.distributions.Distribution`.
        x: ``[N, x_dim]`` contexts.
        y: ``[M, ...]`` values.
        index: ``[N, K]`` integer indices into ``y``.
        max_pairs: The most pairs evaluated at once.

    Returns:
        ``[N, K]`` log-densities.

    Example:
        >>> from torch.distributions import Independent, Normal
        >>> q = lambda x: Independent(Normal(x, torch.ones_like(x)), 1)
        >>> x, y = torch.randn(3, 2), torch.randn(5, 2)
        >>> index = torch.tensor([[0, 4], [1, 1], [2, 3]])
        >>> bool(torch.allclose(indexed_log_prob(q, x, y, index), pairwise_log_prob(q, x, y).gather(1, index)))
        True
    """
    rows = _rows(x.shape[0], index.shape[1], max_pairs)
    return _chunked(lambda xs, ys: _pairs(q, xs, ys), x, y[index], rows)
