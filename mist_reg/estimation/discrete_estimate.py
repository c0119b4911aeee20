r"""Mutual information between two discrete variables from their counts: :func:`plugin_mi`.

With ``n_xy``, ``n_x``, ``n_y`` the counts of a pair, of its ``x`` value and of its ``y`` value
among ``N`` samples, the plug-in estimate is the mean of the per-sample values
``v_i = log(N n_xy / (n_x n_y))``. Its bias is first order in the number of occupied cells:
each entropy is low by about ``(K - 1) / (2N)`` (``K`` occupied values), so
``I = H(X) + H(Y) - H(X, Y)`` is high by about ``(K_xy - K_x - K_y + 1) / (2N)``, which the
Miller-Madow correction subtracts. The standard error adds two terms in quadrature: the
spread of the ``v_i`` (the delta method, which dominates when the MI is large) and the
chi-square fluctuation of the plug-in, ``sqrt(2 df) / (2N)`` with ``df = (K_x - 1)(K_y - 1)``
(which dominates near independence, where the first vanishes).

**Sparse tables.** With many occupied cells per sample, or many cells seen once (their
share estimates the probability of the cells no sample fell in), the expansion behind the
correction fails and the plug-in stays high by more than its error bar (measured in
``docs/benchmarks.md``, "Sparse discrete tables"). The counts then cannot place the MI more
precisely than between a held-out bound and the plug-in, so the interval reaches down to
:func:`held_out_table_bound` (less its own error bar): the leave-one-out
cross-entropy of ``q(y)`` minus that of a smoothed table ``q(y | x)``, a lower bound on
``I`` in expectation (a held-out cross-entropy is never below the entropy it estimates),
closed form from the counts.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randint(0, 4, (4000,), generator=g)
    >>> y = (x + torch.randint(0, 2, (4000,), generator=g)) % 4  # I = log 4 - log 2
    >>> mi = plugin_mi(x, y)
    >>> mi.estimator_name, abs(float(mi) - 0.6931) < 3 * mi.standard_error
    ('plug-in', True)
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from mist_reg.estimation.result import MIEstimate, normal_interval

__all__ = ["plugin_mi", "held_out_table_bound", "SPARSE_CELLS_PER_SAMPLE", "UNSEEN_MASS"]

SPARSE_CELLS_PER_SAMPLE = 0.2
"""Above this many occupied cells per sample the correction is first order only: a warning
says so, and the interval reaches down to :func:`held_out_table_bound`."""

UNSEEN_MASS = 0.05
"""Above this Good-Turing estimate of the probability of the cells no sample fell in (the
fraction of samples alone in their cell), the correction, which counts occupied cells only,
falls short: the same warning and interval as for many occupied cells."""

_ADDITIVE = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # pseudo-counts towards q(y)
_DISCOUNTS = (0.2, 0.4, 0.6, 0.75, 0.9)  # counts taken off every seen cell and spread as q(y)


def _indices(codes: Tensor, name: str) -> Tensor:
    if codes.dim() == 2 and codes.shape[1] == 1:
        codes = codes[:, 0]
    if codes.dim() != 1 or codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
        raise ValueError(f"{name} must be [N] integer codes, got {codes.dtype} of shape {tuple(codes.shape)}")
    return torch.unique(codes.cpu(), return_inverse=True)[1]


def held_out_table_bound(x: Tensor, y: Tensor) -> tuple[float, float]:
    r"""``CE(q(y)) - CE(q(y | x))`` in nats, both cross-entropies leave-one-out over the samples,
    in the direction (``y`` given ``x`` or ``x`` given ``y``) where it is higher, and its
    standard error (the spread of the per-sample differences over ``sqrt(N)``).

    ``q(y)`` is the table of the other ``N - 1`` samples with half a count added to every
    value. ``q(y | x)`` backs off to it in one of two ways, whichever has the lower
    leave-one-out cross-entropy: ``(n_xy + a q(y)) / (n_x + a)`` (pseudo-counts) or
    ``(max(n_xy - d, 0) + d k_x q(y)) / n_x`` (a discount ``d`` off each of the ``k_x``
    values seen with ``x``), ``a`` and ``d`` from a short grid. A cross-entropy on samples a
    model was not fitted on is never below the entropy it estimates in expectation, so the
    difference is a lower bound on ``I`` up to the marginal's small cost and the choice among
    fourteen smoothings in two directions.

    Arguments:
        x: ``[N]`` (or ``[N, 1]``) integer codes (any values; only equality matters).
        y: ``[N]`` integer codes, paired row by row with ``x``.

    Raises:
        ValueError: For float codes or unpaired lengths.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randint(0, 100, (5000,), generator=g)
        >>> kept = torch.rand(5000, generator=g) < 0.5
        >>> y = torch.where(kept, x, torch.randint(0, 100, (5000,), generator=g))  # I = 1.637 nats
        >>> bound, standard_error = held_out_table_bound(x, y)
        >>> 1.4 < bound < 1.637, standard_error < 0.05
        (True, True)
    """
    x, y = _indices(x, "x"), _indices(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must pair row by row, got {x.shape[0]} and {y.shape[0]} samples")
    return max(_conditional_bound(x, y), _conditional_bound(y, x))


def _conditional_bound(x: Tensor, y: Tensor) -> tuple[float, float]:
    n, k_x, k_y = x.shape[0], int(x.max()) + 1, int(y.max()) + 1
    cells, cell, n_xy = torch.unique(x * k_y + y, return_inverse=True, return_counts=True)
    n_x, n_y = torch.bincount(x, minlength=k_x).double(), torch.bincount(y, minlength=k_y).double()
    seen = torch.bincount(torch.div(cells, k_y, rounding_mode="floor"), minlength=k_x).double()  # values with x
    q_y = (n_y[y] - 1 + 0.5) / (n - 1 + 0.5 * k_y)  # leave-one-out, half a count on every value
    other, rest = n_xy[cell].double() - 1, n_x[x] - 1  # the sample's cell and its x, without it
    seen_without = seen[x] - (other == 0).double()
    candidates = [(other + a * q_y) / (rest + a) for a in _ADDITIVE]
    alone = rest == 0  # the only sample of its x: the table has nothing but q(y)
    for d in _DISCOUNTS:
        q = ((other - d).clamp_min(0) + d * seen_without * q_y) / rest.clamp_min(1)
        candidates.append(torch.where(alone, q_y, q))
    best = max((q.clamp_min(1e-300).log() - q_y.log() for q in candidates), key=lambda terms: float(terms.mean()))
    return float(best.mean()), float(best.std()) / math.sqrt(n)


def plugin_mi(x: Tensor, y: Tensor, confidence: float = 0.95) -> MIEstimate:
    r"""The Miller-Madow-corrected plug-in estimate of ``I(X; Y)`` in nats, with its error bar.

    Arguments:
        x: ``[N]`` (or ``[N, 1]``) integer codes of x (any values; only equality matters).
        y: ``[N]`` integer codes of y, paired row by row with ``x``.
        confidence: The level of the interval, in ``(0, 1)``.

    Returns:
        An :class:`~mist_reg.estimation.result.MIEstimate` with ``estimator_name="plug-in"``,
        ``bound=None`` and ``n_test = N`` (every sample enters; nothing is trained). With
        many occupied cells per sample a warning says that the correction is first order.

    Raises:
        ValueError: For float codes, fewer than 2 samples or unpaired lengths.

    Example:
        >>> import torch
        >>> codes = torch.arange(1000) % 5
        >>> mi = plugin_mi(codes, codes)  # I(X; X) = H(X) = log 5, plus Miller-Madow's (K - 1) / 2N
        >>> round(float(mi), 4), round(math.log(5) + 4 / 2000, 4)
        (1.6114, 1.6114)
    """
    x, y = _indices(x, "x"), _indices(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must pair row by row, got {x.shape[0]} and {y.shape[0]} samples")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"the plug-in estimate needs at least 2 samples, got {n}")
    k_x, k_y = int(x.max()) + 1, int(y.max()) + 1
    joint = x * k_y + y
    _, joint_index, n_xy = torch.unique(joint, return_inverse=True, return_counts=True)
    n_x, n_y = torch.bincount(x, minlength=k_x), torch.bincount(y, minlength=k_y)
    values = (
        math.log(n) + n_xy[joint_index].double().log() - n_x[x].double().log() - n_y[y].double().log()
    )  # [N] per-sample log-ratios; their mean is the plug-in estimate
    k_xy = n_xy.numel()
    correction = (k_xy - k_x - k_y + 1) / (2 * n)
    estimate = float(values.mean()) - correction
    df = (k_x - 1) * (k_y - 1)
    standard_error = math.sqrt(float(values.var(correction=1)) / n + 2 * df / (2 * n) ** 2)
    messages = []
    interval = normal_interval(estimate, standard_error, confidence)
    singletons = int((n_xy == 1).sum())
    if k_xy > SPARSE_CELLS_PER_SAMPLE * n or singletons > UNSEEN_MASS * n:
        bound, bound_error = held_out_table_bound(x, y)
        interval = (min(interval[0], normal_interval(bound, bound_error, confidence)[0]), interval[1])
        messages.append(
            f"the plug-in estimate rests on {k_xy} occupied cells for {n} samples, {singletons} of them seen once: "
            "its bias correction (Miller-Madow) is only first order there and the estimate may be high beyond its "
            f"error bar; the interval reaches down to a held-out bound of the counts, {bound:.3f} nats (more "
            "samples, or fewer distinct values, narrow it)"
        )
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return MIEstimate(
        estimate,
        standard_error=standard_error,
        interval=interval,
        confidence=confidence,
        bound=None,
        n_test=n,
        estimator_name="plug-in",
        warnings=messages,
    )
