r"""Throughput of the contrastive recipe's training step, and the cost of ``MILoss``.

ResNet-18 (CIFAR stem) on synthetic 32x32 colour images, two augmented views per image
(augmented on the device), projection head, AdamW; bf16 autocast and channels-last on
CUDA. Two variants of the step, built from the same initial weights:

* ``MILoss(InfoNCE)``: the recipe's model, ``MILoss`` with the cosine critic at
  temperature ``t`` on the two views' projections;
* ``hand-written``: the same model with ``cross_entropy(normalize(z1) @ normalize(z2).T / t,
  arange(N))``, the same objective up to the constant ``log N`` (checked at the start).

The variants take turns step by step in one process (so drifts of the machine's speed
fall on both alike); each step is timed from the batch's sampling to the end of the
optimiser step, with the device synchronised. The script prints the median step time of
each, the images per second (two views per image) and the time ratio, which should stay
within 5% of 1.

Usage::

    python -m recipes.benchmarks.contrastive_gpu                        # CUDA, batch 512
    python -m recipes.benchmarks.contrastive_gpu --compile --out runs/bench_contrastive.json
    python -m recipes.benchmarks.contrastive_gpu --device cpu --batch-size 32 --steps 5
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from recipes.common.augment import augment_preset
from recipes.common.device import autocast, resolve_device, to_memory_format
from recipes.common.models import build_backbone, initialisation
from recipes.common.optim import build_optimizer
from recipes.contrastive import ContrastiveConfig, SimCLR

VARIANTS = ("hand-written", "MILoss(InfoNCE)")


def hand_written_loss(model: SimCLR, view1: Tensor, view2: Tensor, temperature: float) -> Tensor:
    r"""InfoNCE of the two views written out: normalised projections, one matrix product,
    a cross-entropy against the diagonal."""
    z1, z2 = model.projector(model.backbone(torch.cat([view1, view2]))).float().chunk(2)
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(z1), device=z1.device))


def make_step(
    name: str, model: SimCLR, images: Tensor, args: argparse.Namespace, device: torch.device
) -> Callable[[int], Tensor]:
    r"""One training step of a variant (returns the detached loss)."""
    optimizer, _ = build_optimizer(model.parameters(), 1e-3, 1e-4, steps=10**6, warmup=0.0)
    augment = augment_preset("synthetic")
    generator = torch.Generator(device=device)
    loss_of = (
        (lambda v1, v2: model(v1, v2))
        if name == "MILoss(InfoNCE)"
        else (lambda v1, v2: hand_written_loss(model, v1, v2, args.temperature))
    )

    def step(i: int) -> Tensor:
        generator.manual_seed(i)
        index = torch.randint(len(images), (args.batch_size,), device=device, generator=generator)
        batch = images[index].float() / 255
        view1, view2 = (to_memory_format((augment(batch, generator) - 0.5) / 0.25, device) for _ in range(2))
        with autocast(device, args.amp):
            loss = loss_of(view1, view2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps per variant first")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 autocast on CUDA")
    parser.add_argument("--compile", action="store_true", help="compile the backbone with torch.compile")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    config = ContrastiveConfig(backbone=args.backbone, temperature=args.temperature, projection_norm="batch")
    with initialisation(0):
        backbone, dim = build_backbone(args.backbone, 3, args.image_size)
        reference = SimCLR(backbone, dim, config)
    models = {name: to_memory_format(copy.deepcopy(reference).to(device), device) for name in VARIANTS}
    if args.compile:
        for model in models.values():
            model.backbone.compile()
    images = torch.randint(0, 256, (4096, 3, args.image_size, args.image_size), dtype=torch.uint8, device=device)

    # the two losses differ by the constant log N on the same inputs
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        probe = torch.randn(8, 3, args.image_size, args.image_size, device=device)
        model = models["MILoss(InfoNCE)"]
        model.eval()
        gap = float(
            hand_written_loss(model, probe, probe.flip(-1), args.temperature) - model(probe, probe.flip(-1))
        ) - math.log(8)
        model.train()

    steps = {name: make_step(name, models[name], images, args, device) for name in VARIANTS}
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for i in range(args.warmup + args.steps):
        for name in VARIANTS if i % 2 == 0 else reversed(VARIANTS):  # alternate who goes first
            synchronize(device)
            start = time.perf_counter()
            steps[name](i)
            synchronize(device)
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = medians["MILoss(InfoNCE)"] / medians["hand-written"]
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "backbone": args.backbone,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "bf16_autocast": bool(args.amp and device.type == "cuda"),
        "compile": args.compile,
        "steps": args.steps,
        "median_step_ms": {name: 1000 * m for name, m in medians.items()},
        "images_per_second": {name: 2 * args.batch_size / m for name, m in medians.items()},
        "time_ratio": ratio,
        "within_5_percent": abs(ratio - 1) <= 0.05,
        "loss_gap_minus_log_n": gap,
    }
    print(
        f"{results['device']}, {args.backbone} at {args.image_size}x{args.image_size}, batch {args.batch_size} x 2 views, "
        f"median of {args.steps} steps{' (compiled)' if args.compile else ''}"
    )
    for name in VARIANTS:
        print(
            f"{name:18s} {results['median_step_ms'][name]:8.1f} ms/step  {results['images_per_second'][name]:9.0f} images/s"
        )
    print(
        f"time ratio MILoss / hand-written: {ratio:.3f} ({'within' if results['within_5_percent'] else 'outside'} 5%); "
        f"loss difference minus log N: {gap:.2e}"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
