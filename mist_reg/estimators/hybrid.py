r"""Hybrid estimators (Federici, Ruhe and Forré, 2023): a generative part does the bulk of
the work and a discriminative critic corrects what it misses.

* :class:`PQHybrid` splits ``I(X; Y) = I(X; Q(Y)) + I(X; Y | Q(Y))`` (exact, since
  ``Q(Y)`` is a function of ``Y``). The first term is the :class:`~mist_reg.estimators.PQ`
  bound; the second an InfoNCE bound whose negatives for row ``i`` are the other samples
  of the batch *in the same bin* as ``y_i``: pairs ``(x_i, y_j)`` with ``Q(y_j) = Q(y_i)``
  are draws of ``p(x | c) p(y | c)``, hard negatives that the critic must tell apart by
  what the bin does not already say. Both parts are lower bounds, so is the sum.
* :class:`GenerativeHybrid` uses a generative proposal as the reference of a critic,
  ``f(x, y) = log q(y | x) / q(y) + g(x, y)`` with the correction ``g`` starting at zero
  (:class:`~mist_reg.nn.references.gaussian.ResidualCritic`), and reports a discriminative
  bound on ``f``. The proposal is either the closed-form
  :class:`~mist_reg.nn.references.gaussian.GaussianLogRatio` or a :class:`DensityRatioCritic`
  built from densities fitted by maximum likelihood. At the start of training the
  estimate is already the proposal's; the critic only has to learn the residual.

Example:
    >>> import torch
    >>> from mist_reg.nn.critic import joint_critic
    >>> from mist_reg.nn.references.gaussian import GaussianLogRatio
    >>> estimator = GenerativeHybrid(GaussianLogRatio(2, 2), joint_critic(2, 2, [16]))
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(1000, 2); y = x + torch.randn(1000, 2)  # I = log(2) = 0.69 nats
    >>> estimator.proposal.fit_data(x, y)  # train_mi_estimator calls every fit_data hook
    >>> 0.5 < float(estimator.mutual_information(x, y).detach()) < 0.9  # before any training
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from mist_reg.distributions.conditional_gaussian import Covariance
from mist_reg.distributions.factory import conditional_density, marginal_density
from mist_reg.distributions.log_density import (
    DEFAULT_MAX_PAIRS,
    ConditionalDensity,
    indexed_log_prob,
    log_prob,
    marginal_log_prob,
    pairwise_log_prob,
)
from mist_reg.estimators.base import MIEstimator, autocast_disabled, float32_scores
from mist_reg.estimators.discriminative import JS, MINE, NWJ, SMILE, DiscriminativeEstimator, InfoNCE
from mist_reg.estimators.factories import ESTIMATION_CRITIC_DEFAULTS, hidden_or_default, make_critic
from mist_reg.estimators.generative import MarginalDensity
from mist_reg.estimators.negatives import off_diagonal
from mist_reg.estimators.quantized import PQ, pq
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional.bounds import BoundTerms, infonce
from mist_reg.nn.critic import Critic
from mist_reg.nn.quantization import Quantizer
from mist_reg.nn.references.gaussian import GaussianLogRatio, ResidualCritic

__all__ = [
    "DensityRatioCritic",
    "GenerativeHybrid",
    "PQHybrid",
    "DISCRIMINATIVE_BOUNDS",
    "PROPOSALS",
    "ESTIMATION_HYBRID_DEFAULTS",
    "bin_negatives",
    "pq_hybrid",
    "gaussian_hybrid",
]

DISCRIMINATIVE_BOUNDS: dict[str, type[DiscriminativeEstimator]] = {
    "smile": SMILE,
    "js": JS,
    "nwj": NWJ,
    "infonce": InfoNCE,
    "mine": MINE,
}
r"""The discriminative estimators a :class:`GenerativeHybrid` can report, by name."""

PROPOSALS: tuple[str, ...] = ("closed_form", "learned")

ESTIMATION_HYBRID_DEFAULTS: dict[str, Any] = {"hidden_dims": (128, 128, 128), "projection_dim": 32}
r"""What :func:`mist_reg.estimate_mi` gives ``gaussian_hybrid`` unless told otherwise (the
``estimate_defaults`` of its registry entry): the correction network of
:data:`~mist_reg.estimators.factories.ESTIMATION_CRITIC_DEFAULTS`."""


class DensityRatioCritic(Critic):
    r"""The critic ``log q(y | x) - log q(y)`` of two densities, the optimal critic when
    they are exact.

    Arguments:
        q_y_given_x: A conditional density ``q(y | x)``.
        q_y: A marginal density ``q(y)`` (called without arguments).
        max_pairs: Pairs of ``q(y | x)`` evaluated at once when scoring many pairs.

    Example:
        >>> from mist_reg.distributions import ConditionalGaussian, LearnedGaussian
        >>> critic = DensityRatioCritic(ConditionalGaussian(2, 3, [8]), LearnedGaussian(3))
        >>> critic.score_matrix(torch.randn(4, 2), torch.randn(5, 3)).shape
        torch.Size([4, 5])
    """

    def __init__(
        self, q_y_given_x: ConditionalDensity, q_y: MarginalDensity, max_pairs: int = DEFAULT_MAX_PAIRS
    ) -> None:
        super().__init__()
        self.q_y_given_x, self.q_y, self.max_pairs = q_y_given_x, q_y, max_pairs

    @torch.no_grad()
    def fit_data(self, x: Tensor, y: Tensor) -> None:
        r"""Starts ``q(y)`` at the maximum-likelihood fit of the training ``y`` when it can."""
        initialize = getattr(self.q_y, "initialize", None)
        if callable(initialize):
            initialize(y.float())

    def fitting_loss(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The negative log-likelihood of both densities on detached inputs."""
        x, y = x.detach().float(), y.detach().float()
        return -log_prob(self.q_y_given_x, x, y).mean() - marginal_log_prob(self.q_y, y).mean()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return log_prob(self.q_y_given_x, x, y) - marginal_log_prob(self.q_y, y)

    def score_matrix(self, x: Tensor, y: Tensor) -> Tensor:
        return pairwise_log_prob(self.q_y_given_x, x, y, self.max_pairs) - marginal_log_prob(self.q_y, y).unsqueeze(0)

    def score_pairs(self, x: Tensor, y: Tensor, index: Tensor) -> Tensor:
        conditional = indexed_log_prob(self.q_y_given_x, x, y, index, self.max_pairs)
        return conditional - marginal_log_prob(self.q_y, y)[index]


