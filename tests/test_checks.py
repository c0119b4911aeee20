"""Tests for mist_reg.checks: one set of rules, the same words wherever a problem is found.

The sample rules (``as_samples``) are tested in detail in test_data.py and
test_input_reliability.py; here, that every entry point applies them alike, and the batch
rules of estimators (``check_inputs``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.checks import as_samples, check_inputs, power_of_two_scale, scaled_moments
from mist_reg.estimation.data import SampleDataset
from mist_reg.estimation.knn_estimate import ksg_estimate
from mist_reg.estimation.preprocessing import make_preprocessor
from mist_reg.estimators import club, infonce
from mist_reg.estimators.generative import check_generative_inputs
from mist_reg.functional.knn import ksg_mi
from mist_reg.tasks import dense_gaussian

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


# -- scale: moments in units of a power of two ------------------------------------------

SCALES = [pytest.param(1e200, id="1e200"), pytest.param(1e-200, id="1e-200"), pytest.param(1e300, id="1e300")]


@pytest.mark.parametrize("scale", SCALES)
def test_extreme_float64_scales_give_the_estimate_of_the_unscaled_samples(scale):
    # std() of values above ~1e154 overflows and below ~1e-154 underflows: the column used to become zeros
    # and the estimate 0.0000 +- 0.0000 for a true 0.511, silently
    task = dense_gaussian(1, 1, 0.8)
    x, y = (z.double() for z in task.sample(1000, seed=0))
    for arguments in ({}, {"estimator": "ksg", "preprocessing": "standardize"}):
        plain = estimate_mi(x, y, **arguments)
        scaled = estimate_mi(x * scale, y / scale, **arguments)
        assert abs(float(plain) - task.mutual_information) < 3 * plain.standard_error
        assert float(scaled) == pytest.approx(float(plain), abs=1e-6)
        assert scaled.standard_error == pytest.approx(plain.standard_error, rel=1e-3)
    scaled = ksg_estimate(x * scale, y, preprocessing="standardize")  # float64 throughout: no centring first
    assert float(scaled) == pytest.approx(float(estimate_mi(x, y, preprocessing="standardize")), abs=1e-6)


@pytest.mark.parametrize("scale", SCALES)
def test_extreme_scales_reach_the_trained_and_label_models_intact(scale):
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (600,), generator=g)
    features = labels.double()[:, None] + torch.randn(600, 2, generator=g, dtype=torch.float64)
    plain, scaled = estimate_mi(features, labels), estimate_mi(features * scale, labels)
    assert scaled.estimator_name == plain.estimator_name and float(scaled) == pytest.approx(float(plain), abs=1e-4)
    assert float(plain) > 0.05
    y = features[:, :1] + torch.randn(600, 1, generator=g, dtype=torch.float64)
    fast = dict(max_iterations=50, hidden_dims=[16])
    plain, scaled = estimate_mi(features, y, **fast), estimate_mi(features * scale, y, **fast)
    assert float(scaled) == pytest.approx(float(plain), abs=1e-3) and float(plain) > 0.1


@pytest.mark.parametrize("dtype, scale", [(torch.float64, 1e300), (torch.float64, 1e-300), (torch.float32, 1e-30)])
def test_preprocessing_maps_do_not_depend_on_the_scale(dtype, scale):
    x = torch.randn(3000, 2, generator=torch.Generator().manual_seed(0), dtype=dtype)
    unit, mean, std = scaled_moments(x * scale, correction=1)
    assert bool(torch.isfinite(unit).all() and (unit > 0).all())
    assert torch.allclose(std, x.std(0) * (scale / unit), rtol=1e-4)
    for kind in ("standardize", "gaussianize"):
        reference = make_preprocessor(kind).fit(x)(x)
        mapped = make_preprocessor(kind).fit(x * scale)(x * scale)
        # the Gaussianizer used to floor the gap between knots at 1e-12, a step function at small scales
        assert torch.allclose(mapped, reference, atol=1e-4), kind


@pytest.mark.parametrize("n", [7, 2048, 3001])
def test_gaussianizer_knots_are_the_linear_quantiles_of_its_columns(n):
    # the knots come from one sort of the columns; they must be torch.quantile's, bit for bit
    from mist_reg.estimation.preprocessing import MarginalGaussianizer

    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(n)).exp()
    x[: n // 3, 1] = 0.5  # ties
    fitted = MarginalGaussianizer().fit(x)
    levels = (torch.arange(min(n, 2048), dtype=torch.float64) + 0.5) / min(n, 2048)
    assert torch.equal(fitted.knots, torch.quantile(x.double().T, levels, dim=1).T.float())
    assert torch.equal(MarginalGaussianizer().fit(x.double()).knots, torch.quantile(x.double().T, levels, dim=1).T)


def test_power_of_two_scale_is_exact_and_finite():
    x = torch.tensor([[1.7e308, 4.9e-324, 0.0, -3.0]], dtype=torch.float64)
    unit = power_of_two_scale(x)
    assert bool(torch.isfinite(unit).all()) and unit.tolist()[2:] == [0.5, 2.0]
    assert bool(((x / unit).abs() <= 2).all()) and torch.equal(x / unit * unit, x)


# -- the bad input of the estimation issue: a right answer or one line naming the argument ----------


def test_estimate_mi_answers_awkward_labels_rightly_or_names_the_argument():
    g = torch.Generator().manual_seed(0)
    flags = torch.rand(4000, generator=g) < 0.5
    flipped = flags ^ (torch.rand(4000, generator=g) < 0.1)  # I = log 2 - H(0.1) = 0.368 nats
    mi = estimate_mi(flags, flipped)
    assert mi.estimator_name == "plug-in" and abs(float(mi) - 0.3681) < 3 * mi.standard_error + 0.01
    label = torch.randint(0, 2, (300,), generator=g).float()
    label[3] = float("nan")
    with pytest.raises(ValueError, match=r"^y contains NaN values in 1 sample\(s\), first at row 3"):
        estimate_mi(torch.randn(300, 2, generator=g), label)
    ids = torch.randperm(10_000, generator=g)[:500]  # 500 distinct integers in 500 samples: a number, and said so
    with pytest.warns(RuntimeWarning, match="discrete_x=True"):
        estimate_mi(ids, ids.float() + torch.randn(500, generator=g), max_iterations=5)
    with pytest.raises(
        ValueError, match=r"^column 0 of x is read as classes but 500 of its 500 rows .* discrete_x=False"
    ):
        estimate_mi(ids, ids.float(), discrete_x=True)  # identifiers declared classes: refused before any fit
    with pytest.raises(ValueError, match=r"^valid_percentage=0.1 of the 14 training samples holds 1, .* at least 2"):
        estimate_mi(torch.randn(20, 3, generator=g), torch.randn(20, 1, generator=g))  # too few rows to validate on
    with pytest.raises(ValueError, match=r"^at least 2 held-out samples are needed, got 1: .*test_percentage"):
        estimate_mi(torch.randn(3, 3, generator=g), torch.randn(3, 1, generator=g))  # too few rows to test on
    levels = torch.randint(0, 5, (500,), generator=g).float() / 2  # looks like codes; declared a measurement
    declared = estimate_mi(levels, levels + torch.randn(500, generator=g), discrete_x=False, max_iterations=5)
    assert declared.estimator_name in ("mine", "ba")  # a continuous route, not the codes' classifier or plug-in
