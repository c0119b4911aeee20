r"""Task families beyond copulas, each split into parameters to tune defaults on (``"tuning"``),
parameters to report on (``"reporting"``) and parameters drawn after the defaults were fixed
(``"unseen"``: nothing was chosen on them, they show whether the defaults carry over).

``FAMILY_TASKS[family][split]`` lists task names; every name is registered in
:data:`mist_reg.tasks.TASKS`, so :func:`mist_reg.tasks.get_task` builds it. Families: class
labels from Gaussian-mixture features, binary labels set by a step in two of many columns
(``label-steps``: a ring or an exclusive-or, exact truths), Gaussian classes seen through an
activation of a random linear map (``label-bent``), discrete pairs, mixed columns, periodic dependence,
additive uniform noise, a sparse signal among outliers, rotated clustered mixtures, one
column regressed on several (``y = f(x) + noise``), two wide views of a latent, and high MI (2-20 nats, from several of these families).

:func:`compute_truth_table` recomputes the stored Monte Carlo truths of
:mod:`mist_reg.tasks.truth_table` (``python -m recipes.benchmarks.family_truths`` prints them).

Example:
    >>> sorted(FAMILY_TASKS["labels"])
    ['reporting', 'tuning', 'unseen']
    >>> family_tasks("reporting", ["additive"])
    ['additive-3x3-h0.25', 'additive-2x2-h0.1', 'additive-5x5-h0.5']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from mist_reg.tasks.base import Task
from mist_reg.tasks.discrete import discrete_pair
from mist_reg.tasks.labels import BentLabelTask, GaussianMixtureLabelTask, StepLabelTask
from mist_reg.tasks.mixed import MixedColumnsTask
from mist_reg.tasks.mixtures import ClusteredMixtureTask
from mist_reg.tasks.monte_carlo import _computed
from mist_reg.tasks.regression import RegressionTask
from mist_reg.tasks.structured import AdditiveUniformTask, PeriodicTask, SparseSignalTask, two_views
from mist_reg.tasks.truth_table import TRUTH_TABLE

__all__ = ["FAMILY_FACTORIES", "FAMILY_TASKS", "SPLITS", "family_tasks", "family_of", "compute_truth_table"]

SPLITS = ("tuning", "reporting", "unseen")
"""The three splits of every family."""

_Factory = Callable[[], Task]
_P = partial

# name -> factory, tuning split then reporting split; tests check that every name is the task's own.
_FAMILIES: dict[str, tuple[dict[str, _Factory], dict[str, _Factory]]] = {
    "labels": (
        {
            "label-k2-d8-s2": _P(GaussianMixtureLabelTask, 2, 8, 2.0),
            "label-k10-d64-s3": _P(GaussianMixtureLabelTask, 10, 64, 3.0),
            "label-k100-d128-s4": _P(GaussianMixtureLabelTask, 100, 128, 4.0),
        },
        {
            "label-k3-d16-s2": _P(GaussianMixtureLabelTask, 3, 16, 2.0),
            "label-k10-d256-s3": _P(GaussianMixtureLabelTask, 10, 256, 3.0),
            "label-k20-d32-s3": _P(GaussianMixtureLabelTask, 20, 32, 3.0),
            "label-k50-d64-s4": _P(GaussianMixtureLabelTask, 50, 64, 4.0),
            "label-k100-d256-s5": _P(GaussianMixtureLabelTask, 100, 256, 5.0),
        },
    ),
    "label-bent": (
        {
            "bent-tanh-k10-d16-o64-g1": _P(BentLabelTask, 10, 16, 3.0, 64, "tanh", 1.0),
            "bent-tanh-k10-d16-o64-g3": _P(BentLabelTask, 10, 16, 3.0, 64, "tanh", 3.0),
        },
        {
            "bent-tanh-k5-d8-o32-g2": _P(BentLabelTask, 5, 8, 2.0, 32, "tanh", 2.0),
            "bent-tanh-k20-d32-o128-g1.5": _P(BentLabelTask, 20, 32, 3.0, 128, "tanh", 1.5),
        },
    ),
    "label-steps": (
        {
            "steps-ring-d8-f0.2": _P(StepLabelTask, "ring", 8, 0.2),
            "steps-xor-d16-f0.2": _P(StepLabelTask, "xor", 16, 0.2),
        },
        {
            "steps-ring-d32-f0.2": _P(StepLabelTask, "ring", 32, 0.2),
            "steps-xor-d64-f0.2": _P(StepLabelTask, "xor", 64, 0.2),
            "steps-ring-d2-f0.2": _P(StepLabelTask, "ring", 2, 0.2),
        },
    ),
    "discrete": (
        {
            "discrete-20x5-b1": _P(discrete_pair, 20, 5, 1.0),
            "discrete-4x4-b2": _P(discrete_pair, 4, 4, 2.0),
            "discrete-4.3x5-b1.5": _P(discrete_pair, (4, 3), 5, 1.5),
        },
        {
            "discrete-20x5-b2": _P(discrete_pair, 20, 5, 2.0),
            "discrete-10x10-b1": _P(discrete_pair, 10, 10, 1.0),
            "discrete-3.3x4-b2": _P(discrete_pair, (3, 3), 4, 2.0),
            "discrete-50x8-b1.5": _P(discrete_pair, 50, 8, 1.5),
        },
    ),
    "mixed": (
        {
            "mixed-2d3-2c-y2-s1": _P(MixedColumnsTask, 2, 3, 2, dim_y=2),
            "mixed-1d5-1c-c3-s1": _P(MixedColumnsTask, 1, 5, 1, n_classes=3),
        },
        {
            "mixed-3d4-2c-y3-s1": _P(MixedColumnsTask, 3, 4, 2, dim_y=3),
            "mixed-2d4-4c-c5-s1": _P(MixedColumnsTask, 2, 4, 4, n_classes=5),
            "mixed-1d10-3c-y1-s1.5": _P(MixedColumnsTask, 1, 10, 3, dim_y=1, signal=1.5),
        },
    ),
    "periodic": (
        {
            "periodic-1x1-w2-n0.3": _P(PeriodicTask, 1, 2.0, 0.3),
            "periodic-2x2-w4-n0.3": _P(PeriodicTask, 2, 4.0, 0.3),
        },
        {
            "periodic-1x1-w6-n0.2": _P(PeriodicTask, 1, 6.0, 0.2),
            "periodic-3x3-w3-n0.3": _P(PeriodicTask, 3, 3.0, 0.3),
            "periodic-5x5-w2-n0.5": _P(PeriodicTask, 5, 2.0, 0.5),
        },
    ),
    "additive": (
        {
            "additive-1x1-h0.3": _P(AdditiveUniformTask, 1, 0.3),
            "additive-3x3-h0.75": _P(AdditiveUniformTask, 3, 0.75),
        },
        {
            "additive-3x3-h0.25": _P(AdditiveUniformTask, 3, 0.25),
            "additive-2x2-h0.1": _P(AdditiveUniformTask, 2, 0.1),
            "additive-5x5-h0.5": _P(AdditiveUniformTask, 5, 0.5),
        },
    ),
    "sparse-outliers": (
        {"sparse-outliers-10x10-s2-r0.5": _P(SparseSignalTask, 10, 10, 2, 0.5)},
        {
            "sparse-outliers-25x25-s2-r0.5": _P(SparseSignalTask, 25, 25, 2, 0.5),
            "sparse-outliers-25x25-s3-r0.4": _P(SparseSignalTask, 25, 25, 3, 0.4),
            "sparse-outliers-50x50-s4-r0.6": _P(SparseSignalTask, 50, 50, 4, 0.6),
        },
    ),
    "clusters": (
        {
            "clusters-2x2-c3-s2-e4": _P(ClusteredMixtureTask, 2, 2, 3, 2.0, 4.0),
            "clusters-1x1-c2-s2-e4": _P(ClusteredMixtureTask, 1, 1, 2, 2.0, 4.0),
        },
        {
            "clusters-3x3-c5-s2-e4": _P(ClusteredMixtureTask, 3, 3, 5, 2.0, 4.0),
            "clusters-5x5-c4-s1-e4": _P(ClusteredMixtureTask, 5, 5, 4, 1.0, 4.0),
            "clusters-2x2-c8-s3-e4": _P(ClusteredMixtureTask, 2, 2, 8, 3.0, 4.0),
        },
    ),
    "regression": (
        {
            "regression-relu-8-n0.3": _P(RegressionTask, "relu", 8, 0.3),
            "regression-norm-5-n0.3": _P(RegressionTask, "norm", 5, 0.3),
            "regression-product-2-n0.3": _P(RegressionTask, "product", 2, 0.3),
            "regression-sincos-3-n0.2": _P(RegressionTask, "sincos", 3, 0.2),
            "regression-relu-64-n0.5": _P(RegressionTask, "relu", 64, 0.5),
            "regression-norm-64-n0.3": _P(RegressionTask, "norm", 64, 0.3),
            "regression-tanh-64-n0.2": _P(RegressionTask, "tanh", 64, 0.2),
            "regression-cubic-128-n0.5": _P(RegressionTask, "cubic", 128, 0.5),
        },
        {
            "regression-relu-16-n0.5": _P(RegressionTask, "relu", 16, 0.5),
            "regression-norm-3-n0.2": _P(RegressionTask, "norm", 3, 0.2),
            "regression-tanh-16-n0.2": _P(RegressionTask, "tanh", 16, 0.2),
            "regression-cubic-4-n0.5": _P(RegressionTask, "cubic", 4, 0.5),
            "regression-product-3-n0.2": _P(RegressionTask, "product", 3, 0.2),
        },
    ),
    "views": (
        {
            "views-32x32-k4-n0.5": _P(two_views, 32, 4, 0.5),
            "views-64x64-k4-n0.3": _P(two_views, 64, 4, 0.3),
        },
        {
            "views-128x128-k8-n0.35": _P(two_views, 128, 8, 0.35),
            "views-64x64-k8-n0.5": _P(two_views, 64, 8, 0.5),
            "views-256x256-k8-n1": _P(two_views, 256, 8, 1.0),
        },
    ),
    "high-mi": (
        {
            "label-k100-d64-s8": _P(GaussianMixtureLabelTask, 100, 64, 8.0),
            "additive-5x5-h0.05": _P(AdditiveUniformTask, 5, 0.05),
            "mixed-4d3-4c-y4-s2": _P(MixedColumnsTask, 4, 3, 4, dim_y=4, signal=2.0, noise=0.3),
        },
        {
            "discrete-100x100-b10": _P(discrete_pair, 100, 100, 10.0),
            "additive-4x4-h0.1": _P(AdditiveUniformTask, 4, 0.1),
            "periodic-4x4-w2-n0.1": _P(PeriodicTask, 4, 2.0, 0.1),
            "clusters-3x3-c6-s4-e30": _P(ClusteredMixtureTask, 3, 3, 6, 4.0, 30.0),
            "views-128x128-k8-n0.25": _P(two_views, 128, 8, 0.25),
        },
    ),
}

# Parameters (and seeds of the tasks' own structure) drawn after the defaults were fixed; results in
# docs/benchmarks.md, "Unseen parameters".
_UNSEEN: dict[str, dict[str, _Factory]] = {
    "labels": {
        "label-k7-d64-s1": _P(GaussianMixtureLabelTask, 7, 64, 1.0, seed=1, name="label-k7-d64-s1"),
        "label-k5-d128-s1": _P(GaussianMixtureLabelTask, 5, 128, 1.0, seed=1, name="label-k5-d128-s1"),
        "label-k50-d32-s3": _P(GaussianMixtureLabelTask, 50, 32, 3.0, seed=12, name="label-k50-d32-s3"),
    },
    "label-bent": {
        "bent-sigmoid-k8-d12-o48-g2": _P(BentLabelTask, 8, 12, 2.5, 48, "sigmoid", 2.0, seed=7),
        "bent-softplus-k15-d24-o96-g3": _P(BentLabelTask, 15, 24, 3.0, 96, "softplus", 3.0, seed=7),
        "bent-cube-k4-d6-o24-g1": _P(BentLabelTask, 4, 6, 2.0, 24, "cube", 1.0, seed=7),
        "bent-exp-k30-d16-o64-g1": _P(BentLabelTask, 30, 16, 3.5, 64, "exp", 1.0, seed=7),
    },
    "label-steps": {
        "steps-xor-d32-f0.3": _P(StepLabelTask, "xor", 32, 0.3),
        "steps-ring-d16-f0.1": _P(StepLabelTask, "ring", 16, 0.1),
        "steps-xor-d4-f0.05": _P(StepLabelTask, "xor", 4, 0.05),
    },
    "discrete": {
        "discrete-30x6-b1.5": _P(discrete_pair, 30, 6, 1.5, seed=3),
        "discrete-8x8-b3": _P(discrete_pair, 8, 8, 3.0, seed=4),
        "discrete-5.4x6-b1": _P(discrete_pair, (5, 4), 6, 1.0, seed=5),
    },
    "mixed": {
        "mixed-2d6-3c-y2-s1": _P(MixedColumnsTask, 2, 6, 3, dim_y=2, seed=7),
        "mixed-3d3-1c-c4-s1": _P(MixedColumnsTask, 3, 3, 1, n_classes=4, seed=8),
        "mixed-1d20-2c-y1-s2": _P(MixedColumnsTask, 1, 20, 2, dim_y=1, signal=2.0, seed=9),
    },
    "periodic": {
        "periodic-2x2-w5-n0.2": _P(PeriodicTask, 2, 5.0, 0.2),
        "periodic-1x1-w1-n0.5": _P(PeriodicTask, 1, 1.0, 0.5),
    },
    "additive": {"additive-2x2-h0.4": _P(AdditiveUniformTask, 2, 0.4)},
    "sparse-outliers": {
        "sparse-outliers-40x40-s3-r0.5": _P(SparseSignalTask, 40, 40, 3, 0.5, seed=5),
        "sparse-outliers-15x30-s2-r0.7": _P(SparseSignalTask, 15, 30, 2, 0.7, seed=6),
    },
    "clusters": {
        "clusters-4x4-c6-s2-e6": _P(ClusteredMixtureTask, 4, 4, 6, 2.0, 6.0, seed=3),
        "clusters-2x3-c3-s3-e10": _P(ClusteredMixtureTask, 2, 3, 3, 3.0, 10.0, seed=4),
    },
    "regression": {
        "regression-relu-32-n0.4": _P(RegressionTask, "relu", 32, 0.4),
        "regression-tanh-8-n0.3": _P(RegressionTask, "tanh", 8, 0.3),
        "regression-sincos-2-n0.3": _P(RegressionTask, "sincos", 2, 0.3),
        "regression-norm-8-n0.3": _P(RegressionTask, "norm", 8, 0.3),
    },
    "views": {"views-96x96-k6-n0.4": _P(two_views, 96, 6, 0.4, seed=3)},
    "high-mi": {
        "additive-6x6-h0.3": _P(AdditiveUniformTask, 6, 0.3),
        "views-192x192-k12-n0.6": _P(two_views, 192, 12, 0.6, seed=4),
    },
}

FAMILY_TASKS: dict[str, dict[str, list[str]]] = {
    family: {"tuning": list(tuning), "reporting": list(reporting), "unseen": list(_UNSEEN[family])}
    for family, (tuning, reporting) in _FAMILIES.items()
}
"""Task names per family and split (``"tuning"``, ``"reporting"`` or ``"unseen"``)."""

FAMILY_FACTORIES: dict[str, _Factory] = {
    name: factory
    for family, (tuning, reporting) in _FAMILIES.items()
    for name, factory in {**tuning, **reporting, **_UNSEEN[family]}.items()
}
"""Factories of every family task, by name."""


def family_tasks(split: str = "all", families: Sequence[str] | None = None) -> list[str]:
    r"""Task names of the given families (default: all) in a split (``"tuning"``, ``"reporting"``,
    ``"unseen"``, or ``"all"``: tuning and reporting, the splits every earlier run covered), family
    by family.

    Raises:
        ValueError: On an unknown split or family.

    Example:
        >>> family_tasks("tuning", ["views"])
        ['views-32x32-k4-n0.5', 'views-64x64-k4-n0.3']
    """
    if split not in (*SPLITS, "all"):
        raise ValueError(f"unknown split {split!r}; choose tuning, reporting, unseen or all")
    unknown = sorted(set(families or ()) - set(FAMILY_TASKS))
    if unknown:
        raise ValueError(f"unknown families {unknown}; valid: {', '.join(FAMILY_TASKS)}")
    splits = ("tuning", "reporting") if split == "all" else (split,)
    return [name for f in families or FAMILY_TASKS for s in splits for name in FAMILY_TASKS[f][s]]


def family_of(name: str) -> str:
    r"""The family of a family task's name.

    Example:
        >>> family_of("additive-5x5-h0.05")
        'high-mi'
    """
    for family, splits in FAMILY_TASKS.items():
        if any(name in names for names in splits.values()):
            return family
    raise ValueError(f"{name!r} is not a family task; see mist_reg.tasks.FAMILY_TASKS")


def compute_truth_table(names: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
    r"""Recomputes the Monte Carlo truths of family tasks, ignoring the stored table.

    ``python -m recipes.benchmarks.family_truths`` prints the whole table in the form of
    :mod:`mist_reg.tasks.truth_table` (about a minute).

    Arguments:
        names: Family task names (default: all).

    Returns:
        ``{parameter key: (mutual_information, standard_error)}`` for the tasks with a Monte Carlo truth.

    Example:
        >>> table = compute_truth_table(["clusters-1x1-c2-s2-e4", "additive-1x1-h0.3"])
        >>> list(table), table["clusters-1x1-c2-s2-e4-seed0"] == TRUTH_TABLE["clusters-1x1-c2-s2-e4-seed0"]
        (['clusters-1x1-c2-s2-e4-seed0'], True)
    """
    stored, cached = dict(TRUTH_TABLE), dict(_computed)
    TRUTH_TABLE.clear()
    _computed.clear()
    try:
        for name in names or FAMILY_FACTORIES:
            FAMILY_FACTORIES[name]()
        return dict(_computed)
    finally:
        TRUTH_TABLE.update(stored)
        _computed.update(cached)