class GenerativeHybrid(MIEstimator):
    r"""A discriminative bound on the critic ``proposal(x, y) + correction(x, y)``.

    Arguments:
        proposal: A critic giving ``log q(y | x) - log q(y)``:
            :class:`~mist_reg.nn.references.gaussian.GaussianLogRatio` (fitted in closed form by
            ``fit_data``) or :class:`DensityRatioCritic` (fitted by maximum likelihood
            alongside the critic, through its ``fitting_loss``).
        correction: The learned critic ``g``; :class:`~mist_reg.nn.references.gaussian.ResidualCritic`
            starts it at zero, so training starts from the proposal.
        discriminative: The bound reported and trained: one of :data:`DISCRIMINATIVE_BOUNDS`
            or a :class:`DiscriminativeEstimator` subclass. ``"infonce"`` by default: it can
            never exceed ``log(N)``, whereas the Donsker-Varadhan family (``"smile"``,
            ``"mine"``) averages the critic over positive pairs unclipped, so a misspecified
            proposal on heavy-tailed data explodes it (about 93 nats for the 0.45 of the raw
            ``student-t-5x5`` task with the Gaussian proposal). The DV family can exceed
            ``log(N)`` when the proposal is good: use it on well-behaved (e.g. Gaussianized) data.
        neg_samples: Negatives per row, as for discriminative estimators.
        bound_kwargs: Extra arguments of the bound (``tau`` for SMILE, ``gamma`` for MINE).
    """

    bound = "lower"
    shares_objective = False  # training adds the proposal's fitting loss to the bound's

    def __init__(
        self,
        proposal: Critic,
        correction: Critic,
        discriminative: str | type[DiscriminativeEstimator] = "infonce",
        neg_samples: int = 0,
        **bound_kwargs: Any,
    ) -> None:
        super().__init__()
        if isinstance(discriminative, str):
            if discriminative not in DISCRIMINATIVE_BOUNDS:
                raise ValueError(
                    f"unknown discriminative bound {discriminative!r}; valid values: {', '.join(DISCRIMINATIVE_BOUNDS)}"
                )
            discriminative = DISCRIMINATIVE_BOUNDS[discriminative]
        self.estimator = discriminative(ResidualCritic(proposal, correction), neg_samples, **bound_kwargs)

    @property
    def proposal(self) -> Critic:
        r"""The generative reference critic."""
        return self.estimator.critic.reference

    @property
    def correction(self) -> Critic:
        r"""The learned residual critic."""
        return self.estimator.critic.correction

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        loss = self.estimator(x, y)
        fitting_loss = self.proposal.fitting_loss(x, y)
        return loss if fitting_loss is None else loss + fitting_loss

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        return self.estimator.terms(x, y)

    def proposal_terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        r"""The estimate of the proposal alone, ``E_p[log q(y | x) / q(y)]`` (no bound)."""
        self.check_inputs(x, y)
        with autocast_disabled(x.device):
            return BoundTerms(self.proposal(x.float(), y.float()))

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}"


