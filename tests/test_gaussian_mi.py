import math

import pytest
import torch

from mist_reg.estimation.combine import REFERENCE_MODEL_NAME
from mist_reg.estimation.gaussian_estimate import gaussian_on_all_rows
from mist_reg.estimation.result import MIEstimate
from mist_reg.functional.gaussian import gaussian_mutual_information, unbiased_log_det
from mist_reg.tasks.structured import two_views


def test_the_log_determinant_of_a_wide_scatter_matrix_is_unbiased():
    # 40 dimensions from 60 rows: the plug-in log det is far below the truth (0), the corrected one is not
    generator = torch.Generator().manual_seed(0)
    values = []
    for _ in range(200):
        z = torch.randn(60, 40, generator=generator, dtype=torch.float64)
        zc = z - z.mean(0)
        values.append(float(unbiased_log_det(zc.T @ zc, 59)))
    mean, error = sum(values) / len(values), torch.tensor(values).std().item() / math.sqrt(len(values))
    assert abs(mean) < 4 * error
    z = torch.randn(60, 40, generator=generator, dtype=torch.float64)
    zc = z - z.mean(0)
    assert torch.linalg.slogdet(zc.T @ zc / 59)[1] < -10  # what the bias would be without the correction


@pytest.mark.parametrize("dim, latent, noise", [(16, 4, 0.5), (64, 8, 0.5), (128, 8, 0.35)])
def test_two_wide_views_come_out_at_the_truth_with_an_honest_error_bar(dim, latent, noise):
    task = two_views(dim, latent, noise)
    errors, bars = [], []
    for seed in range(6):
        x, y = task.sample(2500, seed=seed)
        value, error = gaussian_mutual_information(x, y)
        errors.append(value - task.mutual_information)
        bars.append(error)
    spread = torch.tensor(errors).pow(2).mean().sqrt().item()
    assert abs(sum(errors) / len(errors)) < 0.01 * task.mutual_information  # no bias beyond 1%
    assert 0.5 < spread / (sum(bars) / len(bars)) < 2.0  # the jackknife bar is the size of the actual error


def test_independent_sides_give_zero_and_bad_input_is_named():
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(3000, 20, generator=generator), torch.randn(3000, 30, generator=generator)
    value, error = gaussian_mutual_information(x, y)
    assert abs(value) < 3 * error + 0.01
    with pytest.raises(ValueError, match="same n"):
        gaussian_mutual_information(x, y[:10])
    with pytest.raises(ValueError, match="rows"):
        gaussian_mutual_information(x[:40], y[:40])
    with pytest.raises(ValueError, match="finite"):
        gaussian_mutual_information(x.index_fill(0, torch.tensor([3]), float("nan")), y)
    with pytest.raises(ValueError, match="linearly dependent"):
        gaussian_mutual_information(torch.cat([x, x[:, :1]], 1), y)


def test_only_a_held_out_reference_model_of_continuous_columns_is_replaced():
    x, y = two_views(32, 4, 0.5).sample(2000, seed=0)
    trained = MIEstimate(5.0, standard_error=0.1, estimator_name="mine")
    assert gaussian_on_all_rows(trained, x, y, "gaussianize", (32, 32)) is trained
    reference = MIEstimate(5.0, standard_error=0.1, estimator_name=REFERENCE_MODEL_NAME)
    assert gaussian_on_all_rows(reference, x, y, "gaussianize", (31, 32)) is reference  # a discrete column
    assert gaussian_on_all_rows(reference, x[:120], y[:120], "gaussianize", (32, 32)) is reference  # too few rows
    replaced = gaussian_on_all_rows(reference, x, y, "gaussianize", (32, 32))
    assert replaced.estimator_name == "gaussian_unbiased" and replaced.n_test == 2000
