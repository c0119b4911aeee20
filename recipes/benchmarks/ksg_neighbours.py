r"""KSG's error on one coordinate pair by the number of neighbours ``k``.

For one-dimensional pairs of known MI (additive uniform noise, periodic, Gaussian), each
column Gaussianised by its ranks as :func:`mist_reg.estimate_mi` does, ``ksg_mi`` at
``k = 2, 3, 5, 8`` on ``draws`` draws of 5,000 rows: the mean error and its spread over
draws. It shows where KSG's bias comes from on sharp pairs (the k-NN box spans the edge of
a flat-topped density at any ``k``) and what the default ``k = 5`` costs.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.ksg_neighbours
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.ksg_neighbours --draws 4 --ks 3 5
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

from mist_reg.estimation.preprocessing import MarginalGaussianizer
from mist_reg.functional.knn import ksg_mi
from mist_reg.tasks.base import Task
from mist_reg.tasks.gaussian import GaussianTask
from mist_reg.tasks.structured import AdditiveUniformTask, PeriodicTask


def _pairs() -> dict[str, Task]:
    def correlated(rho: float) -> Task:
        cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64)
        return GaussianTask(cov, 1, name=f"gaussian-rho{rho:g}")

    return {
        "additive h=0.25": AdditiveUniformTask(1, 0.25),
        "additive h=0.1": AdditiveUniformTask(1, 0.1),
        "additive h=0.05": AdditiveUniformTask(1, 0.05),
        "periodic w=3 n=0.3": PeriodicTask(1, 3.0, 0.3),
        "periodic w=2 n=0.1": PeriodicTask(1, 2.0, 0.1),
        "gaussian rho=0.6": correlated(0.6),
        "gaussian rho=0.98": correlated(0.98),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", nargs="+", type=int, default=[2, 3, 5, 8], help="numbers of neighbours")
    parser.add_argument("--draws", type=int, default=8, help="draws of 5,000 rows per pair (seeds 0..draws-1)")
    parser.add_argument("--n", type=int, default=5000, help="rows per draw")
    args = parser.parse_args(argv)
    if args.draws < 2 or args.n < 50 or any(k < 1 for k in args.ks):
        parser.error("need --draws >= 2, --n >= 50 and every --ks >= 1")
    torch.set_num_threads(1)
    print("| pair | MI | " + " | ".join(f"k = {k}: mean error +- sd" for k in args.ks) + " |")
    print("|---|---:|" + "---:|" * len(args.ks))
    for name, task in _pairs().items():
        cells = []
        draws = [task.sample(args.n, seed=seed) for seed in range(args.draws)]
        draws = [(MarginalGaussianizer().fit(x)(x), MarginalGaussianizer().fit(y)(y)) for x, y in draws]
        for k in args.ks:
            errors = [float(ksg_mi(x, y, k=k)) - task.mutual_information for x, y in draws]
            cells.append(f"{statistics.mean(errors):+.3f} +- {statistics.stdev(errors):.3f}")
        print(f"| {name} | {task.mutual_information:.3f} | " + " | ".join(cells) + " |", flush=True)
    print(
        f"\n{args.draws} draws of {args.n:,} rows; sqrt(draws) = {math.sqrt(args.draws):.2f} turns a sd into a standard error."
    )


if __name__ == "__main__":
    main()
