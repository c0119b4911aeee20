r"""Fair representations: a classifier whose features forget a sensitive attribute.

An encoder maps an input to a representation ``Z``; a head predicts the label from
``Z``; a penalty removes what ``Z`` says about the sensitive attribute ``S``. Two modes:

**The MI sweep** (the default on digits): ``MILoss(estimator, x="encoder",
direction="minimize", weight=w)`` with nothing else set (``--estimator``, ``"kernel"``
by default: the leave-one-out kernel estimate of ``I(Z; S)`` on each batch,
:class:`mist_reg.estimators.KernelMI`; ``"club"`` uses the kernel classifier of the
same batch as ``q(s | z)``; ``"gaussian"`` the class-conditional Gaussian model), its features
captured from the module named ``encoder`` by a forward hook. The data is
scikit-learn's digits with a colour tint as ``S`` (red or blue, agreeing with the label
group ``digit >= 5`` at ``--rate``, 0.8 by default; see ``common/attributes.py``). One
model is trained per weight of ``--weights``, from the same initialisation and batches,
and each is evaluated on the test split:

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

**The comparison of methods** (``--methods``, and the default of ``--data adult``): for
each seed of ``--seeds``, each method and each of its weights, one model: ``none``;
``mi`` (``MILoss(--estimator, x="encoder", direction="minimize", weight=w)`` with its
defaults, called with the integer attribute); ``gaussian`` (the same with
``"gaussian"``); ``club`` (``MILoss("club")`` with its minimising defaults); ``club_learned``
(CLUB with a learned ``q``, the adversarial game); ``adversary`` (gradient reversal,
``common/adversary.py``); ``confusion`` (``common/confusion.py``); ``mmd``
(``common/mmd.py``). Each is scored on the test split (task accuracy; fresh linear and
2x64 MLP S-probes on frozen, standardised features: accuracy and AUC; DP gap; the held-out
``I(Z; S)`` lower bound of :func:`mist_reg.attribute_leakage`), and every
``--leakage-every`` steps ``attribute_leakage`` on a fixed subset of training rows is
logged to the run's ``metrics.jsonl``. The summary gives the mean and standard error over
the seeds per method and weight; ``plots/methods_tradeoff.png`` draws the trade-offs.
``--data adult`` is UCI Adult (``common/adult.py``; shipped in ``recipes/data/adult``):
income as the task, ``--sensitive sex`` (default) or ``race`` as ``S``, an MLP encoder.

Usage::

    python -m recipes.fairness                                 # digits, CPU, ~1-2 min
    python -m recipes.fairness --weights 0,0.3,1,3,10 --rate 0.7 --out runs/fairness/rate07
    torchrun --nproc_per_node=2 -m recipes.fairness
    python -m recipes.fairness --data adult --threads 1        # every method, seeds 0,1,2
    python -m recipes.fairness --data adult --methods none,mmd --seeds 0 --max-rows 2000 --steps 300
    python -m recipes.fairness --methods none,mi,adversary,confusion,mmd   # digits, every method
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mist_reg import MILoss, attribute_leakage
from recipes.common.adult import TabularData, load_adult
from recipes.common.adversary import AdversaryPenalty
from recipes.common.attributes import add_tint
from recipes.common.augment import augment_preset
from recipes.common.config import (
    BaseConfig,
    load_config_file,
    option,
    parse_config,
)
from recipes.common.confusion import ConfusionPenalty
from recipes.common.data import (
    DATASETS,
    ImageData,
    StepBatches,
    load_images_rank0_first,
    step_seed,
)
from recipes.common.device import autocast, to_memory_format
from recipes.common.distributed import DistributedContext, barrier, teardown
from recipes.common.loop import fit
from recipes.common.mmd import DEFAULT_BANDWIDTHS, MMDPenalty
from recipes.common.models import build_backbone, initialisation
from recipes.common.optim import ramped_weight
from recipes.common.plots import plot_method_curves, plot_tradeoff, plot_training
from recipes.common.probes import binary_auc, entropy, extract_features, linear_probe, mlp_probe
from recipes.common.run import Run, start
from recipes.common.sweep import run_sweep

METHODS: tuple[str, ...] = ("none", "mi", "gaussian", "club", "club_learned", "adversary", "confusion", "mmd")
MI_METHODS: tuple[str, ...] = ("mi", "gaussian", "club", "club_learned")
r"""The methods of ``--methods``: no penalty, ``MILoss`` minimising ``--estimator``, an adversary
behind a gradient-reversal layer, the confusion loss, and an MMD penalty between groups."""


@dataclass
class FairnessConfig(BaseConfig):
    r"""Settings of the fairness recipe (see ``--help``)."""

    out: str = option("runs/fairness/default", "run folder (one sub-folder per weight)")
    image_size: int | None = option(None, "resize images to this size (default: the native size, 8 for digits)")
    steps: int = option(900, "optimisation steps per weight")
    batch_size: int = option(128, "global batch size")
    lr: float = option(1e-3, "learning rate of the encoder, head and q (AdamW, cosine decay after a linear warm-up)")
    weights: tuple[float, ...] = option((0.0, 1.0, 3.0, 10.0), "penalty weights to sweep (comma-separated)")
    rate: float = option(0.8, "P(tint agrees with the label group): 0.5 independent, 1 a function of the label")
    z_dim: int = option(0, "width of a linear layer after the backbone forming Z (0: Z is the backbone's features)")
    augment: bool = option(True, "augment training images (crops, rotations, brightness, noise; the tint is kept)")
    penalty_warmup: float = option(0.2, "fraction of the steps over which the penalty weight rises from 0")
    # -- the comparison of methods (--methods) and UCI Adult (--data adult) -------------------------
    data: str = option(
        "digits",
        "dataset: digits (tinted; S is the tint) or adult (UCI Adult; S is --sensitive)",
        choices=(*DATASETS, "adult"),
    )
    sensitive: str = option(
        "sex", "adult: the sensitive attribute, sex or race (white vs. non-white)", choices=("sex", "race")
    )
    max_rows: int = option(0, "adult: keep only the first N complete rows of each split (0: all), for quick checks")
    methods: tuple[str, ...] = option(
        (), f"methods to compare, from {','.join(METHODS)} (empty: the single MI sweep of --weights)"
    )
    seeds: tuple[int, ...] = option((), "seeds of the method comparison, each a full sweep (empty: --seed)")
    estimator: str = option(
        "kernel",
        "mi method: the MI estimator, a registered name (MILoss(estimator, direction='minimize') with its defaults)",
    )
    weights_mi: tuple[float, ...] = option((1.0, 3.0, 10.0, 30.0), "mi method: penalty weights")
    weights_gaussian: tuple[float, ...] = option(
        (1.0, 3.0, 10.0, 30.0), "gaussian method: weights of MILoss('gaussian', direction='minimize')"
    )
    weights_club: tuple[float, ...] = option(
        (1.0, 3.0, 10.0, 30.0),
        "club method: weights of MILoss('club', direction='minimize') (q refitted on every batch)",
    )
    weights_club_learned: tuple[float, ...] = option(
        (1.0, 3.0), "club_learned method: weights of CLUB with a learned categorical q (the adversarial game)"
    )
    weights_adversary: tuple[float, ...] = option(
        (0.3, 1.0, 3.0, 10.0, 30.0), "adversary method: gradient-reversal weights"
    )
    weights_confusion: tuple[float, ...] = option((0.3, 1.0, 3.0, 10.0), "confusion method: penalty weights")
    weights_mmd: tuple[float, ...] = option((1.0, 3.0, 10.0, 30.0, 100.0), "mmd method: penalty weights")
    adversary_hidden: int = option(
        64, "adversary and confusion methods: width of the two hidden layers of the adversary"
    )
    adversary_steps: int = option(5, "confusion method: steps of q(s | z) per batch on detached features")
    adversary_lr: float = option(1e-3, "confusion method: learning rate of q(s | z) (Adam)")
    mmd_bandwidths: tuple[float, ...] = option(
        DEFAULT_BANDWIDTHS, "mmd method: RBF kernel widths in units of sqrt(dim Z)"
    )
    hidden: tuple[int, ...] = option(
        (64, 64), "adult: hidden widths of the MLP encoder (ReLU), before the z-dim features"
    )
    leakage_every: int = option(
        100, "method comparison: steps between held-out leakage checks logged to metrics.jsonl (0: none)"
    )
    leakage_rows: int = option(4000, "method comparison: training rows the leakage checks read (a fixed random subset)")


@dataclass
class AdultFairnessConfig(FairnessConfig):
    r"""The defaults of ``--data adult``: an MLP encoder to 8 features, every method, 3 seeds."""

    out: str = option("runs/fairness/adult", "run folder (one sub-folder per method, seed and weight)")
    data: str = option(
        "adult",
        "dataset: digits (tinted; S is the tint) or adult (UCI Adult; S is --sensitive)",
        choices=(*DATASETS, "adult"),
    )
    data_dir: str | None = option(
        None, "folder holding adult.data and adult.test (default: the copy shipped in recipes/data/adult)"
    )
    steps: int = option(3000, "optimisation steps per run")
    batch_size: int = option(256, "global batch size")
    lr: float = option(
        1e-3, "learning rate of the encoder, head and penalty (Adam; cosine decay after a linear warm-up)"
    )
    weight_decay: float = option(0.0, "AdamW weight decay (0: Adam)")
    z_dim: int = option(8, "width of the features Z")
    augment: bool = option(False, "(images only)")
    methods: tuple[str, ...] = option(METHODS, f"methods to compare, from {','.join(METHODS)}")
    seeds: tuple[int, ...] = option((0, 1, 2), "seeds of the method comparison, each a full sweep")
    leakage_every: int = option(500, "steps between held-out leakage checks logged to metrics.jsonl (0: none)")
    log_every: int = option(50, "steps between records of the metrics log")
    checkpoint_every: int = option(500, "steps between checkpoints")


class FairClassifier(nn.Module):
    r"""Encoder ``x -> Z``, head ``Z -> label`` and the penalty on ``I(Z; S)``, in one
    module so that DDP synchronises the gradients of ``q(s | z)`` too.

    ``forward(images, attributes)`` returns the logits and the penalty term.
    """

    def __init__(
        self, backbone: nn.Module, feature_dim: int, num_classes: int, config: FairnessConfig, weight: float
    ) -> None:
        super().__init__()
        z_dim = config.z_dim or feature_dim
        self.encoder = (
            nn.Sequential(backbone, nn.Linear(feature_dim, z_dim)) if config.z_dim else nn.Sequential(backbone)
        )
        self.head = (
            nn.Sequential(nn.ReLU(), nn.Linear(z_dim, num_classes)) if config.z_dim else nn.Linear(z_dim, num_classes)
        )
        # built at once from the widths (dims only: every other setting is MILoss's default)
        self.penalty = MILoss(
            config.estimator,
            x="encoder",
            direction="minimize",
            weight=weight,
            estimator_kwargs=dict(x_dim=z_dim, y_dim=1),
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
def evaluate(
    model: FairClassifier, data: ImageData, s_train: Tensor, s_test: Tensor, device: torch.device, amp: bool
) -> dict[str, Any]:
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
            name: {
                "accuracy": p.accuracy,
                "auc": binary_auc(p.probabilities[:, 1], s_test),
                "cross_entropy": p.cross_entropy,
            }
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


def train_weight(
    config: FairnessConfig,
    context: DistributedContext,
    data: ImageData,
    s_train: Tensor,
    s_test: Tensor,
    weight: float,
    run: Run,
) -> dict[str, Any]:
    r"""Trains and evaluates the model of one penalty weight in ``run``."""
    device = context.device
    with initialisation(config.seed):  # every weight starts from the same initialisation
        backbone, dim = build_backbone(config.backbone, data.channels, data.image_size, config.width)
        model = FairClassifier(backbone, dim, data.num_classes, config, weight).to(device)
    batches = StepBatches(
        len(data.train_images), config.batch_size, config.seed, context.rank, context.world_size, device
    )

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
        return task + penalty, {"task_loss": task.detach(), "mi_estimate": model.penalty.last_estimate}

    timing = fit(
        run,
        context,
        config,
        model,
        compute_loss,
        compile_module=backbone,
        description=f"weight {weight:g}",
    )
    summary: dict[str, Any] = {}
    if context.is_main:
        records = run.read_metrics()
        summary = {"weight": weight, **evaluate(model, data, s_train, s_test, device, config.amp), **timing}
        summary["final_mi_estimate"] = records[-1]["mi_estimate"] if records else math.nan
        plot_training(
            records, ["loss", "task_loss", "mi_estimate"], run.plot_path("training.png"), f"fairness, weight {weight:g}"
        )
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
        reference={
            "S-probe accuracy": (first["s_from_label"], "S from the label alone"),
            "demographic-parity gap": (first["dp_gap_labels"], "gap of the true labels"),
        },
        xscale="symlog",
    )
    table = [
        "| weight | task acc. | S-probe acc. (linear / MLP) | S-probe AUC (MLP) | I(Z;S) bound | DP gap |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
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


# -- the comparison of methods --------------------------------------------------------------


@dataclass
class Task:
    r"""The data of the comparison, images or tabular rows alike: the model inputs of any
    rows, the task labels, the attribute ``S`` and the number of classes of each."""

    data: ImageData | TabularData
    s_train: Tensor
    s_test: Tensor
    augment: bool = False

    @property
    def tabular(self) -> bool:
        return isinstance(self.data, TabularData)

    @property
    def num_train(self) -> int:
        return len(self.data.train_labels)

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    @property
    def s_classes(self) -> int:
        return int(max(self.s_train.max(), self.s_test.max())) + 1

    def inputs(self, split: str, index: Tensor | None = None) -> Tensor:
        r"""The model inputs of the rows ``index`` of ``split`` (all rows if ``None``), unaugmented."""
        if self.tabular:
            rows = self.data.train_inputs if split == "train" else self.data.test_inputs
            return rows if index is None else rows[index]
        images = self.data.train_images if split == "train" else self.data.test_images
        images = images if index is None else images[index]
        return self.data.normalize(images.float() / 255)

    def training_batch(
        self,
        index: Tensor,
        step: int,
        seed: int,
        augment: Any,
        generator: torch.Generator,
        rows: slice,
        batch_size: int,
    ) -> Tensor:
        r"""The inputs of the training batch of ``step``, images augmented with draws seeded by
        ``(seed, step)``."""
        if self.tabular or not self.augment:
            return self.inputs("train", index)
        generator.manual_seed(step_seed(seed, step))
        images = augment(self.data.train_images[index].float() / 255, generator, rows, batch_size)
        return self.data.normalize(images)


def load_task(config: FairnessConfig, is_main: bool = True) -> Task:
    r"""The data set of ``config`` with its attribute: tinted images or UCI Adult."""
    if config.data == "adult":
        data, s_train, s_test = load_adult(config.data_dir, config.sensitive, config.max_rows)
        return Task(data, s_train, s_test, False)
    data, s_train, s_test = load_data(config, is_main)
    return Task(data, s_train, s_test, config.augment)


def tabular_encoder(in_features: int, hidden: Sequence[int], z_dim: int) -> nn.Sequential:
    r"""``in_features -> hidden... (ReLU) -> z_dim``: the MLP encoder of tabular rows."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, z_dim))
    return nn.Sequential(*layers)


