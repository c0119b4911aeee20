"""Inputs that used to give a wrong number or an obscure crash: wide dtypes with a large
offset, NaN and empty data loaders, conflicting arguments, estimators of other dimensions,
NaN features in MILoss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mist_reg import MILoss, estimate_mi, train_mi_estimator
from mist_reg.checks import WideCentring, as_samples
from mist_reg.estimators import infonce, nwj

TRUTH = 0.5 * math.log(2)  # y = x + noise, both of unit variance


def correlated(n: int = 1200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator)
    return x, x + torch.randn(n, 1, generator=generator)


FAST = dict(max_iterations=150, hidden_dims=[16])


def test_float64_offset_keeps_the_information():
    x, y = correlated()
    plain = estimate_mi(x.double().numpy(), y.numpy(), **FAST)
    shifted = estimate_mi(x.double().numpy() + 1e8, y.numpy(), **FAST)
    assert abs(float(plain) - TRUTH) < 0.1
    assert abs(float(shifted) - float(plain)) < 0.01


def test_int64_offset_keeps_the_information():
    x, y = correlated()
    plain = estimate_mi((x * 1000).round().numpy(), y.numpy(), **FAST)
    shifted = estimate_mi((x * 1000).round().long().numpy() + 2**40, y.numpy(), **FAST)
    assert abs(float(shifted) - float(plain)) < 0.01


def test_held_out_samples_get_the_training_shift():
    x, y = correlated()
    plain = estimate_mi(x[:900].double(), y[:900], x_test=x[900:].double(), y_test=y[900:], **FAST)
    shifted = estimate_mi(x[:900].double() + 1e8, y[:900], x_test=x[900:].double() + 1e8, y_test=y[900:], **FAST)
    assert abs(float(shifted) - float(plain)) < 0.01


def test_values_beyond_float32_range():
    x, y = correlated()
    with pytest.raises(ValueError, match="beyond float32's range") as info:
        as_samples(x.double().numpy() * 1e39, "x")
    assert "infinite" not in str(info.value)
    scaled = estimate_mi(x.double().numpy() * 1e39, y.numpy(), **FAST)
    assert abs(float(scaled) - TRUTH) < 0.1


def test_lost_spread_is_refused_without_centring():
    with pytest.raises(ValueError, match="loses its spread when cast to float32"):
        as_samples(np.arange(100.0) * 1e-3 + 1e8, "x")
    with pytest.raises(ValueError, match="loses its spread"):
        train_mi_estimator(nwj(1, 1, hidden_dims=[8]), x=np.arange(100.0) + 2.0**40, y=np.zeros(100), max_iterations=1)
    centred = as_samples(np.arange(100.0) * 1e-3 + 1e8, "x", WideCentring())
    assert torch.unique(centred).numel() == 100


def test_float32_data_is_unchanged():
    x = torch.randn(50, 3)
    assert torch.equal(as_samples(x, "x", WideCentring()), x)
    assert torch.equal(as_samples(x.double(), "x", WideCentring()), x)


def loaders(x, y, batch_size=100):
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def with_nan(x: torch.Tensor, row: int = 7) -> torch.Tensor:
    x = x.clone()
    x[row] = float("nan")
    return x


def test_nan_in_test_loader():
    x, y = correlated()
    with pytest.raises(ValueError, match="x of batch 0 of the evaluation data loader contains NaN .* row 7"):
        estimate_mi(loaders(x, y), test_loader=loaders(with_nan(x), y), max_iterations=5)


@pytest.mark.parametrize("estimator", ["default", "infonce"])
def test_nan_in_training_loader(estimator):
    x, y = correlated()
    model = infonce(1, 1, hidden_dims=[8]) if estimator == "infonce" else "smile"
    with pytest.raises(ValueError, match="training data"):
        estimate_mi(
            loaders(with_nan(x), y), test_loader=loaders(x, y), estimator=model, max_iterations=60, eval_every=10
        )


def test_empty_loaders():
    x, y = correlated()
    empty = loaders(x[:0], y[:0])
    with pytest.raises(ValueError, match="training data loader yields no batches"):
        estimate_mi(empty, test_loader=loaders(x, y))
    with pytest.raises(ValueError, match="test_loader yields no batches"):
        estimate_mi(loaders(x, y), test_loader=empty)
    with pytest.raises(ValueError, match="yields no batch"):
        train_mi_estimator(infonce(1, 1, hidden_dims=[8]), train_loader=empty, max_epochs=1)


def test_estimator_name_conflict():
    x, y = correlated(200)
    with pytest.raises(ValueError, match="'nwj' and estimator_name='club' name different estimators"):
        estimate_mi(x, y, "nwj", estimator_name="club")
    estimate = estimate_mi(x, y, estimator_name="club", max_iterations=2, hidden_dims=[8])
    assert estimate.bound == "upper"  # the alias alone still chooses the estimator


@pytest.mark.parametrize("arguments", [dict(eval_every=0), dict(eval_every=-5), dict(patience=-1), dict(patience=0)])
def test_eval_every_and_patience(arguments):
    x, y = correlated(200)
    name = next(iter(arguments))
    with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
        estimate_mi(x, y, **arguments)
    with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
        train_mi_estimator(nwj(1, 1, hidden_dims=[8]), x=x, y=y, **arguments)


def test_estimator_of_other_dimensions():
    x, y = correlated(400)
    with pytest.raises(ValueError, match="x has 1 features and y has 1; build it with x_dim=1, y_dim=1"):
        estimate_mi(x, y, nwj(3, 3, hidden_dims=[8]), max_iterations=5)


@pytest.mark.parametrize("side", ["x", "y"])
def test_miloss_nan_features(side):
    model = nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 1))
    mi_loss = MILoss("club", x="0", direction="minimize", estimator_kwargs=dict(x_dim=4, y_dim=1, hidden_dims=[8]))
    inputs, nuisance = torch.randn(32, 2), torch.randn(32, 1)
    if side == "x":
        inputs[3] = float("nan")
    else:
        nuisance[3] = float("nan")
    before = [p.detach().clone() for p in mi_loss.parameters()]
    with mi_loss.attach(model):
        model(inputs)
        origin = "module '0'" if side == "x" else "the tensor passed at call time"
        with pytest.raises(ValueError, match=f"the {side} features from {origin} contain NaN"):
            mi_loss(y=nuisance)
    assert all(torch.equal(a, b) for a, b in zip(before, mi_loss.parameters()))
