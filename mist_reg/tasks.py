r"""Benchmark tasks: samplers of (x, y) pairs with exactly known mutual information.

Every task is a :class:`Task` exposing ``dim_x``, ``dim_y``, the exact mutual
information ``mutual_information`` (in nats) and a reproducible
:meth:`Task.sample`. Tasks are built by composition: Gaussian and Student-t
distributions with a given joint (scale) matrix, optionally passed through
invertible maps, which leave the mutual information unchanged. Named tasks are
built with :func:`get_task` (see :func:`list_tasks` and ``BENCHMARK_SUITE``).

Example:
    >>> task = get_task("gaussian-5x5")
    >>> task
    GaussianTask(name='gaussian-5x5', dim_x=5, dim_y=5, mutual_information=1.000000)
    >>> x, y = task.sample(100, seed=0)
    >>> x.shape, y.shape
    (torch.Size([100, 5]), torch.Size([100, 5]))
"""

from __future__ import annotations

__all__ = [
    "Task",
    "GaussianTask",
    "StudentTTask",
    "TransformedTask",
    "Transform",
    "normal_cdf",
    "half_cube",
    "cube",
    "spiral",
    "dense_covariance",
    "sparse_covariance",
    "dense_gaussian",
    "sparse_gaussian",
    "gaussian_mutual_information",
    "student_t_correction",
    "staircase",
    "independent",
    "TASKS",
    "BENCHMARK_SUITE",
    "get_task",
    "list_tasks",
]

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor


def _check_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


