r"""Which weights a training run keeps: :func:`validate` scores an estimator on validation
data, and :class:`BestWeights` keeps the weights of the best smoothed score (early stopping).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

from mist_reg.estimation.data import unpack_batch
from mist_reg.estimation.evaluation import evaluate_mi
from mist_reg.estimators.base import MIEstimator

if TYPE_CHECKING:
    from mist_reg.estimation.fitting import TrainingLog

__all__ = ["validate", "BestWeights"]


def validate(estimator: MIEstimator, valid_loader: Iterable, device: torch.device) -> tuple[float, float]:
    """The validation estimate and the score that selects weights (higher is better): the
    estimate itself or minus the validation loss, as the estimator selects weights
    (:meth:`~mist_reg.estimators.base.MIEstimator.selects_weights_by`)."""
    valid_mi = evaluate_mi(estimator, data_loader=valid_loader, device=device)
    if estimator.selects_weights_by() == "estimate":
        score = valid_mi
    else:
        total, count = 0.0, 0
        estimator.eval()
        with torch.no_grad():
            for batch in valid_loader:
                xb, yb = unpack_batch(batch, estimator.accepts_class_labels)
                if xb.shape[0] >= 2:
                    total += float(estimator(xb.to(device), yb.to(device))) * xb.shape[0]
                    count += xb.shape[0]
        score = -total / max(count, 1)
    estimator.train()
    return valid_mi, score


class BestWeights:
    """Keeps the weights of the best smoothed validation score (or the last finite
    weights without validation) and counts the validations since the smoothed score last
    rose by at least ``min_delta`` (a slow climb restarts the count once its rises add up
    to ``min_delta``)."""

    def __init__(self, estimator: MIEstimator, smoothing: float, min_delta: float = 0.0) -> None:
        self.estimator, self.smoothing, self.min_delta = estimator, smoothing, min_delta
        self.state = copy.deepcopy(estimator.state_dict())
        self.best, self.smoothed, self.bad_evaluations = -math.inf, None, 0
        self.anchor = -math.inf  # the smoothed score when patience last restarted
        self.first = math.nan  # the first score (of the untrained estimator when validated before training)

    def keep(self, log: TrainingLog, record: dict) -> None:
        self.state = copy.deepcopy(self.estimator.state_dict())
        log.records.append({"iteration": log.iterations, **record})

    def update(self, valid_mi: float, score: float, log: TrainingLog, record: dict) -> None:
        s = self.smoothing
        if self.smoothed is None:
            self.first = score
        self.smoothed = score if self.smoothed is None else s * self.smoothed + (1 - s) * score
        log.records.append(
            {"iteration": log.iterations, **record, "valid_mi": valid_mi, "valid_score_smoothed": self.smoothed}
        )
        if (
            math.isfinite(self.smoothed)
            and self.smoothed > self.anchor
            and self.smoothed >= self.anchor + self.min_delta
        ):
            self.anchor, self.bad_evaluations = self.smoothed, 0
        else:
            self.bad_evaluations += 1
        if math.isfinite(self.smoothed) and self.smoothed > self.best:
            self.best = self.smoothed
            self.state = copy.deepcopy(self.estimator.state_dict())
            log.best_iteration, log.best_valid_mi = log.iterations, valid_mi

    def learned(self) -> bool:
        """Whether the best smoothed score rose above the first score by ``min_delta`` (and
        by anything at all when ``min_delta`` is 0)."""
        return self.best > self.first and self.best >= self.first + self.min_delta

    def restart_patience(self) -> None:
        """Counts the validations without improvement afresh, from the best score."""
        self.anchor, self.bad_evaluations = self.best, 0

    def restore(self) -> None:
        self.estimator.load_state_dict(self.state)
