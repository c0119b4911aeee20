"""Tests for mist_reg.labels: class codes to indices, and the errors that name a bad code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mist_reg.labels import encode_labels


@pytest.mark.parametrize(
    "codes, classes",
    [
        ([1990, 1991, 1990, 1991], [1990, 1991]),
        ([0, 100000, 0, 100000], [0, 100000]),
        (np.array([True, False, True, True]), [False, True]),
        (["m", "f", "m", "m"], ["f", "m"]),
        (torch.tensor([[2.0], [7.0], [2.0], [2.0]]), [2, 7]),
    ],
)
def test_codes_become_indices_of_sorted_classes(codes, classes):
    labels = encode_labels(codes, "s")
    assert labels.classes == classes and labels.n_classes == 2
    decoded = [labels.classes[i] for i in labels.indices.tolist()]
    expected = codes.reshape(-1).tolist() if hasattr(codes, "reshape") else list(codes)
    assert decoded == [type(classes[0])(v) for v in expected]
    assert labels.indices.dtype == torch.int64


@pytest.mark.parametrize(
    "codes, message",
    [
        ([0.0, float("inf")], "non-finite label inf at row 1"),
        (["a", float("nan")], "non-finite label nan at row 1"),
        ([0.0, 0.25], "fractional value 0.25 at row 1"),
        (np.zeros((3, 2)), r"shape \[N\] or \[N, 1\], got shape \(3, 2\)"),
        ([], "is empty"),
        (torch.zeros(3, device="meta"), "meta device"),
    ],
)
def test_bad_codes_are_named(codes, message):
    with pytest.raises(ValueError, match=message):
        encode_labels(codes, "s")
