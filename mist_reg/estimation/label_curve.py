r"""The learning-curve extrapolation of :func:`mist_reg.estimation.label_estimate.label_mi`:
from a classifier's held-out values ``I(m)`` at three training sizes ``m1 < m2 < m3``, the
value at infinitely many training rows (:func:`curve_weight`, :func:`extrapolate_values`).

The held-out value ``I(m) = H(Y) - CE(q_m)`` falls short of ``I(X; Y)`` by the classifier's
excess risk ``E_x KL(p(y | x) || q_m(y | x))``. A classifier fitted on ``m`` rows carries
parameter noise of variance proportional to ``1 / m``; its excess risk is about ``a / m`` once
that noise is small against the separation of the classes (the parametric rate: half the
number of effective parameters over ``m``), and it saturates (it cannot exceed ``I`` itself)
while the noise swamps the signal, e.g. class means of 30 rows each in 256 dimensions. The
hyperbola ``I(m) = I_inf - a / (m + c)`` has both regimes, with ``c`` the size where the one
gives way to the other, and three sizes determine it:

* ``r = (I(m3) - I(m2)) / (I(m2) - I(m1))`` gives ``c``, which is clamped to ``[0, m3 / 2]``:
  ``c < 0`` would be a gap closing faster than ``1 / m``, which a parametric fit does not
  do, so the slowest-to-close reading consistent with the curve, ``c = 0``, is used; and at
  ``c > m3 / 2`` (with doubling sizes: a second step at least as large as the first) the
  largest size has not reached the ``1 / m`` regime and the three points do not pin the
  asymptote down: it is flagged, and ``label_mi`` then reports the held-out value, since a
  curve still steepening is as likely the start of an S (a classifier finding a few
  informative columns among many) as a hyperbola's saturated end;
* ``I_inf = I(m3) + w (I(m3) - I(m2))`` with ``w = (m2 + c) / (m3 - m2)``: with doubling sizes
  and ``c = 0`` this is Richardson's ``2 I(m3) - I(m2)``;
* the steps are differences of means over the same test rows, so their standard errors are
  those of the per-sample differences; a last step that is not above twice its standard
  error (nothing left to learn that the test rows can show) gets ``w = 0``, the value at
  ``m3`` as it is, and a first step that is not above twice its own has no curvature to read,
  so ``c = 0`` is taken (Richardson's step). The test keeps noise in a flat curve from being
  extrapolated as a trend: on a nearly separable task with 1,600 training rows, two flat
  steps of noise read as ``r > 2``, the largest ``c``. The standard errors are those of the
  test rows only; the fits' own randomness (a hyperparameter chosen differently at two sizes)
  is not in them, which is why a curvature is read only from two clearly rising steps;
* the curvature ``r`` itself is read at its lower confidence limit, ``STEP_Z`` standard errors
  below the ratio of the two steps (the delta method on both): ``w`` grows with ``r``
  faster than linearly, so a ratio of two noisy steps taken as it stands raises the
  extrapolation on average and, in its tail, far above the truth; where the steps pin the
  curvature down (many classes, few rows per class) the limit is close to ``r``.

Because the weights are fixed numbers, ``I_inf`` is the mean of the per-sample combination
``u_i = (1 + w) v_i(m3) - w v_i(m2)`` over the test rows (the same rows at every size), and
its standard error is that of ``u``. It is not a bound: the extrapolation can overshoot where
the gap closes faster than ``1 / m``.

Example:
    >>> w, c, clamped = curve_weight([1000.0, 2000.0, 4000.0], [1.0, 1.5, 1.75])  # a gap of 1000 / m
    >>> round(w, 6), round(c, 6) + 0.0, clamped  # so I_inf = 1.75 + 1.0 * 0.25 = 2.0
    (1.0, 0.0, False)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

__all__ = ["curve_weight", "extrapolate_values", "CURVE_FRACTIONS", "STEP_Z"]

CURVE_FRACTIONS = (0.25, 0.5, 1.0)
"""The training sizes of the curve, as fractions of the training rows: doublings, so that the
two steps measure how fast the gap closes over a factor of four."""

_MAX_C = 0.5  # c <= _MAX_C * m3
STEP_Z = 2.0
"""A step of the curve counts when it is above this many standard errors."""


def curve_weight(
    sizes: Sequence[float], values: Sequence[float], step_errors: Sequence[float] = (0.0, 0.0)
) -> tuple[float, float, bool]:
    r"""The weight ``w`` of the last step in ``I_inf = I(m3) + w (I(m3) - I(m2))`` under the
    hyperbola ``I(m) = I_inf - a / (m + c)`` through three points (see the module docstring).

    Arguments:
        sizes: ``(m1, m2, m3)``, increasing training sizes.
        values: ``(I(m1), I(m2), I(m3))``, the held-out values at those sizes.
        step_errors: The standard errors of ``I(m2) - I(m1)`` and ``I(m3) - I(m2)``.

    Returns:
        ``(w, c, clamped)``: the weight, the fitted ``c`` (after clamping), and whether ``c``
        was clamped at its upper end (the curve is still far from its asymptote).

    Example:
        >>> curve_weight([1000.0, 2000.0, 4000.0], [1.0, 1.2, 1.1])  # falls at the end: no correction
        (0.0, 0.0, False)
    """
    (m1, m2, m3), (v1, v2, v3) = [float(s) for s in sizes], [float(v) for v in values]
    if not m1 < m2 < m3:
        raise ValueError(f"sizes must increase, got {tuple(sizes)}")
    d1, d2 = v2 - v1, v3 - v2
    if d2 <= max(STEP_Z * step_errors[1], 0.0):
        return 0.0, 0.0, False
    c, clamped = 0.0, False
    if d1 > STEP_Z * step_errors[0]:
        r = d2 / d1
        # the curvature at its lower confidence limit: w grows with r, faster than linearly,
        # so a noisy r read as it stands would push the extrapolation up, and far up in its tail
        r -= STEP_Z * r * math.hypot(step_errors[1] / d2, step_errors[0] / d1)
        denominator = r * (m2 - m1) - (m3 - m2)
        numerator = (m3 - m2) * m1 - r * (m2 - m1) * m3
        # r grows with c toward (m3 - m2) / (m2 - m1): at or beyond it, c is unbounded
        c = numerator / denominator if denominator < 0 else float("inf")
        clamped = c > _MAX_C * m3
        c = min(max(c, 0.0), _MAX_C * m3)
    return (m2 + c) / (m3 - m2), c, clamped


def extrapolate_values(values_m2: Tensor, values_m3: Tensor, weight: float) -> Tensor:
    r"""The per-sample values ``(1 + w) v(m3) - w v(m2)`` whose mean is the extrapolated estimate.

    Example:
        >>> import torch
        >>> extrapolate_values(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 2.0]), 1.0)
        tensor([3., 2.])
    """
    return (1 + weight) * values_m3 - weight * values_m2
