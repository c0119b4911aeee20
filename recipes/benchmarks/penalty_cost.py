r"""Cost of the minimising penalties of ``MILoss`` per batch: forward and backward time of
``MILoss("kernel")`` (the fairness recipe's default, with a binary and with a continuous
attribute: "kernel, float S"), ``MILoss("club")`` (its ``q`` chosen
by the type of ``y``: the kernel classifier for a binary attribute, the linear-Gaussian
regression for a continuous one, "club, float S") and ``MILoss("gaussian")`` against the
MMD penalty of the fairness recipe (``recipes/common/mmd.py``, the reference), on random
features ``z: [N, d]`` and a binary (or standard normal) attribute.

The variants take turns call by call in one process, so that a slow spell of a shared
machine slows all alike; each figure is the median over ``--repeats`` calls after 3
warm-up calls, in milliseconds, with the ratios of the kernel and CLUB penalties to the
reference.

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
    continuous = torch.randn(n, generator=generator).to(device)
    variants = {
        "MILoss('kernel')": (MILoss("kernel", direction="minimize"), attribute),
        "MILoss('kernel'), float S": (MILoss("kernel", direction="minimize"), continuous),
        "MILoss('club')": (MILoss("club", direction="minimize"), attribute),
        "MILoss('club'), float S": (MILoss("club", direction="minimize"), continuous),
        "MILoss('gaussian')": (MILoss("gaussian", direction="minimize"), attribute),
        "MMD (reference)": (None, attribute),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats + 3):
        for name, (penalty, s) in variants.items():
            z = features.clone().requires_grad_(True)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            value = penalty(x=z, y=s) if penalty is not None else mmd_penalty(z, s)
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
        "| N | d | MILoss('kernel') ms | MILoss('kernel'), float S ms | MILoss('club') ms | MILoss('club'), float S ms "
        "| MILoss('gaussian') ms | MMD (reference) ms | kernel / MMD | kernel, float S / MMD | club / MMD "
        "| club, float S / MMD |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        medians = median_milliseconds(size, args.repeats, device, generator)
        mmd = medians["MMD (reference)"]
        ratios = {
            "ratio": medians["MILoss('kernel')"] / mmd,
            "kernel_float_ratio": medians["MILoss('kernel'), float S"] / mmd,
            "club_ratio": medians["MILoss('club')"] / mmd,
            "club_float_ratio": medians["MILoss('club'), float S"] / mmd,
        }
        times = " | ".join(f"{v:.2f}" for v in medians.values())
        print(f"| {size[0]} | {size[1]} | {times} | " + " | ".join(f"{r:.2f}" for r in ratios.values()) + " |")
        rows.append({"n": size[0], "d": size[1], **medians, **ratios})
    return rows


if __name__ == "__main__":
    main()
