r"""How :func:`mist_reg.estimate_mi` trains a critic by default: batch size, learning rate,
validation spacing, early-stopping patience and the least improvement that counts (the
CLI's ``estimate`` and ``bench`` commands share them). :func:`mist_reg.train_mi_estimator`
keeps the torch_mist 0.1.5 API's own defaults (:class:`mist_reg.estimation.fitting.FitSettings`).

Example:
    >>> ESTIMATE_BATCH_SIZE * ESTIMATE_EVAL_EVERY  # samples between validations
    3200
"""

from __future__ import annotations

__all__ = [
    "ESTIMATE_BATCH_SIZE",
    "ESTIMATE_LR",
    "ESTIMATE_EVAL_EVERY",
    "ESTIMATE_PATIENCE",
    "ESTIMATE_LR_DECAYS",
    "ESTIMATE_MIN_DELTA",
]

ESTIMATE_BATCH_SIZE = 128
"""The training batch size of :func:`estimate_mi`. A step of its critics is a few hundred
small operations whose cost barely grows with the batch on a CPU, so 128 rows see nearly
twice the samples per second of 64 (measured in ``docs/benchmarks.md``)."""

ESTIMATE_LR = 2e-3
"""The learning rate of :func:`estimate_mi`: doubled with the batch from 64 rows at 1e-3, so
that a sample moves the critic as far as before (the linear-scaling rule)."""

ESTIMATE_EVAL_EVERY = 25
"""Steps between validations in :func:`estimate_mi` (3,200 samples)."""

ESTIMATE_PATIENCE = 7
"""Validations without improvement before :func:`estimate_mi` stops training (175 steps). A
critic can sit on a plateau for a number of *updates* before it learns a structure (a
spiral's), so patience is not halved with the steps per epoch."""

ESTIMATE_LR_DECAYS = 1
"""How many times :func:`estimate_mi` lowers the learning rate (to 0.3 of it, from the best
weights) when patience runs out, before it stops. At ``ESTIMATE_LR`` Adam moves every weight
by about the learning rate per step whatever the gradient, so a critic that has found the
optimum's basin bounces about it and its validation estimate with it; a smaller step
settles in it. A fit that has not beaten its start (the closed-form reference) by
``ESTIMATE_MIN_DELTA`` has no basin to settle in and stops at its first stall, so where the
reference is already right the decay costs nothing."""

ESTIMATE_MIN_DELTA = 0.01
"""The least rise of the smoothed validation estimate, in nats, that resets the patience of
:func:`estimate_mi`. The estimate is smoothed (:class:`~mist_reg.estimation.fitting.FitSettings`'s
``smoothing`` 0.6), so after the critic has stopped learning it still rises towards the
plateau for several validations, each rise 0.6 times the last; without a floor, each of
those restarts the 175 steps of patience. A rise below 0.01 nats is a quarter or less of
the error bar of the held-out estimate, and its weights are kept all the same."""
