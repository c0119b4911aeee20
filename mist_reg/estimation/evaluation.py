r"""Evaluating a fitted estimator on samples: :func:`evaluate_mi`.

Per-sample terms are averaged over samples and partition terms (Donsker-Varadhan, SMILE,
MINE) are accumulated over every negative pair of every batch before the logarithm is
taken (:class:`mist_reg.functional.bounds.RunningBound`), so the value does not depend on how the
last batch is cut. :func:`evaluate_terms` returns those accumulated terms, from which
:func:`mist_reg.estimate_mi` also reads the sample count and the standard error.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import torch

from mist_reg.checks import as_samples, check_batch, check_pair
from mist_reg.estimation.data import TensorBatches, is_data_loader, samples_for, unpack_batch
from mist_reg.estimators.base import MIEstimator
from mist_reg.functional.bounds import RunningBound

__all__ = ["evaluate_mi", "evaluate_terms", "DEFAULT_EVAL_BATCH_SIZE"]

DEFAULT_EVAL_BATCH_SIZE = 1024


def _batches(x: Any, y: Any, data_loader: Iterable | None, batch_size: int, labels: bool = False) -> Iterable:
    """The evaluation batches: ``data_loader``, or in-memory samples in order."""
    if data_loader is not None:
        return data_loader
    if x is None or y is None:
        raise ValueError("pass either x and y, or a data loader")
    x, y = as_samples(x, "x"), samples_for(y, "y", labels)
    check_pair(x, y)
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size={batch_size} is larger than the {x.shape[0]} samples given")
    return TensorBatches(x, y, batch_size, shuffle=False, drop_last=False)


def evaluate_mi(
    estimator: MIEstimator,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    data_loader: Iterable | None = None,
    device: str | torch.device | None = None,
    return_standard_error: bool = False,
) -> float | tuple[float, float]:
    r"""Evaluates a (trained) estimator on samples, under ``no_grad`` and in eval mode.

    Per-sample terms are averaged over samples, and partition terms are accumulated over
    every negative pair of every batch before the logarithm (see :class:`mist_reg.functional.bounds.RunningBound`),
    so the result does not depend on how the last batch is cut. Negatives are drawn within
    each batch: InfoNCE can never exceed ``log(batch_size)``.

    Arguments:
        estimator: The estimator.
        x: Samples ``[N, x_dim]`` (an array or a tensor), or a data loader yielding
            ``(x, y)`` or ``{'x': x, 'y': y}`` batches.
        y: Samples ``[N, y_dim]``, paired row by row with ``x``.
        batch_size: The evaluation batch size for in-memory samples (by default 1,024, or
            every sample when there are fewer). A last batch of one sample is merged into
            the previous one; batches of one sample from a data loader are skipped with a
            warning (they have no negatives).
        data_loader: A data loader, instead of ``x`` and ``y``.
        device: Where to evaluate; by default where the estimator's parameters live.
        return_standard_error: Also return the standard error of the per-sample mean.

    Example:
        >>> import torch
        >>> from mist_reg.estimators import nwj
        >>> x = torch.randn(256, 2)
        >>> value = evaluate_mi(nwj(2, 2, hidden_dims=[8]), x=x, y=x, batch_size=64)
        >>> isinstance(value, float)
        True
    """
    running = evaluate_terms(estimator, x, y, batch_size, data_loader, device)
    value = running.value()
    return (value, running.standard_error()) if return_standard_error else value


@torch.no_grad()
def evaluate_terms(
    estimator: MIEstimator,
    x: Any = None,
    y: Any = None,
    batch_size: int | None = None,
    data_loader: Iterable | None = None,
    device: str | torch.device | None = None,
    certificate: RunningBound | None = None,
) -> RunningBound:
    r"""The accumulated terms behind :func:`evaluate_mi`, which also give the sample count
    and the standard error (arguments as for :func:`evaluate_mi`).

    With ``certificate``, the estimator's
    :meth:`~mist_reg.estimators.base.MIEstimator.certificate_terms` of every batch (for
    MINE, the InfoNCE bound of the same critic on the same pairs) are accumulated into it
    as well (see :func:`mist_reg.estimation.estimate.estimate_mi`).

    Example:
        >>> import torch
        >>> from mist_reg.estimators import mine
        >>> x = torch.randn(300, 2)
        >>> certificate = RunningBound()
        >>> running = evaluate_terms(mine(2, 2, hidden_dims=[8]), x, x, batch_size=100, certificate=certificate)
        >>> running.n_samples, certificate.n_samples
        (300, 300)
    """
    if is_data_loader(x) and data_loader is None:
        data_loader, x = x, None
    if device is None:
        parameter = next(estimator.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
    device = torch.device(device)
    if batch_size is None and data_loader is None and x is not None:
        batch_size = min(DEFAULT_EVAL_BATCH_SIZE, len(x))
    batches = _batches(x, y, data_loader, batch_size, estimator.accepts_class_labels)
    was_training = estimator.training
    estimator.eval()
    running = RunningBound()
    skipped = 0
    from_loader = data_loader is not None
    try:
        for index, batch in enumerate(batches):
            xb, yb = unpack_batch(batch, estimator.accepts_class_labels)
            if from_loader:
                check_batch(xb, yb, f"batch {index} of the evaluation data loader")
            if xb.shape[0] < 2:
                skipped += xb.shape[0]
                continue
            terms = estimator.terms(xb.to(device), yb.to(device))
            running.add(terms)
            if certificate is not None:
                certified = estimator.certificate_terms(terms)
                if certified is not None:
                    certificate.add(certified)
    finally:
        estimator.train(was_training)
    if skipped:
        warnings.warn(
            f"evaluate_mi skipped {skipped} sample(s) in batches of a single sample; "
            "use a data loader with drop_last=True or a batch size that does not leave one",
            RuntimeWarning,
            stacklevel=4,
        )
    if running.n_samples == 0:
        if from_loader and not skipped:
            raise ValueError("the evaluation data loader yields no batches")
        raise ValueError("no batch of at least 2 samples to evaluate on")
    return running
