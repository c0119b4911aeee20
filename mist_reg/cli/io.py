r"""Reading paired samples ``(x, y)`` from files, with errors that name the problem.

Supported files:

* ``.npz``: arrays stored by name; ``x`` and ``y`` by default, other names with ``x=`` and
  ``y=``;
* ``.pt`` / ``.pth`` (``torch.save``): a dictionary of tensors (keys as for ``.npz``), a
  pair ``(x, y)``, or a single ``[N, d]`` tensor read as a table;
* ``.csv`` / ``.tsv``: a table; ``x=`` and ``y=`` select columns by name or by index
  (``"0:3,5"``: columns 0, 1, 2 and 5; ``"a,b"``: the columns named ``a`` and ``b``; a
  header row is detected automatically); only the selected columns must be numeric;
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

import csv
import math
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mist_reg.checks import WideCentring, as_samples, check_pair

__all__ = [
    "DataError",
    "PairedData",
    "SUPPORTED_EXTENSIONS",
    "load_pair",
    "parse_columns",
    "read_table",
]

TABLE_EXTENSIONS = (".csv", ".tsv")
CONTAINER_EXTENSIONS = (".npz", ".pt", ".pth")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".npy", ".npz", ".pt", ".pth")
"""File types :func:`load_pair` reads."""

_RANGE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")
_INDEX = re.compile(r"^\s*-?\d+\s*$")


class DataError(ValueError):
    r"""A data file that cannot be read as paired samples (the message says why)."""


@dataclass
class PairedData:
    r"""Samples read from files.

    Attributes:
        x: A float32 tensor ``[N, x_dim]``; a column that the cast from float64 would ruin
            (a large offset, integers above ``2**24``, values beyond float32's range) is
            centred and scaled in float64 first, which leaves the mutual information as it is.
        y: A float32 tensor ``[N, y_dim]``, read the same way.
        x_source: Where ``x`` came from, in words (for reports).
        y_source: Where ``y`` came from.
    """

    x: Tensor
    y: Tensor
    x_source: str
    y_source: str


@dataclass
class Table:
    r"""The cells of a delimited text file.

    Attributes:
        header: The column names, or ``None`` when the file has no header row.
        rows: The data rows, as strings.
        lines: The line number (1-based) of each data row in the file.
        name: The file name, for messages.
    """

    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]
    name: str

    @property
    def n_columns(self) -> int:
        return len(self.header) if self.header is not None else len(self.rows[0])

    def column_name(self, index: int) -> str:
        return repr(self.header[index]) if self.header is not None else str(index)

    def columns(self, indices: Sequence[int], role: str) -> np.ndarray:
        r"""The selected columns as a float64 array, refusing non-numeric, missing and
        non-finite cells with the column and line that hold them."""
        out = np.empty((len(self.rows), len(indices)), dtype=np.float64)
        for j, index in enumerate(indices):
            for i, row in enumerate(self.rows):
                cell = row[index].strip()
                try:
                    value = float(cell)
                except ValueError:
                    value = None  # described below, with where it stands
                if value is None or not math.isfinite(value):
                    where = f"column {self.column_name(index)} of {self.name} (for {role}) at line {self.lines[i]}"
                    if not cell:
                        raise DataError(f"{where} is empty: a missing value; drop or impute it first")
                    if value is None:
                        raise DataError(
                            f"{where} holds {cell!r}, which is not a number; select numeric columns with --x/--y "
                            "(x=, y=) or encode the column as numbers"
                        )
                    raise DataError(f"{where} holds {cell!r}; drop or impute non-finite values first")
                out[i, j] = value
        return out


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_table(path: str | os.PathLike, header: bool | None = None) -> Table:
    r"""Reads a ``.csv`` (comma) or ``.tsv`` (tab) file into a :class:`Table`.

    Blank lines and lines starting with ``#`` are skipped. With ``header=None`` the first
    row is taken as a header when a cell of it is not a number while the cell below it is
    (or when the file has a single row of non-numbers).

    Arguments:
        path: The file.
        header: Whether the first row names the columns (``None``: detect it).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.tsv")
        >>> _ = open(path, "w").write("1\t2\n3\t4\n")
        >>> table = read_table(path)
        >>> table.header, table.rows, table.lines
        (None, [['1', '2'], ['3', '4']], [1, 2])
    """
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows: list[list[str]] = []
    lines: list[int] = []
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            for row in reader:
                if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                    continue
                rows.append(row)
                lines.append(reader.line_num)
        except UnicodeDecodeError:
            raise DataError(f"{path.name} is not UTF-8 text (a binary file with a table extension?)") from None
    if not rows:
        raise DataError(f"{path.name} holds no rows")
    if header is None:
        first = rows[0]
        second = rows[1] if len(rows) > 1 else None
        if second is None:
            header = not any(_is_number(c) for c in first)
        else:
            header = any(
                c.strip() and not _is_number(c) and j < len(second) and _is_number(second[j])
                for j, c in enumerate(first)
            )
    names = [c.strip() for c in rows[0]] if header else None
    if header:
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise DataError(f"{path.name} holds a header row but no data")
    width = len(names) if names is not None else len(rows[0])
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise DataError(
                f"line {line} of {path.name} has {len(row)} fields where {width} were expected "
                f"(delimiter {'tab' if delimiter == chr(9) else 'comma'})"
            )
    return Table(names, rows, lines, path.name)


def _open_text(path: Path):
    try:
        return open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a data file") from None


def parse_columns(spec: str, n_columns: int, header: Sequence[str] | None = None) -> list[int]:
    r"""Column indices from a specification such as ``"0:3,5"``, ``"-1"`` or ``"age,income"``.

    Comma-separated parts are column names (when ``header`` holds them), indices (negative
    ones count from the end) or half-open ranges ``start:stop`` (either end may be left out).

    Arguments:
        spec: The specification.
        n_columns: The number of columns of the table.
        header: The column names, if the table has them.

    Example:
        >>> parse_columns("1:", 4), parse_columns(":2,-1", 4), parse_columns("b", 2, ["a", "b"])
        ([1, 2, 3], [0, 1, 3], [1])
    """
    indices: list[int] = []
    names = list(header) if header is not None else []
    for part in spec.split(","):
        token = part.strip()
        if not token:
            raise DataError(f"empty column in {spec!r}; write columns like '0:3,5' or 'a,b'")
        if token in names:
            indices.append(names.index(token))
        elif _INDEX.match(token):
            index = int(token)
            if not -n_columns <= index < n_columns:
                raise DataError(
                    f"column {index} is out of range: the table has {n_columns} columns (0 to {n_columns - 1})"
                )
            indices.append(index % n_columns)
        elif match := _RANGE.match(token):
            start, stop = (int(g) if g is not None else None for g in match.groups())
            selected = list(range(n_columns))[slice(start, stop)]
            if not selected:
                raise DataError(f"the range {token!r} selects no column of a table with {n_columns} columns")
            indices.extend(selected)
        else:
            available = ", ".join(names) if names else f"none (no header row; use indices 0 to {n_columns - 1})"
            raise DataError(f"no column named {token!r}; column names: {available}")
    return indices


def _describe_columns(indices: Sequence[int], table_header: Sequence[str] | None, name: str) -> str:
    if table_header is not None:
        labels = [repr(table_header[i]) for i in indices]
    else:
        labels = [str(i) for i in indices]
    shown = ", ".join(labels) if len(labels) <= 6 else ", ".join(labels[:5]) + f", ... ({len(labels)} in all)"
    return f"column{'s' if len(labels) > 1 else ''} {shown} of {name}"


def _split_table(
    table: Table | np.ndarray, x: str | None, y: str | None, name: str
) -> tuple[np.ndarray, np.ndarray, str, str]:
    """x and y columns of a table (text or numeric); a missing selection takes every
    remaining column."""
    header = table.header if isinstance(table, Table) else None
    n_columns = table.n_columns if isinstance(table, Table) else table.shape[1]
    if x is None and y is None:
        names = f"names: {', '.join(header)}" if header else f"indices 0 to {n_columns - 1}"
        raise DataError(
            f"{name} is a table of {n_columns} columns: say which are x and which are y with --x and --y "
            f"(x= and y=), e.g. --x 0:{max(n_columns // 2, 1)} --y {max(n_columns // 2, 1)}: ({names})"
        )
    x_idx = parse_columns(x, n_columns, header) if x is not None else None
    y_idx = parse_columns(y, n_columns, header) if y is not None else None
    if x_idx is None:
        x_idx = [i for i in range(n_columns) if i not in set(y_idx)]
    if y_idx is None:
        y_idx = [i for i in range(n_columns) if i not in set(x_idx)]
    for role, idx in (("x", x_idx), ("y", y_idx)):
        if not idx:
            raise DataError(f"no column is left for {role} in {name}, which has {n_columns} columns")
        repeated = sorted({i for i in idx if idx.count(i) > 1})
        if repeated:
            raise DataError(
                f"{role} names {_describe_columns(repeated, header, name)} more than once; give each column once"
            )
    shared = sorted(set(x_idx) & set(y_idx))
    if shared:
        raise DataError(
            f"x and y share {_describe_columns(shared, header, name)}: the mutual information of a variable "
            "with itself is infinite; give them disjoint columns"
        )
    if isinstance(table, Table):
        xs, ys = table.columns(x_idx, "x"), table.columns(y_idx, "y")
    else:
        xs, ys = table[:, x_idx], table[:, y_idx]
    return xs, ys, _describe_columns(x_idx, header, name), _describe_columns(y_idx, header, name)


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


def _samples(values: Any, source: str) -> Tensor:
    try:
        # float64 columns far from zero (timestamps, ...) are centred in float64 before the float32 cast
        return as_samples(values, source, WideCentring())
    except (TypeError, ValueError) as error:
        raise DataError(str(error)) from None


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
        source = _describe_columns(indices, header, path.name) if select is not None else path.name
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
            return table[:, indices], _describe_columns(indices, None, path.name)
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
        mist_reg.cli.io.DataError: pair.npz has no array 'labels' for y; available: 'x', 'y' (choose with --y)
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
            x_values, y_values, x_source, y_source = _split_table(read_table(path, header), x, y, path.name)
        elif suffix == ".npy":
            array = _load_npy(path)
            if x is None and y is None:
                raise DataError(
                    f"{path.name} holds one array: give y in a second file with --y-file (y_file=), "
                    "or split its columns with --x and --y"
                )
            x_values, y_values, x_source, y_source = _split_table(_as_table(array, path.name), x, y, path.name)
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
                x_values, y_values, x_source, y_source = _split_table(_as_table(content, path.name), x, y, path.name)
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
