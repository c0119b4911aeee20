r"""UCI Adult (Census Income) as tensors for fair-representation experiments.

The data set (Becker and Kohavi, 1996, https://doi.org/10.24432/C5XW20, CC BY 4.0) is
shipped compressed in ``recipes/data/adult/`` (see its README for the attribution); the
copies are checked against the SHA-256 of the original files after decompression.
Users who have the standard ``adult.data`` and ``adult.test`` files can read them from
a folder of their own instead (:func:`find_adult_files`).

Preprocessing (:func:`load_adult`), the usual fair-representation set-up:

* ``adult.data`` is the training split and ``adult.test`` the test split (its first line,
  a comment starting with ``|``, is skipped; its labels end with a full stop);
* rows with a missing value (``?``) are dropped (30,162 training and 15,060 test rows);
* the task is the income: ``1`` for ``>50K``, ``0`` for ``<=50K``;
* the sensitive attribute ``S`` is ``sex`` (``1`` male, ``0`` female), ``race`` (``1``
  white, ``0`` any other value), ``race5`` (the five race groups, ``0 .. 4``) or ``age``
  (continuous, standardised), and its column is removed from the inputs;
* categorical columns are one-hot encoded with the levels seen in the training rows (a
  level found only in the test rows encodes as all zeros);
* numeric columns are standardised with the training mean and standard deviation,
  after ``log1p`` for ``capital-gain`` and ``capital-loss``.

Example:
    >>> data, s_train, s_test = load_adult()
    >>> data.train_inputs.shape, data.test_inputs.shape
    (torch.Size([30162, 102]), torch.Size([15060, 102]))
    >>> round(float(1 - s_test.float().mean()), 3), round(float(data.test_labels.float().mean()), 3)
    (0.326, 0.246)
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "ADULT_COLUMNS",
    "CATEGORICAL",
    "NUMERIC",
    "SENSITIVE",
    "SHIPPED_DIR",
    "SHA256",
    "TabularData",
    "find_adult_files",
    "read_adult_text",
    "parse_adult",
    "load_adult",
]

ADULT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
)
CATEGORICAL: tuple[str, ...] = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
)
NUMERIC: tuple[str, ...] = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
LOG_NUMERIC: tuple[str, ...] = ("capital-gain", "capital-loss")
SENSITIVE: dict[str, tuple[str, str | None]] = {
    "sex": ("sex", "Male"),
    "race": ("race", "White"),
    "race5": ("race", None),
    "age": ("age", None),
}
r"""Each attribute's column and the value coded ``1`` (``None``: every level its own class for
``race5``, the standardised value for ``age``)."""
r"""Sensitive attribute name -> (column, the value coded as ``S = 1``; every other value is ``0``)."""

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "data" / "adult"
SHA256: dict[str, str] = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}
r"""SHA-256 of the original UCI files (the shipped copies are checked after decompression)."""

FILES = ("adult.data", "adult.test")


@dataclass
class TabularData:
    r"""Standardised inputs and binary task labels of a tabular data set, split into
    training and test rows.

    Attributes:
        name: The data set's name.
        train_inputs: ``[N, d]`` float32 inputs of the training rows.
        train_labels: ``[N]`` int64 task labels.
        test_inputs: ``[M, d]`` float32 inputs of the test rows.
        test_labels: ``[M]`` int64 task labels.
        feature_names: The ``d`` input names (``column=level`` for one-hot columns).
        num_classes: Number of task classes.
        source: Where the rows were read from.
    """

    name: str
    train_inputs: Tensor
    train_labels: Tensor
    test_inputs: Tensor
    test_labels: Tensor
    feature_names: list[str] = field(default_factory=list)
    num_classes: int = 2
    source: str = ""

    @property
    def num_features(self) -> int:
        return int(self.train_inputs.shape[1])

    def to(self, device: torch.device | str) -> TabularData:
        r"""A copy with the tensors on ``device``."""
        return TabularData(
            self.name,
            self.train_inputs.to(device),
            self.train_labels.to(device),
            self.test_inputs.to(device),
            self.test_labels.to(device),
            self.feature_names,
            self.num_classes,
            self.source,
        )


def find_adult_files(data_dir: str | Path | None) -> dict[str, Path]:
    r"""The paths of ``adult.data`` and ``adult.test``: in ``data_dir`` (or its ``adult/``
    sub-folder) when given, the shipped compressed copies otherwise.

    Raises:
        FileNotFoundError: ``data_dir`` holds neither pair of files.
    """
    if data_dir is None:
        return {name: SHIPPED_DIR / f"{name}.gz" for name in FILES}
    root = Path(data_dir)
    for folder in (root, root / "adult"):
        if all((folder / name).is_file() for name in FILES):
            return {name: folder / name for name in FILES}
        if all((folder / f"{name}.gz").is_file() for name in FILES):
            return {name: folder / f"{name}.gz" for name in FILES}
    raise FileNotFoundError(
        f"no adult.data and adult.test (or .gz copies) in {root} or {root / 'adult'}; "
        "omit --data-dir to use the copy shipped in recipes/data/adult"
    )


def read_adult_text(path: str | Path, sha256: str | None = None) -> str:
    r"""The text of an Adult file (decompressed if it ends in ``.gz``); with ``sha256``,
    the decompressed bytes must have that digest (a ``ValueError`` otherwise)."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256:
            raise ValueError(f"{path} does not match the original file: sha256 {digest}, expected {sha256}")
    return raw.decode("utf-8")


