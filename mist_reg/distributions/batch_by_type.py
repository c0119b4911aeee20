r"""The ``q(y | x)`` a minimised estimator gets by default: refitted on every batch, its
family chosen by what ``y`` holds.

* **Class indices** (an integer ``y``: a sensitive attribute, a label): the kernel
  classifier of :class:`BatchKernel`. A Gaussian model of each class sees only means and
  covariances, and an encoder under its penalty moves the attribute into higher moments;
  the kernel classifier reads every moment.
* **Continuous values** (a floating-point ``y``): the linear-Gaussian regression of
  :class:`BatchGaussian`, for its cost: a kernel conditional density of continuous values
  (``BatchByType(values=BatchKernel())``) evaluates every pair of the batch against every
  row, tens of times the cost per step. The linear model removes every *linear* reader of
  ``y`` but not what only a non-linear reader sees (``tests/test_loss_minimize.py``), so
  for a continuous attribute :class:`mist_reg.estimators.KernelMI`
  (``MILoss("kernel")``, pairs only) is the safer penalty (``docs/miloss.md``).

Example:
    >>> import torch
    >>> q = BatchByType()
    >>> type(q.fit(torch.randn(64, 3), torch.randint(0, 2, (64,)))).__name__
    'KernelConditional'
    >>> type(q.fit(torch.randn(64, 3), torch.randn(64, 1))).__name__
    'LinearGaussianConditional'
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn
from torch.distributions import Distribution

from mist_reg.distributions.batch_gaussian import BatchGaussian, ClassConditionalPosterior, LinearGaussianConditional
from mist_reg.distributions.batch_kernel import BatchKernel, KernelConditional

__all__ = ["BatchByType"]


class BatchByType(nn.Module):
    r"""A ``q(y | x)`` refitted on every batch: :class:`BatchKernel` for class-index ``y``,
    :class:`BatchGaussian` for continuous ``y`` (see the module documentation). No
    parameters, nothing to train.

    Arguments:
        classes: The model of a class-index ``y`` (a :class:`BatchKernel` at its defaults).
        values: The model of a continuous ``y`` (a :class:`BatchGaussian` at its defaults).
    """

    fits_batch: ClassVar[bool] = True
    r"""Estimators call :meth:`fit` on each batch instead of calling the module."""

    def __init__(self, classes: BatchKernel | None = None, values: BatchGaussian | None = None) -> None:
        super().__init__()
        self.classes = classes if classes is not None else BatchKernel()
        self.values = values if values is not None else BatchGaussian()

    def fit(self, x: Tensor, y: Tensor) -> KernelConditional | ClassConditionalPosterior | LinearGaussianConditional:
        r"""The fitted ``q(y | x)`` of the batch, by the type of ``y``."""
        return (self.values if y.is_floating_point() else self.classes).fit(x, y)

    def forward(self, x: Tensor) -> Distribution:
        raise RuntimeError("BatchByType is fitted to each batch: call fit(x, y), which returns q(y | x)")