def bin_negatives(codes: Tensor, neg_samples: int = 0) -> tuple[Tensor, Tensor]:
    r"""For each row ``i``, indices of other rows with the same code: ``index: [N, K]`` and
    ``valid: [N, K]`` (padding is ``False``).

    ``neg_samples = 0`` takes every other member of the bin (``K`` is the largest bin size
    minus one); ``M > 0`` at most ``M`` of them, chosen by a random rotation within the bin.

    Example:
        >>> index, valid = bin_negatives(torch.tensor([0, 1, 0, 0, 1]))
        >>> index.masked_fill(~valid, -1).tolist()
        [[2, 3], [4, -1], [3, 0], [0, 2], [1, -1]]
    """
    if neg_samples < 0:
        raise ValueError(f"neg_samples must be 0 (all) or positive, got {neg_samples}")
    n, device = codes.shape[0], codes.device
    order = torch.argsort(codes, stable=True)
    sorted_codes = codes[order]
    _, sizes = torch.unique_consecutive(sorted_codes, return_counts=True)
    starts = torch.cumsum(sizes, 0) - sizes
    row_size = torch.repeat_interleave(sizes, sizes)  # bin size of each sorted position
    row_start = torch.repeat_interleave(starts, sizes)
    position = torch.arange(n, device=device) - row_start  # rank within the bin
    k = int(sizes.max()) - 1
    if neg_samples > 0:
        k = min(k, neg_samples)
    if k <= 0:
        return torch.zeros(n, 0, dtype=torch.long, device=device), torch.zeros(n, 0, dtype=torch.bool, device=device)
    others = (row_size - 1).clamp_min(1).unsqueeze(1)
    offset = torch.arange(k, device=device).unsqueeze(0)
    if neg_samples > 0:
        offset = offset + torch.randint(0, 1 << 30, (n, 1), device=device)
    shift = 1 + offset % others  # distinct shifts in [1, size - 1] for the first size - 1 columns
    sorted_partner = row_start.unsqueeze(1) + (position.unsqueeze(1) + shift) % row_size.unsqueeze(1)
    valid_sorted = torch.arange(k, device=device).unsqueeze(0) < (row_size - 1).unsqueeze(1)
    index = torch.empty(n, k, dtype=torch.long, device=device)
    valid = torch.empty(n, k, dtype=torch.bool, device=device)
    index[order] = order[sorted_partner]
    valid[order] = valid_sorted
    return index, valid


