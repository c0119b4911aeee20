r"""``q(y | x)`` as a kernel (Parzen-window) model refitted on every batch: the density of
a penalty that an encoder can neither outrun nor evade in higher moments.

:class:`BatchGaussian` refits a Gaussian model on each batch, so it cannot lag the encoder,
but it sees only the first two moments of each class: an encoder under its penalty moves
the attribute into higher moments, where a fresh nonlinear probe still reads it.
:class:`BatchKernel` keeps the refit-on-every-batch property and drops the family: its
``q(y | x_i)`` is the Nadaraya-Watson mixture over the batch's own samples,

    ``q(y | x) = sum_j w_j(x) kappa_y(y, y_j)``,
    ``w_j(x) = (k_x(x, x_j) + alpha / N) / (sum_l k_x(x, x_l) + alpha)``,

with ``kappa_y`` the point mass on ``y_j`` for class indices (a kernel classifier) and a
normalised Gaussian kernel for continuous ``y`` (a kernel conditional density), and
``alpha`` pseudo-samples of the marginal mixed in (so that an isolated ``x`` falls back to
the marginal, never to ``log 0``). A sample never counts as its own neighbour: kernel
values between coincident points are zero (leave-one-out), so ``q(y_i | x_i)`` on the
batch is a held-out prediction.

* **Coordinates.** ``x`` is standardised on the batch (centred and scaled to unit
  variance per feature, differentiably), as a fresh probe's inputs are, so that no feature
  dominates the distances by its units alone, and decorrelated (:class:`Whitening`) when
  the batch can estimate the correlations. Whitened, no direction of ``x`` can be made
  small enough for the kernel to miss while a linear reader could still amplify it. But
  whitening gives every direction the same weight, including those the batch cannot
  estimate: with ``N`` samples of ``d`` features the smallest eigenvalues of a sample
  correlation matrix are pulled down by noise to about ``(1 - sqrt(d / N))^2``
  (Marchenko-Pastur), and whitening amplifies those noise directions by the inverse
  square root, without bound as ``d`` approaches ``N``, where they drown the distances
  (measured on the digits fairness case, 64 features from batches of 64: the whitened
  kernel saw 0.01 nats where a fresh probe read 0.57, the standardised one 0.06-0.15, and
  only the latter lowered the probe's accuracy; on UCI Adult, 8 features from batches of
  256, whitening did better). ``whiten=None`` (the default) decorrelates when the batch
  has at least ``SAMPLES_PER_FEATURE`` (9) samples per feature, that is when noise
  amplifies no direction by more than ``1 / (1 - 1/3) = 1.5``; ``True`` or ``False``
  force the choice. A continuous ``y`` is always whitened (its density is read in those
  coordinates, with the Jacobian of the map).
* **Scale.** Gaussian kernels ``exp(-||u - v||^2 / (2 sigma^2))``, ``sigma = b sqrt(d)``
  (whitened points lie about ``sqrt(2 d)`` apart); of the widths ``b`` in ``bandwidths``
  the fit keeps the one with the largest leave-one-out log-likelihood
  ``mean_i log q(y_i | x_i)`` on the batch, the textbook way of choosing a kernel
  density's bandwidth. For continuous ``y`` the kernel on ``y`` has the same ``b``.

The gradient that reaches the encoder includes how every neighbourhood moves with the
features: to lower a bound built on this ``q`` the encoder must make each sample's
neighbourhood look like the whole batch, in every moment and at the selected scale.
What it cannot see is structure finer than its narrowest kernel on the batch size it is
given (kernel density estimation in ``d`` dimensions needs many samples): judge a
penalty with :func:`mist_reg.attribute_leakage` on held-out features.

Cost and synchronisation (:class:`KernelFit`). The pairwise squared distances are
computed once; the width is chosen on them without a graph, from the leave-one-out sums
``a_i``, ``b_i`` of every width (no ``[N, N]`` division: the mixture weights are never
formed), and only the kernel of the chosen width is differentiated. Classes are compared
sample to sample (``[y_i = y_j]``), so that neither the number of classes nor their codes
is read on the host: a training step that fits this model makes no host-device
synchronisation (no ``.item()``, ``.tolist()``, ``nonzero`` or boolean-mask indexing),
and any integer codes are classes (negative ones, ``{1990, 1991}``, joint codes of
``[N, k]`` columns). Only ``q(x)`` as a :class:`~torch.distributions.Categorical` over
class indices reads the class count (``int(y.max()) + 1``).

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(512, 2); y = (x.norm(dim=1) > 1.2).long()   # a ring: same class means
    >>> q = BatchKernel().fit(x, y)
    >>> accuracy = (q(x).probs.argmax(1) == y).float().mean()   # held-out (leave-one-out)
    >>> bool(accuracy > 0.9)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution

from mist_reg.distributions.batch_gaussian import class_labels
from mist_reg.distributions.whitening import SAMPLES_PER_FEATURE, Whitening

__all__ = [
    "BatchKernel",
    "KernelConditional",
    "KernelFit",
    "Whitening",
    "DEFAULT_BANDWIDTHS",
    "SAMPLES_PER_FEATURE",
    "check_kernel_settings",
    "select_width",
    "gaussian_kernel",
    "neighbour_weights",
    "class_matches",
]

DEFAULT_BANDWIDTHS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
r"""Kernel widths in units of ``sqrt(d)``: ``0.25`` sees only near neighbours, ``2``
almost the whole batch."""

_COINCIDENT = 1e-4
r"""Whitened points closer than ``sqrt(_COINCIDENT * d)`` count as the same point."""


def check_kernel_settings(
    bandwidths: Sequence[float], smoothing: float, ridge: float, whiten: bool | None = None
) -> tuple[tuple[float, ...], float, float, bool | None]:
    r"""The settings of a kernel model, validated (see :class:`BatchKernel`).

    Example:
        >>> check_kernel_settings([0.5, 1], 1, 1e-3)
        ((0.5, 1.0), 1.0, 0.001, None)
        >>> check_kernel_settings([0.5], 1, 1e-3, whiten="yes")
        Traceback (most recent call last):
        ...
        ValueError: whiten must be True, False or None (decide by the samples per feature), got 'yes'
    """
    widths = tuple(float(b) for b in bandwidths)
    if not widths or not all(b > 0 and math.isfinite(b) for b in widths):
        raise ValueError(f"bandwidths must be a non-empty sequence of positive numbers, got {list(bandwidths)}")
    if not smoothing > 0:
        raise ValueError(f"smoothing must be positive, got {smoothing}")
    if not ridge > 0:
        raise ValueError(f"ridge must be positive, got {ridge}")
    if whiten is not None and not isinstance(whiten, bool):
        raise ValueError(f"whiten must be True, False or None (decide by the samples per feature), got {whiten!r}")
    return widths, float(smoothing), float(ridge), whiten


def _widths(bandwidths: Sequence[float] | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(bandwidths, dtype=like.dtype, device=like.device).reshape(-1)


def select_width(bandwidths: Sequence[float] | Tensor, likelihood: Tensor) -> Tensor:
    r"""The width of largest leave-one-out likelihood, as a one-element tensor on the
    likelihood's device (no host synchronisation in a training step).

    Example:
        >>> select_width((0.25, 0.5, 1.0), torch.tensor([-0.7, -0.6, -0.65]))
        tensor([0.5000])
    """
    return _widths(bandwidths, likelihood).gather(0, likelihood.argmax().reshape(1))


def _squared_distances(query: Tensor, points: Tensor) -> Tensor:
    return (query.pow(2).sum(-1, keepdim=True) + points.pow(2).sum(-1) - 2.0 * query @ points.T).clamp_min(0.0)


def _scaled(squared: Tensor, sigmas: Tensor) -> Tensor:
    r"""``squared / (2 sigma^2)`` for every width: ``[B, *squared.shape]``."""
    return squared.unsqueeze(0) / (2.0 * sigmas.pow(2)).view(-1, *([1] * squared.dim()))


def _kernels_by_width(squared: Tensor, bandwidths: Sequence[float], d: int) -> Tensor:
    r"""``exp(-squared / (2 (b sqrt(d))^2))`` for every width ``b``: ``[B, *squared.shape]``,
    without a graph. A width ``2^-m`` times the next wider one gives that kernel to the power
    ``4^m``: ``2m`` squarings instead of an ``exp`` (the default widths differ by factors of 2)."""
    kernels = squared.new_empty(len(bandwidths), *squared.shape)
    wider: tuple[float, int] | None = None
    for i in sorted(range(len(bandwidths)), key=lambda i: -bandwidths[i]):
        b = bandwidths[i]
        squarings = 2 * math.log2(wider[0] / b) if wider is not None else 0.5
        if wider is not None and squarings == round(squarings) and 0 < squarings <= 8:
            kernels[i] = kernels[wider[1]]
            for _ in range(round(squarings)):
                kernels[i].mul_(kernels[i])
        else:
            torch.exp(squared * (-0.5 / (b * b * d)), out=kernels[i])
        wider = (b, i)
    return kernels


def gaussian_kernel(
    query: Tensor, points: Tensor, bandwidths: Sequence[float] | Tensor, leave_out: bool = True
) -> Tensor:
    r"""``exp(-||q - p_j||^2 / (2 sigma_b^2))``, ``sigma_b = b sqrt(d)``, between whitened
    ``query: [..., d]`` and ``points: [N, d]``, for every width: ``[B, ..., N]``. With
    ``leave_out``, pairs of coincident points get 0 (a sample is not its own neighbour)."""
    d = points.shape[-1]
    squared = _squared_distances(query, points)
    if leave_out:
        squared = squared.masked_fill(squared.detach() <= _COINCIDENT * d, math.inf)
    return torch.exp(-_scaled(squared, _widths(bandwidths, points) * d**0.5))


def neighbour_weights(kernel: Tensor, smoothing: float) -> Tensor:
    r"""The mixture weights ``(k_j + alpha / N) / (sum_l k_l + alpha)`` from kernel values
    ``[..., N]`` (see the module documentation); each row sums to 1."""
    n = kernel.shape[-1]
    return (kernel + smoothing / n) / (kernel.sum(-1, keepdim=True) + smoothing)


def class_matches(a: Tensor, b: Tensor) -> Tensor:
    r"""``[y_i = y'_j]`` between integer codes ``a: [N]`` (or ``[N, k]``: all ``k`` codes
    equal) and ``b: [M]`` (or ``[M, k]``), as ``[N, M]`` float32; any codes, read on the device.

    Example:
        >>> class_matches(torch.tensor([1990, -1, 1990]), torch.tensor([-1, 1990]))
        tensor([[0., 1.],
                [1., 0.],
                [0., 1.]])
    """
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return (a[:, None, :] == b[None, :, :]).all(-1).to(torch.float32)


class KernelFit:
    r"""The leave-one-out kernel model of one batch at the width of largest leave-one-out
    likelihood: the sums from which every quantity of the module documentation follows,

        ``a_i = sum_j k_x(x_i, x_j) kappa_y(y_i, y_j)``, ``b_i = sum_j k_x(x_i, x_j)``,
        ``c_i = sum_j kappa_y(y_i, y_j)``,

    (``k_x`` zero between coincident points, ``kappa_y`` one at ``j = i``), so that
    ``q(y_i | x_i) = (a_i + alpha c_i / N) / (b_i + alpha)`` and the marginal
    ``q_inf(y_i) = (c_i - 1 + alpha c_i / N) / (N - 1 + alpha)``. The widths are compared on
    the detached distances (one ``[B, N, N]`` pass without a graph); the kernel of the
    chosen width is differentiable with respect to ``x`` and a continuous ``y``. No host
    synchronisation.

    Arguments:
        x: ``[N, x_dim]`` features.
        y: ``[N]`` / ``[N, k]`` integer class codes (any values; ``k`` columns: joint
            classes) or ``[N, y_dim]`` floating-point values.
        bandwidths: As for :class:`BatchKernel`.
        smoothing: As for :class:`BatchKernel`.
        ridge: As for :class:`BatchKernel`.
        whiten: As for :class:`BatchKernel`.

    Example:
        >>> x = torch.randn(300, 2); y = (x[:, 0] > 0).long()
        >>> fit = KernelFit(x, y, DEFAULT_BANDWIDTHS, 1.0, 1e-3)
        >>> bool(fit.log_ratios().mean() > 0.4)          # of log 2 = 0.69
        True
        >>> fit.likelihood.shape, fit.bandwidth.shape
        (torch.Size([4]), torch.Size([1]))
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        bandwidths: Sequence[float] | Tensor,
        smoothing: float,
        ridge: float,
        whiten: bool | None = None,
    ) -> None:
        n, d = x.shape
        self.n, self.smoothing = n, smoothing
        self.x_whitening = Whitening(x, ridge, decorrelate=whiten)
        self.x_points = self.x_whitening(x)
        points = self.x_points
        squared = torch.addmm(points.pow(2).sum(-1, keepdim=True) + points.pow(2).sum(-1), points, points.T, alpha=-2.0)
        squared = squared.masked_fill(squared.detach() <= _COINCIDENT * d, math.inf)  # not its own neighbour
        widths = _widths(bandwidths, x)
        listed = [float(b) for b in bandwidths] if not isinstance(bandwidths, Tensor) else None
        self.discrete = not y.is_floating_point()
        if self.discrete:
            self.labels = y.reshape(n, -1)
            y_kernel = class_matches(self.labels, self.labels).to(x.dtype)
            y_kernels, normalisers = y_kernel, torch.zeros_like(widths)
        else:
            values = y.reshape(n, -1)
            self.y_whitening = Whitening(values, ridge)
            self.y_points = self.y_whitening(values)
            y_squared = _squared_distances(self.y_points, self.y_points)
            dy = values.shape[1]
            y_sigmas = widths * dy**0.5
            normalisers = -dy * y_sigmas.log() - 0.5 * dy * math.log(2.0 * math.pi)
            normalisers = normalisers + self.y_whitening.log_abs_det().detach()
            with torch.no_grad():  # the same widths as on x: squarings instead of exps
                y_kernels = (
                    _kernels_by_width(y_squared.detach(), listed, dy)
                    if listed is not None
                    else torch.exp(-_scaled(y_squared.detach(), y_sigmas))
                )
        with torch.no_grad():  # every width, without a graph: choose one
            if listed is not None:
                kernels = _kernels_by_width(squared.detach(), listed, d)
            else:
                kernels = torch.exp(-_scaled(squared.detach(), widths * d**0.5))
            self.likelihood = (
                self._log_conditional((kernels * y_kernels).sum(-1), kernels.sum(-1), y_kernels.sum(-1)).mean(-1)
                + normalisers
            )
        index = self.likelihood.argmax().reshape(1)
        self.bandwidth = widths.gather(0, index)
        r"""The chosen width ``b`` (a one-element tensor)."""
        self.kernel = torch.exp(squared * (-0.5 / (d * self.bandwidth.pow(2))))
        r"""``k_x`` on the batch at the chosen width: ``[N, N]``, differentiable."""
        if not self.discrete:
            y_kernel = torch.exp(-y_squared / (2.0 * (self.bandwidth * dy**0.5).pow(2)))
            self.normaliser = normalisers.gather(0, index)[0]
        self.y_kernel = y_kernel
        r"""``kappa_y`` on the batch: ``[N, N]`` (class matches, or the kernel of the chosen width)."""
        self.own, self.total = (self.kernel * y_kernel).sum(-1), self.kernel.sum(-1)
        self.count = y_kernel.sum(-1)
        self.varies = (x != x[:1]).any()  # a tensor, not a bool: no host synchronisation

    def _log_conditional(self, own: Tensor, total: Tensor, count: Tensor) -> Tensor:
        return torch.log(own + self.smoothing * count / self.n) - torch.log(total + self.smoothing)

    def log_conditional(self) -> Tensor:
        r"""``log q(y_i | x_i)`` (held out: without sample ``i``) in units of ``kappa_y``: ``[N]``."""
        return self._log_conditional(self.own, self.total, self.count)

    def log_marginal(self) -> Tensor:
        r"""``log q_inf(y_i)``, the same model with a constant kernel on ``x``: ``[N]``."""
        n, alpha = self.n, self.smoothing
        return torch.log(self.count - 1.0 + alpha * self.count / n) - math.log(n - 1 + alpha)

    def log_ratios(self) -> Tensor:
        r"""``log q(y_i | x_i) - log q_inf(y_i)``: ``[N]``; 0 when ``x`` is constant (every
        pair coincident, no information)."""
        ratios = self.log_conditional() - self.log_marginal()
        return torch.where(self.varies, ratios, torch.zeros_like(ratios))


