r"""What the estimator factories share: :func:`make_critic`, which builds the critic of every
critic estimator, the default widths and the critic :func:`mist_reg.estimate_mi` uses.

The factories themselves sit beside their classes (``nwj`` in
:mod:`~mist_reg.estimators.discriminative`, ``club`` in :mod:`~mist_reg.estimators.upper_bounds`,
...), each registered by name in :mod:`~mist_reg.estimators.registry`.

Example:
    >>> critic = make_critic(3, 2, hidden_dims=[16], critic_type="separable", reference="gaussian")
    >>> type(critic).__name__
    'ResidualCritic'
    >>> make_critic(3, 2, critic_type="bilinear")
    Traceback (most recent call last):
    ...
    ValueError: unknown critic_type 'bilinear'; valid types: joint, separable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from mist_reg.estimators.registry import (
    CRITIC_ESTIMATORS,
    ESTIMATORS,
    instantiate_estimator,
    list_estimators,
    normalize_name,
    register_estimator,
)
from mist_reg.nn.critic import Critic, joint_critic, separable_critic
from mist_reg.nn.references.gaussian import GaussianLogRatio, ResidualCritic
from mist_reg.nn.references.mixture import MixtureLogRatio
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
    "hidden_or_default",
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
log-ratio, Gaussian, Student-t copula or Gaussian mixture as
:mod:`mist_reg.estimation.reference_choice` decides,
corrected by a separable network with marginal terms (see
``docs/benchmarks.md`` for how it compares with joint critics and why three hidden layers
of 128)."""

CriticType = Literal["joint", "separable"]


def hidden_or_default(hidden_dims: Sequence[int] | None) -> Sequence[int]:
    r"""``hidden_dims``, or :data:`DEFAULT_HIDDEN_DIMS` when it is ``None``.

    Example:
        >>> hidden_or_default(None), hidden_or_default([8])
        ((256, 256), [8])
    """
    return DEFAULT_HIDDEN_DIMS if hidden_dims is None else hidden_dims


def make_critic(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    critic_type: CriticType = "joint",
    projection_dim: int | None = None,
    normalize: bool = False,
    temperature: float = 1.0,
    marginal_terms: bool = False,
    reference: Literal["gaussian", "student_t", "mixture"] | None = None,
    reference_offset: float = 0.0,
) -> Critic:
    r"""A joint or separable MLP critic, optionally the correction of a closed-form
    reference log-ratio.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs (:data:`DEFAULT_HIDDEN_DIMS` by default).
        critic_type: ``"joint"`` (one MLP on ``[x, y]``) or ``"separable"``
            (``g(x)^T h(y)``).
        projection_dim: The size of ``g(x)`` and ``h(y)`` (separable only; by default the
            last hidden width).
        normalize: Whether ``g(x)`` and ``h(y)`` are normalised to unit length (separable only).
        temperature: The divisor of separable scores.
        marginal_terms: Whether a separable critic adds terms ``u(x) + w(y)``.
        reference: ``"gaussian"``, ``"student_t"`` or ``"mixture"`` (a Gaussian mixture of
            ``(x, y)``, :class:`~mist_reg.nn.references.mixture.MixtureLogRatio`): the MLP
            becomes a zero-initialised correction of that closed-form log-ratio
            (:class:`~mist_reg.nn.references.gaussian.ResidualCritic`), fitted to the
            training data before training; ``None``: the MLP alone.
        reference_offset: Added to the reference, where a bound's optimal critic is the
            log-ratio plus a constant (the NWJ factory sets 1).

    Returns:
        The critic, untrained.

    Raises:
        ValueError: For an unknown ``critic_type`` or ``reference``.

    Example:
        >>> critic = make_critic(3, 2, [16], critic_type="separable", reference="student_t")
        >>> type(critic.reference).__name__, type(critic.correction).__name__
        ('StudentTLogRatio', 'SeparableCritic')
    """
    hidden = hidden_or_default(hidden_dims)
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
    if reference == "mixture":
        return ResidualCritic(MixtureLogRatio(x_dim, y_dim), critic, reference_offset)
    raise ValueError(f"unknown reference {reference!r}; valid references: gaussian, student_t, mixture, None")