class PQHybrid(MIEstimator):
    r"""``I_PQ + I_NCE(X; Y | Q(Y))``: predictive quantization plus an InfoNCE bound with
    negatives from the same bin (see the module documentation).

    Per sample ``i`` with ``K_i`` same-bin negatives (``K_i = 0`` contributes 0):
    ``f(x_i, y_i) - log((exp f(x_i, y_i) + sum_k exp f(x_i, y_k)) / (K_i + 1))``, capped at
    ``log(K_i + 1)``; with ``B`` bins and batch ``N``, about ``log(N / B)``.

    Training also maximises, with weight ``batch_weight``, the InfoNCE bound of the critic
    with every other sample of the batch as a negative. For a fixed ``x``, the log-ratio
    ``log p(y | x) / p(y)`` and the in-bin one ``log p(y | x, c) / p(y | c)`` differ by
    ``log p(c | x) / p(c)``, a constant over the candidates of one bin ``c``: the optimal
    critic of the full-batch objective is also optimal in-bin, and it learns from all
    ``N - 1`` negatives of a row instead of about ``N / n_bins``. The reported estimate
    is the in-bin bound alone, a valid lower bound for any critic.

    Arguments:
        pq: The :class:`~mist_reg.estimators.PQ` estimator (its quantizer defines the bins).
        critic: The critic ``f(x, y)`` of the conditional part.
        neg_samples: At most this many same-bin negatives per row (0: all of them).
        batch_weight: The weight of the full-batch InfoNCE objective in training (0: the
            critic trains on in-bin negatives only).
    """

    bound = "lower"
    shares_objective = False  # training adds PQ's likelihood and the full-batch objective

    def __init__(self, pq: PQ, critic: Critic, neg_samples: int = 0, batch_weight: float = 1.0) -> None:
        super().__init__()
        if not isinstance(pq, PQ):
            raise TypeError(f"pq must be a mist_reg.estimators.PQ, got {type(pq).__name__}")
        if not isinstance(critic, Critic):
            raise TypeError(f"critic must be a mist_reg.nn.critic.Critic, got {type(critic).__name__}")
        if not isinstance(neg_samples, int) or neg_samples < 0:
            raise ValueError(f"neg_samples must be 0 (all same-bin samples) or positive, got {neg_samples!r}")
        if not batch_weight >= 0:
            raise ValueError(f"batch_weight must be non-negative, got {batch_weight!r}")
        self.pq, self.critic, self.neg_samples, self.batch_weight = pq, critic, neg_samples, float(batch_weight)

    def conditional_per_sample(self, x: Tensor, y: Tensor, codes: Tensor, scores: Tensor | None = None) -> Tensor:
        r"""The in-bin InfoNCE term of each sample: ``[N]``. ``scores``, the critic's
        ``[N, N]`` matrix when the caller has it, saves scoring the pairs again."""
        index, valid = bin_negatives(codes, self.neg_samples)
        positive = self.critic(x, y) if scores is None else scores.diagonal()
        if index.shape[1] == 0:
            return torch.zeros_like(positive).float()
        negative = self.critic.score_pairs(x, y, index) if scores is None else scores.gather(1, index)
        positive, negative = float32_scores(positive, negative)
        negative = negative.masked_fill(~valid, -math.inf)
        logits = torch.cat([positive.unsqueeze(1), negative], dim=1)
        count = valid.sum(1).to(positive.dtype)
        return positive - (torch.logsumexp(logits, dim=1) - torch.log1p(count))

    def _parts(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        self.check_inputs(x, y, min_samples=2)
        codes = self.pq.codes(y)
        return codes, self.pq.per_sample(x.float(), codes), self.conditional_per_sample(x, y, codes)

    def parts(self, x: Tensor, y: Tensor) -> tuple[BoundTerms, BoundTerms]:
        r"""The two terms separately: ``I_PQ`` and the in-bin InfoNCE bound."""
        with autocast_disabled(x.device):
            _, pq, conditional = self._parts(x, y)
        return BoundTerms(pq), BoundTerms(conditional)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        self.check_inputs(x, y, min_samples=2)
        codes = self.pq.codes(y)
        with autocast_disabled(x.device):
            if self.batch_weight == 0:
                return self.pq(x, y) - self.conditional_per_sample(x, y, codes).mean()
            # one [N, N] score matrix serves both objectives (the critic runs once)
            (scores,) = float32_scores(self.critic.score_matrix(x, y))
            conditional = self.conditional_per_sample(x, y, codes, scores)
            batch = infonce(scores.diagonal(), off_diagonal(scores)).value()
            return self.pq(x, y) - conditional.mean() - self.batch_weight * batch

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        with autocast_disabled(x.device):
            _, pq, conditional = self._parts(x, y)
        return BoundTerms(pq + conditional)

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}, neg_samples={self.neg_samples}, batch_weight={self.batch_weight}"


