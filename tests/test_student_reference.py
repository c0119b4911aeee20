"""Tests for the Student-t copula reference of mist_reg.nn.references.student_t."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mist_reg import estimate_mi
from mist_reg.estimation.fitting import FitSettings
from mist_reg.estimation.preprocessing import MarginalGaussianizer
from mist_reg.estimation.reference_choice import fit_with_reference_choice
from mist_reg.estimators import mine
from mist_reg.estimators.factories import ESTIMATION_CRITIC_DEFAULTS
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.nn.references.student_t import DF_CANDIDATES, StudentTLogRatio, student_t_scores
from mist_reg.tasks import StudentTTask, dense_covariance, get_task

DX = 2


def t_copula_samples(n: int, df: float, scale: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Student-t samples with dispersion ``scale``, each coordinate mapped to a standard normal
    through its exact marginal CDF (the input a Gaussianised t-copula gives the reference)."""
    x, y = StudentTTask(scale, DX, df).sample(n, seed=seed)
    s = torch.cat([x, y], 1).double().numpy()
    z = torch.from_numpy(stats.norm.ppf(stats.t.cdf(s, df)))
    return z[:, :DX].float().contiguous(), z[:, DX:].float().contiguous()


def exact_t_copula_log_ratio(x: torch.Tensor, y: torch.Tensor, df: float, scale: np.ndarray) -> np.ndarray:
    """log c(x, y) - log c(x) - log c(y) for the t copula, by scipy's multivariate t."""
    s = stats.t.ppf(stats.norm.cdf(torch.cat([x, y], 1).double().numpy()), df)
    joint = stats.multivariate_t(np.zeros(len(scale)), scale, df=df)
    px = stats.multivariate_t(np.zeros(DX), scale[:DX, :DX], df=df)
    py = stats.multivariate_t(np.zeros(len(scale) - DX), scale[DX:, DX:], df=df)
    return joint.logpdf(s) - px.logpdf(s[:, :DX]) - py.logpdf(s[:, DX:])


SCALE = dense_covariance(DX, 3, 0.4)


def test_scores_are_student_t_quantiles():
    grid = torch.linspace(-6, 6, 13, dtype=torch.float64)
    for df in (1.0, 2.5, 30.0):
        expected = stats.t.ppf(stats.norm.cdf(grid.numpy()), df)
        np.testing.assert_allclose(student_t_scores(df, grid).numpy(), expected, rtol=1e-6)
    # the far tail keeps its precision (computed from the lower tail, by symmetry)
    assert float(student_t_scores(1.0, torch.tensor([7.0], dtype=torch.float64))) > 1e11


def test_fixed_df_matches_exact_copula_log_ratio():
    df = 3.0
    x, y = t_copula_samples(40_000, df, SCALE, seed=0)
    reference = StudentTLogRatio(DX, 3, df=df)
    reference.fit_data(x, y)
    assert reference.df_value == df
    xt, yt = x[:300], y[:300]
    expected = torch.from_numpy(exact_t_copula_log_ratio(xt, yt, df, SCALE.numpy())).float()
    error = (reference(xt, yt) - expected).abs()
    # sampling error of the fitted dispersion: strict on average, looser in the tails
    assert float(error.mean()) < 0.03
    assert float(error.max()) < 0.3


def test_chooses_heavy_tails_and_recovers_the_mi_of_a_student_t():
    # BMI's student-identity-5-5-2: all the MI is in the shared scale, no correlation
    task = get_task("student-t-5x5")
    x, y = task.sample(5000, seed=0)
    xt, yt = task.sample(3000, seed=1)
    g = MarginalGaussianizer().fit(torch.cat([x, y], 1))
    z, zt = g(torch.cat([x, y], 1)), g(torch.cat([xt, yt], 1))
    reference = StudentTLogRatio(5, 5)
    reference.fit_data(z[:, :5], z[:, 5:])
    assert reference.df_value in (1.5, 2.0, 3.0)
    estimate = float(reference(zt[:, :5], zt[:, 5:]).mean())
    assert abs(estimate - task.mutual_information) < 0.05, (estimate, task.mutual_information)
    gaussian = GaussianLogRatio(5, 5)
    gaussian.fit_data(z[:, :5], z[:, 5:])
    assert float(gaussian(zt[:, :5], zt[:, 5:]).mean()) < 0.02  # the Gaussian model sees none of it


@pytest.mark.parametrize("name", ["gaussian-5x5", "gaussian-25x25"])
def test_gaussian_data_gives_the_gaussian_reference(name):
    x, y = get_task(name).sample(4000, seed=0)
    reference = StudentTLogRatio(x.shape[1], y.shape[1])
    reference.fit_data(x, y)
    assert math.isinf(reference.df_value)
    gaussian = GaussianLogRatio(x.shape[1], y.shape[1])
    gaussian.fit_data(x, y)
    torch.testing.assert_close(reference.score_matrix(x[:20], y[:20]), gaussian.score_matrix(x[:20], y[:20]))


def test_independent_heavy_tailed_blocks_give_no_dependence():
    # x and y each have tail dependence inside (their own Student-t scales), none between:
    # the held-out DV bound, which chooses df, cannot report dependence that is not there.
    generator = torch.Generator().manual_seed(0)
    n = 6000
    w = torch.sqrt(2.0 / (2 * torch._standard_gamma(torch.full((n, 2), 1.0, dtype=torch.float64), generator=generator)))
    xy = torch.randn(n, 6, generator=generator, dtype=torch.float64) * torch.repeat_interleave(w, 3, dim=1)
    z = MarginalGaussianizer().fit(xy)(xy).float()
    reference = StudentTLogRatio(3, 3)
    reference.fit_data(z[:4000, :3], z[:4000, 3:])
    held_out = reference(z[4000:, :3], z[4000:, 3:])
    negatives = reference.score_matrix(z[4000:4500, :3], z[4500:5000, 3:]).flatten()
    dv = float(held_out.mean() - (torch.logsumexp(negatives, 0) - math.log(len(negatives))))
    assert dv < 0.02


