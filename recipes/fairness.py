r"""Fair representations: a classifier whose features forget a sensitive attribute.

An encoder maps an image to a representation ``Z``; a head predicts the label from
``Z``; a CLUB upper bound on ``I(Z; S)``, with a categorical ``q(s | z)``, penalises what
``Z`` says about the sensitive attribute ``S``: ``MILoss("club", x="encoder",
direction="minimize", weight=w)``, its features captured from the module named
``encoder`` by a forward hook. ``q`` is fitted on detached features (one step inside the
loss plus ``--inner-steps`` private steps per batch) while the encoder descends
``w * CLUB``.

The default data is scikit-learn's digits with a colour tint as ``S`` (red or blue,
agreeing with the label group ``digit >= 5`` at ``--rate``, 0.8 by default; see
``common/attributes.py``). One model is trained per weight of ``--weights``, from the
same initialisation and batches, and each is evaluated on the test split:

* ``task_accuracy``: accuracy of the head on the label;
* ``s_probe``: probes trained afterwards on frozen training features to predict ``S``,
  scored on test features: accuracy and ROC AUC of a linear probe and of an MLP probe;
* ``dp_gap``: demographic-parity gap of the head's predictions, the largest difference
  over classes ``c`` of ``P(pred = c | S = 1) - P(pred = c | S = 0)`` (``dp_gap_labels``
  is the same for the true labels: what a perfect classifier would show);
* ``mi_zs``: an estimate of ``I(Z; S)`` independent of the penalty's own ``q``: the
  probe-based lower bound ``H(S) - CE`` (nats), ``CE`` the held-out cross-entropy of the
  better of the two probes (Barber-Agakov; see ``common/probes.py``);
* references: ``s_chance`` (majority-class accuracy) and ``s_from_label`` (accuracy of
  predicting ``S`` from the true label group: the floor reachable without losing the task).

The sweep's trade-off curves are in ``plots/tradeoff.png`` and ``plots/sweep.png``.

Usage::

    python recipes/fairness.py                                 # digits, CPU, ~1-2 min
    python recipes/fairness.py --weights 0,0.3,1,3,10 --rate 0.7 --out runs/fairness/rate07
    torchrun --nproc_per_node=2 recipes/fairness.py
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common.attributes import add_tint  # noqa: E402
from common.augment import augment_preset  # noqa: E402
from common.config import BaseConfig, option, parse_config  # noqa: E402
from common.data import ImageData, StepBatches, load_images_rank0_first, step_seed  # noqa: E402
from common.device import autocast, to_memory_format  # noqa: E402
from common.distributed import DistributedContext, barrier, teardown  # noqa: E402
from common.loop import fit  # noqa: E402
from common.models import build_backbone, initialisation  # noqa: E402
from common.optim import ramped_weight  # noqa: E402
from common.plots import plot_tradeoff, plot_training  # noqa: E402
from common.probes import binary_auc, entropy, extract_features, linear_probe, mlp_probe  # noqa: E402
from common.run import Run, start  # noqa: E402
from common.sweep import run_sweep  # noqa: E402

from mist_reg import MILoss  # noqa: E402
from mist_reg.estimators import club  # noqa: E402


@dataclass
class FairnessConfig(BaseConfig):
    r"""Settings of the fairness recipe (see ``--help``)."""

    out: str = option("runs/fairness/default", "run folder (one sub-folder per weight)")
    image_size: int | None = option(None, "resize images to this size (default: the native size, 8 for digits)")
    steps: int = option(300, "optimisation steps per weight")
    batch_size: int = option(128, "global batch size")
    lr: float = option(1e-3, "learning rate of the encoder, head and q (AdamW, cosine decay after a linear warm-up)")
    weights: tuple[float, ...] = option((0.0, 1.0, 3.0, 10.0), "penalty weights to sweep (comma-separated)")
    rate: float = option(0.8, "P(tint agrees with the label group): 0.5 independent, 1 a function of the label")
    z_dim: int = option(0, "width of a linear layer after the backbone forming Z (0: Z is the backbone's features)")
    club_hidden: int = option(64, "hidden width of q(s | z) (0: a linear q)")
    inner_steps: int = option(10, "extra fitting steps of q(s | z) per batch, so that q keeps up with the encoder")
    inner_lr: float = option(3e-2, "learning rate of the inner steps")
    augment: bool = option(True, "augment training images (crops, rotations, brightness, noise; the tint is kept)")
    penalty_warmup: float = option(0.2, "fraction of the steps over which the penalty weight rises from 0")


class FairClassifier(nn.Module):
    r"""Encoder ``x -> Z``, head ``Z -> label`` and the penalty on ``I(Z; S)``, in one
    module so that DDP synchronises the gradients of ``q(s | z)`` too.

    ``forward(images, attributes)`` returns the logits and the penalty term.
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int, config: FairnessConfig, weight: float) -> None:
        super().__init__()
        z_dim = config.z_dim or feature_dim
        self.encoder = nn.Sequential(backbone, nn.Linear(feature_dim, z_dim)) if config.z_dim else nn.Sequential(backbone)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(z_dim, num_classes)) if config.z_dim else nn.Linear(z_dim, num_classes)
        estimator = club(z_dim, 1, hidden_dims=[config.club_hidden] if config.club_hidden else [], q="categorical", n_classes=2)
        self.inner_optimizer = torch.optim.Adam(estimator.parameters(), lr=config.inner_lr)
        self.penalty = MILoss(
            estimator,
            x="encoder",
            direction="minimize",
            weight=weight,
            inner_steps=config.inner_steps,
            inner_optimizer=lambda params: self.inner_optimizer,
        )
        self.penalty.attach(self)

    def forward(self, images: Tensor, attributes: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.head(self.encoder(images))
        return logits, self.penalty(y=attributes)


def load_data(config: FairnessConfig, is_main: bool = True) -> tuple[ImageData, Tensor, Tensor]:
    r"""The tinted dataset and the attributes of its training and test samples (images at
    ``config.image_size``, or at their native size: 8x8 for digits)."""
    image_size = 8 if config.image_size is None and config.data == "digits" else config.image_size
    data = load_images_rank0_first(config.data, config.data_dir, config.download, image_size, is_main)
    return add_tint(data, config.rate, config.seed)


def demographic_parity_gap(predictions: Tensor, attributes: Tensor, num_classes: int) -> float:
    r"""``max_c |P(pred = c | S = 1) - P(pred = c | S = 0)|`` for a binary attribute."""
    rates = [F.one_hot(predictions[attributes == s], num_classes).float().mean(0) for s in (0, 1)]
    return float((rates[1] - rates[0]).abs().max())


@torch.no_grad()
def evaluate(model: FairClassifier, data: ImageData, s_train: Tensor, s_test: Tensor, device: torch.device, amp: bool) -> dict[str, Any]:
    r"""Task accuracy, S probes, demographic-parity gap and ``I(Z; S)`` bound on the test split."""
    model.eval()

    def encode(images: Tensor) -> Tensor:
        with autocast(device, amp):
            return model.encoder(to_memory_format(data.normalize(images), device))

    z_train, z_test = extract_features(encode, data.train_images), extract_features(encode, data.test_images)
    predictions = model.head(z_test).argmax(1)
    model.train()
    probes = {
        "linear": linear_probe(z_train, s_train, z_test, s_test, num_classes=2),
        "mlp": mlp_probe(z_train, s_train, z_test, s_test, num_classes=2),
    }
    h_s = entropy(s_test, 2)
    best = min(probes.values(), key=lambda p: p.cross_entropy)
    group = (data.test_labels >= data.num_classes / 2).long()
    return {
        "task_accuracy": float((predictions == data.test_labels).float().mean()),
        "s_probe": {
            name: {"accuracy": p.accuracy, "auc": binary_auc(p.probabilities[:, 1], s_test), "cross_entropy": p.cross_entropy}
            for name, p in probes.items()
        },
        "s_probe_accuracy": max(p.accuracy for p in probes.values()),
        "mi_zs": max(0.0, h_s - best.cross_entropy),
        "dp_gap": demographic_parity_gap(predictions, s_test, data.num_classes),
        "dp_gap_labels": demographic_parity_gap(data.test_labels, s_test, data.num_classes),
        "s_chance": float(torch.bincount(s_test, minlength=2).max()) / len(s_test),
        "s_from_label": float((group == s_test).float().mean()),
        "h_s": h_s,
    }


def train_weight(config: FairnessConfig, context: DistributedContext, data: ImageData, s_train: Tensor, s_test: Tensor, weight: float, run: Run) -> dict[str, Any]:
    r"""Trains and evaluates the model of one penalty weight in ``run``."""
    device = context.device
    with initialisation(config.seed):  # every weight starts from the same initialisation
        backbone, dim = build_backbone(config.backbone, data.channels, data.image_size, config.width)
        model = FairClassifier(backbone, dim, data.num_classes, config, weight).to(device)
    batches = StepBatches(len(data.train_images), config.batch_size, config.seed, context.rank, context.world_size, device)

    ramp_steps = config.penalty_warmup * config.steps
    # the dataset's augmentations without the colour changes that would erase the tint
    augment = replace(augment_preset(data.name), saturation=0.0, grayscale_p=0.0)
    generator = torch.Generator(device=device)

    def compute_loss(ddp_model: nn.Module, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        # q(s | z) fits from the first step; the encoder feels the penalty gradually
        model.penalty.weight = ramped_weight(weight, step, ramp_steps)
        index = batches.indices(step)
        images = data.train_images[index].float() / 255
        if config.augment:
            generator.manual_seed(step_seed(config.seed, step))
            images = augment(images, generator, batches.local_rows, config.batch_size)
        logits, penalty = ddp_model(to_memory_format(data.normalize(images), device), s_train[index])
        task = F.cross_entropy(logits.float(), data.train_labels[index])
        return task + penalty, {"task_loss": task.detach(), "club_estimate": model.penalty.last_estimate}

    timing = fit(
        run, context, config, model, compute_loss,
        extra_optimizers={"club_inner": model.inner_optimizer}, compile_module=backbone, description=f"weight {weight:g}",
    )
    summary: dict[str, Any] = {}
    if context.is_main:
        records = run.read_metrics()
        summary = {"weight": weight, **evaluate(model, data, s_train, s_test, device, config.amp), **timing}
        summary["final_club_estimate"] = records[-1]["club_estimate"] if records else math.nan
        plot_training(records, ["loss", "task_loss", "club_estimate"], run.plot_path("training.png"), f"fairness, weight {weight:g}")
        run.write_summary(summary, f"Fairness penalty, weight {weight:g}")
    barrier()
    return summary


def report(root: Run, config: FairnessConfig, results: list[dict[str, Any]]) -> dict[str, Any]:
    r"""The sweep's summary, table and trade-off plots."""
    weights = [r["weight"] for r in results]
    labels = [f"w={w:g}" for w in weights]
    first = results[0]
    plot_tradeoff(
        [r["s_probe_accuracy"] for r in results],
        {"task accuracy vs S-probe accuracy": [r["task_accuracy"] for r in results]},
        root.plot_path("tradeoff.png"),
        xlabel="S-probe accuracy (lower is fairer)",
        labels=labels,
    )
    plot_tradeoff(
        weights,
        {
            "task accuracy": [r["task_accuracy"] for r in results],
            "S-probe accuracy": [r["s_probe_accuracy"] for r in results],
            "I(Z;S) lower bound (nats)": [r["mi_zs"] for r in results],
            "demographic-parity gap": [r["dp_gap"] for r in results],
        },
        root.plot_path("sweep.png"),
        xlabel="penalty weight",
        reference={"S-probe accuracy": first["s_from_label"], "demographic-parity gap": first["dp_gap_labels"]},
        xscale="symlog",
    )
    table = ["| weight | task acc. | S-probe acc. (linear / MLP) | S-probe AUC (MLP) | I(Z;S) bound | DP gap |", "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r["s_probe"]
        table.append(
            f"| {r['weight']:g} | {r['task_accuracy']:.3f} | {s['linear']['accuracy']:.3f} / {s['mlp']['accuracy']:.3f} | "
            f"{s['mlp']['auc']:.3f} | {r['mi_zs']:.3f} | {r['dp_gap']:.3f} |"
        )
    summary = {
        "rate": config.rate,
        "s_chance": first["s_chance"],
        "s_from_label": first["s_from_label"],
        "dp_gap_labels": first["dp_gap_labels"],
        "h_s": first["h_s"],
        "sweep": results,
    }
    root.write_summary(
        summary,
        "Fairness trade-off",
        [
            f"{config.backbone} on tinted {config.data} (tint agrees with the label group at rate {config.rate}), "
            f"{config.steps} steps per weight. S chance {first['s_chance']:.3f}, S from the label alone {first['s_from_label']:.3f}, "
            f"DP gap of the true labels {first['dp_gap_labels']:.3f}. I(Z;S) bound: H(S) - CE of the better probe (nats).",
            "",
            *table,
        ],
    )
    print("\n".join(table))
    return summary


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    r"""Runs the sweep and returns its summary (an empty dictionary on ranks other than 0)."""
    config = parse_config(FairnessConfig, argv, description=__doc__.split("\n\n")[0])
    context, root = start(config)
    try:
        data, s_train, s_test = load_data(config, context.is_main)
        data, s_train, s_test = data.to(context.device), s_train.to(context.device), s_test.to(context.device)
        results = run_sweep(root, config.weights, lambda w, run: train_weight(config, context, data, s_train, s_test, w, run))
        summary = report(root, config, results) if context.is_main else {}
        barrier()
        return summary
    finally:
        teardown()


if __name__ == "__main__":
    main()
