"""MILoss minimising by name: the penalty removes what a *fresh* probe could read.

The judge is never the penalty's own value: after training, a new probe is fitted on
frozen features of fresh samples (:func:`mist_reg.attribute_leakage`) or a Gaussian
information of held-out features is computed in closed form.
"""

from __future__ import annotations

import pytest
import torch
from penalty_training import judge as judge_features
from penalty_training import train_with_penalty
from torch import nn

from mist_reg import LeakageReport, MILoss, attribute_leakage
from mist_reg.distributions import BatchByType, BatchGaussian, ConditionalCategorical
from mist_reg.estimators import CLUB, L1OUT, GaussianMI, KernelMI


def planted(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs whose first two coordinates give the label and last two a binary nuisance."""
    label_part = torch.randn(n, 2, generator=generator)
    s = torch.randint(0, 2, (n,), generator=generator)
    nuisance_part = 2.0 * (2 * s[:, None] - 1) + 0.7 * torch.randn(n, 2, generator=generator)
    inputs = torch.cat([label_part, nuisance_part], dim=1)
    labels = (label_part.sum(1) > 0).long()
    return inputs, labels, s


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 4))
        self.head = nn.Linear(4, 2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(inputs))


def train(
    weight: float | None, steps: int = 400, seed: int = 0, estimator: str = "club", **miloss_kwargs
) -> tuple[Classifier, MILoss | None]:
    torch.manual_seed(seed)
    model = Classifier()
    return model, train_with_penalty(model, planted, estimator, weight, steps, seed, **miloss_kwargs)


def judge(model: Classifier) -> tuple[float, LeakageReport]:
    """Task accuracy and a fresh probe's leakage report on fresh samples."""
    return judge_features(model, planted)


@pytest.mark.parametrize(
    "estimator, weight, most_readable, most_information",
    # CLUB's bound is looser than the kernel estimate (its negatives average log q over
    # every class), and what it leaves is close to the resolution of a 128-sample batch
    [("kernel", 1.0, 0.6, 0.06), ("club", 1.0, 0.65, 0.08), ("gaussian", 0.3, 0.6, 0.06)],
)
def test_the_default_penalty_removes_a_planted_nuisance_for_a_fresh_probe(
    estimator, weight, most_readable, most_information
):
    control, _ = train(None)
    task_control, leak_control = judge(control)
    assert leak_control.accuracy > 0.95  # nothing in the task removes the nuisance

    model, penalty = train(weight, estimator=estimator)
    expected = {"kernel": KernelMI, "gaussian": GaussianMI}.get(estimator)
    if expected is None:
        assert isinstance(penalty.estimator.q_y_given_x, BatchByType)
    else:
        assert isinstance(penalty.estimator, expected)
    assert list(penalty.parameters()) == []  # nothing to train: the model is refitted on every batch
    task, leak = judge(model)
    assert task > task_control - 0.03, (task, task_control)
    assert leak.accuracy < most_readable, leak
    assert leak.mi_lower_bound < most_information, leak


def test_the_penalty_removes_more_with_a_larger_weight_until_it_is_gone():
    leaks = [judge(train(weight, steps=100, estimator="gaussian")[0])[1] for weight in (0.0, 1e-4, 0.1)]
    bounds = [leak.mi_lower_bound for leak in leaks]
    assert bounds[0] > 0.5 and bounds[0] > bounds[1] > bounds[2], bounds
    assert bounds[2] < 3 * leaks[2].standard_error + 0.02, bounds


def test_the_adversarial_game_of_a_learned_q_is_still_available_by_name():
    # an explicit q gets the learned density of the factory, with its parameters
    _, penalty = train(1.0, steps=2, estimator_kwargs=dict(q="categorical", n_classes=2, hidden_dims=[8]))
    q = penalty.estimator.q_y_given_x
    assert isinstance(penalty.estimator, CLUB) and isinstance(q, ConditionalCategorical)
    assert [id(p) for p in penalty.parameters()] == [id(p) for p in q.parameters()]  # q's, and only q's
    assert sum(p.numel() for p in q.parameters()) == 58  # 4 features -> 8 -> 2 classes: 40 + 18


@pytest.mark.parametrize("estimator, expected", [("gaussian", GaussianMI), ("l1out", L1OUT), ("kernel", KernelMI)])
def test_a_linear_copy_of_a_continuous_nuisance_is_removed_for_a_fresh_probe(estimator, expected):
    # a linear encoder of (u1, u2, u3) must keep u1, u2 and may keep u3, the nuisance; its
    # features carry a little noise (0.01), as every trained network's do, so that a copy of u3
    # scaled down to nothing is gone (without it, an invertible map keeps u3 at any scale,
    # and a standardised linear probe reads it exactly)
    torch.manual_seed(0)
    encoder = nn.Linear(3, 3)
    penalty = MILoss(estimator, direction="minimize", weight=0.1)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    for _ in range(300):
        u = torch.randn(128, 3)
        z = encoder(u) + 0.01 * torch.randn(128, 3)
        loss = nn.functional.mse_loss(z[:, :2], u[:, :2]) + penalty(x=z, y=u[:, 2:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert isinstance(penalty.estimator, expected)
    generator = torch.Generator().manual_seed(5)
    u = torch.randn(4000, 3, generator=generator)
    with torch.no_grad():
        z = encoder(u) + 0.01 * torch.randn(4000, 3, generator=generator)
    leak = attribute_leakage(z, u[:, 2])  # without the penalty: R^2 0.96
    assert leak.r2 < 0.05, leak.readers
    assert float(nn.functional.mse_loss(z[:, :2], u[:, :2])) < 0.05


def test_batch_gaussian_club_matches_the_closed_form():
    # CLUB with the least-squares Gaussian q is sum rho^2 / (1 - rho^2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 2, generator=g)
    y = 0.8 * x[:, :1] + 0.6 * torch.randn(4000, 1, generator=g)
    estimate = float(CLUB(BatchGaussian()).mutual_information(x, y))
    assert estimate == pytest.approx(0.64 / 0.36, rel=0.08)


def test_the_class_conditional_fit_is_invariant_to_the_scale_of_each_feature():
    g = torch.Generator().manual_seed(1)
    s = torch.randint(0, 3, (300,), generator=g)
    x = torch.randn(300, 3, generator=g) + s[:, None].float()
    scale = torch.tensor([1e-3, 1.0, 1e3])
    club = CLUB(BatchGaussian())
    assert float(club.mutual_information(x * scale, s)) == pytest.approx(float(club.mutual_information(x, s)), rel=1e-4)


def test_float_class_values_for_a_discrete_q_are_refused():
    penalty = MILoss("club", direction="minimize", estimator_kwargs=dict(q="categorical", n_classes=2, hidden_dims=[4]))
    with pytest.raises(ValueError, match="non-integral value 0.5"):
        penalty(x=torch.randn(8, 3), y=torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0, 1.0]))


def test_gaussian_models_name_bad_settings_and_class_indices():
    with pytest.raises(ValueError, match="ridge must be non-negative"):
        GaussianMI(ridge=-1.0)
    with pytest.raises(ValueError, match="pooling must be non-negative"):
        BatchGaussian(pooling=-2.0)
    x = torch.randn(16, 3)
    with pytest.raises(ValueError, match="class indices must be >= 0"):
        BatchGaussian().fit(x, torch.arange(16) % 2 - 1)
    with pytest.raises(ValueError, match=r"\[N\] or \[N, 1\]"):
        BatchGaussian().fit(x, torch.zeros(16, 2, dtype=torch.long))


def _sign_hidden_task(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``u``; a target that needs ``|s|`` (no linear correlation with ``s``); ``s = u_3``."""
    u = torch.randn(n, 3, generator=generator)
    s = u[:, 2]
    return u, u[:, 0] + 0.5 * u[:, 1] + 0.8 * (s.abs() - 0.8), s


def _train_regressor(estimator: str, weight: float) -> tuple[float, LeakageReport]:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    encoder, head = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 4)), nn.Linear(4, 1)
    penalty = MILoss(estimator, direction="minimize", weight=weight)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=3e-3)
    for _ in range(400):
        u, target, s = _sign_hidden_task(256, generator)
        z = encoder(u)
        loss = nn.functional.mse_loss(head(z)[:, 0], target) + penalty(z, s[:, None])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    u, target, s = _sign_hidden_task(4000, torch.Generator().manual_seed(99))
    with torch.no_grad():
        z = encoder(u)
        task_error = float(nn.functional.mse_loss(head(z)[:, 0], target))
    return task_error, attribute_leakage(z, s)


def test_a_continuous_attribute_read_non_linearly_is_removed_by_the_kernel_not_the_gaussian_model():
    # the task needs |s|, not its sign: the Gaussian model removes the linear trace of s and the
    # encoder keeps its sign where only a non-linear reader sees it (Adult's age in miniature);
    # the kernel model sees every moment, and a fresh MLP regressor finds nothing
    task_error, leak = _train_regressor("kernel", 1.0)
    assert task_error < 0.05 and leak.r2 < 0.05, (task_error, leak.readers)
    _, leak = _train_regressor("gaussian", 10.0)
    assert leak.readers["linear"]["r2"] < 0.05 and leak.readers["mlp"]["r2"] > 0.2, leak.readers
