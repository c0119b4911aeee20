r"""Delimited text tables (``.csv``, ``.tsv``) and column selections such as ``"0:3,5"``
or ``"age,income"``, for :mod:`mist_reg.cli.io`.

Example:
    >>> parse_columns("0:2,4", n_columns=6)
    [0, 1, 4]
    >>> parse_columns("3:10", n_columns=4)
    Traceback (most recent call last):
    ...
    mist_reg.cli.tables.DataError: the range '3:10' reaches column 10, beyond a table of 4 columns (0 to 3; '3:' runs to the last)
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DataError",
    "Table",
    "read_table",
    "parse_columns",
    "describe_columns",
    "split_table",
    "TABLE_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
]

TABLE_EXTENSIONS = (".csv", ".tsv")
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".csv", ".tsv", ".npy", ".npz", ".pt", ".pth")
"""File types :func:`mist_reg.cli.io.load_pair` reads."""

_RANGE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")
_INDEX = re.compile(r"^\s*-?\d+\s*$")


class DataError(ValueError):
    r"""A data file that cannot be read as paired samples (the message says why)."""


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
        r"""The selected columns: a float64 array, or an object array holding strings in the
        columns of text (most of whose cells are not numbers: class names, categories), which
        :func:`mist_reg.estimate_mi` reads as codes. Missing cells, non-finite numbers and a
        stray word in a column of numbers are refused with the column and line that hold them."""
        columns = [self._column(index, role) for index in indices]
        if all(column.dtype.kind == "f" for column in columns):
            return np.stack(columns, axis=1) if columns else np.empty((len(self.rows), 0))
        out = np.empty((len(self.rows), len(columns)), dtype=object)
        for j, column in enumerate(columns):
            out[:, j] = column
        return out

    def _column(self, index: int, role: str) -> np.ndarray:
        cells = [row[index].strip() for row in self.rows]

        def where(i: int) -> str:
            return f"column {self.column_name(index)} of {self.name} (for {role}) at line {self.lines[i]}"

        for i, cell in enumerate(cells):
            if not cell or cell.lower() in _MISSING:
                raise DataError(
                    f"{where(i)} is empty: a missing value; drop or impute it first"
                    if not cell
                    else f"{where(i)} holds {cell!r}: a missing value; drop or impute it first"
                )
        words = [i for i, cell in enumerate(cells) if not _is_number(cell)]
        if 2 * len(words) >= len(cells):  # a column of text: its cells are codes
            return np.array(cells, dtype=object)
        if words:
            raise DataError(
                f"{where(words[0])} holds {cells[words[0]]!r}, which is not a number, in a column of numbers; "
                "correct the cell, or select other columns with --x/--y (x=, y=)"
            )
        values = np.array([float(cell) for cell in cells])
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise DataError(f"{where(int(bad[0]))} holds {cells[bad[0]]!r}; drop or impute non-finite values first")
        return values


_MISSING = ("nan", "na", "n/a", "null", "none", "?")
"""Cells read as missing values, whatever their case."""


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
            for end in (start, stop):
                if end is not None and not -n_columns <= end <= n_columns:
                    raise DataError(
                        f"the range {token!r} reaches column {end}, beyond a table of {n_columns} columns "
                        f"(0 to {n_columns - 1}; '{max(0, start or 0)}:' runs to the last)"
                    )
            selected = list(range(n_columns))[slice(start, stop)]
            if not selected:
                raise DataError(f"the range {token!r} selects no column of a table with {n_columns} columns")
            indices.extend(selected)
        else:
            available = ", ".join(names) if names else f"none (no header row; use indices 0 to {n_columns - 1})"
            raise DataError(f"no column named {token!r}; column names: {available}")
    return indices


def describe_columns(indices: Sequence[int], table_header: Sequence[str] | None, name: str) -> str:
    r"""The columns ``indices`` of the table ``name`` in words (names when it has a header).

    Example:
        >>> describe_columns([0, 2], ["a", "b", "c"], "t.csv")
        "columns 'a', 'c' of t.csv"
    """
    if table_header is not None:
        labels = [repr(table_header[i]) for i in indices]
    else:
        labels = [str(i) for i in indices]
    shown = ", ".join(labels) if len(labels) <= 6 else ", ".join(labels[:5]) + f", ... ({len(labels)} in all)"
    return f"column{'s' if len(labels) > 1 else ''} {shown} of {name}"


def split_table(
    table: Table | np.ndarray, x: str | None, y: str | None, name: str
) -> tuple[np.ndarray, np.ndarray, str, str]:
    r"""x and y columns of a table (text or numeric); a missing selection takes every
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
                f"{role} names {describe_columns(repeated, header, name)} more than once; give each column once"
            )
    shared = sorted(set(x_idx) & set(y_idx))
    if shared:
        raise DataError(
            f"x and y share {describe_columns(shared, header, name)}: the mutual information of a variable "
            "with itself is infinite; give them disjoint columns"
        )
    if isinstance(table, Table):
        xs, ys = table.columns(x_idx, "x"), table.columns(y_idx, "y")
    else:
        xs, ys = table[:, x_idx], table[:, y_idx]
    return xs, ys, describe_columns(x_idx, header, name), describe_columns(y_idx, header, name)
