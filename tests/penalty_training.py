"""Shared by the tests of minimising penalties: train a classifier with an optional
``MILoss`` penalty on an encoder named ``encoder``, then judge its frozen features on fresh
samples with a fresh probe (never with the penalty's own value)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mist_reg import LeakageReport, MILoss, attribute_leakage

Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
"""``(n, generator) -> (inputs, labels, attribute)``."""


def train_with_penalty(
    model: nn.Module,
    sample: Sampler,
    estimator: str,
    weight: float | None,
    steps: int,
    seed: int = 0,
    **miloss_kwargs,
) -> MILoss | None:
    """Adam at 1e-2 on batches of 128: cross-entropy plus ``MILoss(estimator, x="encoder",
    direction="minimize", weight=weight)`` called with the attribute (none when ``weight``
    is ``None``). Returns the penalty."""
    penalty = None
    if weight is not None:
        penalty = MILoss(estimator, x="encoder", direction="minimize", weight=weight, **miloss_kwargs)
        penalty.attach(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        inputs, labels, s = sample(128, generator)
        loss = nn.functional.cross_entropy(model(inputs), labels)
        if penalty is not None:
            loss = loss + penalty(y=s)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return penalty


def judge(model: nn.Module, sample: Sampler) -> tuple[float, LeakageReport]:
    """Task accuracy and a fresh probe's leakage report on 4,000 fresh samples."""
    inputs, labels, s = sample(4000, torch.Generator().manual_seed(99))
    with torch.no_grad():
        features = model.encoder(inputs)
        accuracy = float((model.head(features).argmax(1) == labels).float().mean())
    return accuracy, attribute_leakage(features, s)
