"""Tests for mist_reg.distributions: log-densities against torch.distributions, pairwise
evaluation, bounded log-variances, flows and the missing-zuko error."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from torch.distributions import Categorical, Independent, MultivariateNormal, Normal

from mist_reg.distributions import (
    ConditionalCategorical,
    ConditionalGaussian,
    LearnedGaussian,
    as_value,
    bounded_log_variance,
    conditional_density,
    conditional_flow,
    indexed_log_prob,
    joint_flow,
    log_prob,
    marginal_density,
    marginal_flow,
    pairwise_log_prob,
    require_zuko,
)


def test_conditional_gaussian_diagonal_matches_normal():
    torch.manual_seed(0)
    q = ConditionalGaussian(3, 2, [16])
    x, y = torch.randn(10, 3), torch.randn(10, 2)
    mean, log_var, off = q.parameters_of(x)
    assert off is None
    expected = Normal(mean, torch.exp(0.5 * log_var)).log_prob(y).sum(-1)
    assert torch.allclose(q(x).log_prob(y), expected, atol=1e-5)
    assert q(x).log_prob(y).shape == (10,)


def test_conditional_gaussian_full_matches_multivariate_normal():
    torch.manual_seed(0)
    q = ConditionalGaussian(3, 3, [16], covariance="full")
    with torch.no_grad():
        q.net[-1].bias.normal_()  # non-zero off-diagonal entries
    x, y = torch.randn(10, 3), torch.randn(10, 3)
    mean, log_var, off = q.parameters_of(x)
    factor = torch.diag_embed(torch.exp(0.5 * log_var))
    rows, cols = torch.tril_indices(3, 3, offset=-1)
    factor[:, rows, cols] = off
    assert bool((off.abs() > 0).all())
    expected = MultivariateNormal(mean, scale_tril=factor).log_prob(y)
    assert torch.allclose(q(x).log_prob(y), expected, atol=1e-5)


def test_log_variance_is_bounded_and_keeps_its_gradient():
    raw = torch.tensor([-1e4, -3.0, 0.0, 2.0, 1e4], requires_grad=True)
    bounded = bounded_log_variance(raw, -4.0, 3.0)
    assert float(bounded.detach().min()) >= -4.0 and float(bounded.detach().max()) <= 3.0
    assert torch.allclose(bounded[2], torch.tensor(0.0), atol=0.05)  # the identity inside
    bounded.sum().backward()
    assert raw.grad[2] > 0.9 and bool((raw.grad >= 0).all())
    q = ConditionalGaussian(2, 2, [8], min_log_var=-2.0, max_log_var=1.0)
    with torch.no_grad():
        q.net[-1].bias[2:].fill_(-1e3)  # a saturated head
    assert bool(torch.isfinite(q(torch.randn(4, 2)).log_prob(torch.randn(4, 2))).all())
    assert torch.allclose(q(torch.zeros(1, 2)).variance, torch.full((1, 2), math.exp(-2.0)), rtol=1e-3)


def test_conditional_categorical_with_class_indices():
    torch.manual_seed(0)
    q = ConditionalCategorical(3, n_classes=4, hidden_dims=[8])
    x = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 3, 1, 0])
    expected = Categorical(logits=q.net(x)).log_prob(labels)
    assert torch.allclose(log_prob(q, x, labels), expected)
    assert torch.allclose(log_prob(q, x, labels.unsqueeze(1).float()), expected)  # [N, 1] floats
    assert pairwise_log_prob(q, x, labels.unsqueeze(1).float()).shape == (6, 6)
    with pytest.raises(ValueError, match="n_classes"):
        ConditionalCategorical(3, n_classes=1)


def test_as_value_keeps_vectors_of_codes():
    dist = Categorical(logits=torch.zeros(1, 3))
    assert as_value(dist, torch.tensor([2])).tolist() == [2]  # one sample, not squeezed away


def test_learned_gaussian_initialize_is_the_maximum_likelihood_fit():
    torch.manual_seed(0)
    z = torch.randn(5000, 3) @ torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 2.0]]) + 1.0
    for covariance in ("full", "diagonal"):
        q = LearnedGaussian(3, covariance=covariance)
        q.initialize(z)
        cov = torch.cov(z.T, correction=0)
        if covariance == "diagonal":
            cov = torch.diag(cov.diagonal())
        reference = MultivariateNormal(z.mean(0), covariance_matrix=cov)
        assert torch.allclose(q().log_prob(z[:50]), reference.log_prob(z[:50]), atol=1e-3)
    with pytest.raises(ValueError, match="unconditional"):
        q(torch.zeros(2, 3))


def test_pairwise_and_indexed_log_prob_match_a_loop():
    torch.manual_seed(0)
    q = ConditionalGaussian(2, 2, [8], covariance="full")
    x, y = torch.randn(5, 2), torch.randn(7, 2)
    matrix = pairwise_log_prob(q, x, y)
    loop = torch.stack([q(x[i].expand(7, 2)).log_prob(y) for i in range(5)])
    assert torch.allclose(matrix, loop, atol=1e-5)
    index = torch.tensor([[0, 6], [1, 1], [2, 0], [3, 4], [5, 5]])
    assert torch.allclose(indexed_log_prob(q, x, y, index), loop.gather(1, index), atol=1e-5)


def test_any_callable_returning_a_distribution_is_a_conditional():
    q = lambda x: Independent(Normal(2 * x, torch.ones_like(x)), 1)  # noqa: E731
    x, y = torch.randn(6, 2), torch.randn(6, 2)
    expected = Normal(2 * x, 1.0).log_prob(y).sum(-1)
    assert torch.allclose(log_prob(q, x, y), expected)
    assert torch.allclose(pairwise_log_prob(q, x, y, max_pairs=4).diagonal(), expected)


def test_flows_log_prob_shapes_and_normalisation():
    torch.manual_seed(0)
    q = conditional_flow(2, 1, [16], transforms=2)
    x = torch.zeros(1, 2)
    grid = torch.linspace(-12, 12, 4001).unsqueeze(1)
    density = q(x.expand(len(grid), 2)).log_prob(grid).exp()
    assert abs(float(torch.trapezoid(density.detach(), grid.squeeze(1))) - 1.0) < 1e-2
    assert pairwise_log_prob(q, torch.randn(4, 2), torch.randn(5, 1), max_pairs=3).shape == (4, 5)
    assert marginal_flow(3, [8], kind="nsf")().log_prob(torch.randn(4, 3)).shape == (4,)
    assert joint_flow(2, 3, [8])().event_shape == (5,)
    with pytest.raises(ValueError, match="valid kinds: maf, nsf"):
        conditional_flow(2, 1, kind="realnvp")


def test_missing_zuko_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "zuko", None)
    monkeypatch.setitem(sys.modules, "zuko.flows", None)
    with pytest.raises(ImportError, match=r"pip install mist_reg\[flows\]"):
        require_zuko()
    with pytest.raises(ImportError, match=r"pip install mist_reg\[flows\]"):
        conditional_density("flow", 2, 2)
    assert isinstance(conditional_density("gaussian", 2, 2, [8]), ConditionalGaussian)  # no zuko needed


def test_density_factories_validate_names():
    with pytest.raises(ValueError, match="valid values: gaussian, categorical, flow"):
        conditional_density("mixture", 2, 2)
    with pytest.raises(ValueError, match="valid values: gaussian, flow"):
        marginal_density("categorical", 2)
    with pytest.raises(ValueError, match="valid values: diagonal, full"):
        ConditionalGaussian(2, 2, covariance="spherical")
    with pytest.raises(ValueError, match="n_classes"):
        conditional_density("categorical", 2, 1)
    with pytest.raises(ValueError, match="y_dim must be 1"):
        conditional_density("categorical", 2, 3, n_classes=4)
