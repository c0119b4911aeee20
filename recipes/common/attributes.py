r"""A binary sensitive attribute made visible in images, correlated with the label.

:func:`add_tint` gives every image an attribute ``s`` in ``{0, 1}`` and colours the image
with it: ``s = 0`` multiplies the RGB channels by ``(1.0, 0.55, 0.55)`` (a red tint) and
``s = 1`` by ``(0.55, 0.55, 1.0)`` (a blue tint); grey images are first repeated to three
channels. The attribute follows the label at a stated rate: with ``K`` classes, the
labels ``>= K / 2`` form the "high" group, and

    P(s = 1 | label high) = P(s = 0 | label low) = rate,

so ``rate = 0.5`` makes ``s`` independent of the label and ``rate = 1`` makes it a
function of it. A classifier trained for the label sees the tint, and without a penalty
its features tell ``s`` almost perfectly; an encoder that keeps the label but forgets the
tint can still predict ``s`` with accuracy ``rate`` through the label (for a balanced
dataset), which is the floor a fairness penalty can reach without losing task accuracy.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from .data import ImageData

__all__ = ["TINTS", "add_tint", "tint_images"]

TINTS = torch.tensor([[1.0, 0.55, 0.55], [0.55, 0.55, 1.0]])
r"""RGB factors of the two attribute values."""


def tint_images(images: Tensor, attributes: Tensor) -> Tensor:
    r"""``uint8`` images ``[N, C, H, W]`` (``C`` 1 or 3) coloured by ``attributes`` ``[N]``."""
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    factors = TINTS.to(images.device)[attributes].view(-1, 3, 1, 1)
    return (images.float() * factors).round().clamp(0, 255).to(torch.uint8)


def _draw(labels: Tensor, num_classes: int, rate: float, generator: torch.Generator) -> Tensor:
    high = labels >= num_classes / 2
    agree = torch.rand(len(labels), generator=generator) < rate
    return torch.where(agree, high, ~high).long()


def add_tint(data: ImageData, rate: float = 0.8, seed: int = 0) -> tuple[ImageData, Tensor, Tensor]:
    r"""Tinted copies of the images of ``data`` and the attributes of the training and test
    samples (see the module documentation).

    Example:
        >>> from recipes.common.data import load_digits
        >>> data, s_train, s_test = add_tint(load_digits(8), rate=0.8)
        >>> data.channels, s_train.dtype, round(float((s_train == (data.train_labels >= 5)).float().mean()), 1)
        (3, torch.int64, 0.8)
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    generator = torch.Generator().manual_seed(seed)
    s_train = _draw(data.train_labels.cpu(), data.num_classes, rate, generator)
    s_test = _draw(data.test_labels.cpu(), data.num_classes, rate, generator)
    train = tint_images(data.train_images.cpu(), s_train)
    test = tint_images(data.test_images.cpu(), s_test)
    values = train.float() / 255
    mean, std = values.mean((0, 2, 3)), values.std((0, 2, 3)).clamp_min(1e-3)
    return replace(data, train_images=train, test_images=test, mean=mean, std=std), s_train, s_test
