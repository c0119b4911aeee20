r"""Fair representations: a classifier whose features forget a sensitive attribute ``S``.

An encoder maps an input to ``Z``, a head predicts the label from ``Z``, and a penalty
removes what ``Z`` says about ``S``. One program: for each seed of ``--seeds``, each method
of ``--methods`` and each of its weights, one model, scored on the test split by fresh
readers trained afterwards on frozen features (``common/fairness_eval.py``: linear, MLP
and gradient-boosted; the strongest reader's accuracy for classes, its held-out ``R^2``
for a continuous ``S``), the task accuracy and the demographic-parity gap of the head.
The weight sweep of one penalty is the comparison with a single method (the default on
digits: ``--methods mi``). Methods: ``none``; ``mi`` (``MILoss(--estimator, x="encoder",
direction="minimize", weight=w)`` at its defaults); ``gaussian``; ``club`` (``q`` refitted
on every batch); ``club_learned`` (a learned ``q``, the adversarial game); ``adversary``
(gradient reversal); ``confusion``; ``mmd`` (between groups); ``hsic`` (classes or
continuous ``S``). The summary gives mean and standard error over seeds per method and
weight, the rank correlation of each MI penalty's logged value with the strongest reader,
and ``plots/methods_tradeoff.png``.

Data: scikit-learn's digits with a colour tint as ``S`` (agreeing with the label group at
``--rate``), or ``--data adult`` (UCI Adult, ``common/adult.py``) with ``--sensitive``
``sex``, ``race`` (white or not), ``race5`` (five groups) or ``age`` (continuous).

Usage::

    python -m recipes.fairness                                   # digits, MILoss sweep
    python -m recipes.fairness --methods none,mi,mmd,hsic --seeds 0,1,2
    python -m recipes.fairness --data adult --threads 1          # every method, seeds 0,1,2
    python -m recipes.fairness --data adult --sensitive age --methods none,club,hsic --weights 1,10
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mist_reg import LeakageMonitor, list_estimators
from mist_reg.estimators.factories import ESTIMATORS, normalize_name
from mist_reg.regularization.readers import READERS
from recipes.common.adult import load_adult
from recipes.common.attributes import add_tint
from recipes.common.augment import augment_preset
from recipes.common.config import BaseConfig, load_config_file, option, parse_config
from recipes.common.data import DATASETS, ImageData, StepBatches, load_images_rank0_first
from recipes.common.distributed import DistributedContext, barrier, teardown
from recipes.common.fairness_eval import (
    METRICS,
    aggregate,
    evaluate_method,
    leakage_check,
    monitor_figure,
    monitor_reading,
    rank_correlation,
    shuffled_reader,
)
from recipes.common.fairness_model import METHODS, MI_METHODS, MethodModel, Task, applicable
from recipes.common.loop import fit
from recipes.common.mmd import DEFAULT_BANDWIDTHS
from recipes.common.models import initialisation
from recipes.common.optim import ramped_weight
from recipes.common.plots import plot_method_curves, plot_training
from recipes.common.run import Run, command_line, start
from recipes.common.sweep import run_sweep
from recipes.common.validation import at_least, each, one_of, positive, validate

__all__ = ["METHODS", "METRICS", "FairnessConfig", "AdultFairnessConfig", "MethodModel", "main"]


@dataclass
class FairnessConfig(BaseConfig):
    r"""Settings of the fairness recipe (see ``--help``); checked by :func:`check_config`."""

    out: str = option("runs/fairness/default", "run folder (one sub-folder per weight)")
    image_size: int | None = option(None, "resize images to this size (default: the native size, 8 for digits)")
    steps: int = option(900, "optimisation steps per weight")
    batch_size: int = option(128, "global batch size")
    lr: float = option(1e-3, "learning rate of the encoder, head and q (AdamW, cosine decay after a linear warm-up)")
    weights: tuple[float, ...] = option(
        (),
        "weights of every penalised method of --methods, with --data adult too, overriding --weights-<method> "
        "(empty: each method's own)",
    )
    rate: float = option(0.8, "P(tint agrees with the label group): 0.5 independent, 1 a function of the label")
    z_dim: int = option(0, "width of a linear layer after the backbone forming Z (0: Z is the backbone's features)")
    augment: bool = option(True, "augment training images (crops, rotations, brightness, noise; the tint is kept)")
    penalty_warmup: float = option(0.2, "fraction of the steps over which the penalty weight rises from 0")
    # -- the comparison of methods (--methods) and UCI Adult (--data adult) -------------------------
    data: str = option(
        "digits",
        "dataset: digits (tinted; S is the tint) or adult (UCI Adult; S is --sensitive; other defaults: every "
        "method, seeds 0,1,2, 3000 steps, each method's own weights: see --data adult --help)",
        choices=(*DATASETS, "adult"),
    )
    sensitive: str = option(
        "sex",
        "adult: the sensitive attribute: sex, race (white or not), race5 (five groups) or age (continuous)",
        choices=("sex", "race", "race5", "age"),
    )
    max_rows: int = option(0, "adult: keep only the first N complete rows of each split (0: all), for quick checks")
    methods: tuple[str, ...] = option(("mi",), f"methods to compare, from {','.join(METHODS)}")
    seeds: tuple[int, ...] = option((), "seeds of the method comparison, each a full sweep (empty: --seed)")
    estimator: str = option(
        "kernel",
        "mi method: the MI estimator, a registered name (MILoss(estimator, direction='minimize') with its defaults)",
    )
    weights_mi: tuple[float, ...] = option((0.0, 1.0, 3.0, 10.0), "mi method: penalty weights")
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
    weights_hsic: tuple[float, ...] = option((10.0, 30.0, 100.0, 300.0, 1000.0), "hsic method: penalty weights")
    adversary_hidden: int = option(
        64, "adversary and confusion methods: width of the two hidden layers of the adversary"
    )
    adversary_steps: int = option(5, "confusion method: steps of q(s | z) per batch on detached features")
    adversary_lr: float = option(1e-3, "confusion method: learning rate of q(s | z) (Adam)")
    mmd_bandwidths: tuple[float, ...] = option(
        DEFAULT_BANDWIDTHS, "mmd and hsic methods: RBF kernel widths in units of sqrt(dim Z)"
    )
    hidden: tuple[int, ...] = option(
        (64, 64), "adult: hidden widths of the MLP encoder (ReLU), before the z-dim features"
    )
    output_weight: float = option(
        0.0,
        "weight of a second MILoss(--estimator) between the task head's log-odds and S, for every method "
        "(0: none): removes what the decision says of S, the demographic-parity gap",
    )
    leakage_every: int = option(100, "steps between held-out leakage checks logged to metrics.jsonl (0: none)")
    leakage_rows: int = option(4000, "training rows the leakage checks read (a fixed random subset)")
    monitor_rows: int = option(
        4096,
        "rows of the LeakageMonitor's buffer (the first of the leakage rows, all 4,000 by default: the rows "
        "the fresh readers are compared on), read at every leakage check",
    )
    readers: tuple[str, ...] = option(
        ("linear", "mlp", "boosted"), "fresh readers of S after training (boosted needs scikit-learn)"
    )
    shuffled_readers: bool = option(
        False,
        "also score the readers with S shuffled over the rows: the floor the strongest reader reaches by chance",
    )


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
    methods: tuple[str, ...] = option(
        METHODS, f"methods to compare, from {','.join(METHODS)} (default: those that apply to --sensitive)"
    )
    weights_mi: tuple[float, ...] = option((1.0, 3.0, 10.0, 30.0), "mi method: penalty weights")
    seeds: tuple[int, ...] = option((0, 1, 2), "seeds of the method comparison, each a full sweep")
    leakage_every: int = option(500, "steps between held-out leakage checks logged to metrics.jsonl (0: none)")
    log_every: int = option(50, "steps between records of the metrics log")
    checkpoint_every: int = option(500, "steps between checkpoints")


def load_data(config: FairnessConfig, is_main: bool = True) -> tuple[ImageData, Tensor, Tensor]:
    r"""The tinted dataset and the attributes of its training and test samples (images at
    ``config.image_size``, or at their native size: 8x8 for digits)."""
    image_size = 8 if config.image_size is None and config.data == "digits" else config.image_size
    data = load_images_rank0_first(config.data, config.data_dir, config.download, image_size, is_main)
    return add_tint(data, config.rate, config.seed)


def load_task(config: FairnessConfig, is_main: bool = True) -> Task:
    r"""The data set of ``config`` with its attribute: tinted images or UCI Adult."""
    if config.data == "adult":
        data, s_train, s_test = load_adult(config.data_dir, config.sensitive, config.max_rows)
        return Task(data, s_train, s_test, False)
    data, s_train, s_test = load_data(config, is_main)
    return Task(data, s_train, s_test, config.augment)


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
    monitor = LeakageMonitor(task.s_train[check_rows], every=max(1, config.leakage_every), max_rows=config.monitor_rows)

    def compute_loss(ddp_model: nn.Module, step: int) -> tuple[Tensor, dict[str, Tensor]]:
        if context.is_main and config.leakage_every and step and step % config.leakage_every == 0:
            leakage_check(run, model, task, check_rows, step, monitor)
        model.set_weight(ramped_weight(weight, step, ramp_steps))
        model.set_output_weight(ramped_weight(config.output_weight, step, ramp_steps))
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
    summary: dict[str, Any] = {}
    if context.is_main:
        if config.leakage_every:
            leakage_check(run, model, task, check_rows, config.steps, monitor)
        records = run.read_metrics()
        logged = [r["mi_estimate"] for r in records if "mi_estimate" in r]
        tail = logged[-max(1, len(logged) // 10) :]  # the last tenth of the logged values
        summary = {
            "method": method,
            "weight": weight,
            "seed": config.seed,
            **evaluate_method(model, task, config.readers),
            **(
                {"shuffled_reader": shuffled_reader(model, task, config.readers, config.seed)}
                if config.shuffled_readers
                else {}
            ),
            "final_mi_estimate": sum(tail) / len(tail) if tail else math.nan,
            **monitor_reading(model, task, check_rows, monitor),
            "checks": [
                {k: v for k, v in r.items() if k == "step" or k.startswith(("leakage_", "monitor_"))}
                for r in records
                if r.get("check") == "leakage"
            ],
            **timing,
        }
        keys = ["loss", "task_loss", *model.logged(torch.zeros(())).keys(), "leakage_accuracy", "leakage_r2"]
        title = f"fairness, {method} weight {weight:g}, seed {config.seed}"
        plot_training(records, keys, run.plot_path("training.png"), title)
        run.write_summary(summary, title.capitalize())
    barrier()
    return summary


def method_weights(config: FairnessConfig, method: str) -> tuple[float, ...]:
    r"""The weights swept for ``method``: ``(0,)`` for ``none``, ``--weights`` when given,
    otherwise ``--weights-<method>``."""
    if method == "none":
        return (0.0,)
    return config.weights or getattr(config, f"weights_{method}")


def _weights_error(name: str, weights: Sequence[float]) -> str | None:
    if not weights:
        return f"{name} is empty; give at least one weight"
    if any(not math.isfinite(w) or w < 0 for w in weights):
        return f"{name} must list finite weights >= 0, got {list(weights)}"
    if len(set(weights)) != len(weights):
        return f"{name} must list distinct weights, got {list(weights)}"
    return None


MIN_LEAKAGE_ROWS = 34
"""The fewest rows a leakage check may read: ``attribute_leakage`` tests on 30% of them and needs 10 (0.3 x 34 = 10.2)."""

CHECKS = {
    "z_dim": at_least(0),
    "max_rows": at_least(0),
    "hidden": each(at_least(1)),
    "adversary_hidden": at_least(1),
    "adversary_steps": at_least(1),
    "adversary_lr": positive,
    "mmd_bandwidths": each(positive),
    "leakage_every": at_least(0),
    "readers": one_of(READERS),
}
"""The checks of the fairness recipe's own numeric and list settings (:func:`check_config`)."""


