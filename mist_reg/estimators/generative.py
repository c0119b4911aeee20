r"""Generative estimators, mutual information from fitted densities: the base
:class:`GenerativeEstimator`, :class:`BA` (lower bound), :class:`DoE` and :class:`GM`, and
their registered factories (the upper bounds L1OUT and CLUB are in
:mod:`~mist_reg.estimators.upper_bounds`).

``forward(x, y)`` is the negative log-likelihood that fits the densities on detached
inputs; ``mutual_information(x, y)`` is the estimate. Why the two differ, and when each
estimate is a bound: ``docs/choosing-an-estimator.md``, "Generative estimators".

Example:
    >>> import torch
    >>> estimator = doe(x_dim=2, y_dim=2, hidden_dims=[16])
    >>> x = torch.randn(64, 2); y = x + 0.5 * torch.randn(64, 2)
    >>> estimator(x, y).backward()  # fits q(y | x) and q(y) on the batch
    >>> estimator.mutual_information(x, y).shape, estimator.bound
    (torch.Size([]), None)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

import torch
from torch import Tensor
from torch.distributions import Distribution

from mist_reg.checks import check_inputs
from mist_reg.distributions.batch_gaussian import class_indices
from mist_reg.distributions.conditional_gaussian import Covariance
from mist_reg.distributions.factory import conditional_density, marginal_density
from mist_reg.distributions.flows import FlowKind
from mist_reg.distributions.log_density import (
    ConditionalDensity,
    log_prob,
    marginal_log_prob,
)
from mist_reg.estimators.base import MIEstimator, autocast_disabled
from mist_reg.estimators.factories import hidden_or_default
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional.bounds import BoundTerms

__all__ = [
    "GenerativeEstimator",
    "BA",
    "DoE",
    "GM",
    "check_generative_inputs",
    "conditional",
    "ba",
    "doe",
    "gm",
]

MarginalDensity = Callable[[], Distribution]

ConditionalKind = Literal["gaussian", "categorical", "flow", "batch_gaussian", "batch_kernel", "batch"]


def conditional(
    q: ConditionalKind,
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None,
    covariance: Covariance,
    n_classes: int | None,
    transforms: int,
    flow: FlowKind,
) -> ConditionalDensity:
    r"""The ``q(y | x)`` of kind ``q`` the generative factories build (see
    :func:`~mist_reg.distributions.factory.conditional_density`; ``hidden_dims=None`` is
    ``(256, 256)``).

    Example:
        >>> type(conditional("gaussian", 3, 2, None, "diagonal", None, 3, "maf")).__name__
        'ConditionalGaussian'
    """
    return conditional_density(q, x_dim, y_dim, hidden_or_default(hidden_dims), covariance, n_classes, transforms, flow)


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
        to train) when ``q`` is refitted in closed form on every batch; a ``q`` fitted by
        another objective than its own likelihood provides it as ``fitting_nll(x, y)`` (a
        :class:`~mist_reg.distributions.ConditionalEnsemble` fits its members each on its own)."""
        q = self.q_y_given_x
        if getattr(q, "fits_batch", False):
            return x.new_zeros(())
        fitting_nll = getattr(q, "fitting_nll", None)
        if callable(fitting_nll):
            return fitting_nll(x, y)
        return -log_prob(q, x, y).mean()

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
            # a q refitted on this batch: class codes ({1990, 1991}, -1) become indices 0..K-1, on the device
            y = class_indices(y).unsqueeze(1)
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


@register_estimator("ba", BA)
def ba(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    entropy_y: float | None = None,
    q: ConditionalKind = "gaussian",
    covariance: Covariance = "diagonal",
    n_classes: int | None = None,
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> BA:
    r"""A :class:`~mist_reg.estimators.BA` lower bound; ``entropy_y`` (``H(Y)`` in nats) is required.

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        entropy_y: ``H(Y)`` in nats, required: the bound is ``H(Y) - E[-log q(y | x)]``.
        q: The kind of ``q(y | x)``: ``"gaussian"`` (the default), ``"categorical"`` (class
            indices ``y``, with ``n_classes``) or ``"flow"`` (a conditional normalising flow,
            needs zuko).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        n_classes: The number of classes of a categorical ``q`` (``y`` then holds class
            indices).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.

    Example:
        >>> ba(2, 2, hidden_dims=[8], entropy_y=2.84).bound
        'lower'
    """
    return BA(conditional(q, x_dim, y_dim, hidden_dims, covariance, n_classes, transforms, flow), entropy_y)


@register_estimator("doe", DoE)
def doe(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    q: Literal["gaussian", "flow"] = "gaussian",
    covariance: Covariance = "diagonal",
    marginal_covariance: Covariance = "full",
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> DoE:
    r"""A :class:`~mist_reg.estimators.DoE` estimator: ``q(y | x)`` and ``q(y)`` of kind ``q``
    (the Gaussian marginal with ``marginal_covariance``).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        q: The kind of ``q(y | x)`` and ``q(y)``: ``"gaussian"`` (the default) or ``"flow"``
            (normalising flows, need zuko).
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"diagonal"``).
        marginal_covariance: The covariance of the Gaussian ``q(y)`` (``"full"`` by default).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.

    Example:
        >>> type(doe(3, 2, hidden_dims=[8], marginal_covariance="diagonal").q_y).__name__
        'LearnedGaussian'
    """
    if q not in ("gaussian", "flow"):
        raise ValueError(f"unknown density {q!r} for DoE; valid values: gaussian, flow")
    q_y_given_x = conditional(q, x_dim, y_dim, hidden_dims, covariance, None, transforms, flow)
    marginal = marginal_density(q, y_dim, hidden_or_default(hidden_dims), marginal_covariance, transforms, flow)
    return DoE(q_y_given_x, marginal)


@register_estimator("gm", GM)
def gm(
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] | None = None,
    density: Literal["gaussian", "flow"] = "gaussian",
    covariance: Covariance = "full",
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> GM:
    r"""A :class:`~mist_reg.estimators.GM` estimator: ``q(x, y)``, ``q(x)`` and ``q(y)`` of kind
    ``density`` (learned Gaussians with ``covariance``, ``"full"`` by default, or flows).

    Arguments:
        x_dim: The number of features of ``x``.
        y_dim: The number of features of ``y``.
        hidden_dims: Hidden widths of the MLPs of the densities (``(256, 256)`` by default).
        density: The kind of the three densities: ``"gaussian"`` (the default) or ``"flow"``.
        covariance: The covariance of Gaussian densities: ``"diagonal"`` or ``"full"`` (default
            ``"full"``).
        transforms: The number of flow transforms (3).
        flow: The flow: ``"maf"`` (the default) or ``"nsf"``.

    Example:
        >>> gm(3, 2, hidden_dims=[8]).bound is None
        True
    """
    hidden = hidden_or_default(hidden_dims)

    def make(dim: int):
        return marginal_density(density, dim, hidden, covariance, transforms, flow)

    return GM(make(x_dim + y_dim), make(x_dim), make(y_dim))
