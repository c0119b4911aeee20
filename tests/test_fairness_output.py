"""The fairness recipe's ``--output-weight``: a second ``MILoss`` between the task head's
logits and ``S`` lowers the demographic-parity gap of the head, on tiny synthetic rows
whose label depends on ``S``; and the option is checked like the others."""

from __future__ import annotations

import json

import pytest
import torch
from recipe_utils import load_recipe
from torch import Tensor

from recipes.common.adult import TabularData
from recipes.common.fairness_eval import s_from_label
from recipes.common.fairness_model import Task, log_odds
from recipes.common.run import command_line

fairness = load_recipe("fairness")


def dependent_rows(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    r"""``n`` rows whose label agrees with a binary ``S`` 80% of the time: an input that
    is ``S`` plus a little noise and one that is the label plus more noise, so that the
    head reads ``S`` itself to predict the label (the gap of the true labels is 0.6)."""
    generator = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 2, (n,), generator=generator)
    label = torch.where(torch.rand(n, generator=generator) < 0.8, s, 1 - s)
    noise = torch.randn(n, 4, generator=generator)
    x = torch.stack([s + 0.1 * noise[:, 0], label + 0.8 * noise[:, 1], noise[:, 2], noise[:, 3]], 1)
    return x.float(), label, s


def synthetic_task() -> Task:
    x_train, y_train, s_train = dependent_rows(256, 0)
    x_test, y_test, s_test = dependent_rows(600, 1)
    data = TabularData("synthetic", x_train, y_train, x_test, y_test, ["s_proxy", "label_proxy", "n1", "n2"])
    return Task(data, s_train, s_test, False)


def run(tmp_path, monkeypatch, output_weight: float) -> dict:
    monkeypatch.setattr(fairness, "load_task", lambda config, is_main=True: synthetic_task())
    for plot in ("plot_training", "plot_method_curves"):  # figures are tested elsewhere; they cost a second each
        monkeypatch.setattr(fairness, plot, lambda *args, **kwargs: None)
    argv = ["--data", "adult", "--methods", "none", "--seeds", "0", "--steps", "100", "--batch-size", "128"]
    argv += ["--lr", "3e-3", "--penalty-warmup", "0.1", "--leakage-every", "0", "--readers", "linear"]
    argv += ["--no-progress", "--threads", "1", "--output-weight", str(output_weight)]
    return fairness.main([*argv, "--out", str(tmp_path / f"out_{output_weight:g}")])["runs"][0]


def test_output_weight_lowers_the_demographic_parity_gap(tmp_path, monkeypatch):
    plain, penalised = run(tmp_path, monkeypatch, 0.0), run(tmp_path, monkeypatch, 3.0)
    # the true labels differ by 0.6 between the groups; a head that reads S copies it
    assert plain["dp_gap_labels"] == pytest.approx(0.6, abs=0.06)
    assert plain["task_accuracy"] > 0.75 and plain["dp_gap"] > 0.4
    # with the logits penalised, the decision says much less of S, at a cost in accuracy
    assert penalised["dp_gap"] < 0.5 * plain["dp_gap"]
    assert penalised["task_accuracy"] > 0.6
    # a fresh reader of S from the logits alone: far above chance without the term, near it with
    assert plain["output_reader"] > 0.8 and penalised["output_reader"] < 0.65
    # the term's own estimate is logged beside the task loss, and falls as training goes on
    log = tmp_path / "out_3" / "none" / "seed_0" / "weight_0" / "metrics.jsonl"
    logged = [
        r["output_mi_estimate"] for r in map(json.loads, log.read_text().splitlines()) if "output_mi_estimate" in r
    ]
    assert len(logged) >= 2 and logged[-1] < logged[0]


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_bad_output_weight_is_a_one_line_error_before_anything_is_written(value, tmp_path, capsys):
    out = tmp_path / "never"
    try:
        code = command_line(fairness.main, ["--out", str(out), f"--output-weight={value}"])
    except SystemExit as stop:  # the option parser's own exit (a value that is not a finite number)
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ": error: --output-weight" in err[0]
    assert not out.exists()


def test_s_from_the_label_alone_is_the_r2_of_the_label_means_for_a_continuous_s():
    # S = label + N(0, 0.5^2) with balanced labels: R^2 = 0.25 / (0.25 + 0.25) = 0.5
    generator = torch.Generator().manual_seed(0)
    labels = [torch.randint(0, 2, (n,), generator=generator) for n in (4000, 4000)]
    s = [y + 0.5 * torch.randn(len(y), generator=generator) for y in labels]
    x = [torch.zeros(len(y), 1) for y in labels]
    task = Task(TabularData("synthetic", x[0], labels[0], x[1], labels[1]), s[0], s[1])
    assert s_from_label(task) == pytest.approx(0.5, abs=0.03)
    # classes: S equal to the label 80% of the time is read from it at 0.8
    agree = [torch.where(torch.rand(len(y), generator=generator) < 0.8, y, 1 - y) for y in labels]
    assert s_from_label(Task(task.data, agree[0], agree[1])) == pytest.approx(0.8, abs=0.02)


def test_the_output_penalty_reads_the_log_odds_that_fix_the_decision():
    logits = torch.tensor([[1.0, 3.0, 0.0], [5.0, 4.0, 7.0]])
    odds = log_odds(logits)
    assert odds.tolist() == [[2.0, -1.0], [-1.0, 2.0]]
    # a common offset of the logits (which the softmax ignores) leaves them unchanged
    assert torch.equal(log_odds(logits + torch.tensor([[10.0], [-3.0]])), odds)
    # and they give back the probabilities
    probabilities = torch.softmax(torch.cat([torch.zeros(2, 1), odds], 1), 1)
    assert torch.allclose(probabilities, torch.softmax(logits, 1))


def test_the_shuffled_reader_is_the_chance_floor_of_the_strongest_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(fairness, "load_task", lambda config, is_main=True: synthetic_task())
    monkeypatch.setattr(fairness, "plot_training", lambda *args, **kwargs: None)
    monkeypatch.setattr(fairness, "plot_method_curves", lambda *args, **kwargs: None)
    argv = ["--data", "adult", "--methods", "none", "--seeds", "0", "--steps", "20", "--leakage-every", "0"]
    argv += ["--readers", "linear", "--no-progress", "--threads", "1", "--shuffled-readers"]
    summary = fairness.main([*argv, "--out", str(tmp_path / "out")])
    result = summary["runs"][0]
    # the features hold S almost exactly; with S shuffled over the rows no reader finds it
    assert result["reader"] > 0.9
    chance = result["s_chance"]
    assert chance - 0.02 <= result["shuffled_reader"] < chance + 0.08
    assert "S shuffled" in (tmp_path / "out" / "summary.md").read_text()