@register_estimator("pq_hybrid", PQHybrid, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def pq_hybrid(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    quantization: str | Quantizer = "kmeans",
    n_bins: int = 16,
    neg_samples: int = 0,
    critic_type: Literal["joint", "separable"] = "separable",
    marginal_terms: bool = True,
    batch_weight: float = 1.0,
    **critic_kwargs: Any,
) -> PQHybrid:
    r"""A :class:`~mist_reg.estimators.PQHybrid`: PQ plus an in-bin InfoNCE bound with an MLP
    critic (``critic_type``, ``projection_dim``, ... as for :func:`make_critic`).

    The critic is separable by default: training scores every pair of a batch (the
    full-batch objective, see :class:`~mist_reg.estimators.PQHybrid`), which a separable
    critic does with one product of two feature matrices, where a joint critic evaluates
    its MLP on each of the ``N^2`` pairs.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        quantization: How samples become bins: as for :func:`pq`.
        n_bins: The number of bins of ``Q(y)`` (16).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_type: The critic of the in-bin bound: ``"separable"`` (the default) or
            ``"joint"``.
        marginal_terms: Whether a separable critic adds marginal terms ``u(x) + w(y)``
            (``True``).
        batch_weight: The weight of the in-bin bound's full-batch objective in training (1.0).
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` for a correction of the
            closed-form Gaussian log-ratio) and ``reference_offset``.

    Example:
        >>> pq_hybrid(3, 2, hidden_dims=[8], n_bins=4).bound
        'lower'
    """
    if critic_type == "separable":
        critic_kwargs["marginal_terms"] = marginal_terms
    critic = make_critic(x_dim, y_dim, hidden_dims, critic_type, **critic_kwargs)
    return PQHybrid(pq(x_dim, y_dim, hidden_dims, quantization, n_bins), critic, neg_samples, batch_weight)


@register_estimator("gaussian_hybrid", GenerativeHybrid, estimate_defaults=ESTIMATION_HYBRID_DEFAULTS)
def gaussian_hybrid(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    proposal: Literal["closed_form", "learned"] | Critic = "closed_form",
    discriminative: str = "infonce",
    neg_samples: int = 0,
    covariance: Covariance = "full",
    critic_type: Literal["joint", "separable"] = "separable",
    marginal_terms: bool = True,
    projection_dim: int | None = None,
    **bound_kwargs: Any,
) -> GenerativeHybrid:
    r"""A :class:`~mist_reg.estimators.GenerativeHybrid` with a Gaussian proposal corrected by
    an MLP critic.

    Arguments:
        proposal: ``"closed_form"`` (:class:`~mist_reg.nn.references.gaussian.GaussianLogRatio`,
            moments of the training data), ``"learned"`` (a conditional Gaussian with
            ``covariance`` and a learned full Gaussian ``q(y)``, fitted by maximum
            likelihood while the critic trains) or any critic.
        discriminative: The bound: ``"infonce"`` (by default, never above ``log(N)``: see
            :class:`~mist_reg.estimators.GenerativeHybrid`), ``"smile"``, ``"js"``, ``"nwj"``
            or ``"mine"``.
        critic_type: The correction's critic, ``"separable"`` by default (one matrix product
            scores a batch's pairs) or ``"joint"`` (an MLP on every pair).
        marginal_terms: Whether a separable correction has marginal terms ``u(x) + w(y)``
            (see :func:`~mist_reg.nn.critic.separable_critic`).
        projection_dim: The feature size of a separable correction (by default the last
            hidden width).
        bound_kwargs: ``tau`` for SMILE, ``gamma`` for MINE.

    Example:
        >>> gaussian_hybrid(2, 2, hidden_dims=[8], proposal="exact")
        Traceback (most recent call last):
        ...
        ValueError: unknown proposal 'exact'; valid values: closed_form, learned
    """
    hidden = hidden_or_default(hidden_dims)
    if isinstance(proposal, Critic):
        reference = proposal
    elif proposal == "closed_form":
        reference = GaussianLogRatio(x_dim, y_dim)
    elif proposal == "learned":
        reference = DensityRatioCritic(
            conditional_density("gaussian", x_dim, y_dim, hidden, covariance),
            marginal_density("gaussian", y_dim, covariance="full"),
        )
    else:
        raise ValueError(f"unknown proposal {proposal!r}; valid values: {', '.join(PROPOSALS)}")
    separable = (
        {"marginal_terms": marginal_terms, "projection_dim": projection_dim} if critic_type == "separable" else {}
    )
    correction = make_critic(x_dim, y_dim, hidden, critic_type, **separable)
    return GenerativeHybrid(reference, correction, discriminative, neg_samples, **bound_kwargs)
