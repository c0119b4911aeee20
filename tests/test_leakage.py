import math

import pytest
import torch

from mist_reg.regularization.leakage import as_class_indices, attribute_leakage


def _planted(n: int, strength: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 2, (n,), generator=g)
    z = torch.randn(n, 3, generator=g)
    z[:, 1] += strength * (2 * s - 1)
    return z, s


def test_bound_matches_the_information_of_a_planted_gaussian_attribute():
    # z1 | s ~ N(+-1, 1): I(Z; S) = H(S) - E[H(S | z)], computed by quadrature
    z, s = _planted(6000, 1.0)
    grid = torch.linspace(-8, 8, 20001, dtype=torch.float64)
    density = 0.5 * (torch.exp(-0.5 * (grid - 1) ** 2) + torch.exp(-0.5 * (grid + 1) ** 2)) / math.sqrt(2 * math.pi)
    posterior = 1 / (1 + torch.exp(-2 * grid))
    h_cond = -(posterior * posterior.log() + (1 - posterior) * (1 - posterior).log())
    truth = math.log(2) - float((density * h_cond).sum() * (grid[1] - grid[0]))
    report = attribute_leakage(z, s)
    assert report.mi_lower_bound <= truth + 3 * report.standard_error
    assert report.mi_lower_bound >= truth - 0.05
    assert report.accuracy == pytest.approx(0.841, abs=0.03)  # Phi(1)


def test_independent_features_give_a_bound_near_zero():
    z, s = _planted(3000, 0.0, seed=1)
    report = attribute_leakage(z, s)
    assert abs(report.mi_lower_bound) < 3 * report.standard_error + 0.005
    assert abs(report.accuracy - report.chance) < 0.04


def test_a_hidden_nonlinear_attribute_is_found_by_the_mlp_probe():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(4000, 2, generator=g)
    s = (z.norm(dim=1) > 1.18).long()  # a ring: no linear reader sees it
    report = attribute_leakage(z, s)
    assert report.probe == "mlp" and report.accuracy > 0.9


@pytest.mark.parametrize(
    "attribute, message",
    [
        (torch.zeros(100, dtype=torch.long), "single value"),
        (torch.randint(0, 2, (99,)), "holds 99 samples but the features hold 100"),
        (torch.full((100,), math.nan), "NaN"),
        (torch.randint(0, 2, (100, 2)), r"shape \[N\] or \[N, 1\]"),
    ],
)
def test_bad_attributes_are_named(attribute, message):
    with pytest.raises(ValueError, match=message):
        attribute_leakage(torch.randn(100, 2), attribute)


def test_bad_features_are_named():
    z = torch.randn(100, 2)
    z[3, 1] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        attribute_leakage(z, torch.randint(0, 2, (100,)))
    with pytest.raises(ValueError, match="more samples"):
        attribute_leakage(torch.randn(20, 2), torch.arange(20) % 2)


def test_integral_floats_and_booleans_are_class_indices():
    assert as_class_indices(torch.tensor([1.0, 0.0])).tolist() == [1, 0]
    assert as_class_indices(torch.tensor([True, False])).dtype == torch.int64


def test_bad_codes_read_as_classes_are_named():
    with pytest.raises(ValueError, match="fractional value 0.5"):
        attribute_leakage(torch.randn(100, 2), torch.tensor([0.5, 1.0] * 50), kind="classes")
    with pytest.raises(ValueError, match="non-finite label inf"):
        attribute_leakage(torch.randn(100, 2), torch.tensor([0.0, math.inf] * 50), kind="classes")
    with pytest.raises(ValueError, match="probe must be"):
        attribute_leakage(torch.randn(100, 2), torch.arange(100) % 2, probe="forest")


@pytest.mark.parametrize("codes", [(1990, 1991), (0, 100), (0, 100000), ("f", "m")])
def test_label_codes_of_any_kind_read_as_two_classes(codes):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(1000, 3, generator=g)
    index = torch.randint(0, 2, (1000,), generator=g)
    attribute = [codes[i] for i in index.tolist()] if isinstance(codes[0], str) else torch.tensor(codes)[index]
    report = attribute_leakage(z, attribute, probe="linear")
    assert report.entropy < math.log(2) + 0.01  # the training prior scored on held-out codes
    assert abs(report.mi_lower_bound) < 3 * report.standard_error + 0.01


def test_continuous_attribute_gets_the_held_out_r2_of_regressors():
    # v = 2 z0 + e, e ~ N(0, 1): R^2 = 4 / 5
    g = torch.Generator().manual_seed(4)
    z = torch.randn(3000, 3, generator=g)
    age = 40 + 10 * (2 * z[:, 0] + torch.randn(3000, generator=g))
    report = attribute_leakage(z, age, probe="linear")
    assert report.kind == "values" and math.isnan(report.mi_lower_bound)
    assert report.r2 == pytest.approx(0.8, abs=3 * report.r2_standard_error + 0.01)
    clean = attribute_leakage(torch.randn(3000, 3, generator=g), age, probe=["linear", "mlp"])
    assert set(clean.readers) == {"linear", "mlp"}
    assert clean.r2 < 3 * clean.r2_standard_error + 0.01


def test_boosted_reader_reads_a_ring_and_reports_each_reader():
    pytest.importorskip("sklearn")
    g = torch.Generator().manual_seed(5)
    z = torch.randn(1200, 2, generator=g)
    s = (z.norm(dim=1) > 1.18).long()
    report = attribute_leakage(z, s, probe=("linear", "boosted"))
    assert report.probe == "boosted" and report.accuracy > 0.9
    assert report.readers["linear"]["accuracy"] < 0.65
    assert report.mi_lower_bound == max(r["mi_lower_bound"] for r in report.readers.values())
