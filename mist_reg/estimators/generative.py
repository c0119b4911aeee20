r"""Generative estimators: mutual information from fitted densities.

| Estimator | Estimate on a batch (mean over samples ``i``)          | ``bound`` |
|-----------|--------------------------------------------------------|-----------|
| BA        | ``H(Y) + log q(y_i | x_i)``                            | lower     |
| DoE       | ``log q(y_i | x_i) - log q(y_i)``                      | None      |
| GM        | ``log q(x_i, y_i) - log q(x_i) - log q(y_i)``          | None      |
| L1OUT     | ``log q(y_i | x_i) - log mean_{j != i} q(y_i | x_j)``  | upper     |
| CLUB      | ``log q(y_i | x_i) - mean_{j != i} log q(y_j | x_i)``  | upper     |

Densities are any callables returning a :class:`torch.distributions.Distribution` (see
:mod:`mist_reg.distributions`): ``q(x)`` for ``q(y | x)``, ``q()`` for ``q(y)``, ``q(x)``
and for the joint ``q(x, y)``, evaluated on the concatenation ``[x, y]``.

Two players. ``forward(x, y)`` is the loss that fits the densities: the negative
log-likelihood of the batch, on *detached* inputs, so that fitting ``q`` never moves the
features it is fitted to (with CLUB and L1OUT, an encoder minimises the estimate while
``q`` maximises the likelihood). ``mutual_information(x, y)`` is the estimate,
differentiable w.r.t. ``x`` and ``y`` through the densities (not w.r.t. a discrete
``y``). Because ``forward`` is a likelihood rather than the negative estimate, these
estimators set ``fit_by_likelihood = True``: a validation loop should keep the weights of
the best validation *loss* (an untrained ``q`` gives a CLUB estimate near 0, which is
not a good upper bound).

BA and CLUB/L1OUT are bounds only when ``q`` fits well: the BA bound holds for any ``q``
given the exact ``H(Y)``; the CLUB and L1OUT upper bounds hold when ``q(y | x)`` is close
to ``p(y | x)`` (Cheng et al., 2020).

Example:
    >>> import torch
    >>> from mist_reg.distributions import ConditionalGaussian
    >>> estimator = CLUB(ConditionalGaussian(2, 2, [16]))
    >>> x = torch.randn(64, 2); y = x + 0.5 * torch.randn(64, 2)
    >>> estimator(x, y).backward()  # fits q on the batch
    >>> estimator.mutual_information(x, y).shape, estimator.bound
    (torch.Size([]), 'upper')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution

from mist_reg.checks import check_inputs
from mist_reg.distributions.log_density import (
    DEFAULT_MAX_PAIRS,
    ConditionalDensity,
    indexed_log_prob,
    log_prob,
    marginal_log_prob,
    pairwise_log_prob,
)
from mist_reg.estimators.base import MIEstimator, autocast_disabled
from mist_reg.estimators.discriminative import resolve_neg_samples
from mist_reg.functional.bounds import BoundTerms
from mist_reg.labels import encode_labels

__all__ = [
    "GenerativeEstimator",
    "BA",
    "DoE",
    "GM",
    "L1OUT",
    "CLUB",
    "check_generative_inputs",
]

MarginalDensity = Callable[[], Distribution]


def check_generative_inputs(x: Tensor, y: Tensor, min_samples: int = 1) -> tuple[Tensor, Tensor]:
    r"""Validates a batch and returns it as float32 ``x: [N, x_dim]`` and ``y: [N, y_dim]``.

    The rules of :func:`mist_reg.checks.check_inputs` with ``discrete_y=True``: unlike
    :meth:`MIEstimator.check_inputs`, ``y`` may also hold integers (class indices for a
    categorical ``q(y | x)``, returned as they are), and ``y`` of shape ``[N]`` becomes
    ``[N, 1]``.

    Example:
        >>> x, y = check_generative_inputs(torch.zeros(3, 2), torch.tensor([0, 2, 1]))
        >>> y.shape, y.dtype
        (torch.Size([3, 1]), torch.int64)
    """
    if isinstance(y, Tensor) and y.dim() == 1:
        y = y.unsqueeze(1)
    check_inputs(x, y, min_samples, discrete_y=True)
    return x.float(), (y.float() if y.is_floating_point() else y)


def _initialize(density: object, samples: Tensor) -> None:
    initialize = getattr(density, "initialize", None)
    if callable(initialize):
        initialize(samples)


class GenerativeEstimator(MIEstimator):
    r"""Base class: :meth:`forward` is :meth:`fitting_loss` on detached inputs and
    :meth:`terms` the estimate (see the module documentation)."""

    fit_by_likelihood: ClassVar[bool] = True
    r"""``forward`` is a negative log-likelihood on detached inputs, not the negative
    estimate: ``q`` and an encoder are two players."""

    shares_objective: ClassVar[bool] = False

    min_samples: ClassVar[int] = 1
    r"""The smallest batch the estimate is defined on."""

    def fitting_loss(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The negative log-likelihood that fits the densities (inputs already checked)."""
        raise NotImplementedError

    def conditional(self, x: Tensor, y: Tensor) -> ConditionalDensity:
        r"""The ``q(y | x)`` to use on the batch ``(x, y)``: the estimator's density, or the
        fit of a density family refitted on every batch (``fits_batch = True``, e.g.
        :class:`~mist_reg.distributions.BatchGaussian`)."""
        q = self.q_y_given_x
        return q.fit(x, y) if getattr(q, "fits_batch", False) else q

    def conditional_nll(self, x: Tensor, y: Tensor) -> Tensor:
        r"""``-mean log q(y_i | x_i)``, the loss that fits ``q(y | x)``; zero (with nothing
        to train) when ``q`` is refitted in closed form on every batch."""
        if getattr(self.q_y_given_x, "fits_batch", False):
            return x.new_zeros(())
        return -log_prob(self.q_y_given_x, x, y).mean()

    def estimate_terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        r"""The estimate on a checked float32 batch."""
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x, y = check_generative_inputs(x, y, self.min_samples)
        with autocast_disabled(x.device):
            return self.fitting_loss(x.detach(), y.detach())

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        x, y = check_generative_inputs(x, y, self.min_samples)
        if not y.is_floating_point() and getattr(self.q_y_given_x, "fits_batch", False):
            # a q refitted on this batch: class codes ({1990, 1991}, booleans) become indices 0..K-1
            y = encode_labels(y, "y").indices.unsqueeze(1)
        with autocast_disabled(x.device):
            return self.estimate_terms(x, y)


