"""The single-index route: a one-column side read through a ridge index of the other side."""

from __future__ import annotations

import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.estimation.fit_settings import FitSettings, TrainingLog
from mist_reg.estimation.index_features import fit_ridge_index
from mist_reg.estimation.knn_estimate import subsampling_standard_error
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.single_index import (
    ESTIMATOR_NAME,
    MAX_INDEX_COLUMNS,
    _validation_margins,
    cross_fitted_index_estimate,
    index_reads_left_out,
    refine_index,
    single_index_estimate,
)
from mist_reg.tasks.regression import RegressionTask

DEFAULT = ModelSpec("mine", {}, by_default=True)


def _route(x, y, best_valid_mi, model=DEFAULT, preprocessing="gaussianize"):
    n = 3500
    c_x, c_y = x.shape[1], y.shape[1]
    return single_index_estimate(
        TrainingLog(best_valid_mi=best_valid_mi),
        model,
        preprocessing,
        (c_x, c_y),
        x[:n],
        y[:n],
        x[n:],
        y[n:],
        FitSettings(seed=0),
        0.95,
    )


def test_the_norm_of_many_columns_is_read_through_their_squares():
    # y = |x| + noise in 48 columns: no column has a linear effect, the sum of squares is the index
    task = RegressionTask("norm", 48, 0.3)
    x, y = task.sample(5000, seed=0)
    result = _route(x, y, best_valid_mi=0.3)
    assert result is not None and result.estimator_name == ESTIMATOR_NAME and result.bound is None
    assert abs(result - task.mutual_information) < 0.08, (float(result), task.mutual_information)
    low, high = result.interval
    assert low < float(result) < high and result.n_test == 1500
    # the validation estimate of the default is the bar: a better default keeps the route out
    assert _route(x, y, best_valid_mi=task.mutual_information + 0.5) is None


def test_the_route_applies_only_to_the_default_on_gaussianised_columns_of_a_narrow_side():
    task = RegressionTask("tanh", 8, 0.2)
    x, y = task.sample(4500, seed=1)
    assert _route(x, y, 0.0) is not None
    assert _route(x, y, 0.0, model=ModelSpec("mine", {})) is None
    assert _route(x, y, 0.0, preprocessing="standardize") is None
    assert _route(x[:, :1], y, 0.0) is None  # two single columns: KSG's own route
    assert _route(torch.cat([x, y], 1), torch.cat([y, x[:, :1]], 1), 0.0) is None  # no single column
    wide = torch.randn(4500, MAX_INDEX_COLUMNS + 1)
    assert _route(wide, y, 0.0) is None
    # columns of a few values declared continuous: the index has atoms, which KSG overcounts
    coarse = torch.randint(0, 3, (4500, 4)).float()
    assert _route(coarse, coarse.sum(1, keepdim=True) + torch.randn(4500, 1), 0.0) is None


def test_the_ridge_penalty_of_least_leave_one_out_error_shrinks_noise_away():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 20, generator=generator, dtype=torch.float64)
    _, noise_weights, _ = fit_ridge_index(x, torch.randn(1000, generator=generator, dtype=torch.float64))
    signal = x[:, 0] - 0.5 * x[:, 1] + 0.1 * torch.randn(1000, generator=generator, dtype=torch.float64)
    _, weights, intercept = fit_ridge_index(x, signal)
    assert noise_weights.abs().max() < 0.05
    assert torch.allclose(weights[:2], torch.tensor([1.0, -0.5], dtype=torch.float64), atol=0.02)
    assert weights[2:].abs().max() < 0.02 and abs(intercept) < 0.05
    with pytest.raises(ValueError, match="same rows"):
        fit_ridge_index(x, signal[:-1])
    with pytest.raises(ValueError, match="at least 3 rows"):
        fit_ridge_index(x[:2], signal[:2])


def test_estimate_mi_reports_the_index_where_it_beats_the_trained_default():
    # the cube of one projection of 64 columns: trained bounds reach about 0.6x (docs/benchmarks.md)
    task = RegressionTask("cubic", 64, 0.5)
    x, y = task.sample(4000, seed=0)
    result = estimate_mi(x, y, seed=0)
    assert result.estimator_name == ESTIMATOR_NAME
    assert 0.7 * task.mutual_information < result < task.mutual_information + 0.05, float(result)


def test_under_cross_fitting_every_row_is_read_by_an_index_fitted_on_the_other_folds():
    task = RegressionTask("norm", 32, 0.3)  # the norm of 32 columns: read through their squares
    x, y = task.sample(4000, seed=2)
    folds = torch.tensor_split(torch.randperm(4000, generator=torch.Generator().manual_seed(0)), 4)

    def route(best_valid_mi):
        logs = [(held, TrainingLog(best_valid_mi=best_valid_mi), FitSettings(seed=k)) for k, held in enumerate(folds)]
        return cross_fitted_index_estimate(logs, DEFAULT, "gaussianize", (32, 1), x, y, 0.95)

    result = route(0.0)
    assert result.estimator_name == ESTIMATOR_NAME and result.n_folds == 4 and result.n_test == 4000
    assert abs(result - task.mutual_information) < 0.1, float(result)
    assert route(5.0) is None  # the folds' trainings validated higher: the default stays
    logs = [(held, TrainingLog(best_valid_mi=0.0), FitSettings(seed=k)) for k, held in enumerate(folds)]
    assert cross_fitted_index_estimate(logs, ModelSpec("mine", {}), "gaussianize", (32, 1), x, y, 0.95) is None


