r"""Batched image augmentations on the training device, for contrastive views.

Every transform draws its random parameters for a whole *global* batch from a
:class:`torch.Generator` and applies the rows of this process (``rows``), so a sample is
augmented the same way whatever the number of processes, and a resumed run draws what
an uninterrupted one drew (the recipes seed the generator from the step number).

:class:`Augment` composes, in order: a random resized crop with optional rotation and
horizontal flip (one affine resampling, :func:`torch.nn.functional.grid_sample`),
brightness / contrast / saturation jitter, random greyscale, and additive Gaussian noise.
Images are float ``[n, C, H, W]`` in ``[0, 1]``; the output stays in ``[0, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Augment", "AUGMENT_PRESETS", "augment_preset"]


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device: torch.device) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _grey(images: Tensor) -> Tensor:
    if images.shape[1] == 1:
        return images
    weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


@dataclass(frozen=True)
class Augment:
    r"""A random view of each image of a batch.

    Arguments:
        scale: Range of the crop's area as a fraction of the image.
        ratio: Range of the crop's aspect ratio (sampled log-uniformly).
        rotation: Maximal rotation in degrees (uniform in ``[-rotation, rotation]``).
        flip: Probability of a horizontal flip (0 for digits and text).
        brightness, contrast, saturation: Jitter strengths: factors uniform in
            ``[1 - s, 1 + s]`` (saturation applies to colour images only).
        jitter_p: Probability of applying the colour jitter to an image.
        grayscale_p: Probability of turning a colour image grey.
        noise: Standard deviation of additive Gaussian noise.

    Example:
        >>> aug = Augment(rotation=10.0)
        >>> g = torch.Generator().manual_seed(0)
        >>> views = aug(torch.rand(8, 1, 16, 16), g)
        >>> views.shape, bool(views.min() >= 0 and views.max() <= 1)
        (torch.Size([8, 1, 16, 16]), True)
    """

    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    rotation: float = 0.0
    flip: float = 0.5
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    noise: float = 0.0

    def __call__(
        self, images: Tensor, generator: torch.Generator, rows: slice | None = None, total: int | None = None
    ) -> Tensor:
        r"""Augments ``images`` (this process's ``rows`` of a global batch of ``total``
        images; by default the whole batch)."""
        n = images.shape[0]
        total = n if total is None else total
        rows = slice(0, n) if rows is None else rows
        images = self._affine(images, generator, rows, total)
        images = self._colour(images, generator, rows, total)
        if self.noise > 0:
            noise = torch.randn((total, *images.shape[1:]), generator=generator, device=images.device)[rows]
            images = images + self.noise * noise
        return images.clamp(0, 1)

    def _affine(self, images: Tensor, generator: torch.Generator, rows: slice, total: int) -> Tensor:
        device = images.device
        area = _uniform(total, *self.scale, generator, device)
        log_ratio = _uniform(total, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, device)
        aspect = log_ratio.exp()
        # crop width and height as fractions of the image, clipped to fit
        width = (area * aspect).sqrt().clamp(max=1.0)
        height = (area / aspect).sqrt().clamp(max=1.0)
        # crop centre, uniform over positions where the crop fits (grid units: [-1, 1])
        cx = (1 - width) * (2 * torch.rand(total, generator=generator, device=device) - 1)
        cy = (1 - height) * (2 * torch.rand(total, generator=generator, device=device) - 1)
        angle = torch.deg2rad(_uniform(total, -self.rotation, self.rotation, generator, device))
        flip = torch.where(torch.rand(total, generator=generator, device=device) < self.flip, -1.0, 1.0)
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack(
            [
                torch.stack([width * cos * flip, -height * sin, cx], -1),
                torch.stack([width * sin * flip, height * cos, cy], -1),
            ],
            1,
        )[rows]
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def _colour(self, images: Tensor, generator: torch.Generator, rows: slice, total: int) -> Tensor:
        device, shape = images.device, (-1, 1, 1, 1)
        apply = (torch.rand(total, generator=generator, device=device) < self.jitter_p)[rows].view(shape)
        b = _uniform(total, 1 - self.brightness, 1 + self.brightness, generator, device)[rows].view(shape)
        c = _uniform(total, 1 - self.contrast, 1 + self.contrast, generator, device)[rows].view(shape)
        s = _uniform(total, 1 - self.saturation, 1 + self.saturation, generator, device)[rows].view(shape)
        grey_p = (torch.rand(total, generator=generator, device=device) < self.grayscale_p)[rows].view(shape)
        jittered = (images * b).clamp(0, 1)
        mean = _grey(jittered).mean((1, 2, 3), keepdim=True)
        jittered = ((jittered - mean) * c + mean).clamp(0, 1)
        if images.shape[1] == 3:
            grey = _grey(jittered)
            jittered = ((jittered - grey) * s + grey).clamp(0, 1)
        images = torch.where(apply, jittered, images)
        if images.shape[1] == 3:
            images = torch.where(grey_p, _grey(images).expand_as(images), images)
        return images


AUGMENT_PRESETS: dict[str, Augment] = {
    # small grey digits: no flips (a mirrored 2 is not a 2), mild crops, rotations and noise
    "digits": Augment(
        scale=(0.5, 1.0),
        rotation=15.0,
        flip=0.0,
        brightness=0.4,
        contrast=0.4,
        saturation=0.0,
        grayscale_p=0.0,
        noise=0.05,
    ),
    # natural colour images (SimCLR's choices, without blur at low resolution)
    "natural": Augment(
        scale=(0.2, 1.0), flip=0.5, brightness=0.4, contrast=0.4, saturation=0.4, jitter_p=0.8, grayscale_p=0.2
    ),
}


def augment_preset(dataset: str) -> Augment:
    r"""The augmentation preset of a dataset (``digits``; ``natural`` for the others)."""
    return AUGMENT_PRESETS["digits" if dataset == "digits" else "natural"]