def test_views_agree_and_state_round_trips():
    x, y = t_copula_samples(3000, 2.0, SCALE, seed=1)
    reference = StudentTLogRatio(DX, 3)
    reference.fit_data(x, y)
    assert not math.isinf(reference.df_value)
    xt, yt = x[:12], y[:12]
    matrix = reference.score_matrix(xt, yt)
    torch.testing.assert_close(reference(xt, yt), matrix.diagonal(), atol=1e-5, rtol=1e-5)
    index = torch.randint(0, 12, (12, 4), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(reference.score_pairs(xt, yt, index), matrix.gather(1, index), atol=1e-5, rtol=1e-5)
    # y of another length than x
    torch.testing.assert_close(reference.score_matrix(xt, y[:5]), matrix[:, :5], atol=1e-5, rtol=1e-5)
    loaded = StudentTLogRatio(DX, 3)
    loaded.load_state_dict(reference.state_dict())
    assert loaded.df_value == reference.df_value
    torch.testing.assert_close(loaded.score_matrix(xt, yt), matrix)
    # differentiable in its inputs (a minimised penalty back-propagates through it)
    xg = xt.clone().requires_grad_(True)
    reference(xg, yt).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all() and xg.grad.abs().sum() > 0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="df must be positive"):
        StudentTLogRatio(2, 2, df=0.0)
    with pytest.raises(ValueError, match="df_candidates"):
        StudentTLogRatio(2, 2, df_candidates=(2.0, -1.0))
    with pytest.raises(ValueError, match="dims"):
        StudentTLogRatio(2, 3).fit_data(torch.randn(50, 3), torch.randn(50, 3))
    assert math.inf in DF_CANDIDATES


def test_constant_and_duplicated_coordinates_give_finite_scores():
    x, y = t_copula_samples(2000, 2.0, SCALE, seed=2)
    x = torch.cat([x, torch.zeros(len(x), 1), x[:, :1]], 1)  # a constant and a duplicated coordinate
    reference = StudentTLogRatio(DX + 2, 3)
    reference.fit_data(x, y)
    assert not math.isinf(reference.df_value)
    assert torch.isfinite(reference.score_matrix(x[:10], y[:10])).all()
    plain = StudentTLogRatio(DX, 3)
    plain.fit_data(x[:, :DX], y)
    # the extra coordinates carry no information beyond x: the fitted model barely moves
    assert abs(float(reference(x, y).mean()) - float(plain(x[:, :DX], y).mean())) < 0.05


def test_few_samples_keep_the_gaussian():
    x, y = torch.randn(30, 2), torch.randn(30, 2)
    reference = StudentTLogRatio(2, 2)
    reference.fit_data(x, y)
    assert math.isinf(reference.df_value)


# --------------------------------------------------------------------------------------
# The choice of reference in estimate_mi (mist_reg.estimation.reference_choice)
# --------------------------------------------------------------------------------------


def test_estimate_mi_starts_from_the_t_model_on_heavy_tailed_dependence():
    # all of the MI in the shared scale: the trained Gaussian start learns part of it,
    # the closed-form t model wins on validation and the estimate is near the truth
    task = get_task("student-t-5x5")
    x, y = task.sample(5000, seed=3)
    result = estimate_mi(x, y)
    reference = result.estimator.critic.reference
    assert isinstance(reference, StudentTLogRatio) and reference.df_value in (1.5, 2.0, 3.0)
    assert abs(result - task.mutual_information) < 0.05, (float(result), task.mutual_information)
    gaussian_start = estimate_mi(x, y, reference="gaussian")
    assert result > gaussian_start + 0.03


def test_estimate_mi_on_gaussian_data_is_the_gaussian_start_exactly():
    x, y = get_task("gaussian-5x5").sample(1500, seed=0)
    result = estimate_mi(x, y, max_iterations=150)
    assert math.isinf(result.estimator.critic.reference.df_value)
    assert float(result) == float(estimate_mi(x, y, max_iterations=150, reference="gaussian"))


def test_the_t_start_is_not_taken_when_the_trained_gaussian_start_is_better():
    # the t reference fits the data better than the Gaussian one, but a longer-trained
    # Gaussian start beats the untrained t model on validation: the t start is not trained
    x, y = get_task("spiral-5x5").sample(3000, seed=0)
    settings = FitSettings(max_iterations=600, seed=0)
    g = MarginalGaussianizer().fit(torch.cat([x, y], 1))
    z = g(torch.cat([x, y], 1))
    estimator = mine(5, 5, **{**ESTIMATION_CRITIC_DEFAULTS, "reference": "student_t"})
    fitted, log = fit_with_reference_choice(estimator, settings, z[:, :5], z[:, 5:])
    student = StudentTLogRatio(5, 5)
    student.fit_data(z[:, :5], z[:, 5:])
    assert not math.isinf(student.df_value)  # a finite df is the better closed form here
    # the t start is not taken (another challenger, the Gaussian mixture, may be)
    assert not isinstance(fitted.critic.reference, StudentTLogRatio) or math.isinf(fitted.critic.reference.df_value)
    assert log.best_valid_mi > float(student(z[:, :5], z[:, 5:]).mean()) - 0.05
