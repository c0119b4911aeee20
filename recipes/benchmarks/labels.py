r"""Class labels from features: :func:`mist_reg.estimation.label_estimate.label_mi` against the
truth and the hand-written logistic-regression baseline
(:func:`recipes.benchmarks.baselines.logistic_mi`).

For every task and seed, ``--n`` samples are drawn (``task.sample(n, seed=seed)``). Each row
prints the truth; ``sample``, the mean of the exact ``log p(y | x) - log p(y)`` over the drawn
rows (what knowing the posterior would give on this draw: its distance to the truth is
sampling noise that no estimator removes); ``label_mi`` by three methods (:data:`METHODS`:
``split``, the held-out value of one stratified 70/30 split; ``crossfit``, the held-out value
cross-fitted over 5 folds; ``default``, cross-fitted and extrapolated along the learning curve;
``--n-folds`` changes the folds of the last two); the logistic-regression baseline on the
first 70% of the rows; the family the default chose; and the seconds of each method. The
summary gives, per task, the mean ratio to the truth and how many seeds lie within 5%, and
the median seconds of each method.

Tasks: the label family of :mod:`mist_reg.tasks.families` (``--split``), and with ``--extra``
cases no default was chosen on: two where the classes are not Gaussian with one covariance
(:class:`ClusteredLabelTask`): class-specific diagonal covariances (a quadratic boundary) and
classes made of several clusters (XOR-like); a label independent of the features (truth 0);
two nearly separable classes in 2 dimensions (a learning curve that is flat at once); and
labels that are shells of the radius (:class:`ShellLabelTask`), a sharp boundary that no
smooth family draws.

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
from mist_reg.tasks import GaussianMixtureLabelTask, Task, family_tasks, get_task
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
        return self.log_ratio(*self._draw(n, generator))

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The exact ``log p(y | x) - log p(y)`` of every row (``y`` of shape [n])."""
        z = (x[:, None, None, :] - self.centres) / self.stds  # [n, K, m, d]
        log_density = -0.5 * z.square().sum(-1) - self.stds.log().sum(-1)  # up to a shared constant
        log_class = torch.logsumexp(log_density, dim=2)  # [n, K], the mixture weight is shared
        return log_class.gather(1, y[:, None])[:, 0] - torch.logsumexp(log_class, 1) + math.log(self.n_classes)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self._draw(n, generator)
        return x, y.unsqueeze(1)


class IndependentLabelTask(Task):
    r"""A uniform label of ``n_classes`` classes independent of ``dim`` standard Gaussian features:
    ``I = 0``, where an extrapolation must not invent a trend.

    Example:
        >>> IndependentLabelTask(4, 8).mutual_information
        0.0
    """

    def __init__(self, n_classes: int, dim: int) -> None:
        self.n_classes = n_classes
        super().__init__(f"independent-k{n_classes}-d{dim}", dim, 1, 0.0, "a label independent of the features", 0.0)

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The exact ``log p(y | x) - log p(y)``: 0 on every row."""
        return torch.zeros(len(y), dtype=torch.float64)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, self.dim_x, generator=generator)
        return x, torch.randint(self.n_classes, (n, 1), generator=generator)


class ShellLabelTask(Task):
    r"""``x ~ N(0, I_d)``; the label is the shell of ``|x|`` among ``n_classes`` equally likely
    ones, replaced by a uniform class with probability ``flip``. The posterior is a step in the
    radius, ``p(k | x) = (1 - flip) [k = shell(x)] + flip / K``, so the truth is closed-form:
    ``log K - H(1 - flip + flip / K, flip / K, ...)`` (the shells' radii are quantiles of 10^6
    fixed draws, which makes the labels uniform to within 0.001 and the truth exact to 1e-6).

    Example:
        >>> task = ShellLabelTask(2, 2, flip=0.2)
        >>> round(task.mutual_information, 4)
        0.3681
        >>> x, y = task.sample(4000, seed=0)
        >>> abs(float(y.float().mean()) - 0.5) < 0.03
        True
    """

    def __init__(self, n_classes: int, dim: int, flip: float) -> None:
        self.n_classes, self.flip = n_classes, flip
        radii = torch.randn(10**6, dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64).norm(dim=1)
        self.edges = radii.quantile(torch.arange(1, n_classes, dtype=torch.float64) / n_classes)
        kept, other = 1 - flip + flip / n_classes, flip / n_classes
        conditional = -(kept * math.log(kept) + (n_classes - 1) * other * math.log(other)) if flip > 0 else 0.0
        name = f"shells-k{n_classes}-d{dim}-f{flip:g}"
        super().__init__(name, dim, 1, math.log(n_classes) - conditional, "the shell of the radius, some flipped", 0.0)

    def log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The exact ``log p(y | x) - log p(y)`` of every row (``y`` of shape [n])."""
        shell = torch.bucketize(x.double().norm(dim=1), self.edges)
        p = torch.where(y == shell, 1 - self.flip + self.flip / self.n_classes, self.flip / self.n_classes)
        return p.log() + math.log(self.n_classes)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, self.dim_x, generator=generator, dtype=torch.float64)
        shell = torch.bucketize(x.norm(dim=1), self.edges)
        flipped = torch.rand(n, generator=generator, dtype=torch.float64) < self.flip
        y = torch.where(flipped, torch.randint(self.n_classes, (n,), generator=generator), shell)
        return x.float(), y.unsqueeze(1)


