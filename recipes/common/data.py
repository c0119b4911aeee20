r"""Image datasets held in memory on the training device, and the batches of a step.

Datasets (``--data``):

* ``digits`` (the default; nothing to download): scikit-learn's bundled handwritten
  digits, 1,797 grey 8x8 images of 10 classes, scaled to ``image_size`` with bilinear
  interpolation and split 70/30 into training and test samples, stratified by class,
  with a fixed seed.
* ``cifar10``, ``cifar100`` (32x32 colour, 50,000 + 10,000 images) and ``stl10`` (96x96
  colour, the 5,000 labelled training and 8,000 test images), read with torchvision from
  ``--data-dir``; ``--download`` fetches them first (a network connection is needed).

Images are stored as ``uint8`` tensors ``[N, C, H, W]`` on the device, so a training step
costs one indexing operation: no worker processes, no host-to-device copies.
:class:`StepBatches` decides which samples form the batch of a step as a pure function of
the seed and the step number, which makes resuming exact and makes a run on ``N``
processes see the same global batches as a run on one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DATASETS", "ImageData", "load_images", "load_images_rank0_first", "load_digits", "StepBatches", "step_seed"]

DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "stl10")


@dataclass
class ImageData:
    r"""A labelled image dataset split into training and test samples.

    Attributes:
        name: The dataset's name.
        train_images, test_images: ``uint8`` tensors ``[N, C, H, W]``.
        train_labels, test_labels: ``int64`` class indices ``[N]``.
        num_classes: The number of classes.
        mean, std: Per-channel statistics of the training images (in ``[0, 1]`` units).
    """

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    mean: Tensor
    std: Tensor

    @property
    def channels(self) -> int:
        return int(self.train_images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    def to(self, device: torch.device) -> ImageData:
        r"""The same data on ``device``."""
        return replace(
            self,
            **{
                k: getattr(self, k).to(device)
                for k in ("train_images", "train_labels", "test_images", "test_labels", "mean", "std")
            },
        )

    def normalize(self, images: Tensor) -> Tensor:
        r"""``uint8`` (or ``[0, 1]`` float) images to standardised float32."""
        if images.dtype == torch.uint8:
            images = images.float() / 255
        return (images - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)


def _channel_stats(images: Tensor) -> tuple[Tensor, Tensor]:
    values = images.float() / 255
    return values.mean((0, 2, 3)), values.std((0, 2, 3)).clamp_min(1e-3)


def _stratified_split(labels: Tensor, test_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def load_digits(image_size: int = 16, test_fraction: float = 0.3, seed: int = 0) -> ImageData:
    r"""scikit-learn's digits as :class:`ImageData`: 1-channel ``image_size`` images."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:  # pragma: no cover - scikit-learn is in the recipes extra
        raise ImportError("the digits dataset needs scikit-learn: pip install -e '.[recipes]'") from error
    bunch = sklearn_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # values 0..16
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    train, test = _stratified_split(labels, test_fraction, seed)
    mean, std = _channel_stats(images[train])
    return ImageData("digits", images[train], labels[train], images[test], labels[test], 10, mean, std)


def _torchvision_dataset(name: str, data_dir: Path, download: bool) -> ImageData:
    import torchvision

    data_dir = Path(data_dir)
    splits = {}
    try:
        if name in ("cifar10", "cifar100"):
            cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
            for split, train in (("train", True), ("test", False)):
                ds = cls(str(data_dir), train=train, download=download)
                splits[split] = (torch.as_tensor(ds.data).permute(0, 3, 1, 2).contiguous(), torch.as_tensor(ds.targets))
            num_classes = 10 if name == "cifar10" else 100
        else:
            for split in ("train", "test"):
                ds = torchvision.datasets.STL10(str(data_dir), split=split, download=download)
                splits[split] = (torch.as_tensor(ds.data), torch.as_tensor(ds.labels).long())
            num_classes = 10
    except RuntimeError:
        if download:
            raise
        raise FileNotFoundError(
            f"dataset {name!r} was not found under --data-dir {data_dir.resolve()}; "
            "pass --download to fetch it (needs a network connection) or point --data-dir at a copy"
        ) from None
    mean, std = _channel_stats(splits["train"][0])
    return ImageData(name, *splits["train"], *splits["test"], num_classes, mean, std)


