r"""What the classifiers fitted full-batch by L-BFGS with an L2 penalty share
(:class:`PenalisedFit`): the penalty strengths tried strongest first, each fit starting from
the previous one, until the calibrated validation cross-entropy rises; the refit on all rows
from the chosen weights at the chosen strength.

Subclasses say what they fit: ``_start`` (standardise the features, make the parameters at
their starting values), ``_parameters``, ``_loss`` (the penalised training loss) and
``_logits``. Logistic regression (:mod:`.logistic`) and the ordered probit (:mod:`.ordinal`)
are the two.

Example:
    >>> from mist_reg.estimation.classifiers.logistic import LogisticRegression
    >>> issubclass(LogisticRegression, PenalisedFit), LogisticRegression().strengths
    (True, (0.1, 0.01, 0.001))
"""

from __future__ import annotations

import torch
from torch import Tensor

from mist_reg.estimation.classifiers.base import LabelClassifier, calibrated_cross_entropy

__all__ = ["PenalisedFit", "STRENGTHS"]

STRENGTHS = (0.1, 0.01, 0.001)
r"""The default penalty strengths, tried in this order."""


class PenalisedFit(LabelClassifier):
    r"""A classifier fitted full-batch by L-BFGS with an L2 penalty whose strength is chosen on
    the validation rows (see the module documentation).

    Arguments:
        strengths: Candidate penalty strengths, tried in order with warm starts until one does
            worse on the validation rows than the one before.
        max_iter: The most L-BFGS iterations per fit.

    Attributes:
        strength: The chosen penalty strength.
    """

    def __init__(self, strengths: tuple[float, ...] = STRENGTHS, max_iter: int = 30) -> None:
        super().__init__()
        if not strengths or any(not s >= 0 for s in strengths):
            raise ValueError(f"strengths must be non-negative numbers, got {strengths!r}")
        self.strengths, self.max_iter = tuple(strengths), max_iter
        self.strength = self.strengths[0]

    def _start(self, x: Tensor, y: Tensor) -> Tensor:
        r"""Fits the feature map on ``x``, makes the parameters at their starting values and
        returns the mapped features."""
        raise NotImplementedError

    def _parameters(self) -> list[Tensor]:
        raise NotImplementedError

    def _loss(self, z: Tensor, y: Tensor, strength: float) -> Tensor:
        r"""The mean training loss on mapped features ``z`` plus the penalty at ``strength``."""
        raise NotImplementedError

    def _train(self, z: Tensor, y: Tensor, strength: float) -> None:
        optimiser = torch.optim.LBFGS(
            self._parameters(), lr=1.0, max_iter=self.max_iter, line_search_fn="strong_wolfe", history_size=10
        )

        def closure() -> Tensor:
            optimiser.zero_grad()
            loss = self._loss(z, y, strength)
            loss.backward()
            return loss

        optimiser.step(closure)

    def _fit(self, x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor) -> Tensor:
        z = self._start(x, y)
        best = None
        for strength in self.strengths:
            self._train(z, y, strength)
            logits = self._logits(x_valid)
            score = calibrated_cross_entropy(logits, y_valid)
            if best is not None and score >= best[0]:
                break  # weaker penalties fit the training rows ever closer: past the best, they get worse
            best = (score, strength, logits, [p.detach().clone() for p in self._parameters()])
        _, self.strength, logits, kept = best
        self._set(kept)
        return logits

    def _refit(self, x: Tensor, y: Tensor) -> None:
        kept = [p.detach().clone() for p in self._parameters()]
        z = self._start(x, y)
        self._set(kept)
        self._train(z, y, self.strength)

    def _set(self, values: list[Tensor]) -> None:
        with torch.no_grad():
            for parameter, value in zip(self._parameters(), values):
                parameter.copy_(value)
