"""The critic-spread benchmark estimates one draw over seeds with the averaged critic on and off."""

from __future__ import annotations

import math

import pytest
from recipe_utils import load_recipe

benchmark = load_recipe("benchmarks.critic_spread")


def test_it_reports_both_variants_against_the_truth(capsys):
    rows = benchmark.main(["--tasks", "gaussian-5x5", "--seeds", "2", "--n", "300"])
    assert [r["variant"] for r in rows] == ["first fit", "averaged"]
    for row in rows:
        assert row["truth"] == pytest.approx(1.0, abs=0.1) and math.isfinite(row["mean"])
        assert row["min"] <= row["mean"] <= row["max"] and row["sd"] >= 0 and row["seconds"] > 0
        assert abs(row["mean"] - row["truth"]) < 0.5  # 300 rows of a 5x5 Gaussian
    assert "| gaussian-5x5 |" in capsys.readouterr().out


def test_bad_arguments_are_refused_before_anything_runs():
    with pytest.raises(SystemExit):
        benchmark.main(["--seeds", "0"])
    with pytest.raises(ValueError, match="no-such-task"):
        benchmark.main(["--tasks", "no-such-task"])
