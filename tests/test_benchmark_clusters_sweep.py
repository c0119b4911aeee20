"""recipes/benchmarks/clusters_sweep.py: its options are checked before anything is fitted."""

from __future__ import annotations

import pytest

from recipes.benchmarks import clusters_sweep


def test_too_few_samples_are_refused_before_any_fit(capsys):
    with pytest.raises(SystemExit):
        clusters_sweep.main(["--n", "10"])
    assert "--n must be at least 100, got 10" in capsys.readouterr().err


def test_every_configuration_lies_outside_the_clusters_family_splits():
    from mist_reg.tasks import family_tasks

    names = {f"clusters-{dx}x{dy}-c{c}-s{s:g}-e{e:g}" for dx, dy, c, s, e in clusters_sweep.CONFIGURATIONS}
    assert len(names) == len(clusters_sweep.CONFIGURATIONS)
    assert not names & set(family_tasks("all", ["clusters", "high-mi"]) + family_tasks("unseen", ["clusters"]))
