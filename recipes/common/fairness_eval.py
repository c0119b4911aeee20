r"""How the fairness recipe scores a trained model: task accuracy, fresh readers of ``S``
trained afterwards on frozen features (linear, MLP and gradient-boosted, through
:func:`mist_reg.attribute_leakage`: the strongest reader's accuracy for classes, its
held-out ``R^2`` for continuous ``S``), the demographic-parity gap of the task head, and
how well the penalty's own logged value ranks the runs as the readers do.

Example:
    >>> predictions, s = torch.tensor([1, 1, 0, 0]), torch.tensor([0, 0, 1, 1])
    >>> demographic_parity_gap(predictions, s, num_classes=2)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from mist_reg import LeakageMonitor, attribute_leakage
from recipes.common.fairness_model import MethodModel, Task, encode_rows
from recipes.common.probes import binary_auc, entropy, linear_probe, mlp_probe
from recipes.common.run import Run

__all__ = [
    "METRICS",
    "OPTIONAL_METRICS",
    "aggregate",
    "demographic_parity_gap",
    "evaluate_method",
    "leakage_check",
    "monitor_figure",
    "monitor_reading",
    "rank_correlation",
    "shuffled_reader",
    "s_from_label",
]


def demographic_parity_gap(predictions: Tensor, attributes: Tensor, num_classes: int) -> float:
    r"""``max_c [max_g P(pred = c | S = g) - min_g P(pred = c | S = g)]`` over the groups
    ``g`` of a class attribute (``nan`` for a continuous one)."""
    if attributes.is_floating_point():
        return math.nan
    rates = torch.stack(
        [
            torch.nn.functional.one_hot(predictions[attributes == g], num_classes).float().mean(0)
            for g in attributes.unique()
        ]
    )
    return float((rates.max(0).values - rates.min(0).values).max())


def s_from_label(task: Task) -> float:
    r"""What the true task label alone tells of ``S`` on the test split: the accuracy of
    the majority value of ``S`` among the training rows of each label (classes), or the
    ``R^2`` of the mean of ``S`` among them (continuous ``S``). A head that predicted the
    label perfectly would leave this much readable in its output, and so in any features
    it reads from: the floor of what a penalty can remove at full task accuracy."""
    labels = task.data.train_labels
    if task.continuous:
        means = torch.stack([task.s_train[labels == c].mean() for c in range(task.num_classes)])
        residual = task.s_test - means[task.data.test_labels]
        return float(1 - residual.pow(2).mean() / (task.s_test - task.s_train.mean()).pow(2).mean())
    predictions = torch.zeros_like(task.s_test)
    for label in range(task.num_classes):
        counts = torch.bincount(task.s_train[labels == label].cpu(), minlength=task.s_classes)
        predictions[task.data.test_labels == label] = int(counts.argmax())
    return float((predictions == task.s_test).float().mean())


def _class_probes(z_train: Tensor, z_test: Tensor, task: Task) -> dict[str, Any]:
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
            # about 50 minibatches per epoch or more: the patience of 5 epochs is a few hundred steps
            batch_size=min(256, max(32, len(z_train) // 50)),
            patience=5,
            max_epochs=100,
        ),
    }
    return {
        name: {
            "accuracy": p.accuracy,
            "auc": binary_auc(p.probabilities[:, 1], task.s_test) if k == 2 else math.nan,
            "cross_entropy": p.cross_entropy,
        }
        for name, p in probes.items()
    }


def evaluate_method(
    model: MethodModel, task: Task, readers: Sequence[str] = ("linear", "mlp", "boosted")
) -> dict[str, Any]:
    r"""Task accuracy, the demographic-parity gap, and fresh readers of ``S``: probes
    trained on the frozen training features and scored on the test features (classes), and
    :func:`mist_reg.attribute_leakage` with ``readers`` on the test features. ``reader`` is
    the strongest figure: the best accuracy of any reader (classes) or the best held-out
    ``R^2`` (continuous ``S``); ``output_reader`` the same figure from the head's logits
    alone (what the decision itself says of ``S``, part of what any reader of ``Z`` finds,
    since the logits are a function of ``Z``)."""
    z_train, z_test = encode_rows(model, task, "train"), encode_rows(model, task, "test")
    with torch.no_grad():
        logits = model.head(z_test).float()
    predictions = logits.argmax(1)
    leakage = attribute_leakage(z_test, task.s_test, probe=tuple(readers))
    output = attribute_leakage(logits, task.s_test, probe=tuple(readers))
    result: dict[str, Any] = {
        "task_accuracy": float((predictions == task.data.test_labels).float().mean()),
        "leakage": leakage.as_dict(),
        "dp_gap": demographic_parity_gap(predictions, task.s_test, task.num_classes),
        "dp_gap_labels": demographic_parity_gap(task.data.test_labels, task.s_test, task.num_classes),
        "s_from_label": s_from_label(task),
        "output_reader": output.r2 if task.continuous else output.accuracy,
    }
    if task.continuous:
        return {**result, "s_probe": {}, "reader": leakage.r2, "mi_lower_bound": math.nan, "s_chance": math.nan}
    probes = _class_probes(z_train, z_test, task)
    best = min(probes.values(), key=lambda p: p["cross_entropy"])
    accuracies = [p["accuracy"] for p in probes.values()] + [r["accuracy"] for r in leakage.readers.values()]
    return {
        **result,
        "s_probe": probes,
        "reader": max(accuracies),
        "mi_zs": max(0.0, entropy(task.s_test, task.s_classes) - best["cross_entropy"]),
        "mi_lower_bound": leakage.mi_lower_bound,
        "mi_lower_bound_se": leakage.standard_error,
        "s_chance": float(torch.bincount(task.s_test, minlength=task.s_classes).max()) / len(task.s_test),
    }


def shuffled_reader(
    model: MethodModel, task: Task, readers: Sequence[str] = ("linear", "mlp", "boosted"), seed: int = 0
) -> float:
    r"""The strongest reader's figure (``reader`` of :func:`evaluate_method`) with ``S``
    shuffled over the rows of each split: the features and ``S`` keep their distributions
    and no reader can learn one from the other, so this is what the best of the readers
    reaches by chance on these splits, the floor of ``reader``. For classes it lies above
    the majority rate of the test split: the readers of
    :func:`mist_reg.attribute_leakage` score a part of it whose majority rate differs, and
    the best of several noisy accuracies is higher than any one of them."""
    g = torch.Generator().manual_seed(seed)
    shuffled = replace(
        task,
        s_train=task.s_train[torch.randperm(len(task.s_train), generator=g)],
        s_test=task.s_test[torch.randperm(len(task.s_test), generator=g)],
    )
    return evaluate_method(model, shuffled, readers)["reader"]


def leakage_check(
    run: Run, model: MethodModel, task: Task, rows: Tensor, step: int, monitor: LeakageMonitor | None = None
) -> None:
    r"""Logs what fresh readers recover of ``S`` from the features of ``rows`` (training rows)
    at ``step``: one ``{"step", "check": "leakage", ...}`` record of ``metrics.jsonl`` (none
    if the log already holds one for ``step``, as after a resumption), with the reading of
    ``monitor`` (whose buffer is the first rows of ``rows``) as ``monitor_*``."""
    if any(r.get("check") == "leakage" and r.get("step") == step for r in run.read_metrics()):
        return
    with torch.autocast(rows.device.type, enabled=False):  # in float32, even inside a bf16 training step
        features = encode_rows(model, task, "train", rows).float()
        report = attribute_leakage(features, task.s_train[rows])
    figures = {k: v for k, v in report.as_dict().items() if k != "readers"}
    readings = {}
    if monitor is not None:
        reading = monitor(features, step)
        readings = {f"monitor_{k}": v for k, v in reading.as_dict().items() if k not in ("step", "rows")}
    run.log({"step": step, "check": "leakage", **{f"leakage_{k}": v for k, v in figures.items()}, **readings})


def monitor_reading(model: MethodModel, task: Task, rows: Tensor, monitor: LeakageMonitor) -> dict[str, float]:
    r"""The :class:`~mist_reg.LeakageMonitor` reading of the features of ``rows`` now, as
    ``monitor_*`` figures (not recorded in the monitor's history)."""
    with torch.autocast(rows.device.type, enabled=False):
        reading = monitor.read(encode_rows(model, task, "train", rows[: monitor.max_rows]).float())
    return {f"monitor_{k}": v for k, v in reading.as_dict().items() if k not in ("step", "rows")}


def monitor_figure(record: dict[str, Any], continuous: bool) -> float:
    r"""The monitor's figure comparable to the strongest reader's: the kernel classifier's
    accuracy for classes, the kernel regression's ``R^2`` for values."""
    return record.get("monitor_r2" if continuous else "monitor_accuracy", math.nan)


def rank_correlation(a: Sequence[float], b: Sequence[float]) -> float:
    r"""Spearman's rank correlation of two sequences (``nan`` with fewer than 3 pairs).

    Example:
        >>> rank_correlation([0.1, 0.4, 0.3], [1.0, 9.0, 4.0])
        1.0
    """
    if len(a) < 3:
        return math.nan
    ranks = [torch.tensor(v, dtype=torch.float64).argsort().argsort().double() for v in (a, b)]
    return float(torch.corrcoef(torch.stack(ranks))[0, 1])


def _probe(name: str, figure: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: r["s_probe"].get(name, {}).get(figure, math.nan)


METRICS: dict[str, Callable[[dict[str, Any]], float]] = {
    "task_accuracy": lambda r: r["task_accuracy"],
    "reader": lambda r: r["reader"],
    "linear_accuracy": _probe("linear", "accuracy"),
    "linear_auc": _probe("linear", "auc"),
    "mlp_accuracy": _probe("mlp", "accuracy"),
    "mlp_auc": _probe("mlp", "auc"),
    "dp_gap": lambda r: r["dp_gap"],
    "output_reader": lambda r: r.get("output_reader", math.nan),
    "mi_lower_bound": lambda r: r["mi_lower_bound"],
}
r"""The figures aggregated over seeds (mean and standard error) for each method and weight."""

OPTIONAL_METRICS: dict[str, Callable[[dict[str, Any]], float]] = {"shuffled_reader": lambda r: r["shuffled_reader"]}
r"""Figures aggregated only where every run of the group has them (``--shuffled-readers``)."""


def aggregate(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    r"""Mean and standard error over seeds of :data:`METRICS` (and of the
    :data:`OPTIONAL_METRICS` every run of a group has), per method and weight."""
    table: dict[str, list[dict[str, Any]]] = {}
    for method in dict.fromkeys(r["method"] for r in results):
        rows = []
        for weight in dict.fromkeys(r["weight"] for r in results if r["method"] == method):
            group = [r for r in results if r["method"] == method and r["weight"] == weight]
            row: dict[str, Any] = {"weight": weight, "seeds": [r["seed"] for r in group]}
            optional = {k: get for k, get in OPTIONAL_METRICS.items() if all(k in r for r in group)}
            for name, get in {**METRICS, **optional}.items():
                values = torch.tensor([float(get(r)) for r in group], dtype=torch.float64)
                row[name] = float(values.mean())
                row[f"{name}_se"] = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else 0.0
            rows.append(row)
        table[method] = rows
    return table
