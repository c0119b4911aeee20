r"""Fitting and evaluating estimators: :func:`train_mi_estimator`, :func:`evaluate_mi` and
the one-call :func:`estimate_mi`.

How the reported number is formed (:func:`estimate_mi`):

1. the samples are split into training data and held-out test data (or ``x_test`` and
   ``y_test`` are used), and 10% of the training data is kept for validation;
2. each coordinate is mapped to a standard normal marginal with a transform fitted on the
   training data (MI is invariant to such maps; see :mod:`mist_reg.preprocessing`);
3. the estimator (MINE by default) is trained on minibatches with a critic made of the
   closed-form Gaussian log-ratio of the training data plus a separable network correction
   that starts at zero (:mod:`mist_reg.gaussian_reference`); every ``eval_every`` steps its
   estimate on the validation data is smoothed and the best weights are kept (early
   stopping; the untrained critic, i.e. the Gaussian model alone, is a candidate too);
4. the estimate is evaluated on the test data with :func:`evaluate_mi`: per-sample terms
   are averaged over samples and partition terms (Donsker-Varadhan, SMILE, MINE) are
   accumulated over every negative pair of every test batch before the logarithm is taken;
5. the standard error is that of the mean of per-sample values over the test data, with
   the Monte Carlo error of a partition term added in quadrature, and the interval is
   ``estimate -+ z * standard_error``; with ``n_folds=K`` every fold is held out once by an
   estimator fitted on the others and the per-sample values of all folds are pooled
   (cross-fitting; see :func:`estimate_mi` and ``docs/error_bars.md``);
6. when MINE's partition term rests on fewer effective negative pairs than there are
   held-out samples (high MI for the sample size) and its estimate falls below the InfoNCE
   bound of the same critic on the same pairs, that certified value is reported instead,
   with a warning; ``y`` that exactly copies ``x`` (:func:`mist_reg.diagnostics.exact_dependence`)
   is reported as infinite MI without fitting.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import statistics
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mist_reg.bounds import RunningBound, infonce
from mist_reg.diagnostics import exact_dependence
from mist_reg.data import (
    TensorBatches,
    WideCentring,
    as_samples,
    check_batch,
    check_pair,
    check_positive_int,
    first_batch,
    is_data_loader,
    shape_mismatch,
    split_indices,
    unpack_batch,
)
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.discriminative import MINE, InfoNCE, resolve_neg_samples
from mist_reg.estimators.factories import CRITIC_ESTIMATORS, instantiate_estimator, normalize_name
from mist_reg.preprocessing import Preprocessing, make_preprocessor

__all__ = [
    "TrainingLog",
    "MIEstimate",
    "normal_interval",
    "train_mi_estimator",
    "evaluate_mi",
    "estimate_mi",
    "fit_data_dependent",
    "DEFAULT_ESTIMATOR",
]

DEFAULT_ESTIMATOR = "mine"
# The critic estimate_mi gives every critic-based estimator unless told otherwise: the
# closed-form Gaussian log-ratio corrected by a separable network with marginal terms
# (see docs/benchmarks.md for how it compares with joint critics). With batches of 64,
# 3x128 heads learned the spiral and Student-t tasks best among the sizes measured.
ESTIMATION_CRITIC_DEFAULTS: dict[str, Any] = {
    "hidden_dims": (128, 128, 128),
    "reference": "gaussian",
    "critic_type": "separable",
    "marginal_terms": True,
    "projection_dim": 32,
}
# What estimate_mi gives gaussian_hybrid unless told otherwise: the correction network of
# ESTIMATION_CRITIC_DEFAULTS (its closed-form Gaussian proposal is the reference those
# defaults add to the critic estimators, so "gaussian_hybrid" with discriminative="mine" is
# the default estimator written out).
ESTIMATION_HYBRID_DEFAULTS: dict[str, Any] = {"hidden_dims": (128, 128, 128), "projection_dim": 32}
DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_ITERATIONS = 3000
DEFAULT_LR = 1e-3
DEFAULT_EVAL_BATCH_SIZE = 1024


@dataclass
class TrainingLog:
    r"""What :func:`train_mi_estimator` did.

    Attributes:
        records: One dictionary per validation (``iteration``, ``epoch``, ``train_loss``,
            ``valid_mi`` and the smoothed selection score ``valid_score_smoothed``: the
            estimate for lower bounds, minus the validation loss otherwise).
        best_iteration: The iteration whose weights were restored (``None`` without validation).
        best_valid_mi: The validation estimate at ``best_iteration``.
        iterations: The number of optimiser steps taken.
        stop_reason: Why training ended: ``"max_iterations"``, ``"max_epochs"``,
            ``"early_stopping"``, ``"non_finite_loss"`` or ``"no_parameters"``.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    best_iteration: int | None = None
    best_valid_mi: float | None = None
    iterations: int = 0
    stop_reason: str = ""

    def __len__(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[float]:
        r"""The values of one field over the records."""
        return [r[name] for r in self.records]


class MIEstimate(float):
    r"""The result of :func:`estimate_mi`: a ``float`` (nats) carrying what produced it.

    Arithmetic, comparisons and formatting treat it as the plain number; the attributes
    say how far to trust it.

    Attributes:
        standard_error: The standard error of the estimate from held-out sampling noise:
            the standard deviation of the per-sample values over the held-out samples,
            divided by the square root of their number (see ``docs/error_bars.md``).
        interval: ``(low, high)``, the normal-approximation interval
            ``estimate -+ z * standard_error`` at level ``confidence``. It reflects the
            held-out sampling noise only: the bias of a bound (a lower bound errs low
            by however far the fitted critic is from the optimal one) is not covered.
        confidence: The level of ``interval`` (0.95 by default).
        bound: ``"lower"``, ``"upper"`` or ``None``.
        n_test: The number of held-out samples the estimate was computed on (with
            cross-fitting, every sample).
        n_folds: The number of cross-fitting folds, or ``None`` for one train/test split.
        fold_estimates: With cross-fitting, the estimate on each held-out fold (their
            mean weighted by fold size is the estimate); empty otherwise.
        fold_standard_errors: The standard error of each fold's estimate.
        estimator: The fitted estimator (in evaluation mode); with cross-fitting, the one
            fitted for the first fold (all of them are in ``fold_estimators``).
        log: The :class:`TrainingLog` of ``estimator``.
        fold_estimators: With cross-fitting, the estimator of every fold; empty otherwise.
        fold_logs: With cross-fitting, the training log of every fold; empty otherwise.
        warnings: Messages about the reliability of the number (e.g. saturation).

    Example:
        >>> mi = MIEstimate(0.5, standard_error=0.05, confidence=0.95)
        >>> mi + 1.0, isinstance(mi, float)
        (1.5, True)
        >>> [round(v, 3) for v in mi.interval]
        [0.402, 0.598]
    """

    standard_error: float
    interval: tuple[float, float]
    confidence: float
    bound: str | None
    n_test: int
    n_folds: int | None
    fold_estimates: list[float]
    fold_standard_errors: list[float]
    estimator: MIEstimator | None
    log: TrainingLog | None
    fold_estimators: list[MIEstimator]
    fold_logs: list[TrainingLog]
    warnings: list[str]

    def __new__(cls, value: float, **attributes: Any) -> "MIEstimate":
        result = super().__new__(cls, value)
        defaults: dict[str, Any] = {
            "standard_error": float("nan"), "confidence": 0.95, "bound": None, "n_test": 0, "n_folds": None,
            "fold_estimates": [], "fold_standard_errors": [], "estimator": None, "log": None,
            "fold_estimators": [], "fold_logs": [], "warnings": [],
        }
        for name, attribute in {**defaults, **attributes}.items():
            setattr(result, name, attribute)
        if "interval" not in attributes:
            result.interval = normal_interval(float(value), result.standard_error, result.confidence)
        return result

    def __repr__(self) -> str:
        low, high = self.interval
        return (
            f"MIEstimate({float(self):.4f} nats, stderr={self.standard_error:.4f}, "
            f"{self.confidence:.0%} interval=({low:.4f}, {high:.4f}), bound={self.bound!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        r"""The number and its error bar as plain Python values (for JSON).

        Example:
            >>> sorted(MIEstimate(0.5, standard_error=0.05).to_dict())[:4]
            ['bound', 'confidence', 'estimate', 'fold_estimates']
        """
        return {
            "estimate": float(self),
            "standard_error": self.standard_error,
            "interval": list(self.interval),
            "confidence": self.confidence,
            "bound": self.bound,
            "n_test": self.n_test,
            "n_folds": self.n_folds,
            "fold_estimates": list(self.fold_estimates),
            "fold_standard_errors": list(self.fold_standard_errors),
            "warnings": list(self.warnings),
        }


def normal_interval(value: float, standard_error: float, confidence: float = 0.95) -> tuple[float, float]:
    r"""``(value - z * standard_error, value + z * standard_error)`` with ``z`` the
    ``(1 + confidence) / 2`` quantile of the standard normal distribution.

    Example:
        >>> [round(v, 4) for v in normal_interval(1.0, 0.1, 0.95)]
        [0.804, 1.196]
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if not math.isfinite(standard_error):
        return (float("nan"), float("nan"))
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    return (value - z * standard_error, value + z * standard_error)


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _batches(
    x: Any,
    y: Any,
    data_loader: Iterable | None,
    batch_size: int,
    shuffle: bool,
    drop_last: bool,
    generator: torch.Generator | None,
) -> Iterable:
    if data_loader is not None:
        return data_loader
    if x is None or y is None:
        raise ValueError("pass either x and y, or a data loader")
    x, y = as_samples(x, "x"), as_samples(y, "y")
    check_pair(x, y)
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size={batch_size} is larger than the {x.shape[0]} samples given")
    return TensorBatches(x, y, batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator)


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
    every negative pair of every batch before the logarithm (see :class:`mist_reg.bounds.RunningBound`),
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
    running = _evaluate(estimator, x, y, batch_size, data_loader, device)
    value = running.value()
    return (value, running.standard_error()) if return_standard_error else value


@torch.no_grad()
def _evaluate(
    estimator: MIEstimator,
    x: Any,
    y: Any,
    batch_size: int | None,
    data_loader: Iterable | None,
    device: str | torch.device | None,
    certificate: RunningBound | None = None,
) -> RunningBound:
    """The accumulated terms behind :func:`evaluate_mi` (also giving the sample count).

    With ``certificate`` and a Donsker-Varadhan estimator (MINE), the InfoNCE bound of the
    same critic on the same pairs is accumulated into it as well (see :func:`_certified`)."""
    if is_data_loader(x) and data_loader is None:
        data_loader, x = x, None
    if device is None:
        parameter = next(estimator.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
    device = torch.device(device)
    if batch_size is None and data_loader is None and x is not None:
        batch_size = min(DEFAULT_EVAL_BATCH_SIZE, len(x))
    batches = _batches(x, y, data_loader, batch_size, shuffle=False, drop_last=False, generator=None)
    was_training = estimator.training
    estimator.eval()
    running = RunningBound()
    skipped = 0
    from_loader = data_loader is not None
    try:
        for index, batch in enumerate(batches):
            xb, yb = unpack_batch(batch)
            if from_loader:
                check_batch(xb, yb, f"batch {index} of the evaluation data loader")
            if xb.shape[0] < 2:
                skipped += xb.shape[0]
                continue
            terms = estimator.terms(xb.to(device), yb.to(device))
            running.add(terms)
            if certificate is not None and isinstance(estimator, MINE) and terms.log_partition is not None:
                certificate.add(infonce(terms.per_sample, terms.log_partition))
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


@torch.no_grad()
def fit_data_dependent(estimator: MIEstimator, batches: Iterable, max_samples: int = 20000) -> None:
    r"""Calls ``fit_data(x, y)`` on every sub-module that has one (closed-form references,
    quantizers), with up to ``max_samples`` training samples on the estimator's device."""
    modules = [m for m in estimator.modules() if callable(getattr(m, "fit_data", None))]
    if not modules:
        return
    if isinstance(batches, TensorBatches):
        x, y = batches.x[:max_samples], batches.y[:max_samples]
    else:
        xs, ys, n = [], [], 0
        for batch in batches:
            xb, yb = unpack_batch(batch)
            xs.append(xb)
            ys.append(yb)
            n += xb.shape[0]
            if n >= max_samples:
                break
        if not xs:
            raise ValueError("the training data loader yields no batches")
        x, y = torch.cat(xs), torch.cat(ys)
        check_batch(x, y, f"the first {x.shape[0]} samples of the training data loader")
    parameter = next(estimator.parameters(), None)
    device = parameter.device if parameter is not None else x.device
    for module in modules:
        module.fit_data(x.to(device), y.to(device))


@torch.enable_grad()  # also when called from evaluation code under torch.no_grad()
def train_mi_estimator(
    estimator: MIEstimator,
    x: Any = None,
    y: Any = None,
    train_loader: Iterable | None = None,
    valid_loader: Iterable | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    valid_percentage: float = 0.1,
    max_epochs: int | None = None,
    max_iterations: int | None = None,
    lr: float = DEFAULT_LR,
    optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
    optimizer_params: dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    early_stopping: bool = True,
    patience: int = 5,
    eval_every: int | None = None,
    valid_batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    smoothing: float = 0.6,
    verbose: bool = False,
    seed: int | None = None,
) -> TrainingLog:
    r"""Fits an estimator's parameters by minimising ``estimator(x, y)`` with Adam.

    Arguments:
        estimator: The estimator to train (moved to ``device``).
        x: Samples ``[N, x_dim]`` (an array or a tensor); ``valid_percentage`` of them is
            kept apart for validation. Alternatively ``train_loader`` (and ``valid_loader``).
        y: Samples ``[N, y_dim]``, paired row by row with ``x``.
        train_loader: A data loader yielding ``(x, y)`` or ``{'x', 'y'}`` batches.
        valid_loader: A data loader of validation batches (same format).
        batch_size: The training batch size for in-memory samples.
        valid_percentage: The fraction of ``x, y`` held out for validation (0 disables it).
        max_epochs: The number of passes over the training data after which to stop.
        max_iterations: The number of steps after which to stop (the first of the two
            reached ends training); without either, ``3000`` iterations.
        lr: The learning rate.
        optimizer_class: The optimiser (Adam by default).
        optimizer_params: Extra keyword arguments of the optimiser.
        device: By default CUDA when available, else the CPU.
        early_stopping: Stop after ``patience`` validations without improvement of the
            smoothed validation score (the estimate for lower bounds, minus the validation
            loss for other estimators), then restore the best weights.
        eval_every: Steps between validations (default 100).
        valid_batch_size: The batch size of validation.
        smoothing: Weight of the past in the exponential smoothing of validation estimates.
        verbose: Show a progress bar.
        seed: Seeds the shuffling of batches and the validation split.

    Returns:
        A :class:`TrainingLog`; the estimator holds the best weights seen.

    Example:
        >>> import torch
        >>> from mist_reg.estimators import smile
        >>> x = torch.randn(512, 1); y = x + torch.randn(512, 1)
        >>> log = train_mi_estimator(smile(1, 1, hidden_dims=[16]), x=x, y=y, batch_size=64, max_iterations=50)
        >>> log.iterations
        50
    """
    if not isinstance(estimator, MIEstimator):
        raise TypeError(f"estimator must be a mist_reg MIEstimator, got {type(estimator).__name__}")
    if max_iterations is not None and max_iterations < 1:
        raise ValueError(f"max_iterations must be positive, got {max_iterations}")
    if max_epochs is not None and max_epochs < 1:
        raise ValueError(f"max_epochs must be positive, got {max_epochs}")
    if max_epochs is None and max_iterations is None:
        max_iterations = DEFAULT_MAX_ITERATIONS
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    check_positive_int(patience, "patience")
    if eval_every is not None:
        check_positive_int(eval_every, "eval_every")
    device = _resolve_device(device)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None

    if train_loader is None:
        if x is None or y is None:
            raise ValueError("pass x and y, or a train_loader")
        x, y = as_samples(x, "x"), as_samples(y, "y")
        check_pair(x, y)
        if valid_loader is None and valid_percentage > 0:
            train_idx, valid_idx = split_indices(x.shape[0], valid_percentage, generator)
            valid_loader = TensorBatches(x[valid_idx], y[valid_idx], min(valid_batch_size, len(valid_idx)), shuffle=False)
            x, y = x[train_idx], y[train_idx]
        if batch_size > x.shape[0]:
            raise ValueError(
                f"batch_size={batch_size} is larger than the {x.shape[0]} training samples"
                + (" left after the validation split" if valid_loader is not None else "")
            )
        x, y = x.to(device), y.to(device)
        train_loader = TensorBatches(x, y, batch_size, shuffle=True, drop_last=True, generator=generator)

    estimator.to(device)
    try:
        fit_data_dependent(estimator, train_loader)
    except RuntimeError as error:
        raise shape_mismatch(error, *first_batch(train_loader, "the training data loader")) or error
    estimator.train()
    parameters = [p for p in estimator.parameters() if p.requires_grad]
    if not parameters:  # nothing to fit (e.g. a binned estimator): data-dependent init is all
        estimator.eval()
        return TrainingLog(stop_reason="no_parameters")
    optimizer_params = dict(optimizer_params or {})
    if (
        optimizer_class in (torch.optim.Adam, torch.optim.AdamW)
        and not {"fused", "foreach"} & optimizer_params.keys()
        and device.type in ("cpu", "cuda")
        and all(p.is_floating_point() for p in parameters)
    ):
        # one kernel for every parameter instead of a Python loop over them: the estimators'
        # networks are small, so the loop is a large share of a step (~25% measured on CPU)
        optimizer_params["fused"] = True
    optimizer = optimizer_class(parameters, lr=lr, **optimizer_params)
    steps_per_epoch = len(train_loader) if hasattr(train_loader, "__len__") else None
    if eval_every is None:
        eval_every = 100

    log = TrainingLog()
    monitor = _BestWeights(estimator, smoothing=smoothing)
    if valid_loader is not None:  # the untrained estimator is a candidate too
        try:
            monitor.update(*_validate(estimator, valid_loader, device), log, {"epoch": 0})
        except RuntimeError as error:
            raise shape_mismatch(error, *first_batch(valid_loader, "the validation data loader")) or error
    total = max_iterations if max_iterations is not None else (steps_per_epoch or 0) * max_epochs or None
    progress = tqdm(total=total, disable=not verbose, desc="training", unit="step")
    running_loss = torch.zeros((), device=device)
    # whether a training batch held NaN or inf, read only when the loss turns non-finite (no sync per step)
    bad_inputs = torch.zeros((), dtype=torch.bool, device=device)
    steps_since_eval = 0
    epoch = 0
    try:
        while True:
            steps_before = log.iterations
            for batch in train_loader:
                xb, yb = unpack_batch(batch)
                if xb.shape[0] < 2:
                    continue
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
                bad_inputs |= ~(torch.isfinite(xb).all() & torch.isfinite(yb).all())
                try:
                    loss = estimator(xb, yb)
                except RuntimeError as error:
                    raise shape_mismatch(error, xb, yb) or error
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                running_loss += loss.detach()
                log.iterations += 1
                steps_since_eval += 1
                progress.update(1)
                if steps_since_eval == eval_every or log.iterations == max_iterations:
                    train_loss = float(running_loss) / steps_since_eval  # the only sync per eval_every steps
                    running_loss.zero_()
                    steps_since_eval = 0
                    if not math.isfinite(train_loss):
                        if bool(bad_inputs):
                            raise ValueError(
                                f"the training data holds NaN or infinite values (seen by iteration {log.iterations}); "
                                "drop or impute them first"
                            )
                        log.stop_reason = "non_finite_loss"
                        warnings.warn(
                            f"training stopped at iteration {log.iterations}: the loss became {train_loss}; "
                            "the best weights seen were restored (try a lower lr or another estimator)",
                            RuntimeWarning,
                            stacklevel=2,
                        )
                        return log
                    record = {"epoch": epoch, "train_loss": train_loss}
                    if valid_loader is not None:
                        valid_mi, score = _validate(estimator, valid_loader, device)
                        monitor.update(valid_mi, score, log, record)
                        progress.set_postfix(loss=f"{train_loss:.3f}", valid_mi=f"{valid_mi:.3f}")
                    else:
                        monitor.keep(log, record)
                        progress.set_postfix(loss=f"{train_loss:.3f}")
                    if early_stopping and monitor.bad_evaluations >= patience:
                        log.stop_reason = "early_stopping"
                        return log
                if max_iterations is not None and log.iterations >= max_iterations:
                    log.stop_reason = "max_iterations"
                    return log
            if log.iterations == steps_before:
                raise ValueError("the training data loader yields no batch of at least 2 samples")
            epoch += 1
            if max_epochs is not None and epoch >= max_epochs:
                log.stop_reason = "max_epochs"
                return log
    finally:
        progress.close()
        monitor.restore()
        estimator.eval()


def _validate(estimator: MIEstimator, valid_loader: Iterable, device: torch.device) -> tuple[float, float]:
    """The validation estimate and the score that selects weights (higher is better): the
    estimate itself for lower bounds, minus the validation loss for every other estimator
    (an upper bound is not improved by making it smaller with an untrained model)."""
    valid_mi = evaluate_mi(estimator, data_loader=valid_loader, device=device)
    if estimator.bound == "lower":
        score = valid_mi
    else:
        total, count = 0.0, 0
        estimator.eval()
        with torch.no_grad():
            for batch in valid_loader:
                xb, yb = unpack_batch(batch)
                if xb.shape[0] >= 2:
                    total += float(estimator(xb.to(device), yb.to(device))) * xb.shape[0]
                    count += xb.shape[0]
        score = -total / max(count, 1)
    estimator.train()
    return valid_mi, score


class _BestWeights:
    """Keeps the weights of the best smoothed validation score (or the last finite
    weights without validation) and counts validations without improvement."""

    def __init__(self, estimator: MIEstimator, smoothing: float) -> None:
        self.estimator, self.smoothing = estimator, smoothing
        self.state = copy.deepcopy(estimator.state_dict())
        self.best, self.smoothed, self.bad_evaluations = -math.inf, None, 0

    def keep(self, log: TrainingLog, record: dict) -> None:
        self.state = copy.deepcopy(self.estimator.state_dict())
        log.records.append({"iteration": log.iterations, **record})

    def update(self, valid_mi: float, score: float, log: TrainingLog, record: dict) -> None:
        s = self.smoothing
        self.smoothed = score if self.smoothed is None else s * self.smoothed + (1 - s) * score
        log.records.append(
            {"iteration": log.iterations, **record, "valid_mi": valid_mi, "valid_score_smoothed": self.smoothed}
        )
        if math.isfinite(self.smoothed) and self.smoothed > self.best:
            self.best, self.bad_evaluations = self.smoothed, 0
            self.state = copy.deepcopy(self.estimator.state_dict())
            log.best_iteration, log.best_valid_mi = log.iterations, valid_mi
        else:
            self.bad_evaluations += 1

    def restore(self) -> None:
        self.estimator.load_state_dict(self.state)


def estimate_mi(
    x: Any = None,
    y: Any = None,
    estimator: MIEstimator | str = DEFAULT_ESTIMATOR,
    *,
    estimator_name: str | None = None,
    x_test: Any = None,
    y_test: Any = None,
    test_percentage: float = 0.3,
    n_folds: int | None = None,
    confidence: float = 0.95,
    valid_loader: Iterable | None = None,
    test_loader: Iterable | None = None,
    preprocessing: Preprocessing = "gaussianize",
    batch_size: int = DEFAULT_BATCH_SIZE,
    eval_batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    max_iterations: int | None = None,
    max_epochs: int | None = None,
    lr: float = DEFAULT_LR,
    valid_percentage: float = 0.1,
    early_stopping: bool = True,
    patience: int = 5,
    eval_every: int = 50,
    device: str | torch.device | None = None,
    seed: int | None = 0,
    verbose: bool = False,
    cpu_threads: int | None = 1,
    **estimator_params: Any,
) -> MIEstimate:
    r"""Estimates ``I(X; Y)`` in nats from samples, in one call, with an error bar.

    Fits an estimator on part of the samples and evaluates it on held-out ones (see the
    module documentation for every step).

    The error bar: every held-out sample ``i`` gets a per-sample value ``v_i`` (its term
    of the bound, minus the log-partition term of its evaluation set for bounds that have
    one, such as MINE's Donsker-Varadhan estimate), so that the estimate is the mean of the
    ``v_i``. ``standard_error`` is their standard deviation over ``sqrt(n)``, with the
    Monte Carlo error of the partition term added in quadrature, and the interval is
    ``estimate -+ z * standard_error`` (normal quantile ``z`` at level ``confidence``). With ``n_folds=K`` (cross-fitting) the samples are cut into ``K``
    folds, an estimator is fitted on every ``K - 1`` folds and evaluated on the remaining
    one, and the ``v_i`` of all folds are pooled, so every sample is held out once. The
    interval covers held-out sampling noise only (the partition term's error from the
    delta method, whose first-order fluctuation vanishes at the optimal critic), and the
    bias of a bound (a lower bound errs low when the critic is not optimal) is not covered.
    With high MI for the sample size, a MINE estimate whose partition term rests on a few
    pairs is replaced by the InfoNCE bound of the same critic when it falls below it, with
    a warning; an exact copy (``y = x``, duplicated or monotone-transformed columns) gives
    ``inf`` with a warning. See ``docs/error_bars.md``.

    Arguments:
        x: Samples ``[N, x_dim]`` (a numpy array or tensor; ``[N]`` is read as ``[N, 1]``),
            or a training data loader yielding ``(x, y)`` or ``{'x': x, 'y': y}`` batches
            (then give ``test_loader`` too).
        y: Samples ``[N, y_dim]`` paired row by row with ``x``.
        estimator: A registered name (see :func:`mist_reg.estimators.list_estimators`) or
            an estimator instance (copied for every fold with ``n_folds``).
        estimator_name: An alias of ``estimator`` (the torch_mist 0.1.5 API); it may not name another estimator than ``estimator``.
        x_test: Held-out samples of x; by default ``test_percentage`` of ``x, y``.
        y_test: Held-out samples of y, paired with ``x_test``.
        test_percentage: The fraction of ``x, y`` held out when no test data is given.
        n_folds: Cross-fit over this many folds (at least 2) instead of one split; each
            fold trains a fresh estimator, so it costs ``n_folds`` trainings.
        confidence: The level of the interval, in ``(0, 1)``.
        valid_loader: Validation batches when ``x`` is a data loader.
        test_loader: Held-out batches when ``x`` is a data loader.
        preprocessing: ``"gaussianize"`` (map each coordinate to a normal marginal),
            ``"standardize"`` or ``"none"``; fitted on the training part only.
        batch_size: The training minibatch size.
        eval_batch_size: The evaluation batch size (negatives are drawn within a batch).
        max_iterations: As in :func:`train_mi_estimator`.
        max_epochs: As in :func:`train_mi_estimator`.
        lr: The learning rate.
        valid_percentage: The fraction of the training part kept for validation.
        early_stopping: As in :func:`train_mi_estimator`.
        patience: As in :func:`train_mi_estimator`.
        eval_every: Steps between validations.
        device: By default CUDA when available, else the CPU.
        seed: Makes the splits, the initialisation and the batches reproducible without
            touching the global random state (``None`` leaves them random).
        verbose: Show a progress bar.
        cpu_threads: The number of torch threads while estimating on the CPU (restored
            afterwards); ``None`` keeps the current setting. One by default: the networks
            are small (batches of 64, 128 units), so intra-op parallelism costs more in
            synchronisation than it saves, and much more when other processes share the
            cores (see ``docs/benchmarks.md``).
        estimator_params: Passed to the estimator factory (``hidden_dims``, ``neg_samples``,
            ``critic_type``, ``tau``, ...).

    Returns:
        An :class:`MIEstimate`, a float with the standard error, the interval, the bound
        direction, the fitted estimator(s), the training log(s) and warnings.

    Example:
        >>> import torch
        >>> from mist_reg.tasks import get_task
        >>> x, y = get_task("gaussian-5x5").sample(2000, seed=0)
        >>> mi = estimate_mi(x, y, max_iterations=200)
        >>> 0.5 < mi < 1.5
        True
        >>> mi = estimate_mi(x, y, n_folds=3, max_iterations=20)
        >>> mi.n_test, len(mi.fold_estimates), mi.interval[0] < mi < mi.interval[1]
        (2000, 3, True)
    """
    if estimator_name is not None:
        if not (isinstance(estimator, str) and normalize_name(estimator) in (
            normalize_name(DEFAULT_ESTIMATOR), normalize_name(estimator_name)
        )):
            raise ValueError(
                f"estimator={estimator!r} and estimator_name={estimator_name!r} name different estimators; "
                "give one of them"
            )
        estimator = estimator_name
    check_positive_int(patience, "patience")
    check_positive_int(eval_every, "eval_every")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if n_folds is not None:
        if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
            raise ValueError(f"n_folds must be an integer >= 2 (or None for one split), got {n_folds!r}")
        if x_test is not None or y_test is not None or test_loader is not None:
            raise ValueError("n_folds holds out every fold of x and y in turn; do not pass test data as well")
        if is_data_loader(x):
            raise ValueError("n_folds needs in-memory samples x and y, not a data loader")
    device = _resolve_device(device)
    if cpu_threads is not None and (isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 1):
        raise ValueError(f"cpu_threads must be a positive integer or None, got {cpu_threads!r}")
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), _cpu_threads(
        cpu_threads if device.type == "cpu" else None
    ):
        if seed is not None:
            torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return _estimate(
            x, y, estimator, x_test, y_test, test_percentage, n_folds, confidence, valid_loader, test_loader,
            preprocessing, batch_size, eval_batch_size, max_iterations, max_epochs, lr, valid_percentage,
            early_stopping, patience, eval_every, device, seed, verbose, generator, estimator_params,
        )


@contextlib.contextmanager
def _cpu_threads(n: int | None) -> Iterator[None]:
    """Runs the block with ``n`` torch threads (``None``: unchanged), then restores them."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class _Fit:
    """One fitted estimator and its evaluation on held-out samples."""

    model: MIEstimator
    log: TrainingLog
    running: RunningBound
    eval_batch: int  # the evaluation batch size (InfoNCE's negatives come from one batch)
    certificate: RunningBound | None = None  # MINE: the InfoNCE bound of the same critic and pairs


def _estimate(
    x, y, estimator, x_test, y_test, test_percentage, n_folds, confidence, valid_loader, test_loader,
    preprocessing, batch_size, eval_batch_size, max_iterations, max_epochs, lr, valid_percentage,
    early_stopping, patience, eval_every, device, seed, verbose, generator, estimator_params,
) -> MIEstimate:
    train_kwargs = dict(
        batch_size=batch_size, max_iterations=max_iterations, max_epochs=max_epochs, lr=lr,
        early_stopping=early_stopping, patience=patience, eval_every=eval_every, device=device, verbose=verbose,
        valid_batch_size=eval_batch_size,
    )
    if is_data_loader(x):
        if test_loader is None:
            raise ValueError("estimating from a data loader needs a test_loader of held-out samples")
        xb, yb = first_batch(x, "the training data loader")
        first_batch(test_loader, "test_loader")
        model = _build(estimator, xb.shape[1], yb.shape[1], estimator_params)
        log = train_mi_estimator(model, train_loader=x, valid_loader=valid_loader, seed=seed, **train_kwargs)
        certificate = RunningBound()
        running = _evaluate(model, None, None, None, test_loader, device, certificate)
        test_batch = getattr(test_loader, "batch_size", None) or eval_batch_size  # for InfoNCE's cap
        return _result([_Fit(model, log, running, test_batch, certificate)], confidence, cross_fitted=False)

    if x is None or y is None:
        raise ValueError("estimate_mi needs x and y (or a data loader as x)")
    # float64 or int64 data far from zero is centred in float64 before the cast to float32 (MI does not change)
    x_centring, y_centring = WideCentring(), WideCentring()
    x, y = as_samples(x, "x", x_centring), as_samples(y, "y", y_centring)
    check_pair(x, y)
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    copy_message = exact_dependence(x, y)
    if copy_message is not None:
        message = f"the mutual information is infinite: {copy_message}; no estimator was fitted"
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        return MIEstimate(
            math.inf, standard_error=0.0, interval=(math.inf, math.inf), confidence=confidence,
            n_test=0, warnings=[message],
        )

    def fit(x, y, x_test, y_test, fold_seed, fresh) -> _Fit:
        if x_test.shape[0] < 2:
            raise ValueError(f"at least 2 held-out samples are needed, got {x_test.shape[0]}")
        x_map, y_map = make_preprocessor(preprocessing).fit(x), make_preprocessor(preprocessing).fit(y)
        x, y, x_test, y_test = x_map(x), y_map(y), x_map(x_test), y_map(y_test)
        model = _build(copy.deepcopy(estimator) if fresh else estimator, x.shape[1], y.shape[1], estimator_params)
        log = train_mi_estimator(model, x=x, y=y, valid_percentage=valid_percentage, seed=fold_seed, **train_kwargs)
        eval_batch = min(eval_batch_size, x_test.shape[0])
        certificate = RunningBound()
        running = _evaluate(model, x_test, y_test, eval_batch, None, device, certificate)
        return _Fit(model, log, running, eval_batch, certificate)

    if n_folds is not None:
        if x.shape[0] < 2 * n_folds:
            raise ValueError(f"{n_folds} folds need at least {2 * n_folds} samples, got {x.shape[0]}")
        folds = torch.tensor_split(torch.randperm(x.shape[0], generator=generator), n_folds)
        fits = []
        for k, test_idx in enumerate(folds):
            train_idx = torch.cat([fold for j, fold in enumerate(folds) if j != k])
            fold_seed = None if seed is None else seed + k
            fits.append(fit(x[train_idx], y[train_idx], x[test_idx], y[test_idx], fold_seed, fresh=True))
        return _result(fits, confidence, cross_fitted=True)

    if x_test is None:
        train_idx, test_idx = split_indices(x.shape[0], test_percentage, generator)
        x, y, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    else:
        x_test, y_test = as_samples(x_test, "x_test", x_centring), as_samples(y_test, "y_test", y_centring)
        check_pair(x_test, y_test)
        for name, train, test in (("x", x, x_test), ("y", y, y_test)):
            if train.shape[1] != test.shape[1]:
                raise ValueError(f"{name}_test has {test.shape[1]} features but {name} has {train.shape[1]}")
    return _result([fit(x, y, x_test, y_test, seed, fresh=False)], confidence, cross_fitted=False)


def _build(estimator: MIEstimator | str, x_dim: int, y_dim: int, params: dict[str, Any]) -> MIEstimator:
    if isinstance(estimator, MIEstimator):
        if params:
            raise TypeError(f"estimator arguments {sorted(params)} apply only when the estimator is given by name")
        return estimator
    if isinstance(estimator, str):
        name = normalize_name(estimator)
        if name in CRITIC_ESTIMATORS:
            params = {**ESTIMATION_CRITIC_DEFAULTS, **params}
        elif name == "gaussian_hybrid":
            params = {**ESTIMATION_HYBRID_DEFAULTS, **params}
        return instantiate_estimator(estimator, x_dim=x_dim, y_dim=y_dim, **params)
    raise TypeError(f"estimator must be a name or an MIEstimator, got {type(estimator).__name__}")


def _fit_messages(fit: _Fit, where: str = "") -> list[str]:
    """Warnings about one fitted estimator: InfoNCE saturation, a non-finite loss."""
    messages: list[str] = []
    value = fit.running.value()
    if isinstance(fit.model, InfoNCE):
        cap = math.log(resolve_neg_samples(fit.model.neg_samples, fit.eval_batch) + 1)
        if value > cap - 0.1:
            messages.append(
                f"InfoNCE is saturated{where}: its estimate {value:.3f} is close to its cap log(M + 1) = {cap:.3f}; "
                "the true MI may be much higher (use a larger batch or another estimator)"
            )
    if fit.log.stop_reason == "non_finite_loss":
        messages.append(
            f"training stopped early on a non-finite loss{where}; the estimate uses the best weights seen"
        )
    return messages


def _pooled(fits: list[_Fit]) -> tuple[float, float, int]:
    """The mean and standard error of the per-sample values pooled over every fold, where
    a sample's value is its per-sample term minus its fold's log-partition term."""
    counts = [f.running.n_samples for f in fits]
    values = [f.running.value() for f in fits]
    n = sum(counts)
    mean = sum(c * v for c, v in zip(counts, values)) / n
    if n < 2:
        return mean, float("nan"), n
    # within-fold sum of squares (the fold's variance is n_k * stderr_k ** 2) plus between-fold
    within = sum((c - 1) * c * f.running.standard_error() ** 2 for c, f in zip(counts, fits) if c > 1)
    between = sum(c * (v - mean) ** 2 for c, v in zip(counts, values))
    return mean, math.sqrt((within + between) / (n - 1) / n), n


def _heterogeneity_p_value(values: list[float], errors: list[float]) -> float:
    """The p-value of Cochran's Q test that the fold estimates share one mean, given their
    standard errors (chi-square with K - 1 degrees of freedom)."""
    weights = [1 / e**2 for e in errors]
    mean = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    q = sum(w * (v - mean) ** 2 for w, v in zip(weights, values))
    dof = len(values) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64), torch.tensor(q / 2, dtype=torch.float64)))


def _certified(fit: _Fit, where: str = "") -> tuple[_Fit, list[str]]:
    """Guards the Donsker-Varadhan estimate against its Monte Carlo log-partition term.

    MINE reports ``mean f(x_i, y_i) - log mean exp f(x_i, y_j)``: the second term is a mean
    of weights ``exp f`` over held-out negative pairs. When the critic's range is large
    (high MI for the sample size), a handful of pairs carry the whole mean, and one pair
    that happens to fall where the critic is large drags the estimate down by many nats
    while the per-sample terms stay tight. The InfoNCE bound of the same critic on the same
    pairs normalises each row by its own positive and negatives: it can neither exceed
    ``log(M + 1)`` nor be dragged down by one pair, and it is a lower bound in expectation
    for any critic. When the DV estimate lies below it, the partition term is what failed,
    and the InfoNCE value (what the held-out data certify) is reported instead, with a
    warning: the estimate cannot go below what it certifies. When the DV
    estimate stands but its partition term rests on few effective pairs, it is kept (its
    standard error includes that term's error) with a warning saying what is certified.

    Both apply only when the partition term rests on fewer effective pairs than there are
    held-out samples (:meth:`RunningBound.effective_pairs`): on ordinary tasks it rests on
    hundreds of thousands, on high-MI tasks with few samples on a handful, so the two
    regimes lie orders of magnitude apart.
    """
    cert = fit.certificate
    if cert is None or cert.n_samples == 0 or fit.running.n_partition == 0:
        return fit, []
    dv, nce = fit.running.value(), cert.value()
    partition_error = fit.running.partition_standard_error()
    pairs = fit.running.effective_pairs()
    cap = math.log(resolve_neg_samples(getattr(fit.model, "neg_samples", 0), fit.eval_batch) + 1)
    if pairs >= fit.running.n_samples:  # the partition term averages more values than the per-sample term
        return fit, []
    if dv < nce:
        return dataclasses.replace(fit, running=cert), [
            f"the Donsker-Varadhan estimate{where} ({dv:.3f} nats) fell below the InfoNCE bound of the same "
            f"critic on the same held-out pairs ({nce:.3f}): its log-partition term rests on about {pairs:.1f} "
            "effective negative pairs (fewer than the held-out samples), as happens when the MI is high for the "
            "number of samples or the critic is heavy-tailed over negative pairs. Reporting the InfoNCE value, a "
            f"lower bound that cannot exceed log(M + 1) = {cap:.2f}: the data support at least this much, and the "
            "MI may be higher (with high MI, much higher: more samples are needed to measure it)"
        ]
    return fit, [
        f"the estimate{where} rests on a log-partition term carried by about {pairs:.1f} effective negative "
        f"pairs (Monte Carlo error {partition_error:.3f} nats, included in the standard error); the held-out "
        f"data certify at least {nce:.3f} nats (the InfoNCE bound of the same critic, capped at "
        f"log(M + 1) = {cap:.2f}), and the MI may be higher or lower than the estimate"
    ]


def _result(fits: list[_Fit], confidence: float, cross_fitted: bool) -> MIEstimate:
    messages: list[str] = []
    certified = []
    for k, fit in enumerate(fits):
        fit, fit_messages = _certified(fit, f" (fold {k + 1})" if cross_fitted else "")
        certified.append(fit)
        messages += fit_messages
    fits = certified
    for k, fit in enumerate(fits):
        messages += _fit_messages(fit, f" (fold {k + 1})" if cross_fitted else "")
    value, standard_error, n_test = _pooled(fits)
    fold_values = [f.running.value() for f in fits] if cross_fitted else []
    fold_errors = [f.running.standard_error() for f in fits] if cross_fitted else []
    if cross_fitted and all(math.isfinite(e) and e > 0 for e in fold_errors):
        p_value = _heterogeneity_p_value(fold_values, fold_errors)
        if p_value < 0.01:
            messages.append(
                f"the fold estimates ({', '.join(f'{v:.3f}' for v in fold_values)}) differ more than their "
                f"standard errors explain (heterogeneity p = {p_value:.2g}): training varies between folds, "
                "and the interval, which reflects held-out sampling noise only, is likely too narrow"
            )
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=4)  # the caller of estimate_mi
    return MIEstimate(
        value,
        standard_error=standard_error,
        interval=normal_interval(value, standard_error, confidence),
        confidence=confidence,
        bound=fits[0].model.bound,
        n_test=n_test,
        n_folds=len(fits) if cross_fitted else None,
        fold_estimates=fold_values,
        fold_standard_errors=fold_errors,
        estimator=fits[0].model,
        log=fits[0].log,
        fold_estimators=[f.model for f in fits] if cross_fitted else [],
        fold_logs=[f.log for f in fits] if cross_fitted else [],
        warnings=messages,
    )