class MethodModel(nn.Module):
    r"""Encoder ``x -> Z``, a head ``Z -> label`` and the penalty of one method.

    ``forward(inputs, s)`` returns the logits and the penalty term to add to the task loss
    (``0`` for ``none``). ``weight`` sets the penalty's weight (the warm-up changes it
    between steps). The penalties:

    * ``mi``: ``MILoss(estimator, x="encoder", direction="minimize", weight=w)``, called
      as ``mi(y=s)`` with the integer attribute (``"kernel"`` by default: the leave-one-out
      kernel estimate of the batch);
    * ``gaussian``: the same with ``"gaussian"``, the closed-form information of the
      class-conditional Gaussian model of the batch;
    * ``club``: ``MILoss("club", ...)`` with its defaults, i.e. ``q(s | z)`` the kernel
      classifier of the batch (:class:`mist_reg.distributions.BatchKernel`);
    * ``club_learned``: CLUB with a learned categorical ``q(s | z)`` (2x64 MLP) trained on
      detached features, the adversarial game (its estimator is built by a first forward
      pass in the constructor, so that its parameters are in the optimiser);
    * ``adversary``: :class:`common.adversary.AdversaryPenalty` (gradient reversal);
    * ``confusion``: :class:`common.confusion.ConfusionPenalty`, whose ``q`` takes
      ``adversary_steps`` steps of its own optimiser (``q_optimizer``) per training batch;
    * ``mmd``: :class:`common.mmd.MMDPenalty` between the groups of ``S``.
    """

    def __init__(self, config: FairnessConfig, task: Task, method: str, weight: float) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid choices: {', '.join(METHODS)}")
        self.method = method
        if task.tabular:
            z_dim = config.z_dim or 8
            self.encoder: nn.Module = tabular_encoder(task.data.num_features, config.hidden, z_dim)
            self.head: nn.Module = nn.Linear(z_dim, task.num_classes)
        else:
            backbone, dim = build_backbone(config.backbone, task.data.channels, task.data.image_size, config.width)
            z_dim = config.z_dim or dim
            self.encoder = nn.Sequential(backbone, nn.Linear(dim, z_dim)) if config.z_dim else nn.Sequential(backbone)
            self.head = (
                nn.Sequential(nn.ReLU(), nn.Linear(z_dim, task.num_classes))
                if config.z_dim
                else nn.Linear(z_dim, task.num_classes)
            )
        self.z_dim = z_dim
        self.q_optimizer: torch.optim.Optimizer | None = None
        self.adversary_steps = config.adversary_steps
        self.penalty: nn.Module | None = None
        if method in MI_METHODS:
            estimator, extra = {
                "mi": (config.estimator, {}),
                "gaussian": ("gaussian", {}),
                "club": ("club", {}),
                "club_learned": (
                    "club",
                    {
                        "estimator_kwargs": dict(
                            q="categorical", n_classes=task.s_classes, hidden_dims=[config.adversary_hidden] * 2
                        )
                    },
                ),
            }[method]
            self.penalty = MILoss(estimator, x="encoder", direction="minimize", weight=weight, **extra)
            self.penalty.attach(self)
            rows = torch.arange(min(64, task.num_train), device=task.s_train.device)
            with torch.no_grad():  # builds the estimator from the widths of the features (on the CPU, like the model)
                self(task.inputs("train", rows).float().cpu(), task.s_train[rows].cpu())
        elif method == "adversary":
            self.penalty = AdversaryPenalty(z_dim, task.s_classes, config.adversary_hidden, weight)
        elif method == "confusion":
            prior = torch.bincount(task.s_train.cpu(), minlength=task.s_classes).float()
            self.penalty = ConfusionPenalty(z_dim, prior, config.adversary_hidden, weight)
            self.q_optimizer = torch.optim.Adam(self.penalty.q.parameters(), lr=config.adversary_lr)
        elif method == "mmd":
            self.penalty = MMDPenalty(weight, config.mmd_bandwidths)

    def set_weight(self, weight: float) -> None:
        if self.penalty is not None:
            self.penalty.weight = weight

    def forward(self, inputs: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
        z = self.encoder(inputs)
        logits = self.head(z)
        if self.penalty is None:
            return logits, logits.new_zeros(()).float()
        if self.method in MI_METHODS:
            return logits, self.penalty(y=s)
        if self.method == "confusion" and self.training and torch.is_grad_enabled():
            self.penalty.fit_q(z, s, self.q_optimizer, self.adversary_steps)
        return logits, self.penalty(z, s)

    def logged(self, term: Tensor) -> dict[str, Tensor]:
        r"""The method's values worth logging after a forward pass."""
        if self.method in MI_METHODS:
            return {"mi_estimate": self.penalty.last_estimate}
        if self.method == "adversary":
            return {"adversary_ce": term.detach()}
        if self.method == "confusion":
            return {"penalty": term.detach(), "q_ce": self.penalty.last_q_loss}
        if self.method == "mmd":
            return {"penalty": term.detach()}
        return {}


@torch.no_grad()
def encode_rows(
    model: MethodModel, task: Task, split: str, index: Tensor | None = None, batch_size: int = 2048
) -> Tensor:
    r"""The features ``Z`` of rows of ``split`` (all if ``index`` is ``None``), in evaluation mode."""
    was_training = model.training
    model.eval()
    n = (task.num_train if split == "train" else len(task.s_test)) if index is None else len(index)
    device = next(model.parameters()).device
    rows = torch.arange(n, device=device) if index is None else index
    z = torch.cat(
        [model.encoder(task.inputs(split, rows[i : i + batch_size])).float() for i in range(0, n, batch_size)]
    )
    model.train(was_training)
    return z


def s_from_label_accuracy(task: Task) -> float:
    r"""Test accuracy of predicting ``S`` from the true task label alone (the majority
    value of ``S`` among the training rows of each label): what a perfect, fair-as-possible
    classifier leaves readable."""
    predictions = torch.zeros_like(task.s_test)
    for label in range(task.num_classes):
        counts = torch.bincount(task.s_train[task.data.train_labels == label].cpu(), minlength=task.s_classes)
        predictions[task.data.test_labels == label] = int(counts.argmax())
    return float((predictions == task.s_test).float().mean())


def evaluate_method(model: MethodModel, task: Task) -> dict[str, Any]:
    r"""Task accuracy, fresh linear and MLP S-probes (trained on the frozen training
    features, scored on the test features), demographic-parity gap and the held-out
    ``I(Z; S)`` lower bound of :func:`mist_reg.attribute_leakage` on the test features."""
    z_train, z_test = encode_rows(model, task, "train"), encode_rows(model, task, "test")
    with torch.no_grad():
        predictions = model.head(z_test).argmax(1)
    k = task.s_classes
    probes = {
        "linear": linear_probe(z_train, task.s_train, z_test, task.s_test, num_classes=k),
        "mlp": mlp_probe(
            z_train,
            task.s_train,
            z_test,
            task.s_test,
            num_classes=k,
            hidden=(64, 64),
            lr=1e-3,
            weight_decay=1e-4,
            # about 50 minibatches per epoch or more, so that the patience of 5 epochs is
            # a few hundred steps on small sets too (1,400 digits: 32; Adult: 256)
            batch_size=min(256, max(32, len(z_train) // 50)),
            patience=5,
            max_epochs=100,
        ),
    }
    leakage = attribute_leakage(z_test, task.s_test)
    best = min(probes.values(), key=lambda p: p.cross_entropy)
    return {
        "task_accuracy": float((predictions == task.data.test_labels).float().mean()),
        "s_probe": {
            name: {
                "accuracy": p.accuracy,
                "auc": binary_auc(p.probabilities[:, 1], task.s_test) if k == 2 else math.nan,
                "cross_entropy": p.cross_entropy,
            }
            for name, p in probes.items()
        },
        "s_probe_accuracy": max(p.accuracy for p in probes.values()),
        "mi_zs": max(0.0, entropy(task.s_test, k) - best.cross_entropy),
        "leakage": leakage.as_dict(),
        "mi_lower_bound": leakage.mi_lower_bound,
        "mi_lower_bound_se": leakage.standard_error,
        "dp_gap": demographic_parity_gap(predictions, task.s_test, task.num_classes),
        "dp_gap_labels": demographic_parity_gap(task.data.test_labels, task.s_test, task.num_classes),
        "s_chance": float(torch.bincount(task.s_test, minlength=k).max()) / len(task.s_test),
        "s_from_label": s_from_label_accuracy(task),
    }


def leakage_check(run: Run, model: MethodModel, task: Task, rows: Tensor, step: int) -> None:
    r"""Logs what a fresh probe reads of ``S`` from the features of ``rows`` (training rows)
    at ``step``: one ``{"step", "check": "leakage", ...}`` record of ``metrics.jsonl``
    (none if the log already holds one for ``step``, as after a resumption)."""
    if any(r.get("check") == "leakage" and r.get("step") == step for r in run.read_metrics()):
        return
    with torch.autocast(rows.device.type, enabled=False):  # in float32, even inside a bf16 training step
        report = attribute_leakage(encode_rows(model, task, "train", rows).float(), task.s_train[rows])
    run.log({"step": step, "check": "leakage", **{f"leakage_{k}": v for k, v in report.as_dict().items()}})


def train_method(
    config: FairnessConfig, context: DistributedContext, task: Task, method: str, weight: float, run: Run
) -> dict[str, Any]:
    r"""Trains and evaluates one (method, weight, seed) in ``run`` (``config.seed`` is the seed)."""
    device = context.device
    with initialisation(config.seed):  # every method and weight of a seed starts from the same encoder
        model = MethodModel(config, task, method, weight).to(device)
    batches = StepBatches(task.num_train, config.batch_size, config.seed, context.rank, context.world_size, device)
    ramp_steps = config.penalty_warmup * config.steps
    augment = None if task.tabular else replace(augment_preset(task.data.name), saturation=0.0, grayscale_p=0.0)
    generator = torch.Generator(device=device)
    check_rows = torch.randperm(task.num_train, generator=torch.Generator().manual_seed(config.seed))[
        : config.leakage_rows
    ].to(device)

    def compute_loss(ddp_model: nn.Module, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        if config.leakage_every and step and step % config.leakage_every == 0:
            leakage_check(run, model, task, check_rows, step)
        model.set_weight(ramped_weight(weight, step, ramp_steps))
        index = batches.indices(step)
        inputs = task.training_batch(
            index, step, config.seed, augment, generator, batches.local_rows, config.batch_size
        )
        logits, term = ddp_model(inputs, task.s_train[index])
        loss = F.cross_entropy(logits.float(), task.data.train_labels[index])
        return loss + term, {"task_loss": loss.detach(), **model.logged(term)}

    extra = {"q": model.q_optimizer} if model.q_optimizer is not None else {}
    timing = fit(
        run,
        context,
        config,
        model,
        compute_loss,
        extra_optimizers=extra,
        description=f"{method} {weight:g} seed {config.seed}",
    )
    if config.leakage_every:
        leakage_check(run, model, task, check_rows, config.steps)
    records = run.read_metrics()
    summary = {"method": method, "weight": weight, "seed": config.seed, **evaluate_method(model, task), **timing}
    keys = ["loss", "task_loss", *model.logged(torch.zeros(())).keys(), "leakage_accuracy"]
    plot_training(
        records, keys, run.plot_path("training.png"), f"fairness, {method} weight {weight:g}, seed {config.seed}"
    )
    run.write_summary(summary, f"Fairness, {method} weight {weight:g}, seed {config.seed}")
    return summary


METRICS: dict[str, Callable[[dict[str, Any]], float]] = {
    "task_accuracy": lambda r: r["task_accuracy"],
    "linear_accuracy": lambda r: r["s_probe"]["linear"]["accuracy"],
    "linear_auc": lambda r: r["s_probe"]["linear"]["auc"],
    "mlp_accuracy": lambda r: r["s_probe"]["mlp"]["accuracy"],
    "mlp_auc": lambda r: r["s_probe"]["mlp"]["auc"],
    "dp_gap": lambda r: r["dp_gap"],
    "mi_lower_bound": lambda r: r["mi_lower_bound"],
}
r"""The figures aggregated over seeds (mean and standard error) for each method and weight."""


def method_weights(config: FairnessConfig, method: str) -> tuple[float, ...]:
    r"""The weights swept for ``method`` (``(0,)`` for ``none``)."""
    if method == "none":
        return (0.0,)
    weights = getattr(config, f"weights_{method}")
    if not weights or any(w <= 0 for w in weights):
        raise ValueError(f"--weights-{method} must list positive weights, got {list(weights)}")
    return weights


def aggregate(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    r"""Mean and standard error over seeds of :data:`METRICS`, per method and weight."""
    table: dict[str, list[dict[str, Any]]] = {}
    for method in dict.fromkeys(r["method"] for r in results):
        rows = []
        for weight in dict.fromkeys(r["weight"] for r in results if r["method"] == method):
            group = [r for r in results if r["method"] == method and r["weight"] == weight]
            row: dict[str, Any] = {"weight": weight, "seeds": [r["seed"] for r in group]}
            for name, get in METRICS.items():
                values = torch.tensor([float(get(r)) for r in group], dtype=torch.float64)
                row[name] = float(values.mean())
                row[f"{name}_se"] = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else 0.0
            rows.append(row)
        table[method] = rows
    return table


def report_methods(root: Run, config: FairnessConfig, task: Task, results: list[dict[str, Any]]) -> dict[str, Any]:
    r"""The comparison's summary: per method and weight, means and standard errors over the
    seeds; the table in ``summary.md``; trade-off curves in ``plots/methods_tradeoff.png``."""
    table = aggregate(results)
    first = results[0]
    curves = {}
    for method, rows in table.items():
        curve: dict[str, Any] = {k: [r[k] for r in rows] for k in rows[0] if k not in ("weight", "seeds")}
        curve["labels"] = [f"{r['weight']:g}" if method != "none" else "" for r in rows]
        curves[method] = curve
    plot_method_curves(
        curves,
        [("mlp_accuracy", "MLP S-probe accuracy (lower is fairer)"), ("dp_gap", "demographic-parity gap")],
        root.plot_path("methods_tradeoff.png"),
        reference={"mlp_accuracy": first["s_chance"], "dp_gap": first["dp_gap_labels"]},
        title=f"{config.data}: task accuracy against what a fresh probe reads of S (mean and s.e. over seeds {list(config.seeds or (config.seed,))})",
    )

    def cell(row: dict[str, Any], name: str) -> str:
        return f"{row[name]:.3f} ± {row[name + '_se']:.3f}"

    lines = [
        "| method | weight | task acc. | S-probe acc. linear / MLP | S-probe AUC linear / MLP | DP gap | I(Z;S) >= (nats) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for method, rows in table.items():
        for r in rows:
            lines.append(
                f"| {method} | {r['weight']:g} | {cell(r, 'task_accuracy')} | {cell(r, 'linear_accuracy')} / {cell(r, 'mlp_accuracy')} | "
                f"{cell(r, 'linear_auc')} / {cell(r, 'mlp_auc')} | {cell(r, 'dp_gap')} | {cell(r, 'mi_lower_bound')} |"
            )
    summary = {
        "data": config.data,
        "sensitive": config.sensitive if config.data == "adult" else "tint",
        "source": getattr(task.data, "source", ""),
        "estimator": config.estimator,
        "seeds": list(config.seeds or (config.seed,)),
        "s_chance": first["s_chance"],
        "s_from_label": first["s_from_label"],
        "dp_gap_labels": first["dp_gap_labels"],
        "train_seconds": sum(r.get("train_seconds", 0.0) for r in results),
        "methods": table,
        "runs": results,
    }
    what = (
        f"UCI Adult, S = {config.sensitive}" if config.data == "adult" else f"tinted {config.data} (rate {config.rate})"
    )
    root.write_summary(
        summary,
        "Fairness: methods compared",
        [
            f"{what}; {config.steps} steps of batch {config.batch_size} per run; mean ± standard error over seeds "
            f"{summary['seeds']}. S chance {first['s_chance']:.3f}, S from the true label alone {first['s_from_label']:.3f}, "
            f"DP gap of the true labels {first['dp_gap_labels']:.3f}. S-probes: fresh probes trained on frozen, standardised "
            "training features, scored on the test split; I(Z;S) >= : mist_reg.attribute_leakage on the test features.",
            "",
            *lines,
        ],
    )
    print("\n".join(lines))
    return summary


def run_methods(config: FairnessConfig, context: DistributedContext, root: Run, task: Task) -> dict[str, Any]:
    r"""Every method, seed and weight, each in ``<out>/<method>/seed_<s>/weight_<w>/`` (a
    finished run is not trained again), then the comparison's summary."""
    if context.distributed:
        raise ValueError("the comparison of methods (--methods) runs in one process; start it without torchrun")
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown or len(set(config.methods)) != len(config.methods):
        raise ValueError(f"--methods must list distinct methods from {', '.join(METHODS)}, got {list(config.methods)}")
    plan = {method: method_weights(config, method) for method in config.methods}
    shared = {
        k: v
        for k, v in root.config.items()
        if k not in ("methods", "seeds", "seed", "out") and not k.startswith("weights")
    }
    results = []
    for seed in config.seeds or (config.seed,):
        seeded = replace(config, seed=seed)
        for method, weights in plan.items():
            folder = root.dir / method / f"seed_{seed}"
            sub = Run(
                folder,
                {**shared, "method": method, "seed": seed, "weights": list(weights), "out": str(folder)},
                root.is_main,
            )
            for summary in run_sweep(sub, weights, lambda w, run: train_method(seeded, context, task, method, w, run)):
                results.append({**summary, "method": method, "seed": seed})
    return report_methods(root, config, task, results)


def config_class(argv: Sequence[str] | None) -> type[FairnessConfig]:
    r""":class:`AdultFairnessConfig` when ``--data adult`` is asked for (on the command
    line or in ``--config``), :class:`FairnessConfig` otherwise."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--data", default=None)
    peek.add_argument("--config", default=None)
    known, _ = peek.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    data = known.data
    if data is None and known.config is not None and Path(known.config).is_file():
        data = load_config_file(known.config).get("data")
    return AdultFairnessConfig if data == "adult" else FairnessConfig


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    r"""Runs the sweep (or, with ``--methods`` or ``--data adult``, the comparison of
    methods) and returns its summary (an empty dictionary on ranks other than 0)."""
    cls = config_class(argv)
    config = parse_config(cls, argv, description=__doc__.split("\n\n")[0])
    context, root = start(config)
    try:
        if config.methods or config.data == "adult":
            if not config.methods:
                raise ValueError(f"--methods is empty; give some of {', '.join(METHODS)}")
            task = load_task(config, context.is_main)
            task = replace(
                task,
                data=task.data.to(context.device),
                s_train=task.s_train.to(context.device),
                s_test=task.s_test.to(context.device),
            )
            return run_methods(config, context, root, task)
        data, s_train, s_test = load_data(config, context.is_main)
        data, s_train, s_test = data.to(context.device), s_train.to(context.device), s_test.to(context.device)
        results = run_sweep(
            root, config.weights, lambda w, run: train_weight(config, context, data, s_train, s_test, w, run)
        )
        summary = report(root, config, results) if context.is_main else {}
        barrier()
        return summary
    finally:
        teardown()


if __name__ == "__main__":
    main()
