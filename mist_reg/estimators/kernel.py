r"""A kernel (Parzen-window) estimate of mutual information refitted on every batch:
:class:`KernelMI`, a penalty for minimising with :class:`mist_reg.MILoss` that no
encoder can hide from in higher moments and that has no adversary to outrun.

On a batch of ``N`` pairs, with a kernel ``k_x`` on ``x`` and ``k_y`` on ``y``
(``k_y(y_i, y_j) = [y_i = y_j]`` for class indices), the leave-one-out sums

    ``a_i = sum_{j != i} k_x(x_i, x_j) k_y(y_i, y_j)``, ``b_i = sum_{j != i} k_x(x_i, x_j)``,
    ``c_i = sum_{j != i} k_y(y_i, y_j)``

give the Nadaraya-Watson estimate ``a_i / b_i`` of the density of ``y_i`` given ``x_i`` and
``c_i / (N - 1)`` of its marginal density (both in units of the ``y`` kernel, which cancel;
for class indices these are the kernel classifier's ``q(y_i | x_i)`` and the class
frequency). The estimate is the mean over the batch of the log-ratio

    ``log [(a_i + alpha pi_i) / (b_i + alpha)] - log [(c_i + alpha pi_i) / (N - 1 + alpha)]``,

smoothed by ``alpha`` pseudo-samples of the prior ``pi_i = (c_i + 1) / N``. It is 0 when
``k_x`` is constant (constant features included), and it is a consistent plug-in estimate of ``I(X; Y)`` as the batch
grows and the bandwidth shrinks (Moon et al., "Estimation of mutual information using
kernel density estimators", Phys. Rev. E 1995). Leave-one-out makes it the held-out
log-likelihood gain of a kernel classifier (or regressor) of ``y`` from ``x`` over the
prior, which is also how the bandwidth is chosen: of the Gaussian kernels
``exp(-||u - v||^2 / (2 sigma^2))`` with ``sigma = b sqrt(d)`` for ``b`` in
``bandwidths``, the estimate keeps the one with the largest leave-one-out likelihood
(the largest estimate). ``x`` is first standardised on the batch, so that rescaling a
feature changes nothing, and decorrelated when the batch has at least 9 samples per
feature (:class:`~mist_reg.distributions.batch_kernel.Whitening`), which makes the
estimate invariant to every invertible linear map of ``x``; with fewer samples per
feature whitening would give the directions the batch cannot estimate as much weight as
the informative ones (see :mod:`mist_reg.distributions.batch_kernel`).

As a penalty. Everything is recomputed from the batch and differentiated through, so the
encoder cannot win by making a model wrong: to lower the estimate it must make every
sample's neighbourhood, at the selected scale, look like the whole batch. Unlike the
Gaussian model (:class:`~mist_reg.estimators.GaussianMI`), a kernel of a few scales sees
dependence in any moment, as a nonlinear probe does; unlike a two-sample penalty (MMD)
it is in nats and applies to continuous ``y`` too. Its limits are those of kernel
density estimation: with ``d`` large and ``N`` small it sees only the coarse structure
(the widest kernels), and it costs ``O(N^2 d)`` per batch. Judge a penalty with
:func:`mist_reg.attribute_leakage` on held-out features, never with its own value.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> s = torch.randint(0, 2, (512,))
    >>> z = torch.randn(512, 4)
    >>> z[:, 0] = torch.where(s.bool(), z[:, 0].abs(), -z[:, 0].abs())  # S in a sign, same moments
    >>> estimator = KernelMI()
    >>> bool(estimator.mutual_information(z, s) > 0.3)  # of log 2 = 0.69
    True
    >>> bool(estimator.mutual_information(torch.randn(512, 4), s).abs() < 0.05)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from torch import Tensor

from mist_reg.distributions.batch_kernel import DEFAULT_BANDWIDTHS, KernelFit, check_kernel_settings
from mist_reg.estimators.base import MIEstimator, autocast_disabled
from mist_reg.estimators.generative import check_generative_inputs
from mist_reg.estimators.registry import register_estimator
from mist_reg.functional.bounds import BoundTerms

__all__ = ["KernelMI", "kernel"]


class KernelMI(MIEstimator):
    r"""The leave-one-out kernel estimate of ``I(X; Y)`` on each batch (see the module
    documentation). It has no parameters and nothing to train.

    Arguments:
        bandwidths: Kernel widths in units of ``sqrt(d)`` of the whitened features; the
            one with the largest leave-one-out likelihood is used. For continuous ``y``
            the kernel on ``y`` has the same width (in its own units) as the one on ``x``.
        smoothing: ``alpha``, the pseudo-samples of the marginal mixed into every
            neighbourhood (keeps isolated samples at the marginal instead of at ``log 0``).
        ridge: Added to the diagonal of the correlation matrices before whitening.
        whiten: Decorrelate ``x`` as well as standardising it (invariant to any
            invertible linear map of ``x``, but blind in as many dimensions as the batch
            has samples); ``None``: when the batch has at least 9 samples per feature
            (see :mod:`mist_reg.distributions.batch_kernel`).
    """

    bound: ClassVar = None
    min_samples: ClassVar[int] = 3
    accepts_class_labels: ClassVar[bool] = True

    def __init__(
        self,
        bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
        smoothing: float = 1.0,
        ridge: float = 1e-3,
        whiten: bool | None = None,
    ) -> None:
        super().__init__()
        self.bandwidths, self.smoothing, self.ridge, self.whiten = check_kernel_settings(
            bandwidths, smoothing, ridge, whiten
        )

    def terms(self, x: Tensor, y: Tensor) -> BoundTerms:
        x, y = check_generative_inputs(x, y, self.min_samples)
        with autocast_disabled(x.device):
            # the width is chosen on detached distances; only that width is differentiated
            fit = KernelFit(x, y, self.bandwidths, self.smoothing, self.ridge, self.whiten)
            return BoundTerms(fit.log_ratios())

    def extra_repr(self) -> str:
        return f"bandwidths={self.bandwidths}, smoothing={self.smoothing}, ridge={self.ridge}, whiten={self.whiten}"


@register_estimator("kernel", KernelMI)
def kernel(
    x_dim: int,
    y_dim: int,
    bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS,
    smoothing: float = 1.0,
    ridge: float = 1e-3,
    whiten: bool | None = None,
) -> KernelMI:
    r"""A :class:`~mist_reg.estimators.KernelMI`: the leave-one-out kernel estimate of the
    mutual information of each batch (class-index ``y`` as an integer tensor). ``x_dim``
    and ``y_dim`` are accepted like every factory's; the estimator has no parameters.

    Example:
        >>> import torch
        >>> estimator = kernel(x_dim=3, y_dim=1)
        >>> z, s = torch.randn(256, 3), torch.randint(0, 2, (256,))
        >>> bool(estimator.mutual_information(z, s).abs() < 0.1)
        True
    """
    return KernelMI(bandwidths, smoothing, ridge, whiten)
