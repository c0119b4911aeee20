r"""The default :func:`mist_reg.estimate_mi` on clustered data at parameters outside every split
of the ``clusters`` family: ten :class:`~mist_reg.tasks.ClusteredMixtureTask` draws of
1-6 columns per side, 2-10 clusters, spreads 1-4 and elongations 1-30, each with its own
seed for the cluster layout.

Printed per draw: the truth (Monte Carlo, with its standard error), the estimate, their
ratio, the estimator reported and the seconds; then the mean abs. error and the count
within 5% of the truth. Run it on two commits to compare them on the same draws.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.clusters_sweep
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.clusters_sweep --n 2000 --sample-seed 3
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import ClusteredMixtureTask

# (dim_x, dim_y, clusters, spread, elongation); the layout seed of row i is 11 + i
CONFIGURATIONS = (
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
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="samples per draw")
    parser.add_argument("--sample-seed", type=int, default=7, help="seed of the samples drawn")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    if args.n < 100:
        parser.error(f"--n must be at least 100, got {args.n}")
    torch.set_num_threads(args.threads)
    errors, within = [], 0
    print(f"{'task':28s} {'truth':>14s} {'estimate':>9s} {'ratio':>6s}  estimator (s)")
    for i, (dim_x, dim_y, clusters, spread, elongation) in enumerate(CONFIGURATIONS):
        task = ClusteredMixtureTask(dim_x, dim_y, clusters, spread, elongation, seed=11 + i)
        x, y = task.sample(args.n, seed=args.sample_seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = estimate_mi(x, y)
        seconds = time.perf_counter() - start
        truth, value = task.mutual_information, float(result)
        errors.append(abs(value - truth))
        within += abs(value - truth) <= 0.05 * truth
        print(
            f"{task.name:28s} {truth:7.3f} +- {task.mutual_information_se:.3f} {value:9.3f} {value / truth:6.3f}  "
            f"{result.estimator_name} ({seconds:.1f})",
            flush=True,
        )
    print(f"mean abs. error {statistics.fmean(errors):.4f}, within 5%: {within}/{len(errors)}")


if __name__ == "__main__":
    main()
