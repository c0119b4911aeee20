r"""The optimiser of the recipes (AdamW with a linear warm-up and a cosine decay) and the
ramp of penalty weights."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["build_optimizer", "ramped_weight"]


def build_optimizer(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, steps: int, warmup: float = 0.05
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    r"""AdamW and a schedule that rises linearly over ``warmup * steps`` steps, then decays
    to zero along a half cosine (call ``scheduler.step()`` after each optimiser step)."""
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction in [0, 1), got {warmup}")
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warmup_steps = max(1, int(warmup * steps))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def ramped_weight(weight: float, step: int, ramp_steps: float) -> float:
    r"""A penalty weight that rises linearly from 0 at step 0 to ``weight`` at
    ``ramp_steps`` (at once if ``ramp_steps <= 0``): the estimator of the penalty fits
    its first steps before the encoder feels it.

    Example:
        >>> ramped_weight(2.0, 5, 10), ramped_weight(2.0, 50, 10), ramped_weight(2.0, 0, 0)
        (1.0, 2.0, 2.0)
    """
    return weight * min(1.0, step / ramp_steps) if ramp_steps > 0 else weight
