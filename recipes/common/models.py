r"""Encoders by name, built without downloading weights, and small heads.

:func:`build_backbone` returns a module mapping images ``[N, C, H, W]`` to features
``[N, d]`` and ``d``. Names:

* built in: ``cnn`` (four 3x3 convolutions with GroupNorm, global average pooling: fast on a
  CPU, and free of batch statistics, so a run on several processes computes exactly what
  one process computes) and ``mlp`` (two hidden layers on the flattened image);
* any timm model (``resnet18``, ``vit_tiny_patch16_224``, ...; ``timm/NAME`` to be explicit),
  built with ``timm.create_model(NAME, pretrained=False, num_classes=0, in_chans=C)``;
* any torchvision classification model as ``torchvision/NAME``, built with
  ``weights=None`` and its classifier replaced by an identity.

For small images (``image_size <= 64``) ResNet-style stems are adapted as in CIFAR
experiments: the 7x7 stride-2 convolution becomes a 3x3 stride-1 one and the stem's
max pooling is removed. timm models that take an input size (ViTs) are built with
``img_size`` set to the data's size.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = [
    "BUILTIN_BACKBONES",
    "NORMS",
    "backbone_name",
    "build_backbone",
    "mlp_head",
    "initialisation",
    "SmallCNN",
    "MLPEncoder",
]

BUILTIN_BACKBONES: tuple[str, ...] = ("cnn", "mlp")


class SmallCNN(nn.Module):
    r"""Four 3x3 convolutions (the 2nd and 3rd with stride 2), GroupNorm and ReLU, then global
    average pooling: ``[N, C, H, W] -> [N, 4 * width]``."""

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        previous = in_channels
        for i, w in enumerate(widths):
            layers += [
                nn.Conv2d(previous, w, 3, stride=2 if i in (1, 2) else 1, padding=1, bias=False),
                nn.GroupNorm(math.gcd(8, w), w),
                nn.ReLU(inplace=True),
            ]
            previous = w
        self.features = nn.Sequential(*layers)
        self.num_features = widths[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images).mean((2, 3))


class MLPEncoder(nn.Module):
    r"""Two hidden layers on the flattened image: ``[N, C, H, W] -> [N, width]``."""

    def __init__(self, in_features: int, width: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, width),
            nn.ReLU(inplace=True),
            nn.Linear(width, width),
            nn.ReLU(inplace=True),
        )
        self.num_features = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def _adapt_stem(model: nn.Module, in_channels: int) -> None:
    r"""CIFAR-style stem for ResNet-like models (``conv1`` and ``maxpool`` attributes)."""
    conv = getattr(model, "conv1", None)
    if isinstance(conv, nn.Conv2d) and conv.kernel_size[0] > 3:
        model.conv1 = nn.Conv2d(in_channels, conv.out_channels, 3, stride=1, padding=1, bias=conv.bias is not None)
    if isinstance(getattr(model, "maxpool", None), nn.MaxPool2d):
        model.maxpool = nn.Identity()


def _torchvision_model(name: str, in_channels: int) -> nn.Module:
    import torchvision

    backbone_name(f"torchvision/{name}")
    model = torchvision.models.get_model(name, weights=None)
    for attribute in ("fc", "classifier", "head", "heads"):
        if hasattr(model, attribute):
            setattr(model, attribute, nn.Identity())
            break
    if in_channels != 3:
        conv = getattr(model, "conv1", None)
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(
                f"torchvision/{name} expects 3 input channels; repeat grey images or use a timm model (in_chans)"
            )
        model.conv1 = nn.Conv2d(
            in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None
        )
    return model


def _feature_dim(model: nn.Module, in_channels: int, image_size: int) -> int:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(2, in_channels, image_size, image_size))
    model.train(was_training)
    if out.dim() != 2:
        raise ValueError(f"the backbone returns features of shape {tuple(out.shape)}; expected [N, d]")
    return int(out.shape[1])


def backbone_name(name: str) -> None:
    r"""Raises a ``ValueError`` unless ``name`` names an encoder :func:`build_backbone` can build
    (checked before a recipe writes anything; nothing is built).

    Example:
        >>> backbone_name("cnn")
        >>> backbone_name("bogus")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'bogus' is not an encoder; valid choices: cnn, mlp, any timm model name ...
    """
    if name in BUILTIN_BACKBONES:
        return
    if name.startswith("torchvision/"):
        import torchvision

        available = torchvision.models.list_models(module=torchvision.models)
        if name.split("/", 1)[1] not in available:
            raise ValueError(
                f"{name!r} is not a torchvision model; valid names include: {', '.join(sorted(available)[:30])}, ..."
            )
        return
    try:
        import timm
    except ImportError:
        raise ValueError(
            f"{name!r} is not an encoder: not {', '.join(BUILTIN_BACKBONES)} nor torchvision/NAME, and timm, which "
            "would build other names, is not installed"
        ) from None
    if not timm.is_model(name.split("/", 1)[1] if name.startswith("timm/") else name):
        raise ValueError(
            f"{name!r} is not an encoder; valid choices: {', '.join(BUILTIN_BACKBONES)}, any timm model name "
            f"(e.g. resnet18, see timm.list_models()) or torchvision/NAME (e.g. torchvision/resnet18)"
        )


def build_backbone(
    name: str, in_channels: int, image_size: int, width: int = 32, **kwargs: Any
) -> tuple[nn.Module, int]:
    r"""The encoder named ``name`` (see the module documentation) and its feature width.

    Example:
        >>> backbone, dim = build_backbone("cnn", in_channels=1, image_size=16, width=8)
        >>> backbone(torch.zeros(4, 1, 16, 16)).shape, dim
        (torch.Size([4, 32]), 32)
    """
    small = image_size <= 64
    if name == "cnn":
        model: nn.Module = SmallCNN(in_channels, width)
    elif name == "mlp":
        model = MLPEncoder(in_channels * image_size * image_size, 8 * width)
    elif name.startswith("torchvision/"):
        model = _torchvision_model(name.split("/", 1)[1], in_channels)
        if small:
            _adapt_stem(model, in_channels)
    else:
        import timm

        backbone_name(name)
        timm_name = name.split("/", 1)[1] if name.startswith("timm/") else name
        common = dict(pretrained=False, num_classes=0, in_chans=in_channels, **kwargs)
        try:  # models with a fixed input size (ViTs) take it as img_size; others reject it
            model = timm.create_model(timm_name, img_size=image_size, **common)
        except TypeError:
            model = timm.create_model(timm_name, **common)
        if small:
            _adapt_stem(model, in_channels)
    return model, _feature_dim(model, in_channels, image_size)


NORMS: tuple[str, ...] = ("batch", "layer", "none")


def mlp_head(in_dim: int, hidden_dim: int, out_dim: int, norm: str = "none") -> nn.Sequential:
    r"""``Linear -> norm -> ReLU -> Linear``: a projection or prediction head. ``norm`` is
    ``"batch"`` (BatchNorm: batch statistics, SyncBatchNorm under DDP on CUDA), ``"layer"``
    (LayerNorm: per sample, so any number of processes computes the same) or ``"none"``."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid choices: {', '.join(NORMS)}")
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim)]
    if norm == "batch":
        layers.append(nn.BatchNorm1d(hidden_dim))
    elif norm == "layer":
        layers.append(nn.LayerNorm(hidden_dim))
    layers += [nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim)]
    return nn.Sequential(*layers)


@contextlib.contextmanager
def initialisation(seed: int) -> Iterator[None]:
    r"""Builds modules inside from the global generator seeded with ``seed``, leaving the
    global random state as it was: the same seed gives the same initial weights, whatever
    ran before (models of a sweep start alike; a random-init reference is rebuilt)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
