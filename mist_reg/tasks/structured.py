r"""Structured dependence beyond copulas: periodic, additive sharp noise, a sparse signal among
outlier coordinates, and two wide noisy views of one low-dimensional latent.

* :class:`PeriodicTask`: ``y_i = sin(w x_i) + noise * eps_i`` (truth by quadrature);
* :class:`AdditiveUniformTask`: ``y = x + u`` with uniform x and uniform noise (closed form);
* :class:`SparseSignalTask`: a few correlated Gaussian pairs hidden among independent
  heavy-tailed coordinates (closed form);
* :func:`two_views`: ``x = A s + noise``, ``y = B s + noise`` for a Gaussian latent ``s``
  (closed-form Gaussian MI).

Example:
    >>> round(AdditiveUniformTask(dim=3, half_width=0.1).mutual_information, 4)
    5.1283
    >>> x, y = PeriodicTask(dim=2, frequency=4.0).sample(3, seed=0)
    >>> x.shape, y.shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float, _check_int
from mist_reg.tasks.gaussian import GaussianTask

__all__ = ["PeriodicTask", "periodic_mutual_information", "AdditiveUniformTask", "SparseSignalTask", "two_views"]


@functools.lru_cache(maxsize=64)
def periodic_mutual_information(frequency: float, noise: float, n_x: int = 4_001, n_y: int = 801) -> float:
    r"""``I(x; sin(w x) + noise * eps)`` for one standard normal ``x``, by trapezoidal quadrature.

    ``p(y) = E_x N(y; sin(w x), noise^2)`` is integrated on ``n_x`` points of ``[-8, 8]``,
    then ``h(y) = -int p log p`` on ``n_y`` points of ``[-1 - 8 noise, 1 + 8 noise]``;
    the truth is ``h(y) - log(noise * sqrt(2 pi e))``.

    Arguments:
        frequency: ``w`` (> 0).
        noise: Noise standard deviation (> 0).
        n_x: Quadrature points in x.
        n_y: Quadrature points in y.

    Returns:
        The mutual information in nats.

    Example:
        >>> abs(periodic_mutual_information(1.0, 0.3) - periodic_mutual_information(1.0, 0.3, 32_001, 4_001)) < 1e-6
        True
    """
    xs = torch.linspace(-8, 8, n_x, dtype=torch.float64)
    weights = torch.exp(-0.5 * xs**2) / math.sqrt(2 * math.pi) * (xs[1] - xs[0])
    weights[[0, -1]] *= 0.5
    centres = torch.sin(frequency * xs)
    ys = torch.linspace(-1 - 8 * noise, 1 + 8 * noise, n_y, dtype=torch.float64)
    density = torch.zeros(n_y, dtype=torch.float64)
    for start in range(0, n_y, 256):
        block = ys[start : start + 256, None] - centres[None, :]
        density[start : start + 256] = (torch.exp(-0.5 * (block / noise) ** 2) * weights).sum(1)
    density /= noise * math.sqrt(2 * math.pi)
    entropy = -torch.trapezoid(torch.where(density > 0, density * density.clamp_min(1e-300).log(), 0.0), ys)
    return entropy.item() - math.log(noise * math.sqrt(2 * math.pi * math.e))


class PeriodicTask(Task):
    r"""``x ~ N(0, I_d)`` and ``y_i = sin(frequency * x_i) + noise * eps_i``, coordinate by coordinate.

    Arguments:
        dim: Dimension of x and of y.
        frequency: ``w``: more periods over the bulk of x as it grows.
        noise: Noise standard deviation.
        name: Task name (default ``"periodic-{dim}x{dim}-w{frequency}-n{noise}"``).

    Example:
        >>> task = PeriodicTask(3, 2.0, 0.3)
        >>> task.mutual_information == 3 * periodic_mutual_information(2.0, 0.3)
        True
    """

    def __init__(self, dim: int, frequency: float, noise: float = 0.3, name: str | None = None) -> None:
        dim = _check_int(dim, "dim")
        self.frequency, self.noise = _check_float(frequency, "frequency"), _check_float(noise, "noise")
        if self.frequency <= 0 or self.noise <= 0:
            raise ValueError(f"frequency and noise must be positive, got {frequency} and {noise}")
        mi = dim * periodic_mutual_information(self.frequency, self.noise)
        name = name or f"periodic-{dim}x{dim}-w{self.frequency:g}-n{self.noise:g}"
        desc = f"y = sin({self.frequency:g} x) + {self.noise:g} noise per coordinate, standard normal x"
        super().__init__(name, dim, dim, mi, desc)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, self.dim_x, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, self.dim_x, generator=generator, dtype=torch.float64)
        return x, torch.sin(self.frequency * x) + self.noise * eps


class AdditiveUniformTask(Task):
    r"""``x ~ U(0, 1)^d`` and ``y = x + u`` with ``u ~ U(-h, h)^d``: sharp, flat-topped densities.

    Per coordinate the sum of uniforms of widths ``a <= b`` has entropy ``log b + a / (2 b)``,
    so the MI is ``d * (h - log 2h)`` for ``2h <= 1`` and ``d / (4h)`` otherwise.

    Arguments:
        dim: Dimension of x and of y.
        half_width: ``h`` (> 0).
        name: Task name (default ``"additive-{dim}x{dim}-h{half_width}"``).

    Example:
        >>> AdditiveUniformTask(2, 1.0).mutual_information
        0.5
    """

    def __init__(self, dim: int, half_width: float, name: str | None = None) -> None:
        dim = _check_int(dim, "dim")
        self.half_width = _check_float(half_width, "half_width")
        if self.half_width <= 0:
            raise ValueError(f"half_width must be positive, got {half_width}")
        h = self.half_width
        per_coordinate = h - math.log(2 * h) if 2 * h <= 1 else 1 / (4 * h)
        name = name or f"additive-{dim}x{dim}-h{h:g}"
        super().__init__(name, dim, dim, dim * per_coordinate, f"y = x + U(-{h:g}, {h:g}) noise, x ~ U(0, 1)")

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.rand(n, self.dim_x, generator=generator, dtype=torch.float64)
        u = torch.rand(n, self.dim_x, generator=generator, dtype=torch.float64)
        return x, x + self.half_width * (2 * u - 1)


class SparseSignalTask(Task):
    r"""``n_signal`` correlated Gaussian pairs (correlation ``rho``) among independent Student-t
    coordinates (``df`` degrees of freedom), columns shuffled by a fixed permutation.

    The outlier coordinates are independent of everything, so the MI is the Gaussian pairs':
    ``-n_signal / 2 * log(1 - rho^2)``.

    Arguments:
        dim_x: Dimension of x (>= n_signal).
        dim_y: Dimension of y (>= n_signal).
        n_signal: Number of correlated pairs.
        rho: Their correlation, ``|rho| < 1``.
        df: Degrees of freedom of the outlier coordinates (1 is Cauchy).
        seed: Seed of the column permutations.
        name: Task name (default ``"sparse-outliers-{dim_x}x{dim_y}-s{n_signal}-r{rho}"``).

    Example:
        >>> round(SparseSignalTask(25, 25, 2, 0.6).mutual_information, 4)
        0.4463
    """

    def __init__(
        self,
        dim_x: int,
        dim_y: int,
        n_signal: int,
        rho: float,
        df: float = 1.0,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        dim_x, dim_y = _check_int(dim_x, "dim_x"), _check_int(dim_y, "dim_y")
        self.n_signal = _check_int(n_signal, "n_signal")
        if self.n_signal > min(dim_x, dim_y):
            raise ValueError(f"n_signal={n_signal} exceeds min(dim_x, dim_y)={min(dim_x, dim_y)}")
        self.rho, self.df = _check_float(rho, "rho"), _check_float(df, "df")
        if abs(self.rho) >= 1 or self.df <= 0:
            raise ValueError(f"need |rho| < 1 and df > 0, got rho={rho}, df={df}")
        generator = torch.Generator().manual_seed(seed)
        self.perm_x, self.perm_y = (
            torch.randperm(dim_x, generator=generator),
            torch.randperm(dim_y, generator=generator),
        )
        mi = -self.n_signal / 2 * math.log1p(-(self.rho**2))
        name = name or f"sparse-outliers-{dim_x}x{dim_y}-s{self.n_signal}-r{self.rho:g}"
        desc = f"{self.n_signal} Gaussian pairs with rho={self.rho:g} among Student-t (df={self.df:g}) outliers"
        super().__init__(name, dim_x, dim_y, mi, desc)

    def _outliers(self, n: int, dim: int, generator: torch.Generator | None) -> Tensor:
        normal = torch.randn(n, dim, generator=generator, dtype=torch.float64)
        shape = torch.full((n, dim), self.df / 2, dtype=torch.float64)
        return normal * torch.sqrt(self.df / (2 * torch._standard_gamma(shape, generator=generator)))

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        s = self.n_signal
        gx = torch.randn(n, s, generator=generator, dtype=torch.float64)
        gy = self.rho * gx + math.sqrt(1 - self.rho**2) * torch.randn(n, s, generator=generator, dtype=torch.float64)
        x = torch.cat([gx, self._outliers(n, self.dim_x - s, generator)], dim=1)
        y = torch.cat([gy, self._outliers(n, self.dim_y - s, generator)], dim=1)
        return x[:, self.perm_x], y[:, self.perm_y]


def two_views(dim: int, latent: int, noise: float, seed: int = 0, name: str | None = None) -> GaussianTask:
    r"""Two noisy linear views of one Gaussian latent: ``x = A s + noise * e``, ``y = B s + noise * e'``.

    ``s ~ N(0, I_latent)`` and ``A, B`` have ``N(0, 1 / latent)`` entries fixed by ``seed``, so
    every view coordinate has signal variance about 1; the MI is the closed-form Gaussian one.

    Arguments:
        dim: Dimension of each view.
        latent: Dimension of the latent.
        noise: Noise standard deviation in each view coordinate.
        seed: Seed of ``A`` and ``B``.
        name: Task name (default ``"views-{dim}x{dim}-k{latent}-n{noise}"``).

    Example:
        >>> task = two_views(16, 2, 0.5)
        >>> task.dim_x, task.dim_y, task.mutual_information > 0
        (16, 16, True)
    """
    dim, latent, noise = _check_int(dim, "dim"), _check_int(latent, "latent"), _check_float(noise, "noise")
    if noise <= 0:
        raise ValueError(f"noise must be positive, got {noise}")
    generator = torch.Generator().manual_seed(seed)
    views = torch.randn(2 * dim, latent, generator=generator, dtype=torch.float64) / math.sqrt(latent)
    cov = views @ views.T + noise**2 * torch.eye(2 * dim, dtype=torch.float64)
    name = name or f"views-{dim}x{dim}-k{latent}-n{noise:g}"
    return GaussianTask(cov, dim, name, f"two {dim}-d views of a {latent}-d Gaussian latent, noise {noise:g}")
