r"""A bounded parametrisation of log-variances, shared by every Gaussian density.

Why a bound: a Gaussian fitted by maximum likelihood lowers its variance wherever the
residuals of a batch happen to be small. Left free, a log-variance head can run towards
``-inf`` (the log-density and its gradient ``(y - mu)^2 / sigma^2`` then explode) or
towards ``+inf`` (the head stops learning the mean). CLUB, which evaluates ``q(y_j | x_i)``
on mismatched pairs, is hit first: one collapsed variance turns its negative term into
``-inf``. A hard ``clamp`` stops this but kills the gradient outside the range, and a
``tanh`` rescaling flattens it near both ends; :func:`bounded_log_variance` is instead a
double softplus, which is the identity in the interior and bends smoothly onto
``(min_log_var, max_log_var)``, so the gradient never vanishes abruptly.

Example:
    >>> import torch
    >>> raw = torch.tensor([-100.0, 0.5, 100.0])
    >>> bounded_log_variance(raw, -20.0, 20.0)
    tensor([-20.0000,   0.5000,  20.0000])
    >>> raw_log_variance(bounded_log_variance(torch.tensor([1.5]), -5.0, 5.0), -5.0, 5.0)
    tensor([1.5000])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DEFAULT_MIN_LOG_VAR",
    "DEFAULT_MAX_LOG_VAR",
    "bounded_log_variance",
    "raw_log_variance",
    "check_log_var_range",
]

DEFAULT_MIN_LOG_VAR = -10.0
r"""Smallest log-variance by default: a standard deviation of about ``0.0067``, which on
standardised data caps the log-density at about ``5 + 0.92`` nats per coordinate."""

DEFAULT_MAX_LOG_VAR = 6.0
r"""Largest log-variance by default: a standard deviation of about 20."""


def check_log_var_range(min_log_var: float, max_log_var: float) -> None:
    r"""Raises ``ValueError`` unless ``min_log_var < max_log_var`` are finite."""
    if not (float("-inf") < min_log_var < max_log_var < float("inf")):
        raise ValueError(f"need finite min_log_var < max_log_var, got {min_log_var} and {max_log_var}")


def _top(min_log_var: float, max_log_var: float) -> float:
    # the inner upper bend, placed so that the outer softplus lands exactly on max_log_var
    return min_log_var + math.log(math.expm1(max_log_var - min_log_var))


def bounded_log_variance(raw: Tensor, min_log_var: float, max_log_var: float) -> Tensor:
    r"""Maps an unconstrained ``raw`` value into ``(min_log_var, max_log_var)``.

    ``v = top - softplus(top - raw)`` then ``min + softplus(v - min)``, with ``top`` chosen
    so that the supremum is exactly ``max_log_var``: the identity away from the bounds (up
    to ``exp(-distance)``), smooth and strictly increasing everywhere.
    """
    top = _top(min_log_var, max_log_var)
    upper = top - F.softplus(top - raw)
    return min_log_var + F.softplus(upper - min_log_var)


def raw_log_variance(log_var: Tensor, min_log_var: float, max_log_var: float) -> Tensor:
    r"""The inverse of :func:`bounded_log_variance` (``log_var`` is first moved inside the
    open interval), used to initialise a density at given variances."""
    eps = 1e-4 * (max_log_var - min_log_var)
    log_var = log_var.clamp(min_log_var + eps, max_log_var - eps)
    top = _top(min_log_var, max_log_var)
    upper = min_log_var + torch.log(torch.expm1(log_var - min_log_var))
    return top - torch.log(torch.expm1(top - upper))
