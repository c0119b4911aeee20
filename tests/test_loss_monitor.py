"""The LeakageMonitor against known answers: the information, accuracy and R^2 of
attributes whose relation to the features is known, and the order of readings as the
attribute becomes more readable (what tracking fresh readers needs)."""

from __future__ import annotations

import math

import pytest
import torch

from mist_reg import LeakageMonitor


def two_gaussians_information(mu: float) -> float:
    """I(Z; S) for S uniform on {0, 1} and Z | S ~ N(+-mu, 1), by quadrature."""
    t = torch.linspace(-12.0, 12.0, 20001, dtype=torch.float64)
    p0, p1 = (torch.exp(-((t - m) ** 2) / 2) / math.sqrt(2 * math.pi) for m in (mu, -mu))
    mixture = (p0 + p1) / 2
    return float((0.5 * (p0 * torch.log(p0 / mixture) + p1 * torch.log(p1 / mixture))).sum() * (t[1] - t[0]))


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@pytest.mark.parametrize("mu", [0.5, 1.0])
def test_classes_information_and_accuracy_match_the_two_gaussians(mu):
    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 2, (2000,), generator=g)
    z = torch.cat([(2 * s[:, None] - 1) * mu + torch.randn(2000, 1, generator=g), torch.randn(2000, 2, generator=g)], 1)
    reading = LeakageMonitor(s + 1990)(z, step=7)  # any class codes
    assert reading.mi == pytest.approx(two_gaussians_information(mu), abs=0.06)
    assert reading.accuracy == pytest.approx(normal_cdf(mu), abs=0.04)  # the Bayes accuracy
    assert reading.chance == pytest.approx(0.5, abs=0.03) and reading.step == 7 and reading.rows == 2000


def test_values_information_and_r2_match_a_gaussian_pair():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(2000, generator=g)
    rho = 0.8
    z = (rho * s + math.sqrt(1 - rho**2) * torch.randn(2000, generator=g))[:, None]
    reading = LeakageMonitor(s)(z)
    assert reading.mi == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.12)
    assert reading.r2 == pytest.approx(rho**2, abs=0.05)
    assert math.isnan(reading.accuracy) and math.isnan(reading.chance)


def test_independent_features_read_as_nothing():
    g = torch.Generator().manual_seed(2)
    s = torch.randint(0, 3, (1500,), generator=g)
    reading = LeakageMonitor(s)(torch.randn(1500, 4, generator=g))
    assert abs(reading.mi) < 0.02 and reading.accuracy <= reading.chance + 0.02


def test_readings_rank_the_strength_of_the_attribute_and_are_recorded():
    g = torch.Generator().manual_seed(3)
    s = torch.randint(0, 2, (1500,), generator=g)
    noise = torch.randn(1500, 4, generator=g)
    monitor = LeakageMonitor(s, every=10)
    for step, strength in enumerate([0.0, 0.3, 0.6, 1.0, 2.0], start=1):
        monitor(noise + strength * s[:, None], step=10 * step)
    mi = [r.mi for r in monitor.history]
    accuracy = [r.accuracy for r in monitor.history]
    assert mi == sorted(mi) and accuracy == sorted(accuracy)
    assert [r.step for r in monitor.history] == [10, 20, 30, 40, 50]
    assert monitor.due(30) and not monitor.due(35) and not monitor.due(0)


def test_the_buffer_keeps_max_rows_and_bad_input_is_named():
    s = torch.randint(0, 2, (500,))
    monitor = LeakageMonitor(s, max_rows=300)
    assert monitor(torch.randn(500, 2)).rows == 300  # the features are cut to the buffer
    with pytest.raises(ValueError, match="hold 200 rows but the buffer holds 300"):
        monitor(torch.randn(200, 2))
    with pytest.raises(ValueError, match="NaN or infinite"):
        monitor(torch.full((300, 2), float("nan")))
    with pytest.raises(ValueError, match="every must be a positive int"):
        LeakageMonitor(s, every=0)
    with pytest.raises(ValueError, match="attribute contains NaN"):
        LeakageMonitor(torch.tensor([0.5, float("nan"), 1.0, 2.0]))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        LeakageMonitor([0, 1, 0])
