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

__all__ = ["plugin_mi", "SPARSE_CELLS_PER_SAMPLE"]

SPARSE_CELLS_PER_SAMPLE = 0.2
"""Above this many occupied cells per sample the correction is first order only: a warning says so."""


def _indices(codes: Tensor, name: str) -> Tensor:
    if codes.dim() == 2 and codes.shape[1] == 1:
        codes = codes[:, 0]
    if codes.dim() != 1 or codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
        raise ValueError(f"{name} must be [N] integer codes, got {codes.dtype} of shape {tuple(codes.shape)}")
    return torch.unique(codes.cpu(), return_inverse=True)[1]


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
    if k_xy > SPARSE_CELLS_PER_SAMPLE * n:
        messages.append(
            f"the plug-in estimate rests on {k_xy} occupied cells for {n} samples: most cells are seen a few times, "
            "so its bias correction (Miller-Madow) is only first order and the estimate may be biased beyond its "
            "error bar; more samples, or fewer distinct values, make it reliable"
        )
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return MIEstimate(
        estimate,
        standard_error=standard_error,
        interval=normal_interval(estimate, standard_error, confidence),
        confidence=confidence,
        bound=None,
        n_test=n,
        estimator_name="plug-in",
        warnings=messages,
    )
