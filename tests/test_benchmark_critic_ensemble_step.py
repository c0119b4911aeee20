"""The critic-ensemble step benchmark runs on tiny sizes and reports finite times and ratios."""

from __future__ import annotations

import math

import pytest
from recipe_utils import load_recipe

benchmark = load_recipe("benchmarks.critic_ensemble_step")


def test_it_times_every_variant_against_one_critic(capsys):
    rows = benchmark.main(["--dims", "2", "3", "--members", "2", "--repeats", "2"])
    assert [(r["dim"], r["variant"]) for r in rows][:3] == [
        (2, "one critic"),
        (2, "2 critics, one by one"),
        (2, "2 members as one network"),
    ]
    assert len(rows) == 6 and all(math.isfinite(r["ms"]) and r["ms"] > 0 for r in rows)
    for reference, *others in (rows[:3], rows[3:]):
        assert reference["ratio"] == 1.0
        assert all(r["ratio"] == pytest.approx(r["ms"] / reference["ms"]) for r in others)
    assert "| 3x3 | 2 members as one network |" in capsys.readouterr().out


def test_bad_sizes_are_refused():
    with pytest.raises(SystemExit):
        benchmark.main(["--members", "0"])
