r"""Where the wall time of :func:`mist_reg.estimate_mi` goes, stage by stage, on one task.

The task's samples are drawn once; ``estimate_mi`` runs once to warm up, then ``--repeats``
times under :mod:`cProfile`. For each stage (a function of the library, named below) the
script prints the median over the repeats of its cumulative seconds per call of
``estimate_mi`` and its share of the total. Stages nest (a fit of the Gaussianizer happens
inside the fit of a fold), so the shares do not add up to one. The profiler's own overhead
is small here: the stages are few calls of large tensor operations.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.stage_times
    python -m recipes.benchmarks.stage_times --task sparse-outliers-50x50-s4-r0.6 --n 5000 --repeats 5
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import pstats
import statistics
import time
import warnings
from collections.abc import Callable

import torch

import mist_reg
from mist_reg.estimation.coordinates import fit_in_coordinates
from mist_reg.estimation.diagnostics import exact_dependence
from mist_reg.estimation.gaussian_estimate import gaussian_on_all_rows
from mist_reg.estimation.independent_blocks import independent_blocks
from mist_reg.estimation.preprocessing import MarginalGaussianizer
from mist_reg.estimation.typed_pair import read_pair
from mist_reg.functional.knn import ksg_terms
from mist_reg.nn.references.gaussian import GaussianLogRatio
from mist_reg.tasks import TASKS, get_task

# (label, function): the stages of the default route
STAGES: tuple[tuple[str, Callable], ...] = (
    ("column types (read_pair)", read_pair),
    ("exact-copy check", exact_dependence),
    ("independent-blocks screen", independent_blocks),
    ("KSG (every call of ksg_terms)", ksg_terms),
    ("Gaussianizer fits", MarginalGaussianizer.fit),
    ("Gaussianizer maps", MarginalGaussianizer.forward),
    ("fold fit (fit_in_coordinates)", fit_in_coordinates),
    ("Gaussian reference: regularisation choice", GaussianLogRatio._choose_regularisation),
    ("all-rows Gaussian MI", gaussian_on_all_rows),
)


def _key(function: Callable) -> tuple[str, int, str]:
    """The profiler's key of a function: its code's file, first line and name."""
    code = inspect.unwrap(function).__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def _stage_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Each stage's cumulative seconds in ``stats``."""
    timings = stats.stats  # type: ignore[attr-defined]
    return {label: (timings[_key(f)][3] if _key(f) in timings else 0.0) for label, f in STAGES}


def profile(task_name: str, n: int, repeats: int, seed: int = 0) -> list[dict[str, float | str]]:
    r"""Rows ``{"stage", "seconds", "share"}``: the median over ``repeats`` profiled calls of
    ``estimate_mi`` on ``n`` samples of the task, the total last."""
    x, y = get_task(task_name).sample(n, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mist_reg.estimate_mi(x, y, seed=seed)  # warm-up
        per_stage: dict[str, list[float]] = {label: [] for label, _ in STAGES}
        totals = []
        for _ in range(repeats):
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.enable()
            mist_reg.estimate_mi(x, y, seed=seed)
            profiler.disable()
            totals.append(time.perf_counter() - start)
            for label, seconds in _stage_seconds(pstats.Stats(profiler)).items():
                per_stage[label].append(seconds)
    total = statistics.median(totals)
    rows: list[dict[str, float | str]] = [
        {"stage": label, "seconds": statistics.median(times), "share": statistics.median(times) / total}
        for label, times in per_stage.items()
    ]
    rows.append({"stage": "estimate_mi, in all", "seconds": total, "share": 1.0})
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, float | str]]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--task", default="views-128x128-k8-n0.35", help="a task name of mist_reg.tasks")
    parser.add_argument("--n", type=int, default=5000, help="samples")
    parser.add_argument("--repeats", type=int, default=5, help="profiled calls")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.task not in TASKS:
        parser.error(
            f"unknown task {args.task!r}; python -c 'import mist_reg.tasks as t; print(sorted(t.TASKS))' lists them"
        )
    if args.n < 20 or args.repeats < 1 or args.threads < 1:
        parser.error("--n must be at least 20, --repeats and --threads at least 1")
    torch.set_num_threads(args.threads)
    rows = profile(args.task, args.n, args.repeats)
    print(f"{args.task}, {args.n} samples, median of {args.repeats} profiled calls, {args.threads} thread(s)\n")
    print("| stage | seconds | share of the call |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['stage']} | {row['seconds']:.3f} | {row['share']:.2f} |")
    return rows


if __name__ == "__main__":
    main()
