"""The contrastive recipe under torchrun with 2 CPU processes (gloo): negatives are
gathered across ranks with gradients, so the run must compute what one process computes
on the same global batches."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from recipe_utils import load_recipe, subprocess_env

contrastive = load_recipe("contrastive")

TINY = [
    "--no-progress",
    "--threads",
    "1",
    "--image-size",
    "8",
    "--steps",
    "10",
    "--batch-size",
    "32",
    "--width",
    "4",
    "--log-every",
    "2",
    "--checkpoint-every",
    "5",
]


def records(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_processes_match_one(tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run"] if shutil.which("torchrun") is None else ["torchrun"]
    command = [
        *launcher,
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "recipes.contrastive",
        "--out",
        str(tmp_path / "ddp"),
        *TINY,
    ]
    done = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-8000:]
    single = contrastive.main(["--out", str(tmp_path / "single"), *TINY])

    ddp, one = records(tmp_path / "ddp"), records(tmp_path / "single")
    assert [r["step"] for r in ddp] == [r["step"] for r in one] == [2, 4, 6, 8, 10]
    for a, b in zip(ddp, one):
        # the InfoNCE estimate of the whole global batch of 32, not of a local batch of 16
        assert a["mi_estimate"] == pytest.approx(b["mi_estimate"], abs=1e-5)
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["linear_probe_accuracy"] == pytest.approx(single["linear_probe_accuracy"], abs=0.01)
    a = torch.load(tmp_path / "ddp" / "checkpoints" / "last.pt", weights_only=True)["state"]["modules"]["model"]
    b = torch.load(tmp_path / "single" / "checkpoints" / "last.pt", weights_only=True)["state"]["modules"]["model"]
    for name in b:
        torch.testing.assert_close(a[name], b[name], atol=1e-4, rtol=1e-4)
