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

__all__ = [
    "BatchKernel",
    "KernelConditional",
    "Whitening",
    "DEFAULT_BANDWIDTHS",
    "SAMPLES_PER_FEATURE",
    "check_kernel_settings",
    "select_width",
    "gaussian_kernel",
    "neighbour_weights",
    "leave_one_out_log_ratios",
]

SAMPLES_PER_FEATURE = 9
r"""Samples per feature from which ``whiten=None`` decorrelates (see the module documentation)."""

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


class Whitening:
    r"""The affine map to the coordinates of a batch's Gaussian model: ``z`` centred,
    scaled to unit variance and (with ``decorrelate``) decorrelated with the Cholesky
    factor of the sample correlation matrix plus ``ridge`` on its diagonal.
    ``decorrelate=None`` decorrelates when the batch holds at least
    :data:`SAMPLES_PER_FEATURE` samples per feature. Differentiable with respect to the
    batch it is fitted to.

    Example:
        >>> z = torch.randn(2000, 2) @ torch.tensor([[1.0, 0.8], [0.0, 0.3]])
        >>> w = Whitening(z)(z)
        >>> bool(torch.allclose(w.T @ w / 1999, torch.eye(2), atol=0.05))
        True
    """

    def __init__(self, z: Tensor, ridge: float = 1e-3, decorrelate: bool | None = True) -> None:
        n, d = z.shape
        self.mean, self.std = z.mean(0), z.std(0).clamp_min(1e-6)
        self.tril: Tensor | None = None
        if decorrelate is None:
            decorrelate = n >= SAMPLES_PER_FEATURE * d
        if decorrelate:
            standard = (z - self.mean) / self.std
            eye = torch.eye(d, dtype=z.dtype, device=z.device)
            self.tril = torch.linalg.cholesky(standard.T @ standard / max(n - 1, 1) + ridge * eye)

    def __call__(self, z: Tensor) -> Tensor:
        standard = (z - self.mean) / self.std
        if self.tril is None:
            return standard
        tril = self.tril.expand(*standard.shape[:-1], *self.tril.shape)
        return torch.linalg.solve_triangular(tril, standard.unsqueeze(-1), upper=False).squeeze(-1)

    def log_abs_det(self) -> Tensor:
        r"""``log |det|`` of the map's Jacobian (densities of whitened values minus this are densities of ``z``)."""
        log_det = -self.std.log().sum()
        return log_det if self.tril is None else log_det - torch.diagonal(self.tril).log().sum()


