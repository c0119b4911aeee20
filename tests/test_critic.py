"""Tests for the critics of mist_reg.nn.critic and mist_reg.nn.references.gaussian."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from mist_reg.nn.critic import Critic, JointCritic, SeparableCritic, joint_critic, separable_critic
from mist_reg.nn.references.gaussian import GaussianLogRatio, ResidualCritic


def naive_joint_matrix(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty(x.shape[0], y.shape[0])
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            out[i, j] = net(torch.cat([x[i], y[j]]).unsqueeze(0)).reshape(())
    return out


class RecordingNet(nn.Module):
    """A joint network that is not an nn.Sequential and records the pairs it is called on."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.a = nn.Linear(in_dim, 8)
        self.b = nn.Linear(8, 1)
        self.calls: list[int] = []

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        self.calls.append(pairs.reshape(-1, pairs.shape[-1]).shape[0])
        return self.b(torch.tanh(self.a(pairs)) ** 2)


@pytest.fixture
def xy():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 2, generator=g), torch.randn(6, 3, generator=g)


# --------------------------------------------------------------------------------------
# JointCritic
# --------------------------------------------------------------------------------------


def test_joint_score_matrix_matches_naive_loop_sequential(xy):
    torch.manual_seed(0)
    x, y = xy
    critic = joint_critic(2, 3, [16, 16])
    expected = naive_joint_matrix(critic.joint_net, x, y)
    torch.testing.assert_close(critic.score_matrix(x, y), expected, atol=1e-5, rtol=1e-5)


def test_joint_score_matrix_matches_naive_loop_non_sequential(xy):
    torch.manual_seed(0)
    x, y = xy
    critic = JointCritic(joint_net=RecordingNet(5))
    expected = naive_joint_matrix(critic.joint_net, x, y)
    torch.testing.assert_close(critic.score_matrix(x, y), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("sequential", [True, False])
def test_joint_chunking_gives_same_scores(xy, sequential):
    torch.manual_seed(0)
    x, y = xy
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)) if sequential else RecordingNet(5)
    expected = naive_joint_matrix(net, x, y)
    chunked = JointCritic(joint_net=net, max_pairs_per_chunk=7)
    if not sequential:
        net.calls.clear()
    torch.testing.assert_close(chunked.score_matrix(x, y), expected, atol=1e-5, rtol=1e-5)
    if not sequential:
        # 7 // 6 = 1 row per chunk: one call per row of x, each on 6 pairs
        assert net.calls == [6] * 5
    index = torch.tensor([[0, 5, 5], [1, 1, 2], [4, 3, 0], [2, 2, 2], [5, 4, 3]])
    torch.testing.assert_close(chunked.score_pairs(x, y, index), expected.gather(1, index), atol=1e-5, rtol=1e-5)


