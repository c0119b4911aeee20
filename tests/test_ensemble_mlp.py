"""EnsembleLinear and ensemble_mlp: K independent networks run as one."""

from __future__ import annotations

import pytest
import torch

from mist_reg.nn.ensemble_mlp import EnsembleLinear, ensemble_mlp
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
