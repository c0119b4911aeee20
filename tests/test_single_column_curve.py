"""The learning curve of the one-column bound: its extrapolation and when it is read."""

from __future__ import annotations

import copy

import pytest
import torch

from mist_reg.estimation.coordinates import FoldModel
from mist_reg.estimation.fit_settings import FitSettings
from mist_reg.estimation.fitting import fit_estimator
from mist_reg.estimation.label_curve import curve_weight
from mist_reg.estimation.preprocessing import ColumnPreprocessor
from mist_reg.estimation.single_column import SingleColumnBA, one_column_density
from mist_reg.estimation.single_column_curve import ExtrapolatedBound, along_learning_curve, regression_curve_weight
from mist_reg.functional.bounds import BoundTerms
from mist_reg.tasks.regression import RegressionTask

SIZES = [800.0, 1600.0, 3200.0]


def test_a_learning_curves_shape_is_read_as_for_labels():
    rising = [0.70, 0.82, 0.88]  # steps shrinking by about half: c near 0
    assert regression_curve_weight(SIZES, rising, [0.01, 0.01]) == curve_weight(SIZES, rising, [0.01, 0.01])[0] > 0


@pytest.mark.parametrize(
    "values, errors",
    [
        ([0.80, 0.78, 0.86], [0.01, 0.01]),  # falls at the first doubling: the fits' variation
        ([0.80, 0.815, 0.86], [0.01, 0.01]),  # a first step within two standard errors
        ([0.10, 0.20, 0.60], [0.01, 0.01]),  # steepening: no hyperbola through the three points
        ([0.70, 0.82, 0.83], [0.01, 0.01]),  # nothing left to learn that the test rows show
    ],
)
def test_other_shapes_keep_the_bound(values, errors):
    assert regression_curve_weight(SIZES, values, errors) == 0.0


def test_the_extrapolation_closes_most_of_the_gap_on_fresh_rows():
    # y = a relu sum over 8 columns: on the 3,500 training rows of 5,000 the bound is still learning f
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the networks' initialisations
    task = RegressionTask("relu", 8, 0.3)
    x, y = task.sample(3500, seed=0)
    x_map, y_map = ColumnPreprocessor("none", 8).fit(x), ColumnPreprocessor("gaussianize", 1).fit(y)
    settings = FitSettings(seed=0)
    bound = SingleColumnBA(one_column_density(8), "y")
    initial = copy.deepcopy(bound.state_dict())
    log = fit_estimator(bound, settings, x_map(x), y_map(y))
    x_test, y_test = task.sample(1500, seed=1)
    fitted = along_learning_curve(FoldModel(bound, log, x_map, y_map, initial), settings, x, y, x_test, y_test)
    assert isinstance(fitted.estimator, ExtrapolatedBound) and fitted.estimator.bound is None
    x_fresh, y_fresh = task.sample(20000, seed=2)
    with torch.no_grad():
        values = {
            name: float(model.terms(x_map(x_fresh), y_map(y_fresh)).per_sample.mean())
            for name, model in (("bound", bound), ("extrapolated", fitted.estimator))
        }
    truth = task.mutual_information
    assert values["bound"] < 0.97 * truth  # the gap the curve is read for
    assert abs(values["extrapolated"] - truth) < 0.5 * abs(values["bound"] - truth), values


def test_only_bounds_without_a_partition_term_are_combined():
    class WithPartition(SingleColumnBA):
        def terms(self, x, y):
            return BoundTerms(torch.zeros(len(x)), torch.zeros(len(x), len(x)))

    combined = ExtrapolatedBound(*(WithPartition(one_column_density(1), "y") for _ in range(2)), weight=1.0)
    with pytest.raises(ValueError, match="per-sample bounds only"):
        combined.terms(torch.randn(8, 1), torch.randn(8, 1))


def test_too_few_rows_for_a_curve_keep_the_bound():
    # a quarter of 500 training rows leaves 12 validation rows to the smallest fit
    task = RegressionTask("relu", 8, 0.3)
    x, y = task.sample(500, seed=0)
    x_map, y_map = ColumnPreprocessor("none", 8).fit(x), ColumnPreprocessor("gaussianize", 1).fit(y)
    bound = SingleColumnBA(one_column_density(8), "y")
    initial = copy.deepcopy(bound.state_dict())
    log = fit_estimator(bound, FitSettings(seed=0, max_iterations=20), x_map(x), y_map(y))
    fitted = FoldModel(bound, log, x_map, y_map, initial)
    assert along_learning_curve(fitted, FitSettings(seed=0), x, y, *task.sample(100, seed=1)) is fitted


def test_estimate_mi_answers_on_a_few_dozen_rows():
    from mist_reg import estimate_mi

    x, y = RegressionTask("relu", 8, 0.3).sample(30, seed=0)
    assert estimate_mi(x, y, seed=0).estimator_name in ("ba", "mine")
