"""Tests for mist_reg.estimation.closed_form_all_rows: the cross-fitted closed-form reference
(Gaussian mixture, Student-t copula) that the default reports from every row where its
trained correction learned nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.estimation import training_defaults as defaults
from mist_reg.estimation.closed_form_all_rows import (
    ALL_ROWS_NAMES,
    FOLDS,
    cross_fitted_log_ratios,
    gaussian_by_search,
    reference_on_all_rows,
)
from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.critic_ensemble import averaged_copy
from mist_reg.estimation.fit_settings import TrainingLog, learned
from mist_reg.estimation.preprocessing import ColumnPreprocessor, MarginalGaussianizer
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimators import mine
from mist_reg.nn.references.mixture import MixtureLogRatio
from mist_reg.nn.references.student_t import StudentTLogRatio
from mist_reg.tasks import dense_gaussian, get_task
from mist_reg.tasks.gaussian import GaussianTask
from mist_reg.tasks.mixtures import ClusteredMixtureTask


def test_cross_fitted_log_ratios_hold_every_row_out_once_and_recover_a_mixtures_mi():
    task = ClusteredMixtureTask(2, 2, n_clusters=4, spread=3.0, elongation=4.0, seed=3)
    x, y = task.sample(3000, seed=0)
    reference = MixtureLogRatio(2, 2)
    reference.fit_data(x.double(), y.double())
    terms = cross_fitted_log_ratios(reference, x, y, generator=torch.Generator().manual_seed(0))
    assert terms.shape == (3000,) and terms.dtype == torch.float64
    assert abs(float(terms.mean()) - task.mutual_information) < 0.06, (float(terms.mean()), task.mutual_information)


def test_cross_fitted_student_t_copula_recovers_a_student_t_mi():
    task = get_task("student-t-5x5")
    x, y = task.sample(4000, seed=0)
    gaussianise = lambda v: MarginalGaussianizer().fit(v)(v)  # noqa: E731
    xg, yg = gaussianise(x), gaussianise(y)
    reference = StudentTLogRatio(5, 5)
    reference.fit_data(xg[:2000], yg[:2000])
    assert not reference.is_gaussian
    terms = cross_fitted_log_ratios(reference, xg, yg, generator=torch.Generator().manual_seed(0))
    assert abs(float(terms.mean()) - task.mutual_information) < 0.04, (float(terms.mean()), task.mutual_information)


def test_cross_fitted_log_ratios_check_their_arguments():
    x = torch.randn(50, 2)
    reference = MixtureLogRatio(2, 2)
    with pytest.raises(ValueError, match="same number of rows"):
        cross_fitted_log_ratios(reference, x, x[:40])
    with pytest.raises(ValueError, match="folds must be between 2"):
        cross_fitted_log_ratios(reference, x, x, folds=1)


def test_the_default_reports_the_cross_fitted_mixture_on_clusters_within_its_error_bar():
    task = ClusteredMixtureTask(2, 2, n_clusters=3, spread=2.0, elongation=4.0)  # clusters-2x2-c3-s2-e4
    x, y = task.sample(3000, seed=1)
    mi = estimate_mi(x, y, seed=1)
    assert mi.estimator_name == ALL_ROWS_NAMES[MixtureLogRatio] and mi.n_test == 3000 and mi.n_folds == FOLDS
    assert mi.bound is None and 0 < mi.standard_error < 0.05
    assert abs(mi - task.mutual_information) < 0.06, (float(mi), task.mutual_information)
    assert mi.interval[0] < mi < mi.interval[1]
    # given test rows stay the test rows: the held-out estimate of the trained critic is reported
    given = estimate_mi(x[:2000], y[:2000], x_test=x[2000:], y_test=y[2000:], seed=1)
    assert given.estimator_name != ALL_ROWS_NAMES[MixtureLogRatio] and given.n_test == 1000


def test_a_correction_that_learned_or_given_test_rows_keep_the_held_out_estimate():
    task = ClusteredMixtureTask(2, 2, n_clusters=3, spread=3.0)
    x, y = task.sample(600, seed=0)
    estimator = mine(2, 2, hidden_dims=[8], reference="gaussian")
    plain = ColumnPreprocessor("none", 2)
    held_out = MIEstimate(0.5, standard_error=0.05)
    untrained = TrainingLog(records=[{"valid_mi": 0.4}], best_valid_mi=0.4, best_iteration=0)
    learned = TrainingLog(records=[{"valid_mi": 0.4}], best_valid_mi=0.6, best_iteration=50)
    gaussian = FoldModel(estimator, untrained, plain, plain)
    assert reference_on_all_rows(held_out, gaussian, 0.0, (x, y), seed=0).estimator_name == "gaussian_unbiased"
    assert reference_on_all_rows(held_out, dataclasses.replace(gaussian, log=learned), 0.01, (x, y), 0) is held_out
    mixture = MixtureLogRatio(2, 2)
    mixture.fit_data(x, y)
    assert mixture.n_components > 1
    on_mixture = FoldModel(mine(2, 2, hidden_dims=[8], reference="gaussian"), untrained, plain, plain)
    on_mixture.estimator.critic.reference = mixture
    assert reference_on_all_rows(held_out, on_mixture, 0.0, None, seed=0) is held_out  # test rows were given
    assert reference_on_all_rows(held_out, dataclasses.replace(on_mixture, log=learned), 0.01, (x, y), 0) is held_out
    all_rows = reference_on_all_rows(held_out, on_mixture, 0.0, (x, y), seed=0)
    assert all_rows.estimator_name == ALL_ROWS_NAMES[MixtureLogRatio] and all_rows.n_test == 600
    # discrete columns beside continuous ones: no Gaussian MI of every row
    mixed = FoldModel(estimator, untrained, ColumnPreprocessor("none", 1), plain)
    coded = torch.cat([x[:, :1], (x[:, 1:] > 0).float()], 1)
    assert reference_on_all_rows(held_out, mixed, 0.0, (coded, y), seed=0) is held_out


def test_the_gaussian_start_that_learned_nothing_is_read_from_every_row_without_bias():
    task = dense_gaussian(2, 2, 0.45)
    x, y = task.sample(3000, seed=2)
    estimator = mine(2, 2, hidden_dims=[8], reference="gaussian")
    plain = ColumnPreprocessor("none", 2)
    untrained = TrainingLog(records=[{"valid_mi": 0.4}], best_valid_mi=0.4, best_iteration=0)
    mi = reference_on_all_rows(MIEstimate(0.0), FoldModel(estimator, untrained, plain, plain), 0.01, (x, y), seed=0)
    assert mi.estimator_name == "gaussian_unbiased" and mi.n_test == 3000
    assert abs(mi - task.mutual_information) < 3 * mi.standard_error + 0.005, (float(mi), mi.standard_error)


def test_gaussian_data_never_reach_the_mixture():
    task = dense_gaussian(2, 2, 0.4)
    x, y = task.sample(2000, seed=0)
    mi = estimate_mi(x, y, seed=0)
    assert mi.estimator_name != ALL_ROWS_NAMES[MixtureLogRatio]
    assert abs(mi - task.mutual_information) < 0.06


def test_the_default_reports_the_cross_fitted_student_t_copula_on_student_t_data():
    task = get_task("student-t-5x5")  # 0.448 nats through a shared scale, no correlation
    x, y = task.sample(3000, seed=0)
    mi = estimate_mi(x, y, seed=0)
    assert mi.estimator_name == ALL_ROWS_NAMES[StudentTLogRatio] and mi.n_test == 3000
    assert abs(mi - task.mutual_information) < 2.5 * mi.standard_error + 0.01, (float(mi), mi.standard_error)


def test_a_gaussian_start_whose_mixture_search_kept_one_component_is_read_from_every_row_though_it_learned():
    task = dense_gaussian(2, 2, 0.45)
    x, y = task.sample(3000, seed=2)
    plain = ColumnPreprocessor("none", 2)
    held_out = MIEstimate(0.5, standard_error=0.05)
    rose = TrainingLog(records=[{"valid_mi": 0.4}], best_valid_mi=0.6, best_iteration=50)  # learned by 0.2
    estimator = mine(2, 2, hidden_dims=[8], critic_type="separable", marginal_terms=True, reference="gaussian")
    kept_one = FoldModel(estimator, dataclasses.replace(rose, mixture_search=1), plain, plain)
    mi = reference_on_all_rows(held_out, kept_one, 0.01, (x, y), seed=0)
    assert mi.estimator_name == "gaussian_unbiased" and mi.n_test == 3000
    assert abs(mi - task.mutual_information) < 3 * mi.standard_error + 0.005, (float(mi), mi.standard_error)
    averaged = dataclasses.replace(kept_one, estimator=averaged_copy(estimator))  # members on the Gaussian start
    assert gaussian_by_search(averaged)
    assert reference_on_all_rows(held_out, averaged, 0.01, (x, y), seed=0).estimator_name == "gaussian_unbiased"
    # several components, no search, or given test rows: the held-out estimate of the critic that learned
    for search in (3, None):
        searched = dataclasses.replace(kept_one, log=dataclasses.replace(rose, mixture_search=search))
        assert not gaussian_by_search(searched)
        assert reference_on_all_rows(held_out, searched, 0.01, (x, y), seed=0) is held_out
    assert reference_on_all_rows(held_out, kept_one, 0.01, None, seed=0) is held_out
    # a critic that starts from a fitted mixture is not the Gaussian start
    on_mixture = mine(2, 2, hidden_dims=[8], reference="gaussian")
    on_mixture.critic.reference = MixtureLogRatio(2, 2)
    assert not gaussian_by_search(dataclasses.replace(kept_one, estimator=on_mixture))


def test_the_default_reads_gaussian_data_from_every_row_where_its_correction_rose_on_validation_noise():
    covariance = torch.full((6, 6), 0.5, dtype=torch.float64)  # every pair of columns correlated 0.5
    task = GaussianTask(covariance.fill_diagonal_(1.0), 3, "equicorrelated-3x3", "")
    x, y = task.sample(5000, seed=1)
    mi = estimate_mi(x, y, seed=1)
    # the correction rose above its start on the validation rows, but the mixture challenger's
    # search kept one component: the Gaussian MI of every row is reported, and the four
    # averaged corrections, which would not be, are not trained
    assert learned(mi.log, defaults.ESTIMATE_MIN_DELTA) and mi.log.mixture_search == 1
    assert type(mi.estimator).__name__ == "MINE"
    given = estimate_mi(x[:4000], y[:4000], x_test=x[4000:], y_test=y[4000:], seed=1)  # read on given test rows
    assert type(given.estimator).__name__ == "AveragedMINE" and given.estimator_name == "mine (averaged)"
    assert mi.estimator_name == "gaussian_unbiased" and mi.n_test == 5000
    assert abs(mi - task.mutual_information) < 3 * mi.standard_error + 0.005, (float(mi), mi.standard_error)
