"""Tests for mist_reg.checks: one set of rules, the same words wherever a problem is found.

The sample rules (``as_samples``) are tested in detail in test_data.py and
test_input_reliability.py; here, that every entry point applies them alike, and the batch
rules of estimators (``check_inputs``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.checks import as_samples, check_inputs
from mist_reg.estimation.data import SampleDataset
from mist_reg.estimators import club, infonce
from mist_reg.estimators.generative import check_generative_inputs
from mist_reg.functional.knn import ksg_mi

BAD_SAMPLES = [
    pytest.param(
        np.array([[0.0], [np.nan], [1.0]]),
        ValueError,
        r"x contains NaN values in 1 sample\(s\), first at row 1",
        id="nan",
    ),
    pytest.param(np.array([[0.0], [1.0], [-np.inf]]), ValueError, r"x contains infinite values .* row 2", id="inf"),
    pytest.param(
        np.array(["a", "b", "c"]), TypeError, "x must hold numbers, got a numpy array of dtype <U1", id="strings"
    ),
    pytest.param(torch.zeros(3, dtype=torch.complex64), TypeError, "x must be real-valued", id="complex"),
    pytest.param(np.zeros((0, 2)), ValueError, r"x is empty \(shape \(0, 2\)\); at least one sample", id="no-rows"),
    pytest.param(
        np.zeros((3, 0)), ValueError, r"x is empty \(shape \(3, 0\)\): its samples have no features", id="no-columns"
    ),
    pytest.param(np.array(1.0), ValueError, r"x must have shape \[N\] or \[N, d\], got a scalar", id="scalar"),
    pytest.param("x", TypeError, "x must be a torch.Tensor or numpy.ndarray, got str", id="type"),
]


@pytest.mark.parametrize("values, error, match", BAD_SAMPLES)
@pytest.mark.parametrize("entry", ["as_samples", "ksg_mi", "estimate_mi", "SampleDataset"])
def test_every_entry_point_refuses_bad_samples_in_the_same_words(entry, values, error, match):
    if entry == "estimate_mi" and isinstance(values, np.ndarray) and values.dtype.kind == "U":
        pytest.skip("estimate_mi reads strings as category codes (tests/test_column_types.py)")
    y = np.zeros(3)
    call = {
        "as_samples": lambda: as_samples(values, "x"),
        "ksg_mi": lambda: ksg_mi(values, y, k=1),
        "estimate_mi": lambda: estimate_mi(values, y, "infonce", max_iterations=1),
        "SampleDataset": lambda: SampleDataset({"x": values, "y": y}),
    }[entry]
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("entry", ["ksg_mi", "estimate_mi"])
def test_every_entry_point_names_both_lengths(entry):
    x, y = np.zeros((10, 1)), np.zeros((9, 1))
    with pytest.raises(ValueError, match="x and y must hold the same number of samples, got 10 and 9"):
        ksg_mi(x, y, k=1) if entry == "ksg_mi" else estimate_mi(x, y, "infonce", max_iterations=1)


def test_samples_become_float32_or_float64_matrices():
    assert as_samples([1, 2, 3], "x").shape == (3, 1) and as_samples([1, 2, 3], "x").dtype == torch.float32
    assert as_samples(torch.zeros(4, 2, 3), "x").shape == (4, 6)
    wide = as_samples(np.arange(5) + 2**40, "x", dtype=torch.float64)
    assert wide.dtype == torch.float64 and float(wide[1, 0] - wide[0, 0]) == 1.0  # nothing cast away
    with pytest.raises(ValueError, match="float32 or torch.float64"):
        as_samples([1.0], "x", dtype=torch.float16)


BAD_BATCHES = [
    pytest.param(torch.zeros(4, 2), torch.zeros(3, 1), ValueError, "same number of samples, got 4 and 3", id="lengths"),
    pytest.param(
        torch.zeros(4), torch.zeros(4, 1), ValueError, r"x must have shape \[N, x_dim\], got \(4,\)", id="x-vector"
    ),
    pytest.param(torch.zeros(4, 2, 1), torch.zeros(4, 1), ValueError, "flatten the features first", id="x-maps"),
    pytest.param(
        torch.zeros(4, 2).long(),
        torch.zeros(4, 1),
        TypeError,
        "x must be a floating-point tensor, got torch.int64",
        id="x-int",
    ),
    pytest.param(
        torch.zeros(4, 2, dtype=torch.complex64), torch.zeros(4, 1), TypeError, "x must be real-valued", id="x-complex"
    ),
    pytest.param(np.zeros((4, 2)), torch.zeros(4, 1), TypeError, "x must be a torch.Tensor, got ndarray", id="x-array"),
    pytest.param(torch.zeros(1, 2), torch.zeros(1, 1), ValueError, "at least 2 samples, got 1", id="too-few"),
]


@pytest.mark.parametrize("x, y, error, match", BAD_BATCHES)
def test_estimators_refuse_bad_batches_in_the_same_words(x, y, error, match):
    critic_based, density_based = infonce(2, 1, hidden_dims=[4]), club(2, 1, hidden_dims=[4], q="gaussian")
    for call in (
        lambda: check_inputs(x, y, min_samples=2),
        lambda: check_generative_inputs(x, y, min_samples=2),
        lambda: critic_based.mutual_information(x, y),
        lambda: density_based.mutual_information(x, y),
    ):
        with pytest.raises(error, match=match):
            call()


def test_class_indices_are_batches_of_generative_estimators_only():
    x, labels = torch.zeros(3, 2), torch.tensor([0, 2, 1])
    check_inputs(x, labels[:, None], discrete_y=True)
    with pytest.raises(TypeError, match="y must be a floating-point tensor, got torch.int64"):
        check_inputs(x, labels[:, None])
    gx, gy = check_generative_inputs(x.double(), labels)
    assert gx.dtype == torch.float32 and gy.dtype == torch.int64 and gy.shape == (3, 1)
    assert check_generative_inputs(x, torch.zeros(3, dtype=torch.float64))[1].shape == (3, 1)  # [N] floats too


def test_meta_device_tensors_are_named_not_left_to_torch():
    meta = torch.zeros(32, 2, device="meta")
    for call in (
        lambda: as_samples(meta, "x"),
        lambda: check_inputs(meta, torch.zeros(32, 1)),
        lambda: estimate_mi(meta, torch.zeros(32, 1)),
        lambda: infonce(2, 1, hidden_dims=[8]).mutual_information(meta, torch.zeros(32, 1)),
    ):
        with pytest.raises(ValueError, match="x is on the meta device, which holds no values"):
            call()
    with pytest.raises(ValueError, match="y is on the meta device"):
        check_inputs(torch.zeros(32, 2), torch.zeros(32, 1, device="meta"))