def check_config(config: FairnessConfig, continuous: bool) -> str | None:
    r"""The first problem with ``config`` as one line (``None`` if there is none), checked
    before anything is written; ``continuous``: whether ``S`` is continuous (``--sensitive age``).

    Example:
        >>> check_config(FairnessConfig(rate=2.0), continuous=False)
        '--rate must be in [0, 1] (0.5: S independent of the label group), got 2.0'
    """
    unknown = [m for m in config.methods if m not in METHODS]
    if not config.methods or unknown or len(set(config.methods)) != len(config.methods):
        return f"--methods must list distinct methods from {', '.join(METHODS)}, got {list(config.methods)}"
    inapplicable = [m for m in config.methods if not applicable(m, continuous)]
    if inapplicable:
        return f"--methods {','.join(inapplicable)} need S as classes; for a continuous S use none, mi, gaussian, club, hsic"
    if normalize_name(config.estimator) not in ESTIMATORS:
        return f"--estimator {config.estimator!r} is not a registered estimator; valid: {', '.join(list_estimators())}"
    if not (math.isfinite(config.output_weight) and config.output_weight >= 0):
        return f"--output-weight must be a finite number >= 0, got {config.output_weight}"
    if config.weights and (problem := _weights_error("--weights", config.weights)):
        return problem
    for method in config.methods:
        if method != "none" and (
            problem := _weights_error(f"--weights-{method.replace('_', '-')}", method_weights(config, method))
        ):
            return problem
    if not 0.0 <= config.rate <= 1.0 or not math.isfinite(config.rate):
        return f"--rate must be in [0, 1] (0.5: S independent of the label group), got {config.rate}"
    if config.batch_size < 4:
        return f"--batch-size must be at least 4 (the penalties compare samples of a batch), got {config.batch_size}"
    if config.steps < 1:
        return f"--steps must be at least 1, got {config.steps}"
    if len(set(config.seeds)) != len(config.seeds):
        return f"--seeds must be distinct, got {list(config.seeds)}"
    if str(config.device).startswith("cuda") and not torch.cuda.is_available():
        return f"--device {config.device}: no CUDA device is available here; use --device cpu"
    if Path(config.out).exists() and not Path(config.out).is_dir():
        return f"--out {config.out} is a file; give a folder for the run"
    try:
        validate(config, CHECKS)
        if config.leakage_every:
            validate(config, {"leakage_rows": at_least(MIN_LEAKAGE_ROWS)})
    except ValueError as error:
        return str(error)
    return None


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
        [("reader", "held-out R^2 of the strongest fresh regressor of S (lower is fairer)")]
        if task.continuous
        else [
            ("reader", "accuracy of the strongest fresh reader of S (lower is fairer)"),
            ("dp_gap", "demographic-parity gap"),
        ],
        root.plot_path("methods_tradeoff.png"),
        reference={
            "reader": first["s_from_label"] if task.continuous else first["s_chance"],
            "dp_gap": first["dp_gap_labels"],
        },
        title=f"{config.data}: task accuracy against what a fresh probe reads of S (mean and s.e. over seeds {list(config.seeds or (config.seed,))})",
    )

    def cell(row: dict[str, Any], name: str) -> str:
        return f"{row[name]:.3f} ± {row[name + '_se']:.3f}"

    reader = "strongest reader R^2" if task.continuous else "strongest reader acc."
    floor = f" {reader}, S shuffled |" if config.shuffled_readers else ""
    lines = [
        f"| method | weight | task acc. | {reader} | S-probe acc. linear / MLP | DP gap | I(Z;S) >= (nats) | {reader} from the logits |{floor}",
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if floor else ""),
    ]
    for method, rows in table.items():
        for r in rows:
            lines.append(
                f"| {method} | {r['weight']:g} | {cell(r, 'task_accuracy')} | {cell(r, 'reader')} | "
                f"{cell(r, 'linear_accuracy')} / {cell(r, 'mlp_accuracy')} | {cell(r, 'dp_gap')} | {cell(r, 'mi_lower_bound')} | {cell(r, 'output_reader')} |"
                + (f" {cell(r, 'shuffled_reader')} |" if floor else "")
            )
    tracking = {
        method: rank_correlation(
            [r["final_mi_estimate"] for r in results if r["method"] == method],
            [r["reader"] for r in results if r["method"] == method],
        )
        for method in table
        if method in MI_METHODS
    }
    lines += ["", "Rank correlation of the logged MILoss estimate with the strongest reader over the runs:"]
    lines += [f"- {method}: {value:.2f}" for method, value in tracking.items()]
    monitoring = monitor_tracking(results, task.continuous)
    lines += [
        "",
        "Rank correlation of the LeakageMonitor (kernel reader of a held-out buffer, nothing trained) with fresh readers:",
        f"- final models of every method and weight, against the strongest test reader: {monitoring['final']:.3f} "
        f"({monitoring['final_mi']:.3f} with its MI in nats)",
        f"- every leakage check of every run, against attribute_leakage at that check: {monitoring['checks']:.3f} "
        f"({monitoring['checks_mi']:.3f} with its MI in nats; {monitoring['checks_information']:.3f} with its MI "
        "against the readers' held-out information, I(Z;S) >=)",
    ]
    summary = {
        "data": config.data,
        "sensitive": config.sensitive if config.data == "adult" else "tint",
        "tracking": tracking,
        "monitor_tracking": monitoring,
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
            f"{summary['seeds']}. S chance {first['s_chance']:.3f}, S from the true label alone {first['s_from_label']:.3f} ({'R^2' if task.continuous else 'accuracy'}), "
            f"DP gap of the true labels {first['dp_gap_labels']:.3f}. S-probes: fresh probes trained on frozen, standardised "
            "training features, scored on the test split; I(Z;S) >= : mist_reg.attribute_leakage on the test features.",
            "",
            *lines,
        ],
    )
    print("\n".join(lines))
    return summary


