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
   accumulated over every negative pair of every test batch before the logarithm is taken.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from mist_reg.bounds import RunningBound
from mist_reg.data import TensorBatches, as_samples, check_pair, is_data_loader, split_indices, unpack_batch
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.discriminative import InfoNCE, resolve_neg_samples
from mist_reg.estimators.factories import CRITIC_ESTIMATORS, instantiate_estimator, normalize_name
from mist_reg.preprocessing import Preprocessing, make_preprocessor

__all__ = [
    "TrainingLog",
    "MIEstimate",
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

    Attributes:
        standard_error: The standard error of the per-sample mean on the test data.
        bound: ``"lower"``, ``"upper"`` or ``None``.
        n_test: The number of held-out samples the estimate was computed on.
        estimator: The fitted estimator (in evaluation mode).
        log: The :class:`TrainingLog`.
        warnings: Messages about the reliability of the number (e.g. saturation).
    """

    standard_error: float
    bound: str | None
    n_test: int
    estimator: MIEstimator
    log: TrainingLog
    warnings: list[str]

    def __new__(cls, value: float, **attributes: Any) -> "MIEstimate":
        result = super().__new__(cls, value)
        for name, attribute in attributes.items():
            setattr(result, name, attribute)
        return result

    def __repr__(self) -> str:
        return f"MIEstimate({float(self):.4f} nats, stderr={getattr(self, 'standard_error', float('nan')):.4f}, bound={getattr(self, 'bound', None)!r})"


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
        x, y: Samples ``[N, x_dim]`` and ``[N, y_dim]`` (arrays or tensors), or ``x`` a data
            loader yielding ``(x, y)`` or ``{'x': x, 'y': y}`` batches.
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
) -> RunningBound:
    """The accumulated terms behind :func:`evaluate_mi` (also giving the sample count)."""
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
    try:
        for batch in batches:
            xb, yb = unpack_batch(batch)
            if xb.shape[0] < 2:
                skipped += xb.shape[0]
                continue
            running.add(estimator.terms(xb.to(device), yb.to(device)))
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
        x, y = torch.cat(xs), torch.cat(ys)
    parameter = next(estimator.parameters(), None)
    device = parameter.device if parameter is not None else x.device
    for module in modules:
        module.fit_data(x.to(device), y.to(device))


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
        x, y: Samples (arrays or tensors ``[N, d]``); ``valid_percentage`` of them is kept
            apart for validation. Alternatively ``train_loader`` (and ``valid_loader``).
        train_loader, valid_loader: Data loaders yielding ``(x, y)`` or ``{'x', 'y'}`` batches.
        batch_size: The training batch size for in-memory samples.
        valid_percentage: The fraction of ``x, y`` held out for validation (0 disables it).
        max_epochs, max_iterations: When to stop (the first reached); without either,
            ``3000`` iterations.
        lr: The learning rate.
        optimizer_class, optimizer_params: The optimiser and its extra arguments.
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
    fit_data_dependent(estimator, train_loader)
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
        monitor.update(*_validate(estimator, valid_loader, device), log, {"epoch": 0})
    total = max_iterations if max_iterations is not None else (steps_per_epoch or 0) * max_epochs or None
    progress = tqdm(total=total, disable=not verbose, desc="training", unit="step")
    running_loss = torch.zeros((), device=device)
    steps_since_eval = 0
    epoch = 0
    try:
        while True:
            for batch in train_loader:
                xb, yb = unpack_batch(batch)
                if xb.shape[0] < 2:
                    continue
                loss = estimator(xb.to(device, non_blocking=True), yb.to(device, non_blocking=True))
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
    **estimator_params: Any,
) -> MIEstimate:
    r"""Estimates ``I(X; Y)`` in nats from samples, in one call.

    Fits an estimator on part of the samples and evaluates it on held-out ones (see the
    module documentation for every step).

    Arguments:
        x, y: Samples ``[N, x_dim]`` and ``[N, y_dim]`` (numpy arrays or tensors; ``[N]`` is
            read as ``[N, 1]``), or ``x`` a training data loader yielding ``(x, y)`` or
            ``{'x': x, 'y': y}`` batches (then give ``test_loader`` too).
        estimator: A registered name (see :func:`mist_reg.estimators.list_estimators`) or
            an estimator instance. ``estimator_name`` is an alias of the seed API.
        x_test, y_test: Held-out samples; by default ``test_percentage`` of ``x, y``.
        preprocessing: ``"gaussianize"`` (map each coordinate to a normal marginal),
            ``"standardize"`` or ``"none"``; fitted on the training part only.
        batch_size, eval_batch_size: Minibatch sizes for training and evaluation.
        max_iterations, max_epochs, lr, valid_percentage, early_stopping, patience, eval_every: As in
            :func:`train_mi_estimator`.
        device: By default CUDA when available, else the CPU.
        seed: Makes the splits, the initialisation and the batches reproducible without
            touching the global random state (``None`` leaves them random).
        verbose: Show a progress bar.
        estimator_params: Passed to the estimator factory (``hidden_dims``, ``neg_samples``,
            ``critic_type``, ``tau``, ...).

    Returns:
        An :class:`MIEstimate`, a float with the standard error, the bound direction, the
        fitted estimator, the training log and warnings.

    Example:
        >>> import torch
        >>> from mist_reg.tasks import get_task
        >>> x, y = get_task("gaussian-5x5").sample(2000, seed=0)
        >>> mi = estimate_mi(x, y, max_iterations=200)
        >>> 0.5 < mi < 1.5
        True
    """
    if estimator_name is not None:
        estimator = estimator_name
    device = _resolve_device(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return _estimate(
            x, y, estimator, x_test, y_test, test_percentage, valid_loader, test_loader, preprocessing,
            batch_size, eval_batch_size, max_iterations, max_epochs, lr, valid_percentage,
            early_stopping, patience, eval_every, device, seed, verbose, generator, estimator_params,
        )


def _estimate(
    x, y, estimator, x_test, y_test, test_percentage, valid_loader, test_loader, preprocessing,
    batch_size, eval_batch_size, max_iterations, max_epochs, lr, valid_percentage,
    early_stopping, patience, eval_every, device, seed, verbose, generator, estimator_params,
) -> MIEstimate:
    train_kwargs = dict(
        batch_size=batch_size, max_iterations=max_iterations, max_epochs=max_epochs, lr=lr,
        early_stopping=early_stopping, patience=patience, eval_every=eval_every, device=device, verbose=verbose,
        seed=seed, valid_batch_size=eval_batch_size,
    )
    if is_data_loader(x):
        if test_loader is None:
            raise ValueError("estimating from a data loader needs a test_loader of held-out samples")
        xb, yb = unpack_batch(next(iter(x)))
        model = _build(estimator, xb.shape[1], yb.shape[1], estimator_params)
        log = train_mi_estimator(model, train_loader=x, valid_loader=valid_loader, **train_kwargs)
        running = _evaluate(model, None, None, None, test_loader, device)
        return _result(running, model, log, eval_batch_size)

    if x is None or y is None:
        raise ValueError("estimate_mi needs x and y (or a data loader as x)")
    x, y = as_samples(x, "x"), as_samples(y, "y")
    check_pair(x, y)
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    if x_test is None:
        train_idx, test_idx = split_indices(x.shape[0], test_percentage, generator)
        x, y, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    else:
        x_test, y_test = as_samples(x_test, "x_test"), as_samples(y_test, "y_test")
        check_pair(x_test, y_test)
        for name, train, test in (("x", x, x_test), ("y", y, y_test)):
            if train.shape[1] != test.shape[1]:
                raise ValueError(f"{name}_test has {test.shape[1]} features but {name} has {train.shape[1]}")
    if x_test.shape[0] < 2:
        raise ValueError(f"at least 2 held-out samples are needed, got {x_test.shape[0]}")
    x_map, y_map = make_preprocessor(preprocessing).fit(x), make_preprocessor(preprocessing).fit(y)
    x, y, x_test, y_test = x_map(x), y_map(y), x_map(x_test), y_map(y_test)
    model = _build(estimator, x.shape[1], y.shape[1], estimator_params)
    log = train_mi_estimator(model, x=x, y=y, valid_percentage=valid_percentage, **train_kwargs)
    eval_batch = min(eval_batch_size, x_test.shape[0])
    running = _evaluate(model, x_test, y_test, eval_batch, None, device)
    return _result(running, model, log, eval_batch)


def _build(estimator: MIEstimator | str, x_dim: int, y_dim: int, params: dict[str, Any]) -> MIEstimator:
    if isinstance(estimator, MIEstimator):
        if params:
            raise TypeError(f"estimator arguments {sorted(params)} apply only when the estimator is given by name")
        return estimator
    if isinstance(estimator, str):
        if normalize_name(estimator) in CRITIC_ESTIMATORS:
            params = {**ESTIMATION_CRITIC_DEFAULTS, **params}
        return instantiate_estimator(estimator, x_dim=x_dim, y_dim=y_dim, **params)
    raise TypeError(f"estimator must be a name or an MIEstimator, got {type(estimator).__name__}")


def _result(running: RunningBound, model: MIEstimator, log: TrainingLog, eval_batch: int) -> MIEstimate:
    value = running.value()
    messages: list[str] = []
    if isinstance(model, InfoNCE):
        cap = math.log(resolve_neg_samples(model.neg_samples, eval_batch) + 1)
        if value > cap - 0.1:
            messages.append(
                f"InfoNCE is saturated: its estimate {value:.3f} is close to its cap log(M + 1) = {cap:.3f}; "
                "the true MI may be much higher (use a larger batch or another estimator)"
            )
    if log.stop_reason == "non_finite_loss":
        messages.append("training stopped early on a non-finite loss; the estimate uses the best weights seen")
    for message in messages:
        warnings.warn(message, RuntimeWarning, stacklevel=4)  # the caller of estimate_mi
    return MIEstimate(
        value,
        standard_error=running.standard_error(),
        bound=model.bound,
        n_test=running.n_samples,
        estimator=model,
        log=log,
        warnings=messages,
    )