def load_images(
    name: str, data_dir: str | Path = "data", download: bool = False, image_size: int | None = None
) -> ImageData:
    r"""Loads dataset ``name`` (see the module documentation) on the CPU.

    ``image_size`` resizes the images (digits are scaled from 8x8 to 16x16 by default;
    the others keep their size unless it is given).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid choices: {', '.join(DATASETS)}")
    if name == "digits":
        return load_digits(16 if image_size is None else image_size)
    data = _torchvision_dataset(name, Path(data_dir), download)
    if image_size is not None and image_size != data.image_size:
        resize = lambda t: (
            F.interpolate(t.float(), size=(image_size, image_size), mode="bilinear", antialias=True)
            .round()
            .clamp(0, 255)
            .to(torch.uint8)
        )  # noqa: E731
        data = replace(data, train_images=resize(data.train_images), test_images=resize(data.test_images))
    return data


def load_images_rank0_first(
    name: str,
    data_dir: str | Path = "data",
    download: bool = False,
    image_size: int | None = None,
    is_main: bool = True,
) -> ImageData:
    r""":func:`load_images` for every rank of a ``torchrun`` job: with ``download``, rank 0
    loads (and downloads) first while the other ranks wait at a barrier, then they read
    what it fetched without downloading, so that no two processes write ``data_dir`` at
    once. The same as :func:`load_images` in a single process."""
    from .distributed import barrier  # imported here: distributed is not needed to read data

    if not download:
        return load_images(name, data_dir, False, image_size)
    data, error = None, None
    if is_main:
        try:
            data = load_images(name, data_dir, True, image_size)
        except Exception as caught:  # release the other ranks before failing
            error = caught
    barrier()
    if error is not None:
        raise error
    return data if data is not None else load_images(name, data_dir, False, image_size)


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    r"""A seed for the random draws of ``step`` (and of an independent ``stream``) that
    depends on nothing else, so a resumed run draws what an uninterrupted run drew."""
    return (seed * 1_000_003 + step * 7_919 + stream * 104_729) % (2**63 - 1)


class StepBatches:
    r"""The sample indices of every training step, as a pure function of ``(seed, step)``.

    Each epoch is a fresh permutation of the ``num_samples`` indices (seeded by the epoch),
    cut into ``steps_per_epoch`` global batches of ``batch_size`` (the rest dropped).
    Rank ``r`` of ``world_size`` takes rows ``[r * b, (r + 1) * b)`` of the global batch,
    ``b = batch_size / world_size``.

    The permutation is drawn on the CPU with a seeded generator (the same on every device)
    and moved to ``device`` once per epoch, so that :meth:`indices` returns indices on the
    training device without a host-to-device copy per step.

    Example:
        >>> batches = StepBatches(num_samples=10, batch_size=4, seed=0)
        >>> batches.steps_per_epoch, batches.indices(0).shape
        (2, torch.Size([4]))
        >>> torch.equal(batches.indices(3), StepBatches(10, 4, seed=0).indices(3))
        True
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
    ) -> None:
        if batch_size > num_samples:
            raise ValueError(f"batch size {batch_size} exceeds the {num_samples} training samples")
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} must be divisible by the number of processes ({world_size})")
        self.num_samples, self.batch_size, self.seed = num_samples, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.device = torch.device(device)
        self.steps_per_epoch = num_samples // batch_size
        self._epoch, self._permutation = -1, torch.empty(0, dtype=torch.long, device=self.device)

    @property
    def local_rows(self) -> slice:
        r"""This rank's rows of a global batch."""
        local = self.batch_size // self.world_size
        return slice(self.rank * local, (self.rank + 1) * local)

    def global_indices(self, step: int) -> Tensor:
        r"""The indices of the whole global batch of ``step`` (``int64``, on ``device``)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(step_seed(self.seed, epoch, stream=1))
            permutation = torch.randperm(self.num_samples, generator=generator)  # on the CPU: the same on any device
            self._epoch, self._permutation = epoch, permutation.to(self.device)
        return self._permutation[position * self.batch_size : (position + 1) * self.batch_size]

    def indices(self, step: int) -> Tensor:
        r"""The indices of this rank's share of the batch of ``step``."""
        return self.global_indices(step)[self.local_rows]
