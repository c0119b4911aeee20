r"""Class labels from features: :func:`mist_reg.estimation.label_estimate.label_mi` against the
truth and the hand-written logistic-regression baseline
(:func:`recipes.benchmarks.baselines.logistic_mi`).

For every task and seed, ``--n`` samples are drawn (``task.sample(n, seed=seed)``) and both run
on them with 70% of the rows training (the baseline on the first 70%, ``label_mi`` on a
stratified 70%, or with ``--n-folds`` cross-fitted over all rows). Each row prints the truth,
both estimates, the classifier ``label_mi`` chose and the seconds; the summary gives, per task,
the mean ratio to the truth and how many seeds lie within 5%, and the median seconds.

Tasks: the label family of :mod:`mist_reg.tasks.families` (``--split``), and with ``--extra``
two cases no default was chosen on, where the classes are not Gaussian with one covariance
(:class:`ClusteredLabelTask`): class-specific diagonal covariances (a quadratic boundary) and
classes made of several clusters (XOR-like).

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.labels --split reporting --seeds 0 1 2 --extra
"""

from __future__ import annotations

import argparse
import math
import statistics
import warnings

import torch
from torch import Tensor

from mist_reg.estimation.label_estimate import label_mi
from mist_reg.tasks import Task, family_tasks, get_task
from mist_reg.tasks.benchmark import timed
from mist_reg.tasks.monte_carlo import monte_carlo_mean

TRAIN_FRACTION = 0.7


class ClusteredLabelTask(Task):
    r"""A uniform label of ``n_classes`` classes; class ``k`` is an equal mixture of ``clusters``
    Gaussians ``N(c_kj, diag(s_kj^2))`` with centres ``c_kj ~ N(0, separation^2 / (2 dim) I)`` and
    standard deviations ``s_kj`` log-uniform in ``[1 / spread, spread]``. The truth is the Monte
    Carlo mean of ``log p(y | x) - log p(y)`` under the exact densities.

    Example:
        >>> task = ClusteredLabelTask(3, 2, clusters=2, separation=4.0, spread=1.0)
        >>> x, y = task.sample(10, seed=0)
        >>> x.shape, 0 < task.mutual_information < math.log(3)
        (torch.Size([10, 2]), True)
    """

    def __init__(self, n_classes: int, dim: int, clusters: int, separation: float, spread: float, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.n_classes, self.clusters = n_classes, clusters
        scale = separation / math.sqrt(2 * dim)
        self.centres = torch.randn(n_classes, clusters, dim, generator=g, dtype=torch.float64) * scale
        log_spread = math.log(spread)
        self.stds = torch.exp(
            (2 * torch.rand(n_classes, clusters, dim, generator=g, dtype=torch.float64) - 1) * log_spread
        )
        mi, se = monte_carlo_mean(self._log_ratio)
        name = f"clustered-k{n_classes}-d{dim}-c{clusters}-s{separation:g}-v{spread:g}"
        super().__init__(name, dim, 1, mi, "classes of Gaussian clusters with their own variances", se)

    def _draw(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        y = torch.randint(self.n_classes, (n,), generator=generator)
        j = torch.randint(self.clusters, (n,), generator=generator)
        noise = torch.randn(n, self.centres.shape[2], generator=generator, dtype=torch.float64)
        return self.centres[y, j] + self.stds[y, j] * noise, y

    def _log_ratio(self, generator: torch.Generator, n: int) -> Tensor:
        x, y = self._draw(n, generator)
        z = (x[:, None, None, :] - self.centres) / self.stds  # [n, K, m, d]
        log_density = -0.5 * z.square().sum(-1) - self.stds.log().sum(-1)  # up to a shared constant
        log_class = torch.logsumexp(log_density, dim=2)  # [n, K], the mixture weight is shared
        return log_class.gather(1, y[:, None])[:, 0] - torch.logsumexp(log_class, 1) + math.log(self.n_classes)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self._draw(n, generator)
        return x, y.unsqueeze(1)


EXTRA_TASKS = {
    "quadratic": lambda: ClusteredLabelTask(5, 16, clusters=1, separation=2.0, spread=3.0),
    "xor": lambda: ClusteredLabelTask(4, 8, clusters=3, separation=6.0, spread=1.0),
}


def _baseline(x: Tensor, y: Tensor) -> float:
    from recipes.benchmarks.baselines import logistic_mi

    return logistic_mi(x.double().numpy(), y.numpy().reshape(-1), int(TRAIN_FRACTION * len(x)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="reporting", choices=("tuning", "reporting", "all", "none"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n", type=int, default=5000, help="samples per task")
    parser.add_argument("--n-folds", type=int, default=None, help="cross-fit label_mi over this many folds")
    parser.add_argument("--extra", action="store_true", help="also the clustered tasks (not Gaussian, one covariance)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the scikit-learn logistic baseline")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tasks = [get_task(name) for name in ([] if args.split == "none" else family_tasks(args.split, ["labels"]))]
    tasks += [make() for make in EXTRA_TASKS.values()] if args.extra else []
    rows = []
    print(f"{'task':34s} seed  truth   label_mi  chosen                  seconds  baseline  seconds")
    for task in tasks:
        for seed in args.seeds:
            x, y = task.sample(args.n, seed=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mi, seconds = timed(lambda: label_mi(x, y, task.n_classes, n_folds=args.n_folds, seed=seed))
            base, base_seconds = (math.nan, math.nan) if args.no_baseline else timed(lambda: _baseline(x, y))
            truth = task.mutual_information
            rows.append((task.name, float(mi) / truth, seconds, base / truth))
            print(
                f"{task.name:34s} {seed:4d}  {truth:.3f}  {float(mi):.3f}±{mi.standard_error:.3f}  "
                f"{mi.estimator_name:22s} {seconds:6.2f}  {base:.3f}  {base_seconds:6.2f}",
                flush=True,
            )
    print("\nsummary (ratio to the truth, mean over seeds; within 5%: seeds with |ratio - 1| <= 0.05)")
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        ratios = [r[1] for r in mine]
        within = sum(abs(r - 1) <= 0.05 for r in ratios)
        base = statistics.mean(r[3] for r in mine)
        print(
            f"{name:34s} label_mi {statistics.mean(ratios):.3f} ({within}/{len(mine)} within 5%)  baseline {base:.3f}"
        )
    print(f"median seconds per estimate: {statistics.median(r[2] for r in rows):.2f}")


if __name__ == "__main__":
    main()
