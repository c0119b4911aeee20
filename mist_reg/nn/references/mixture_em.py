r"""Fitting a Gaussian mixture by expectation-maximisation, in torch.

:func:`fit_gaussian_mixture` is the density fit behind
:class:`~mist_reg.nn.references.mixture.MixtureLogRatio`: ``K`` components with weights,
means and full covariances (or, with ``tied=True``, one covariance shared by all
components: the within-component scatter pooled over them), started from k-means++ seeds
and iterated until the mean log-likelihood moves by less than ``tolerance``. Each covariance gets a floor,
``covariance_floor`` times the identity, added at every M-step: a component that
collapses onto a few samples (or onto the two values of an indicator column) would
otherwise have a singular covariance and an unbounded likelihood.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> z = torch.cat([torch.randn(500, 2) - 4, torch.randn(500, 2) + 4]).double()
    >>> mixture = fit_gaussian_mixture(z, 2)
    >>> sorted(round(float(m), 0) for m in mixture.means[:, 0])
    [-4.0, 4.0]
    >>> [round(float(w), 1) for w in mixture.log_weights.exp()]
    [0.5, 0.5]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "GaussianMixtureFit",
    "fit_gaussian_mixture",
    "mixture_log_density",
    "mixture_parameters_per_component",
    "pool_covariances",
]


@dataclass(frozen=True)
class GaussianMixtureFit:
    r"""A fitted mixture: ``log_weights: [K]``, ``means: [K, d]``, ``covariances: [K, d, d]``
    and the mean log-likelihood of the fitted samples."""

    log_weights: Tensor
    means: Tensor
    covariances: Tensor
    log_likelihood: float


def mixture_parameters_per_component(dim: int, tied: bool = False) -> int:
    r"""Free parameters of one full-covariance component in ``dim`` dimensions: a weight, a
    mean and a symmetric covariance, ``1 + dim + dim (dim + 1) / 2``; with ``tied``, a
    weight and a mean, ``1 + dim`` (the shared covariance is the Gaussian model's, which
    every ``K`` pays once).

    Example:
        >>> mixture_parameters_per_component(2), mixture_parameters_per_component(2, tied=True)
        (6, 3)
    """
    return 1 + dim + (0 if tied else dim * (dim + 1) // 2)


def _component_log_densities(z: Tensor, means: Tensor, covariances: Tensor) -> Tensor:
    r"""``[N, K]``: ``log N(z_n; mean_k, cov_k)``."""
    chol = torch.linalg.cholesky(covariances)  # [K, d, d]
    centred = z[None, :, :] - means[:, None, :]  # [K, N, d]
    solved = torch.linalg.solve_triangular(chol, centred.mT, upper=False)  # [K, d, N]
    maha = solved.square().sum(1)  # [K, N]
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # [K]
    return (-0.5 * (maha + log_det[:, None] + z.shape[1] * math.log(2 * math.pi))).T


def mixture_log_density(log_weights: Tensor, means: Tensor, covariances: Tensor, z: Tensor) -> Tensor:
    r"""``[N]``: ``log sum_k pi_k N(z_n; mean_k, cov_k)`` of a mixture with ``log_weights [K]``,
    ``means [K, d]`` and ``covariances [K, d, d]``.

    Example:
        >>> z = torch.zeros(1, 2, dtype=torch.float64)
        >>> eye = torch.eye(2, dtype=torch.float64)[None]
        >>> round(float(mixture_log_density(torch.zeros(1, dtype=torch.float64), z, eye, z)[0]), 4)  # -log(2 pi)
        -1.8379
    """
    return torch.logsumexp(_component_log_densities(z, means, covariances) + log_weights, dim=1)


def _shared_log_densities(z: Tensor, means: Tensor, covariance: Tensor) -> Tensor:
    r"""``[N, K]``: ``log N(z_n; mean_k, cov)`` for one covariance ``[d, d]`` shared by all
    components: one whitening of the rows and of the means, then ``|w - m_k|^2`` expanded,
    ``O(N d^2 + N K d)`` instead of ``O(K N d^2)``."""
    chol = torch.linalg.cholesky(covariance)
    w = torch.linalg.solve_triangular(chol, z.T, upper=False)  # [d, N]
    m = torch.linalg.solve_triangular(chol, means.T, upper=False)  # [d, K]
    maha = (w.square().sum(0)[:, None] - 2 * w.T @ m + m.square().sum(0)[None, :]).clamp_min(0.0)
    log_det = 2 * torch.log(torch.diagonal(chol)).sum()
    return -0.5 * (maha + log_det + z.shape[1] * math.log(2 * math.pi))


def _kmeans_plus_plus(z: Tensor, k: int, generator: torch.Generator) -> Tensor:
    r"""``k`` seeds drawn with probability proportional to the squared distance to the
    nearest seed already drawn."""
    first = int(torch.randint(len(z), (1,), generator=generator))
    seeds = [z[first]]
    nearest = (z - z[first]).square().sum(1)
    for _ in range(1, k):
        probabilities = nearest / nearest.sum() if float(nearest.sum()) > 0 else torch.ones_like(nearest) / len(z)
        index = int(torch.multinomial(probabilities.cpu(), 1, generator=generator))
        seeds.append(z[index])
        nearest = torch.minimum(nearest, (z - z[index]).square().sum(1))
    return torch.stack(seeds)


def _ledoit_wolf_weight(scatter: Tensor, squared_norms: Tensor, weights: Tensor) -> Tensor:
    r"""Ledoit and Wolf's (2004) weight of the scaled identity in a shrunk covariance, for the
    scatter ``S = sum_i w_i e_i e_i^T / n`` of residuals ``e_i`` with weights ``w_i`` (``[K, N]``
    each, summing to ``n`` rows): the estimated variance of ``S``'s entries,
    ``(sum_i w_i |e_i|^4 / n - |S|_F^2) / n``, over their spread about the target,
    ``|S - mu I|_F^2``, clipped to ``[0, 1]``. It grows as the dimension nears the rows, where
    the eigenvalues of ``S`` spread far beyond those of the covariance."""
    n = weights.sum()
    target = torch.diagonal(scatter).mean()
    spread = (scatter - target * torch.eye(len(scatter), dtype=scatter.dtype, device=scatter.device)).square().sum()
    variance = ((weights * squared_norms.square()).sum() / n - scatter.square().sum()) / n
    return (variance / spread.clamp_min(1e-300)).clamp(0.0, 1.0)


def _m_step(z: Tensor, responsibilities: Tensor, covariance_floor: float) -> tuple[Tensor, Tensor, Tensor]:
    counts = responsibilities.sum(0) + 1e-10  # [K]
    means = responsibilities.T @ z / counts[:, None]
    centred = z[None, :, :] - means[:, None, :]  # [K, N, d]
    weighted = centred * responsibilities.T[:, :, None]
    covariances = weighted.mT @ centred / counts[:, None, None]
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    return torch.log(counts / len(z)), means, covariances + covariance_floor * eye


def _shared_m_step(z: Tensor, responsibilities: Tensor, covariance_floor: float) -> tuple[Tensor, Tensor, Tensor]:
    r"""Weights, means and the one covariance ``[d, d]``: the scatter about each row's
    components, ``(z^T z - sum_k n_k m_k m_k^T) / N`` (the responsibilities of a row sum to
    one), shrunk by :func:`_ledoit_wolf_weight`, plus the floor."""
    counts = responsibilities.sum(0) + 1e-10  # [K]
    means = responsibilities.T @ z / counts[:, None]
    pooled = (z.T @ z - (means.T * counts) @ means) / counts.sum()
    squared_norms = (z.square().sum(1)[:, None] - 2 * z @ means.T + means.square().sum(1)[None, :]).clamp_min(0.0)
    weight = _ledoit_wolf_weight(pooled, squared_norms.T, responsibilities.T)
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    shrunk = (1 - weight) * pooled + weight * torch.diagonal(pooled).mean() * eye
    return torch.log(counts / len(z)), means, shrunk + covariance_floor * eye


def fit_gaussian_mixture(
    z: Tensor,
    n_components: int,
    covariance_floor: float = 1e-3,
    max_iterations: int = 100,
    tolerance: float = 1e-4,
    seed: int = 0,
    restarts: int = 1,
    tied: bool = False,
) -> GaussianMixtureFit:
    r"""Fits a ``n_components``-component full-covariance Gaussian mixture to ``z: [N, d]``
    by EM (see the module documentation); with ``restarts > 1``, from that many k-means++
    starts (seeds ``seed, seed + 1, ...``), keeping the fit of highest likelihood.

    Arguments:
        z: The samples (float64 recommended).
        n_components: The number of components ``K`` (``1``: the Gaussian of the sample
            moments plus the floor).
        covariance_floor: Added to the diagonal of every covariance, in the units of ``z``.
        max_iterations: The most EM iterations.
        tolerance: Stop when the mean log-likelihood improves by less than this.
        seed: Seeds the k-means++ start.
        restarts: The number of starts (at least 1). EM climbs to the nearest local
            maximum of the likelihood; from an unlucky start two clusters share one
            component while another splits one cluster, and the starts that avoid it
            reach a higher likelihood.
        tied: One covariance shared by all components (``K (1 + d)`` parameters beside
            it instead of ``K (1 + d + d (d + 1) / 2)``), shrunk towards a multiple of the
            identity by Ledoit and Wolf's weight (:func:`_ledoit_wolf_weight`): a shared
            covariance is what wide data afford, and there its sample eigenvalues spread.

    Returns:
        The :class:`GaussianMixtureFit`.

    Raises:
        ValueError: When ``n_components`` is not positive or exceeds the number of samples,
            or ``restarts`` is not positive.
    """
    n = z.shape[0]
    if not 1 <= n_components <= n:
        raise ValueError(f"n_components must lie in [1, {n}] (the number of samples), got {n_components}")
    if not restarts >= 1:
        raise ValueError(f"restarts must be a positive integer, got {restarts}")
    if n_components == 1:
        restarts = 1  # one component has one maximum: the sample moments
    fits = [
        _fit_from_start(z, n_components, covariance_floor, max_iterations, tolerance, seed + r, tied)
        for r in range(restarts)
    ]
    return max(fits, key=lambda fit: fit.log_likelihood)


def _fit_from_start(
    z: Tensor, n_components: int, covariance_floor: float, max_iterations: int, tolerance: float, seed: int, tied: bool
) -> GaussianMixtureFit:
    m_step, log_densities = (_shared_m_step, _shared_log_densities) if tied else (_m_step, _component_log_densities)
    generator = torch.Generator().manual_seed(seed)
    seeds = _kmeans_plus_plus(z, n_components, generator)
    nearest = torch.cdist(z, seeds).argmin(1)
    responsibilities = torch.nn.functional.one_hot(nearest, n_components).to(z.dtype)
    log_weights, means, covariances = m_step(z, responsibilities, covariance_floor)
    previous = -math.inf
    log_likelihood = previous
    for _ in range(max_iterations):
        joint = log_densities(z, means, covariances) + log_weights  # [N, K]
        total = torch.logsumexp(joint, 1)
        log_likelihood = float(total.mean())
        responsibilities = (joint - total[:, None]).exp()
        log_weights, means, covariances = m_step(z, responsibilities, covariance_floor)
        if log_likelihood - previous < tolerance:
            break
        previous = log_likelihood
    if tied:  # one [d, d] covariance per component, as the scoring expects
        covariances = covariances.expand(n_components, -1, -1).clone()
    return GaussianMixtureFit(log_weights, means, covariances, log_likelihood)


def pool_covariances(
    fit: GaussianMixtureFit, z: Tensor, pooling: float, covariance_floor: float = 1e-3
) -> GaussianMixtureFit:
    r"""The mixture ``fit`` with each component's covariance re-estimated as ``1 - pooling``
    times its own scatter plus ``pooling`` times the shared one (Friedman's regularised
    discriminant analysis), from ``fit``'s responsibilities on ``z: [N, d]``: one M-step.

    A shared-covariance fit (``tied``) places the components where wide data cannot be fitted
    with full covariances; clusters that differ in shape as well (and whose own covariances
    couple the coordinates differently) then keep part of their own scatter. One step from the
    shared fit's responsibilities keeps its components in place; iterating EM on from there
    lets them drift towards the few rows whose own scatter they fit, and its held-out fit was
    no better (docs/benchmarks.md, "Clusters of different shapes").

    Arguments:
        fit: The fitted mixture (typically ``tied``).
        z: The samples it was fitted to.
        pooling: The weight of the shared covariance, in ``[0, 1]``.
        covariance_floor: As in :func:`fit_gaussian_mixture`.

    Returns:
        The :class:`GaussianMixtureFit`, its ``log_likelihood`` on ``z``.

    Raises:
        ValueError: When ``pooling`` lies outside ``[0, 1]`` or ``z`` has other columns than ``fit``.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> wide = torch.randn(400, 2, dtype=torch.float64) * torch.tensor([3.0, 0.3], dtype=torch.float64)
        >>> z = torch.cat([wide - 6, wide.flip(1) + 6])  # two clusters elongated along different axes
        >>> shared = fit_gaussian_mixture(z, 2, tied=True)
        >>> pooled = pool_covariances(shared, z, 0.5)
        >>> pooled.log_likelihood > shared.log_likelihood
        True
    """
    if not 0.0 <= pooling <= 1.0:
        raise ValueError(
            f"pooling must lie in [0, 1] (0: each component's own scatter, 1: the shared one), got {pooling}"
        )
    if z.shape[1] != fit.means.shape[1]:
        raise ValueError(f"the mixture has {fit.means.shape[1]} columns, z has {z.shape[1]}")
    joint = _component_log_densities(z, fit.means, fit.covariances) + fit.log_weights
    responsibilities = (joint - torch.logsumexp(joint, 1, keepdim=True)).exp()
    log_weights, means, own = _m_step(z, responsibilities, 0.0)
    _, _, shared = _shared_m_step(z, responsibilities, 0.0)
    eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
    covariances = (1 - pooling) * own + pooling * shared + covariance_floor * eye
    log_likelihood = float(mixture_log_density(log_weights, means, covariances, z).mean())
    return GaussianMixtureFit(log_weights, means, covariances, log_likelihood)
