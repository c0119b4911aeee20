"""The ensemble-step benchmark script runs on tiny sizes and reports finite times and ratios."""

from __future__ import annotations

import math

import pytest
from recipe_utils import load_recipe

benchmark = load_recipe("benchmarks.ensemble_step")


def test_it_times_every_variant_against_the_one_by_one_reference(capsys):
    rows = benchmark.main(["--dims", "2", "5", "--members", "2", "--repeats", "2"])
    assert [(r["dim"], r["variant"]) for r in rows][:3] == [
        (2, "2 networks, one by one"),
        (2, "one batched network"),
        (2, "batched, with one-column networks of 16 units"),
    ]
    assert len(rows) == 6 and all(math.isfinite(r["ms"]) and r["ms"] > 0 for r in rows)
    for reference, *others in (rows[:3], rows[3:]):
        assert reference["ratio"] == 1.0
        assert all(r["ratio"] == pytest.approx(r["ms"] / reference["ms"]) for r in others)
    assert "| 5 | one batched network |" in capsys.readouterr().out


def test_bad_sizes_are_refused():
    with pytest.raises(SystemExit):
        benchmark.main(["--dims", "0"])