EXTRA_TASKS = {
    "quadratic": lambda: ClusteredLabelTask(5, 16, clusters=1, separation=2.0, spread=3.0),
    "xor": lambda: ClusteredLabelTask(4, 8, clusters=3, separation=6.0, spread=1.0),
    "independent": lambda: IndependentLabelTask(5, 16),
    "separable": lambda: GaussianMixtureLabelTask(2, 2, 8.0),
    "ring": lambda: ShellLabelTask(2, 2, flip=0.2),
    "shells": lambda: ShellLabelTask(4, 4, flip=0.1),
}

METHODS = {
    "split": {"n_folds": None, "extrapolate": False},
    "crossfit": {"extrapolate": False},
    "default": {},
}
"""The columns of ``label_mi``: the held-out value of one stratified 70/30 split (a lower
bound), the same cross-fitted over 5 folds (a lower bound), and the default (5 folds and the
learning-curve extrapolation)."""


def sample_value(task: Task, x: Tensor, y: Tensor) -> float:
    r"""The mean of the exact ``log p(y | x) - log p(y)`` over the drawn rows: what an estimator
    that knew the posterior would report on this draw (it differs from the truth by sampling
    noise alone)."""
    if isinstance(task, GaussianMixtureLabelTask):
        values = task.posterior_log_probs(x).gather(1, y[:, None])[:, 0] + math.log(task.n_classes)
    else:
        values = task.log_ratio(x.double(), y)
    return float(values.mean())


def _baseline(x: Tensor, y: Tensor) -> float:
    from recipes.benchmarks.baselines import logistic_mi

    return logistic_mi(x.double().numpy(), y.numpy().reshape(-1), int(TRAIN_FRACTION * len(x)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="reporting", choices=("tuning", "reporting", "unseen", "all", "none"))
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
    header = "".join(f"{m:>10s}" for m in METHODS)
    print(f"{'task':34s} seed  truth  sample{header}  baseline  chosen (default)        seconds (each method)")
    for task in tasks:
        for seed in args.seeds:
            x, y = task.sample(args.n, seed=seed)
            labels = y.reshape(-1)
            results, seconds = {}, {}
            for method, options in METHODS.items():
                options = {"n_folds": args.n_folds, **options} if args.n_folds and method != "split" else options
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    results[method], seconds[method] = timed(
                        lambda options=options: label_mi(x, labels, task.n_classes, seed=seed, **options)
                    )
            base = math.nan if args.no_baseline else _baseline(x, y)
            truth, sample = task.mutual_information, sample_value(task, x, labels)
            rows.append((task.name, truth, sample, {m: float(r) for m, r in results.items()}, base, seconds))
            print(
                f"{task.name:34s} {seed:4d}  {truth:.3f}  {sample:.3f}"
                + "".join(f"{float(r):10.3f}" for r in results.values())
                + f"  {base:8.3f}  {results['default'].estimator_name:24s}"
                + " ".join(f"{t:5.1f}" for t in seconds.values()),
                flush=True,
            )
    print("\nsummary per task, mean over seeds: ratio to the truth (abs. error where the truth is 0), and")
    print("in parentheses the seeds within 5% of the truth (within 0.01 nats where the truth is 0)")
    print(f"{'task':34s}{'sample':>14s}" + "".join(f"{m:>14s}" for m in METHODS) + f"{'baseline':>14s}")
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        columns = [[r[2] for r in mine]] + [[r[3][m] for r in mine] for m in METHODS] + [[r[4] for r in mine]]
        print(f"{name:34s}" + "".join(_summary(values, mine[0][1]) for values in columns))
    for method in METHODS:
        print(f"median seconds per estimate, {method}: {statistics.median(r[5][method] for r in rows):.2f}")


def _summary(values: list[float], truth: float) -> str:
    within = sum(abs(v - truth) <= (0.05 * truth if truth > 0 else 0.01) for v in values)
    mean = statistics.mean(v / truth if truth > 0 else abs(v) for v in values)
    return f"{mean:8.3f} ({within}/{len(values)})"


if __name__ == "__main__":
    main()
