"""The families benchmark: one tiny run end to end, resumed, and the hand-written baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
from recipe_utils import load_recipe

from mist_reg.tasks import get_task

benchmark = load_recipe("benchmarks.families")
baselines = load_recipe("benchmarks.baselines")


def test_a_tiny_run_records_every_column_and_writes_the_tables(tmp_path, capsys):
    argv = ["--tasks", "additive-1x1-h0.3", "--n", "600", "--no-torch-mist", "--out", str(tmp_path)]
    records = benchmark.main(argv)
    assert sorted(r["estimator"] for r in records) == ["baseline", "ksg", "mist_reg"]
    for r in records:
        assert r["truth"] == pytest.approx(0.3 - np.log(0.6)) and r["family"] == "additive" and r["seconds"] >= 0
    assert abs(next(r for r in records if r["estimator"] == "ksg")["estimate"] - records[0]["truth"]) < 0.15
    table = (tmp_path / "families.md").read_text()
    assert "| additive-1x1-h0.3 | additive | 0.811 |" in table and "| all | mist_reg | 1 |" in table
    assert json.loads((tmp_path / "families.summary.json").read_text())["all"]["ksg"]["tasks"] == 1
    benchmark.main(argv)  # resumed: nothing is estimated twice
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 3
    assert "mist_reg" in capsys.readouterr().out


def test_discrete_tasks_skip_ksg_and_use_the_plug_in_baseline(tmp_path):
    argv = ["--tasks", "discrete-4x4-b2", "--n", "4000", "--estimators", "ksg", "baseline", "--out", str(tmp_path)]
    (record,) = benchmark.main(argv)
    assert record["estimator_name"] == "plug-in (Miller-Madow)"
    assert abs(record["estimate"] - record["truth"]) < 0.03


def test_label_and_continuous_baselines_recover_simple_truths():
    task = get_task("label-k2-d8-s2")  # two Gaussian classes: the logistic model is exact
    x, labels = task.sample(4000, seed=0)
    name, value = baselines.baseline_mi(x.numpy(), labels.numpy(), discrete_y=(0,))
    assert name == "logistic regression" and abs(value - task.mutual_information) < 0.04
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 2))
    y = z[:, :1] * 0.8 + 0.6 * rng.normal(size=(4000, 1))
    name, value = baselines.baseline_mi(z, y)
    assert name.startswith("Gaussian") and abs(value - (-0.5 * np.log(1 - 0.64))) < 0.05


def test_unknown_task_is_refused():
    with pytest.raises(SystemExit):
        benchmark.main(["--tasks", "gaussian-5x5", "--no-torch-mist"])