class Task:
    r"""A joint distribution of (x, y) with exactly known mutual information.

    Subclasses implement ``_sample(n, generator)`` returning float64 tensors;
    :meth:`sample` validates arguments and casts to float32.

    Arguments:
        name: Identifier of the task.
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        mutual_information: Exact I(x; y) in nats.
        description: Human-readable description.

    Example:
        >>> Task("custom", dim_x=2, dim_y=3, mutual_information=0.5)
        Task(name='custom', dim_x=2, dim_y=3, mutual_information=0.500000)
    """

    def __init__(self, name: str, dim_x: int, dim_y: int, mutual_information: float, description: str = "") -> None:
        self.name = name
        self.dim_x = _check_int(dim_x, "dim_x")
        self.dim_y = _check_int(dim_y, "dim_y")
        self.mutual_information = float(mutual_information)
        self.description = description

    def sample(
        self, n: int, seed: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draw ``n`` i.i.d. pairs.

        Arguments:
            n: Number of samples, a positive integer.
            seed: Seed of a fresh CPU generator (reproducible sampling).
            generator: Explicit generator; mutually exclusive with ``seed``.
                With neither, torch's global generator is used.

        Returns:
            float32 tensors ``x`` of shape [n, dim_x] and ``y`` of shape [n, dim_y].

        Example:
            >>> task = get_task("gaussian-5x5")
            >>> x, y = task.sample(100, seed=0)
            >>> x.shape, y.shape, x.dtype
            (torch.Size([100, 5]), torch.Size([100, 5]), torch.float32)
            >>> torch.equal(x, task.sample(100, seed=0)[0])
            True
        """
        n = _check_int(n, "n")
        if seed is not None and generator is not None:
            raise ValueError("pass either seed or generator, not both")
        if seed is not None:
            generator = torch.Generator().manual_seed(_check_int(seed, "seed", minimum=0))
        elif generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        x, y = self._sample(n, generator)
        return x.to(torch.float32).contiguous(), y.to(torch.float32).contiguous()

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dim_x={self.dim_x}, dim_y={self.dim_y}, "
            f"mutual_information={self.mutual_information:.6f})"
        )


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


@dataclass(frozen=True)
class Transform:
    r"""An invertible map applied to a whole [n, d] sample; it preserves mutual information.

    Arguments:
        name: Short identifier.
        forward: The map.
        inverse: Its inverse.

    Example:
        >>> t = torch.tensor([[-8.0, 27.0]], dtype=torch.float64)
        >>> cube.inverse(t)
        tensor([[-2.,  3.]], dtype=torch.float64)
    """

    name: str
    forward: Callable[[Tensor], Tensor]
    inverse: Callable[[Tensor], Tensor]

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)


# Coordinate-wise transforms. In float32, normal_cdf saturates to exactly 1 (or 0) for |x| > ~5.4,
# which a standard normal coordinate exceeds with probability ~7e-8.
normal_cdf = Transform("normal-cdf", torch.special.ndtr, torch.special.ndtri)
half_cube = Transform("half-cube", lambda x: x * x.abs().sqrt(), lambda y: y.sign() * y.abs().pow(2 / 3))
cube = Transform("cube", lambda x: x**3, lambda y: y.sign() * y.abs().pow(1 / 3))


def _rotate_first_plane(x: Tensor, speed: float) -> Tensor:
    if x.shape[-1] < 2:
        raise ValueError(f"spiral needs at least 2 coordinates, got {x.shape[-1]}")
    angle = speed * x.pow(2).sum(-1)
    cos, sin = angle.cos(), angle.sin()
    out = x.clone()
    out[..., 0] = cos * x[..., 0] - sin * x[..., 1]
    out[..., 1] = sin * x[..., 0] + cos * x[..., 1]
    return out


def spiral(speed: float) -> Transform:
    r"""Rotation in the plane of the first two coordinates by the angle ``speed * ||x||**2``.

    The rotation preserves ``||x||``, so rotating back by ``-speed * ||x||**2`` inverts it.

    Arguments:
        speed: Angular speed (radians per unit squared norm).

    Example:
        >>> s = spiral(0.5)
        >>> x = torch.randn(4, 3, dtype=torch.float64)
        >>> torch.allclose(s.inverse(s(x)), x)
        True
    """
    speed = _check_float(speed, "speed")
    return Transform(
        f"spiral-{speed:g}", partial(_rotate_first_plane, speed=speed), partial(_rotate_first_plane, speed=-speed)
    )


class TransformedTask(Task):
    r"""A task whose x and/or y are passed through invertible transforms (same MI as ``base``).

    Arguments:
        base: The underlying task.
        transform_x: Transform applied to x (``None`` keeps x).
        transform_y: Transform applied to y (``None`` keeps y).
        name: Task name (default: transform names prefixed to the base name).

    Example:
        >>> base = get_task("gaussian-5x5")
        >>> task = TransformedTask(base, normal_cdf, normal_cdf)
        >>> x, y = task.sample(1000, seed=0)
        >>> bool(x.min() > 0 and x.max() < 1), task.mutual_information == base.mutual_information
        (True, True)
    """

    def __init__(
        self,
        base: Task,
        transform_x: Transform | None = None,
        transform_y: Transform | None = None,
        name: str | None = None,
        description: str = "",
    ) -> None:
        self.base, self.transform_x, self.transform_y = base, transform_x, transform_y
        parts = [f"{t.name}({axis})" for t, axis in ((transform_x, "x"), (transform_y, "y")) if t is not None]
        names = dict.fromkeys(t.name for t in (transform_x, transform_y) if t is not None)
        default = "-".join([*names, base.name])
        desc = description or f"{base.name} with " + (", ".join(parts) or "no transform")
        super().__init__(name or default, base.dim_x, base.dim_y, base.mutual_information, desc)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self.base._sample(n, generator)
        x = self.transform_x(x) if self.transform_x is not None else x
        y = self.transform_y(y) if self.transform_y is not None else y
        return x, y


def _rho_for_mi(mi: float, n_pairs: int = 1) -> float:
    # A correlation coefficient r between two unit Gaussians carries -0.5*log(1 - r**2) nats;
    # a dense block behaves like one pair with r = rho * sqrt(dim_x * dim_y).
    return math.sqrt(-math.expm1(-2 * mi) / n_pairs)


def staircase(level: float, cubic: bool = False, dim: int = 20) -> Task:
    r"""Gaussian staircase: ``dim`` independent (x_i, y_i) pairs sharing ``level`` nats in total.

    Arguments:
        level: Total mutual information in nats (> 0).
        cubic: If true, apply ``y -> y**3`` (MI unchanged).
        dim: Dimension of x and of y.

    Example:
        >>> round(staircase(4).mutual_information, 9), staircase(4, cubic=True).name
        (4.0, 'staircase-cubic-4')
    """
    level = _check_float(level, "level")
    if level <= 0:
        raise ValueError(f"level must be positive, got {level}")
    dim = _check_int(dim, "dim")
    base = sparse_gaussian(dim, dim, dim, _rho_for_mi(level / dim), name=f"staircase-{level:g}")
    return TransformedTask(base, transform_y=cube, name=f"staircase-cubic-{level:g}") if cubic else base


def independent(dim_x: int, dim_y: int) -> GaussianTask:
    r"""Independent standard normal x and y (MI = 0).

    Arguments:
        dim_x: Dimension of x.
        dim_y: Dimension of y.

    Example:
        >>> independent(3, 2).mutual_information
        0.0
    """
    task = sparse_gaussian(dim_x, dim_y, 0, 0.0, name=f"independent-{dim_x}x{dim_y}")
    task.description = "independent standard normal x and y"
    return task


_gaussian_5x5 = partial(dense_gaussian, 5, 5, _rho_for_mi(1.0, 25))

TASKS: dict[str, Callable[[], Task]] = {
    "gaussian-5x5": _gaussian_5x5,
    "gaussian-25x25": partial(dense_gaussian, 25, 25, _rho_for_mi(1.5, 625)),
    "gaussian-50x50": partial(dense_gaussian, 50, 50, _rho_for_mi(1.6, 2500)),
    "gaussian-sparse-25x25": partial(sparse_gaussian, 25, 25, 2, _rho_for_mi(0.5)),
    "student-t-5x5": partial(StudentTTask, torch.eye(10), 5, 2.0),
    "half-cube-5x5": lambda: TransformedTask(_gaussian_5x5(), half_cube, half_cube, "half-cube-5x5"),
    "normal-cdf-5x5": lambda: TransformedTask(_gaussian_5x5(), normal_cdf, normal_cdf, "normal-cdf-5x5"),
    "spiral-5x5": lambda: TransformedTask(_gaussian_5x5(), spiral(0.5), None, "spiral-5x5"),
    **{f"staircase-{k}": partial(staircase, k) for k in (2, 4, 6, 8, 10)},
    **{f"staircase-cubic-{k}": partial(staircase, k, True) for k in (2, 4, 6, 8, 10)},
    "independent-5x5": partial(independent, 5, 5),
}
"""Registered task factories, by name."""

BENCHMARK_SUITE: tuple[str, ...] = (
    "gaussian-5x5",
    "gaussian-sparse-25x25",
    "gaussian-25x25",
    "student-t-5x5",
    "half-cube-5x5",
    "normal-cdf-5x5",
    "spiral-5x5",
    "staircase-2",
    "independent-5x5",
)
"""Default benchmark: small (at most 25-d) tasks covering every task family."""


def list_tasks() -> list[str]:
    r"""Names of all registered tasks.

    Example:
        >>> "gaussian-5x5" in list_tasks()
        True
    """
    return list(TASKS)


def get_task(name: str) -> Task:
    r"""Build a registered task by name.

    Arguments:
        name: A name from :func:`list_tasks`.

    Example:
        >>> get_task("staircase-2").dim_x
        20
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(TASKS)}")
    return TASKS[name]()