def test_estimate_mi_tries_the_index_under_n_folds():
    task = RegressionTask("tanh", 16, 0.2)
    x, y = task.sample(3000, seed=0)
    result = estimate_mi(x, y, seed=0, n_folds=2)
    assert result.estimator_name == ESTIMATOR_NAME and result.n_folds == 2
    assert abs(result - task.mutual_information) < 0.1, float(result)


def test_a_wave_of_one_projection_is_read_by_the_single_index_model_where_the_ridge_misses_it():
    # sin(2 <x, 1> / 4) + noise in 16 columns: each column's linear trace is faint, so the
    # ridge's direction is off by enough for the sine to lose most of it
    task = RegressionTask("wave", 16, 0.2)
    x, y = task.sample(5000, seed=0)
    result = _route(x, y, 0.95)  # a validation estimate above what the ridge's index reaches
    assert result is not None and result.estimator_name == ESTIMATOR_NAME
    assert abs(result - task.mutual_information) < 0.06, float(result)
    means, weights, _ = fit_ridge_index(x[:3000].double(), y[:3000, 0].double())
    refined = refine_index(x[:3000].double(), y[:3000, 0].double(), (means, weights, 0))[1][:16]
    truth_cosine = lambda w: float(w.sum() / w.norm() / 4)  # noqa: E731
    assert truth_cosine(refined) > 0.995 > truth_cosine(weights[:16])


def test_a_split_that_leaves_out_columns_acting_through_one_index_is_refused():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4000, 12, generator=generator)
    wave = torch.sin(2 * x.sum(1, keepdim=True) / 12**0.5) + 0.3 * torch.randn(4000, 1, generator=generator)
    kept = [(tuple(range(10)), (0,))]  # columns 10 and 11 left out as independent
    assert index_reads_left_out(x, wave, kept, "gaussianize", 0)
    assert index_reads_left_out(wave, x, [((0,), tuple(range(10)))], "gaussianize", 0)  # x the single column
    assert not index_reads_left_out(x, wave, [(tuple(range(12)), (0,))], "gaussianize", 0)  # none left out
    assert not index_reads_left_out(x, wave, kept, "standardize", 0)
    independent = torch.sin(2 * x[:, :10].sum(1, keepdim=True) / 10**0.5) + 0.3 * torch.randn(
        4000, 1, generator=generator
    )
    assert not index_reads_left_out(x, independent, kept, "gaussianize", 0)


def test_refine_index_names_bad_shapes():
    x, z = torch.randn(100, 4, dtype=torch.float64), torch.randn(100, dtype=torch.float64)
    fit = fit_ridge_index(x, z)
    with pytest.raises(ValueError, match="same rows"):
        refine_index(x, z[:-1], fit)
    with pytest.raises(ValueError, match="fit_ridge_index's of 3 columns"):
        refine_index(x[:, :3], z, fit)


def test_the_single_index_model_must_beat_the_ridge_by_more_than_their_paired_noise():
    # a linear index: the ridge reads f, and the refined index can only tie with it
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 8, generator=generator)
    linear = x.sum(1, keepdim=True) / 8**0.5 + 0.5 * torch.randn(4000, 1, generator=generator)
    log, settings = TrainingLog(best_valid_mi=0.0), FitSettings(seed=0)
    assert set(_validation_margins("y", log, "gaussianize", x, linear, settings)) == {"ridge"}
    # a wave of the same projection: the refined index wins by far more than the noise
    wave = torch.sin(2 * x.sum(1, keepdim=True) / 8**0.5) + 0.2 * torch.randn(4000, 1, generator=generator)
    margins = _validation_margins("y", log, "gaussianize", x, wave, settings)
    assert margins["single-index model"] > margins["ridge"] + 0.1, margins


def test_the_paired_standard_error_of_two_close_indices_is_far_below_either_ones():
    generator = torch.Generator().manual_seed(0)
    index = torch.randn(2000, 1, generator=generator, dtype=torch.float64)
    z = index + 0.5 * torch.randn(2000, 1, generator=generator, dtype=torch.float64)
    close = index + 0.01 * torch.randn(2000, 1, generator=generator, dtype=torch.float64)
    alone = subsampling_standard_error(close, z, generator=torch.Generator().manual_seed(0))
    paired = subsampling_standard_error(close, z, generator=torch.Generator().manual_seed(0), minus=index)
    assert 0 < paired < alone / 3, (paired, alone)
    with pytest.raises(ValueError, match="same 2000 rows"):
        subsampling_standard_error(close, z, minus=index[:-1])


def test_a_product_of_two_projections_is_read_through_the_pairwise_products(monkeypatch):
    # a quadratic form of all 8 columns whose squares carry nothing: only the products read it
    task = RegressionTask("interaction", 8, 0.2)
    x, y = task.sample(5000, seed=0)
    result = _route(x, y, best_valid_mi=0.3)
    assert result is not None and abs(result - task.mutual_information) < 0.12, float(result)
    monkeypatch.setattr("mist_reg.estimation.index_features.MAX_PRODUCT_COLUMNS", 0)
    without = _route(x, y, best_valid_mi=0.0)
    assert without is None or without < 0.5 * task.mutual_information, float(without)


def test_an_additive_function_with_kinks_is_read_through_the_hinges(monkeypatch):
    # a sum of relus of 16 columns: one straight and one squared term per column miss the kinks
    task = RegressionTask("relu", 16, 0.5)
    x, y = task.sample(5000, seed=0)
    with_hinges = _route(x, y, best_valid_mi=0.3)
    monkeypatch.setattr("mist_reg.estimation.index_features.MAX_HINGE_COLUMNS", 0)
    without = _route(x, y, best_valid_mi=0.3)
    assert abs(with_hinges - task.mutual_information) < 0.06, float(with_hinges)
    assert without < with_hinges - 0.15, (float(without), float(with_hinges))
