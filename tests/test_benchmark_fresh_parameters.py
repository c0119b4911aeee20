"""recipes/benchmarks/fresh_parameters.py: options checked first; no draw is a task of a split."""

from __future__ import annotations

import pytest

from mist_reg.tasks import family_tasks, monte_carlo
from recipes.benchmarks import fresh_parameters


def test_too_few_samples_are_refused_before_any_fit(capsys):
    with pytest.raises(SystemExit):
        fresh_parameters.main(["--n", "10"])
    assert "--n must be at least 100, got 10" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fresh_parameters.main(["--threads", "0"])
    assert "--threads must be at least 1, got 0" in capsys.readouterr().err


class _AnyTruth(dict):
    """A truth cache that holds every key: tasks are built for their names, not their truths."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> tuple[float, float]:
        return (1.0, 0.0)


def test_no_fresh_draw_is_a_task_of_any_split(monkeypatch):
    monkeypatch.setattr(monte_carlo, "_computed", _AnyTruth())  # no Monte Carlo truth is computed
    names = [factory().name for factories in fresh_parameters.FRESH.values() for factory in factories]
    assert len(set(names)) == len(names)
    assert not set(names) & set(family_tasks("all") + family_tasks("unseen"))


def test_the_summary_counts_draws_within_five_percent_and_within_one_and_a_half_times():
    line = fresh_parameters._summary("all", [(1.0, 1.04, 0.5), (1.0, 0.6, 1.5), (2.0, 3.5, 1.0)])
    assert "3 draws" in line and "within 5% 1/3" in line and "within 1.5x 1/3" in line
    assert "mean abs. error 0.6467" in line and "median s 1.00" in line
