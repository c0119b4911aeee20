r"""Reading paired samples ``(x, y)`` from files, with errors that name the problem.

Supported files:

* ``.npz``: arrays stored by name; ``x`` and ``y`` by default, other names with ``x=`` and
  ``y=``;
* ``.pt`` / ``.pth`` (``torch.save``): a dictionary of tensors (keys as for ``.npz``), a
  pair ``(x, y)``, or a single ``[N, d]`` tensor read as a table;
* ``.csv`` / ``.tsv``: a table; ``x=`` and ``y=`` select columns by name or by index
  (``"0:3,5"``: columns 0, 1, 2 and 5; ``"a,b"``: the columns named ``a`` and ``b``; a
  header row is detected automatically); a column most of whose cells are not numbers is
  text, read as codes (class names, categories);
* ``.npy``: a single ``[N, d]`` array read as a table, or ``x`` alone with ``y`` in a
  second file (``y_file=``).

When only one of ``x`` and ``y`` selects the columns of a table, the other gets every
remaining column. With ``y_file``, ``x`` comes from the first file and ``y`` from the second;
``x=`` and ``y=`` then select within each file (columns of a table, or the array of a
container when it holds several).

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "data.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,label\n0.1,0.2,cat\n0.3,0.5,dog\n0.7,0.1,cat\n")
    >>> data = load_pair(path, x="a", y="b")
    >>> data.x.shape, data.y.shape, data.x_source
    (torch.Size([3, 1]), torch.Size([3, 1]), "column 'a' of data.csv")
    >>> parse_columns("0:2,4", n_columns=6)
    [0, 1, 4]
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mist_reg.checks import WideCentring, as_samples, check_pair
from mist_reg.cli.tables import (
    SUPPORTED_EXTENSIONS,
    TABLE_EXTENSIONS,
    DataError,
    Table,
    describe_columns,
    parse_columns,
    read_table,
    split_table,
)

__all__ = [
    "DataError",
    "PairedData",
    "SUPPORTED_EXTENSIONS",
    "load_pair",
    "parse_columns",
    "read_table",
]

CONTAINER_EXTENSIONS = (".npz", ".pt", ".pth")


@dataclass
class PairedData:
    r"""Samples read from files.

    Attributes:
        x: A float32 tensor ``[N, x_dim]`` (an object array where a table's selected columns
            hold text, whose cells :func:`mist_reg.estimate_mi` reads as codes); a column that the cast from float64 would ruin
            (a large offset, integers above ``2**24``, values beyond float32's range) is
            centred and scaled in float64 first, which leaves the mutual information as it is.
            Integer and boolean arrays (``.npz``, ``.pt``, ``.npy``) stay int64 codes.
        y: A tensor ``[N, y_dim]``, read the same way.
        x_source: Where ``x`` came from, in words (for reports).
        y_source: Where ``y`` came from.
    """

    x: Tensor | np.ndarray
    y: Tensor | np.ndarray
    x_source: str
    y_source: str


def _load_container(path: Path) -> dict[str, Any] | tuple[Any, ...] | Any:
    """The arrays of an ``.npz`` (a dict), or the object of a ``.pt`` file."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if suffix == ".npz":
        _check_not_empty(path)
        if not zipfile.is_zipfile(path):
            raise DataError(
                f"cannot read {path.name} as an .npz archive: it is not a zip file of .npy arrays "
                "(as numpy.savez writes); it may be truncated or of another format"
            )
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except ValueError as error:
            raise DataError(f"cannot read {path.name}: {error} (save plain numeric arrays)") from None
        except (OSError, zipfile.BadZipFile) as error:
            raise DataError(f"cannot read {path.name} as an .npz archive: {error}") from None
    _check_not_empty(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a bad or unsafe file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(
            f"cannot read {path.name} with torch.load(weights_only=True): {first} "
            "(save a dict of tensors, a tuple (x, y) or one tensor)"
        ) from None


def _check_not_empty(path: Path) -> None:
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes)")


_NPY_MAGIC = b"\x93NUMPY"


def _load_npy(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    _check_not_empty(path)
    with open(path, "rb") as handle:
        if handle.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise DataError(
                f"{path.name} is not an .npy file (as numpy.save writes); it may be truncated or of another format"
            )
    try:
        return np.load(path, allow_pickle=False)
    except EOFError:
        raise DataError(f"{path.name} ends before its array does: the file is truncated") from None
    except ValueError as error:
        raise DataError(f"cannot read {path.name}: {error} (save a plain numeric array)") from None


def _check_extension(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise DataError(
            f"unsupported file type {suffix or '(no extension)'!r} for {path.name}; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    return suffix


def _samples(values: Any, source: str) -> Tensor | np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind == "O":  # a table with columns of text: codes
        return values
    try:
        # float64 columns far from zero (timestamps, ...) are centred in float64 before the float32 cast
        samples = as_samples(values, source, WideCentring())
    except (TypeError, ValueError) as error:
        raise DataError(str(error)) from None
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if array.dtype.kind in "biu":  # codes stay codes, so that estimate_mi reads them as discrete
        return torch.as_tensor(array.astype(np.int64)).reshape(samples.shape)
    return samples


def _pick(mapping: dict[str, Any], key: str, role: str, name: str) -> Any:
    if key not in mapping:
        available = ", ".join(repr(k) for k in mapping) or "none"
        option = "--x" if role == "x" else "--y"
        raise DataError(f"{name} has no array {key!r} for {role}; available: {available} (choose with {option})")
    return mapping[key]


def _as_table(value: Any, name: str) -> np.ndarray:
    array = value.detach().cpu().numpy() if isinstance(value, Tensor) else np.asarray(value)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"{name} holds an array of shape {tuple(array.shape)}; a table must be [N, columns]")
    if array.dtype.kind not in "biuf":
        raise DataError(f"{name} holds an array of dtype {array.dtype}, not numbers")
    return array


def _load_single(path: Path, select: str | None, role: str, header: bool | None) -> tuple[Any, str]:
    """One variable from one file: the whole file, a key of a container or columns of a table."""
    suffix = _check_extension(path)
    if suffix in TABLE_EXTENSIONS or suffix == ".npy":
        table: Table | np.ndarray = (
            read_table(path, header) if suffix in TABLE_EXTENSIONS else _as_table(_load_npy(path), path.name)
        )
        header = table.header if isinstance(table, Table) else None
        n_columns = table.n_columns if isinstance(table, Table) else table.shape[1]
        indices = parse_columns(select, n_columns, header) if select is not None else list(range(n_columns))
        values = table.columns(indices, role) if isinstance(table, Table) else table[:, indices]
        source = describe_columns(indices, header, path.name) if select is not None else path.name
        return values, source
    content = _load_container(path)
    if isinstance(content, dict):
        if select is not None:
            return _pick(content, select, role, path.name), f"array {select!r} of {path.name}"
        if len(content) == 1:
            ((key, value),) = content.items()
            return value, f"array {key!r} of {path.name}"
        available = ", ".join(repr(k) for k in content)
        option = "--x" if role == "x" else "--y"
        raise DataError(f"{path.name} holds several arrays ({available}); name the one for {role} with {option}")
    if isinstance(content, (Tensor, np.ndarray)):
        if select is not None:
            table = _as_table(content, path.name)
            indices = parse_columns(select, table.shape[1])
            return table[:, indices], describe_columns(indices, None, path.name)
        return content, path.name
    raise DataError(f"{path.name} holds a {type(content).__name__}; expected a tensor or a dict of tensors")


def load_pair(
    path: str | os.PathLike,
    x: str | None = None,
    y: str | None = None,
    y_file: str | os.PathLike | None = None,
    header: bool | None = None,
) -> PairedData:
    r"""Reads paired samples from one file (or ``x`` from ``path`` and ``y`` from ``y_file``).

    Arguments:
        path: The data file (see the module documentation for the formats).
        x: The array name of x in ``.npz``/``.pt`` dictionaries (default ``"x"``), or a
            column specification for tables (see :func:`parse_columns`).
        y: The same for y (default ``"y"``; for tables, the columns not in ``x``).
        y_file: A second file holding ``y``; ``path`` then holds ``x``.
        header: For ``.csv``/``.tsv``: whether the first row names the columns
            (``None``: detect it).

    Returns:
        A :class:`PairedData` with float32 tensors of equal length.

    Raises:
        DataError: (a ``ValueError``) naming the problem: an unsupported extension, a
            missing key (listing the available ones), a non-numeric, missing or
            non-finite value (with its column and line), or different sample counts.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "pair.npz")
        >>> np.savez(path, x=np.zeros((4, 2)), y=np.ones(4))
        >>> data = load_pair(path)
        >>> data.x.shape, data.y.shape
        (torch.Size([4, 2]), torch.Size([4, 1]))
        >>> load_pair(path, y="labels")
        Traceback (most recent call last):
        ...
        mist_reg.cli.tables.DataError: pair.npz has no array 'labels' for y; available: 'x', 'y' (choose with --y)
    """
    path = Path(path)
    if y_file is not None:
        if Path(y_file).resolve() == path.resolve() and x == y:
            raise DataError(
                f"x and y both read {'all of ' if x is None else repr(x) + ' of '}{path.name}: the mutual information "
                "of a variable with itself is infinite; give y from another file or other columns"
            )
        x_values, x_source = _load_single(path, x, "x", header)
        y_values, y_source = _load_single(Path(y_file), y, "y", header)
    else:
        suffix = _check_extension(path)
        if suffix in TABLE_EXTENSIONS:
            x_values, y_values, x_source, y_source = split_table(read_table(path, header), x, y, path.name)
        elif suffix == ".npy":
            array = _load_npy(path)
            if x is None and y is None:
                raise DataError(
                    f"{path.name} holds one array: give y in a second file with --y-file (y_file=), "
                    "or split its columns with --x and --y"
                )
            x_values, y_values, x_source, y_source = split_table(_as_table(array, path.name), x, y, path.name)
        else:
            content = _load_container(path)
            if isinstance(content, dict):
                x_key, y_key = x or "x", y or "y"
                if x_key == y_key:
                    raise DataError(
                        f"x and y are both array {x_key!r} of {path.name}: the mutual information of a variable "
                        "with itself is infinite; name different arrays with --x and --y"
                    )
                x_values, y_values = _pick(content, x_key, "x", path.name), _pick(content, y_key, "y", path.name)
                x_source, y_source = f"array {x_key!r} of {path.name}", f"array {y_key!r} of {path.name}"
            elif isinstance(content, (tuple, list)):
                if len(content) != 2:
                    raise DataError(
                        f"{path.name} holds a {type(content).__name__} of {len(content)} items; expected (x, y)"
                    )
                if x is not None or y is not None:
                    raise DataError(f"{path.name} holds a pair (x, y) without names; drop --x/--y")
                (x_values, y_values), x_source, y_source = content, f"item 0 of {path.name}", f"item 1 of {path.name}"
            elif isinstance(content, Tensor):
                if x is None and y is None:
                    raise DataError(
                        f"{path.name} holds one tensor: split its columns with --x and --y, "
                        "or save a dict {'x': x, 'y': y}"
                    )
                x_values, y_values, x_source, y_source = split_table(_as_table(content, path.name), x, y, path.name)
            else:
                raise DataError(
                    f"{path.name} holds a {type(content).__name__}; expected a dict of tensors, a pair (x, y) or a tensor"
                )
    x_tensor, y_tensor = _samples(x_values, f"x ({x_source})"), _samples(y_values, f"y ({y_source})")
    try:
        check_pair(x_tensor, y_tensor)
    except ValueError:
        raise DataError(
            f"x ({x_source}) has {x_tensor.shape[0]} samples but y ({y_source}) has {y_tensor.shape[0]}; "
            "they must be paired row by row"
        ) from None
    return PairedData(x_tensor, y_tensor, x_source, y_source)