def _mixture_log_density(weights: Tensor, whitened: Tensor, points: Tensor, sigma: Tensor) -> Tensor:
    d = points.shape[-1]
    log_normal = (
        -_squared_distances(whitened, points) / (2.0 * sigma**2) - d * sigma.log() - 0.5 * d * math.log(2.0 * math.pi)
    )
    return torch.logsumexp(weights.log() + log_normal, dim=-1)


class _KernelMixture(Distribution):
    r"""``sum_j w_j N(W(y); W(y_j), sigma^2 I)`` read as a density of ``y`` (``W`` the whitening)."""

    arg_constraints: ClassVar[dict] = {}

    def __init__(self, weights: Tensor, fit: KernelFit) -> None:
        self.weights, self.fit = weights, fit
        super().__init__(weights.shape[:-1], fit.y_points.shape[-1:], validate_args=False)

    def log_prob(self, value: Tensor) -> Tensor:
        fit = self.fit
        sigma = fit.bandwidth * fit.y_points.shape[-1] ** 0.5
        whitened = fit.y_whitening(value)
        return _mixture_log_density(self.weights, whitened, fit.y_points, sigma) + fit.y_whitening.log_abs_det()


class KernelConditional:
    r"""``q(y | x)`` of the kernel model fitted to a batch (see :class:`BatchKernel`).

    Calling it with ``x: [..., x_dim]`` returns a :class:`~torch.distributions.Categorical`
    over class indices ``0 .. max(y)`` (class-index ``y``; reads the class count on the
    host) or a mixture over the batch's ``y`` (continuous ``y``) with batch shape
    ``[...]``. :meth:`pairwise_log_prob` evaluates every pair of a class-index ``y`` in
    closed form and without host synchronisation (what CLUB and L1OUT use).

    Arguments:
        x: The batch's ``[N, x_dim]`` features.
        y: Its ``[N]`` class codes (an integer tensor) or ``[N, y_dim]`` values.
        bandwidths: As for :class:`BatchKernel`.
        smoothing: As for :class:`BatchKernel`.
        ridge: As for :class:`BatchKernel`.
        whiten: As for :class:`BatchKernel`.
    """

    broadcasts_context: ClassVar[bool] = True

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        bandwidths: Sequence[float],
        smoothing: float,
        ridge: float,
        whiten: bool | None = None,
    ) -> None:
        self.fit = KernelFit(x, y, bandwidths, smoothing, ridge, whiten)
        self.bandwidth, self.smoothing, self.discrete = self.fit.bandwidth, smoothing, self.fit.discrete
        self.x_whitening, self.x_points = self.fit.x_whitening, self.fit.x_points
        self._batch = (x, y)
        if not self.discrete:
            self.y_whitening, self.y_points = self.fit.y_whitening, self.fit.y_points

    @property
    def pairs_in_closed_form(self) -> bool:
        r"""Whether :meth:`pairwise_log_prob` evaluates all pairs itself (class-index ``y``)."""
        return self.discrete

    def weights(self, x: Tensor) -> Tensor:
        r"""The mixture weights ``w_j(x)`` over the batch's samples: ``[..., N]``."""
        kernel = gaussian_kernel(self.x_whitening(x), self.x_points, self.bandwidth)[0]
        return neighbour_weights(kernel, self.smoothing)

    def pairwise_log_prob(self, x: Tensor, y: Tensor) -> Tensor:
        r"""``log q(y_j | x_i)`` for every pair: ``[N, M]`` from ``x: [N, x_dim]`` and class
        codes ``y: [M]`` (or ``[M, 1]``), a class absent from the batch at ``log`` of the
        smallest float. On the batch the model was fitted to, the fit's own kernel is
        reused. Each class's kernel mass is gathered in one ``index_add`` into a slot per
        class (the index of its first sample), so no class count is needed."""
        fit = self.fit
        if not self.discrete:
            raise ValueError("pairwise_log_prob in closed form is for class-index y; this q models continuous y")
        slot_of_sample = fit.y_kernel.argmax(1)  # the first sample of each sample's class
        if x is self._batch[0] and y is self._batch[1]:
            # the batch's kernel is symmetric: its rows are its columns, read contiguously
            columns, total, slot, present = fit.kernel, fit.total, slot_of_sample, None
        else:
            kernel = gaussian_kernel(self.x_whitening(x), self.x_points, self.bandwidth)[0]
            matches = class_matches(y.reshape(y.shape[0], -1), fit.labels).to(kernel.dtype)
            columns, total = kernel.T, kernel.sum(-1)
            slot, present = slot_of_sample.index_select(0, matches.argmax(1)), matches.amax(1)
        # kernel mass of each class at every x_i, one row per slot: [N, N_x]
        mass = torch.zeros_like(columns).index_add_(0, slot_of_sample, columns)
        count = fit.count.index_select(0, slot)  # c_j of the first sample of the class: its size
        numerator = mass.index_select(0, slot) + (self.smoothing / fit.n) * count.unsqueeze(-1)  # [M, N_x]
        if present is not None:  # a class absent from the batch: probability 0, at log of the smallest float
            numerator = (numerator * present.unsqueeze(-1)).clamp_min(torch.finfo(numerator.dtype).tiny)
        return (torch.log(numerator) - torch.log(total + self.smoothing)).T

    def __call__(self, x: Tensor) -> Distribution:
        weights = self.weights(x)
        if self.discrete:
            labels = class_labels(self.fit.labels)
            one_hot = nn.functional.one_hot(labels, int(labels.max()) + 1).to(weights.dtype)
            return Categorical(probs=weights @ one_hot, validate_args=False)
        return _KernelMixture(weights, self.fit)


