"""Every kind of attribute through one ``MILoss(..., direction="minimize")`` call, checked against
known answers, and bad attributes answered with a right value or a one-line error (never NaN)."""

from __future__ import annotations

import math

import pytest
import torch

from mist_reg import MILoss
from mist_reg.estimators import GaussianMI, KernelMI
from mist_reg.regularization.term import mi_term


def _penalty_and_gradient(estimator: str, z: torch.Tensor, y: torch.Tensor, **kwargs) -> tuple[float, torch.Tensor]:
    z = z.clone().requires_grad_(True)
    value = MILoss(estimator, direction="minimize", **kwargs)(z, y)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad).all()
    return float(value.detach()), z.grad


@pytest.mark.parametrize("estimator", ["kernel", "club", "gaussian"])
def test_every_kind_of_attribute_is_read_and_its_gradient_points_at_the_leaking_feature(estimator):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(256, 4, generator=g)
    binary = (z[:, 0] > 0).long()
    groups = torch.bucketize(z[:, 0].contiguous(), torch.tensor([-0.8, -0.25, 0.25, 0.8]))  # 5 groups
    age = 2.0 * z[:, 0] + 0.5 * torch.randn(256, generator=g)
    several = torch.stack([age, z[:, 0] + 0.5 * torch.randn(256, generator=g)], 1)
    pair = torch.stack([binary, (z[:, 0] > 1).long()], 1)  # two attributes: joint classes
    for y in (binary, groups, age, several, pair):
        value, grad = _penalty_and_gradient(estimator, z, y)
        assert value > 0.1
        assert grad[:, 0].abs().sum() > 1.2 * grad[:, 1:].abs().sum(0).max()  # the leaking feature moves most


def test_known_answers_for_labels_and_values():
    # Gaussian model: y = z0 + e, corr^2 = 1/2, I = -0.5 log(1 - 1/2)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(4096, 2, generator=g)
    y = z[:, 0] + torch.randn(4096, generator=g)
    assert _penalty_and_gradient("gaussian", z, y)[0] == pytest.approx(0.5 * math.log(2), abs=0.02)
    # kernel classifier: two groups 8 standard deviations apart -> I = H(S) = log 2
    s = torch.randint(0, 2, (512,), generator=g)
    separated = z[:512] + 8.0 * s[:, None]
    assert _penalty_and_gradient("kernel", separated, s)[0] == pytest.approx(math.log(2), abs=0.03)


@pytest.mark.parametrize("estimator", ["kernel", "club", "gaussian"])
def test_edge_batches_give_finite_values(estimator):
    g = torch.Generator().manual_seed(2)
    z = torch.randn(128, 3, generator=g)
    single, _ = _penalty_and_gradient(estimator, z, torch.ones(128, dtype=torch.long))
    assert abs(single) < 0.02  # one value: nothing to remove
    absent, _ = _penalty_and_gradient(estimator, z, 2 * torch.randint(0, 2, (128,), generator=g))  # class 1 absent
    assert abs(absent) < 0.1
    years, _ = _penalty_and_gradient(estimator, z, 1990 + torch.randint(0, 2, (128,), generator=g))
    assert abs(years) < 0.1


def test_bad_attributes_are_one_line_errors():
    z = torch.randn(64, 3)
    nan = torch.randn(64)
    nan[5] = math.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        MILoss("kernel", direction="minimize")(z, nan)
    with pytest.raises(ValueError, match="same number of samples, got 64 and 50"):
        MILoss("kernel", direction="minimize")(z, torch.randint(0, 2, (50,)))
    with pytest.raises(ValueError, match="fractional values"):
        MILoss("kernel", direction="minimize", y_kind="classes")(z, torch.rand(64))
    with pytest.raises(ValueError, match="y_kind must be one of"):
        MILoss("kernel", direction="minimize", y_kind="labels")


def test_a_float_label_is_read_as_values_with_a_warning_naming_the_override():
    z = torch.randn(64, 3)
    s = torch.randint(0, 2, (64,))
    penalty = MILoss("club", direction="minimize")
    with pytest.warns(UserWarning, match=r"y.long\(\) or y_kind='classes'"):
        as_values = penalty(z, s.float())
    classes = MILoss("club", direction="minimize", y_kind="classes")(z, s.float())
    assert float(classes) == pytest.approx(float(MILoss("club", direction="minimize")(z, s)))
    assert float(as_values) != pytest.approx(float(classes))


def test_the_pure_term_is_the_value_of_miloss():
    g = torch.Generator().manual_seed(3)
    z, s = torch.randn(128, 3, generator=g), torch.randint(0, 3, (128,), generator=g)
    term, estimate = mi_term(KernelMI(), z, s, direction="minimize", weight=3.0)
    assert float(term) == pytest.approx(3.0 * float(estimate))
    assert float(MILoss("kernel", direction="minimize", weight=3.0)(z, s)) == pytest.approx(float(term))
    term, estimate = mi_term(GaussianMI(), z, z[:, :1] + 0.1, direction="maximize", weight=2.0)
    assert float(term) == pytest.approx(-2.0 * float(estimate)) and float(estimate) > 1.0
    with pytest.raises(ValueError, match="direction must be"):
        mi_term(KernelMI(), z, s, direction="up")
