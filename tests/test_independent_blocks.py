"""Splitting the columns into independent groups: which data split, which do not, and the
estimate of the sum against the ground truth."""

from __future__ import annotations

import math
import warnings

import pytest
import scipy.stats
import torch

from mist_reg import estimate_mi
from mist_reg.estimation import independent_blocks as blocks
from mist_reg.estimation.independent_blocks import Block, independent_blocks
from mist_reg.estimation.knn_estimate import subsampling_standard_error
from mist_reg.tasks import get_task
from mist_reg.tasks.gaussian import dense_gaussian
from mist_reg.tasks.structured import PeriodicTask, SparseSignalTask


def _pairs(found: list[Block] | None) -> list[tuple[tuple[int, ...], tuple[int, ...]]] | None:
    return None if found is None else sorted((b.x_columns, b.y_columns) for b in found)


def test_coordinate_pairs_split_and_their_sum_meets_the_truth():
    task = PeriodicTask(3, 3.0, 0.3)  # y_i = sin(3 x_i) + 0.3 eps_i: three independent pairs
    x, y = task.sample(3000, seed=0)
    assert _pairs(independent_blocks(x.double(), y.double())) == [((0,), (0,)), ((1,), (1,)), ((2,), (2,))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = estimate_mi(x, y)
    assert mi.estimator_name == "blocks(ksg, ksg, ksg)" and mi.bound is None
    assert abs(float(mi) - task.mutual_information) < 0.12, (float(mi), task.mutual_information)
    assert math.isclose(float(mi), sum(float(part) for _, _, part in mi.parts))
    assert math.isclose(mi.standard_error, math.sqrt(sum(part.standard_error**2 for _, _, part in mi.parts)))
    record = mi.to_dict()
    assert [(p["x_columns"], p["y_columns"]) for p in record["parts"]] == [([0], [0]), ([1], [1]), ([2], [2])]


def test_columns_independent_of_everything_are_left_out():
    task = SparseSignalTask(10, 10, 2, 0.6)  # two correlated pairs among Student-t outlier components
    x, y = task.sample(3000, seed=1)
    found = independent_blocks(x.double(), y.double())
    assert found is not None and len(found) == 2
    assert all(len(b.x_columns) == 1 and len(b.y_columns) == 1 for b in found)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = estimate_mi(x, y)
    assert abs(float(mi) - task.mutual_information) < 0.06, (float(mi), task.mutual_information)


def test_a_sparse_signal_among_hundreds_of_columns_is_split_out():
    # 2 correlated pairs among 150 + 150 Student-t outlier columns: wider than 128 columns, where the
    # binned test once stopped the screen and a critic read 300 columns for 2 pairs
    task = SparseSignalTask(150, 150, 2, 0.6)
    x, y = task.sample(3000, seed=2)
    found = independent_blocks(x.double(), y.double(), torch.Generator().manual_seed(0))
    assert found is not None and len(found) == 2
    assert all(len(b.x_columns) == 1 and len(b.y_columns) == 1 for b in found)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = estimate_mi(x, y)
    assert mi.estimator_name == "blocks(ksg, ksg)"
    assert abs(float(mi) - task.mutual_information) < 3 * mi.standard_error, (float(mi), task.mutual_information)


@pytest.mark.parametrize(
    "name",
    [
        "student-t-5x5",  # uncorrelated columns sharing one Student-t scale: all dependent
        "views-64x64-k8-n0.5",  # two views of one latent: all correlated
        "clusters-3x3-c5-s2-e4",  # clusters: every column carries the cluster
    ],
)
def test_jointly_dependent_columns_do_not_split(name):
    x, y = get_task(name).sample(3000, seed=0)
    assert independent_blocks(x.double(), y.double()) is None


def test_dependence_no_pair_of_columns_shows_stops_the_split():
    # y_0 is the sign of x_0 * x_1 times |noise|: independent of x_0 and of x_1 alone; the
    # pair (x_2, y_1) is an ordinary dependent pair, so pairwise tests alone would split
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3000, 3, generator=g, dtype=torch.float64)
    noise = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    y = torch.stack([torch.sign(x[:, 0] * x[:, 1]) * noise[:, 0].abs(), x[:, 2] + 0.5 * noise[:, 1]], dim=1)
    assert (
        blocks._components(
            blocks._correlated(torch.special.ndtri((blocks._mid_ranks(torch.cat([x, y], 1)) + 0.5) / 3000))
        )
        .unique()
        .numel()
        > 1
    )
    assert independent_blocks(x, y) is None


