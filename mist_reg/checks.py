r"""Input checks: the one place where mist_reg decides which inputs it accepts, and says
in words what is wrong with the others.

* **Samples** (:func:`as_samples`): what a user hands to :func:`mist_reg.estimate_mi`,
  :func:`~mist_reg.functional.knn.ksg_mi` or the command line, made a float32 ``[N, d]``
  tensor, with non-finite values refused (the first bad row named).
* **Batches** (:func:`check_inputs`): what an estimator receives on every step: shapes,
  dtypes and devices only, no value is inspected.

Both share :func:`check_pair` and :func:`check_finite`, so a problem reads the same
wherever it is found (the rules in full: ``docs/architecture.md``, "Input checks").

Example:
    >>> import torch
    >>> as_samples([[1, 2], [3, 4]], "x")
    tensor([[1., 2.],
            [3., 4.]])
    >>> as_samples(torch.tensor([0.0, float("nan")]), "y")
    Traceback (most recent call last):
    ...
    ValueError: y contains NaN values in 1 sample(s), first at row 1; drop or impute them first
    >>> check_inputs(torch.zeros(4, 2), torch.zeros(4))
    Traceback (most recent call last):
    ...
    ValueError: y must have shape [N, y_dim], got (4,); flatten the features first
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ArrayLike",
    "as_samples",
    "WideCentring",
    "power_of_two_scale",
    "scaled_moments",
    "check_finite",
    "check_has_values",
    "check_pair",
    "check_inputs",
    "check_batch",
    "check_positive_int",
    "shape_mismatch",
]

ArrayLike = Tensor | np.ndarray

_WIDE_DTYPES = tuple(
    getattr(torch, name) for name in ("float64", "int64", "int32", "uint32", "uint64") if hasattr(torch, name)
)
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
# the float32 cast keeps a column when its rounding error stays below this fraction of its spread
_ROUNDING_TOLERANCE = 1e-3


# -- samples --------------------------------------------------------------------------


def as_samples(
    values: Any, name: str, centring: WideCentring | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Converts ``values`` to a ``[N, d]`` tensor of ``dtype`` (float32 or float64), or
    raises an error naming ``name`` (the rules in full: ``docs/architecture.md``).

    Integer and boolean inputs (labels, attributes) are converted to float; anything
    non-numeric, empty or non-finite is refused. When the result is float32,
    float64 and 64-bit integer inputs whose information would not survive the cast (a large offset such as ``1e8 +
    noise``, integers above ``2**24``, values beyond float32's range) are refused with a
    message, unless a :class:`WideCentring` is given: it then centres and scales them in
    float64 before the cast (what :func:`mist_reg.estimate_mi` does, since mutual
    information does not change under such a map). ``dtype=torch.float64`` (what
    :func:`mist_reg.functional.knn.ksg_mi` asks for) casts nothing away and needs no centring.

    Arguments:
        values: A tensor, numpy array or (nested) list of numbers, ``[N]`` or ``[N, ...]``.
        name: What the error messages call the input (``"x"``).
        centring: Centres and scales wide float64 columns before the cast, or ``None``.
        dtype: ``torch.float32`` or ``torch.float64``.

    Returns:
        A ``[N, d]`` tensor of ``dtype`` on the device of ``values``.

    Raises:
        TypeError: For non-numeric or complex values.
        ValueError: For scalar, empty or non-finite values, or float64 values the cast would ruin.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(100, 1)) + 1e8
        >>> as_samples(x, "x")
        Traceback (most recent call last):
        ...
        ValueError: x: column 0 (mean 1e+08, standard deviation 0.96) loses its spread when cast to float32; centre it first (x - x.mean(0)) or let estimate_mi do it
        >>> round(float(as_samples(x, "x", WideCentring()).std(correction=0)), 4)  # centred in float64, then cast
        1.0
        >>> as_samples(x, "x", dtype=torch.float64).dtype  # no cast, nothing lost
        torch.float64
    """
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"as_samples converts to torch.float32 or torch.float64, not {dtype}")
    if centring is not None and dtype != torch.float32:
        raise ValueError("a WideCentring prepares the cast to float32; float64 samples need none")
    if isinstance(values, Tensor):
        tensor = values.detach()
    elif isinstance(values, np.ndarray):
        if values.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got a numpy array of dtype {values.dtype}")
        if values.ndim == 0:
            raise ValueError(f"{name} must have shape [N] or [N, d], got a scalar")
        values = np.ascontiguousarray(values)
        tensor = torch.from_numpy(values if values.flags.writeable else values.copy())  # a read-only view (pandas)
    elif isinstance(values, (list, tuple)):
        try:
            array = np.asarray(values)
        except ValueError as error:
            raise ValueError(f"{name} is a ragged sequence and cannot form an array: {error}") from None
        return as_samples(array, name, centring, dtype)
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    check_has_values(tensor, name)
    if tensor.is_complex():
        raise TypeError(f"{name} must be real-valued, got dtype {tensor.dtype}")
    if tensor.dim() == 0:
        raise ValueError(f"{name} must have shape [N] or [N, d], got a scalar")
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}); at least one sample is needed")
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)}): its samples have no features")
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(1)
    elif tensor.dim() > 2:
        tensor = tensor.reshape(tensor.shape[0], -1)
    if dtype == torch.float64:
        wide = tensor.double()
        check_finite(wide, name)
        return wide
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


