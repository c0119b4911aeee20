r"""The plug-in estimate of two discrete variables (:func:`mist_reg.estimation.discrete_estimate.plugin_mi`)
on tables from well sampled to sparse, with exact truths: does its interval cover the truth?

Two kinds of table, ``--draws`` draws of 5,000 samples each:

* *copies*: ``x`` uniform on ``L`` codes and ``y = x`` with probability ``p``, else uniform;
* *random tables*: ``x`` uniform or Zipf on ``L_x`` codes and ``y | x`` a draw of a
  Dirichlet of concentration ``beta`` on ``L_y`` codes (each ``x`` its own distribution).

Printed per configuration: the mean fraction of samples alone in their cell, the mean error of
the estimate, how many draws the plug-in's own normal interval covers and how many the
reported interval covers (reaching down to the held-out bound of the counts where the table is
sparse), and the median width of the reported interval.

Usage::

    python -m recipes.benchmarks.sparse_tables
    python -m recipes.benchmarks.sparse_tables --draws 8
"""

from __future__ import annotations

import argparse
import math
import statistics
import warnings

import numpy as np
import torch

from mist_reg.estimation.discrete_estimate import plugin_mi
from mist_reg.estimation.result import normal_interval

COPIES = [(p, codes) for p in (0.3, 0.6, 0.9) for codes in (20, 40, 60, 120)]
TABLES = [
    (10, 10, 0.5, False),
    (30, 30, 0.5, False),
    (50, 50, 0.05, False),
    (100, 30, 0.3, False),
    (100, 100, 0.05, True),
    (200, 50, 0.3, True),
    (300, 300, 0.02, True),
    (1000, 20, 0.2, True),
]
N = 5000


def _plogp(q: float) -> float:
    return q * math.log(q) if q > 0 else 0.0


def copy_draw(p: float, codes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    x = rng.integers(0, codes, N)
    y = np.where(rng.random(N) < p, x, rng.integers(0, codes, N))
    same, other = p + (1 - p) / codes, (1 - p) / codes
    return x, y, math.log(codes) + _plogp(same) + (codes - 1) * _plogp(other)


def table_draw(
    lx: int, ly: int, beta: float, zipf: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    px = 1 / np.arange(1, lx + 1) if zipf else np.ones(lx)
    px = px / px.sum()
    conditional = rng.dirichlet(beta * np.ones(ly), size=lx)
    joint = px[:, None] * conditional
    py = joint.sum(0)
    ratio = np.divide(joint, px[:, None] * py[None], out=np.ones_like(joint), where=joint > 0)
    truth = float((joint * np.log(ratio)).sum())
    x = rng.choice(lx, N, p=px)
    y = np.minimum((conditional[x].cumsum(1) < rng.random(N)[:, None]).sum(1), ly - 1)
    return x, y, truth


def summarise(label: str, draws: list[tuple[np.ndarray, np.ndarray, float]]) -> str:
    own = reported = 0
    errors, widths, alone = [], [], []
    for x, y, truth in draws:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mi = plugin_mi(torch.from_numpy(x), torch.from_numpy(y))
        low, high = normal_interval(float(mi), mi.standard_error, mi.confidence)
        own += low <= truth <= high
        reported += mi.interval[0] <= truth <= mi.interval[1]
        errors.append(float(mi) - truth)
        widths.append(mi.interval[1] - mi.interval[0])
        _, counts = np.unique(x.astype(np.int64) * (int(y.max()) + 1) + y, return_counts=True)
        alone.append(float((counts == 1).sum()) / N)
    n = len(draws)
    return (
        f"{label:28s} alone {statistics.fmean(alone):.3f}  error {statistics.fmean(errors):+.3f}  "
        f"covered {own}/{n} -> {reported}/{n}  width {statistics.median(widths):.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=4, help="draws per configuration")
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error(f"--draws must be at least 1, got {args.draws}")
    for p, codes in COPIES:
        rng = [np.random.default_rng(100 + s) for s in range(args.draws)]
        print(summarise(f"copy p={p} L={codes}", [copy_draw(p, codes, r) for r in rng]), flush=True)
    for lx, ly, beta, zipf in TABLES:
        rng = [np.random.default_rng(200 + s) for s in range(args.draws)]
        label = f"table {lx}x{ly} beta={beta}{' zipf' if zipf else ''}"
        print(summarise(label, [table_draw(lx, ly, beta, zipf, r) for r in rng]), flush=True)


if __name__ == "__main__":
    main()
