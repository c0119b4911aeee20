"""The off-list Student-t benchmark: its samplers' truths, and one small run end to end."""

from __future__ import annotations

import math

import pytest
import torch
from recipe_utils import load_recipe

benchmark = load_recipe("benchmarks.student_t")


def test_samplers_give_pairs_of_the_stated_widths_and_truths():
    for name, sample in benchmark.CASES.items():
        x, y, truth = sample(200, 0)
        assert x.shape[0] == y.shape[0] == 200 and torch.isfinite(x).all() and torch.isfinite(y).all(), name
        assert truth is None or truth >= 0
    assert benchmark.CASES["independent-t-blocks-3x3"](10, 0)[2] == 0.0
    # a known closed form: BMI's student-identity-2-2-1 (df 1, 2x2) has 0.432 nats
    assert benchmark.CASES["t-df1-2x2"](10, 0)[2] == pytest.approx(0.4324, abs=1e-3)


def test_a_small_run_reports_both_estimates(capsys):
    records = benchmark.main(["--cases", "t-df1-2x2", "--n-samples", "1500"])
    (record,) = records
    assert record["df"] in (1.0, 1.5, 2.0) or math.isinf(record["df"])
    # the default is closer to the truth than the Gaussian start on this heavy-tailed pair
    assert abs(record["default"] - record["truth"]) < abs(record["gaussian_start"] - record["truth"]) + 0.02
    out = capsys.readouterr().out
    assert "| t-df1-2x2 | 0 | 0.432 |" in out and "mean abs. error" in out


def test_too_few_samples_are_refused():
    with pytest.raises(SystemExit):
        benchmark.main(["--n-samples", "10"])
