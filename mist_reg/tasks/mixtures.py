r"""Rotated, clustered Gaussian mixtures of the joint (x, y), with a Monte Carlo truth.

``(x, y) ~ sum_c pi_c N(m_c, R_c diag(lambda) R_c^T)``: equal weights, cluster centres
``m_c ~ N(0, spread^2 I)`` and random rotations ``R_c``, all fixed by a seed. The marginals
of a Gaussian mixture are Gaussian mixtures, so ``log p(x, y) - log p(x) - log p(y)`` is exact
pointwise and its Monte Carlo mean (with standard error) is the truth.

Example:
    >>> task = ClusteredMixtureTask(dim_x=2, dim_y=2, n_clusters=3)
    >>> x, y = task.sample(4, seed=0)
    >>> x.shape, task.mutual_information > 0, task.mutual_information_se < 0.01
    (torch.Size([4, 2]), True, True)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import MultivariateNormal

from mist_reg.tasks.base import Task, _check_float, _check_int
from mist_reg.tasks.monte_carlo import monte_carlo_mean, stored_truth

__all__ = ["ClusteredMixtureTask"]


def _random_rotation(dim: int, generator: torch.Generator) -> Tensor:
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


class ClusteredMixtureTask(Task):
    r"""Joint Gaussian mixture of (x, y) with randomly rotated, elongated clusters.

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        n_clusters: Number of equally likely clusters.
        spread: Standard deviation of the cluster centres (larger: better separated clusters).
        elongation: Ratio of the largest to the smallest standard deviation within a cluster
            (the smallest is ``1 / sqrt(elongation)``, the largest ``sqrt(elongation)``).
        seed: Seed of centres and rotations.
        name: Task name (default ``"clusters-{dim_x}x{dim_y}-c{n_clusters}-s{spread}-e{elongation}"``).

    Raises:
        ValueError: On a non-positive count, spread or an elongation below 1.

    Example:
        >>> ClusteredMixtureTask(1, 1, 2, spread=0.5).name
        'clusters-1x1-c2-s0.5-e10'
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        n_clusters: int,
        spread: float = 2.0,
        elongation: float = 10.0,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        dim_x, dim_y = _check_int(dim_x, "dim_x"), _check_int(dim_y, "dim_y")
        self.n_clusters = _check_int(n_clusters, "n_clusters")
        self.spread, self.elongation = _check_float(spread, "spread"), _check_float(elongation, "elongation")
        if self.spread <= 0 or self.elongation < 1:
            raise ValueError(f"need spread > 0 and elongation >= 1, got {spread} and {elongation}")
        dim, self._split = dim_x + dim_y, dim_x
        generator = torch.Generator().manual_seed(seed)
        self.centres = torch.randn(self.n_clusters, dim, generator=generator, dtype=torch.float64) * self.spread
        stds = torch.logspace(-0.5, 0.5, dim, base=self.elongation, dtype=torch.float64)
        rotations = torch.stack([_random_rotation(dim, generator) for _ in range(self.n_clusters)])
        self.factors = rotations * stds  # cluster covariance = factor @ factor.T
        covariances = self.factors @ self.factors.mT
        self._joint = MultivariateNormal(self.centres, covariances, validate_args=False)
        self._x = MultivariateNormal(self.centres[:, :dim_x], covariances[:, :dim_x, :dim_x], validate_args=False)
        self._y = MultivariateNormal(self.centres[:, dim_x:], covariances[:, dim_x:, dim_x:], validate_args=False)
        spec = f"clusters-{dim_x}x{dim_y}-c{self.n_clusters}-s{self.spread:g}-e{self.elongation:g}"
        mi, se = stored_truth(f"{spec}-seed{seed}", lambda: monte_carlo_mean(self._information_density))
        desc = f"{self.n_clusters} rotated Gaussian clusters of (x, y), spread {self.spread:g}"
        super().__init__(name or spec, dim_x, dim_y, mi, desc, se)

    def _log_mixture(self, dist: MultivariateNormal, z: Tensor) -> Tensor:
        return torch.logsumexp(dist.log_prob(z[:, None, :]), dim=1) - math.log(self.n_clusters)

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The exact ``log p(x, y) - log p(x) - log p(y)`` of each row (float64).

        Example:
            >>> task = ClusteredMixtureTask(1, 1, 2, spread=3.0)
            >>> x, y = task.sample(20_000, seed=0)
            >>> abs(float(task.log_ratio(x, y).mean()) - task.mutual_information) < 0.03
            True
        """
        x, y = x.double(), y.double()
        joint = self._log_mixture(self._joint, torch.cat([x, y], dim=1))
        return joint - self._log_mixture(self._x, x) - self._log_mixture(self._y, y)

    def _information_density(self, generator: torch.Generator, n: int) -> Tensor:
        return self.log_ratio(*self._sample(n, generator))

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        cluster = torch.randint(self.n_clusters, (n,), generator=generator)
        noise = torch.randn(n, self.centres.shape[1], 1, generator=generator, dtype=torch.float64)
        z = self.centres[cluster] + (self.factors[cluster] @ noise).squeeze(-1)
        return z[:, : self._split], z[:, self._split :]
