r"""The upper bounds that contrast ``q(y_i | x_i)`` with the other rows of the batch:
:class:`L1OUT` and :class:`CLUB`, with their registered factories.

Example:
    >>> import torch
    >>> estimator = club(x_dim=2, y_dim=2, hidden_dims=[16], neg_samples=8)
    >>> x = torch.randn(64, 2); y = x + 0.5 * torch.randn(64, 2)
    >>> estimator(x, y).backward()  # fits q on the batch
    >>> estimator.mutual_information(x, y).shape, estimator.bound
    (torch.Size([]), 'upper')
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from mist_reg.distributions.conditional_gaussian import Covariance
from mist_reg.distributions.flows import FlowKind
from mist_reg.distributions.log_density import (
    DEFAULT_MAX_PAIRS,
    ConditionalDensity,
    indexed_log_prob,
    log_prob,
    pairwise_log_prob,
)
from mist_reg.estimators.generative import ConditionalKind, GenerativeEstimator, conditional
from mist_reg.estimators.negatives import resolve_neg_samples
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional.bounds import BoundTerms

__all__ = ["L1OUT", "CLUB", "l1out", "club"]


class L1OUT(GenerativeEstimator):
    r"""Leave-one-out upper bound (Poole et al., 2019; variational form of Cheng et al., 2020):
    ``I <= E_i[log q(y_i | x_i) - log (1 / (N - 1)) sum_{j != i} q(y_i | x_j)]``.

    The mixture of the other rows' conditionals stands in for ``p(y)``. Needs all ``N x N``
    log-densities ``log q(y_j | x_i)``: they are computed in chunks of at most ``max_pairs``
    pairs (recomputed in backward when gradients are on), so memory is ``N^2`` floats for
    the matrix plus the activations of ``max_pairs`` evaluations of ``q``, whatever ``q``
    is (for ``N = 4096`` and the default: a 64 MiB matrix and 65536 flow evaluations).

    Arguments:
        q_y_given_x: The conditional density ``q(y | x)``.
        max_pairs: The number of pairs evaluated at once.
    """

    bound = "upper"
    min_samples = 2

    def __init__(self, q_y_given_x: ConditionalDensity, max_pairs: int = DEFAULT_MAX_PAIRS) -> None:
        super().__init__()
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be positive, got {max_pairs}")
        self.q_y_given_x, self.max_pairs = q_y_given_x, max_pairs

    def fitting_loss(self, x, y):
        return self.conditional_nll(x, y)

    def estimate_terms(self, x, y):
        n = x.shape[0]
        matrix = pairwise_log_prob(self.conditional(x, y), x, y, self.max_pairs)  # [i, j] = log q(y_j | x_i)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        mixture = torch.logsumexp(matrix.masked_fill(eye, -math.inf), dim=0) - math.log(n - 1)
        return BoundTerms(matrix.diagonal() - mixture)

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}, max_pairs={self.max_pairs}"


class CLUB(GenerativeEstimator):
    r"""Contrastive log-ratio upper bound (Cheng et al., 2020):
    ``I <= E_i[log q(y_i | x_i) - E_j log q(y_j | x_i)]``, the second mean over the other
    samples of the batch (``neg_samples = 0``) or over ``M`` of them (the sampled form:
    ``neg_samples = M > 0`` for large batches, ``M < 0`` for ``N + M``).

    ``forward`` fits ``q`` by maximum likelihood on detached inputs; the estimate is
    differentiable w.r.t. ``x`` and ``y``, to be minimised by an encoder. It also carries
    gradients to ``q``'s parameters, which the encoder's optimiser must not step.
    With a categorical ``q`` (discrete ``y``: class indices ``[N]`` or ``[N, 1]``) the
    estimate is differentiable w.r.t. ``x`` only.

    Memory: with ``neg_samples = 0`` the ``N x N`` log-densities are computed like
    :class:`L1OUT` (``N^2`` floats plus ``max_pairs`` evaluations of ``q`` at once); with
    ``M > 0``, ``N x M`` of them.

    Arguments:
        q_y_given_x: The conditional density ``q(y | x)``.
        neg_samples: Negatives per row (see above).
        max_pairs: The number of pairs evaluated at once.
    """

    bound = "upper"
    min_samples = 2

    def __init__(
        self, q_y_given_x: ConditionalDensity, neg_samples: int = 0, max_pairs: int = DEFAULT_MAX_PAIRS
    ) -> None:
        super().__init__()
        if not isinstance(neg_samples, int):
            raise TypeError(f"neg_samples must be an int, got {type(neg_samples).__name__}")
        if max_pairs < 1:
            raise ValueError(f"max_pairs must be positive, got {max_pairs}")
        self.q_y_given_x, self.neg_samples, self.max_pairs = q_y_given_x, neg_samples, max_pairs

    def fitting_loss(self, x, y):
        return self.conditional_nll(x, y)

    def estimate_terms(self, x, y):
        n = x.shape[0]
        m = resolve_neg_samples(self.neg_samples, n)
        q = self.conditional(x, y)
        if m == n - 1:
            matrix = pairwise_log_prob(q, x, y, self.max_pairs)  # [i, j] = log q(y_j | x_i)
            positive = matrix.diagonal()
            negative = (matrix.sum(1) - positive) / (n - 1)
        else:
            shifts = torch.randperm(n - 1, device=x.device)[:m] + 1
            index = (torch.arange(n, device=x.device).unsqueeze(1) + shifts) % n
            positive = log_prob(q, x, y)
            negative = indexed_log_prob(q, x, y, index, self.max_pairs).mean(1)
        return BoundTerms(positive - negative)

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}, neg_samples={self.neg_samples}, max_pairs={self.max_pairs}"


@register_estimator("l1out", L1OUT)
def l1out(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    q: ConditionalKind = "gaussian",
    covariance: Covariance = "diagonal",
    n_classes: int | None = None,
    transforms: int = 3,
    flow: FlowKind = "maf",
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> L1OUT:
    r"""An :class:`~mist_reg.estimators.L1OUT` upper bound with ``q(y | x)`` of kind ``q``.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        q: The kind of ``q(y | x)``: ``"gaussian"`` (the default), ``"categorical"`` (class
            indices ``y``, with ``n_classes``) or ``"flow"`` (a conditional normalising flow,
            needs zuko).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        n_classes: The number of classes of a categorical ``q`` (``y`` then holds class
            indices).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.
        max_pairs: The number of pairs ``(x_i, y_j)`` whose ``log q(y_j | x_i)`` is evaluated
            at once, to bound memory (65,536).

    Example:
        >>> l1out(3, 2, hidden_dims=[8], max_pairs=1024).max_pairs
        1024
    """
    return L1OUT(conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow), max_pairs)


@register_estimator("club", CLUB)
def club(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    neg_samples: int = 0,
    q: ConditionalKind = "gaussian",
    n_classes: int | None = None,
    covariance: Covariance = "diagonal",
    transforms: int = 3,
    flow: FlowKind = "maf",
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> CLUB:
    r"""A :class:`~mist_reg.estimators.CLUB` upper bound with ``q(y | x)`` of kind ``q``
    (``"categorical"`` with ``n_classes`` for class-index ``y``).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        q: The kind of ``q(y | x)``: ``"gaussian"`` (the default), ``"categorical"`` (class
            indices ``y``, with ``n_classes``) or ``"flow"`` (a conditional normalising flow,
            needs zuko).
        n_classes: The number of classes of a categorical ``q`` (``y`` then holds class
            indices).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.
        max_pairs: The number of pairs ``(x_i, y_j)`` whose ``log q(y_j | x_i)`` is evaluated
            at once, to bound memory (65,536).

    Example:
        >>> club(3, 1, hidden_dims=[8], q="categorical", n_classes=4).bound
        'upper'
    """
    q_y_given_x = conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow)
    return CLUB(q_y_given_x, neg_samples, max_pairs)
