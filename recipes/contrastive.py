r"""Contrastive pretraining (SimCLR-style) with :class:`mist_reg.MILoss`.

Two augmented views of each image go through one encoder and a projection head; the
two batches of projections ``z1, z2`` are the ``x`` and ``y`` of an MI lower bound that
the encoder maximises: ``MILoss("infonce")`` by default, which with a cosine critic at
temperature ``t`` is the NT-Xent / InfoNCE objective, and any other critic-based lower
bound by name (``--estimator nwj``, ``js``, ``smile``, ``mine``, ``tuba``, ``alpha_tuba``,
``flo``). Under ``torchrun`` the projections of every process are gathered with
gradients, so the negatives come from the whole global batch.

After training, the encoder's frozen features are evaluated with a linear probe and a
k-NN probe (trained on the training split, scored on the test split), beside the same
encoder at its random initialisation.

Usage::

    python -m recipes.contrastive                                   # digits, CPU, ~1 min
    python -m recipes.contrastive --estimator nwj --out runs/contrastive/nwj
    python -m recipes.contrastive --data cifar10 --data-dir ~/data --download \
        --backbone resnet18 --batch-size 512 --steps 20000 --compile
    torchrun --nproc_per_node=4 -m recipes.contrastive --data cifar10 --backbone resnet18
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mist_reg import MILoss
from mist_reg.estimators import FLO, JS, MINE, NWJ, SMILE, TUBA, AlphaTUBA, InfoNCE, MIEstimator
from mist_reg.nn.baselines import joint_baseline, learned_baseline
from mist_reg.nn.critic import SeparableCritic
from recipes.common.augment import augment_preset
from recipes.common.config import BaseConfig, option, parse_config
from recipes.common.data import ImageData, StepBatches, load_images_rank0_first, step_seed
from recipes.common.device import autocast, to_memory_format
from recipes.common.distributed import DistributedContext, barrier, teardown
from recipes.common.loop import fit
from recipes.common.models import NORMS, build_backbone, initialisation, mlp_head
from recipes.common.plots import plot_training
from recipes.common.probes import extract_features, knn_probe, linear_probe
from recipes.common.run import Run, command_line, start
from recipes.common.validation import at_least, positive

LOWER_BOUNDS: tuple[str, ...] = ("infonce", "nwj", "js", "smile", "mine", "tuba", "alpha_tuba", "flo")


@dataclass
class ContrastiveConfig(BaseConfig):
    r"""Settings of the contrastive recipe (see ``--help``)."""

    out: str = option("runs/contrastive/default", "run folder")
    steps: int = option(400, "optimisation steps")
    batch_size: int = option(256, "global batch size: images per step, two views each")
    estimator: str = option("infonce", "MI lower bound to maximise", choices=LOWER_BOUNDS)
    temperature: float = option(0.2, "temperature of the cosine critic", check=positive)
    neg_samples: int = option(0, "negatives per sample (0: the whole global batch)", check=at_least(0))
    projection_dim: int = option(64, "output width of the projection head", check=at_least(1))
    projection_hidden: int = option(256, "hidden width of the projection head", check=at_least(1))
    projection_norm: str = option(
        "layer",
        "normalisation in the projection head (layer: identical results on any number of processes)",
        choices=NORMS,
    )
    knn_k: int = option(20, "neighbours of the k-NN probe", check=at_least(1))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.neg_samples >= self.batch_size:
            raise ValueError(
                f"--neg-samples must be below --batch-size ({self.batch_size}), got {self.neg_samples}; "
                "0 uses the whole batch"
            )


def build_estimator(name: str, dim: int, temperature: float, neg_samples: int = 0, hidden: int = 128) -> MIEstimator:
    r"""A critic-based lower bound on ``I(z1; z2)`` with the SimCLR critic: cosine
    similarity of the projections divided by ``temperature`` (no parameters); bounds with
    a baseline get a small MLP for it."""
    critic = SeparableCritic(nn.Identity(), nn.Identity(), normalize=True, temperature=temperature)
    builders = {
        "infonce": lambda: InfoNCE(critic, neg_samples),
        "nwj": lambda: NWJ(critic, neg_samples),
        "js": lambda: JS(critic, neg_samples),
        "smile": lambda: SMILE(critic, neg_samples),
        "mine": lambda: MINE(critic, neg_samples),
        "tuba": lambda: TUBA(critic, learned_baseline(dim, [hidden]), neg_samples),
        "alpha_tuba": lambda: AlphaTUBA(critic, learned_baseline(dim, [hidden]), neg_samples),
        "flo": lambda: FLO(critic, joint_baseline(dim, dim, [hidden]), neg_samples),
    }
    if name not in builders:
        raise ValueError(f"unknown estimator {name!r}; valid lower bounds: {', '.join(LOWER_BOUNDS)}")
    return builders[name]()


class SimCLR(nn.Module):
    r"""Encoder, projection head and the MI term, in one module so that DDP synchronises
    the estimator's parameters (if it has any) with the encoder's.

    ``forward(view1, view2)`` returns the loss ``-I_hat(z1; z2)`` of the two views'
    projections (the estimate itself is in ``self.mi_loss.last_estimate``).
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, config: ContrastiveConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.projector = mlp_head(feature_dim, config.projection_hidden, config.projection_dim, config.projection_norm)
        estimator = build_estimator(config.estimator, config.projection_dim, config.temperature, config.neg_samples)
        self.mi_loss = MILoss(estimator, direction="maximize")

    def forward(self, view1: Tensor, view2: Tensor) -> Tensor:
        z1, z2 = self.projector(self.backbone(torch.cat([view1, view2]))).chunk(2)
        return self.mi_loss(x=z1, y=z2)


