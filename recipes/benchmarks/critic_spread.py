r"""How much :func:`mist_reg.estimate_mi`'s estimate moves with its ``seed`` (the initialisation
and batches of its trained critic, on the same samples and split), with the averaged critic
of :mod:`mist_reg.estimation.critic_ensemble` and without it (the first fit reported as it
is).

For each task, one draw of ``--n`` samples is estimated with seeds ``0 .. --seeds - 1``;
the split into training and test rows is fixed (the last 30% are the test rows), so the
spread is the critic's fit-to-fit variation alone. Printed per task and variant: the
estimates' mean, standard deviation and range against the truth, and the median seconds.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.critic_spread
    python -m recipes.benchmarks.critic_spread --tasks spiral-5x5 --seeds 3 --n 2000
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings
from collections.abc import Callable
from unittest import mock

from mist_reg import estimate_mi
from mist_reg.estimation import estimate as estimate_module
from mist_reg.tasks import get_task

VARIANTS: dict[str, Callable | None] = {
    "first fit": lambda fitted, *args: fitted,  # the averaged critic switched off
    "averaged": None,  # the default
}


def spread(task_name: str, n: int, seeds: int, test_share: float = 0.3) -> list[dict[str, object]]:
    r"""Estimates of one draw of ``task_name`` over ``seeds`` seeds, per variant."""
    task = get_task(task_name)
    x, y = task.sample(n, seed=0)
    n_train = n - int(round(test_share * n))
    rows = []
    for name, replacement in VARIANTS.items():
        estimates, seconds = [], []
        patch = (
            mock.patch.object(estimate_module, "with_critic_ensemble", replacement)
            if replacement is not None
            else contextlib.nullcontext()
        )
        with patch, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for seed in range(seeds):
                start = time.perf_counter()
                result = estimate_mi(x[:n_train], y[:n_train], x_test=x[n_train:], y_test=y[n_train:], seed=seed)
                seconds.append(time.perf_counter() - start)
                estimates.append(float(result))
        rows.append(
            {
                "task": task_name,
                "variant": name,
                "truth": task.mutual_information,
                "mean": statistics.fmean(estimates),
                "sd": statistics.stdev(estimates) if len(estimates) > 1 else 0.0,
                "min": min(estimates),
                "max": max(estimates),
                "seconds": statistics.median(seconds),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["spiral-5x5", "regression-product-3-n0.2"])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per variant")
    parser.add_argument("--n", type=int, default=5000, help="samples of the draw")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.n < 20:
        parser.error("--seeds must be positive and --n at least 20")
    for name in args.tasks:
        get_task(name)  # an unknown name fails before anything runs
    rows = []
    print("| task | truth | variant | mean | sd | range | median s |")
    print("|---|---:|---|---:|---:|---|---:|")
    for name in args.tasks:
        for row in spread(name, args.n, args.seeds):
            rows.append(row)
            print(
                f"| {name} | {row['truth']:.3f} | {row['variant']} | {row['mean']:.3f} | {row['sd']:.3f} "
                f"| {row['min']:.3f} - {row['max']:.3f} | {row['seconds']:.1f} |"
            )
    return rows


if __name__ == "__main__":
    main()
