r"""Data plumbing for the estimation pipeline: batches of data loaders, datasets of named
samples, in-memory minibatches and held-out splits.

Samples arrive as numpy arrays or tensors of shape ``[N, d]`` (``[N]`` is read as
``[N, 1]``; trailing dimensions ``[N, ...]`` are flattened), or as a
:class:`torch.utils.data.DataLoader` whose batches are ``(x, y)`` pairs or dictionaries
``{'x': x, 'y': y}``. Which inputs are accepted is decided in :mod:`mist_reg.checks`.

Example:
    >>> import numpy as np
    >>> dataset = SampleDataset(samples={'x': np.zeros((10, 2)), 'y': np.ones(10)})
    >>> len(dataset), dataset[0]['x'].shape, dataset[0]['y'].shape
    (10, torch.Size([2]), torch.Size([1]))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from mist_reg.checks import ArrayLike, as_samples, check_pair

__all__ = [
    "first_batch",
    "unpack_batch",
    "samples_for",
    "SampleDataset",
    "TensorBatches",
    "split_indices",
    "is_data_loader",
]


def first_batch(loader: Any, name: str) -> tuple[Tensor, Tensor]:
    r"""The unpacked first batch of ``loader``, or a ``ValueError`` naming ``name`` when it yields none."""
    try:
        batch = next(iter(loader))
    except StopIteration:
        raise ValueError(
            f"{name} yields no batches (an empty dataset, or drop_last with fewer samples than a batch)"
        ) from None
    return unpack_batch(batch)


def unpack_batch(batch: Any, labels: bool = False) -> tuple[Tensor, Tensor]:
    r"""The ``(x, y)`` of a data-loader batch given as a pair or as ``{'x': ..., 'y': ...}``,
    flattened to ``[batch_size, d]``, as floats; with ``labels``, an integer ``y`` stays
    class indices (for estimators that model labels: ``accepts_class_labels``)."""
    if isinstance(batch, Mapping):
        missing = [k for k in ("x", "y") if k not in batch]
        if missing:
            raise ValueError(f"a batch dictionary must have keys 'x' and 'y'; missing {missing}, found {list(batch)}")
        x, y = batch["x"], batch["y"]
    elif isinstance(batch, (tuple, list)) and len(batch) == 2:
        x, y = batch
    else:
        raise TypeError(
            f"data loader batches must be (x, y) pairs or dictionaries {{'x': x, 'y': y}}, got {type(batch).__name__}"
        )
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"batch {name} must be a tensor, got {type(t).__name__}")
    x = x.reshape(x.shape[0], -1) if x.dim() != 2 else x
    y = y.reshape(y.shape[0], -1) if y.dim() != 2 else y
    check_pair(x, y)
    keep = y.is_floating_point() or (labels and y.dtype == torch.int64)
    return (x if x.is_floating_point() else x.float()), (y if keep else y.float())


def samples_for(values: Any, name: str, labels: bool = False) -> Tensor:
    r"""In-memory samples as :func:`mist_reg.checks.as_samples` gives them, except that int64
    class indices stay int64 ``[N, 1]`` when ``labels`` (an estimator that models labels).

    Example:
        >>> samples_for(torch.tensor([0, 2, 1]), "y", labels=True).T
        tensor([[0, 2, 1]])
        >>> samples_for(torch.tensor([0, 2, 1]), "y").dtype
        torch.float32
    """
    checked = as_samples(values, name)
    if labels and isinstance(values, Tensor) and values.dtype == torch.int64 and checked.shape[1] == 1:
        return values.reshape(-1, 1)
    return checked


class SampleDataset(Dataset):
    r"""A :class:`~torch.utils.data.Dataset` over named arrays of samples of equal length.

    Arguments:
        samples: A mapping from names (``'x'``, ``'y'``, ...) to arrays or tensors ``[N, ...]``.

    Example:
        >>> import torch
        >>> dataset = SampleDataset(samples={'x': torch.randn(8, 3), 'y': torch.randn(8, 2)})
        >>> sorted(dataset[3])
        ['x', 'y']
    """

    def __init__(self, samples: Mapping[str, ArrayLike]) -> None:
        if not isinstance(samples, Mapping) or not samples:
            raise ValueError("samples must be a non-empty dictionary such as {'x': x, 'y': y}")
        self.samples = {name: as_samples(values, name) for name, values in samples.items()}
        lengths = {name: t.shape[0] for name, t in self.samples.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"every entry of samples must hold the same number of samples, got {lengths}")
        self._length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {name: t[index] for name, t in self.samples.items()}


class TensorBatches:
    r"""Shuffled minibatches of in-memory tensors, without the per-item overhead of a
    :class:`~torch.utils.data.DataLoader`. Iterating yields ``(x, y)`` pairs.

    Without ``drop_last``, a last batch of a single sample is merged into the one before
    it (a single sample has no negatives to be compared with)."""

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        check_pair(x, y)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = generator

    def _bounds(self) -> list[int]:
        n, size = self.x.shape[0], self.batch_size
        stop = n - n % size if self.drop_last else n
        bounds = list(range(0, stop, size)) + [stop]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
            del bounds[-2]
        return bounds

    def __len__(self) -> int:
        return len(self._bounds()) - 1

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.shuffle:
            order = torch.randperm(self.x.shape[0], generator=self.generator).to(self.x.device)
            x, y = self.x[order], self.y[order]
        else:
            x, y = self.x, self.y
        bounds = self._bounds()
        for start, stop in zip(bounds[:-1], bounds[1:]):
            yield x[start:stop], y[start:stop]


def split_indices(n: int, fraction: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""A random split of ``range(n)`` into ``(rest, held_out)`` with ``round(fraction * n)``
    held-out indices (at least one when ``fraction > 0``)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"a held-out fraction must lie in [0, 1), got {fraction}")
    k = 0 if fraction == 0 else max(1, round(fraction * n))
    if n - k < 2:
        raise ValueError(f"holding out {fraction:.0%} of {n} samples leaves too few to train on")
    order = torch.randperm(n, generator=generator)
    return order[k:], order[:k]


def is_data_loader(value: Any) -> bool:
    r"""Whether ``value`` is an iterable of batches rather than an array of samples."""
    return isinstance(value, (DataLoader, TensorBatches))
