"""label_mi: the class-label path of estimate_mi, against ground truth, on independent labels,
in its choice of classifier family, and on bad input."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.estimation.classifiers import BoostedTrees, LabelClassifier
from mist_reg.estimation.label_curve import curve_weight
from mist_reg.estimation.label_estimate import label_mi
from mist_reg.tasks.labels import GaussianMixtureLabelTask, StepLabelTask


def test_ground_truth_of_a_small_label_task_lies_within_three_standard_errors():
    task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=2.0)
    x, y = task.sample(2000, seed=0)
    mi = label_mi(x, y, 3, n_folds=None, extrapolate=False, seed=0)
    assert mi.bound == "lower" and abs(mi.n_test - 600) <= 3
    assert abs(float(mi) - task.mutual_information) <= 3 * mi.standard_error, (float(mi), task.mutual_information)
    assert mi.interval[0] < float(mi) < mi.interval[1]


def test_cross_fitting_tests_every_row_and_matches_the_truth():
    task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=2.0)
    x, y = task.sample(2000, seed=1)
    mi = label_mi(x, y, 3, n_folds=3, seed=0)
    assert mi.n_test == 2000 and mi.n_folds == 3 and len(mi.fold_estimates) == 3
    assert abs(float(mi) - task.mutual_information) <= 3 * mi.standard_error


def test_independent_labels_give_about_zero_with_an_interval_covering_zero():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2000, 6, generator=g), torch.randint(0, 4, (2000,), generator=g)
    with pytest.warns(RuntimeWarning, match="about 0 by construction"):
        mi = label_mi(x, y, 4, seed=0)
    assert abs(float(mi)) < 0.03
    assert mi.interval[0] <= 0.0 <= mi.interval[1]


def test_features_without_information_warn_that_the_estimate_is_zero_by_construction():
    y = torch.arange(1000) % 3
    with pytest.warns(RuntimeWarning, match="about 0 by construction"):
        mi = label_mi(torch.ones(1000, 2), y, 3, seed=0)
    assert abs(float(mi)) < 0.01


def test_shared_covariance_gaussian_classes_choose_lda():
    task = GaussianMixtureLabelTask(n_classes=10, dim=20, separation=3.0)
    x, y = task.sample(2000, seed=0)
    mi = label_mi(x, y, 10, seed=0)
    assert mi.estimator_name == "classifier:lda (extrapolated)" and mi.bound is None
    assert abs(float(mi) - task.mutual_information) <= 3 * mi.standard_error + 0.05


@pytest.fixture
def fitted(monkeypatch):
    """The names of the classifier families fitted during the test, in order."""
    names = []
    fit = LabelClassifier.fit

    def counting_fit(self, *args, **kwargs):
        names.append(self.name)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(LabelClassifier, "fit", counting_fit)
    return names


def test_a_family_clearly_behind_on_the_first_fold_is_not_fitted_on_the_others(fitted):
    # QDA: 10 covariances of 20x20 on 160 rows each
    task = GaussianMixtureLabelTask(n_classes=10, dim=20, separation=3.0)
    x, y = task.sample(2000, seed=0)
    mi = label_mi(x, y, 10, seed=0, extrapolate=False)
    assert mi.estimator_name == "classifier:lda" and fitted.count("lda") == 5
    assert fitted.count("qda") == 1  # tried on the first fold, many standard errors behind there


def test_xor_classes_choose_a_nonlinear_family_and_find_the_information():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=g)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()  # the label is a function of x: I = log 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mi = label_mi(x, y, 2, seed=0)
    assert mi.estimator_name != "classifier:lda" and mi.estimator_name != "classifier:logistic"
    assert float(mi) > 0.75 * math.log(2)


def test_a_ring_boundary_is_resolved_by_a_family_that_draws_steps():
    # the label is the side of a circle of radius r (the median radius), flipped with
    # probability 0.2: p(y | x) is a step in |x|, I = log 2 - H(0.9, 0.1) = 0.368 nats
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 2, generator=g)
    side = (x.norm(dim=1) > math.sqrt(2 * math.log(2))).long()
    y = torch.where(torch.rand(4000, generator=g) < 0.2, torch.randint(2, (4000,), generator=g), side)
    truth = math.log(2) + 0.9 * math.log(0.9) + 0.1 * math.log(0.1)
    mi = label_mi(x, y, 2, seed=0)
    assert "knn" in mi.estimator_name or "trees" in mi.estimator_name
    assert abs(float(mi) - truth) <= 0.1 * truth  # the smooth families alone give about 0.8x


def test_an_exclusive_or_among_many_columns_is_resolved_by_boosted_trees():
    # y is the exclusive-or of the signs of 2 of 12 columns, replaced by a fair coin with
    # probability 0.2: I = log 2 - H(0.9, 0.1) = 0.368 nats
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 12, generator=g)
    side = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
    y = torch.where(torch.rand(3000, generator=g) < 0.2, torch.randint(2, (3000,), generator=g), side)
    truth = math.log(2) + 0.9 * math.log(0.9) + 0.1 * math.log(0.1)
    mi = label_mi(x, y, 2, seed=0)
    assert mi.estimator_name == "classifier:trees (extrapolated)"
    assert abs(float(mi) - truth) <= 0.1 * truth, (float(mi), truth)  # the smooth families fall far short


def test_boosted_trees_give_a_class_absent_from_their_rows_the_floor_not_an_error():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 3, generator=g)
    y = (x[:, 0] > 0).long()  # classes 0 and 1 train; class 2 appears only among the validation rows
    y_valid = torch.cat([y[400:599], torch.tensor([2])])
    model = BoostedTrees(seed=0)
    model.fit(x[:400], y[:400], 3, x[400:], y_valid)
    log_q = model.log_probs(x[400:])
    assert log_q.shape == (200, 3) and torch.isfinite(log_q).all()
    assert float(log_q[:, 2].exp().max()) < 0.05


def test_boosted_trees_fitted_on_rows_of_one_class_boost_nothing_and_estimate_mi_finishes():
    # a label of one row against 4,999: some fitting rows hold the large class only
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 3, generator=g)
    model = BoostedTrees(seed=0)
    model.fit(x[:200], torch.zeros(200, dtype=torch.long), 2, x[200:], torch.ones(100, dtype=torch.long))
    log_q = model.log_probs(x[200:])
    assert log_q.shape == (100, 2) and torch.isfinite(log_q).all() and model.rounds == 0
    features = torch.randn(5000, 4, generator=g)
    labels = torch.zeros(5000, dtype=torch.long)
    labels[-1] = 1
    with pytest.warns(RuntimeWarning, match="class 1 of the labels has a single row"):
        mi = estimate_mi(features, labels)
    assert abs(float(mi)) < 0.01


def test_explicit_test_rows_are_the_ones_tested():
    task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=2.0)
    x, y = task.sample(1500, seed=0)
    x_test, y_test = task.sample(500, seed=1)
    mi = label_mi(x, y, 3, x_test, y_test, seed=0)
    assert mi.n_test == 500 and mi.n_folds is None
    assert abs(float(mi) - task.mutual_information) <= 3 * mi.standard_error


def test_one_class_is_exactly_zero_without_a_fit():
    mi = label_mi(torch.randn(50, 3), torch.full((50,), 2), 5)
    assert float(mi) == 0.0 and mi.standard_error == 0.0 and mi.estimator_name == "constant label"


def test_absent_classes_are_dropped():
    task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=2.0)
    x, y = task.sample(1500, seed=0)
    shifted = label_mi(x, 2 * y, 6, seed=0)  # classes 0, 2, 4 of 6
    assert float(shifted) == pytest.approx(float(label_mi(x, y, 3, seed=0)), abs=1e-9)


@pytest.mark.parametrize(
    ("features", "labels", "n_classes", "message"),
    [
        (torch.randn(4, 2), torch.tensor([0, 1, 5, 1]), 3, r"labels holds 5 at row 2, outside .* 0..2"),
        (torch.randn(4, 2), torch.tensor([0, -1, 1, 1]), 3, "labels holds -1 at row 1"),
        (torch.tensor([[0.0], [float("nan")], [1.0], [2.0]]), torch.tensor([0, 0, 1, 1]), 2, "features contains NaN"),
        (torch.randn(4, 2), torch.tensor([0.0, 1.0, 0.0, 1.0]), 2, "labels must be an integer tensor"),
        (torch.randn(4), torch.tensor([0, 1, 0, 1]), 2, r"features must be a float tensor of shape \[N, d\]"),
        (torch.randn(5, 2), torch.tensor([0, 1, 0, 1]), 2, "features has 5 rows but labels has 4"),
        (torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), 0, "n_classes must be a positive integer"),
        (
            torch.randn(6, 2),
            torch.tensor([0, 0, 1, 2, 3, 4]),
            5,
            r"labels: 4 of 6 rows are the only row of their class",
        ),
    ],
)
def test_bad_input_is_refused_in_one_line_naming_the_argument(features, labels, n_classes, message):
    with pytest.raises(ValueError, match=message) as error:
        label_mi(features, labels, n_classes)
    assert "\n" not in str(error.value)


def test_bad_options_and_test_rows_are_refused():
    x, y = torch.randn(20, 2), torch.arange(20) % 2
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2"):
        label_mi(x, y, 2, n_folds=1)
    with pytest.raises(ValueError, match="test_percentage must lie strictly between 0 and 1"):
        label_mi(x, y, 2, test_percentage=1.0)
    with pytest.raises(ValueError, match="features_test and labels_test together"):
        label_mi(x, y, 2, features_test=x)
    with pytest.raises(ValueError, match="labels_test holds class 2, which labels never holds"):
        label_mi(x, y, 3, x[:3], torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="confidence"):
        label_mi(x, y, 2, confidence=1.5)


def test_a_class_of_one_row_trains_and_is_never_tested():
    task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=2.0)
    x, y = task.sample(1500, seed=0)
    y = y[:, 0].clone()
    y[0] = 3  # a fourth class, once
    with pytest.warns(RuntimeWarning, match="class 3 of the labels has a single row"):
        mi = label_mi(x, y, 4, seed=0)
    assert mi.n_test == 1499
    assert abs(float(mi) - task.mutual_information) <= 3 * mi.standard_error + 0.03


def test_one_class_says_so():
    with pytest.warns(RuntimeWarning, match="one class only"):
        mi = label_mi(torch.randn(20, 2), torch.ones(20, dtype=torch.long), 2)
    assert float(mi) == 0.0 and mi.warnings


def test_extrapolation_closes_the_gap_of_many_classes_in_many_dimensions():
    task = GaussianMixtureLabelTask(n_classes=30, dim=32, separation=3.0)
    x, y = task.sample(3000, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held_out = label_mi(x, y, 30, extrapolate=False, seed=0)
        mi = label_mi(x, y, 30, seed=0)
    truth = task.mutual_information
    assert held_out.bound == "lower" and float(held_out) < truth
    assert mi.bound is None and abs(float(mi) - truth) < abs(float(held_out) - truth)
    assert abs(float(mi) / truth - 1) <= 0.05, (float(mi), float(held_out), truth)


def test_the_curvature_is_read_at_its_lower_confidence_limit():
    # a hyperbola with c = 1000 through sizes 1000, 2000, 4000: exact steps give its weight;
    # the same steps with standard errors take a smaller curvature (c toward 0, w toward 1),
    # and steps too noisy to show any curvature give Richardson's w = 1
    sizes = [1000.0, 2000.0, 4000.0]
    values = [1.0 - 1000.0 / (m + 1000.0) for m in sizes]
    exact, c, _ = curve_weight(sizes, values)
    assert abs(c - 1000.0) < 1e-6 and abs(exact - 1.5) < 1e-9
    noisy, c_noisy, _ = curve_weight(sizes, values, step_errors=(0.01, 0.01))
    assert 1.0 < noisy < exact and 0.0 < c_noisy < 1000.0
    flat, c_flat, _ = curve_weight(sizes, values, step_errors=(0.06, 0.03))
    assert flat == 1.0 and c_flat == 0.0


def test_a_learning_curve_that_steepens_is_not_extrapolated():
    # an exclusive-or hidden in 2 of 48 columns: the trees find it only with the most rows, so the
    # curve rises faster at its second doubling and a hyperbola through it would overshoot the truth
    task = StepLabelTask("xor", 48, 0.2)
    x, y = task.sample(3000, seed=1)
    with pytest.warns(RuntimeWarning, match="rises faster at its second doubling"):
        mi = label_mi(x, y, 2, seed=0)
    assert mi.bound == "lower" and not mi.estimator_name.endswith("(extrapolated)")
    assert 0.6 * task.mutual_information < float(mi) < task.mutual_information


def test_the_trees_threads_follow_torchs():
    import sklearn.ensemble  # noqa: F401 - loads scikit-learn's OpenMP runtime
    from threadpoolctl import threadpool_info

    from mist_reg.estimation.classifiers.trees import native_threads_as_torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with native_threads_as_torch(cells=10**7):
            openmp = [pool for pool in threadpool_info() if pool["user_api"] == "openmp"]
            assert openmp and all(pool["num_threads"] == 1 for pool in openmp)
        torch.set_num_threads(2)
        with native_threads_as_torch(cells=10**7):
            assert all(pool["num_threads"] == 2 for pool in threadpool_info() if pool["user_api"] == "openmp")
        with native_threads_as_torch(cells=5000 * 8):  # too few cells to pay for a second thread
            assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "openmp")
    finally:
        torch.set_num_threads(before)


def test_verbose_shows_the_folds(capsys):
    task = GaussianMixtureLabelTask(n_classes=3, dim=4, separation=2.0)
    x, y = task.sample(900, seed=0)
    label_mi(x, y, 3, seed=0, n_folds=3, verbose=True)
    shown = capsys.readouterr().err
    assert "classifier" in shown and "3/3" in shown
    label_mi(x, y, 3, seed=0, n_folds=3)
    assert capsys.readouterr().err == ""


def test_features_bent_column_by_column_are_straightened_before_the_linear_discriminant():
    # Gaussian classes seen through tanh of a random linear map (an activation): I(X; Y) is that
    # of the classes, which the linear families in the raw features fall well short of
    task = GaussianMixtureLabelTask(n_classes=10, dim=16, separation=3.0)
    z, y = task.sample(4000, seed=0)
    g = torch.Generator().manual_seed(1)
    x = torch.tanh(z @ (3.0 * torch.randn(16, 64, generator=g) / 4.0) + 0.5 * torch.randn(64, generator=g))
    mi = label_mi(x, y, 10, seed=0)
    assert "gaussianized-lda" in mi.estimator_name
    assert abs(float(mi) - task.mutual_information) <= 0.05 * task.mutual_information, float(mi)


def test_straight_features_are_not_offered_the_gaussianized_discriminant(fitted):
    x, y = GaussianMixtureLabelTask(n_classes=3, dim=8, separation=2.0).sample(1500, seed=0)
    label_mi(x, y, 3, seed=0, n_folds=3, extrapolate=False)
    assert "lda" in fitted and "gaussianized-lda" not in fitted


def _poisson_counts(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    rate = (1.0 + x @ torch.tensor([0.5, -0.4, 0.3, 0.2], dtype=torch.float64)).exp()
    return x, rate


def test_counts_are_an_ordered_label_that_the_ordered_probit_reads():
    # y ~ Poisson(exp(1 + x.w)): 40-50 count values, many on a few rows. The truth
    # H(Y) - E H(Y | X) by Monte Carlo over x, each Poisson entropy summed over its counts
    x_mc, rate = _poisson_counts(20_000, seed=1)
    counts = torch.arange(0, 400, dtype=torch.float64)
    log_pmf = counts * rate[:, None].log() - rate[:, None] - torch.lgamma(counts + 1)
    marginal = log_pmf.exp().mean(0)
    h_y = float(-(marginal * marginal.clamp_min(1e-300).log()).sum())
    h_y_given_x = float(-(log_pmf.exp() * log_pmf).sum(1).mean())
    truth = h_y - h_y_given_x
    x, rate = _poisson_counts(4000, seed=0)
    y = torch.poisson(rate, generator=torch.Generator().manual_seed(2)).long()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # single-row count values
        mi = estimate_mi(x.float(), y)
    assert mi.estimator_name.startswith("classifier:ordered"), mi.estimator_name
    assert abs(float(mi) - truth) < 0.08 * truth, (float(mi), truth)


def test_the_ordered_probit_keeps_its_digits_in_the_far_tails_and_is_offered_for_numbers_only():
    from mist_reg.estimation.classifiers.ordinal import _log_interval
    from mist_reg.estimation.column_types import read_side

    lower, upper = torch.tensor([8.0, -9.0, -0.5], dtype=torch.float64), torch.tensor([9.0, -8.0, 0.5])
    exact = torch.tensor([-35.0136, -35.0136, math.log(0.38292492)], dtype=torch.float64)  # scipy.stats.norm
    assert torch.allclose(_log_interval(lower, upper.double()), exact, atol=1e-3)
    assert read_side(torch.randint(0, 5, (100,)), "y").ordered
    assert not read_side(["a", "b", "c", "d"] * 25, "y").ordered
    assert not read_side(torch.randint(0, 5, (100, 2)), "y").ordered