def monitor_tracking(results: list[dict[str, Any]], continuous: bool) -> dict[str, float]:
    r"""Spearman's rank correlation of the :class:`~mist_reg.LeakageMonitor` with fresh
    readers: over the final models of every run (against the strongest reader on the test
    split) and over every leakage check of every run (against
    :func:`~mist_reg.attribute_leakage` on the same rows at the same step), with the
    monitor's reader figure (accuracy or ``R^2``) and with its MI; and at the checks, its MI
    against the readers' own held-out information (``I(Z;S) >=``: the entropy of ``S`` less
    their held-out cross-entropy), which moves continuously where their accuracy sits on the
    majority rate and moves in steps of one row (``nan`` for a continuous ``S``)."""
    checks = [c for r in results for c in r.get("checks", [])]
    reference = "leakage_r2" if continuous else "leakage_accuracy"
    return {
        "final": rank_correlation([monitor_figure(r, continuous) for r in results], [r["reader"] for r in results]),
        "final_mi": rank_correlation([r.get("monitor_mi", math.nan) for r in results], [r["reader"] for r in results]),
        "checks": rank_correlation([monitor_figure(c, continuous) for c in checks], [c[reference] for c in checks]),
        "checks_mi": rank_correlation([c.get("monitor_mi", math.nan) for c in checks], [c[reference] for c in checks]),
        "checks_information": math.nan
        if continuous
        else rank_correlation(
            [c.get("monitor_mi", math.nan) for c in checks], [c.get("leakage_mi_lower_bound", math.nan) for c in checks]
        ),
    }


