r"""How close a held-out estimate can come on one draw: the exact log-ratio's mean over the
rows ``estimate_mi`` holds out, against the truth and against ``estimate_mi``.

A held-out estimate is a mean over the test rows (30% of 5,000 by default), so even the
exact critic ``log p(x, y) - log p(x) - log p(y)`` misses the truth by that mean's sampling
error. For tasks whose density is known in closed form per row (the clustered mixtures of
``mist_reg.tasks.families``), this prints, per draw: the truth, the exact log-ratio's mean
over the draw's default test rows (the same split ``estimate_mi(x, y, seed=0)`` draws) with
its standard error, and ``estimate_mi``'s estimate. The first two differ by sampling alone;
the last two by what the estimator lacks.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.held_out_floor
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.held_out_floor --seeds 0 1 --tasks clusters-3x3-c5-s2-e4
"""

from __future__ import annotations

import argparse
import warnings

import torch

from mist_reg import estimate_mi
from mist_reg.estimation.data import split_indices
from mist_reg.tasks import FAMILY_TASKS, get_task
from mist_reg.tasks.mixtures import ClusteredMixtureTask

TASKS = tuple(FAMILY_TASKS["clusters"]["reporting"]) + ("clusters-3x3-c6-s4-e30",)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="clustered-mixture task names")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="draws (task seeds)")
    parser.add_argument("--n", type=int, default=5000, help="rows per draw")
    args = parser.parse_args(argv)
    tasks = [get_task(name) for name in args.tasks]
    wrong = [t.name for t in tasks if not isinstance(t, ClusteredMixtureTask)]
    if wrong or args.n < 20:
        parser.error(f"need clustered-mixture tasks (not {wrong}) and --n >= 20")
    torch.set_num_threads(1)
    print("| task | seed | truth | exact log-ratio on the test rows | estimate_mi | estimate - exact |")
    print("|---|---:|---:|---:|---:|---:|")
    for task in tasks:
        for seed in args.seeds:
            x, y = task.sample(args.n, seed=seed)
            _, test = split_indices(args.n, 0.3, torch.Generator().manual_seed(0))
            exact = task.log_ratio(x, y)[test]
            error = float(exact.std()) / len(test) ** 0.5
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                estimate = float(estimate_mi(x, y, seed=0))
            print(
                f"| {task.name} | {seed} | {task.mutual_information:.3f} | {float(exact.mean()):.3f} +- {error:.3f} "
                f"| {estimate:.3f} | {estimate - float(exact.mean()):+.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
