r"""Lower-case factories that build a discriminative estimator from dimensions, each
registered by name (``"mine"``, ``"infonce"``, ...) in :mod:`mist_reg.estimators.registry`,
and :func:`make_critic`, which builds their critics.

Example:
    >>> estimator = instantiate_estimator("smile", x_dim=3, y_dim=2, hidden_dims=[32], tau=3.0)
    >>> type(estimator).__name__, estimator.tau
    ('SMILE', 3.0)
    >>> instantiate_estimator("mutual")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown estimator 'mutual'; valid names: alpha_tuba, ..., tuba
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from mist_reg.estimators.discriminative import FLO, JS, MINE, NWJ, SMILE, TUBA, AlphaTUBA, InfoNCE
from mist_reg.estimators.registry import (
    CRITIC_ESTIMATORS,
    ESTIMATORS,
    instantiate_estimator,
    list_estimators,
    normalize_name,
    register_estimator,
)
from mist_reg.nn.baselines import joint_baseline, learned_baseline
from mist_reg.nn.critic import Critic, joint_critic, separable_critic
from mist_reg.nn.references.gaussian import GaussianLogRatio, ResidualCritic
from mist_reg.nn.references.student_t import StudentTLogRatio

__all__ = [
    "DEFAULT_HIDDEN_DIMS",
    "ESTIMATION_CRITIC_DEFAULTS",
    "ESTIMATORS",
    "CRITIC_ESTIMATORS",
    "register_estimator",
    "normalize_name",
    "instantiate_estimator",
    "list_estimators",
    "make_critic",
    "nwj",
    "mine",
    "infonce",
    "tuba",
    "alpha_tuba",
    "js",
    "smile",
    "flo",
]

DEFAULT_HIDDEN_DIMS: tuple[int, ...] = (256, 256)

ESTIMATION_CRITIC_DEFAULTS: dict[str, Any] = {
    "hidden_dims": (128, 128, 128),
    "reference": "student_t",
    "critic_type": "separable",
    "marginal_terms": True,
    "projection_dim": 32,
}
r"""The critic :func:`mist_reg.estimate_mi` gives every estimator registered with a critic
unless told otherwise (the ``estimate_defaults`` of their registry entries): a closed-form
log-ratio, Gaussian or Student-t copula as :mod:`mist_reg.estimation.reference_choice` decides,
corrected by a separable network with marginal terms (see
``docs/benchmarks.md`` for how it compares with joint critics). With batches of 64, 3x128
heads learned the spiral and Student-t tasks best among the sizes measured."""

CriticType = Literal["joint", "separable"]


def make_critic(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    critic_type: CriticType = "joint",
    projection_dim: int | None = None,
    normalize: bool = False,
    temperature: float = 1.0,
    marginal_terms: bool = False,
    reference: Literal["gaussian", "student_t"] | None = None,
    reference_offset: float = 0.0,
) -> Critic:
    r"""A joint or separable MLP critic (``projection_dim``, ``normalize``,
    ``temperature`` and ``marginal_terms`` apply to separable critics only).

    With ``reference="gaussian"`` the MLP becomes a zero-initialised correction of the
    closed-form Gaussian log-ratio (:class:`~mist_reg.nn.references.gaussian.ResidualCritic`),
    fitted to the training data by :func:`mist_reg.train_mi_estimator` before training
    (``"student_t"``: of the Student-t copula log-ratio,
    :class:`~mist_reg.nn.references.student_t.StudentTLogRatio`, which includes the Gaussian);
    ``reference_offset`` shifts it where a bound's optimal critic is the log-ratio plus a
    constant (the NWJ factory sets 1).
    """
    hidden = DEFAULT_HIDDEN_DIMS if hidden_dims is None else hidden_dims
    if critic_type == "joint":
        critic: Critic = joint_critic(x_dim, y_dim, hidden)
    elif critic_type == "separable":
        critic = separable_critic(x_dim, y_dim, hidden, projection_dim, normalize, temperature, marginal_terms)
    else:
        raise ValueError(f"unknown critic_type {critic_type!r}; valid types: joint, separable")
    if reference is None:
        return critic
    if reference == "gaussian":
        return ResidualCritic(GaussianLogRatio(x_dim, y_dim), critic, reference_offset)
    if reference == "student_t":
        return ResidualCritic(StudentTLogRatio(x_dim, y_dim), critic, reference_offset)
    raise ValueError(f"unknown reference {reference!r}; valid references: gaussian, student_t, None")


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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.

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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
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
        critic_kwargs: Arguments of :func:`make_critic`: ``critic_type`` (``"joint"``, the
            default, or ``"separable"``), ``projection_dim``, ``normalize``, ``temperature``,
            ``marginal_terms``, ``reference`` (``"gaussian"`` or ``"student_t"`` for a
            correction of a closed-form log-ratio) and ``reference_offset``.
    """
    critic = make_critic(x_dim, y_dim, hidden_dims, **critic_kwargs)
    return FLO(critic, joint_baseline(x_dim, y_dim, hidden_dims or DEFAULT_HIDDEN_DIMS), neg_samples)
