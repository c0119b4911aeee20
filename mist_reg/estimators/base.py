r"""The estimator contract shared by every mutual-information estimator of mist_reg.

An estimator is an :class:`torch.nn.Module` with three entry points:

* ``forward(x, y)``: the scalar loss an optimiser minimises to fit the estimator;
* ``mutual_information(x, y)``: the estimate in nats on a batch, differentiable w.r.t.
  ``x`` and ``y`` where the bound allows (what :class:`mist_reg.MILoss` uses);
* ``terms(x, y)``: the same estimate as :class:`mist_reg.bounds.BoundTerms`, which
  :func:`mist_reg.evaluate_mi` accumulates over a data set.

The class attribute ``bound`` says which way the estimate errs: ``"lower"``, ``"upper"``
or ``None`` (no guarantee).

Inputs are ``[N, x_dim]`` and ``[N, y_dim]``; rows are samples of the joint distribution.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from mist_reg.bounds import BoundTerms
from mist_reg.checks import check_inputs

__all__ = ["MIEstimator", "BoundDirection"]

BoundDirection = Literal["lower", "upper"] | None


class MIEstimator(nn.Module):
    r"""Base class of every estimator (see the module documentation for the contract)."""

    bound: ClassVar[BoundDirection] = None

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The training loss on a batch (minimised by :func:`mist_reg.train_mi_estimator`)."""
        return -self.mutual_information(x, y)

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        r"""The estimate on a batch, decomposed for accumulation over many batches."""
        raise NotImplementedError

    def mutual_information(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The estimate of ``I(X; Y)`` in nats on a batch: a differentiable scalar."""
        return self.terms(x, y).value()

    @staticmethod
    def check_inputs(x: Tensor, y: Tensor, min_samples: int = 1) -> None:
        r"""Raises an error naming the problem when ``x`` and ``y`` are not ``[N, d]``
        floating-point tensors with the same ``N`` (at least ``min_samples``) on one device
        (the rules of :func:`mist_reg.checks.check_inputs`)."""
        check_inputs(x, y, min_samples)

    def extra_repr(self) -> str:
        return f"bound={self.bound!r}"


def float32_scores(*scores: Tensor) -> tuple[Tensor, ...]:
    r"""Casts scores to float32: bounds are computed in full precision even under autocast
    (``logsumexp`` does not upcast bf16 and ``exp`` overflows fp16)."""
    return tuple(s.float() for s in scores)


def autocast_disabled(device: torch.device):
    r"""A context in which autocast is off on ``device``, for the bound arithmetic."""
    return torch.autocast(device_type=device.type, enabled=False)
