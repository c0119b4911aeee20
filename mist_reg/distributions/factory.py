r"""Building densities by name, for the estimator factories.

Example:
    >>> q = conditional_density("gaussian", x_dim=3, y_dim=2, hidden_dims=[16])
    >>> type(q).__name__
    'ConditionalGaussian'
    >>> conditional_density("mixture", 3, 2)
    Traceback (most recent call last):
    ...
    ValueError: unknown conditional density 'mixture'; valid values: gaussian, categorical, flow, batch_gaussian, batch_kernel, batch
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

from mist_reg.distributions.batch_by_type import BatchByType
from mist_reg.distributions.batch_gaussian import BatchGaussian
from mist_reg.distributions.batch_kernel import BatchKernel
from mist_reg.distributions.conditional_categorical import ConditionalCategorical
from mist_reg.distributions.conditional_gaussian import ConditionalGaussian, Covariance
from mist_reg.distributions.flows import FlowKind, conditional_flow, marginal_flow
from mist_reg.distributions.gaussian import LearnedGaussian

__all__ = ["CONDITIONAL_DENSITIES", "MARGINAL_DENSITIES", "conditional_density", "marginal_density"]

CONDITIONAL_DENSITIES: tuple[str, ...] = ("gaussian", "categorical", "flow", "batch_gaussian", "batch_kernel", "batch")
MARGINAL_DENSITIES: tuple[str, ...] = ("gaussian", "flow")


def conditional_density(
    kind: Literal["gaussian", "categorical", "flow", "batch_gaussian", "batch_kernel", "batch"] | nn.Module,
    x_dim: int,
    y_dim: int,
    hidden_dims: Sequence[int] = (64, 64),
    covariance: Covariance = "diagonal",
    n_classes: int | None = None,
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> nn.Module:
    r"""A density ``q(y | x)`` by name; a module is returned unchanged.

    Arguments:
        kind: ``"gaussian"`` (:class:`ConditionalGaussian` with ``covariance``),
            ``"categorical"`` (:class:`ConditionalCategorical`, needs ``n_classes`` and
            ``y_dim == 1``), ``"flow"`` (a zuko flow of ``transforms`` transforms of kind
            ``flow``), ``"batch_gaussian"`` (:class:`BatchGaussian`, refitted in closed
            form on every batch: class-conditional Gaussians for class-index ``y``, a
            linear-Gaussian regression for continuous ``y``; nothing to train) or
            ``"batch_kernel"`` (:class:`BatchKernel`, a leave-one-out kernel model of
            the batch: a kernel classifier for class-index ``y``, a kernel conditional
            density for continuous ``y``; nothing to train) or ``"batch"``
            (:class:`BatchByType`: the kernel classifier for class-index ``y``, the
            linear-Gaussian regression for continuous ``y``; the default of a minimised
            :class:`~mist_reg.MILoss`).
    """
    if isinstance(kind, nn.Module):
        return kind
    if kind == "gaussian":
        return ConditionalGaussian(x_dim, y_dim, hidden_dims, covariance)
    if kind == "categorical":
        if n_classes is None:
            raise ValueError("a categorical q(y|x) needs n_classes, the number of values of y")
        if y_dim != 1:
            raise ValueError(f"a categorical q(y|x) models one class index per sample, so y_dim must be 1, got {y_dim}")
        return ConditionalCategorical(x_dim, n_classes, hidden_dims)
    if kind == "flow":
        return conditional_flow(x_dim, y_dim, hidden_dims, transforms, flow)
    if kind == "batch_gaussian":
        return BatchGaussian()
    if kind == "batch_kernel":
        return BatchKernel()
    if kind == "batch":
        return BatchByType()
    raise ValueError(f"unknown conditional density {kind!r}; valid values: {', '.join(CONDITIONAL_DENSITIES)}")


def marginal_density(
    kind: Literal["gaussian", "flow"] | nn.Module,
    dim: int,
    hidden_dims: Sequence[int] = (64, 64),
    covariance: Covariance = "full",
    transforms: int = 3,
    flow: FlowKind = "maf",
) -> nn.Module:
    r"""An unconditional density ``q(z)`` over ``dim`` features by name (also the joint
    ``q(x, y)`` with ``dim = x_dim + y_dim``); a module is returned unchanged.

    Arguments:
        kind: ``"gaussian"`` (a learned Gaussian), ``"flow"`` (a zuko flow) or a module.
        dim: The number of features.
        hidden_dims: Hidden widths of a flow's networks.
        covariance: The covariance of a Gaussian: ``"full"`` or ``"diagonal"``.
        transforms: The number of flow transforms.
        flow: The flow: ``"maf"`` or ``"nsf"``.

    Returns:
        The density, untrained; calling it with no argument gives the distribution.

    Raises:
        ValueError: For an unknown ``kind``.

    Example:
        >>> marginal_density("gaussian", 3)().event_shape
        torch.Size([3])
        >>> marginal_density("mixture", 3)
        Traceback (most recent call last):
        ...
        ValueError: unknown marginal density 'mixture'; valid values: gaussian, flow
    """
    if isinstance(kind, nn.Module):
        return kind
    if kind == "gaussian":
        return LearnedGaussian(dim, covariance)
    if kind == "flow":
        return marginal_flow(dim, hidden_dims, transforms, flow)
    raise ValueError(f"unknown marginal density {kind!r}; valid values: {', '.join(MARGINAL_DENSITIES)}")
