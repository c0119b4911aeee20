"""recipes/benchmarks/label_threads.py: both thread settings run and give the same estimate."""

from __future__ import annotations

import pytest
import torch

from recipes.benchmarks import label_threads


def test_both_settings_estimate_the_same_label_information():
    before = torch.get_num_threads()
    try:
        (row,) = label_threads.main(["--tasks", "label-k2-d8-s2", "--n", "600", "--repeats", "1", "--threads", "2"])
    finally:
        torch.set_num_threads(before)
    one, auto = row["estimates"]
    assert one == pytest.approx(auto, abs=1e-6) and 0.1 < one < 0.5  # the truth: 0.301 nats
    assert row["one_thread"] > 0 and row["auto"] > 0
