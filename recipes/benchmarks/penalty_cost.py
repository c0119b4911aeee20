r"""Cost of the minimising penalties of ``MILoss`` per batch: forward and backward time of
``MILoss("kernel")`` (the fairness recipe's default), ``MILoss("club")`` (its ``q`` chosen
by the type of ``y``) and ``MILoss("gaussian")`` against the MMD penalty of the fairness
recipe (``recipes/common/mmd.py``, the reference), on random features ``z: [N, d]`` and a
binary attribute.

The variants take turns call by call in one process; each figure is the median over
``--repeats`` calls after 3 warm-up calls, in milliseconds, with the ratios of the kernel
and CLUB penalties to the reference.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.penalty_cost
    python -m recipes.benchmarks.penalty_cost --sizes 256x8 4096x64 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mist_reg import MILoss
from recipes.common.mmd import mmd_penalty


def parse_size(text: str) -> tuple[int, int]:
    r"""``"256x8"`` -> ``(256, 8)``: batch size and feature dimension."""
    n, _, d = text.partition("x")
    if not (n.isdigit() and d.isdigit()) or int(n) < 3 or int(d) < 1:
        raise argparse.ArgumentTypeError(f"a size is NxD with N >= 3 and D >= 1, got {text!r}")
    return int(n), int(d)


def median_milliseconds(
    size: tuple[int, int], repeats: int, device: torch.device, generator: torch.Generator
) -> dict[str, float]:
    r"""Median forward-and-backward time of every variant on one batch size."""
    n, d = size
    features = torch.randn(n, d, generator=generator).to(device)
    attribute = torch.randint(0, 2, (n,), generator=generator).to(device)
    variants = {
        "MILoss('kernel')": MILoss("kernel", direction="minimize"),
        "MILoss('club')": MILoss("club", direction="minimize"),
        "MILoss('gaussian')": MILoss("gaussian", direction="minimize"),
        "MMD (reference)": None,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats + 3):
        for name, penalty in variants.items():
            z = features.clone().requires_grad_(True)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            value = penalty(x=z, y=attribute) if penalty is not None else mmd_penalty(z, attribute)
            value.backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(values[3:]) for name, values in times.items()}


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(256, 8), (256, 128), (1024, 128)])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per variant and size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    rows = []
    print(
        "| N | d | MILoss('kernel') ms | MILoss('club') ms | MILoss('gaussian') ms | MMD (reference) ms | kernel / MMD | club / MMD |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        medians = median_milliseconds(size, args.repeats, device, generator)
        ratio = medians["MILoss('kernel')"] / medians["MMD (reference)"]
        club_ratio = medians["MILoss('club')"] / medians["MMD (reference)"]
        kernel, club, gaussian, mmd = medians.values()
        print(
            f"| {size[0]} | {size[1]} | {kernel:.2f} | {club:.2f} | {gaussian:.2f} | {mmd:.2f} | {ratio:.2f} | {club_ratio:.2f} |"
        )
        rows.append({"n": size[0], "d": size[1], **medians, "ratio": ratio, "club_ratio": club_ratio})
    return rows


if __name__ == "__main__":
    main()