def test_many_weak_correlations_together_stop_the_split():
    # 25 cross-correlations of 0.05 (0.03 nats in all): most pairs escape the pairwise test,
    # and the few it finds would leave the rest out of the sum; Bartlett's test adds them up
    task = dense_gaussian(5, 5, 0.05)
    for seed in range(4):
        x, y = task.sample(5000, seed=seed)
        assert independent_blocks(x.double(), y.double(), torch.Generator().manual_seed(seed)) is None
        scores = torch.special.ndtri((blocks._mid_ranks(torch.cat([x, y], 1).double()) + 0.5) / 5000)
        assert blocks._canonical_p_value(torch.corrcoef(scores.T), [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], 5000) < 1e-6
    noise = torch.randn(5000, 10, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    assert blocks._canonical_p_value(torch.corrcoef(noise.T), [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], 5000) > 1e-3


def test_a_constant_column_is_left_out():
    x, y = PeriodicTask(2, 3.0, 0.3).sample(1000, seed=0)
    found = independent_blocks(torch.cat([x, torch.ones(1000, 1)], 1).double(), y.double())
    assert _pairs(found) == [((0,), (0,)), ((1,), (1,))]


def test_too_few_rows_or_columns_are_never_split():
    x, y = dense_gaussian(2, 2, 0.3).sample(100, seed=0)
    assert independent_blocks(x.double(), y.double()) is None
    x, y = dense_gaussian(1, 1, 0.5).sample(1000, seed=0)
    assert independent_blocks(x.double(), y.double()) is None


def test_given_held_out_rows_stay_held_out_in_every_block():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2000, 3, generator=g)
    noise = torch.randn(2000, 2, generator=g)
    y = torch.stack([x[:, 0] + x[:, 1] + 0.7 * noise[:, 0], torch.sin(2 * x[:, 2]) + 0.3 * noise[:, 1]], dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = estimate_mi(x[:1500], y[:1500], x_test=x[1500:], y_test=y[1500:], max_epochs=3)
    assert mi.estimator_name is not None and mi.estimator_name.startswith("mine")  # configured: no split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = estimate_mi(x[:1500], y[:1500], x_test=x[1500:], y_test=y[1500:])
    (cols_a, _, trained), (cols_b, _, ksg) = sorted(mi.parts, key=lambda part: len(part[0]), reverse=True)
    assert cols_a == (0, 1) and cols_b == (2,)
    assert trained.estimator_name in ("mine", "ba") and trained.n_test == 500  # the rows given as test data
    assert ksg.estimator_name == "ksg" and ksg.n_test == 2000  # KSG fits nothing: every row
    truth = 0.5 * math.log(1 + 2 / 0.49)
    assert abs(float(trained) - truth) < 0.12, (float(trained), truth)


def test_mid_ranks_share_tied_ranks():
    z = torch.tensor([[3.0, 1.0], [1.0, 1.0], [2.0, 5.0], [1.0, 0.0]], dtype=torch.float64)
    expected = scipy.stats.rankdata(z.numpy(), axis=0) - 1
    assert torch.equal(blocks._mid_ranks(z), torch.tensor(expected, dtype=torch.float64))


def test_hsic_p_values_separate_independent_from_dependent_columns():
    g = torch.Generator().manual_seed(5)
    a = torch.randn(800, 2, generator=g, dtype=torch.float64)
    b = torch.randn(800, 1, generator=g, dtype=torch.float64)
    independent = [
        blocks._hsic_p_value(
            blocks._CentredKernel(a), blocks._CentredKernel(torch.randn(800, 1, generator=g, dtype=torch.float64))
        )
        for _ in range(20)
    ]
    assert sum(p < 0.05 for p in independent) <= 4 and min(independent) > 1e-4
    dependent = blocks._CentredKernel(torch.sign(a[:, :1] * a[:, 1:]) * b.abs())
    assert blocks._hsic_p_value(blocks._CentredKernel(a), dependent) < 1e-6


def test_a_shared_standard_error_keeps_its_scale():
    x, y = dense_gaussian(1, 1, 0.5).sample(2000, seed=0)
    whole = subsampling_standard_error(x.double(), y.double(), generator=torch.Generator().manual_seed(0))
    shared = subsampling_standard_error(x.double(), y.double(), generator=torch.Generator().manual_seed(0), shared_by=5)
    assert 0.5 < shared / whole < 2.0


def test_bad_input_is_refused_with_its_name():
    with pytest.raises(ValueError, match="same number of samples, got 300 and 299"):
        independent_blocks(torch.randn(300, 2), torch.randn(299, 2))
    with pytest.raises(ValueError, match="y contains NaN"):
        independent_blocks(torch.randn(300, 2), torch.full((300, 2), float("nan")))
