r"""Normalising flows from zuko (the ``flows`` extra): conditional ``q(y | x)``, marginal
``q(y)`` and joint ``q(x, y)`` (a flow over the concatenation ``[x, y]``).

zuko is imported only when a flow is built; without it :func:`require_zuko` raises an
``ImportError`` that says how to install it. A flow is a zuko ``LazyDistribution``:
``flow(x)`` (or ``flow()`` when unconditional) returns a distribution, which is all the
estimators ask of a density.

Example:
    >>> import torch
    >>> q = conditional_flow(x_dim=3, y_dim=2, hidden_dims=[16], transforms=2)
    >>> q(torch.randn(8, 3)).log_prob(torch.randn(8, 2)).shape
    torch.Size([8])
    >>> marginal_flow(dim=2, hidden_dims=[16])().log_prob(torch.randn(8, 2)).shape
    torch.Size([8])
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Literal

from torch import nn

__all__ = ["FLOW_KINDS", "FlowKind", "require_zuko", "conditional_flow", "marginal_flow", "joint_flow"]

FlowKind = Literal["maf", "nsf"]
FLOW_KINDS: tuple[str, ...] = ("maf", "nsf")

INSTALL_HINT = "pip install mist_reg[flows]"


def require_zuko() -> ModuleType:
    r"""Imports and returns ``zuko.flows``, or raises an ``ImportError`` naming the extra to
    install."""
    try:
        import zuko.flows
    except ImportError as error:
        raise ImportError(
            f"normalising-flow densities need the zuko package, which is not installed; install it with `{INSTALL_HINT}`"
        ) from error
    return zuko.flows


def _flow(features: int, context: int, hidden_dims: Sequence[int], transforms: int, kind: str) -> nn.Module:
    if kind not in FLOW_KINDS:
        raise ValueError(f"unknown flow kind {kind!r}; valid kinds: {', '.join(FLOW_KINDS)}")
    if not isinstance(transforms, int) or transforms < 1:
        raise ValueError(f"transforms must be a positive integer, got {transforms!r}")
    flows = require_zuko()
    factory = flows.MAF if kind == "maf" else flows.NSF
    return factory(features, context, transforms=transforms, hidden_features=tuple(hidden_dims))


def conditional_flow(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] = (64, 64), transforms: int = 3, kind: FlowKind = "maf"
) -> nn.Module:
    r"""A flow ``q(y | x)``: ``q(x)`` returns the distribution of ``y`` given ``x``.

    Arguments:
        x_dim: The size of the context ``x``.
        y_dim: The size of ``y``.
        hidden_dims: The hidden widths of each transform's network.
        transforms: The number of autoregressive transforms.
        kind: ``"maf"`` (affine, Papamakarios et al., 2017) or ``"nsf"`` (rational-quadratic
            splines, Durkan et al., 2019).
    """
    return _flow(y_dim, x_dim, hidden_dims, transforms, kind)


def marginal_flow(
    dim: int, hidden_dims: Sequence[int] = (64, 64), transforms: int = 3, kind: FlowKind = "maf"
) -> nn.Module:
    r"""An unconditional flow ``q(z)`` over ``dim`` features: ``q()`` returns the distribution."""
    return _flow(dim, 0, hidden_dims, transforms, kind)


def joint_flow(
    x_dim: int, y_dim: int, hidden_dims: Sequence[int] = (64, 64), transforms: int = 3, kind: FlowKind = "maf"
) -> nn.Module:
    r"""An unconditional flow ``q(x, y)`` over the concatenation ``[x, y]``."""
    return marginal_flow(x_dim + y_dim, hidden_dims, transforms, kind)
