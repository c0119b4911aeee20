"""Tests for the KSG k-nearest-neighbour MI estimator."""

import numpy as np
import pytest
import torch
from estimator_contract import check_permutation_invariance, gaussian_pair

from mist_reg.functional.knn import ksg_mi


def _gaussian_pair(n: int, dim: int, rho: float, seed: int):
    """``dim`` pairs of unit Gaussians with correlation rho (the shared sampler)."""
    pair = gaussian_pair((dim, rho), n=n, n_test=2, seed=seed)
    return pair.x, pair.y, pair.mutual_information


def test_correlated_gaussian_matches_closed_form():
    x, y, truth = _gaussian_pair(2000, 2, 0.6, seed=0)
    estimate = ksg_mi(x, y, k=5)
    assert abs(estimate - truth) < 0.05


def test_independent_data_is_near_zero():
    # The estimate's spread at N=2000 is about 0.014 nats; 4000 samples keep
    # the 0.03 tolerance several standard deviations wide.
    x, y, truth = _gaussian_pair(4000, 2, 0.0, seed=1)
    assert truth == 0.0 and abs(ksg_mi(x, y, k=5)) < 0.03


def test_chunking_does_not_change_the_result():
    x, y, _ = _gaussian_pair(1500, 2, 0.5, seed=2)
    small = ksg_mi(x, y, k=4, chunk_size=64)
    large = ksg_mi(x, y, k=4, chunk_size=4096)
    assert small == large


def test_estimate_does_not_depend_on_the_order_of_the_samples():
    x, y, _ = _gaussian_pair(1000, 2, 0.5, seed=3)
    check_permutation_invariance(lambda a, b: ksg_mi(a, b, k=4), x, y, atol=1e-9)


def test_float64_and_float32_samples_agree():
    x, y, _ = _gaussian_pair(1000, 2, 0.6, seed=4)
    assert ksg_mi(x.double(), y.double(), k=5) == pytest.approx(ksg_mi(x, y, k=5), abs=1e-3)


def test_numpy_float32_and_1d_inputs_agree_with_tensors():
    x, y, _ = _gaussian_pair(500, 1, 0.7, seed=3)
    x32, y32 = x.float(), y.float()
    from_tensor = ksg_mi(x32, y32, k=3)
    from_numpy_1d = ksg_mi(x32.numpy().ravel(), y32.numpy().ravel(), k=3)
    assert from_tensor == from_numpy_1d


def test_integer_inputs_are_accepted():
    x = np.arange(50)
    y = np.arange(50) ** 2
    assert ksg_mi(x, y, k=3) == ksg_mi(x.astype(float), y.astype(float), k=3) == pytest.approx(0.2182, abs=1e-4)


@pytest.mark.parametrize(
    "x, y, kwargs, error, match",
    [
        (np.zeros((10, 1)), np.zeros((9, 1)), {}, ValueError, "same number of samples"),
        (np.zeros((5, 1)), np.zeros((5, 1)), {"k": 5}, ValueError, "N > k"),
        (np.zeros((10, 1)), np.zeros((10, 1)), {"k": 0}, ValueError, "k must be at least 1"),
        (np.zeros((10, 1)), np.zeros((10, 1)), {"k": 2.0}, TypeError, "k must be an int"),
        (np.zeros((10, 1)), np.zeros((10, 1)), {"chunk_size": 0}, ValueError, "chunk_size"),
        (np.array([0.0, np.nan, 1.0, 2.0]), np.zeros(4), {"k": 1}, ValueError, "x contains NaN"),
        (np.zeros(4), np.array([0.0, np.inf, 1.0, 2.0]), {"k": 1}, ValueError, r"y contains infinite values .* row 1"),
        (np.array(["a", "b", "c"]), np.zeros(3), {"k": 1}, TypeError, "x must hold numbers"),
        (torch.zeros(4, dtype=torch.complex64), torch.zeros(4), {"k": 1}, TypeError, "x must be real-valued"),
        ({"x": 1}, np.zeros(3), {"k": 1}, TypeError, "torch.Tensor or numpy.ndarray"),
        (np.array(3.0), np.zeros(1), {"k": 1}, ValueError, r"shape \[N\] or \[N, d\], got a scalar"),
        (np.zeros((4, 0)), np.zeros(4), {"k": 1}, ValueError, "x is empty"),
    ],
)
def test_bad_inputs_raise(x, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        ksg_mi(x, y, **kwargs)


def test_inputs_follow_the_sample_rules_of_estimate_mi():
    # the rules of mist_reg.checks.as_samples: lists, [N] and [N, ...] are read as estimate_mi reads them
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, 2, generator=g, dtype=torch.float64)
    y = x[:, 0, :1] + 0.5 * torch.randn(200, 1, generator=g, dtype=torch.float64)
    flat = ksg_mi(x.reshape(200, 4), y, k=3)
    assert ksg_mi(x, y, k=3) == flat
    assert ksg_mi(x.reshape(200, 4).tolist(), y[:, 0].numpy(), k=3) == flat


@pytest.mark.parametrize("kind", ["continuous", "ties", "duplicates"])
def test_tree_and_chunked_counts_agree_exactly(kind):
    # the k-d tree path (CPU) and the block-wise path (other devices) count the same
    # neighbours, ties and repeated samples included
    from mist_reg.functional.knn import _chunked_counts, _tree_counts

    g = torch.Generator().manual_seed(3)
    x = torch.randn(1500, 2, generator=g, dtype=torch.float64)
    y = x[:, :1] + torch.randn(1500, 1, generator=g, dtype=torch.float64)
    if kind == "ties":
        x, y = x.round(), (2 * y).round()
    if kind == "duplicates":
        x, y = torch.cat([x[:750], x[:750]]), torch.cat([y[:750], y[:750]])
    for k in (1, 5):
        tree, chunked = _tree_counts(x, y, k), _chunked_counts(x, y, k, chunk_size=256)
        assert torch.equal(tree[0], chunked[0]) and torch.equal(tree[1], chunked[1])


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(size=1500),
        np.round(np.random.default_rng(1).normal(size=1500), 1),  # large tied groups
        np.random.default_rng(2).standard_cauchy(size=1500) * 1e6,  # rounding at large magnitudes
        np.random.default_rng(3).normal(size=1500).astype(np.float32).astype(np.float64) + 1e8,
    ],
)
def test_one_dimensional_counts_equal_the_k_d_trees(values):
    # the sorted-column count replaces a tree on one-dimensional marginals; it must count
    # exactly what the tree counts, including values a rounding away from the radius
    from scipy.spatial import cKDTree

    from mist_reg.functional.knn import _column_counts

    rng = np.random.default_rng(4)
    centres = values[rng.integers(0, len(values), 1500)]
    distance = np.abs(values[rng.integers(0, len(values), 1500)] - centres)
    radius = np.where(rng.random(1500) < 0.5, distance, np.nextafter(distance, 0.0))
    tree = cKDTree(values[:, None]).query_ball_point(centres[:, None], radius, p=np.inf, return_length=True)
    assert np.array_equal(_column_counts(values, centres, radius), np.asarray(tree))
