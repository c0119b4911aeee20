"""The stage-times benchmark profiles estimate_mi on a small task and finds its stages."""

from __future__ import annotations

import pytest
from recipe_utils import load_recipe

benchmark = load_recipe("benchmarks.stage_times")


def test_it_finds_the_stages_of_a_wide_gaussian_task(capsys):
    rows = benchmark.main(["--task", "views-64x64-k8-n0.5", "--n", "400", "--repeats", "1"])
    seconds = {row["stage"]: row["seconds"] for row in rows}
    total = seconds.pop("estimate_mi, in all")
    # a wide Gaussian view goes through every stage but KSG (one-dimensional pairs only)
    assert seconds.pop("KSG (every call of ksg_terms)") == 0.0
    assert all(0 < s <= total for s in seconds.values()), seconds
    assert seconds["Gaussianizer fits"] < seconds["fold fit (fit_in_coordinates)"]
    assert "| exact-copy check |" in capsys.readouterr().out


def test_an_unknown_task_is_named():
    with pytest.raises(SystemExit):
        benchmark.main(["--task", "no-such-task"])
