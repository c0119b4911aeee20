"""GaussianMI with class labels where the features are wide for the batch: one class carries
nothing, the estimate never exceeds H(Y), classes that do not differ give little, and its
gradient does not grow with the width of the features."""

from __future__ import annotations

import math

import pytest
import torch

from mist_reg.estimators import GaussianMI


def entropy(labels: torch.Tensor) -> float:
    p = torch.bincount(labels).float() / len(labels)
    p = p[p > 0]
    return float(-(p * p.log()).sum())


@pytest.mark.parametrize("d", [16, 64, 128])
def test_one_class_carries_no_information(d):
    x = torch.randn(64, d, generator=torch.Generator().manual_seed(d))
    assert float(GaussianMI().mutual_information(x, torch.zeros(64, dtype=torch.long))) == 0.0


def test_independent_classes_give_about_zero_and_never_more_than_their_entropy():
    estimates = []
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randn(64, 16, generator=g), torch.randint(0, 2, (64,), generator=g)
        estimates.append(float(GaussianMI().mutual_information(x, y)))
        assert estimates[-1] <= entropy(y) + 1e-6
    assert sum(estimates) / len(estimates) < 0.25  # truth 0; sampling noise of the class means remains
    wide = torch.randn(64, 64, generator=torch.Generator().manual_seed(9))
    y = torch.arange(64) % 2
    assert 0 <= float(GaussianMI().mutual_information(wide, y)) < 0.5  # as many features as samples
    identical = torch.randn(64, 1, generator=torch.Generator().manual_seed(3)).repeat(1, 16)
    assert float(GaussianMI().mutual_information(identical, y)) < 0.05


def test_separated_classes_are_clamped_at_the_entropy_of_the_labels():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(200, generator=g) < 0.2).long()
    x = torch.randn(200, 3, generator=g) + 50 * y[:, None]
    estimate = float(GaussianMI().mutual_information(x, y))
    assert estimate == pytest.approx(entropy(y), abs=1e-5)  # the Gaussian model alone would exceed H(Y)
    model = GaussianMI()
    model.fit_data(x, y)
    held_out = float(model.mutual_information(x[:100], y[:100]))
    p1 = float(y.float().mean())  # the fit's class frequency
    most = float(torch.where(y[:100] == 1, -math.log(p1), -math.log(1 - p1)).mean())
    assert held_out == pytest.approx(most, abs=1e-4)  # each held-out log-ratio is capped at -log p(y)


def test_class_codes_are_classes_not_indices():
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 2, (300,), generator=g)
    x = torch.randn(300, 2, generator=g) + y[:, None]
    expected = float(GaussianMI().mutual_information(x, y))
    for codes in (y + 1990, y * 100000 - 1, y.bool()):
        assert float(GaussianMI().mutual_information(x, codes)) == pytest.approx(expected, abs=1e-5)
    model = GaussianMI()
    model.fit_data(x, y + 1990)
    assert float(model.mutual_information(x, y + 1990)) > 0.1
    with pytest.raises(ValueError, match="class 7, which was not among the classes \\[1990, 1991\\] of the fit"):
        model.mutual_information(x, torch.full((300,), 7))


def test_gradient_does_not_grow_with_the_width_of_the_features():
    norms = {}
    for d in (4, 16, 64):
        total = 0.0
        for seed in range(3):
            g = torch.Generator().manual_seed(seed)
            x = torch.randn(64, d, generator=g, requires_grad=True)
            GaussianMI().mutual_information(x, torch.randint(0, 2, (64,), generator=g)).backward()
            total += float(x.grad.norm()) / 3
        norms[d] = total
    assert norms[16] < 0.1 and norms[64] < 0.1, norms  # docs/refused.md has the figures
    assert norms[4] < 0.04, norms


def test_estimators_with_a_batch_fitted_q_read_class_codes_as_classes():
    from mist_reg.distributions.batch_gaussian import BatchGaussian
    from mist_reg.estimators import CLUB, L1OUT

    g = torch.Generator().manual_seed(2)
    y = torch.randint(0, 2, (200,), generator=g)
    x = torch.randn(200, 2, generator=g) + y[:, None]
    for estimator in (CLUB(BatchGaussian()), L1OUT(BatchGaussian())):
        expected = float(estimator.mutual_information(x, y))
        assert float(estimator.mutual_information(x, y + 1990)) == pytest.approx(expected, abs=1e-5)
        assert float(estimator.mutual_information(x, 1 - 2 * y)) == pytest.approx(expected, abs=1e-5)  # codes -1, 1


def test_a_code_constant_within_classes_saturates_the_named_gaussian_with_a_warning():
    # legs (4 or 6) is a code constant within each species and tells cats apart: the truth is
    # log 3 - (2/3) log 2 = 0.637 nats, but the class Gaussians get no spread in it and predict every
    # label with certainty; the estimate is H(Y) = log 3, and a warning says what that means
    from mist_reg import estimate_mi

    g = torch.Generator().manual_seed(0)
    species = torch.randint(0, 3, (3000,), generator=g)
    x = torch.stack([torch.randn(3000, generator=g) + 2.0 * (species == 2), torch.where(species == 2, 4.0, 6.0)], 1)
    with pytest.warns(RuntimeWarning, match=r"saturated.*H\(Y\) = 1\.09.*estimator='default'"):
        saturated = estimate_mi(x, species, estimator="gaussian")
    assert float(saturated) == pytest.approx(math.log(3), abs=0.01)
    truth = math.log(3) - 2 / 3 * math.log(2)
    assert abs(float(estimate_mi(x, species)) - truth) < 0.05 * truth  # the default reads the code as a code
