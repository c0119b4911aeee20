r"""What ``estimator="default"`` and ``estimator="ksg"`` of :func:`mist_reg.estimate_mi` become:
the registered estimator to train, and whether (and on which samples) KSG is used instead.

Example:
    >>> estimator, ksg = choose_estimator("default", [], {}, loader=False)
    >>> estimator, ksg.k, ksg.only_one_dimensional
    ('mine', 5, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mist_reg.estimation.diagnostics import is_continuous, largest_tie
from mist_reg.estimation.knn_estimate import DEFAULT_K
from mist_reg.estimation.typed_pair import TypedPair
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.registry import normalize_name

__all__ = [
    "DEFAULT_ESTIMATOR",
    "TRAINED_DEFAULT",
    "KSG",
    "ESTIMATE_NAMES",
    "KsgChoice",
    "choose_estimator",
    "discrete_for_ksg",
]

DEFAULT_ESTIMATOR = "default"
"""The default of :func:`estimate_mi`: :data:`KSG` for one-dimensional continuous ``x`` and
``y`` given as samples with no training arguments, :data:`TRAINED_DEFAULT` otherwise."""

TRAINED_DEFAULT = "mine"
"""The registered estimator that the default trains (MINE with a closed-form reference critic,
Gaussian or Student-t copula: :mod:`mist_reg.estimation.reference_choice`)."""

KSG = "ksg"
"""The name that selects KSG (:mod:`mist_reg.estimation.knn_estimate`) in :func:`estimate_mi`; not a
registered (trainable) estimator."""

ESTIMATE_NAMES = (DEFAULT_ESTIMATOR, KSG)
"""The names :func:`estimate_mi` takes besides the registered estimators."""


def discrete_for_ksg(pair: TypedPair) -> list[str]:
    """Messages naming the discrete columns that KSG, asked for by name, reads as indicators."""
    messages = []
    for name, types in (("x", pair.x_types), ("y", pair.y_types)):
        for j, levels in zip(types.discrete, types.levels):
            messages.append(
                f"column {j} of {name} is read as discrete ({levels} values): KSG measures its "
                f"{levels - 1} indicator columns as coordinates, and their ties make the neighbour counts "
                "coarse; estimator='default' estimates discrete columns by counts and classifiers"
            )
    return messages


@dataclass(frozen=True)
class KsgChoice:
    """KSG with ``k`` neighbours, on one-dimensional continuous samples only (the
    default) or on any samples (``estimator="ksg"``); ``shared_by`` estimates share the
    partitions of its standard error (see
    :func:`~mist_reg.estimation.knn_estimate.subsampling_standard_error`)."""

    k: int
    only_one_dimensional: bool
    shared_by: int = 1

    def applies(self, x: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether KSG estimates this pair: always when asked by name; by default, one
        continuous column on each side in which no value repeats more than ``k`` times
        (a value shared by more rows than ``k`` makes the k-th neighbour distance zero, and
        the neighbour counts then measure the tie, not the density).

        Example:
            >>> choice = KsgChoice(5, only_one_dimensional=True)
            >>> choice.applies(torch.randn(100, 1), torch.randn(100, 1)), choice.applies(torch.randn(100, 2), torch.randn(100, 1))
            (True, False)
        """
        if not self.only_one_dimensional:
            return True
        return all(z.shape[1] == 1 and is_continuous(z[:, 0]) and largest_tie(z[:, 0]) <= self.k for z in (x, y))


def choose_estimator(
    estimator: MIEstimator | str, configured: list[str], estimator_params: dict[str, Any], loader: bool
) -> tuple[MIEstimator | str, KsgChoice | None]:
    """The estimator to train when KSG is not used, and when KSG is used."""
    name = normalize_name(estimator) if isinstance(estimator, str) else None
    if name == KSG:
        extra = [p for p in configured if p != "k"]
        if extra:
            raise TypeError(
                f"estimator='ksg' trains nothing and holds nothing out, so {', '.join(extra)} do not apply; "
                "it takes k (the number of neighbours) and the arguments preprocessing, confidence, seed, device"
            )
        if loader:
            raise ValueError("estimator='ksg' needs in-memory samples x and y, not a data loader")
        k = estimator_params.get("k", DEFAULT_K)
        return TRAINED_DEFAULT, KsgChoice(k, only_one_dimensional=False)
    if name == DEFAULT_ESTIMATOR:
        return TRAINED_DEFAULT, None if configured or loader else KsgChoice(DEFAULT_K, only_one_dimensional=True)
    return estimator, None