class BatchKernel(nn.Module):
    r"""A kernel ``q(y | x)`` fitted to each batch (see the module documentation). It has
    no parameters and nothing to train.

    Arguments:
        bandwidths: Kernel widths in units of ``sqrt(d)`` of the standardised features;
            the fit keeps the one with the largest leave-one-out likelihood.
        smoothing: ``alpha``, pseudo-samples of the marginal in every neighbourhood.
        ridge: Added to the diagonal of the correlation matrices before whitening.
        whiten: Decorrelate ``x`` too; ``None``: when the batch has at least
            :data:`SAMPLES_PER_FEATURE` samples per feature (see the module documentation).
    """

    fits_batch: ClassVar[bool] = True
    r"""Estimators call :meth:`fit` on each batch instead of calling the module."""

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

    def fit(self, x: Tensor, y: Tensor) -> KernelConditional:
        r"""The kernel ``q(y | x)`` of the batch ``(x, y)``, differentiable with respect to
        both: a kernel classifier for integer ``y`` (``[N]`` or ``[N, 1]``), a kernel
        conditional density for floating-point ``y``."""
        if x.shape[0] < 3:
            raise ValueError(f"a kernel model needs a batch of at least 3 samples, got {x.shape[0]}")
        return KernelConditional(x, y, self.bandwidths, self.smoothing, self.ridge, self.whiten)

    def forward(self, x: Tensor) -> Distribution:
        raise RuntimeError("BatchKernel is fitted to each batch: call fit(x, y), which returns q(y | x)")

    def extra_repr(self) -> str:
        return f"bandwidths={self.bandwidths}, smoothing={self.smoothing}, ridge={self.ridge}, whiten={self.whiten}"