def parse_adult(text: str, source: str = "adult", max_rows: int = 0) -> list[list[str]]:
    r"""The complete rows of an Adult file as lists of 15 stripped strings: comment lines
    (starting with ``|``) and blank lines are skipped, rows with a missing value (``?``)
    dropped, and the label's trailing full stop (``adult.test``) removed; with ``max_rows``,
    reading stops after that many complete rows.

    Example:
        >>> row = ["39", "Private", "1", "HS-grad", "9", "Divorced", "Sales", "Unmarried", "White", "Female",
        ...        "0", "0", "40", "Cuba", ">50K."]
        >>> missing = row[:6] + ["?"] + row[7:]
        >>> text = "|1x3 Cross validator\n" + ", ".join(row) + "\n" + ", ".join(missing) + "\n"
        >>> [(r[0], r[-1]) for r in parse_adult(text)]
        [('39', '>50K')]
    """
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("|"):
            continue
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(ADULT_COLUMNS):
            raise ValueError(
                f"{source}, line {number}: expected {len(ADULT_COLUMNS)} comma-separated values, got {len(values)}"
            )
        if "?" in values:
            continue
        values[-1] = values[-1].rstrip(".")
        if values[-1] not in ("<=50K", ">50K"):
            raise ValueError(f"{source}, line {number}: income must be '<=50K' or '>50K', got {values[-1]!r}")
        rows.append(values)
        if max_rows and len(rows) == max_rows:
            break
    if not rows:
        raise ValueError(f"{source} holds no complete row")
    return rows


def _numeric(rows: list[list[str]], column: str, source: str) -> Tensor:
    index = ADULT_COLUMNS.index(column)
    try:
        values = torch.tensor([float(r[index]) for r in rows], dtype=torch.float64)
    except ValueError as error:
        raise ValueError(f"{source}: column {column} must be numeric ({error})") from None
    return values.clamp_min(0).log1p() if column in LOG_NUMERIC else values


