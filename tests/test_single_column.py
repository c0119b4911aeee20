"""A side of one continuous column: the Barber-Agakov challenger of estimate_mi's default."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mist_reg import estimate_mi
from mist_reg.distributions import ConditionalGaussian
from mist_reg.estimation.single_column import NORMAL_ENTROPY, SingleColumnBA, single_column_side


def regression_truth(f, x_dim: int, sigma: float, n: int = 400_000) -> float:
    """I(X; Y) for y = f(x) + sigma * eps, x ~ N(0, I): h(Y) - h(noise), with the density of
    Y the histogram of f(x) (fine bins) convolved with the noise's."""
    g = torch.Generator().manual_seed(123)
    fx = f(torch.randn(n, x_dim, generator=g, dtype=torch.float64)).numpy()
    lo, hi = fx.min() - 6 * sigma, fx.max() + 6 * sigma
    density, edges = np.histogram(fx, bins=8000, range=(lo, hi), density=True)
    dx = edges[1] - edges[0]
    offsets = np.arange(-int(8 * sigma / dx), int(8 * sigma / dx) + 1) * dx
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    p = np.maximum(np.convolve(density, kernel, mode="same") * dx, 1e-300)
    h_y = -(p * np.log(p)).sum() * dx
    return h_y - 0.5 * math.log(2 * math.pi * math.e * sigma**2)


def relu_sum(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x[:, :4]).sum(1) - torch.relu(x[:, 4:]).sum(1)


def test_a_regression_of_one_column_on_eight_is_estimated_by_the_conditional_bound():
    truth = regression_truth(relu_sum, 8, 0.3)
    assert truth == pytest.approx(1.72, abs=0.01)  # the histogram truth is stable to its bins
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5000, 8, generator=g)
    y = (relu_sum(x) + 0.3 * torch.randn(5000, generator=g)).unsqueeze(1)
    mi = estimate_mi(x, y)
    assert mi.estimator_name == "ba" and mi.bound == "lower"
    assert 0.85 * truth < mi < 1.02 * truth  # the critic alone gives 0.76x on this draw
    swapped = estimate_mi(y, x)  # the single column on the other side: q(x | y)
    assert swapped.estimator_name == "ba" and 0.85 * truth < swapped < 1.02 * truth


def test_the_default_critic_stays_where_the_bound_does_not_beat_it_on_validation():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3000, 4, generator=g)
    y = 0.4 * x.sum(1, keepdim=True) + 0.6 * torch.randn(
        3000, 1, generator=g
    )  # linear-Gaussian: the reference is exact
    mi = estimate_mi(x, y)
    assert mi.estimator_name == "mine"
    assert mi == pytest.approx(-0.5 * math.log(1 - 0.64), abs=0.05)


def test_either_target_gives_the_same_bound_on_swapped_inputs():
    torch.manual_seed(0)
    model = SingleColumnBA(ConditionalGaussian(3, 1, [8]), target="y")
    swapped = SingleColumnBA(ConditionalGaussian(3, 1, [8]), target="x")
    swapped.load_state_dict(model.state_dict())
    x, z = torch.randn(50, 3), torch.randn(50, 1)
    assert float(model.mutual_information(x, z)) == pytest.approx(float(swapped.mutual_information(z, x)), abs=1e-6)
    assert float(model(x, z)) == pytest.approx(float(swapped(z, x)), abs=1e-6)
    assert float(model.entropy_y) == pytest.approx(0.5 * math.log(2 * math.pi * math.e))
    with pytest.raises(ValueError, match="target must be 'x' or 'y'"):
        SingleColumnBA(ConditionalGaussian(3, 1, [8]), target="z")


def test_which_side_is_a_single_column():
    x, y = torch.randn(200, 3), torch.randn(200, 1)
    assert single_column_side(x, y, (3, 1)) == "y"
    assert single_column_side(y, x, (1, 3)) == "x"
    assert single_column_side(y, y.clone(), (1, 1)) == "y"
    assert single_column_side(x, torch.randn(200, 2), (3, 2)) is None
    tied = torch.cat([torch.zeros(10, 1), torch.randn(190, 1)])  # a value on 10 rows: atoms after the map
    assert single_column_side(x, tied, (3, 1)) is None
    assert NORMAL_ENTROPY == pytest.approx(1.4189385)
