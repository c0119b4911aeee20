r"""The settings a fit runs with, :class:`FitSettings`, and what it reports,
:class:`TrainingLog` (:mod:`mist_reg.estimation.fitting` runs the fit).

Example:
    >>> FitSettings(min_delta=0.01).resolved().min_delta
    0.01
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from mist_reg.checks import check_positive_int
from mist_reg.estimation.evaluation import DEFAULT_EVAL_BATCH_SIZE

__all__ = [
    "FitSettings",
    "TrainingLog",
    "learned",
    "resolve_device",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_LR",
    "DEFAULT_EVAL_EVERY",
]

DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_ITERATIONS = 3000
DEFAULT_LR = 1e-3
DEFAULT_EVAL_EVERY = 100


def resolve_device(device: str | torch.device | None) -> torch.device:
    r"""``device`` as a :class:`torch.device`; by default CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True)
class FitSettings:
    r"""How :func:`fit_estimator` (and :func:`train_mi_estimator`) fits an estimator.

    Attributes:
        batch_size: The training batch size for in-memory samples.
        valid_percentage: The fraction of in-memory samples held out for validation (0
            disables it).
        max_epochs: The number of passes over the training data after which to stop.
        max_iterations: The number of steps after which to stop (the first of the two
            reached ends training); without either, ``3000`` iterations.
        lr: The learning rate.
        optimizer_class: The optimiser (Adam by default).
        optimizer_params: Extra keyword arguments of the optimiser.
        device: By default CUDA when available, else the CPU.
        early_stopping: Stop after ``patience`` validations without improvement of the
            smoothed validation score, then restore the best weights.
        patience: Validations without improvement before stopping (or before the
            learning rate is lowered, see ``lr_decays``).
        lr_decays: How many times a stall of ``patience`` validations lowers the learning
            rate instead of stopping: the best weights are restored, every learning rate
            is multiplied by ``lr_decay_factor``, and patience starts again. A step size
            that found the optimum's basin keeps the critic bouncing about it (Adam's
            steps stay about ``lr`` long whatever the gradient's size); a smaller one
            settles in it. Only a fit whose best smoothed score has beaten its first
            validation by ``min_delta`` decays; one that never did stops. ``0`` (the
            default) stops at the first stall.
        lr_decay_factor: What each decay multiplies the learning rate by.
        min_delta: An improvement of the smoothed validation score by less than this does
            not reset ``patience`` (its weights are still kept). The smoothed score of a
            critic that has stopped learning still creeps up towards its plateau for a few
            validations, each step a fraction of the last; a floor stops those steps from
            prolonging training.
        eval_every: Steps between validations (``None``: 100).
        valid_batch_size: The batch size of validation.
        smoothing: Weight of the past in the exponential smoothing of validation scores.
        verbose: Show a progress bar.
        seed: Seeds the shuffling of batches and the validation split.
        shrink_batch: Lower a ``batch_size`` above the in-memory training rows to them, not refuse it.

    Example:
        >>> settings = FitSettings(max_epochs=2).resolved()
        >>> settings.max_iterations, settings.eval_every, settings.device.type in ("cpu", "cuda")
        (None, 100, True)
        >>> FitSettings(lr=0).resolved()
        Traceback (most recent call last):
        ...
        ValueError: lr must be positive, got 0
    """

    batch_size: int = DEFAULT_BATCH_SIZE
    valid_percentage: float = 0.1
    max_epochs: int | None = None
    max_iterations: int | None = None
    lr: float = DEFAULT_LR
    optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam
    optimizer_params: Mapping[str, Any] | None = None
    device: str | torch.device | None = None
    early_stopping: bool = True
    patience: int = 5
    lr_decays: int = 0
    lr_decay_factor: float = 0.3
    min_delta: float = 0.0
    eval_every: int | None = None
    valid_batch_size: int = DEFAULT_EVAL_BATCH_SIZE
    smoothing: float = 0.6
    verbose: bool = False
    seed: int | None = None
    shrink_batch: bool = False

    def resolved(self) -> FitSettings:
        r"""These settings checked (a ``ValueError`` names a bad one), with the defaults
        that depend on others filled in: ``max_iterations`` (3000 without a limit),
        ``eval_every`` (100) and ``device``."""
        if self.max_iterations is not None and self.max_iterations < 1:
            raise ValueError(f"max_iterations must be positive, got {self.max_iterations}")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ValueError(f"max_epochs must be positive, got {self.max_epochs}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        check_positive_int(self.patience, "patience")
        if isinstance(self.lr_decays, bool) or not isinstance(self.lr_decays, int) or self.lr_decays < 0:
            raise ValueError(f"lr_decays must be an integer >= 0, got {self.lr_decays!r}")
        if not (isinstance(self.lr_decay_factor, (int, float)) and 0.0 < self.lr_decay_factor < 1.0):
            raise ValueError(f"lr_decay_factor must lie strictly between 0 and 1, got {self.lr_decay_factor!r}")
        if not (isinstance(self.min_delta, (int, float)) and 0.0 <= self.min_delta < math.inf):
            raise ValueError(f"min_delta must be a finite number >= 0, got {self.min_delta!r}")
        if self.eval_every is not None:
            check_positive_int(self.eval_every, "eval_every")
        no_limit = self.max_epochs is None and self.max_iterations is None
        return dataclasses.replace(
            self,
            max_iterations=DEFAULT_MAX_ITERATIONS if no_limit else self.max_iterations,
            eval_every=DEFAULT_EVAL_EVERY if self.eval_every is None else self.eval_every,
            device=resolve_device(self.device),
        )


@dataclass
class TrainingLog:
    r"""What :func:`train_mi_estimator` did.

    Attributes:
        records: One dictionary per validation (``iteration``, ``epoch``, ``train_loss``,
            ``valid_mi`` and the smoothed selection score ``valid_score_smoothed``: the
            estimate, or minus the validation loss, as the estimator selects weights).
        best_iteration: The iteration whose weights were restored (``None`` without validation).
        best_valid_mi: The validation estimate at ``best_iteration``.
        iterations: The number of optimiser steps taken.
        lr_decays: How many times a stall lowered the learning rate (see
            :class:`FitSettings`'s ``lr_decays``).
        stop_reason: Why training ended: ``"max_iterations"``, ``"max_epochs"``,
            ``"early_stopping"``, ``"non_finite_loss"`` or ``"no_parameters"``.
        mixture_search: Where the critic's closed-form reference was chosen
            (:func:`~mist_reg.estimation.reference_choice.fit_with_reference_choice`), the
            number of components that the Gaussian-mixture challenger's own held-out search
            chose on the training rows (``1``: the Gaussian model); ``None`` where it did not
            search among several.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    best_iteration: int | None = None
    best_valid_mi: float | None = None
    iterations: int = 0
    lr_decays: int = 0
    stop_reason: str = ""
    mixture_search: int | None = None

    def __len__(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[float]:
        r"""The values of one field over the records."""
        return [r[name] for r in self.records]


def learned(log: TrainingLog, min_delta: float) -> bool:
    r"""Whether the validation estimate of the weights kept rose above the first one (the
    untrained start) by ``min_delta``, the least rise that training counts as learning
    (:class:`FitSettings`' ``min_delta``; training compares smoothed estimates, this the
    kept weights' own).

    Example:
        >>> log = TrainingLog(records=[{"valid_mi": 0.40}], best_iteration=300, best_valid_mi=0.45)
        >>> learned(log, 0.01), learned(log, 0.1)
        (True, False)
    """
    if not log.records or log.best_valid_mi is None or not log.best_iteration or "valid_mi" not in log.records[0]:
        return False
    return log.best_valid_mi >= log.records[0]["valid_mi"] + min_delta
