r"""``q(y | x)`` refitted in closed form on every batch: the density of a penalty that an
encoder cannot outrun.

A learned ``q`` (an MLP) lags the encoder it measures: between two of its steps the
encoder moves the features, and descending an upper bound computed with a *frozen* ``q``
rewards the encoder for moving each sample to where ``q`` is wrong (CLUB's per-sample term
``log q(y_i | x_i) - E_j log q(y_j | x_i)`` has no lower limit in ``x`` for a fixed
``q``). The attribute stays in the features, readable by any fresh probe.

:class:`BatchGaussian` removes both causes. It has no parameters: :meth:`BatchGaussian.fit`
computes the maximum-likelihood Gaussian model of the batch it is given, as a
differentiable function of that batch, and returns ``q(y | x)``. An estimator that calls
it (:class:`~mist_reg.estimators.CLUB`, :class:`~mist_reg.estimators.L1OUT`, ...)
always uses the best ``q`` of the family for the current features, and the gradient
that reaches the encoder includes how ``q`` moves with them.

* **Class indices** ``y`` (an integer tensor): the class-conditional Gaussians
  ``x | y = k ~ N(mu_k, Sigma_k)`` with the batch's class frequencies; ``q(y | x)`` is
  their posterior (quadratic discriminant analysis). Each class covariance is shrunk
  towards the pooled one with the Ledoit-Wolf weight, so that a class with few samples in
  a batch, or classes that do not differ, take the pooled shape (regularised discriminant
  analysis).
* **Continuous** ``y``: the linear-Gaussian regression ``y | x ~ N(A x + b, Sigma)``
  fitted by least squares (CLUB with it is ``sum_k rho_k^2 / (1 - rho_k^2)`` over the
  canonical correlations of the batch).

Both fits first standardise ``x`` and ``y`` on the batch, so that a representation cannot
shrink the attribute away: every statistic of the model is invariant to rescaling each
coordinate. Covariances of the standardised features are shrunk towards the identity with
the weight of ``d`` samples (``d`` their dimension): with a batch of ``N >> d`` this is
the sample covariance, and with ``N`` near ``d`` (wide features, small batches) it keeps
the log-determinants finite and their gradients meaningful instead of fitting noise.

What the family cannot see: dependence beyond the first two moments of each class (or
beyond the linear regression for continuous ``y``). Judge a penalty with
:func:`mist_reg.attribute_leakage` or a fresh estimator, not with its own value.

Example:
    >>> import torch
    >>> x = torch.randn(256, 3); y = (x[:, 0] > 0).long()
    >>> q = BatchGaussian().fit(x, y)
    >>> posterior = q(x)                        # a Categorical over the two classes
    >>> bool((posterior.probs.argmax(1) == y).float().mean() > 0.9)
    True
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, MultivariateNormal

__all__ = [
    "BatchGaussian",
    "ClassConditionalPosterior",
    "LinearGaussianConditional",
    "JointGaussian",
    "gaussian_log_density",
    "check_model_settings",
    "class_labels",
    "class_indices",
]


def check_model_settings(ridge: float, pooling: float | None) -> tuple[float, float | None]:
    r"""``ridge`` and ``pooling`` of a Gaussian model, validated (see :class:`BatchGaussian`)."""
    if not ridge >= 0:
        raise ValueError(f"ridge must be non-negative, got {ridge}")
    if pooling is not None and not pooling >= 0:
        raise ValueError(f"pooling must be non-negative or None, got {pooling}")
    return float(ridge), pooling


def class_labels(y: Tensor) -> Tensor:
    r"""Integer ``y`` of shape ``[N]`` or ``[N, 1]`` as ``[N]`` int64 class indices, with
    clear errors for other shapes and negative values."""
    if not (y.dim() == 1 or (y.dim() == 2 and y.shape[1] == 1)):
        raise ValueError(f"class indices y must be [N] or [N, 1], got {tuple(y.shape)}")
    labels = y.reshape(-1).long()
    if int(labels.min()) < 0:
        raise ValueError(f"class indices must be >= 0, got {int(labels.min())}")
    return labels


def class_indices(codes: Tensor) -> Tensor:
    r"""Integer class codes ``[N]`` or ``[N, 1]`` (any values) as indices ``0 .. K-1`` in
    the order of the codes, computed on the device by a sort (no host synchronisation,
    unlike :func:`torch.unique`).

    Example:
        >>> class_indices(torch.tensor([1991, -1, 1990, 1991]))
        tensor([2, 0, 1, 2])
    """
    flat = codes.reshape(-1)
    ordered, order = flat.sort()
    starts = torch.cat([torch.ones_like(ordered[:1], dtype=torch.bool), ordered[1:] != ordered[:-1]])
    return torch.empty_like(order).scatter_(0, order, starts.long().cumsum(0) - 1)


_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(z: Tensor, mean: Tensor, scale_tril: Tensor) -> Tensor:
    r"""``log N(z; mean, L L^T)`` for ``z: [..., d]`` (broadcast against ``mean`` and the
    Cholesky factor ``scale_tril``)."""
    solved = torch.linalg.solve_triangular(scale_tril, (z - mean).unsqueeze(-1), upper=False).squeeze(-1)
    log_det = torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * solved.pow(2).sum(-1) - log_det - 0.5 * z.shape[-1] * _LOG_2PI


def _standardise(z: Tensor) -> Tensor:
    return (z - z.mean(0)) / z.std(0).clamp_min(1e-6)


def _covariance(centred: Tensor, count: int) -> Tensor:
    return centred.T @ centred / max(count - 1, 1)


def _shrunk(scatter: Tensor, dof: int) -> Tensor:
    r"""The covariance of standardised features from a scatter matrix of ``dof`` degrees of
    freedom, shrunk towards the identity with the weight of ``d`` samples (the posterior
    mean under an inverse-Wishart prior centred on independence): close to the sample
    covariance when ``dof >> d``, well-conditioned when ``dof`` is about ``d`` or less,
    where the sample covariance is singular and its log-determinant is noise."""
    d = scatter.shape[0]
    eye = torch.eye(d, dtype=scatter.dtype, device=scatter.device)
    return (scatter + d * eye) / (max(dof, 0) + d)


def _ledoit_wolf_intensity(centred: Tensor, covariance: Tensor, target: Tensor) -> Tensor:
    r"""The weight in ``[0, 1]`` of ``target`` in the shrunk ``covariance`` of the rows of
    ``centred`` (Ledoit and Wolf's estimate of the best weight: the sampling variance of
    the covariance's entries over their squared distance to the target), detached: the
    weight is a choice of the fit, not a path for gradients."""
    m = centred.shape[0]
    with torch.no_grad():
        row_norms = centred.pow(2).sum(1)
        spread = (row_norms.pow(2) - 2 * ((centred @ covariance) * centred).sum(1)).mean() + covariance.pow(2).sum()
        distance = (covariance - target).pow(2).sum()
        return (spread / (m * distance.clamp_min(torch.finfo(centred.dtype).tiny))).clamp(0.0, 1.0)


class ClassConditionalPosterior:
    r"""``q(y = k | x)`` of class-conditional Gaussians fitted to a batch (see
    :class:`BatchGaussian`); classes absent from the batch get probability 0.

    The fit on standardised features: each class covariance is ``a_k W + (1 - a_k) S_k``
    (``W`` the pooled within-class covariance, ``S_k`` the class's sample covariance,
    ``a_k`` the Ledoit-Wolf weight, or ``pooling / (m_k - 1 + pooling)`` for a fixed
    ``pooling``), shrunk towards the identity with the weight of ``d`` samples, the same
    for every class, so that directions without variance cancel; the overall covariance is the law of total covariance of that mixture,
    ``Sigma = sum_k p_k Sigma_k + sum_k p_k mu_k mu_k^T``. With one class ``Sigma_1 =
    Sigma`` and :meth:`information` is 0; with several it is never negative (``log det``
    is concave) and it is capped at the entropy of the batch's classes.

    Arguments:
        x: The batch's ``[N, x_dim]`` features (not standardised).
        y: Its ``[N]`` class indices.
        ridge: Added to the diagonal of every standardised covariance.
        pooling: The weight, in samples, of the pooled covariance in each class's
            (``None``: the Ledoit-Wolf weight).
    """

    broadcasts_context: ClassVar[bool] = True

    def __init__(self, x: Tensor, y: Tensor, ridge: float, pooling: float | None = None) -> None:
        n, d = x.shape
        self.mean, self.std = x.mean(0), x.std(0).clamp_min(1e-6)
        z = (x - self.mean) / self.std
        n_classes = int(y.max()) + 1
        counts = torch.bincount(y, minlength=n_classes).tolist()
        eye = torch.eye(d, dtype=z.dtype, device=z.device)
        parts = {k: z[y == k] for k in range(n_classes) if counts[k] > 0}
        means = {k: part.mean(0) for k, part in parts.items()}
        centred = {k: part - means[k] for k, part in parts.items()}
        dof = max(n - len(parts), 1)
        pooled = sum(c.T @ c for c in centred.values()) / dof
        to_identity = d / (dof + d)  # the same for every class: directions of no variance cancel in I_G
        log_prior, class_means, covariances = [], [], []
        for k in range(n_classes):
            if k not in parts:  # absent from the batch: probability 0
                log_prior.append(torch.tensor(-math.inf, dtype=z.dtype, device=z.device))
                class_means.append(torch.zeros(d, dtype=z.dtype, device=z.device))
                covariances.append(eye)
                continue
            m = counts[k]
            if m < 2:
                weight = torch.ones((), dtype=z.dtype, device=z.device)
                sample = pooled
            else:
                sample = centred[k].T @ centred[k] / (m - 1)
                if pooling is None:
                    weight = _ledoit_wolf_intensity(centred[k], sample, pooled)
                else:
                    weight = torch.tensor(pooling / (m - 1 + pooling) if pooling > 0 else 0.0, dtype=z.dtype)
            log_prior.append(torch.tensor(math.log(m / n), dtype=z.dtype, device=z.device))
            class_means.append(means[k])
            shrunk = weight * pooled + (1 - weight) * sample
            covariances.append((1 - to_identity) * shrunk + (to_identity + ridge) * eye)
        self.log_prior = torch.stack(log_prior)
        stacked = torch.stack(covariances)
        present = torch.isfinite(self.log_prior)
        p = self.log_prior[present].exp()
        within = (p[:, None, None] * stacked[present]).sum(0)
        self.class_means = torch.stack(class_means)
        centres = self.class_means[present] - (p[:, None] * self.class_means[present]).sum(0)
        between = (p[:, None, None] * centres[:, :, None] * centres[:, None, :]).sum(0)
        self.overall_tril = torch.linalg.cholesky(within + between)  # all classes together
        self.scale_trils = torch.linalg.cholesky(stacked)

    def class_log_densities(self, x: Tensor) -> Tensor:
        r"""``log N(z; mu_k, Sigma_k)`` of the standardised ``x: [..., d]`` for every class: ``[..., K]``."""
        z = (x - self.mean) / self.std
        return gaussian_log_density(z.unsqueeze(-2), self.class_means, self.scale_trils)

    def information(self) -> Tensor:
        r"""``I_G = 1/2 log det Sigma - sum_k p_k 1/2 log det Sigma_k`` of the fit, in closed
        form, clamped to ``H(Y) = -sum_k p_k log p_k`` (no information about ``y`` exceeds
        its entropy; a Gaussian of well-separated classes would). The clamp holds the value
        only: the gradient is that of ``I_G``, so that a penalty keeps separating classes
        that are still separable instead of receiving no gradient."""
        half_log_dets = torch.log(torch.diagonal(self.scale_trils, dim1=-2, dim2=-1)).sum(-1)
        overall = torch.log(torch.diagonal(self.overall_tril)).sum()
        present = torch.isfinite(self.log_prior)
        p = self.log_prior[present].exp()
        information = overall - (p * half_log_dets[present]).sum()
        excess = (information - -(p * self.log_prior[present]).sum()).clamp_min(0.0)
        return information - excess.detach()

    def overall_log_density(self, x: Tensor) -> Tensor:
        r"""``log N(z; 0, Sigma)`` of the standardised ``x``, the Gaussian of all classes together."""
        z = (x - self.mean) / self.std
        return gaussian_log_density(z, torch.zeros((), dtype=z.dtype, device=z.device), self.overall_tril)

    def __call__(self, x: Tensor) -> Categorical:
        return Categorical(logits=self.log_prior + self.class_log_densities(x), validate_args=False)


class LinearGaussianConditional:
    r"""``q(y | x) = N(A x + b, Sigma)`` fitted by least squares to a batch (see
    :class:`BatchGaussian`).

    Arguments:
        x: The batch's ``[N, x_dim]`` features.
        y: Its ``[N, y_dim]`` continuous values.
        ridge: Added to the diagonal of the standardised covariance of ``x`` and to the
            residual covariance.
    """

    broadcasts_context: ClassVar[bool] = True

    def __init__(self, x: Tensor, y: Tensor, ridge: float) -> None:
        n, dx = x.shape
        self.x_mean, self.x_std = x.mean(0), x.std(0).clamp_min(1e-6)
        self.y_mean, self.y_std = y.mean(0), y.std(0).clamp_min(1e-6)
        a, b = (x - self.x_mean) / self.x_std, (y - self.y_mean) / self.y_std
        eye_x = torch.eye(dx, dtype=a.dtype, device=a.device)
        coefficients = torch.linalg.solve(
            _shrunk(a.T @ a, n - 1) + ridge * eye_x, _covariance_cross(a, b, n)
        )  # [dx, dy]
        residual = b - a @ coefficients
        eye_y = torch.eye(b.shape[1], dtype=b.dtype, device=b.device)
        self.coefficients = coefficients
        self.scale_tril = torch.linalg.cholesky(_covariance(residual, n) + ridge * eye_y)
        self.log_scale = self.y_std.log().sum()

    def __call__(self, x: Tensor) -> Distribution:
        loc = ((x - self.x_mean) / self.x_std) @ self.coefficients
        return _ScaledNormal(MultivariateNormal(loc, scale_tril=self.scale_tril, validate_args=False), self)


def _covariance_cross(a: Tensor, b: Tensor, count: int) -> Tensor:
    return a.T @ b / max(count - 1, 1)


class _ScaledNormal(Distribution):
    r"""The Gaussian of standardised ``y`` read as a density of ``y`` itself."""

    arg_constraints: ClassVar[dict] = {}

    def __init__(self, base: MultivariateNormal, fit: LinearGaussianConditional) -> None:
        self.base, self.fit = base, fit
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def log_prob(self, value: Tensor) -> Tensor:
        return self.base.log_prob((value - self.fit.y_mean) / self.fit.y_std) - self.fit.log_scale


class JointGaussian:
    r"""The Gaussian of the standardised ``[x, y]`` fitted to a batch, with its marginals:
    :meth:`log_ratio` is ``log N(x, y) - log N(x) - log N(y)`` per sample, whose mean over
    the batch it was fitted to is ``-1/2 sum_k log(1 - rho_k^2)`` (canonical correlations).

    Arguments:
        x: ``[N, x_dim]`` features.
        y: ``[N, y_dim]`` continuous values.
        ridge: Added to the diagonal of the correlation matrix.
    """

    def __init__(self, x: Tensor, y: Tensor, ridge: float) -> None:
        joint = torch.cat([x, y], dim=1)
        self.mean, self.std, self.x_dim = joint.mean(0), joint.std(0).clamp_min(1e-6), x.shape[1]
        z = (joint - self.mean) / self.std
        eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
        covariance = _shrunk(z.T @ z, len(z) - 1) + ridge * eye
        d = self.x_dim
        self.trils = (
            torch.linalg.cholesky(covariance),
            torch.linalg.cholesky(covariance[:d, :d]),
            torch.linalg.cholesky(covariance[d:, d:]),
        )

    def information(self) -> Tensor:
        r"""``1/2 (log det Sigma_x + log det Sigma_y - log det Sigma)`` of the fit, in closed form."""
        joint, tril_x, tril_y = (torch.log(torch.diagonal(t)).sum() for t in self.trils)
        return tril_x + tril_y - joint

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        z = (torch.cat([x, y], dim=1) - self.mean) / self.std
        zero = torch.zeros((), dtype=z.dtype, device=z.device)
        joint, tril_x, tril_y = self.trils
        d = self.x_dim
        return (
            gaussian_log_density(z, zero, joint)
            - gaussian_log_density(z[:, :d], zero, tril_x)
            - gaussian_log_density(z[:, d:], zero, tril_y)
        )


class BatchGaussian(nn.Module):
    r"""A family of Gaussian ``q(y | x)`` fitted in closed form to each batch (see the
    module documentation). It has no parameters and nothing to train.

    Arguments:
        ridge: Added to the diagonal of the standardised (correlation-scale) covariances.
    """

    fits_batch: ClassVar[bool] = True
    r"""Estimators call :meth:`fit` on each batch instead of calling the module."""

    def __init__(self, ridge: float = 1e-3, pooling: float | None = None) -> None:
        super().__init__()
        self.ridge, self.pooling = check_model_settings(ridge, pooling)

    def fit(self, x: Tensor, y: Tensor) -> ClassConditionalPosterior | LinearGaussianConditional:
        r"""The ``q(y | x)`` of the Gaussian model of the batch ``(x, y)``, differentiable
        with respect to both: a posterior over classes for integer ``y`` (``[N]`` or
        ``[N, 1]``), a linear-Gaussian regression for floating-point ``y``."""
        if x.shape[0] < 3:
            raise ValueError(f"a Gaussian model needs a batch of at least 3 samples, got {x.shape[0]}")
        if not y.is_floating_point():
            return ClassConditionalPosterior(x, class_labels(y), self.ridge, self.pooling)
        return LinearGaussianConditional(x, y.reshape(len(y), -1), self.ridge)

    def forward(self, x: Tensor) -> Distribution:
        raise RuntimeError("BatchGaussian is fitted to each batch: call fit(x, y), which returns q(y | x)")

    def extra_repr(self) -> str:
        return f"ridge={self.ridge}, pooling={self.pooling}"
