"""Tests for mist_reg.tasks: exact MI values checked against independent Monte-Carlo estimates."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

import mist_reg.tasks.gaussian
from mist_reg.tasks import (
    BENCHMARK_SUITE,
    GaussianTask,
    StudentTTask,
    TransformedTask,
    cube,
    dense_covariance,
    dense_gaussian,
    get_task,
    half_cube,
    independent,
    list_tasks,
    normal_cdf,
    sparse_covariance,
    sparse_gaussian,
    spiral,
    staircase,
    student_t_correction,
)

N_MC = 200_000
MC_TOL = 0.02  # nats; the Monte-Carlo standard errors below are all < 0.006


def _split_logpdf(logpdf, cov: torch.Tensor, x: torch.Tensor, y: torch.Tensor, dim_x: int) -> torch.Tensor:
    """Pointwise information density log p(x, y) - log p(x) - log p(y)."""
    x, y = x.double(), y.double()
    joint = logpdf(torch.cat([x, y], dim=1), cov)
    return joint - logpdf(x, cov[:dim_x, :dim_x]) - logpdf(y, cov[dim_x:, dim_x:])


def _gaussian_logpdf(z: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    loc = torch.zeros(cov.shape[0], dtype=cov.dtype)
    return MultivariateNormal(loc, covariance_matrix=cov, validate_args=False).log_prob(z)


def _student_t_logpdf(z: torch.Tensor, scale: torch.Tensor, df: float) -> torch.Tensor:
    """Log density of the zero-location multivariate t with the given scale matrix."""
    d = scale.shape[0]
    chol = torch.linalg.cholesky(scale)
    maha = torch.linalg.solve_triangular(chol, z.T, upper=False).pow(2).sum(0)
    log_norm = (
        math.lgamma((df + d) / 2)
        - math.lgamma(df / 2)
        - d / 2 * math.log(df * math.pi)
        - torch.log(torch.diagonal(chol)).sum()
    )
    return log_norm - (df + d) / 2 * torch.log1p(maha / df)


def _assert_mc_matches(density: torch.Tensor, exact: float) -> None:
    estimate, stderr = density.mean().item(), (density.std() / math.sqrt(density.numel())).item()
    assert stderr < MC_TOL / 3
    print(f"MC {estimate:.4f} +- {stderr:.4f}, exact {exact:.4f}")
    assert abs(estimate - exact) < MC_TOL, f"MC estimate {estimate:.4f} +- {stderr:.4f} vs exact {exact:.4f}"


# ---------------------------------------------------------------- exact MI vs Monte Carlo


@pytest.mark.parametrize(
    ("name", "n"),
    [
        ("gaussian-5x5", N_MC),
        ("independent-5x5", N_MC),
        ("gaussian-sparse-25x25", N_MC // 2),
        ("gaussian-25x25", N_MC // 2),
    ],
)
def test_gaussian_mi_matches_monte_carlo(name: str, n: int) -> None:
    task = get_task(name)
    x, y = task.sample(n, seed=1)
    density = _split_logpdf(_gaussian_logpdf, task.covariance, x, y, task.dim_x)
    _assert_mc_matches(density, task.mutual_information)


@pytest.mark.parametrize(
    "task",
    [
        get_task("student-t-5x5"),
        StudentTTask(dense_covariance(3, 2, 0.3), 3, df=3.0),
        StudentTTask(sparse_covariance(4, 4, 2, 0.8), 4, df=5.0),
        StudentTTask(torch.eye(2), 1, df=1.0),  # Cauchy: heavy tails, still finite MI
    ],
    ids=lambda t: t.name,
)
def test_student_t_mi_matches_monte_carlo(task: StudentTTask) -> None:
    x, y = task.sample(N_MC if task.name == "student-t-5x5" else N_MC // 2, seed=2)
    scale = task.gaussian.covariance
    density = _split_logpdf(lambda z, s: _student_t_logpdf(z, s, task.df), scale, x, y, task.dim_x)
    _assert_mc_matches(density, task.mutual_information)


def test_student_t_correction_sign_and_value() -> None:
    # With identity scale the Gaussian part is 0, so the whole MI is the correction: it must be positive
    # (x and y are dependent through the shared chi-square) and it vanishes as df -> infinity.
    assert get_task("student-t-5x5").mutual_information == pytest.approx(student_t_correction(2.0, 5, 5))
    assert student_t_correction(2.0, 5, 5) == pytest.approx(0.4481506769, abs=1e-9)
    values = [student_t_correction(df, 3, 4) for df in (1.0, 2.0, 5.0, 50.0, 1e5)]
    assert all(v > 0 for v in values) and values == sorted(values, reverse=True) and values[-1] < 1e-4


def test_student_t_entropy_term_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    import numpy as np

    for df, dim in [(1.0, 1), (2.0, 3), (7.5, 6)]:
        expected = scipy_stats.multivariate_t(np.zeros(dim), np.eye(dim), df=df).entropy()
        assert mist_reg.tasks.gaussian._t_entropy_term(df, dim) == pytest.approx(expected, abs=1e-9)


def test_gaussian_closed_forms() -> None:
    assert get_task("gaussian-5x5").mutual_information == pytest.approx(1.0, abs=1e-12)
    assert get_task("gaussian-25x25").mutual_information == pytest.approx(1.5, abs=1e-12)
    assert get_task("gaussian-sparse-25x25").mutual_information == pytest.approx(1.0, abs=1e-12)
    # dense block: a single canonical correlation rho * sqrt(dx * dy)
    assert dense_gaussian(3, 4, 0.2).mutual_information == pytest.approx(-0.5 * math.log(1 - 0.04 * 12))
    assert sparse_gaussian(6, 3, 3, -0.5).mutual_information == pytest.approx(-1.5 * math.log(0.75))


# ---------------------------------------------------------------- transforms


@pytest.mark.parametrize(
    ("name", "atol"),
    [("half-cube-5x5", 1e-5), ("normal-cdf-5x5", 2e-3), ("spiral-5x5", 1e-5), ("staircase-cubic-4", 1e-5)],
)
def test_transformed_task_inverts_to_base(name: str, atol: float) -> None:
    task = get_task(name)
    assert isinstance(task, TransformedTask)
    assert task.mutual_information == task.base.mutual_information
    x, y = task.sample(500, seed=3)
    bx, by = task.base.sample(500, seed=3)
    for value, base_value, transform in ((x, bx, task.transform_x), (y, by, task.transform_y)):
        if transform is None:
            assert torch.equal(value, base_value)
        else:
            assert not torch.allclose(value, base_value)
            recovered = transform.inverse(value.double()).float()
            torch.testing.assert_close(recovered, base_value, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("transform", [normal_cdf, half_cube, cube, spiral(0.5), spiral(-2.0)], ids=lambda t: t.name)
def test_transform_roundtrip_float64(transform) -> None:
    x = torch.randn(1000, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(transform.inverse(transform(x)), x, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(transform(transform.inverse(transform(x))), transform(x))


def test_transform_ranges_and_nonlinearity() -> None:
    x, _ = get_task("normal-cdf-5x5").sample(2000, seed=0)
    assert x.min() > 0 and x.max() < 1
    task = get_task("spiral-5x5")
    sx, _ = task.sample(2000, seed=0)
    bx, _ = task.base.sample(2000, seed=0)
    torch.testing.assert_close(sx.norm(dim=1), bx.norm(dim=1))  # rotation keeps the norm
    torch.testing.assert_close(sx[:, 2:], bx[:, 2:])  # ... and the other coordinates
    angle = torch.atan2(sx[:, 1], sx[:, 0]) - torch.atan2(bx[:, 1], bx[:, 0])
    assert torch.remainder(angle, 2 * math.pi).std() > 1.0  # strongly point-dependent rotation
    with pytest.raises(ValueError, match="at least 2 coordinates"):
        spiral(1.0)(torch.zeros(3, 1))


# ---------------------------------------------------------------- staircase / independent


@pytest.mark.parametrize("level", [2, 4, 6, 8, 10])
@pytest.mark.parametrize("cubic", [False, True])
def test_staircase_exact_levels(level: int, cubic: bool) -> None:
    name = f"staircase-cubic-{level}" if cubic else f"staircase-{level}"
    task = get_task(name)
    assert (task.name, task.dim_x, task.dim_y) == (name, 20, 20)
    assert task.mutual_information == pytest.approx(level, abs=1e-9)
    gaussian = task.base if cubic else task
    cov = gaussian.covariance
    rho = torch.diagonal(cov[:20, 20:])
    off_diagonal = cov - torch.diag_embed(torch.diagonal(cov))
    assert torch.count_nonzero(off_diagonal) == 40  # only the x_i <-> y_i pairs
    assert (-0.5 * torch.log1p(-(rho**2))).sum().item() == pytest.approx(level, abs=1e-9)
    if cubic:
        y, by = task.sample(100, seed=0)[1], gaussian.sample(100, seed=0)[1]
        torch.testing.assert_close(y, by.double().pow(3).float())


def test_staircase_custom_level() -> None:
    assert staircase(3.5, dim=7).mutual_information == pytest.approx(3.5, abs=1e-12)


def test_independent() -> None:
    task = get_task("independent-5x5")
    assert task.mutual_information == 0.0
    assert independent(2, 7).mutual_information == 0.0
    x, y = task.sample(50_000, seed=0)
    cross = (x.T @ y) / x.shape[0]
    assert cross.abs().max() < 0.03


# ---------------------------------------------------------------- sampling API


@pytest.mark.parametrize("name", list_tasks())
def test_every_registered_task_samples(name: str) -> None:
    task = get_task(name)
    assert task.name == name and task.description
    x, y = task.sample(7, seed=0)
    assert x.shape == (7, task.dim_x) and y.shape == (7, task.dim_y)
    assert {x.dtype, y.dtype} <= {torch.float32, torch.int64}  # int64 for a discrete side
    assert torch.isfinite(x.double()).all() and torch.isfinite(y.double()).all()
    assert task.mutual_information >= 0


@pytest.mark.parametrize("name", ["gaussian-5x5", "student-t-5x5", "spiral-5x5"])
def test_seed_reproducibility(name: str) -> None:
    task = get_task(name)
    x1, y1 = task.sample(64, seed=11)
    x2, y2 = task.sample(64, seed=11)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, _ = task.sample(64, seed=12)
    assert not torch.equal(x1, x3)
    x4, y4 = task.sample(64, generator=torch.Generator().manual_seed(11))
    assert torch.equal(x1, x4) and torch.equal(y1, y4)
    torch.manual_seed(0)
    x5, _ = task.sample(64)  # global generator
    torch.manual_seed(0)
    assert torch.equal(x5, task.sample(64)[0])


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "10", None])
def test_bad_n(n) -> None:
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        get_task("gaussian-5x5").sample(n)


def test_bad_sampling_arguments() -> None:
    task = get_task("gaussian-5x5")
    with pytest.raises(ValueError, match="either seed or generator"):
        task.sample(3, seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="seed must be"):
        task.sample(3, seed=-1)
    with pytest.raises(ValueError, match="seed must be"):
        task.sample(3, seed=1.5)
    with pytest.raises(ValueError, match="torch.Generator"):
        task.sample(3, generator=0)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match=r"too large.*1/sqrt\(dim_x\*dim_y\) = 0.2"):
        dense_gaussian(5, 5, 0.2)
    with pytest.raises(ValueError, match="n_interacting=4 exceeds"):
        sparse_gaussian(3, 5, 4, 0.5)
    with pytest.raises(ValueError, match=r"\|rho\| < 1"):
        sparse_gaussian(3, 3, 1, 1.0)
    with pytest.raises(ValueError, match="finite"):
        sparse_gaussian(3, 3, 1, float("nan"))
    with pytest.raises(ValueError, match="positive definite"):
        GaussianTask(torch.tensor([[1.0, 2.0], [2.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="symmetric"):
        GaussianTask(torch.tensor([[1.0, 0.1], [0.2, 1.0]]), 1)
    with pytest.raises(ValueError, match="more than dim_x"):
        GaussianTask(torch.eye(3), 3)
    with pytest.raises(ValueError, match="df must be positive"):
        StudentTTask(torch.eye(4), 2, df=0.0)
    with pytest.raises(ValueError, match="level must be positive"):
        staircase(0)
    with pytest.raises(ValueError, match="dim_x must be"):
        dense_gaussian(0, 3, 0.1)


def test_unknown_task_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown task 'gausian-5x5'") as info:
        get_task("gausian-5x5")
    assert all(name in str(info.value) for name in list_tasks())


def test_registry_and_suite() -> None:
    names = list_tasks()
    assert len(names) == len(set(names))
    assert set(BENCHMARK_SUITE) <= set(names)
    for name in BENCHMARK_SUITE:
        task = get_task(name)
        assert max(task.dim_x, task.dim_y) <= 25


def test_repr_shows_name_and_mi() -> None:
    text = repr(get_task("student-t-5x5"))
    assert "student-t-5x5" in text and "0.448151" in text
