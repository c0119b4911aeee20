"""The kernel model refitted on every batch: KernelMI against known information, the
leave-one-out BatchKernel q, and the penalty that removes what the Gaussian model cannot
see, judged by a fresh probe."""

from __future__ import annotations

import math

import pytest
import torch
from penalty_training import judge, train_with_penalty
from torch import nn

from mist_reg import instantiate_estimator
from mist_reg.distributions import BatchKernel
from mist_reg.distributions.batch_kernel import Whitening
from mist_reg.estimators import CLUB, GaussianMI, KernelMI


def two_gaussians_information(mu: float) -> float:
    """I(Z; S) for S uniform on {0, 1} and Z | S ~ N(+-mu, 1), by quadrature."""
    t = torch.linspace(-12.0, 12.0, 20001, dtype=torch.float64)
    p0, p1 = (torch.exp(-((t - m) ** 2) / 2) / math.sqrt(2 * math.pi) for m in (mu, -mu))
    mixture = (p0 + p1) / 2
    return float((0.5 * (p0 * torch.log(p0 / mixture) + p1 * torch.log(p1 / mixture))).sum() * (t[1] - t[0]))


def square(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes with the same mean (0) and covariance (I): corners against axis points."""
    s = torch.randint(0, 2, (n,), generator=generator)
    corners = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    axes = math.sqrt(2.0) * torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    which = torch.randint(0, 4, (n,), generator=generator)
    z = torch.where(s[:, None].bool(), corners[which], axes[which]) + 0.15 * torch.randn(n, 2, generator=generator)
    return z, s


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0])
def test_kernel_estimate_of_two_gaussian_classes(mu):
    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 2, (1000,), generator=g)
    z = torch.cat([(2 * s[:, None] - 1) * mu + torch.randn(1000, 1, generator=g), torch.randn(1000, 1, generator=g)], 1)
    truth = two_gaussians_information(mu)
    assert float(KernelMI().mutual_information(z, s)) == pytest.approx(truth, abs=0.05)


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
def test_kernel_estimate_of_a_gaussian_pair(rho):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1000, 1, generator=g)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(1000, 1, generator=g)
    truth = -0.5 * math.log(1 - rho**2)
    estimate = float(KernelMI().mutual_information(x, y))
    assert truth - 0.12 < estimate < truth + 0.03  # smoothing biases a kernel estimate down


def test_kernel_estimate_is_near_zero_at_independence():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1000, 3, generator=g)
    assert abs(float(KernelMI().mutual_information(x, torch.randint(0, 3, (1000,), generator=g)))) < 0.02
    assert abs(float(KernelMI().mutual_information(x, torch.randn(1000, 2, generator=g)))) < 0.02


def test_kernel_sees_what_the_gaussian_model_cannot():
    z, s = square(1000, torch.Generator().manual_seed(3))
    assert abs(float(GaussianMI().mutual_information(z, s))) < 0.02  # same means and covariances
    assert float(KernelMI().mutual_information(z, s)) > 0.5  # of log 2 = 0.69


def test_kernel_estimate_ignores_the_scale_and_correlation_of_features():
    z, s = square(500, torch.Generator().manual_seed(4))
    mixing = torch.tensor([[1e-3, 5.0], [0.0, 1e3]])
    estimator = KernelMI(whiten=True)
    assert float(estimator.mutual_information(z @ mixing, s)) == pytest.approx(
        float(estimator.mutual_information(z, s)), abs=1e-3
    )


def test_the_default_estimate_ignores_the_scale_of_each_feature():
    z, s = square(500, torch.Generator().manual_seed(4))
    scale = torch.tensor([1e-3, 1e3])
    estimator = KernelMI()
    assert float(estimator.mutual_information(z * scale, s)) == pytest.approx(
        float(estimator.mutual_information(z, s)), abs=1e-4
    )


def test_standardised_kernel_sees_an_attribute_that_many_features_carry():
    # 64 features from 64 samples, half of them carrying S together: standardised, S
    # weighs in the distances as 32 features; whitened, it is one direction among 64
    g = torch.Generator().manual_seed(9)
    s = torch.randint(0, 2, (64,), generator=g)
    z = torch.randn(64, 64, generator=g)
    z[:, :32] += 2 * s[:, None] - 1
    assert float(KernelMI().mutual_information(z, s)) > 0.3  # 1 sample per feature: standardised
    assert float(KernelMI(whiten=True).mutual_information(z, s)) < 0.1
    assert float(KernelMI(whiten=False).mutual_information(z, s)) == float(KernelMI().mutual_information(z, s))


def test_whitening_decorrelates_when_the_batch_can_estimate_the_correlations():
    z = torch.randn(90, 10) @ torch.randn(10, 10)
    assert Whitening(z, decorrelate=None).tril is not None  # 9 samples per feature
    assert Whitening(z[:89], decorrelate=None).tril is None


def test_whitening_and_its_jacobian():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(4000, 2, generator=g) @ torch.tensor([[2.0, 1.0], [0.0, 0.5]]) + 3.0
    whitening = Whitening(z)
    w = whitening(z)
    assert torch.allclose(w.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(w.T @ w / 3999, torch.eye(2), atol=0.01)
    # log |det| of the map: minus the log-determinant of the covariance's square root
    assert float(whitening.log_abs_det()) == pytest.approx(-0.5 * float(torch.logdet(torch.cov(z.T))), abs=0.01)


def test_batch_kernel_predicts_each_sample_without_itself():
    g = torch.Generator().manual_seed(6)
    z, s = square(600, g)
    q = BatchKernel().fit(z, s)
    assert float((q(z).probs.argmax(1) == s).float().mean()) > 0.95
    # labels independent of z: a classifier that saw its own label would be right every time
    noise = torch.randint(0, 2, (600,), generator=g)
    accuracy = float((BatchKernel().fit(z, noise)(z).probs.argmax(1) == noise).float().mean())
    assert 0.4 < accuracy < 0.6, accuracy


def test_batch_kernel_conditional_density_integrates_to_one():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(300, 2, generator=g)
    y = x[:, :1] + 0.5 * torch.randn(300, 1, generator=g)
    q = BatchKernel().fit(x, y)
    grid = torch.linspace(-10.0, 10.0, 4001)[:, None]
    query = torch.tensor([[0.5, -1.0]]).expand(len(grid), 2)
    density = q(query).log_prob(grid).exp()
    assert float(density.sum() * (grid[1, 0] - grid[0, 0])) == pytest.approx(1.0, abs=1e-3)


def test_club_with_the_kernel_q_measures_the_square():
    z, s = square(1000, torch.Generator().manual_seed(8))
    club = CLUB(BatchKernel())
    # an upper bound of log 2 = 0.69 when q is right (loose where the classifier is sure)
    assert math.log(2.0) - 0.1 < float(club.mutual_information(z, s)) < 3.0
    assert abs(float(club.mutual_information(torch.randn(1000, 2), s))) < 0.03


def test_kernel_settings_and_inputs_are_checked():
    with pytest.raises(ValueError, match="bandwidths must be"):
        KernelMI(bandwidths=())
    with pytest.raises(ValueError, match="bandwidths must be"):
        BatchKernel(bandwidths=(0.5, -1.0))
    with pytest.raises(ValueError, match="smoothing must be positive"):
        KernelMI(smoothing=0.0)
    with pytest.raises(ValueError, match="whiten must be True, False or None"):
        BatchKernel(whiten=1)
    with pytest.raises(ValueError, match="ridge must be positive"):
        instantiate_estimator("kernel", x_dim=2, y_dim=1, ridge=0.0)
    with pytest.raises(ValueError, match="same number of samples|different numbers of samples|samples"):
        KernelMI().mutual_information(torch.randn(10, 2), torch.randint(0, 2, (9,)))
    # any integer codes are classes, compared on the device: negative and large codes read as 0 .. K-1
    x, codes = torch.randn(60, 2), torch.arange(60) % 3
    assert float(KernelMI().mutual_information(x, torch.tensor([-1, 7, 1990])[codes])) == pytest.approx(
        float(KernelMI().mutual_information(x, codes)), abs=1e-6
    )
    with pytest.raises(ValueError, match="at least 3 samples"):
        BatchKernel().fit(torch.randn(2, 2), torch.tensor([0, 1]))
    # one class only: nothing to learn about it, exactly
    assert abs(float(KernelMI().mutual_information(torch.randn(20, 2), torch.zeros(20, dtype=torch.long)))) < 1e-6


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 4)  # starts as the identity: every input stays readable
        with torch.no_grad():
            self.encoder.weight.copy_(torch.eye(4))
            self.encoder.bias.zero_()
        self.head = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(inputs))


def hidden_nuisance(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two coordinates give the label; two more carry S with equal class means and covariances."""
    label_part = torch.randn(n, 2, generator=generator)
    nuisance, s = square(n, generator)
    return torch.cat([label_part, nuisance], 1), (label_part.sum(1) > 0).long(), s


def train_and_judge(estimator: str | None, weight: float = 1.0, steps: int = 300) -> tuple[float, float]:
    torch.manual_seed(0)
    model = Classifier()
    train_with_penalty(model, hidden_nuisance, estimator or "kernel", None if estimator is None else weight, steps)
    accuracy, leak = judge(model, hidden_nuisance)
    return accuracy, leak.accuracy


def test_the_kernel_penalty_removes_a_nuisance_the_gaussian_model_cannot_see():
    task_control, leak_control = train_and_judge(None)
    assert leak_control > 0.9  # the task alone keeps the nuisance readable
    _, leak_gaussian = train_and_judge("gaussian")
    assert leak_gaussian > 0.85  # no class mean or covariance to remove
    for estimator in ("kernel", "club"):  # CLUB by name gets the kernel q when minimising
        task, leak = train_and_judge(estimator)
        assert leak < 0.6, (estimator, leak)
        assert task > task_control - 0.03, (estimator, task, task_control)


@pytest.mark.parametrize("y", [torch.randn(64, 1), torch.arange(64) % 2], ids=["float y", "binary y"])
def test_constant_features_carry_no_information(y):
    for x in (torch.zeros(64, 3), torch.full((64, 2), 0.1)):
        estimate = KernelMI().mutual_information(x, y)
        assert float(estimate) == 0.0
