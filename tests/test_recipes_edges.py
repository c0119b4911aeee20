"""Edges of the recipe machinery: a run killed before its first checkpoint, a resumed run
(its message and its clocks), unreadable checkpoints, invalid settings, progress output,
a finished run started again, and the sweep plots."""

from __future__ import annotations

import json
import time

import pytest
import torch
from recipe_utils import load_recipe
from torch import nn

from recipes.common import plots
from recipes.common.checkpoint import atomic_save, load_checkpoint
from recipes.common.config import parse_config
from recipes.common.distributed import DistributedContext
from recipes.common.loop import TrainState, _postfix, train
from recipes.common.run import Run, command_line
from recipes.common.sweep import run_sweep

contrastive = load_recipe("contrastive")

CPU = DistributedContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def tiny_state() -> TrainState:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    return TrainState({"model": model}, {"optimizer": torch.optim.SGD(model.parameters(), lr=0.1)})


def step_fn(state: TrainState, stop_at: int | None = None, pause: float = 0.0):
    model, optimizer = state.modules["model"], state.optimizers["optimizer"]

    def step(step: int) -> dict[str, torch.Tensor]:
        if step == stop_at:
            raise KeyboardInterrupt  # a run killed at this step
        time.sleep(pause)
        loss = model(torch.ones(4, 2)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    return step


def records(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.metrics_path.read_text().splitlines()]


def test_a_run_killed_before_its_first_checkpoint_logs_each_step_once(tmp_path):
    run = Run(tmp_path / "r", {"recipe": "test", "steps": 40})
    state = tiny_state()
    with pytest.raises(KeyboardInterrupt):
        train(
            run,
            state,
            step_fn(state, stop_at=35),
            steps=40,
            context=CPU,
            log_every=10,
            checkpoint_every=100,
            progress=False,
        )
    assert [r["step"] for r in records(run)] == [10, 20, 30] and not run.checkpoint_path.exists()
    state = tiny_state()
    train(run, state, step_fn(state), steps=40, context=CPU, log_every=10, checkpoint_every=100, progress=False)
    assert [r["step"] for r in records(run)] == [10, 20, 30, 40]


def test_a_resumed_run_says_so_and_its_clocks_continue(tmp_path, capsys):
    run = Run(tmp_path / "r", {"recipe": "test", "steps": 30})
    state = tiny_state()
    with pytest.raises(KeyboardInterrupt):
        train(
            run,
            state,
            step_fn(state, stop_at=25, pause=0.01),
            steps=30,
            context=CPU,
            log_every=5,
            checkpoint_every=10,
            progress=False,
        )
    first_part = run.train_seconds
    assert capsys.readouterr().out == ""  # a fresh start says nothing
    seconds_at_20 = records(run)[3]["seconds"]
    assert seconds_at_20 >= 0.2
    run = Run(tmp_path / "r", {"recipe": "test", "steps": 30})
    state = tiny_state()
    start = train(
        run, state, step_fn(state, pause=0.01), steps=30, context=CPU, log_every=5, checkpoint_every=10, progress=False
    )
    assert start == 20
    assert f"resuming {run.dir} at step 20 of 30" in capsys.readouterr().out
    log = records(run)
    assert [r["step"] for r in log] == [5, 10, 15, 20, 25, 30]
    assert all(a["seconds"] <= b["seconds"] for a, b in zip(log, log[1:]))  # seconds do not restart
    assert log[-1]["seconds"] >= 0.3
    assert run.train_seconds >= 0.3 and first_part is None  # the interrupted part set nothing


def test_resume_message(tmp_path, capsys):
    run = Run(tmp_path / "r", {"recipe": "test", "steps": 20})
    state = tiny_state()
    train(run, state, step_fn(state), steps=10, context=CPU, log_every=5, checkpoint_every=5, progress=False)
    capsys.readouterr()
    state = tiny_state()
    train(
        run,
        state,
        step_fn(state),
        steps=20,
        context=CPU,
        log_every=5,
        checkpoint_every=5,
        progress=False,
        description="contrastive",
    )
    out = capsys.readouterr().out
    assert out.startswith(f"contrastive: resuming {run.dir} at step 10 of 20")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "not a dict"])
