"""The penalty-cost benchmark script runs on tiny sizes and reports finite times and ratios."""

from __future__ import annotations

import argparse
import math

import pytest
from recipe_utils import load_recipe

benchmark = load_recipe("benchmarks.penalty_cost")


def test_it_times_every_penalty_and_the_ratio(capsys):
    rows = benchmark.main(["--sizes", "16x2", "32x4", "--repeats", "2"])
    assert [(r["n"], r["d"]) for r in rows] == [(16, 2), (32, 4)]
    for row in rows:
        assert all(math.isfinite(v) and v > 0 for k, v in row.items() if k not in ("n", "d"))
        assert row["ratio"] == pytest.approx(row["MILoss('kernel')"] / row["MMD (reference)"])
        assert row["club_ratio"] == pytest.approx(row["MILoss('club')"] / row["MMD (reference)"])
        assert row["club_float_ratio"] == pytest.approx(row["MILoss('club'), float S"] / row["MMD (reference)"])
    assert "| 32 | 4 |" in capsys.readouterr().out


def test_bad_sizes_are_named():
    with pytest.raises(argparse.ArgumentTypeError, match="NxD with N >= 3"):
        benchmark.parse_size("2x4")
    with pytest.raises(argparse.ArgumentTypeError, match="got '8-2'"):
        benchmark.parse_size("8-2")
