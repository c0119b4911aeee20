r"""The wall time of :func:`mist_reg.estimate_mi` on class labels with one torch thread
(``cpu_threads=1``) and with the caller's threads (``cpu_threads="auto"``, the default, which
keeps one thread only where a critic network is trained).

For each task, one draw of ``--n`` samples is estimated ``--repeats`` times per setting, in
turns, after one warm-up; printed: the median seconds per setting, their ratio, and the two
estimates (equal up to float rounding: threads change the order of sums, not the model).

Usage::

    python -m recipes.benchmarks.label_threads --threads 2
    python -m recipes.benchmarks.label_threads --threads 2 --wide 20000
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import GaussianMixtureLabelTask, get_task

TASKS = ("label-k10-d64-s3", "label-k100-d128-s4", "steps-ring-d8-f0.2")


def time_settings(x: torch.Tensor, y: torch.Tensor, repeats: int) -> dict[str, tuple[float, float]]:
    r"""Median seconds and the estimate per ``cpu_threads`` setting, the settings taken in turns."""
    settings = {"1 thread": 1, "auto": "auto"}
    estimate_mi(x, y)  # warm-up: imports, first allocations
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    values: dict[str, float] = {}
    for _ in range(repeats):
        for name, threads in settings.items():
            start = time.perf_counter()
            values[name] = float(estimate_mi(x, y, cpu_threads=threads))
            seconds[name].append(time.perf_counter() - start)
    return {name: (statistics.median(seconds[name]), values[name]) for name in settings}


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--n", type=int, default=5000, help="samples per task")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="the caller's torch threads")
    parser.add_argument("--wide", type=int, default=0, help="also 10 classes in 768 dimensions, this many rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    draws = [(name, *get_task(name).sample(args.n, seed=0)) for name in args.tasks]
    if args.wide:
        draws.append(
            (f"label-k10-d768-s3 ({args.wide} rows)", *GaussianMixtureLabelTask(10, 768, 3.0).sample(args.wide, seed=0))
        )
    rows = []
    print(f"caller's torch threads: {args.threads}")
    print(f"{'task':40s} {'1 thread (s)':>13s} {'auto (s)':>9s} {'ratio':>6s}  estimates")
    for name, x, y in draws:
        timed = time_settings(x, y, args.repeats)
        (one, v1), (auto, v2) = timed["1 thread"], timed["auto"]
        print(f"{name:40s} {one:13.2f} {auto:9.2f} {auto / one:6.2f}  {v1:.4f} / {v2:.4f}")
        rows.append({"task": name, "one_thread": one, "auto": auto, "estimates": (v1, v2)})
    return rows


if __name__ == "__main__":
    main()