def build_model(config: ContrastiveConfig, data: ImageData) -> SimCLR:
    r"""The model at its initialisation, which depends only on ``config.seed``."""
    with initialisation(config.seed):
        backbone, dim = build_backbone(config.backbone, data.channels, data.image_size, config.width)
        return SimCLR(backbone, dim, config)


@torch.no_grad()
def evaluate(backbone: nn.Module, data: ImageData, device: torch.device, config: ContrastiveConfig) -> dict[str, float]:
    r"""Linear-probe and k-NN accuracy of the frozen features on the test split."""
    was_training = backbone.training
    backbone.eval()

    def encode(images: Tensor) -> Tensor:
        with autocast(device, config.amp):
            return backbone(to_memory_format(data.normalize(images), device))

    train_f, test_f = extract_features(encode, data.train_images), extract_features(encode, data.test_images)
    backbone.train(was_training)
    args = (train_f, data.train_labels, test_f, data.test_labels)
    return {
        "linear_probe_accuracy": linear_probe(*args, num_classes=data.num_classes).accuracy,
        "knn_accuracy": knn_probe(*args, k=config.knn_k, num_classes=data.num_classes).accuracy,
    }


def fit_model(
    config: ContrastiveConfig, context: DistributedContext, run: Run, data: ImageData
) -> tuple[SimCLR, dict[str, float]]:
    r"""Trains (or resumes training of) the model in ``run``; returns it and timing figures."""
    device = context.device
    model = build_model(config, data).to(device)
    batches = StepBatches(
        len(data.train_images), config.batch_size, config.seed, context.rank, context.world_size, device
    )
    augment = augment_preset(data.name)
    generator = torch.Generator(device=device)

    def compute_loss(ddp_model: nn.Module, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        images = data.train_images[batches.indices(step)].float() / 255
        generator.manual_seed(step_seed(config.seed, step))  # the same views on any number of processes
        views = [augment(images, generator, batches.local_rows, config.batch_size) for _ in range(2)]
        view1, view2 = (to_memory_format(data.normalize(v), device) for v in views)
        return ddp_model(view1, view2), {"mi_estimate": model.mi_loss.last_estimate}

    timing = fit(run, context, config, model, compute_loss, compile_module=model.backbone, description="contrastive")
    timing["images_per_second"] = 2 * config.batch_size * timing.pop("steps_per_second")
    return model, timing


def _result_line(summary: dict[str, Any], run: Run) -> str:
    initial = summary["random_init"]
    return (
        f"linear probe {summary['linear_probe_accuracy']:.4f} (random init {initial['linear_probe_accuracy']:.4f}); "
        f"k-NN {summary['knn_accuracy']:.4f} (random init {initial['knn_accuracy']:.4f}); results in {run.dir}"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    r"""Runs the recipe and returns its summary (an empty dictionary on ranks other than 0)."""
    config = parse_config(ContrastiveConfig, argv, description=__doc__.split("\n\n")[0])
    context, run = start(config)
    try:
        if run.complete:  # a finished run is not trained nor evaluated again: its summary stands
            summary = run.read_summary() if context.is_main else {}
            if context.is_main:
                print(f"{run.dir} holds a finished run (--no-resume runs it again):")
                print(_result_line(summary, run))
            barrier()
            return summary
        data = load_images_rank0_first(
            config.data, config.data_dir, config.download, config.image_size, context.is_main
        )
        data = data.to(context.device)
        model, timing = fit_model(config, context, run, data)
        summary: dict[str, Any] = {}
        if context.is_main:
            trained = evaluate(model.backbone, data, context.device, config)
            initial = evaluate(build_model(config, data).backbone.to(context.device), data, context.device, config)
            records = run.read_metrics()
            summary = {
                **trained,
                "random_init": initial,
                "final_mi_estimate": records[-1]["mi_estimate"] if records else math.nan,
                "mi_estimate_cap": math.log(config.batch_size if config.neg_samples == 0 else config.neg_samples + 1),
                "estimator": config.estimator,
                "steps": config.steps,
                "world_size": context.world_size,
                **timing,
            }
            plot_training(
                records,
                ["loss", "mi_estimate", "lr"],
                run.plot_path("training.png"),
                f"contrastive ({config.estimator})",
            )
            run.write_summary(
                summary,
                "Contrastive pretraining",
                [
                    f"{config.backbone} on {config.data}, {config.steps} steps of batch {config.batch_size}, "
                    f"MILoss({config.estimator}) at temperature {config.temperature}.",
                    f"Linear probe {trained['linear_probe_accuracy']:.3f} (random init {initial['linear_probe_accuracy']:.3f}), "
                    f"k-NN {trained['knn_accuracy']:.3f} (random init {initial['knn_accuracy']:.3f}).",
                ],
            )
            print(_result_line(summary, run))
        barrier()
        return summary
    finally:
        teardown()


if __name__ == "__main__":
    sys.exit(command_line(main))
