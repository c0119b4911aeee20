"""Tests for mist_reg.estimation.data: input checks with clear messages, SampleDataset and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mist_reg import SampleDataset
from mist_reg.checks import as_samples, check_finite, check_pair
from mist_reg.estimation.data import TensorBatches, is_data_loader, split_indices, unpack_batch
from mist_reg.utils.data import SampleDataset as SeedSampleDataset

# --------------------------------------------------------------------------------------
# as_samples
# --------------------------------------------------------------------------------------


def test_one_dimensional_inputs_become_columns():
    values = np.array([1.0, 2.0, 3.0])
    out = as_samples(values, "x")
    assert out.shape == (3, 1) and out.dtype == torch.float32
    assert out[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert as_samples(torch.arange(4.0), "y").shape == (4, 1)


def test_numpy_and_integer_and_bool_inputs_are_converted():
    out = as_samples(np.arange(6, dtype=np.int64).reshape(3, 2), "x")
    assert out.dtype == torch.float32 and out.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    out = as_samples(np.array([[True], [False]]), "x")
    assert out.tolist() == [[1.0], [0.0]]
    double = as_samples(np.full((2, 2), 0.1, dtype=np.float64), "x")
    assert double.dtype == torch.float32
    assert as_samples([[1, 2], [3, 4]], "x").shape == (2, 2)


def test_trailing_dimensions_are_flattened():
    out = as_samples(torch.arange(24.0).reshape(2, 3, 4), "x")
    assert out.shape == (2, 12)
    assert out[1].tolist() == list(range(12, 24))


def test_tensors_are_detached():
    t = torch.randn(4, 2, requires_grad=True)
    assert not as_samples(t, "x").requires_grad


@pytest.mark.parametrize(
    "values",
    [
        np.array([["a", "b"], ["c", "d"]]),
        np.array([1.0, "x", None], dtype=object),
        ["a", "b", "c"],
    ],
    ids=["str-array", "object-array", "list-of-str"],
)
def test_non_numeric_inputs_are_refused(values):
    with pytest.raises(TypeError, match="x must hold numbers"):
        as_samples(values, "x")


def test_other_types_are_refused():
    with pytest.raises(TypeError, match="y must be a torch.Tensor or numpy.ndarray"):
        as_samples({"a": 1}, "y")
    with pytest.raises(TypeError, match="real-valued"):
        as_samples(torch.ones(3, dtype=torch.complex64), "x")
    with pytest.raises(ValueError, match="ragged"):
        as_samples([[1.0, 2.0], [3.0]], "x")


@pytest.mark.parametrize("values", [np.zeros((0, 3)), np.zeros(0), torch.zeros(5, 0), torch.zeros(0, 2)], ids=str)
def test_empty_inputs_are_refused(values):
    with pytest.raises(ValueError, match="x is empty"):
        as_samples(values, "x")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(np.array(3.0), id="numpy"),
        pytest.param(torch.tensor(3.0), id="torch"),
    ],
)
def test_scalar_input_is_refused(values):
    with pytest.raises(ValueError, match="scalar"):
        as_samples(values, "x")


def test_nan_and_inf_are_refused_with_the_row():
    x = np.zeros((6, 2))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN values in 1 sample\(s\), first at row 4"):
        as_samples(x, "x")
    y = torch.zeros(5, 1)
    y[2, 0] = float("inf")
    y[3, 0] = -float("inf")
    with pytest.raises(ValueError, match=r"y contains infinite values in 2 sample\(s\), first at row 2"):
        as_samples(y, "y")
    with pytest.raises(ValueError, match="NaN"):
        check_finite(torch.tensor([[0.0, float("nan")]]), "z")
    check_finite(torch.zeros(3, 2), "z")  # no error


def test_check_pair_names_both_lengths():
    with pytest.raises(ValueError, match="same number of samples, got 3 and 4"):
        check_pair(torch.zeros(3, 1), torch.zeros(4, 1))


# --------------------------------------------------------------------------------------
# unpack_batch
# --------------------------------------------------------------------------------------


def test_unpack_batch_accepts_pairs_and_dicts():
    x, y = torch.randn(4, 2, 3), torch.arange(4)
    for batch in ((x, y), [x, y], {"x": x, "y": y, "extra": 1}):
        bx, by = unpack_batch(batch)
        assert bx.shape == (4, 6) and by.shape == (4, 1)
        assert by.dtype == torch.float32 and by[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_unpack_batch_errors():
    with pytest.raises(ValueError, match="missing \\['y'\\]"):
        unpack_batch({"x": torch.zeros(2, 1)})
    with pytest.raises(TypeError, match="pairs or dictionaries"):
        unpack_batch((torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2, 1)))
    with pytest.raises(TypeError, match="batch y must be a tensor"):
        unpack_batch((torch.zeros(2, 1), np.zeros((2, 1))))
    with pytest.raises(ValueError, match="same number of samples"):
        unpack_batch((torch.zeros(2, 1), torch.zeros(3, 1)))


# --------------------------------------------------------------------------------------
# SampleDataset
# --------------------------------------------------------------------------------------


def test_sample_dataset_items_and_loader():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    dataset = SampleDataset(samples={"x": x, "y": y})
    assert SeedSampleDataset is SampleDataset
    assert len(dataset) == 10
    item = dataset[3]
    assert sorted(item) == ["x", "y"]
    assert item["x"].tolist() == [6.0, 7.0] and item["y"].tolist() == [3.0]
    batches = list(DataLoader(dataset, batch_size=4))
    assert [b["x"].shape[0] for b in batches] == [4, 4, 2]
    bx, by = unpack_batch(batches[1])
    torch.testing.assert_close(bx, torch.tensor(x[4:8], dtype=torch.float32))
    torch.testing.assert_close(by, torch.tensor(y[4:8], dtype=torch.float32).unsqueeze(1))


def test_sample_dataset_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        SampleDataset(samples={"x": np.zeros((5, 2)), "y": np.zeros(4)})
    with pytest.raises(ValueError, match="non-empty dictionary"):
        SampleDataset(samples={})
    with pytest.raises(ValueError, match="non-empty dictionary"):
        SampleDataset(samples=[np.zeros(3)])
    with pytest.raises(ValueError, match="x contains NaN"):
        SampleDataset(samples={"x": np.array([1.0, np.nan]), "y": np.zeros(2)})
    with pytest.raises(TypeError, match="y must hold numbers"):
        SampleDataset(samples={"x": np.zeros(2), "y": np.array(["a", "b"])})


# --------------------------------------------------------------------------------------
# TensorBatches and split_indices
# --------------------------------------------------------------------------------------


def test_tensor_batches_cover_every_sample_once():
    x = torch.arange(10.0).unsqueeze(1)
    y = 2 * x
    batches = TensorBatches(x, y, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 3 and is_data_loader(batches)
    seen = []
    for bx, by in batches:
        torch.testing.assert_close(by, 2 * bx)  # pairs stay aligned under shuffling
        seen += bx[:, 0].tolist()
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    dropped = TensorBatches(x, y, batch_size=4, shuffle=False, drop_last=True)
    assert len(dropped) == 2 and [b[0].shape[0] for b in dropped] == [4, 4]
    ordered = [b[0][:, 0].tolist() for b in TensorBatches(x, y, batch_size=4, shuffle=False)]
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_tensor_batches_are_reproducible_with_a_generator():
    x = torch.arange(20.0).unsqueeze(1)
    first = [b[0].tolist() for b in TensorBatches(x, x, 5, generator=torch.Generator().manual_seed(3))]
    second = [b[0].tolist() for b in TensorBatches(x, x, 5, generator=torch.Generator().manual_seed(3))]
    assert first == second


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_tensor_batches_reject_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches(torch.zeros(4, 1), torch.zeros(4, 1), batch_size=batch_size)


def test_split_indices():
    rest, held_out = split_indices(100, 0.1, torch.Generator().manual_seed(0))
    assert len(held_out) == 10 and len(rest) == 90
    assert sorted(torch.cat([rest, held_out]).tolist()) == list(range(100))
    assert len(split_indices(100, 0.001)[1]) == 1  # at least one held out
    assert len(split_indices(10, 0.0)[1]) == 0
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        split_indices(10, 1.0)
    with pytest.raises(ValueError, match="too few"):
        split_indices(3, 0.5)
