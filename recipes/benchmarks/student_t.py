r"""Heavy-tailed dependence beyond BMI's list: does the Student-t start carry over to its family?

BMI's Student-t tasks all have an identity scale and df of 1 to 3. This script draws
Student-t pairs from :mod:`mist_reg.tasks` with other degrees of freedom (1 to 10), other
dimensions (2 to 10 per side) and correlated scales (dense and sparse), where the ground
truth is known in closed form, and a few heavy-tailed pairs that are *not* a Student-t
copula (additive Cauchy noise, independent heavy-tailed blocks, a heteroscedastic pair),
where the Student-t model is the wrong shape. Each draw (5,000 samples: the first 3,500
to fit, the last 1,500 held out, as in ``recipes/benchmarks/bmi.py``) is estimated by
:func:`mist_reg.estimate_mi` at its defaults and with the Gaussian start only
(``reference="gaussian"``, the former default), on the same samples.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.student_t            # every case, seed 0
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.student_t --seeds 0 1 --cases t-df3-3x3-dense
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import StudentTTask, dense_covariance, sparse_covariance

N_SAMPLES = 5000
TRAIN_FRACTION = 0.7  # 3,500 of 5,000 to fit, as in recipes/benchmarks/bmi.py

Sampler = Callable[[int, int], tuple[torch.Tensor, torch.Tensor, float | None]]


def _student(scale: torch.Tensor, dim_x: int, df: float) -> Sampler:
    task = StudentTTask(scale, dim_x, df)

    def sample(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, float | None]:
        x, y = task.sample(n, seed=seed)
        return x, y, task.mutual_information

    return sample


def _cauchy_noise(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    noise = 0.5 * torch.tan(math.pi * (torch.rand(n, 3, generator=g) - 0.5))  # Cauchy, scale 0.5
    return x, x + noise, None


def _independent_blocks(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    g = torch.Generator().manual_seed(seed)
    w = (2 * torch._standard_gamma(torch.ones(n, 2, dtype=torch.float64), generator=g) / 2).rsqrt().float()
    x = torch.randn(n, 3, generator=g) * w[:, :1]
    y = torch.randn(n, 3, generator=g) * w[:, 1:]
    return x, y, 0.0


def _heteroscedastic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, x + torch.exp(0.8 * torch.randn(n, 1, generator=g)) * torch.randn(n, 4, generator=g), None


CASES: dict[str, Sampler] = {
    "t-df1-2x2": _student(torch.eye(4), 2, 1.0),
    "t-df3-3x3": _student(torch.eye(6), 3, 3.0),
    "t-df3-3x3-dense": _student(dense_covariance(3, 3, 0.3), 3, 3.0),
    "t-df5-4x4-dense": _student(dense_covariance(4, 4, 0.2), 4, 5.0),
    "t-df2-5x5-sparse": _student(sparse_covariance(5, 5, 2, 0.8), 5, 2.0),
    "t-df10-8x8": _student(torch.eye(16), 8, 10.0),
    "t-df1-10x10-dense": _student(dense_covariance(10, 10, 0.08), 10, 1.0),
    "cauchy-noise-3x3": _cauchy_noise,
    "independent-t-blocks-3x3": _independent_blocks,
    "heteroscedastic-4x4": _heteroscedastic,
}
"""Case name -> ``sample(n, seed) -> (x, y, truth or None)``."""


def run_case(name: str, seed: int, n_samples: int = N_SAMPLES) -> dict[str, float | str | None]:
    """Both estimates of one draw, their seconds and the degrees of freedom of the
    reference the default ended with (``inf``: the Gaussian start)."""
    x, y, truth = CASES[name](n_samples, 100 + seed)
    n_train = round(TRAIN_FRACTION * n_samples)
    record: dict[str, float | str | None] = {"case": name, "seed": seed, "truth": truth}
    for label, options in (("default", {}), ("gaussian_start", {"reference": "gaussian"})):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mi = estimate_mi(x[:n_train], y[:n_train], x_test=x[n_train:], y_test=y[n_train:], **options)
        record[label] = float(mi)
        record[f"{label}_seconds"] = time.perf_counter() - start
        if label == "default":
            record["df"] = getattr(mi.estimator.critic.reference, "df_value", None)
    return record


def main(argv: list[str] | None = None) -> list[dict[str, float | str | None]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES), metavar="CASE")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES, help="per draw (70%% fitted, 30%% held out)")
    args = parser.parse_args(argv)
    if args.n_samples < 100:
        parser.error(f"--n-samples must be at least 100, got {args.n_samples}")
    torch.set_num_threads(1)
    records = [run_case(name, seed, args.n_samples) for name in args.cases for seed in args.seeds]
    print("| case | seed | truth | default (df of the start) | Gaussian start | default s | Gaussian start s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in records:
        truth = "-" if r["truth"] is None else f"{r['truth']:.3f}"
        print(
            f"| {r['case']} | {r['seed']} | {truth} | {r['default']:.3f} ({r['df']:g}) | {r['gaussian_start']:.3f} "
            f"| {r['default_seconds']:.1f} | {r['gaussian_start_seconds']:.1f} |"
        )
    known = [r for r in records if r["truth"] is not None]
    if known:
        for label in ("default", "gaussian_start"):
            error = statistics.mean(abs(r[label] - r["truth"]) for r in known)
            print(f"{label}: mean abs. error {error:.3f} over the {len(known)} draws with a known truth")
    return records


if __name__ == "__main__":
    main()