def test_joint_score_pairs_and_forward_match_score_matrix():
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(9, 2, generator=g), torch.randn(9, 4, generator=g)
    for critic in (joint_critic(2, 4, [16]), JointCritic(RecordingNet(6))):
        matrix = critic.score_matrix(x, y)
        index = torch.randint(0, 9, (9, 5), generator=g)
        torch.testing.assert_close(critic.score_pairs(x, y, index), matrix.gather(1, index), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(critic(x, y), matrix.diagonal(), atol=1e-5, rtol=1e-5)


def test_joint_critic_gradients_match_naive(xy):
    torch.manual_seed(0)
    x, y = xy
    critic = joint_critic(2, 3, [8])
    critic.score_matrix(x, y).sum().backward()
    fast = [p.grad.clone() for p in critic.parameters()]
    critic.zero_grad()
    naive_joint_matrix(critic.joint_net, x, y).sum().backward()
    for a, b in zip(fast, (p.grad for p in critic.parameters())):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_joint_critic_rejects_bad_chunk_size():
    with pytest.raises(ValueError, match="max_pairs_per_chunk"):
        JointCritic(nn.Linear(3, 1), max_pairs_per_chunk=0)


# --------------------------------------------------------------------------------------
# SeparableCritic
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalize,temperature", [(False, 1.0), (True, 0.1), (False, 2.5), (True, 1.0)])
def test_separable_matches_manual_computation(xy, normalize, temperature):
    torch.manual_seed(0)
    x, y = xy
    f_x, f_y = nn.Linear(2, 4), nn.Linear(3, 4)
    critic = SeparableCritic(f_x, f_y, normalize=normalize, temperature=temperature)
    hx, hy = f_x(x), f_y(y)
    if normalize:
        hx, hy = hx / hx.norm(dim=1, keepdim=True), hy / hy.norm(dim=1, keepdim=True)
    expected = torch.stack([torch.stack([(hx[i] * hy[j]).sum() for j in range(6)]) for i in range(5)]) / temperature
    torch.testing.assert_close(critic.score_matrix(x, y), expected, atol=1e-5, rtol=1e-5)
    index = torch.tensor([[0, 1], [5, 5], [2, 0], [3, 4], [1, 1]])
    torch.testing.assert_close(critic.score_pairs(x, y, index), expected.gather(1, index), atol=1e-5, rtol=1e-5)
    y_aligned = y[:5]
    torch.testing.assert_close(critic(x, y_aligned), expected[:, :5].diagonal(), atol=1e-5, rtol=1e-5)
    if normalize:
        assert float(critic.score_matrix(x, y).detach().abs().max()) <= 1 / temperature + 1e-5


def test_separable_factory_shapes_and_projection():
    critic = separable_critic(3, 2, [16, 8], projection_dim=5)
    x, y = torch.randn(4, 3), torch.randn(7, 2)
    assert critic.score_matrix(x, y).shape == (4, 7)
    assert critic.f_x(x).shape == (4, 5) and critic.f_y(y).shape == (7, 5)
    assert separable_critic(3, 2, [16, 8]).f_x(x).shape == (4, 8)


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_separable_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        SeparableCritic(nn.Linear(2, 3), nn.Linear(2, 3), temperature=temperature)


def test_separable_rejects_mismatched_heads():
    critic = SeparableCritic(nn.Linear(2, 3), nn.Linear(2, 4))
    x = torch.randn(3, 2)
    for call in (lambda: critic(x, x), lambda: critic.score_matrix(x, x)):
        with pytest.raises(ValueError, match="same size"):
            call()


def test_critic_base_is_abstract():
    critic = Critic()
    with pytest.raises(NotImplementedError):
        critic.score_matrix(torch.zeros(2, 1), torch.zeros(2, 1))
    with pytest.raises(NotImplementedError):
        critic(torch.zeros(2, 1), torch.zeros(2, 1))


# --------------------------------------------------------------------------------------
# GaussianLogRatio and ResidualCritic
# --------------------------------------------------------------------------------------

MEAN = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0], dtype=torch.float64)
COV = torch.tensor(
    [
        [2.0, 0.3, 0.8, 0.1, -0.4],
        [0.3, 1.0, 0.2, 0.5, 0.0],
        [0.8, 0.2, 1.5, 0.3, 0.2],
        [0.1, 0.5, 0.3, 1.2, 0.1],
        [-0.4, 0.0, 0.2, 0.1, 0.8],
    ],
    dtype=torch.float64,
)
DX = 2


