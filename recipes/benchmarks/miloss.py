r"""Overhead of :class:`mist_reg.MILoss` in a contrastive training step.

One training step of a small ResNet on two augmented views, three ways, in one run:

* ``hand-written``: ``logits = z1 @ z2.T / t`` and a cross-entropy against the diagonal;
* ``MILoss(InfoNCE)`` given the two views' projections at call time, with the same critic
  (identity heads, cosine similarity, temperature ``t``): the same objective up to the
  constant ``log N``
  (the hooks only add a dictionary write per captured module);
* ``lightly NTXentLoss``, when lightly is installed (it is not a dependency).

It prints the median step time over ``--steps`` steps (after warm-up), the ratio to the
hand-written step and the peak memory: on CUDA the peak allocated by a step, on the CPU
the peak resident memory of a fresh process running only that variant. Step times come
from one process in which the variants take turns step by step, so that drifts of the
machine's speed fall on all of them alike.

Usage::

    python -m recipes.benchmarks.miloss                  # CPU, ResNet-18, batch 64, 32x32
    python -m recipes.benchmarks.miloss --device cuda --batch-size 512
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from mist_reg import MILoss
from mist_reg.estimators import InfoNCE
from mist_reg.nn.critic import SeparableCritic


class Encoder(nn.Module):
    def __init__(self, dim: int = 128) -> None:
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights=None, num_classes=dim)
        self.projection = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone(views))


def hand_written(model: Encoder, v1, v2, temperature: float) -> torch.Tensor:
    z = F.normalize(model(torch.cat([v1, v2])), dim=-1)
    z1, z2 = z.chunk(2)
    logits = z1 @ z2.T / temperature
    return F.cross_entropy(logits, torch.arange(len(z1), device=z1.device))


def make_miloss_step(model: Encoder, temperature: float):
    critic = SeparableCritic(nn.Identity(), nn.Identity(), normalize=True, temperature=temperature)
    mi_loss = MILoss(InfoNCE(critic), x=None, y=None, direction="maximize").to(next(model.parameters()).device)

    def step(v1, v2):
        z1, z2 = model(torch.cat([v1, v2])).chunk(2)
        return mi_loss(x=z1, y=z2)

    return step


def lightly_step(model: Encoder, temperature: float):
    try:
        from lightly.loss import NTXentLoss
    except ImportError:
        return None
    loss_fn = NTXentLoss(temperature=temperature)

    def step(v1, v2):
        z1, z2 = model(torch.cat([v1, v2])).chunk(2)
        return loss_fn(z1, z2)

    return step


def time_steps(step, model, optimizer, views, steps: int, warmup: int, device: torch.device):
    times, peak = [], None
    for i in range(warmup + steps):
        v1, v2 = views()
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        loss = step(v1, v2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
            peak = max(peak or 0, torch.cuda.max_memory_allocated())
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), peak


def build_variant(name: str, args: argparse.Namespace):
    """The model, its optimiser and a step function of one variant (None if unavailable)."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = Encoder().to(device)
    if name == "hand-written":
        step = lambda v1, v2: hand_written(model, v1, v2, args.temperature)  # noqa: E731
    elif name == "MILoss(InfoNCE)":
        step = make_miloss_step(model, args.temperature)
    else:
        step = lightly_step(model, args.temperature)
        if step is None:
            return None
    return model, torch.optim.SGD(model.parameters(), lr=0.01), step


def make_views(args: argparse.Namespace):
    device = torch.device(args.device)

    def views():
        base = torch.rand(args.batch_size, 3, 32, 32, device=device)
        return base + 0.05 * torch.randn_like(base), base.flip(-1)

    return views


def run_variant(name: str, args: argparse.Namespace) -> int | None:
    """Runs one variant alone and returns its peak memory in bytes."""
    built = build_variant(name, args)
    if built is None:
        return None
    model, optimizer, step = built
    _, peak = time_steps(step, model, optimizer, make_views(args), 3, 1, torch.device(args.device))
    if peak is None:  # CPU: the peak resident memory of this process (KiB on Linux)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak


def interleaved_times(args: argparse.Namespace) -> dict[str, float]:
    """Median step time of every available variant, the variants taking turns."""
    built = {name: build_variant(name, args) for name in VARIANTS}
    built = {name: b for name, b in built.items() if b is not None}
    views, device = make_views(args), torch.device(args.device)
    times: dict[str, list[float]] = {name: [] for name in built}
    for i in range(args.warmup + args.steps):
        for name, (model, optimizer, step) in built.items():
            seconds, _ = time_steps(step, model, optimizer, views, 1, 0, device)
            if i >= args.warmup:
                times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}


VARIANTS = ("hand-written", "MILoss(InfoNCE)", "lightly NTXentLoss")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:  # child process: one variant, result as JSON
        print(json.dumps(run_variant(args.variant, args)))
        return
    peaks = {}
    for name in VARIANTS:
        command = [sys.executable, __file__, "--variant", name] + [
            f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "variant" and v is not None
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        peaks[name] = json.loads(output)
        if peaks[name] is None:
            print(f"{name:20s} skipped (pip install lightly)")
    times = interleaved_times(args)
    reference_time, reference_peak = times["hand-written"], peaks["hand-written"]
    kind = "peak allocated" if args.device.startswith("cuda") else "peak RSS of the process"
    print(f"device {args.device}, batch {args.batch_size}, ResNet-18 at 32x32, median of {args.steps} steps")
    for name, seconds in times.items():
        peak = peaks[name]
        print(
            f"{name:20s} {seconds * 1000:8.1f} ms/step  ratio {seconds / reference_time:.3f}  "
            f"{kind} {peak / 2**20:7.0f} MiB  ratio {peak / reference_peak:.3f}"
        )


if __name__ == "__main__":
    main()
