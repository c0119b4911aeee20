import torch

from mist_reg.estimation.fitting import FitSettings
from mist_reg.estimation.reference_model_choice import reference_model_if_unresolved
from mist_reg.estimators import mine
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.tasks import get_task
from mist_reg.tasks.structured import two_views


def test_wide_noisy_views_shrink_the_correlations_and_stay_close_on_held_out_rows():
    torch.set_num_threads(1)
    task = two_views(96, 4, 1.0)  # 96 columns a side, 1,200 training rows
    x, y = task.sample(2000, seed=0)
    reference = GaussianLogRatio(96, 96)
    reference.fit_data(x[:1200], y[:1200])
    held_out = float(reference(x[1200:], y[1200:]).mean())
    assert reference.covariance_shrinkage > 0
    assert abs(held_out - task.mutual_information) < 0.1 * task.mutual_information


def test_an_ordinary_task_is_trained_not_replaced_by_the_reference_model():
    x, y = get_task("gaussian-5x5").sample(1000, seed=0)  # 1 nat: a well-resolved partition term
    assert reference_model_if_unresolved(mine(5, 5, reference="gaussian"), FitSettings(seed=0), x, y) is None


def test_the_reference_model_of_wide_views_is_within_ten_percent():
    task = two_views(32, 4, 0.1)
    x, y = task.sample(2000, seed=0)
    model, log = reference_model_if_unresolved(mine(32, 32, reference="gaussian"), FitSettings(seed=0), x, y)
    x_test, y_test = task.sample(1000, seed=1)
    value = float(model.mutual_information(x_test, y_test))
    assert log.iterations == 0 and model.bound is None
    assert abs(value - task.mutual_information) < 0.1 * task.mutual_information
