"""EnsembleLinear and ensemble_mlp: K independent networks run as one."""

from __future__ import annotations

import pytest
import torch

from mist_reg.nn.ensemble_mlp import EnsembleColumnwise, EnsembleLinear, ensemble_mlp
from mist_reg.nn.mlp import mlp


def test_each_member_computes_the_mlp_of_its_own_weights():
    torch.manual_seed(0)
    net = ensemble_mlp(3, 4, [16, 8], 2)
    x = torch.randn(20, 4)
    out = net(x)
    for k in range(3):
        single = mlp(4, [16, 8], 2)
        with torch.no_grad():
            for layer, batched in zip(single[::2], net[::2]):
                layer.weight.copy_(batched.weight[k].T)
                layer.bias.copy_(batched.bias[k, 0])
        assert torch.allclose(out[k], single(x), atol=1e-5)
    per_member = torch.randn(3, 20, 4)  # one input per member
    assert torch.allclose(net(per_member)[1], net(per_member[1])[1], atol=1e-5)


def test_members_start_as_linear_layers_do_and_differ():
    torch.manual_seed(0)
    layer = EnsembleLinear(4, 100, 50)
    assert float(layer.weight.abs().max()) <= 0.1 and float(layer.weight.std()) == pytest.approx(0.1 / 3**0.5, rel=0.05)
    assert not torch.equal(layer.weight[0], layer.weight[1])


def test_bad_shapes_and_sizes_are_refused():
    layer = EnsembleLinear(2, 3, 4)
    with pytest.raises(ValueError, match=r"expected inputs \[N, 3\] or \[2, N, 3\], got \[5, 7, 3\]"):
        layer(torch.randn(5, 7, 3))
    with pytest.raises(ValueError, match=r"expected inputs \[N, 3\], got \[7, 2\]"):
        layer(torch.randn(7, 2))
    with pytest.raises(ValueError, match="members must be a positive integer"):
        EnsembleLinear(0, 3, 4)
    with pytest.raises(ValueError, match="hidden_dims must be positive integers"):
        ensemble_mlp(2, 3, [0], 1)


def test_the_columnwise_networks_sum_one_effect_per_column():
    torch.manual_seed(0)
    g = EnsembleColumnwise(3, 4, 8, 2)
    x = torch.randn(30, 4)
    out = g(x)
    assert out.shape == (3, 30, 2)
    terms = []  # member 1, column by column: relu(x_d w1 + b1) @ w2 of its rows
    for d in range(4):
        hidden = torch.relu(x[:, d : d + 1] * g.weight1[1, d] + g.bias1[1, d])
        terms.append(hidden @ g.weight2[1, d * 8 : (d + 1) * 8])
    assert torch.allclose(out[1], sum(terms), atol=1e-5)
    assert torch.allclose(g(x.expand(3, 30, 4)), out, atol=1e-6)
    with pytest.raises(ValueError, match=r"expected inputs \[N, 4\] or \[3, N, 4\], got \[30, 5\]"):
        g(torch.randn(30, 5))
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        EnsembleColumnwise(3, 4, 0, 2)


def test_an_additive_function_of_many_columns_is_learnt_closer_by_the_columnwise_networks():
    # y = sum_d |x_d|: 12 one-column effects; 400 Adam steps from 600 rows, the same for both models
    g = torch.Generator().manual_seed(0)
    x = torch.randn(800, 12, generator=g)
    y = x.abs().sum(1, keepdim=True)
    y = (y - y.mean()) / y.std()
    errors = {}
    for name, columns in (("mlp", None), ("mlp + columns", EnsembleColumnwise(1, 12, 16, 1))):
        torch.manual_seed(0)
        net = ensemble_mlp(1, 12, [64, 64], 1)
        model = torch.nn.ModuleList([net] + ([columns] if columns is not None else []))
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)

        def predict(z: torch.Tensor, model: torch.nn.ModuleList = model) -> torch.Tensor:
            return sum(m(z) for m in model)[0]

        for _ in range(400):
            rows = torch.randint(0, 600, (64,), generator=g)
            loss = ((predict(x[rows]) - y[rows]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            errors[name] = float(((predict(x[600:]) - y[600:]) ** 2).mean())
    assert errors["mlp + columns"] < 0.5 * errors["mlp"], errors
