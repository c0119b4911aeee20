"""High MI and degenerate inputs: exact copies are reported as infinite MI, and a
Donsker-Varadhan estimate whose log-partition term rests on a handful of held-out pairs
never comes out as a large negative number with a tight interval."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from mist_reg import TrainingLog, estimate_mi
from mist_reg.estimation.combine import FoldFit, combine_fits
from mist_reg.estimation.diagnostics import exact_dependence
from mist_reg.estimators import mine
from mist_reg.functional.bounds import RunningBound, donsker_varadhan, infonce
from mist_reg.tasks import get_task

# --------------------------------------------------------------------------------------
# exact copies
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(1000, 4, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda x: x.clone(), "column 1 of y is a strictly increasing function of column 1 of x"),
        (lambda x: x[:, [2, 0]], "column 1 of y is a strictly increasing function of column 3 of x"),
        (
            lambda x: torch.cat([torch.randn(len(x), 1), -(x[:, 1:2] ** 3)], 1),
            "strictly decreasing function of column 2",
        ),
        (lambda x: torch.exp(x[:, 3:]) * 5 + 1, "column 1 of y is a strictly increasing function of column 4 of x"),
        (lambda x: x @ torch.randn(4, 4, generator=torch.Generator().manual_seed(1)), "a linear combination of y"),
        (lambda x: torch.cat([x[:, :2].sum(1, keepdim=True), torch.randn(len(x), 2)], 1), "a linear combination"),
    ],
)
def test_exact_copies_are_found(x, make, expected):
    assert expected in exact_dependence(x, make(x))


def test_what_is_not_an_exact_copy(x):
    assert exact_dependence(x, torch.randn(1000, 3)) is None
    assert exact_dependence(x, x + 1e-3 * torch.randn(x.shape)) is None  # finite MI, however high
    rounded = x.round()  # discrete copies have a finite MI (the entropy)
    assert exact_dependence(rounded, rounded.clone()) is None
    assert exact_dependence(x[:12], x[:12, :1] + torch.randn(12, 1)) is None  # too few samples for the linear check
    g = torch.Generator().manual_seed(0)  # 8 rows whose y shares the order of column 3 of x by chance
    z = torch.randn(8, 3, generator=g)
    y = z[:, :1] + torch.randn(8, 1, generator=g)
    assert torch.equal(torch.argsort(z[:, 2]), torch.argsort(y[:, 0]))
    assert exact_dependence(z, y) is None  # 6 pairs of columns against 8! orders: not evidence of a copy
    assert exact_dependence(x[:12, :1], 2 * x[:12, :1]) is not None  # 12 rows of one copied column are


def test_monotone_copies_with_tied_ends_are_found():
    # the check sorts only columns whose first minimum and last maximum rows match; ties at
    # both ends (and in the middle, under 1% of rows) must not hide a copy or invent one
    from mist_reg.estimation.diagnostics import _monotone_copy

    g = torch.Generator().manual_seed(3)
    x = torch.randn(600, 3, generator=g, dtype=torch.float64)
    x[:3, 0], x[3:5, 0] = x[:, 0].min() - 1, x[:, 0].max() + 1  # tied minimum and maximum
    x[10, 1] = x[11, 1]
    decreasing = torch.cat([torch.randn(600, 1, generator=g, dtype=torch.float64), -2 * x[:, :1] ** 3], 1)
    increasing = torch.cat([x[:, 1:2].exp(), torch.randn(600, 1, generator=g, dtype=torch.float64)], 1)
    assert _monotone_copy(x, decreasing) == "column 2 of y is a strictly decreasing function of column 1 of x"
    assert _monotone_copy(x, increasing) == "column 1 of y is a strictly increasing function of column 2 of x"
    swapped = x[:, :1].clone()
    swapped[[0, 5]] = swapped[[5, 0]]  # same ends, one pair of rows out of order
    assert _monotone_copy(x, swapped + 1) is None


def test_estimate_mi_reports_an_exact_copy_as_infinite(x):
    with pytest.warns(RuntimeWarning, match="the mutual information is infinite: column 1 of y"):
        mi = estimate_mi(x, x.clone())
    assert math.isinf(mi) and mi > 0 and mi.interval == (math.inf, math.inf)
    assert "infinite" in mi.warnings[0] and mi.estimator is None
    with pytest.warns(RuntimeWarning, match="infinite: a linear combination"):
        assert estimate_mi(x, x @ torch.randn(4, 2) + 3.0) == math.inf


# --------------------------------------------------------------------------------------
# the log-partition term over few effective pairs
# --------------------------------------------------------------------------------------


def test_partition_term_error_and_effective_pairs():
    g = torch.Generator().manual_seed(0)
    negative = torch.randn(200, 9, generator=g)
    running = RunningBound()
    running.add(donsker_varadhan(torch.zeros(200), negative[:120]))
    running.add(donsker_varadhan(torch.zeros(80), negative[120:]))
    w = negative.double().exp().reshape(-1)
    effective = float(w.sum() ** 2 / w.square().sum())
    assert running.effective_pairs() == pytest.approx(effective, rel=1e-9)
    assert running.partition_standard_error() == pytest.approx(math.sqrt(1 / effective - 1 / w.numel()), rel=1e-9)
    assert running.standard_error() == pytest.approx(
        math.hypot(running.sample_standard_error(), running.partition_standard_error())
    )
    # one pair carrying the whole partition term: one effective pair, an error of a nat
    negative[3, 4] = 60.0
    heavy = RunningBound()
    heavy.add(donsker_varadhan(torch.zeros(200), negative))
    assert heavy.effective_pairs() == pytest.approx(1.0, abs=1e-6)
    assert heavy.partition_standard_error() == pytest.approx(1.0, abs=1e-3)


def _fit(positive: torch.Tensor, negative: torch.Tensor) -> FoldFit:
    running, certificate = RunningBound(), RunningBound()
    running.add(donsker_varadhan(positive, negative))
    certificate.add(infonce(positive, negative))
    return FoldFit(mine(1, 1, hidden_dims=[4]), TrainingLog(), running, positive.shape[0], certificate)


def test_a_partition_term_dragged_down_by_one_pair_falls_back_to_infonce():
    g = torch.Generator().manual_seed(0)
    n = 300
    positive = 12.0 + 0.5 * torch.randn(n, generator=g)  # a sharp critic: high MI
    negative = -40.0 + 5 * torch.randn(n, n - 1, generator=g)
    negative[7, 11] = 35.0  # one held-out pair where the critic is large
    dv = float(donsker_varadhan(positive, negative).value())
    assert dv < -10  # what MINE reports: a large negative number ...
    with pytest.warns(RuntimeWarning, match="fell below the InfoNCE bound"):
        result = combine_fits([_fit(positive, negative)], 0.95, cross_fitted=False)
    cap = math.log(n)
    assert cap - 0.1 < result <= cap  # ... and what estimate_mi reports: the InfoNCE bound
    assert "at least this much" in result.warnings[0] and result.bound == "lower"


def test_an_ordinary_partition_term_is_left_alone():
    g = torch.Generator().manual_seed(1)
    positive, negative = 0.5 + torch.randn(300, generator=g), torch.randn(300, 299, generator=g) * 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = combine_fits([_fit(positive, negative)], 0.95, cross_fitted=False)
    assert float(result) == pytest.approx(float(donsker_varadhan(positive, negative).value()), abs=1e-5)


def test_high_mi_on_few_samples_is_never_a_large_negative_number():
    # x from gaussian-5x5 and y = x + 0.1 * noise: 5 * log(1 + 100) / 2 = 11.54 nats. With
    # 2,000 samples MINE's log-partition term over held-out pairs rests on about one pair.
    torch.set_num_threads(1)
    x, _ = get_task("gaussian-5x5").sample(2000, seed=0)
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    truth = 2.5 * math.log(101)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mi = estimate_mi(x, y, "mine", max_iterations=400, seed=0)  # the default reports the reference model
    assert any("InfoNCE" in str(w.message) for w in caught) and mi.warnings
    assert 5.5 < mi < truth + 0.5  # the DV estimate of this run was -1.9 +- 0.7
    assert mi.interval[0] > 5.0


def test_the_default_reports_the_unbiased_gaussian_mi_where_the_partition_term_is_unresolved():
    # the same 11.54 nats: the Gaussian reference's partition term on 140 validation rows rests on
    # a handful of pairs, so nothing is trained and the Gaussian MI of all 2,000 rows is reported,
    # its log-determinants corrected for the bias of the sample covariance
    x, _ = get_task("gaussian-5x5").sample(2000, seed=0)
    y = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    truth = 2.5 * math.log(101)
    mi = estimate_mi(x, y, max_iterations=400, seed=0)
    assert mi.estimator_name == "gaussian_unbiased" and mi.bound is None and mi.n_test == 2000
    assert abs(mi - truth) < 0.15 and 0.01 < mi.standard_error < 0.1
    assert mi.interval[0] < truth < mi.interval[1] + 0.05
