r"""The mutual-information term of :class:`~mist_reg.MILoss` as a pure function:
:func:`mi_term` (estimator, features, direction, weight) -> (term, estimate), with no
hooks, no state and no optimiser, so that it can be tested and composed on its own.

Example:
    >>> import torch
    >>> from mist_reg.estimators.kernel import KernelMI
    >>> z, s = torch.randn(128, 3, requires_grad=True), torch.randint(0, 2, (128,))
    >>> term, estimate = mi_term(KernelMI(), z, s, direction="minimize", weight=2.0)
    >>> bool(torch.allclose(term, 2.0 * estimate)), estimate.requires_grad
    (True, False)
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call

from mist_reg.estimators.base import MIEstimator

__all__ = ["mi_term", "Direction"]

Direction = Literal["maximize", "minimize"]


class _ScaleGradient(torch.autograd.Function):
    r"""Identity in the forward pass; multiplies the gradient by ``factor`` in the backward."""

    @staticmethod
    def forward(ctx, t: Tensor, factor: float) -> Tensor:
        ctx.factor = factor
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.factor, None


def _scale_gradient(t: Tensor, factor: float) -> Tensor:
    if factor == 1.0 or not t.requires_grad:
        return t
    return _ScaleGradient.apply(t, factor)


class _MutualInformationCall(nn.Module):
    r"""Calls ``estimator.mutual_information`` as ``forward``, for :func:`torch.func.functional_call`."""

    def __init__(self, estimator: MIEstimator) -> None:
        super().__init__()
        self.estimator = estimator

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.estimator.mutual_information(x, y)


def frozen_estimate(estimator: MIEstimator, x: Tensor, y: Tensor) -> Tensor:
    r"""``estimator.mutual_information(x, y)`` with the estimator's parameters detached:
    gradients reach ``x`` and ``y`` only.

    Example:
        >>> from mist_reg.estimators.kernel import KernelMI
        >>> frozen_estimate(KernelMI(), torch.randn(16, 2), torch.randn(16, 1)).shape
        torch.Size([])
    """
    if not torch.is_grad_enabled():
        return estimator.mutual_information(x, y)
    frozen = {f"estimator.{name}": p.detach() for name, p in estimator.named_parameters()}
    return functional_call(_MutualInformationCall(estimator), frozen, (x, y))


def mi_term(
    estimator: MIEstimator,
    x: Tensor,
    y: Tensor,
    *,
    direction: Direction = "minimize",
    weight: float = 1.0,
    fit: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""The term to add to a loss for ``I(x; y)`` and the detached estimate.

    ``direction="minimize"``: the value is ``weight * I_hat``, computed with the
    estimator's parameters frozen (the encoder cannot train the estimator to say less);
    ``direction="maximize"``: ``-weight * I_hat``, and an estimator whose training loss is
    its own objective (``shares_objective``) is evaluated once, the encoder's gradient
    scaled by ``weight``. With ``fit``, the estimator's own training loss on detached
    features is added with value 0 and only its gradient, so one ``backward`` fits it at
    unit scale while the returned value stays exactly ``+-weight * I_hat`` (an estimator
    without trainable parameters, refitted on every batch, is evaluated once).

    Arguments:
        estimator: The :class:`~mist_reg.estimators.MIEstimator`.
        x: ``[N, d_x]`` features.
        y: ``[N, d_y]`` features, or ``[N]`` class indices (an integer tensor).
        direction: ``"maximize"`` or ``"minimize"``.
        weight: The non-negative weight for the encoder.
        fit: Add the estimator's training gradient (``False`` in evaluation).

    Returns:
        ``(term, estimate)``: the float32 scalar to add to the loss and the detached
        float32 estimate in nats.

    Raises:
        ValueError: On a direction other than ``"maximize"`` or ``"minimize"``.

    Example:
        >>> from mist_reg.estimators.gaussian_model import GaussianMI
        >>> z = torch.randn(256, 2, requires_grad=True)
        >>> term, estimate = mi_term(GaussianMI(), z, z[:, :1].detach(), direction="minimize")
        >>> term.backward(); bool(z.grad[:, 0].abs().sum() > 0)
        True
    """
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    if direction == "maximize" and estimator.shares_objective:
        loss, estimate = estimator.loss_and_estimate(_scale_gradient(x, weight), _scale_gradient(y, weight))
        term = loss + (-weight * estimate.detach() - loss).detach()
    else:
        estimate = frozen_estimate(estimator, x, y)
        term = (1.0 if direction == "minimize" else -1.0) * weight * estimate
        if fit and torch.is_grad_enabled() and any(p.requires_grad for p in estimator.parameters()):
            own = estimator(x.detach(), y.detach())
            term = term + (own - own.detach())
    return term.float(), estimate.detach().float()