def _encode(train: list[list[str]], test: list[list[str]], sensitive_column: str) -> tuple[Tensor, Tensor, list[str]]:
    r"""One-hot and standardised inputs of both splits (levels and statistics from ``train``)."""
    blocks_train, blocks_test, names = [], [], []
    for column in ADULT_COLUMNS[:-1]:
        if column == sensitive_column:
            continue
        if column in NUMERIC:
            a, b = _numeric(train, column, "adult.data"), _numeric(test, column, "adult.test")
            mean, std = a.mean(), a.std() if len(a) > 1 else torch.tensor(1.0, dtype=torch.float64)
            std = std if float(std) > 0 else torch.tensor(1.0, dtype=torch.float64)
            blocks_train.append(((a - mean) / std)[:, None])
            blocks_test.append(((b - mean) / std)[:, None])
            names.append(column)
        else:
            index = ADULT_COLUMNS.index(column)
            levels = sorted({r[index] for r in train})
            position = {level: i for i, level in enumerate(levels)}

            def one_hot(rows: list[list[str]]) -> Tensor:
                out = torch.zeros(len(rows), len(levels), dtype=torch.float64)
                for i, r in enumerate(rows):
                    j = position.get(r[index])
                    if j is not None:
                        out[i, j] = 1.0
                return out

            blocks_train.append(one_hot(train))
            blocks_test.append(one_hot(test))
            names += [f"{column}={level}" for level in levels]
    return torch.cat(blocks_train, 1).float(), torch.cat(blocks_test, 1).float(), names


def load_adult(
    data_dir: str | Path | None = None, sensitive: str = "sex", max_rows: int = 0
) -> tuple[TabularData, Tensor, Tensor]:
    r"""The Adult data set (see the module documentation) and the sensitive attribute of
    its training and test rows (``[N]`` and ``[M]``: int64 classes, float32 for ``age``).

    Arguments:
        data_dir: A folder holding ``adult.data`` and ``adult.test`` (or ``adult/`` with
            them, or ``.gz`` copies); ``None`` reads the shipped copies, checked against
            their SHA-256.
        sensitive: ``"sex"``, ``"race"`` (white against any other value), ``"race5"``
            (the five groups of the data) or ``"age"`` (continuous, standardised).
        max_rows: Keep only the first ``max_rows`` complete rows of each split (``0``: all),
            for quick checks.
    """
    if sensitive not in SENSITIVE:
        raise ValueError(f"unknown sensitive attribute {sensitive!r}; valid choices: {', '.join(SENSITIVE)}")
    if max_rows < 0:
        raise ValueError(f"max_rows must be >= 0 (0: all rows), got {max_rows}")
    paths = find_adult_files(data_dir)
    splits = []
    for name in FILES:
        text = read_adult_text(paths[name], SHA256[name] if data_dir is None else None)
        splits.append(parse_adult(text, str(paths[name]), max_rows))
    train, test = splits
    column, positive = SENSITIVE[sensitive]
    index = ADULT_COLUMNS.index(column)
    if column in NUMERIC:  # standardised with the training statistics
        s_train, s_test = _numeric(train, column, "adult.data").float(), _numeric(test, column, "adult.test").float()
        mean, std = s_train.mean(), s_train.std().clamp_min(1e-6)
        s_train, s_test = (s_train - mean) / std, (s_test - mean) / std
    elif positive is None:
        levels = {level: i for i, level in enumerate(sorted({r[index] for r in train}))}
        s_train = torch.tensor([levels[r[index]] for r in train])
        s_test = torch.tensor([levels.get(r[index], 0) for r in test])
    else:
        s_train = torch.tensor([int(r[index] == positive) for r in train])
        s_test = torch.tensor([int(r[index] == positive) for r in test])
    for split, s in (("training", s_train), ("test", s_test)):
        if s.unique().numel() < 2:
            raise ValueError(f"the {split} rows hold a single value of {sensitive}; use more rows (--max-rows)")
    x_train, x_test, names = _encode(train, test, column)
    y_train = torch.tensor([int(r[-1] == ">50K") for r in train])
    y_test = torch.tensor([int(r[-1] == ">50K") for r in test])
    source = str(paths["adult.data"].parent)
    data = TabularData("adult", x_train, y_train, x_test, y_test, names, 2, source)
    return data, s_train, s_test