def power_of_two_scale(x: Tensor) -> Tensor:
    r"""Per column of ``[N, d]`` samples, the power of two ``2^(e - 1)`` just below its largest
    magnitude ``m = f 2^e`` (``f`` in ``[0.5, 1)``; ``0.5`` for a column of zeros).

    Dividing by a power of two is exact, and it brings every column within ``[-2, 2]``:
    moments computed after it cannot overflow or underflow, where the squares of raw values
    above ``~1e154`` (float64) or ``~1e19`` (float32) are infinite and those below
    ``~1e-154`` vanish. The scale itself is always finite and positive.

    Arguments:
        x: ``[N, d]`` floating-point samples.

    Returns:
        ``[d]`` powers of two, of the dtype of ``x``.

    Example:
        >>> power_of_two_scale(torch.tensor([[3.0, -1e-30], [1.0, 0.0]], dtype=torch.float64)).tolist() == [2.0, 2.0**-100]
        True
    """
    _, exponent = torch.frexp(x.detach().abs().amax(0))
    return torch.ldexp(torch.ones(exponent.shape, dtype=x.dtype, device=x.device), exponent - 1)


def scaled_moments(x: Tensor, correction: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    r"""The mean and standard deviation of each column of ``x``, in units of
    :func:`power_of_two_scale`, so that no square overflows or underflows at any scale.

    Arguments:
        x: ``[N, d]`` floating-point samples.
        correction: As in :meth:`torch.Tensor.std`; the deviation is zero for a single row.

    Returns:
        ``(unit, mean, std)``, each ``[d]``: the mean of the column is ``unit * mean`` and
        its standard deviation ``unit * std`` (a product that is finite below the float's
        largest value, which the scaled pair never reaches).

    Example:
        >>> x = torch.tensor([[1e200], [3e200]], dtype=torch.float64)
        >>> x.std(0, correction=0)  # the squares overflow
        tensor([inf], dtype=torch.float64)
        >>> unit, mean, std = scaled_moments(x)
        >>> float(unit * mean), float(unit * std)
        (2e+200, 1e+200)
    """
    unit = power_of_two_scale(x)
    z = x / unit
    mean = z.mean(0)
    std = z.std(0, correction=correction) if x.shape[0] > 1 else torch.zeros_like(mean)
    return unit, mean, std


def _column_stats(wide: Tensor) -> tuple[Tensor, Tensor]:
    unit, mean, std = scaled_moments(wide)
    return unit * mean, unit * std


def _narrowing_losses(wide: Tensor) -> Tensor:
    """Per column: whether the float32 cast overflows, or rounds (or flushes to zero) the
    spread of the values away; compared in units of :func:`power_of_two_scale`."""
    overflow = wide.abs().amax(0) > FLOAT32_MAX
    unit, _, std = scaled_moments(wide)
    rounding = ((wide - wide.float().double()) / unit).abs().amax(0)
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
        self.unit: Tensor | None = None
        self.shift: Tensor | None = None
        self.scale: Tensor | None = None

    @property
    def active(self) -> bool:
        """Whether the fitted map changes some column."""
        return self.shift is not None and bool(
            (self.unit != 1).any() or (self.shift != 0).any() or (self.scale != 1).any()
        )

    def __call__(self, wide: Tensor, name: str) -> Tensor:
        if self.shift is None:
            # moments in units of a power of two: the squares of values above ~1e154 would overflow
            lost = _narrowing_losses(wide)
            unit, mean, std = scaled_moments(wide)
            ones = torch.ones_like(unit)
            self.unit = torch.where(lost, unit, ones)
            self.shift = torch.where(lost, mean, torch.zeros_like(mean))
            self.scale = torch.where(lost & (std > 0), std, ones)
        elif wide.shape[1] != self.shift.shape[0]:
            raise ValueError(f"{name} has {wide.shape[1]} features, but {self.shift.shape[0]} were centred before")
        narrowed = ((wide / self.unit - self.shift) / self.scale).float()
        check_finite(narrowed, name)
        return narrowed


# -- shared by both families ----------------------------------------------------------


def check_has_values(tensor: Tensor, name: str) -> None:
    r"""Raises a ``ValueError`` naming ``name`` when ``tensor`` is on the meta device, which
    holds shapes but no values.

    Arguments:
        tensor: The tensor.
        name: Its name, for the message.

    Raises:
        ValueError: On a meta-device tensor.

    Example:
        >>> check_has_values(torch.zeros(2, device="meta"), "x")
        Traceback (most recent call last):
        ...
        ValueError: x is on the meta device, which holds no values; pass a tensor with data (on the cpu or a GPU)
    """
    if tensor.device.type == "meta":
        raise ValueError(
            f"{name} is on the meta device, which holds no values; pass a tensor with data (on the cpu or a GPU)"
        )


def check_finite(tensor: Tensor, name: str) -> None:
    r"""Raises ``ValueError`` naming ``name`` and the first bad row when ``tensor`` holds NaN or inf.

    Arguments:
        tensor: ``[N, ...]`` values.
        name: What the message calls them.

    Example:
        >>> check_finite(torch.tensor([[0.0], [float("inf")]]), "x")
        Traceback (most recent call last):
        ...
        ValueError: x contains infinite values in 1 sample(s), first at row 1; drop or impute them first
    """
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()
        kind = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
        raise ValueError(
            f"{name} contains {kind} values in {rows.numel()} sample(s), first at row {int(rows[0])}; "
            "drop or impute them first"
        )


def check_pair(x: Tensor, y: Tensor) -> None:
    r"""Raises ``ValueError`` when ``x`` and ``y`` do not hold the same number of samples.

    Arguments:
        x: ``[N, ...]`` samples.
        y: ``[M, ...]`` samples.

    Example:
        >>> check_pair(torch.zeros(3, 1), torch.zeros(4, 1))
        Traceback (most recent call last):
        ...
        ValueError: x and y must hold the same number of samples, got 3 and 4
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}")


# -- batches of an estimator ------------------------------------------------------------


def check_inputs(x: Tensor, y: Tensor, min_samples: int = 1, *, discrete_y: bool = False) -> None:
    r"""Raises an error naming the problem when ``x`` and ``y`` are not a batch an
    estimator accepts: tensors of shape ``[N, d]`` with the same ``N`` (at least
    ``min_samples``), floating point, on one device. With ``discrete_y``, ``y`` may also
    hold integers or booleans (class indices, codes). Values are not inspected.

    Arguments:
        x: The ``[N, x_dim]`` batch of ``x``.
        y: The ``[N, y_dim]`` batch of ``y``.
        min_samples: The fewest rows accepted.
        discrete_y: Whether ``y`` may hold integers or booleans.

    Raises:
        TypeError: For a non-tensor or a dtype the estimator cannot take.
        ValueError: For wrong shapes, different ``N``, too few rows or two devices.

    Example:
        >>> import torch
        >>> check_inputs(torch.zeros(3, 2), torch.tensor([[0], [2], [1]]), discrete_y=True)  # class indices
        >>> check_inputs(torch.zeros(3, 2), torch.tensor([[0], [2], [1]]))
        Traceback (most recent call last):
        ...
        TypeError: y must be a floating-point tensor, got torch.int64
        >>> check_inputs(torch.zeros(3, 2), torch.zeros(3))
        Traceback (most recent call last):
        ...
        ValueError: y must have shape [N, y_dim], got (3,); flatten the features first
    """
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        check_has_values(t, name)
        if t.is_complex():
            raise TypeError(f"{name} must be real-valued, got dtype {t.dtype}")
        if t.dim() != 2:
            raise ValueError(
                f"{name} must have shape [N, {name}_dim], got {tuple(t.shape)}; flatten the features first"
            )
        if not t.is_floating_point() and not (name == "y" and discrete_y):
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    check_pair(x, y)
    if x.shape[0] < min_samples:
        raise ValueError(f"a batch needs at least {min_samples} samples, got {x.shape[0]}")
    if x.device != y.device:
        raise ValueError(f"x and y are on different devices: {x.device} and {y.device}")


# -- the estimation pipeline ----------------------------------------------------------


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
    other dimensions than it was built for, or ``None`` when ``error`` is something else.

    Arguments:
        error: The exception the estimator raised.
        x: The ``[N, x_dim]`` data it was given.
        y: The ``[N, y_dim]`` data it was given.

    Returns:
        The error to raise instead, or ``None``.

    Example:
        >>> error = RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x8)")
        >>> str(shape_mismatch(error, torch.zeros(4, 3), torch.zeros(4, 1))).split(";")[0]
        'the estimator does not accept the data: x has 3 features and y has 1'
        >>> shape_mismatch(KeyError("a"), torch.zeros(4, 3), torch.zeros(4, 1)) is None
        True
    """
    if not isinstance(error, RuntimeError) or not any(text in str(error) for text in _SHAPE_ERRORS):
        return None
    return ValueError(
        f"the estimator does not accept the data: x has {x.shape[1]} features and y has {y.shape[1]}; "
        f"build it with x_dim={x.shape[1]}, y_dim={y.shape[1]} (or pass its name instead of an instance). "
        f"PyTorch said: {str(error).splitlines()[0]}"
    )
