r"""High MI on few samples: ``estimate_mi`` at its defaults on the Gaussian staircase.

The staircase tasks (``staircase-K``: 20 independent coordinate pairs sharing ``K`` nats;
``staircase-cubic-K``: the same with ``y`` cubed) run from 2 to 10 nats. Each is drawn at
1,000, 2,000 and 5,000 samples (one draw, seed 0) and estimated in one call, with the
default held-out split of 30%. The table gives the estimate, its 95% interval, the InfoNCE
ceiling ``log(M + 1)`` of the held-out evaluation batch, and what ``estimate_mi`` warned:
``InfoNCE`` when the Donsker-Varadhan estimate fell below the InfoNCE bound of the same
critic and was replaced by it, ``few pairs`` when its log-partition term rests on fewer
effective pairs than there are held-out samples. Two degenerate inputs follow: ``x`` from
``gaussian-5x5`` with ``y = x + 0.1 * noise`` (11.54 nats) and ``y = x``.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.high_mi
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.high_mi --sizes 2000 --levels 4 8
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import torch

from mist_reg import estimate_mi
from mist_reg.tasks import get_task


def _kind(messages: list[str]) -> str:
    text = " ".join(messages)
    if "infinite" in text:
        return "infinite"
    if "fell below the InfoNCE" in text:
        return "InfoNCE"
    if "effective negative pairs" in text:
        return "few pairs"
    return ""


def _row(name: str, truth: float, n: int, x: torch.Tensor, y: torch.Tensor) -> str:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = estimate_mi(x, y)
    seconds = time.perf_counter() - start
    low, high = getattr(mi, "interval", (math.nan, math.nan))
    ceiling = math.log(min(1024, n - int(0.7 * n)))
    kind = _kind(getattr(mi, "warnings", []))
    return f"| {name} | {n:,} | {truth:.2f} | {float(mi):.2f} | [{low:.2f}, {high:.2f}] | {ceiling:.2f} | {kind} | {seconds:.1f} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", nargs="+", type=int, default=[2, 4, 6, 8, 10])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 2000, 5000])
    parser.add_argument("--no-cubic", action="store_true", help="skip the cubic staircase")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| task | samples | truth | estimate | 95% interval | log(M + 1) | warning | s |")
    print("|---|---:|---:|---:|---|---:|---|---:|")
    names = [f"staircase-{k}" for k in args.levels]
    if not args.no_cubic:
        names += [f"staircase-cubic-{k}" for k in args.levels]
    for name in names:
        task = get_task(name)
        for n in args.sizes:
            x, y = task.sample(n, seed=0)
            print(_row(name, task.mutual_information, n, x, y), flush=True)
    x5, _ = get_task("gaussian-5x5").sample(max(args.sizes), seed=0)
    noise = torch.randn(x5.shape, generator=torch.Generator().manual_seed(1))
    for n in args.sizes:
        x, y = x5[:n], x5[:n] + 0.1 * noise[:n]
        print(_row("gaussian-5x5, y = x + 0.1 noise", 2.5 * math.log(101), n, x, y), flush=True)
    for n in args.sizes:
        print(_row("gaussian-5x5, y = x", math.inf, n, x5[:n], x5[:n].clone()), flush=True)


if __name__ == "__main__":
    main()
