r"""Discriminative estimators: a critic ``f(x, y)`` tells joint pairs from shuffled ones.

Each class combines a :class:`mist_reg.nn.critic.Critic` with one bound of
:mod:`mist_reg.functional.bounds`; the sampling of negative pairs
(:mod:`mist_reg.estimators.negatives`: ``neg_samples`` as in the torch_mist 0.1.5 API) is
done by :class:`DiscriminativeEstimator`, once for all of them.

Example:
    >>> import torch
    >>> from mist_reg.nn.critic import joint_critic
    >>> estimator = InfoNCE(critic=joint_critic(2, 2, [32]), neg_samples=8)
    >>> x = torch.randn(64, 2); y = x + 0.1 * torch.randn(64, 2)
    >>> loss = estimator(x, y); loss.backward()
    >>> estimator.mutual_information(x, y).shape
    torch.Size([])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mist_reg.estimators.base import MIEstimator, autocast_disabled
from mist_reg.estimators.factories import DEFAULT_HIDDEN_DIMS, ESTIMATION_CRITIC_DEFAULTS, make_critic
from mist_reg.estimators.negatives import batch_scores, resolve_neg_samples
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional import bounds
from mist_reg.functional.bounds import BoundTerms
from mist_reg.nn.baselines import joint_baseline, learned_baseline
from mist_reg.nn.critic import Critic

__all__ = [
    "DiscriminativeEstimator",
    "NWJ",
    "MINE",
    "InfoNCE",
    "TUBA",
    "AlphaTUBA",
    "JS",
    "SMILE",
    "FLO",
    "resolve_neg_samples",
    "nwj",
    "mine",
    "infonce",
    "tuba",
    "alpha_tuba",
    "js",
    "smile",
    "flo",
]


class DiscriminativeEstimator(MIEstimator):
    r"""A critic, a way of drawing negatives, and a lower bound (implemented by subclasses
    in :meth:`bound_terms`; :meth:`training_objective` may differ from the bound).

    Arguments:
        critic: The critic ``f(x, y)``.
        neg_samples: Negatives per row (see the module documentation).
    """

    bound = "lower"
    shares_objective = True  # an encoder ascends the critic's training objective with it

    def __init__(self, critic: Critic, neg_samples: int = 0) -> None:
        super().__init__()
        if not isinstance(critic, Critic):
            raise TypeError(
                f"critic must be a mist_reg.nn.critic.Critic (JointCritic or SeparableCritic), got {type(critic).__name__}"
            )
        if not isinstance(neg_samples, int):
            raise TypeError(f"neg_samples must be an int, got {type(neg_samples).__name__}")
        self.critic = critic
        self.neg_samples = neg_samples

    def scores(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""Positive ``[N]`` and negative ``[N, M]`` critic scores of a batch, in float32."""
        self.check_inputs(x, y, min_samples=2)
        critic = self.critic
        return batch_scores(x, y, self.neg_samples, critic.score_matrix, critic.score_pairs, critic)

    def bound_terms(self, positive: Tensor, negative: Tensor, x: Tensor, y: Tensor) -> BoundTerms:
        r"""The bound of this estimator on scores of a batch."""
        raise NotImplementedError

    def training_objective(self, positive: Tensor, negative: Tensor, x: Tensor, y: Tensor) -> Tensor:
        r"""The scalar that training maximises; the bound itself unless overridden."""
        return self.bound_terms(positive, negative, x, y).value()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        positive, negative = self.scores(x, y)
        with autocast_disabled(x.device):
            return -self.training_objective(positive, negative, x, y)

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        positive, negative = self.scores(x, y)
        with autocast_disabled(x.device):
            return self.bound_terms(positive, negative, x, y)

    def loss_and_estimate(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""Minus :meth:`training_objective` and the bound, from one scoring of the batch."""
        positive, negative = self.scores(x, y)
        with autocast_disabled(x.device):
            objective = self.training_objective(positive, negative, x, y)
            estimate = self.bound_terms(positive, negative, x, y).value()
        return -objective, estimate

    def infonce_cap(self, batch_size: int) -> float:
        r"""``log(M + 1)``, the most an InfoNCE bound with this estimator's negatives can
        give on batches of ``batch_size``."""
        return math.log(resolve_neg_samples(self.neg_samples, batch_size) + 1)

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}, neg_samples={self.neg_samples}"


class NWJ(DiscriminativeEstimator):
    r"""NWJ (Nguyen, Wainwright and Jordan, 2010): ``E_p[f] - E_{p(x)p(y)}[exp(f - 1)]``."""

    def bound_terms(self, positive, negative, x, y):
        return bounds.nwj(positive, negative)


class InfoNCE(DiscriminativeEstimator):
    r"""InfoNCE (van den Oord et al., 2018), low variance but capped at ``log(M + 1)``."""

    def bound_terms(self, positive, negative, x, y):
        return bounds.infonce(positive, negative)

    def saturation_cap(self, batch_size: int) -> float:
        return self.infonce_cap(batch_size)


class MINE(DiscriminativeEstimator):
    r"""MINE (Belghazi et al., 2018): the Donsker-Varadhan bound, trained with the gradient
    bias corrected by an exponential moving average of the partition ``E[exp f]``.

    Arguments:
        critic: The critic ``f(x, y)``.
        neg_samples: Negatives per row.
        gamma: The weight of the running average at each step (``gamma_EMA`` of the
            torch_mist 0.1.5 table, in ``(0, 1]``); ``1`` keeps the first batch's value forever.
    """

    def __init__(self, critic: Critic, neg_samples: int = 0, gamma: float = 0.9) -> None:
        super().__init__(critic, neg_samples)
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must lie in (0, 1], got {gamma}")
        self.gamma = gamma
        self.register_buffer("log_ema", torch.tensor(float("nan")))

    def bound_terms(self, positive, negative, x, y):
        return bounds.donsker_varadhan(positive, negative)

    def certificate_terms(self, terms: BoundTerms) -> BoundTerms | None:
        r"""The InfoNCE bound of the same critic on the same pairs (it cannot be dragged
        down by a few negative pairs, as the Donsker-Varadhan partition term can)."""
        if terms.log_partition is None:
            return None
        return bounds.infonce(terms.per_sample, terms.log_partition)

    def certificate_cap(self, batch_size: int) -> float:
        return self.infonce_cap(batch_size)

    def training_objective(self, positive, negative, x, y):
        return self.corrected_objective(positive, negative, self.log_ema)

    def corrected_objective(self, positive: Tensor, negative: Tensor, log_ema: Tensor) -> Tensor:
        r"""MINE's objective on scores of a batch, its gradient corrected by the moving
        average ``log_ema``, which training updates in place with this batch's partition.
        Scores with a leading member dimension (``[K, N]`` and ``[K, N, M]``, with ``log_ema``
        ``[K]``) give one objective per member."""
        batch = bounds.logmeanexp(negative.detach().flatten(-2), dim=-1)
        if self.training:
            blended = torch.logaddexp(
                log_ema + math.log(self.gamma),
                batch + (math.log1p(-self.gamma) if self.gamma < 1 else -math.inf),
            )
            log_ema.copy_(torch.where(torch.isnan(log_ema), batch, blended))
        return bounds.mine_surrogate(positive, negative, torch.where(torch.isnan(log_ema), batch, log_ema))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gamma={self.gamma}"


class TUBA(DiscriminativeEstimator):
    r"""TUBA (Poole et al., 2019): an unnormalised Barber-Agakov bound with a learned
    log-baseline ``a(x)`` (a module mapping ``[N, x_dim]`` to ``[N]``)."""

    def __init__(self, critic: Critic, baseline: nn.Module, neg_samples: int = 0) -> None:
        super().__init__(critic, neg_samples)
        self.baseline = baseline

    def bound_terms(self, positive, negative, x, y):
        return bounds.tuba(positive, negative, self.baseline(x).float())


class AlphaTUBA(TUBA):
    r"""The interpolated bound of Poole et al. (2019). ``alpha`` is the weight of the
    baseline, as in the torch_mist 0.1.5 table: ``alpha=0`` is InfoNCE and ``alpha=1`` is TUBA;
    intermediate values trade the bias of InfoNCE for the variance of TUBA."""

    def __init__(self, critic: Critic, baseline: nn.Module, neg_samples: int = 0, alpha: float = 0.5) -> None:
        super().__init__(critic, baseline, neg_samples)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.alpha = alpha

    def bound_terms(self, positive, negative, x, y):
        return bounds.alpha_tuba(positive, negative, self.baseline(x).float(), self.alpha)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}"


class JS(DiscriminativeEstimator):
    r"""The critic is trained with the Jensen-Shannon objective (Hjelm et al., 2018), whose
    optimum is the log density ratio; the estimate is NWJ on ``f + 1``."""

    def bound_terms(self, positive, negative, x, y):
        return bounds.nwj(positive + 1, negative + 1)

    def training_objective(self, positive, negative, x, y):
        return bounds.js_divergence(positive, negative)


class SMILE(DiscriminativeEstimator):
    r"""SMILE (Song and Ermon, 2020): trained with the Jensen-Shannon objective, estimated
    by Donsker-Varadhan with the partition scores clipped to ``[-tau, tau]``."""

    def __init__(self, critic: Critic, neg_samples: int = 0, tau: float = 5.0) -> None:
        super().__init__(critic, neg_samples)
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.tau = tau

    def bound_terms(self, positive, negative, x, y):
        return bounds.smile(positive, negative, self.tau)

    def training_objective(self, positive, negative, x, y):
        value = self.bound_terms(positive, negative, x, y).value()
        return bounds.straight_through(value, bounds.js_divergence(positive, negative))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}"


class FLO(DiscriminativeEstimator):
    r"""FLO (Guo et al., 2022): a lower bound with a joint baseline ``u(x, y)`` (a module
    taking ``(x, y)`` and returning ``[N]``) learned together with the critic."""

    def __init__(self, critic: Critic, baseline: nn.Module, neg_samples: int = 0) -> None:
        super().__init__(critic, neg_samples)
        self.baseline = baseline

    def bound_terms(self, positive, negative, x, y):
        return bounds.flo(positive, negative, self.baseline(x, y).float())


@register_estimator("nwj", NWJ, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def nwj(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] | None = None, neg_samples: int = 0, **critic_kwargs: Any
) -> NWJ:
    r"""An :class:`~mist_reg.estimators.NWJ` estimator with an MLP critic (a Gaussian
    reference is offset by 1: the optimal NWJ critic is ``1 + log p(x, y) / (p(x)p(y))``).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> type(nwj(3, 2, hidden_dims=[16], reference="gaussian").critic).__name__
        'ResidualCritic'
    """
    critic_kwargs.setdefault("reference_offset", 1.0)
    return NWJ(make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs), neg_samples)


@register_estimator("mine", MINE, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def mine(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    neg_samples: int = 0,
    gamma: float = 0.9,
    **critic_kwargs: Any,
) -> MINE:
    r"""A :class:`~mist_reg.estimators.MINE` estimator with an MLP critic.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        gamma: The weight of the past in the running average of the partition term that
            corrects the gradient's bias, in ``(0, 1]`` (0.9; ``1`` keeps the first batch's).
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> estimator = mine(x_dim=5, y_dim=5, neg_samples=16, hidden_dims=[32, 32], critic_type="joint")
        >>> estimator.neg_samples, estimator.bound
        (16, 'lower')
    """
    return MINE(make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs), neg_samples, gamma)


@register_estimator("infonce", InfoNCE, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def infonce(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] | None = None, neg_samples: int = 0, **critic_kwargs: Any
) -> InfoNCE:
    r"""An :class:`~mist_reg.estimators.InfoNCE` estimator with an MLP critic.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> infonce(3, 2, hidden_dims=[16]).saturation_cap(batch_size=64) == math.log(64)
        True
    """
    return InfoNCE(make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs), neg_samples)


@register_estimator("tuba", TUBA, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def tuba(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] | None = None, neg_samples: int = 0, **critic_kwargs: Any
) -> TUBA:
    r"""A :class:`~mist_reg.estimators.TUBA` estimator with MLP critic and baseline ``a(x)``.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (and of the baseline)
            (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> tuba(3, 2, hidden_dims=[16]).bound
        'lower'
    """
    critic = make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs)
    return TUBA(critic, learned_baseline(x_dim, hidden_dims or DEFAULT_HIDDEN_DIMS), neg_samples)


@register_estimator("alpha_tuba", AlphaTUBA, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def alpha_tuba(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    neg_samples: int = 0,
    alpha: float = 0.5,
    **critic_kwargs: Any,
) -> AlphaTUBA:
    r"""An :class:`~mist_reg.estimators.AlphaTUBA` estimator with MLP critic and baseline.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (and of the baseline)
            (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        alpha: The weight of the baseline: ``0`` is InfoNCE, ``1`` is TUBA; 0.5 by default.
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> alpha_tuba(3, 2, hidden_dims=[16], alpha=0.3).alpha
        0.3
    """
    critic = make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs)
    return AlphaTUBA(critic, learned_baseline(x_dim, hidden_dims or DEFAULT_HIDDEN_DIMS), neg_samples, alpha)


@register_estimator("js", JS, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def js(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] | None = None, neg_samples: int = 0, **critic_kwargs: Any
) -> JS:
    r"""A :class:`~mist_reg.estimators.JS` estimator with an MLP critic.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> js(3, 2, hidden_dims=[16], critic_type="separable").bound
        'lower'
    """
    return JS(make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs), neg_samples)


@register_estimator("smile", SMILE, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def smile(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    neg_samples: int = 0,
    tau: float = 5.0,
    **critic_kwargs: Any,
) -> SMILE:
    r"""A :class:`~mist_reg.estimators.SMILE` estimator with an MLP critic.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        tau: The partition scores are clipped to ``[-tau, tau]`` (5.0).
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> smile(3, 2, hidden_dims=[16], tau=2.0).tau
        2.0
    """
    return SMILE(make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs), neg_samples, tau)


@register_estimator("flo", FLO, has_critic=True, estimate_defaults=ESTIMATION_CRITIC_DEFAULTS)
def flo(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] | None = None, neg_samples: int = 0, **critic_kwargs: Any
) -> FLO:
    r"""A :class:`~mist_reg.estimators.FLO` estimator with MLP critic and joint baseline.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the critic (and of the baseline)
            (``(256, 256)`` by default).
        neg_samples: Negatives per sample: ``M > 0`` uses ``M``, ``0`` (the default) the other
            ``N - 1`` samples of the batch, ``-k`` uses ``N - k``.
        critic_kwargs: Arguments of :func:`~mist_reg.estimators.factories.make_critic`
            (``critic_type``, ``"joint"`` by default, ``reference``, ...).

    Example:
        >>> flo(3, 2, hidden_dims=[16], neg_samples=8).neg_samples
        8
    """
    critic = make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs)
    return FLO(critic, joint_baseline(x_dim, y_dim, hidden_dims or DEFAULT_HIDDEN_DIMS), neg_samples)
