r"""Disentanglement: a representation split into content and style whose dependence a CLUB
penalty removes.

An encoder maps an image to two parts: ``content`` (a few features from which a
classifier reads the label) and ``style`` (a few more, which together with the content
let a decoder reconstruct the image). Nothing in that objective keeps the label out of
the style; a CLUB upper bound on ``I(content; style)`` with a Gaussian ``q(style |
content)`` does: ``MILoss("club", x="content", y="style", direction="minimize",
weight=w)``, both parts captured by forward hooks from the modules of those names.

One model is trained per weight of ``--weights`` (``0``: the reference without penalty),
from the same initialisation and batches. Each is evaluated on the test split:

* ``content_accuracy``: the classifier's accuracy on the label (from the content);
* ``reconstruction_mse``: the decoder's mean squared error (standardised pixels);
* ``style_label_accuracy``: a linear probe reading the label from the frozen style
  (trained on training features): how much of the content leaked into the style;
* ``mi_content_style``: an estimate of ``I(content; style)`` on held-out features that owes
  nothing to the penalty's ``q``: :func:`mist_reg.estimate_mi` (``--mi-estimator``, MINE
  by default: a lower bound, fitted on 70% of the test features and evaluated on the
  rest, with its standard error), and the KSG k-nearest-neighbour estimate
  (:func:`mist_reg.functional.knn.ksg_mi`, ``k = 5``, on standardised features).

Usage::

    python -m recipes.disentanglement                        # digits, CPU, ~1-2 min
    python -m recipes.disentanglement --weights 0,0.3,1,3 --style-dim 4
    torchrun --nproc_per_node=2 -m recipes.disentanglement
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mist_reg import MILoss, estimate_mi
from mist_reg.estimators import club
from mist_reg.functional.knn import ksg_mi
from recipes.common.config import BaseConfig, option, parse_config
from recipes.common.data import ImageData, StepBatches, load_images_rank0_first
from recipes.common.device import autocast, to_memory_format
from recipes.common.distributed import DistributedContext, barrier, teardown
from recipes.common.loop import fit
from recipes.common.models import build_backbone, initialisation, mlp_head
from recipes.common.optim import ramped_weight
from recipes.common.plots import plot_tradeoff, plot_training
from recipes.common.probes import extract_features, linear_probe
from recipes.common.run import Run, command_line, start
from recipes.common.sweep import run_sweep
from recipes.common.validation import at_least, estimator_name, in_interval, non_negative, penalty_weights, positive


@dataclass
class DisentanglementConfig(BaseConfig):
    r"""Settings of the disentanglement recipe (see ``--help``)."""

    out: str = option("runs/disentanglement/default", "run folder (one sub-folder per weight)")
    image_size: int | None = option(None, "resize images to this size (default: the native size, 8 for digits)")
    steps: int = option(400, "optimisation steps per weight")
    batch_size: int = option(128, "global batch size")
    lr: float = option(1e-3, "learning rate (AdamW, cosine decay after a linear warm-up)")
    weights: tuple[float, ...] = option(
        (0.0, 0.1, 0.3), "penalty weights (the first, 0, is the reference without penalty)", check=penalty_weights
    )
    content_dim: int = option(8, "width of the content part", check=at_least(1))
    style_dim: int = option(8, "width of the style part", check=at_least(1))
    reconstruction_weight: float = option(1.0, "weight of the reconstruction error", check=non_negative)
    club_hidden: int = option(64, "hidden width of q(style | content)", check=at_least(1))
    inner_steps: int = option(
        5, "extra fitting steps of q per batch, so that q keeps up with the encoder", check=at_least(0)
    )
    inner_lr: float = option(1e-2, "learning rate of the inner steps", check=positive)
    penalty_warmup: float = option(
        0.2, "fraction of the steps over which the penalty weight rises from 0", check=in_interval(0, 1, "both")
    )
    mi_estimator: str = option(
        "mine", "estimator of the independent I(content; style) estimate (any mist_reg name)", check=estimator_name
    )
    mi_iterations: int = option(500, "training iterations of that estimator", check=at_least(1))


class SplitAutoencoder(nn.Module):
    r"""Encoder with a ``content`` and a ``style`` head, a classifier on the content, a
    decoder on both, and the penalty on ``I(content; style)``, in one module so that DDP
    synchronises the gradients of ``q`` too.

    ``forward(images)`` returns the logits, the reconstruction and the penalty term.
    """

    def __init__(
        self, backbone: nn.Module, feature_dim: int, data: ImageData, config: DisentanglementConfig, weight: float
    ) -> None:
        super().__init__()
        self.encoder = backbone
        # each part is standardised per sample (LayerNorm without affine parameters), so the
        # encoder cannot shrink or inflate a part to change the penalty's scale
        self.content = nn.Sequential(
            nn.Linear(feature_dim, config.content_dim), nn.LayerNorm(config.content_dim, elementwise_affine=False)
        )
        self.style = nn.Sequential(
            nn.Linear(feature_dim, config.style_dim), nn.LayerNorm(config.style_dim, elementwise_affine=False)
        )
        self.classifier = nn.Linear(config.content_dim, data.num_classes)
        self.image_shape = (data.channels, data.image_size, data.image_size)
        self.decoder = mlp_head(config.content_dim + config.style_dim, 256, math.prod(self.image_shape))
        # the inner optimiser of q is MILoss's own: its state is in the model's state_dict
        self.penalty = MILoss(
            club(config.content_dim, config.style_dim, hidden_dims=[config.club_hidden]),
            x="content",
            y="style",
            direction="minimize",
            weight=weight,
            inner_steps=config.inner_steps,
            inner_lr=config.inner_lr,
        )
        self.penalty.attach(self)

    def parts(self, images: Tensor) -> tuple[Tensor, Tensor]:
        r"""The content and style of ``images``."""
        features = self.encoder(images)
        return self.content(features), self.style(features)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        content, style = self.parts(images)
        reconstruction = self.decoder(torch.cat([content, style], 1)).view(-1, *self.image_shape)
        return self.classifier(content), reconstruction, self.penalty()


def independent_mi(content: Tensor, style: Tensor, config: DisentanglementConfig) -> dict[str, float]:
    r"""``I(content; style)`` estimated from held-out features by a fresh estimator and by KSG."""
    content, style = content.double().cpu(), style.double().cpu()
    with torch.enable_grad():  # the estimator trains, also when called from evaluation code
        estimate = estimate_mi(
            content.float(),
            style.float(),
            config.mi_estimator,
            max_iterations=config.mi_iterations,
            seed=config.seed,
            device="cpu",
        )
    standardise = lambda t: (t - t.mean(0)) / t.std(0).clamp_min(1e-12)  # noqa: E731
    return {
        "estimate": float(estimate),
        "standard_error": float(estimate.standard_error),
        "bound": estimate.bound,
        "ksg": float(ksg_mi(standardise(content), standardise(style), k=5)),
    }


@torch.no_grad()
def evaluate(
    model: SplitAutoencoder, data: ImageData, device: torch.device, config: DisentanglementConfig
) -> dict[str, Any]:
    r"""Content accuracy, reconstruction error, label leakage into the style, and the
    independent estimates of ``I(content; style)``, on the test split."""
    model.eval()

    def parts(images: Tensor) -> Tensor:
        with autocast(device, config.amp):
            return torch.cat(model.parts(to_memory_format(data.normalize(images), device)), 1)

    train_parts, test_parts = extract_features(parts, data.train_images), extract_features(parts, data.test_images)
    c_dim = config.content_dim
    content, style = test_parts[:, :c_dim], test_parts[:, c_dim:]
    targets = data.normalize(data.test_images)
    reconstruction = model.decoder(test_parts).view_as(targets)
    model.train()
    style_probe = linear_probe(
        train_parts[:, c_dim:], data.train_labels, style, data.test_labels, num_classes=data.num_classes
    )
    return {
        "content_accuracy": float((model.classifier(content).argmax(1) == data.test_labels).float().mean()),
        "reconstruction_mse": float(F.mse_loss(reconstruction.float(), targets)),
        "style_label_accuracy": style_probe.accuracy,
        "mi_content_style": independent_mi(content, style, config),
    }


def train_weight(
    config: DisentanglementConfig, context: DistributedContext, data: ImageData, weight: float, run: Run
) -> dict[str, Any]:
    r"""Trains and evaluates the model of one penalty weight in ``run``."""
    device = context.device
    with initialisation(config.seed):  # every weight starts from the same initialisation
        backbone, dim = build_backbone(config.backbone, data.channels, data.image_size, config.width)
        model = SplitAutoencoder(backbone, dim, data, config, weight).to(device)
    batches = StepBatches(
        len(data.train_images), config.batch_size, config.seed, context.rank, context.world_size, device
    )
    ramp_steps = config.penalty_warmup * config.steps

    def compute_loss(ddp_model: nn.Module, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        # q fits from the first step; the encoder feels the penalty gradually
        model.penalty.weight = ramped_weight(weight, step, ramp_steps)
        index = batches.indices(step)
        images = to_memory_format(data.normalize(data.train_images[index]), device)
        logits, reconstruction, penalty = ddp_model(images)
        task = F.cross_entropy(logits.float(), data.train_labels[index])
        error = F.mse_loss(reconstruction.float(), images.float())
        loss = task + config.reconstruction_weight * error + penalty
        return loss, {
            "task_loss": task.detach(),
            "reconstruction": error.detach(),
            "club_estimate": model.penalty.last_estimate,
        }

    timing = fit(run, context, config, model, compute_loss, compile_module=backbone, description=f"weight {weight:g}")
    summary: dict[str, Any] = {}
    if context.is_main:
        records = run.read_metrics()
        summary = {"weight": weight, **evaluate(model, data, device, config), **timing}
        summary["final_club_estimate"] = records[-1]["club_estimate"] if records else math.nan
        plot_training(
            records,
            ["loss", "task_loss", "reconstruction", "club_estimate"],
            run.plot_path("training.png"),
            f"disentanglement, weight {weight:g}",
        )
        run.write_summary(summary, f"Disentanglement penalty, weight {weight:g}")
    barrier()
    return summary


def report(root: Run, config: DisentanglementConfig, results: list[dict[str, Any]]) -> dict[str, Any]:
    r"""The sweep's summary (``before``: the first weight; ``after``: each other weight), table and plot."""
    weights = [r["weight"] for r in results]
    plot_tradeoff(
        weights,
        {
            f"I(content; style), {config.mi_estimator} (nats)": [r["mi_content_style"]["estimate"] for r in results],
            "I(content; style), KSG (nats)": [r["mi_content_style"]["ksg"] for r in results],
            "label accuracy from style": [r["style_label_accuracy"] for r in results],
            "content accuracy": [r["content_accuracy"] for r in results],
            "reconstruction MSE": [r["reconstruction_mse"] for r in results],
        },
        root.plot_path("sweep.png"),
        xlabel="penalty weight",
        xscale="symlog",
        errors={
            f"I(content; style), {config.mi_estimator} (nats)": [
                r["mi_content_style"]["standard_error"] for r in results
            ]
        },
    )
    table = [
        f"| weight | I(c;s) {config.mi_estimator} | I(c;s) KSG | label acc. from style | content acc. | reconstruction MSE |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mi = r["mi_content_style"]
        table.append(
            f"| {r['weight']:g} | {mi['estimate']:.3f} +- {mi['standard_error']:.3f} | {mi['ksg']:.3f} | "
            f"{r['style_label_accuracy']:.3f} | {r['content_accuracy']:.3f} | {r['reconstruction_mse']:.3f} |"
        )
    brief = lambda r: {
        "weight": r["weight"],
        **r["mi_content_style"],
        "style_label_accuracy": r["style_label_accuracy"],
    }  # noqa: E731
    summary = {"before": brief(results[0]), "after": [brief(r) for r in results[1:]], "sweep": results}
    root.write_summary(
        summary,
        "Disentanglement",
        [
            f"{config.backbone} on {config.data}, content {config.content_dim} + style {config.style_dim} features, "
            f"{config.steps} steps per weight. I(c;s): {config.mi_estimator} via mist_reg.estimate_mi and KSG, "
            "on held-out features (nats).",
            "",
            *table,
        ],
    )
    print("\n".join(table))
    return summary


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    r"""Runs the sweep and returns its summary (an empty dictionary on ranks other than 0)."""
    config = parse_config(DisentanglementConfig, argv, description=__doc__.split("\n\n")[0])
    context, root = start(config)
    try:
        image_size = (
            8 if config.image_size is None and config.data == "digits" else config.image_size
        )  # digits: native 8x8
        data = load_images_rank0_first(config.data, config.data_dir, config.download, image_size, context.is_main)
        data = data.to(context.device)
        results = run_sweep(root, config.weights, lambda w, run: train_weight(config, context, data, w, run))
        summary = report(root, config, results) if context.is_main else {}
        barrier()
        return summary
    finally:
        teardown()


if __name__ == "__main__":
    sys.exit(command_line(main))
