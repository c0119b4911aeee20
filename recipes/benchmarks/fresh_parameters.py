r"""The default :func:`mist_reg.estimate_mi` on draws at parameters outside every split of
:mod:`mist_reg.tasks.families`: for each family, tasks of new sizes, strengths and seeds of
their own structure, one draw each (:data:`FRESH`); ``high-mi`` holds mixed columns, clusters
and additive noise at 3-8 nats, ``wide-sparse`` a few correlated pairs among 300-500 columns
of outliers, and ``wide-clusters`` clusters in 16-48 joint dimensions (``elongation`` 1:
round clusters that differ only in their means, the shape of class structure in embeddings),
``shaped-clusters`` elongated clusters (``elongation`` 2.5-5) in 12-40 joint dimensions, whose
shapes differ from one cluster to the next, ``wave-index`` one column that is the sine of a
projection of 6-48 columns plus noise (``RegressionTask("wave", ...)``), ``interaction-index``
one column that is the product of two projections of 3-24 columns plus noise
(``RegressionTask("interaction", ...)``), ``additive-index`` one column that is a sum of a
wave or a kink of each of 5-40 columns plus noise (``"ripple"``, ``"kinks"``).

Printed per draw: the truth (Monte Carlo ones with their standard error), the estimate,
their ratio, the estimator reported and the seconds; then, per family and in all, the mean
abs. error, the count within 5% of the truth and within 1.5x, and the median seconds. Run it
on two commits to compare them on the same draws.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.fresh_parameters
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.fresh_parameters --families clusters regression
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial as _P

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import (
    AdditiveUniformTask,
    BentLabelTask,
    ClusteredMixtureTask,
    GaussianMixtureLabelTask,
    MixedColumnsTask,
    PeriodicTask,
    SparseSignalTask,
    StepLabelTask,
    Task,
    two_views,
)
from mist_reg.tasks.discrete import discrete_pair
from mist_reg.tasks.regression import RegressionTask


def _clusters(first_seed: int, *shapes: tuple[int, int, int, float, float]) -> tuple[Callable[[], Task], ...]:
    r"""Cluster tasks ``(dim_x, dim_y, clusters, spread, elongation)``, structure seeds from ``first_seed`` on."""
    return tuple(_P(ClusteredMixtureTask, *shape, seed=first_seed + i) for i, shape in enumerate(shapes))


FRESH: dict[str, tuple[Callable[[], Task], ...]] = {
    "clusters": _clusters(
        11,
        (1, 2, 4, 2.0, 3.0),
        (2, 2, 2, 4.0, 1.0),
        (3, 2, 10, 2.0, 20.0),
        (6, 6, 4, 2.0, 4.0),
        (2, 2, 5, 1.0, 8.0),
        (4, 3, 3, 4.0, 3.0),
        (1, 1, 6, 3.0, 10.0),
        (3, 3, 8, 3.0, 2.0),
        (5, 2, 6, 2.5, 15.0),
        (2, 4, 3, 1.5, 30.0),
    ),
    "wide-clusters": _clusters(
        41,
        (8, 8, 6, 1.0, 1.0),
        (12, 6, 8, 0.8, 1.0),
        (16, 16, 12, 0.7, 2.0),
        (24, 24, 6, 0.5, 1.0),
        (10, 10, 20, 1.0, 1.5),
        (32, 16, 10, 0.4, 1.0),
    ),
    "shaped-clusters": _clusters(
        51,
        (6, 6, 5, 1.2, 3.0),
        (10, 6, 8, 1.0, 4.0),
        (12, 12, 6, 1.5, 2.5),
        (8, 16, 10, 0.8, 5.0),
        (20, 20, 8, 1.0, 3.0),
    ),
    "mixed": (
        _P(MixedColumnsTask, 2, 6, 3, dim_y=2, signal=1.2, seed=21),
        _P(MixedColumnsTask, 4, 2, 1, dim_y=1, seed=22),
        _P(MixedColumnsTask, 1, 3, 5, n_classes=4, seed=23),
        _P(MixedColumnsTask, 3, 5, 2, dim_y=4, signal=0.7, seed=24),
    ),
    "periodic": (_P(PeriodicTask, 2, 1.5, 0.4), _P(PeriodicTask, 3, 5.0, 0.2), _P(PeriodicTask, 6, 2.0, 0.3)),
    "additive": (_P(AdditiveUniformTask, 1, 0.05), _P(AdditiveUniformTask, 4, 0.3), _P(AdditiveUniformTask, 2, 1.5)),
    "sparse-outliers": (
        _P(SparseSignalTask, 30, 20, 2, 0.8, seed=21),
        _P(SparseSignalTask, 8, 8, 1, 0.3, seed=22),
        _P(SparseSignalTask, 60, 60, 5, 0.5, seed=23),
    ),
    "wide-sparse": (
        _P(SparseSignalTask, 150, 150, 2, 0.6, seed=51),
        _P(SparseSignalTask, 200, 100, 3, 0.5, seed=52),
        _P(SparseSignalTask, 250, 250, 4, 0.4, seed=53),
    ),
    "regression": tuple(
        _P(RegressionTask, f, d, noise)
        for f, d, noise in [
            ("relu", 4, 0.2),
            ("tanh", 32, 0.5),
            ("norm", 16, 0.3),
            ("sincos", 5, 0.3),
            ("product", 2, 0.1),
            ("cubic", 8, 0.3),
        ]
    ),
    "wave-index": tuple(
        _P(RegressionTask, "wave", d, noise) for d, noise in [(6, 0.3), (12, 0.2), (24, 0.4), (48, 0.3)]
    ),
    "interaction-index": tuple(
        _P(RegressionTask, "interaction", d, noise)
        for d, noise in [(3, 0.2), (6, 0.3), (10, 0.2), (16, 0.3), (24, 0.3)]
    ),
    "additive-index": tuple(
        _P(RegressionTask, f, d, noise)
        for f, d, noise in [("ripple", 5, 0.3), ("ripple", 20, 0.3), ("kinks", 8, 0.2), ("kinks", 40, 0.3)]
    ),
    "labels": (
        _P(GaussianMixtureLabelTask, 3, 32, 2.5, seed=21),
        _P(GaussianMixtureLabelTask, 30, 128, 4.0, seed=22),
        _P(GaussianMixtureLabelTask, 2, 8, 1.0, seed=23),
        _P(BentLabelTask, 6, 10, 2.5, 40, "tanh", 2.5, seed=9),
        _P(StepLabelTask, "ring", 4, 0.15),
        _P(StepLabelTask, "xor", 8, 0.05),
    ),
    "discrete": (
        _P(discrete_pair, 7, 3, 1.0, seed=21),
        _P(discrete_pair, 30, 30, 3.0, seed=22),
        _P(discrete_pair, (2, 5), 6, 2.0, seed=23),
    ),
    "views": (_P(two_views, 48, 3, 0.4, seed=21), _P(two_views, 200, 16, 0.5, seed=22)),
    "high-mi": (
        _P(MixedColumnsTask, 3, 4, 3, dim_y=3, signal=2.5, noise=0.3, seed=5),
        _P(MixedColumnsTask, 2, 5, 2, dim_y=2, signal=3.0, noise=0.2, seed=6),
        _P(ClusteredMixtureTask, 2, 2, 5, 5.0, 25.0, seed=31),
        _P(AdditiveUniformTask, 3, 0.08),
    ),
}
"""Task factories per family, at parameters (and structure seeds) that no split holds."""


def _summary(label: str, records: list[tuple[float, float, float]]) -> str:
    errors = [abs(value - truth) for truth, value, _ in records]
    close = sum(abs(value - truth) <= 0.05 * truth for truth, value, _ in records)
    within = sum(value > 0 and max(value / truth, truth / value) <= 1.5 for truth, value, _ in records)
    seconds = statistics.median(s for _, _, s in records)
    n = len(records)
    return (
        f"{label:16s} {n:3d} draws  mean abs. error {statistics.fmean(errors):.4f}  within 5% {close}/{n}  "
        f"within 1.5x {within}/{n}  median s {seconds:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", nargs="+", choices=sorted(FRESH), default=sorted(FRESH))
    parser.add_argument("--n", type=int, default=5000, help="samples per draw")
    parser.add_argument("--sample-seed", type=int, default=21, help="seed of the samples drawn")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.n < 100:
        parser.error(f"--n must be at least 100, got {args.n}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    results: dict[str, list[tuple[float, float, float]]] = {}
    print(f"{'task':36s} {'truth':>14s} {'estimate':>9s} {'ratio':>6s}  estimator (s)")
    for family in args.families:
        for factory in FRESH[family]:
            task = factory()
            x, y = task.sample(args.n, seed=args.sample_seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = estimate_mi(x, y)
            seconds = time.perf_counter() - start
            truth, value = task.mutual_information, float(result)
            results.setdefault(family, []).append((truth, value, seconds))
            print(
                f"{task.name:36s} {truth:7.3f} +- {task.mutual_information_se:.3f} {value:9.3f} "
                f"{value / truth:6.3f}  {result.estimator_name} ({seconds:.1f})",
                flush=True,
            )
    for family, records in results.items():
        print(_summary(family, records))
    print(_summary("all", [record for records in results.values() for record in records]))


if __name__ == "__main__":
    main()