def _widths(bandwidths: Sequence[float] | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(bandwidths, dtype=like.dtype, device=like.device).reshape(-1)


def select_width(bandwidths: Sequence[float] | Tensor, likelihood: Tensor) -> Tensor:
    r"""The width of largest leave-one-out likelihood, as a one-element tensor on the
    likelihood's device (no host synchronisation in a training step).

    Example:
        >>> select_width((0.25, 0.5, 1.0), torch.tensor([-0.7, -0.6, -0.65]))
        tensor([0.5000])
    """
    return _widths(bandwidths, likelihood)[likelihood.argmax()].reshape(1)


def gaussian_kernel(
    query: Tensor, points: Tensor, bandwidths: Sequence[float] | Tensor, leave_out: bool = True
) -> Tensor:
    r"""``exp(-||q - p_j||^2 / (2 sigma_b^2))``, ``sigma_b = b sqrt(d)``, between whitened
    ``query: [..., d]`` and ``points: [N, d]``, for every width: ``[B, ..., N]``. With
    ``leave_out``, pairs of coincident points get 0 (a sample is not its own neighbour)."""
    d = points.shape[-1]
    squared = (query.pow(2).sum(-1, keepdim=True) + points.pow(2).sum(-1) - 2.0 * query @ points.T).clamp_min(0.0)
    sigmas = _widths(bandwidths, points) * d**0.5
    kernel = torch.exp(-squared.unsqueeze(0) / (2.0 * sigmas.pow(2)).view(-1, *([1] * squared.dim())))
    if leave_out:
        kernel = kernel * (squared.detach() > _COINCIDENT * d).to(kernel.dtype)
    return kernel


def neighbour_weights(kernel: Tensor, smoothing: float) -> Tensor:
    r"""The mixture weights ``(k_j + alpha / N) / (sum_l k_l + alpha)`` from kernel values
    ``[..., N]`` (see the module documentation); each row sums to 1."""
    n = kernel.shape[-1]
    return (kernel + smoothing / n) / (kernel.sum(-1, keepdim=True) + smoothing)


def _y_kernel(y: Tensor, bandwidths: Sequence[float] | Tensor, ridge: float) -> tuple[Tensor, Tensor]:
    r"""``kappa_y(y_i, y_j)`` on the batch (``[N, N]`` for class indices, ``[B, N, N]`` for
    continuous ``y``, a sample being its own match) and the log-normaliser per width that
    turns kernel units into a density of ``y`` (``[B]``, zero for class indices)."""
    if not y.is_floating_point():
        labels = class_labels(y)
        return (labels[:, None] == labels[None, :]).to(torch.float32), torch.zeros(_widths(bandwidths, y).numel())
    values = y.reshape(len(y), -1)
    whitening = Whitening(values, ridge)
    points = whitening(values)
    d = points.shape[-1]
    sigmas = _widths(bandwidths, points) * d**0.5
    normaliser = -d * sigmas.log() - 0.5 * d * math.log(2.0 * math.pi) + whitening.log_abs_det()
    return gaussian_kernel(points, points, bandwidths, leave_out=False), normaliser


def leave_one_out_log_ratios(
    x: Tensor,
    y: Tensor,
    bandwidths: Sequence[float] | Tensor,
    smoothing: float,
    ridge: float,
    whiten: bool | None = None,
) -> tuple[Tensor, Tensor]:
    r"""``log q_b(y_i | x_i) - log q_inf(y_i)`` for every width ``b`` (``[B, N]``) and the
    leave-one-out log-likelihood ``mean_i log q_b(y_i | x_i)`` of each width (``[B]``), on
    the batch ``(x, y)``. ``q_inf`` is the same model with a constant kernel on ``x``: the
    marginal of ``y`` (class frequencies, or the kernel density of ``y``). ``x`` is
    standardised, and decorrelated as ``whiten`` says (``None``: when the batch can
    estimate the correlations). Constant ``x`` (every sample the same) carries no
    information: its log-ratios are 0 (a kernel would see every pair as coincident).

    Example:
        >>> ratios, _ = leave_one_out_log_ratios(torch.ones(8, 2), torch.arange(8) % 2, (0.5,), 1.0, 1e-3)
        >>> ratios.abs().max().item()
        0.0
    """
    points = Whitening(x, ridge, decorrelate=whiten)(x)
    weights = neighbour_weights(gaussian_kernel(points, points, bandwidths), smoothing)  # [B, N, N]
    n = x.shape[0]
    others = 1.0 - torch.eye(n, dtype=x.dtype, device=x.device)
    marginal_weights = neighbour_weights(others, smoothing)  # [N, N]
    kernel_y, normaliser = _y_kernel(y, bandwidths, ridge)
    kernel_y = kernel_y.to(x.device)
    log_conditional = (weights * kernel_y).sum(-1).log()
    log_marginal = (marginal_weights * kernel_y).sum(-1).log()
    likelihood = log_conditional.detach().mean(-1) + normaliser.to(x.device)
    varies = (x != x[:1]).any()  # a tensor, not a bool: no host synchronisation
    return torch.where(varies, log_conditional - log_marginal, torch.zeros_like(log_conditional)), likelihood


def _mixture_log_density(weights: Tensor, whitened: Tensor, points: Tensor, sigma: Tensor) -> Tensor:
    d = points.shape[-1]
    squared = (whitened.pow(2).sum(-1, keepdim=True) + points.pow(2).sum(-1) - 2.0 * whitened @ points.T).clamp_min(0.0)
    log_normal = -squared / (2.0 * sigma**2) - d * sigma.log() - 0.5 * d * math.log(2.0 * math.pi)
    return torch.logsumexp(weights.log() + log_normal, dim=-1)


class _KernelMixture(Distribution):
    r"""``sum_j w_j N(W(y); W(y_j), sigma^2 I)`` read as a density of ``y`` (``W`` the whitening)."""

    arg_constraints: ClassVar[dict] = {}

    def __init__(self, weights: Tensor, fit: KernelConditional) -> None:
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
    (class-index ``y``) or a mixture over the batch's ``y`` (continuous ``y``) with batch
    shape ``[...]``.

    Arguments:
        x: The batch's ``[N, x_dim]`` features.
        y: Its ``[N]`` class indices (an integer tensor) or ``[N, y_dim]`` values.
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
        with torch.no_grad():
            _, likelihood = leave_one_out_log_ratios(x, y, bandwidths, smoothing, ridge, whiten)
        self.bandwidth = select_width(bandwidths, likelihood)
        self.smoothing = smoothing
        self.x_whitening = Whitening(x, ridge, decorrelate=whiten)
        self.x_points = self.x_whitening(x)
        self.discrete = not y.is_floating_point()
        if self.discrete:
            labels = class_labels(y)
            self.one_hot = nn.functional.one_hot(labels, int(labels.max()) + 1).to(x.dtype)
        else:
            values = y.reshape(len(y), -1)
            self.y_whitening = Whitening(values, ridge)
            self.y_points = self.y_whitening(values)

    def weights(self, x: Tensor) -> Tensor:
        r"""The mixture weights ``w_j(x)`` over the batch's samples: ``[..., N]``."""
        kernel = gaussian_kernel(self.x_whitening(x), self.x_points, self.bandwidth)[0]
        return neighbour_weights(kernel, self.smoothing)

    def __call__(self, x: Tensor) -> Distribution:
        weights = self.weights(x)
        if self.discrete:
            return Categorical(probs=weights @ self.one_hot, validate_args=False)
        return _KernelMixture(weights, self)


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