def run_methods(config: FairnessConfig, context: DistributedContext, root: Run, task: Task) -> dict[str, Any]:
    r"""Every method, seed and weight, each in ``<out>/<method>/seed_<s>/weight_<w>/`` (a
    finished run is not trained again), then the comparison's summary."""
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
    summary = report_methods(root, config, task, results) if context.is_main else {}
    barrier()
    return summary


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
    r"""Runs the comparison (one method: its weight sweep) and returns its summary (an empty
    dictionary on ranks other than 0). Bad settings raise a one-line ``ValueError`` before
    anything is written."""
    cls = config_class(argv)
    config = parse_config(cls, argv, description=__doc__.split("\n\n")[0])
    continuous = config.data == "adult" and config.sensitive == "age"
    if continuous and config.methods == METHODS:  # the default: the methods that apply
        config = replace(config, methods=tuple(m for m in config.methods if applicable(m, continuous)))
    problem = check_config(config, continuous)
    if problem:
        raise ValueError(problem)
    context, root = start(config)
    try:
        task = load_task(config, context.is_main)
        task = replace(
            task,
            data=task.data.to(context.device),
            s_train=task.s_train.to(context.device),
            s_test=task.s_test.to(context.device),
        )
        return run_methods(config, context, root, task)
    finally:
        teardown()


if __name__ == "__main__":
    sys.exit(command_line(main))
