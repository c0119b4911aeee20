r"""Coverage of the 95% interval of :func:`mist_reg.estimate_mi`: how often the exact mutual
information lies inside it, over many fresh draws of a ground-truth task.

Run ``r`` draws ``--n`` samples with seed ``1000 + r`` and calls ``estimate_mi`` with
``seed=r``. Reported: the runs that covered the truth, the mean error, the spread of the
estimates over runs and the mean standard error (the two should agree), and the
probability of at most that many hits for an interval of true coverage 0.93 and 0.68
(binomial tails), which says whether the count is consistent with a correct interval.

Schemes: ``one-split`` (the default training and evaluation split), ``folds`` (cross-fitting
with ``--folds``) and ``ksg`` (the default on one-dimensional pairs: KSG with a subsampling
standard error, nothing trained). ``--training cheap`` trains the critic 3 steps with
``hidden_dims=[16]`` (on Gaussian data the closed-form start is already close to optimal,
so what is measured is how the interval is formed); ``defaults`` uses estimate_mi's.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.coverage --scheme one-split --runs 150
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.coverage --scheme folds --folds 3 --n 600 --runs 100
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.coverage --scheme ksg --runs 150
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.coverage --task gaussian-5x5 --n 2000 --training defaults
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from typing import Any

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import dense_gaussian, get_task
from mist_reg.tasks.base import Task

CHEAP: dict[str, Any] = {"max_iterations": 3, "hidden_dims": [16], "batch_size": 64}
SCHEMES = ("one-split", "folds", "ksg")


def binomial_cdf(k: int, n: int, p: float) -> float:
    r"""``P(Binomial(n, p) <= k)``.

    Example:
        >>> round(binomial_cdf(127, 150, 0.93), 5)
        0.00104
    """
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def make_task(name: str) -> Task:
    r"""A task of :mod:`mist_reg.tasks` by name, or ``"gaussian-1x1-0.8"``: a 1x1 Gaussian
    with correlation 0.8 (0.511 nats)."""
    return dense_gaussian(1, 1, 0.8) if name == "gaussian-1x1-0.8" else get_task(name)


def estimate_options(scheme: str, training: str, folds: int) -> dict[str, Any]:
    r"""The keyword arguments of ``estimate_mi`` for a scheme and a training budget."""
    if scheme == "ksg":
        return {}
    options = dict(CHEAP) if training == "cheap" else {}
    if scheme == "folds":
        options["n_folds"] = folds
    return options


def coverage(task: Task, runs: int, n: int, options: dict[str, Any], ksg: bool = False) -> dict[str, float]:
    r"""Runs the study and returns its figures (see the module documentation)."""
    truth, hits, estimates, errors = task.mutual_information, 0, [], []
    start = time.perf_counter()
    for r in range(runs):
        x, y = task.sample(n, seed=1000 + r)
        result = estimate_mi(x, y, seed=r, **options)
        if ksg and result.estimator_name != "ksg":
            raise ValueError(
                f"--scheme ksg needs one-dimensional continuous x and y; estimate_mi chose {result.estimator_name}"
            )
        hits += result.interval[0] <= truth <= result.interval[1]
        estimates.append(float(result))
        errors.append(result.standard_error)
    return {
        "runs": runs,
        "hits": hits,
        "mean_error": statistics.fmean(estimates) - truth,
        "sd_estimates": statistics.stdev(estimates),
        "mean_standard_error": statistics.fmean(errors),
        "p_at_most_if_0.93": binomial_cdf(hits, runs, 0.93),
        "p_at_least_if_0.68": 1 - binomial_cdf(hits - 1, runs, 0.68),
        "seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="gaussian-1x1-0.8", help="a task name of mist_reg.tasks")
    parser.add_argument("--scheme", choices=SCHEMES, default="one-split")
    parser.add_argument("--folds", type=int, default=3, help="folds of --scheme folds")
    parser.add_argument("--training", choices=("cheap", "defaults"), default="cheap")
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--n", type=int, default=1000, help="samples per run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error(f"--runs must be at least 2 (the spread of the estimates needs two), got {args.runs}")
    torch.set_num_threads(args.threads)
    task = make_task(args.task)
    options = estimate_options(args.scheme, args.training, args.folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figures = coverage(task, args.runs, args.n, options, ksg=args.scheme == "ksg")
    print(
        f"{args.task}, {args.n} samples, {args.scheme}"
        + (f" ({args.folds} folds)" if args.scheme == "folds" else "")
        + f", training {args.training if args.scheme != 'ksg' else '-'}: "
        f"truth inside the 95% interval in {figures['hits']}/{figures['runs']} runs; "
        f"mean error {figures['mean_error']:+.4f}, sd of estimates {figures['sd_estimates']:.4f}, "
        f"mean standard error {figures['mean_standard_error']:.4f}; "
        f"P(<= hits | coverage 0.93) = {figures['p_at_most_if_0.93']:.3g}, "
        f"P(>= hits | coverage 0.68) = {figures['p_at_least_if_0.68']:.3g}; {figures['seconds']:.0f} s"
    )
    return figures


if __name__ == "__main__":
    main()