def exact_log_ratio(x: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log p(x, y) - log p(x) - log p(y) from torch.distributions, for all pairs [N, M]."""
    joint = MultivariateNormal(mean, cov)
    px = MultivariateNormal(mean[:DX], cov[:DX, :DX])
    py = MultivariateNormal(mean[DX:], cov[DX:, DX:])
    xd, yd = x.double(), y.double()
    pairs = torch.cat([xd.unsqueeze(1).expand(-1, yd.shape[0], -1), yd.unsqueeze(0).expand(xd.shape[0], -1, -1)], -1)
    return joint.log_prob(pairs) - px.log_prob(xd).unsqueeze(1) - py.log_prob(yd).unsqueeze(0)


def unregularised_reference(x_dim: int, y_dim: int) -> GaussianLogRatio:
    """A GaussianLogRatio with its regularisation (ridge / shrinkage, rank truncation) off."""
    params = inspect.signature(GaussianLogRatio).parameters
    kwargs = {name: 0.0 for name in ("shrinkage", "ridge") if name in params}
    if "rank" in params:
        kwargs["rank"] = min(x_dim, y_dim)
    return GaussianLogRatio(x_dim, y_dim, **kwargs)


@pytest.fixture(scope="module")
def gaussian_samples():
    torch.manual_seed(0)
    z = MultivariateNormal(MEAN, COV).sample((20_000,)).float()
    return z[:, :DX].contiguous(), z[:, DX:].contiguous()


def test_gaussian_log_ratio_matches_exact_ratio(gaussian_samples):
    x, y = gaussian_samples
    reference = GaussianLogRatio(DX, 3)
    reference.fit_data(x, y)
    xt, yt = x[:40], y[:40]
    expected = exact_log_ratio(xt, yt, MEAN, COV).float()
    matrix = reference.score_matrix(xt, yt)
    error = (matrix - expected).abs()
    # sampling error of the fitted moments grows with |x|, |y|: strict on joint pairs, on average elsewhere
    assert float(error.diagonal().max()) < 0.15
    assert float(error.mean()) < 0.04
    assert float(error.max()) < 0.5
    # E_p[r] is the mutual information of the Gaussian
    true_mi = 0.5 * float(torch.logdet(COV[:DX, :DX]) + torch.logdet(COV[DX:, DX:]) - torch.logdet(COV))
    assert abs(float(reference(x, y).mean()) - true_mi) < 0.03


def test_gaussian_log_ratio_is_exact_for_the_fitted_moments(gaussian_samples):
    # Without shrinkage the fitted model is the Gaussian with the empirical moments.
    x, y = gaussian_samples[0][:3000], gaussian_samples[1][:3000]
    reference = unregularised_reference(DX, 3)
    reference.fit_data(x, y)
    z = torch.cat([x, y], 1).double()
    expected = exact_log_ratio(x[:30], y[:30], z.mean(0), torch.cov(z.T)).float()
    torch.testing.assert_close(reference.score_matrix(x[:30], y[:30]), expected, atol=2e-4, rtol=1e-4)


def test_gaussian_log_ratio_views_agree(gaussian_samples):
    x, y = gaussian_samples[0][:2000], gaussian_samples[1][:2000]
    reference = GaussianLogRatio(DX, 3)
    reference.fit_data(x, y)
    xt, yt = x[:12], y[:12]
    matrix = reference.score_matrix(xt, yt)
    torch.testing.assert_close(reference(xt, yt), matrix.diagonal(), atol=1e-5, rtol=1e-5)
    index = torch.randint(0, 12, (12, 4), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(reference.score_pairs(xt, yt, index), matrix.gather(1, index), atol=1e-5, rtol=1e-5)


def test_gaussian_log_ratio_unfitted_is_zero_and_checks_dims():
    reference = GaussianLogRatio(2, 3)
    assert float(reference.score_matrix(torch.randn(4, 2), torch.randn(5, 3)).abs().max()) == 0.0
    with pytest.raises(ValueError, match="dims"):
        reference.fit_data(torch.randn(10, 3), torch.randn(10, 3))


@pytest.mark.parametrize("kind", ["joint", "separable"])
def test_residual_critic_starts_at_reference(gaussian_samples, kind):
    torch.manual_seed(0)
    x, y = gaussian_samples[0][:2000], gaussian_samples[1][:2000]
    reference = GaussianLogRatio(DX, 3)
    reference.fit_data(x, y)
    correction = joint_critic(DX, 3, [16]) if kind == "joint" else separable_critic(DX, 3, [16])
    critic = ResidualCritic(reference, correction)
    xt, yt = x[:10], y[:10]
    torch.testing.assert_close(critic.score_matrix(xt, yt), reference.score_matrix(xt, yt))
    torch.testing.assert_close(critic(xt, yt), reference(xt, yt))
    index = torch.randint(0, 10, (10, 3), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(critic.score_pairs(xt, yt, index), reference.score_pairs(xt, yt, index))
    # the critic is still trainable: after a step or two of gradient descent the
    # correction's parameters get gradients and the scores move away from the reference
    optimizer = torch.optim.SGD(critic.parameters(), lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        critic.score_matrix(xt, yt).pow(2).mean().backward()
        optimizer.step()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in correction.parameters())
    with torch.no_grad():
        assert float((critic.score_matrix(xt, yt) - reference.score_matrix(xt, yt)).abs().max()) > 1e-4
    # the reference has no trainable parameters (only buffers)
    assert list(reference.parameters()) == []
