r"""Two wide views of one latent at few rows: ``estimate_mi`` at its defaults against the
closed-form truth, by number of rows.

Each view task (``mist_reg.tasks.structured.two_views``: Gaussian, 5-19 nats) is drawn at
each size with seeds ``0..draws-1``; the table gives estimate minus truth per draw and the
``estimator_name`` that produced it (``gaussian_unbiased`` or ``reference_model``: see
docs/choosing-an-estimator.md, step 7).

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.wide_views
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.wide_views --tasks views-32x32-k4-n0.5 --sizes 1000 --draws 5
"""

from __future__ import annotations

import argparse
import warnings

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import get_task

TASKS = ("views-256x256-k8-n1", "views-128x128-k8-n0.35", "views-32x32-k4-n0.5")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="task names (mist_reg.tasks)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[700, 1100, 2000], help="rows per draw")
    parser.add_argument("--draws", type=int, default=3, help="draws per task and size (seeds 0..draws-1)")
    args = parser.parse_args(argv)
    if args.draws < 1 or any(n < 10 for n in args.sizes):
        parser.error("--draws must be at least 1 and every --sizes at least 10")
    tasks = [get_task(name) for name in args.tasks]  # unknown names fail before any work
    torch.set_num_threads(1)
    print("| task (truth) | rows | estimate - truth per draw | estimator |")
    print("|---|---:|---|---|")
    for task in tasks:
        for n in args.sizes:
            errors, names = [], set()
            for seed in range(args.draws):
                x, y = task.sample(n, seed=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    mi = estimate_mi(x, y)
                errors.append(f"{float(mi) - task.mutual_information:+.2f}")
                names.add(str(mi.estimator_name))
            label = f"{task.name} ({task.mutual_information:.2f})"
            print(f"| {label} | {n:,} | {', '.join(errors)} | {', '.join(sorted(names))} |", flush=True)


if __name__ == "__main__":
    main()
