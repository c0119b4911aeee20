"""A recipe killed with SIGKILL and started again with the same command continues from its
last checkpoint: no step is lost or repeated in the metrics log, and the results are those
of an uninterrupted run. The fairness recipe is used: its state is the model, the
optimiser with its schedule and the random streams of the batches and augmentations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import torch
from recipe_utils import load_recipe, recipe_command, subprocess_env

fairness = load_recipe("fairness")

ARGS = [
    "--no-progress",
    "--threads",
    "1",
    "--image-size",
    "8",
    "--steps",
    "80",
    "--batch-size",
    "32",
    "--width",
    "8",
    "--weights",
    "1",
    "--log-every",
    "5",
    "--checkpoint-every",
    "10",
    "--leakage-every",
    "0",
]


def checkpoint_step(path) -> int:
    try:
        return int(torch.load(path, weights_only=True)["step"])
    except (OSError, RuntimeError, EOFError, KeyError):
        return 0  # absent, or replaced while reading


def test_sigkill_and_restart_continues_exactly(tmp_path):
    out = tmp_path / "killed"
    command = [*recipe_command("fairness"), "--out", str(out), *ARGS]
    checkpoint = out / "mi" / "seed_0" / "weight_1" / "checkpoints" / "last.pt"
    process = subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while checkpoint_step(checkpoint) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, (
        "the run finished before it could be killed: " + process.stderr.read().decode()[-2000:]
    )
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = checkpoint_step(checkpoint)
    assert 20 <= killed_at < 80

    done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    reference = fairness.main(["--out", str(tmp_path / "straight"), *ARGS])
    resumed = [
        json.loads(line) for line in (out / "mi" / "seed_0" / "weight_1" / "metrics.jsonl").read_text().splitlines()
    ]
    straight = [
        json.loads(line)
        for line in (tmp_path / "straight" / "mi" / "seed_0" / "weight_1" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["step"] for r in resumed] == list(range(5, 81, 5))  # none lost, none repeated
    for a, b in zip(resumed, straight):
        for key in ("loss", "task_loss", "mi_estimate"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (a["step"], key)
    summary = json.loads((out / "summary.json").read_text())["runs"][0]
    assert summary["task_accuracy"] == pytest.approx(reference["runs"][0]["task_accuracy"], abs=1e-6)
    assert summary["reader"] == pytest.approx(reference["runs"][0]["reader"], abs=0.01)
