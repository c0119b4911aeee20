r"""A sweep over a penalty weight: one complete run per weight, in sub-folders of the run.

``DIR/weight_<w>/`` is an ordinary run folder (config with ``weight`` instead of the list
``weights``, metrics, checkpoints, summary). A weight whose summary exists is not run
again, so an interrupted sweep restarted with the same command resumes at the weight it
was training, from that weight's last checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .distributed import barrier
from .run import Run

__all__ = ["run_sweep", "weight_folder"]


def weight_folder(weight: float) -> str:
    r"""The sub-folder name of a weight (``weight_0``, ``weight_0.1``, ``weight_10``)."""
    return f"weight_{weight:g}"


def run_sweep(
    root: Run, weights: Sequence[float], run_one: Callable[[float, Run], dict[str, Any]]
) -> list[dict[str, Any]]:
    r"""Calls ``run_one(weight, run)`` for each weight not finished yet and returns every
    weight's summary (with its ``weight``), in the order of ``weights``. The main process
    prints one line per weight as it finishes."""
    if not weights:
        raise ValueError("give at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative, got {list(weights)}")
    if len(set(weights)) != len(weights):
        raise ValueError(f"weights must be distinct, got {list(weights)}")
    config = {k: v for k, v in root.config.items() if k != "weights"}
    summaries = []
    for index, weight in enumerate(weights, 1):
        sub = Run(
            root.dir / weight_folder(weight),
            {**config, "weight": weight, "out": str(root.dir / weight_folder(weight))},
            root.is_main,
        )
        started = time.perf_counter()
        finished_before = sub.complete
        summary = sub.read_summary() if finished_before else run_one(weight, sub)
        barrier()
        if root.is_main:  # one line per weight, also with --no-progress
            status = (
                "finished before, summary read"
                if finished_before
                else f"finished in {time.perf_counter() - started:.1f} s"
            )
            print(f"weight {weight:g} ({index} of {len(weights)}): {status}; {sub.dir}", flush=True)
        summaries.append({"weight": weight, **{k: v for k, v in summary.items() if k != "weight"}})
    return summaries
