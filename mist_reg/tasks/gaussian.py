"""Gaussian and Student-t tasks: MI in closed form from the joint (scale) matrix."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float, _check_int

__all__ = [
    "GaussianTask",
    "StudentTTask",
    "dense_covariance",
    "sparse_covariance",
    "dense_gaussian",
    "sparse_gaussian",
    "gaussian_mutual_information",
    "student_t_correction",
]


def gaussian_mutual_information(covariance: Tensor, dim_x: int) -> float:
    r"""Exact MI of a joint Gaussian: ``0.5 * (logdet Σx + logdet Σy - logdet Σ)``, in float64.

    Arguments:
        covariance: Joint covariance of (x, y), shape [dim_x + dim_y, dim_x + dim_y].
        dim_x: Number of leading coordinates belonging to x.

    Example:
        >>> cov = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
        >>> round(gaussian_mutual_information(cov, 1), 6) == round(-0.5 * math.log(0.75), 6)
        True
    """
    cov = torch.as_tensor(covariance, dtype=torch.float64)
    logdet = torch.linalg.slogdet
    return 0.5 * (logdet(cov[:dim_x, :dim_x])[1] + logdet(cov[dim_x:, dim_x:])[1] - logdet(cov)[1]).item()


class GaussianTask(Task):
    r"""Jointly Gaussian, zero-mean (x, y) with a given joint covariance.

    Arguments:
        covariance: Symmetric positive-definite joint covariance of (x, y).
        dim_x: Number of leading coordinates belonging to x.
        name: Task name (default ``"gaussian-{dim_x}x{dim_y}"``).
        description: Human-readable description.

    Example:
        >>> task = GaussianTask(torch.tensor([[1.0, 0.6], [0.6, 1.0]]), dim_x=1)
        >>> round(task.mutual_information, 4)
        0.2231
    """

    def __init__(self, covariance: Tensor, dim_x: int, name: str | None = None, description: str = "") -> None:
        cov = torch.as_tensor(covariance, dtype=torch.float64)
        dim_x = _check_int(dim_x, "dim_x")
        if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] <= dim_x:
            raise ValueError(
                f"covariance must be square with more than dim_x={dim_x} rows, got shape {tuple(cov.shape)}"
            )
        if not torch.allclose(cov, cov.T):
            raise ValueError("covariance must be symmetric")
        chol, info = torch.linalg.cholesky_ex(cov)
        if info.item() != 0:
            raise ValueError("covariance must be positive definite")
        dim_y = cov.shape[0] - dim_x
        self.covariance, self._chol = cov, chol
        super().__init__(
            name or f"gaussian-{dim_x}x{dim_y}",
            dim_x,
            dim_y,
            gaussian_mutual_information(cov, dim_x),
            description or f"zero-mean Gaussian, {dim_x}-d x and {dim_y}-d y",
        )

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        z = torch.randn(n, self.dim_x + self.dim_y, generator=generator, dtype=torch.float64) @ self._chol.T
        return z[:, : self.dim_x], z[:, self.dim_x :]


def dense_covariance(dim_x: int, dim_y: int, rho: float) -> Tensor:
    r"""Joint covariance with unit variances, corr(x_i, y_j) = rho for all i, j, zero within blocks.

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        rho: Cross-correlation; requires ``|rho| < 1 / sqrt(dim_x * dim_y)``.

    Example:
        >>> dense_covariance(1, 2, 0.5)
        tensor([[1.0000, 0.5000, 0.5000],
                [0.5000, 1.0000, 0.0000],
                [0.5000, 0.0000, 1.0000]], dtype=torch.float64)
    """
    dim_x, dim_y, rho = _check_int(dim_x, "dim_x"), _check_int(dim_y, "dim_y"), _check_float(rho, "rho")
    bound = 1.0 / math.sqrt(dim_x * dim_y)
    if abs(rho) >= bound:
        raise ValueError(
            f"rho={rho} too large: the {dim_x}x{dim_y} dense covariance is positive definite "
            f"only for |rho| < 1/sqrt(dim_x*dim_y) = {bound:.6g}"
        )
    cov = torch.eye(dim_x + dim_y, dtype=torch.float64)
    cov[:dim_x, dim_x:] = rho
    cov[dim_x:, :dim_x] = rho
    return cov


def sparse_covariance(dim_x: int, dim_y: int, n_interacting: int, rho: float) -> Tensor:
    r"""Joint covariance with unit variances, corr(x_i, y_i) = rho for ``i < n_interacting``, else 0.

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        n_interacting: Number of correlated pairs, at most ``min(dim_x, dim_y)``.
        rho: Correlation of each interacting pair, ``|rho| < 1``.

    Example:
        >>> sparse_covariance(2, 1, 1, 0.5)[0]
        tensor([1.0000, 0.0000, 0.5000], dtype=torch.float64)
    """
    dim_x, dim_y, rho = _check_int(dim_x, "dim_x"), _check_int(dim_y, "dim_y"), _check_float(rho, "rho")
    n_interacting = _check_int(n_interacting, "n_interacting", minimum=0)
    if n_interacting > min(dim_x, dim_y):
        raise ValueError(f"n_interacting={n_interacting} exceeds min(dim_x, dim_y)={min(dim_x, dim_y)}")
    if abs(rho) >= 1:
        raise ValueError(f"rho must satisfy |rho| < 1, got {rho}")
    cov = torch.eye(dim_x + dim_y, dtype=torch.float64)
    idx = torch.arange(n_interacting)
    cov[idx, dim_x + idx] = rho
    cov[dim_x + idx, idx] = rho
    return cov


def dense_gaussian(dim_x: int, dim_y: int, rho: float, name: str | None = None) -> GaussianTask:
    r"""Gaussian task with :func:`dense_covariance`.

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        rho: Cross-correlation of every (x_i, y_j) pair.
        name: Task name (default ``"gaussian-{dim_x}x{dim_y}"``).

    Example:
        >>> round(dense_gaussian(2, 2, 0.25).mutual_information, 6) == round(-0.5 * math.log(0.75), 6)
        True
    """
    return GaussianTask(dense_covariance(dim_x, dim_y, rho), dim_x, name, f"dense Gaussian, rho={rho:.6g}")


def sparse_gaussian(dim_x: int, dim_y: int, n_interacting: int, rho: float, name: str | None = None) -> GaussianTask:
    r"""Gaussian task with :func:`sparse_covariance`; MI = ``-n_interacting / 2 * log(1 - rho**2)``.

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        n_interacting: Number of correlated (x_i, y_i) pairs.
        rho: Correlation of each interacting pair.
        name: Task name (default ``"gaussian-sparse-{dim_x}x{dim_y}"``).

    Example:
        >>> round(sparse_gaussian(3, 3, 2, 0.6).mutual_information, 4)
        0.4463
    """
    cov = sparse_covariance(dim_x, dim_y, n_interacting, rho)
    name = name or f"gaussian-sparse-{dim_x}x{dim_y}"
    return GaussianTask(cov, dim_x, name, f"sparse Gaussian, {n_interacting} pairs with rho={rho:.6g}")


def _digamma(value: float) -> float:
    return torch.special.digamma(torch.tensor(value, dtype=torch.float64)).item()


def _t_entropy_term(df: float, dim: int) -> float:
    # Entropy of a d-variate t with scale Σ is 0.5 * logdet Σ + f(d).
    half, half_d = df / 2, (df + dim) / 2
    return (
        math.lgamma(half)
        - math.lgamma(half_d)
        + dim / 2 * math.log(df * math.pi)
        + half_d * (_digamma(half_d) - _digamma(half))
    )


def student_t_correction(df: float, dim_x: int, dim_y: int) -> float:
    r"""MI of a Student-t minus the Gaussian MI of its scale matrix: ``f(dx) + f(dy) - f(dx + dy)``.

    Arguments:
        df: Degrees of freedom.
        dim_x: Dimension of x.
        dim_y: Dimension of y.

    Example:
        >>> round(student_t_correction(2.0, 5, 5), 6)
        0.448151
    """
    return _t_entropy_term(df, dim_x) + _t_entropy_term(df, dim_y) - _t_entropy_term(df, dim_x + dim_y)


class StudentTTask(Task):
    r"""Multivariate Student-t (x, y): a Gaussian with the scale matrix, divided by ``sqrt(chi2_df / df)``.

    Arguments:
        scale: Joint scale matrix, e.g. from :func:`dense_covariance` or :func:`sparse_covariance`.
        dim_x: Number of leading coordinates belonging to x.
        df: Degrees of freedom (> 0).
        name: Task name (default ``"student-t-{dim_x}x{dim_y}"``).

    Example:
        >>> task = StudentTTask(torch.eye(10), dim_x=5, df=2.0)
        >>> round(task.mutual_information, 4)
        0.4482
    """

    def __init__(self, scale: Tensor, dim_x: int, df: float, name: str | None = None, description: str = "") -> None:
        self.df = _check_float(df, "df")
        if self.df <= 0:
            raise ValueError(f"df must be positive, got {df}")
        self.gaussian = GaussianTask(scale, dim_x)
        dx, dy = self.gaussian.dim_x, self.gaussian.dim_y
        mi = self.gaussian.mutual_information + student_t_correction(self.df, dx, dy)
        desc = description or f"Student-t, df={self.df:g}"
        super().__init__(name or f"student-t-{dx}x{dy}", dx, dy, mi, desc)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self.gaussian._sample(n, generator)
        shape = torch.full((n, 1), self.df / 2, dtype=torch.float64)
        chi2 = 2 * torch._standard_gamma(shape, generator=generator)
        w = torch.sqrt(self.df / chi2)
        return x * w, y * w