class BA(GenerativeEstimator):
    r"""Barber and Agakov (2003): ``I(X; Y) >= H(Y) + E_p[log q(y | x)]``.

    The bound holds for any ``q`` but needs the exact entropy ``H(Y)`` of ``y`` as the
    estimator sees it (after any preprocessing; differential entropy for continuous ``y``).

    Arguments:
        q_y_given_x: The conditional density ``q(y | x)``.
        entropy_y: ``H(Y)`` in nats, e.g. ``0.5 * logdet(2 pi e Cov[Y])`` for Gaussian ``y``
            or ``log(n_classes)`` for balanced labels.

    Example:
        >>> from mist_reg.distributions import ConditionalGaussian
        >>> BA(ConditionalGaussian(2, 1, [8]))
        Traceback (most recent call last):
        ...
        ValueError: BA needs the entropy H(Y) of y: pass entropy_y (in nats, of y as the estimator sees it, e.g. 0.5 * logdet(2*pi*e*Cov[Y]) for Gaussian y, log(n_classes) for balanced labels); when H(Y) is unknown use DoE, which learns q(y) instead
    """

    bound = "lower"

    def __init__(self, q_y_given_x: ConditionalDensity, entropy_y: float | Tensor | None = None) -> None:
        super().__init__()
        if entropy_y is None:
            raise ValueError(
                "BA needs the entropy H(Y) of y: pass entropy_y (in nats, of y as the estimator sees it, "
                "e.g. 0.5 * logdet(2*pi*e*Cov[Y]) for Gaussian y, log(n_classes) for balanced labels); "
                "when H(Y) is unknown use DoE, which learns q(y) instead"
            )
        entropy = float(entropy_y)
        if not math.isfinite(entropy):
            raise ValueError(f"entropy_y must be finite, got {entropy}")
        self.q_y_given_x = q_y_given_x
        self.register_buffer("entropy_y", torch.tensor(entropy))

    def fitting_loss(self, x, y):
        return self.conditional_nll(x, y)

    def estimate_terms(self, x, y):
        return BoundTerms(self.entropy_y + log_prob(self.conditional(x, y), x, y))

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}, entropy_y={float(self.entropy_y):.4f}"


class DoE(GenerativeEstimator):
    r"""Difference of entropies (McAllester and Stratos, 2020):
    ``I ~ E_p[log q(y | x) - log q(y)]``, the cross-entropy estimates of ``H(Y)`` and
    ``H(Y | X)``. No bound: both terms are biased upwards by their fitting errors.

    Arguments:
        q_y_given_x: The conditional density ``q(y | x)``.
        q_y: The marginal density ``q(y)``; one with an ``initialize(samples)`` method
            (:class:`~mist_reg.distributions.LearnedGaussian`) starts at the
            maximum-likelihood fit of the training ``y`` through :meth:`fit_data`.
    """

    def __init__(self, q_y_given_x: ConditionalDensity, q_y: MarginalDensity) -> None:
        super().__init__()
        self.q_y_given_x, self.q_y = q_y_given_x, q_y

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Initialises ``q(y)`` on the training samples (called before training)."""
        _initialize(self.q_y, y.float())

    def fitting_loss(self, x, y):
        return self.conditional_nll(x, y) - marginal_log_prob(self.q_y, y).mean()

    def estimate_terms(self, x, y):
        return BoundTerms(log_prob(self.conditional(x, y), x, y) - marginal_log_prob(self.q_y, y))


class GM(GenerativeEstimator):
    r"""Generative model of the joint (Song and Ermon, 2020):
    ``I ~ E_p[log q(x, y) - log q(x) - log q(y)]``, three densities fitted by maximum
    likelihood; ``q(x, y)`` is evaluated on ``[x, y]``. No bound.

    Arguments:
        q_xy: The joint density over ``x_dim + y_dim`` features.
        q_x: The marginal density of ``x``.
        q_y: The marginal density of ``y``.
    """

    def __init__(self, q_xy: MarginalDensity, q_x: MarginalDensity, q_y: MarginalDensity) -> None:
        super().__init__()
        self.q_xy, self.q_x, self.q_y = q_xy, q_x, q_y

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Initialises the densities that support it on the training samples."""
        x, y = x.float(), y.float()
        _initialize(self.q_xy, torch.cat([x, y], dim=1))
        _initialize(self.q_x, x)
        _initialize(self.q_y, y)

    def _log_probs(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        joint = marginal_log_prob(self.q_xy, torch.cat([x, y], dim=1))
        return joint, marginal_log_prob(self.q_x, x), marginal_log_prob(self.q_y, y)

    def fitting_loss(self, x, y):
        joint, px, py = self._log_probs(x, y)
        return -(joint.mean() + px.mean() + py.mean())

    def estimate_terms(self, x, y):
        joint, px, py = self._log_probs(x, y)
        return BoundTerms(joint - px - py)


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
