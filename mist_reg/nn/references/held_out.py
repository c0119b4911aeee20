r"""How a closed-form reference chooses its own settings: the Donsker-Varadhan bound of a
candidate, fitted on one half of the training samples and scored on the other.

A critic's DV bound is below the MI whatever the model, so choosing among candidate
models by it cannot invent dependence. :func:`shifted_dv_bound` scores the positives and
``shifts`` shifted pairings ``(x_i, y_{i+s})`` as negatives; :func:`two_fold_halves` is the
fixed split both ways round. The Student-t copula chooses its degrees of freedom this way
(:mod:`~mist_reg.nn.references.student_t`), the Gaussian mixture its number of components
(:mod:`~mist_reg.nn.references.mixture`).

Example:
    >>> import torch
    >>> from mist_reg.nn.references.gaussian import GaussianLogRatio
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(2000, 1); y = x + torch.randn(2000, 1)  # I = log(2) / 2 = 0.35 nats
    >>> reference = GaussianLogRatio(1, 1)
    >>> reference.fit_data(x[:1000], y[:1000])
    >>> abs(shifted_dv_bound(reference, x[1000:], y[1000:]) - 0.347) < 0.1
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
from torch import Tensor

T = TypeVar("T")

__all__ = [
    "shifted_dv_bound",
    "shifted_index",
    "two_fold_halves",
    "best_in_order",
    "NEGATIVE_SHIFTS",
    "SEARCH_PATIENCE",
]

NEGATIVE_SHIFTS = 64
r"""Negative pairs per sample in the held-out DV bound of a reference's choices."""

SEARCH_PATIENCE = 2
r"""Candidates in a row without a better held-out bound after which :func:`best_in_order` stops."""

PairScores = Callable[[Tensor, Tensor, Tensor | None], Tensor]


def shifted_index(n: int, shifts: int = NEGATIVE_SHIFTS, device: torch.device | None = None) -> Tensor:
    r"""``[n, min(shifts, n - 1)]``: row ``i`` pairs with ``i + 1, ..., i + shifts`` (mod ``n``).

    Example:
        >>> shifted_index(3, 2).tolist()
        [[1, 2], [2, 0], [0, 1]]
    """
    offsets = torch.arange(1, min(shifts, n - 1) + 1, device=device)
    return (torch.arange(n, device=device)[:, None] + offsets[None, :]) % n


def _critic_scores(critic: torch.nn.Module) -> PairScores:
    return lambda x, y, index: critic(x, y) if index is None else critic.score_pairs(x, y, index)


def shifted_dv_bound(
    critic: torch.nn.Module | PairScores, x: Tensor, y: Tensor, shifts: int = NEGATIVE_SHIFTS
) -> float:
    r"""The DV bound ``mean_i f(x_i, y_i) - log mean_{i, s} exp f(x_i, y_{i+s})``.

    Arguments:
        critic: A :class:`~mist_reg.nn.critic.Critic`, or a function ``scores(x, y, index)``
            giving paired scores when ``index`` is ``None`` and the ``[N, K]`` scores of
            ``(x_i, y_index[i, k])`` otherwise.
        x: Held-out samples ``[N, x_dim]``.
        y: Paired samples ``[N, y_dim]``.
        shifts: Negatives per sample.

    Returns:
        The bound in nats.
    """
    scores = critic if not isinstance(critic, torch.nn.Module) else _critic_scores(critic)
    positive = scores(x, y, None).mean()
    negative = scores(x, y, shifted_index(len(x), shifts, x.device)).flatten()
    return float(positive - (torch.logsumexp(negative, 0) - math.log(len(negative))))


def two_fold_halves(n: int, device: torch.device | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
    r"""A fixed random split of ``n`` samples into two halves (the same for every candidate).

    Example:
        >>> a, b = two_fold_halves(5)
        >>> sorted(a.tolist() + b.tolist()), len(a)
        ([0, 1, 2, 3, 4], 2)
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(device)
    return order[: n // 2], order[n // 2 :]


def best_in_order(candidates: Sequence[T], bound: Callable[[T], float], patience: int = SEARCH_PATIENCE) -> T:
    r"""The candidate with the highest ``bound``, trying them in the order given (simplest
    model first) and stopping after ``patience`` in a row that do not beat the best so far.

    A held-out bound along a family ordered from the simplest model rises while the models
    come closer to the data and falls once they fit noise (or move away from it), so the
    first fall that lasts ``patience`` candidates ends the search; the candidates after it
    would cost fits and, being further along, are not expected to win.

    Example:
        >>> tried = []
        >>> best_in_order([1, 2, 3, 4, 5, 6], lambda k: tried.append(k) or -abs(k - 2))
        2
        >>> tried  # 3 and 4 did not beat 2: 5 and 6 were not fitted
        [1, 2, 3, 4]
    """
    best, best_bound, worse = candidates[0], -math.inf, 0
    for candidate in candidates:
        value = bound(candidate)
        if value > best_bound:
            best, best_bound, worse = candidate, value, 0
        else:
            worse += 1
            if worse >= patience:
                break
    return best
