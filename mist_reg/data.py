r"""Input checks and data plumbing for the estimation pipeline.

Samples arrive as numpy arrays or tensors of shape ``[N, d]`` (``[N]`` is read as
``[N, 1]``; trailing dimensions ``[N, ...]`` are flattened), or as a
:class:`torch.utils.data.DataLoader` whose batches are ``(x, y)`` pairs or dictionaries
``{'x': x, 'y': y}``. Everything that is not usable raises an error naming the problem.

Example:
    >>> import numpy as np
    >>> dataset = SampleDataset(samples={'x': np.zeros((10, 2)), 'y': np.ones(10)})
    >>> len(dataset), dataset[0]['x'].shape, dataset[0]['y'].shape
    (10, torch.Size([2]), torch.Size([1]))
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "ArrayLike",
    "as_samples",
    "check_pair",
    "check_finite",
    "check_batch",
    "check_positive_int",
    "first_batch",
    "shape_mismatch",
    "WideCentring",
    "unpack_batch",
    "SampleDataset",
    "TensorBatches",
    "split_indices",
]

ArrayLike = Tensor | np.ndarray


_WIDE_DTYPES = tuple(
    getattr(torch, name) for name in ("float64", "int64", "int32", "uint32", "uint64") if hasattr(torch, name)
)
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
# the float32 cast keeps a column when its rounding error stays below this fraction of its spread
_ROUNDING_TOLERANCE = 1e-3


def as_samples(values: Any, name: str, centring: "WideCentring | None" = None) -> Tensor:
    r"""Converts ``values`` to a float32 ``[N, d]`` tensor, or raises an error naming ``name``.

    Integer and boolean inputs (labels, attributes) are converted to float; anything
    non-numeric, empty or non-finite is refused. float64 and 64-bit integer inputs whose
    information would not survive the cast to float32 (a large offset such as ``1e8 +
    noise``, integers above ``2**24``, values beyond float32's range) are refused with a
    message, unless a :class:`WideCentring` is given: it then centres and scales them in
    float64 before the cast (what :func:`mist_reg.estimate_mi` does, since mutual
    information does not change under such a map).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(100, 1)) + 1e8
        >>> as_samples(x, "x")
        Traceback (most recent call last):
        ...
        ValueError: x: column 0 (mean 1e+08, standard deviation 0.96) loses its spread when cast to float32; centre it first (x - x.mean(0)) or let estimate_mi do it
        >>> round(float(as_samples(x, "x", WideCentring()).std(correction=0)), 4)  # centred in float64, then cast
        1.0
    """
    if isinstance(values, Tensor):
        tensor = values.detach()
    elif isinstance(values, np.ndarray):
        if values.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got a numpy array of dtype {values.dtype}")
        if values.ndim == 0:
            raise ValueError(f"{name} must have shape [N] or [N, d], got a scalar")
        tensor = torch.from_numpy(np.ascontiguousarray(values))
    elif isinstance(values, (list, tuple)):
        try:
            array = np.asarray(values)
        except ValueError as error:
            raise ValueError(f"{name} is a ragged sequence and cannot form an array: {error}") from None
        return as_samples(array, name, centring)
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    if tensor.is_complex():
        raise TypeError(f"{name} must be real-valued, got dtype {tensor.dtype}")
    if tensor.dim() == 0:
        raise ValueError(f"{name} must have shape [N] or [N, d], got a scalar")
    if tensor.shape[0] == 0 or tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); at least one sample is needed")
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(1)
    elif tensor.dim() > 2:
        tensor = tensor.reshape(tensor.shape[0], -1)
    if tensor.dtype in _WIDE_DTYPES:
        wide = tensor.double()
        check_finite(wide, name)
        if centring is not None:
            return centring(wide, name)
        _check_narrowing(wide, name)
        return wide.float()
    if centring is not None and centring.active:
        return centring(tensor.double(), name)
    tensor = tensor.float() if tensor.dtype != torch.float32 else tensor
    check_finite(tensor, name)
    return tensor


def _column_stats(wide: Tensor) -> tuple[Tensor, Tensor]:
    mean = wide.mean(0)
    std = wide.std(0, correction=0) if wide.shape[0] > 1 else torch.zeros_like(mean)
    return mean, std


def _narrowing_losses(wide: Tensor) -> Tensor:
    """Per column: whether the float32 cast overflows or rounds away the spread of the values."""
    overflow = wide.abs().amax(0) > FLOAT32_MAX
    rounding = (wide - wide.float().double()).abs().amax(0)
    _, std = _column_stats(wide)
    return overflow | ((std > 0) & (rounding > _ROUNDING_TOLERANCE * std))


def _check_narrowing(wide: Tensor, name: str) -> None:
    lost = _narrowing_losses(wide)
    if not bool(lost.any()):
        return
    column = int(lost.nonzero()[0])
    values = wide[:, column]
    largest = float(values.abs().max())
    if largest > FLOAT32_MAX:
        raise ValueError(
            f"{name}: column {column} holds values of magnitude up to {largest:.3g}, beyond float32's range "
            f"({FLOAT32_MAX:.3g}); rescale it first (x / x.std(0)) or let estimate_mi do it"
        )
    mean, std = _column_stats(values[:, None])
    raise ValueError(
        f"{name}: column {column} (mean {float(mean):.3g}, standard deviation {float(std):.2g}) loses its spread "
        f"when cast to float32; centre it first (x - x.mean(0)) or let estimate_mi do it"
    )


class WideCentring:
    r"""Centres and scales float64 (or 64-bit integer) samples in float64 before the cast to
    float32, for the columns that the cast would otherwise ruin (an offset much larger
    than the spread, integers above ``2**24``, values beyond float32's range); other
    columns pass unchanged. The map is fitted on the first array it sees and applied as
    it is to the next ones (held-out samples of the same variable).

    Example:
        >>> import torch
        >>> centring = WideCentring()
        >>> train = as_samples(torch.arange(10, dtype=torch.int64) + 2**40, "x", centring)
        >>> test = as_samples(torch.tensor([2**40 + 3]), "x_test", centring)
        >>> abs(round(float(train.mean()), 4)), float(test[0, 0]) == float(train[3, 0])
        (0.0, True)
    """

    def __init__(self) -> None:
        self.shift: Tensor | None = None
        self.scale: Tensor | None = None

    @property
    def active(self) -> bool:
        """Whether the fitted map changes some column."""
        return self.shift is not None and bool((self.shift != 0).any() or (self.scale != 1).any())

    def __call__(self, wide: Tensor, name: str) -> Tensor:
        if self.shift is None:
            lost = _narrowing_losses(wide)
            mean, std = _column_stats(wide)
            self.shift = torch.where(lost, mean, torch.zeros_like(mean))
            self.scale = torch.where(lost & (std > 0), std, torch.ones_like(std))
        elif wide.shape[1] != self.shift.shape[0]:
            raise ValueError(f"{name} has {wide.shape[1]} features, but {self.shift.shape[0]} were centred before")
        narrowed = ((wide - self.shift) / self.scale).float()
        check_finite(narrowed, name)
        return narrowed


def check_finite(tensor: Tensor, name: str) -> None:
    r"""Raises ``ValueError`` naming ``name`` and the first bad row when ``tensor`` holds NaN or inf."""
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()
        kind = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
        raise ValueError(
            f"{name} contains {kind} values in {rows.numel()} sample(s), first at row {int(rows[0])}; "
            "drop or impute them first"
        )


def check_pair(x: Tensor, y: Tensor) -> None:
    r"""Raises ``ValueError`` when ``x`` and ``y`` do not hold the same number of samples."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}"
        )


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    r"""Returns ``value`` when it is an integer of at least ``minimum``, else raises ``ValueError`` naming ``name``.

    Example:
        >>> check_positive_int(0, "eval_every")
        Traceback (most recent call last):
        ...
        ValueError: eval_every must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def first_batch(loader: Any, name: str) -> tuple[Tensor, Tensor]:
    r"""The unpacked first batch of ``loader``, or a ``ValueError`` naming ``name`` when it yields none."""
    try:
        batch = next(iter(loader))
    except StopIteration:
        raise ValueError(f"{name} yields no batches (an empty dataset, or drop_last with fewer samples than a batch)") from None
    return unpack_batch(batch)


def check_batch(x: Tensor, y: Tensor, where: str) -> None:
    r"""Raises ``ValueError`` when a batch holds NaN or infinite values, naming ``where`` it
    came from (such as ``"batch 3 of the test loader"``) and the side.

    Example:
        >>> import torch
        >>> check_batch(torch.zeros(2, 1), torch.tensor([[0.0], [float('nan')]]), "batch 0 of the test loader")
        Traceback (most recent call last):
        ...
        ValueError: y of batch 0 of the test loader contains NaN values in 1 sample(s), first at row 1; drop or impute them first
    """
    for side, t in (("x", x), ("y", y)):
        if t.is_floating_point():
            check_finite(t, f"{side} of {where}")


_SHAPE_ERRORS = ("cannot be multiplied", "size mismatch", "must match the size", "shape '[", "Expected size")


def shape_mismatch(error: Exception, x: Tensor, y: Tensor) -> ValueError | None:
    r"""A ``ValueError`` in words for a shape error that an estimator raised on data of
    other dimensions than it was built for, or ``None`` when ``error`` is something else."""
    if not isinstance(error, RuntimeError) or not any(text in str(error) for text in _SHAPE_ERRORS):
        return None
    return ValueError(
        f"the estimator does not accept the data: x has {x.shape[1]} features and y has {y.shape[1]}; "
        f"build it with x_dim={x.shape[1]}, y_dim={y.shape[1]} (or pass its name instead of an instance). "
        f"PyTorch said: {str(error).splitlines()[0]}"
    )


def unpack_batch(batch: Any) -> tuple[Tensor, Tensor]:
    r"""The ``(x, y)`` of a data-loader batch given as a pair or as ``{'x': ..., 'y': ...}``,
    flattened to ``[batch_size, d]``."""
    if isinstance(batch, Mapping):
        missing = [k for k in ("x", "y") if k not in batch]
        if missing:
            raise ValueError(f"a batch dictionary must have keys 'x' and 'y'; missing {missing}, found {list(batch)}")
        x, y = batch["x"], batch["y"]
    elif isinstance(batch, (tuple, list)) and len(batch) == 2:
        x, y = batch
    else:
        raise TypeError(
            "data loader batches must be (x, y) pairs or dictionaries {'x': x, 'y': y}, "
            f"got {type(batch).__name__}"
        )
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"batch {name} must be a tensor, got {type(t).__name__}")
    x = x.reshape(x.shape[0], -1) if x.dim() != 2 else x
    y = y.reshape(y.shape[0], -1) if y.dim() != 2 else y
    check_pair(x, y)
    return (x if x.is_floating_point() else x.float()), (y if y.is_floating_point() else y.float())


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