def test_unreadable_checkpoint_names_the_file_and_no_resume(tmp_path, damage):
    path = tmp_path / "checkpoints" / "last.pt"
    atomic_save({"format": 1, "step": 3, "weights": torch.randn(1000)}, path)
    if damage == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 10)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    else:
        torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match="--no-resume") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--batch-size", "0"], "--batch-size must be at least 2, got 0"),
        (["--batch-size", "-8"], "--batch-size must be at least 2, got -8"),
        (["--steps", "0"], "--steps must be at least 1, got 0"),
    ],
)
def test_invalid_counts_are_usage_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as info:
        parse_config(contrastive.ContrastiveConfig, flags)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_unknown_config_key_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"bogus": 1}')
    with pytest.raises(SystemExit) as info:
        parse_config(contrastive.ContrastiveConfig, ["--config", str(path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"in {path}: unknown config keys ['bogus']" in err and "Traceback" not in err


def test_progress_shows_small_values_in_scientific_notation():
    assert _postfix("lr", 2e-4) == "2.00e-04"
    assert _postfix("lr", 0.0) == "0.00e+00"
    assert _postfix("loss", 1.23456) == "1.235"
    assert _postfix("mi_estimate", 0.0004) == "4.00e-04"


def test_sweep_prints_one_line_per_weight(tmp_path, capsys):
    root = Run(tmp_path / "s", {"recipe": "test", "weights": [0, 1]})

    def run_one(weight: float, run: Run) -> dict:
        run.write_summary({"value": weight}, "one weight")
        return {"value": weight}

    run_sweep(root, [0.0, 1.0], run_one)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("weight 0 (1 of 2): finished in") and "weight_1" in lines[1]
    run_sweep(root, [0.0, 1.0], run_one)
    assert "finished before" in capsys.readouterr().out


def test_finished_contrastive_run_prints_its_summary(tmp_path, capsys):
    argv = [
        "--out",
        str(tmp_path / "c"),
        "--threads",
        "1",
        "--no-progress",
        "--image-size",
        "8",
        "--steps",
        "2",
        "--batch-size",
        "16",
        "--width",
        "4",
    ]
    first = contrastive.main(argv)
    capsys.readouterr()
    contrastive.main(argv)
    out = capsys.readouterr().out
    assert "holds a finished run" in out
    assert f"linear probe {first['linear_probe_accuracy']:.4f}" in out


def test_sweep_plot_ticks_legend_error_bars_and_flat_panels(tmp_path, monkeypatch):
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda plt, fig, path, title: saved.setdefault("fig", fig))
    plots.plot_tradeoff(
        [0, 0.3, 1, 3],
        {
            "MI": [0.9, 0.5, 0.2, 0.1],
            "content accuracy": [0.970, 0.966, 0.968, 0.970],
            "S probe": [0.9, 0.85, 0.8, 0.8],
        },
        tmp_path / "sweep.png",
        xlabel="penalty weight",
        xscale="symlog",
        errors={"MI": [0.05, 0.05, 0.04, 0.03]},
        reference={"S probe": (0.79, "S from the label alone")},
    )
    mi, accuracy, probe = saved["fig"].axes[:3]
    assert [t.get_text() for t in mi.get_xticklabels()] == ["0", "0.3", "1", "3"]
    assert mi.containers and mi.containers[0].has_yerr  # error bars of the standard errors
    assert [t.get_text() for t in probe.get_legend().get_texts()] == ["S from the label alone"]
    low, high = accuracy.get_ylim()
    assert high - low >= 0.05 * 0.97  # a 0.004 change is not drawn across the whole panel


def test_command_line_errors_are_one_line(capsys):
    def bad_settings(argv):
        raise ValueError("runs/x holds a run with another configuration")

    def interrupted(argv):
        raise KeyboardInterrupt

    assert command_line(bad_settings, []) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: runs/x holds a run with another configuration" in err
    assert command_line(interrupted, []) == 130
    assert "resumes from the last checkpoint" in capsys.readouterr().err
