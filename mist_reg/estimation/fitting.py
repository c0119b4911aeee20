r"""Fitting an estimator's parameters: :func:`train_mi_estimator` and the settings it
runs with, :class:`FitSettings`.

Fitting is minibatch descent on the estimator's training loss (its ``forward``, see
:class:`~mist_reg.estimators.base.MIEstimator`), after the estimator's data-dependent
initialisation (:meth:`~mist_reg.estimators.base.MIEstimator.initialize`, e.g. the
closed-form Gaussian reference of a critic, or a quantizer's bins). Every ``eval_every``
steps the estimator is evaluated on validation data; the weights with the best smoothed
validation score are kept and restored at the end (early stopping after ``patience``
validations without improvement). Which score that is, the estimator says
(:meth:`~mist_reg.estimators.base.MIEstimator.selects_weights_by`).

Example:
    >>> import torch
    >>> from mist_reg.estimators import nwj
    >>> x = torch.randn(512, 1); y = x + torch.randn(512, 1)
    >>> settings = FitSettings(batch_size=64, max_iterations=40, eval_every=20, seed=0)
    >>> log = fit_estimator(nwj(1, 1, hidden_dims=[8]), settings, x=x, y=y)
    >>> log.iterations, len(log.records)
    (40, 3)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from tqdm.auto import tqdm

from mist_reg.checks import as_samples, check_batch, check_pair, shape_mismatch
from mist_reg.estimation.data import TensorBatches, first_batch, samples_for, split_indices, unpack_batch
from mist_reg.estimation.evaluation import DEFAULT_EVAL_BATCH_SIZE
from mist_reg.estimation.fit_settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EVAL_EVERY,
    DEFAULT_LR,
    DEFAULT_MAX_ITERATIONS,
    FitSettings,
    TrainingLog,
    resolve_device,
)
from mist_reg.estimation.weight_selection import BestWeights, validate
from mist_reg.estimators.base import MIEstimator

__all__ = [
    "FitSettings",
    "TrainingLog",
    "train_mi_estimator",
    "fit_estimator",
    "fit_data_dependent",
    "sample_loaders",
    "resolve_device",
    "cpu_threads_for",
    "thread_plan",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ITERATIONS",
    "DEFAULT_LR",
    "DEFAULT_EVAL_EVERY",
]


@contextlib.contextmanager
def cpu_threads_for(n: int | None) -> Iterator[None]:
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


def thread_plan(cpu_threads: int | str | None, device: torch.device) -> tuple[int | None, int | None]:
    r"""``estimate_mi``'s ``cpu_threads`` as the torch threads of the whole estimate and of its
    classifier route (``None``: unchanged). ``"auto"`` on the CPU: one thread, and the caller's
    for the classifiers, which work on all the rows at once.

    Example:
        >>> thread_plan(4, torch.device("cpu")), thread_plan(None, torch.device("cpu"))
        ((4, None), (None, None))
        >>> thread_plan("auto", torch.device("cpu")) == (1, torch.get_num_threads())
        True
    """
    if (
        cpu_threads is not None
        and cpu_threads != "auto"
        and (isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 1)
    ):
        raise ValueError(f"cpu_threads must be a positive integer, 'auto' or None, got {cpu_threads!r}")
    if device.type != "cpu":
        return None, None
    return (1, torch.get_num_threads()) if cpu_threads == "auto" else (cpu_threads, None)


@torch.no_grad()
def fit_data_dependent(estimator: MIEstimator, batches: Iterable, max_samples: int = 20000) -> None:
    r"""Runs the estimator's data-dependent initialisation
    (:meth:`~mist_reg.estimators.base.MIEstimator.initialize`: the ``fit_data`` hooks of
    closed-form references, quantizers, ...) on up to ``max_samples`` training samples, on
    the estimator's device. Reads no batch when the estimator has nothing to initialise."""
    if not estimator.needs_initialization():
        return
    if isinstance(batches, TensorBatches):
        x, y = batches.x[:max_samples], batches.y[:max_samples]
    else:
        xs, ys, n = [], [], 0
        for batch in batches:
            xb, yb = unpack_batch(batch, estimator.accepts_class_labels)
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
    estimator.initialize(x.to(device), y.to(device))


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
    lr_decays: int = 0,
    min_delta: float = 0.0,
    eval_every: int | None = None,
    valid_batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    smoothing: float = 0.6,
    verbose: bool = False,
    seed: int | None = None,
) -> TrainingLog:
    r"""Fits an estimator's parameters by minimising ``estimator(x, y)`` with Adam.

    The keyword arguments after ``valid_loader`` are those of :class:`FitSettings`
    (:func:`fit_estimator` takes them as one object).

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
            loss for other estimators: see
            :meth:`~mist_reg.estimators.base.MIEstimator.selects_weights_by`), then restore
            the best weights.
        patience: Validations without improvement before stopping.
        lr_decays: How many stalls of ``patience`` validations lower the learning rate
            (from the best weights) instead of stopping (see :class:`FitSettings`).
        min_delta: The least improvement of the smoothed score that resets ``patience``
            (see :class:`FitSettings`).
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
    settings = FitSettings(
        batch_size=batch_size,
        valid_percentage=valid_percentage,
        max_epochs=max_epochs,
        max_iterations=max_iterations,
        lr=lr,
        optimizer_class=optimizer_class,
        optimizer_params=optimizer_params,
        device=device,
        early_stopping=early_stopping,
        patience=patience,
        lr_decays=lr_decays,
        min_delta=min_delta,
        eval_every=eval_every,
        valid_batch_size=valid_batch_size,
        smoothing=smoothing,
        verbose=verbose,
        seed=seed,
    )
    return fit_estimator(estimator, settings, x, y, train_loader, valid_loader)


@torch.enable_grad()
def fit_estimator(
    estimator: MIEstimator,
    settings: FitSettings,
    x: Any = None,
    y: Any = None,
    train_loader: Iterable | None = None,
    valid_loader: Iterable | None = None,
) -> TrainingLog:
    r"""Fits an estimator with ``settings`` on samples ``x, y`` (a share of them kept for
    validation) or on data loaders: what :func:`train_mi_estimator` does.

    Returns:
        A :class:`TrainingLog`; the estimator holds the best weights seen, in eval mode.
    """
    if not isinstance(estimator, MIEstimator):
        raise TypeError(f"estimator must be a mist_reg MIEstimator, got {type(estimator).__name__}")
    settings = settings.resolved()
    if train_loader is None:
        train_loader, valid_loader = sample_loaders(x, y, settings, valid_loader, estimator.accepts_class_labels)

    estimator.to(settings.device)
    try:
        fit_data_dependent(estimator, train_loader)
    except RuntimeError as error:
        raise shape_mismatch(error, *first_batch(train_loader, "the training data loader")) or error  # noqa: B904 (the original error, or a clearer one)
    estimator.train()
    parameters = [p for p in estimator.parameters() if p.requires_grad]
    if not parameters:  # nothing to fit (e.g. a binned estimator): data-dependent init is all
        estimator.eval()
        return TrainingLog(stop_reason="no_parameters")
    optimizer = _optimizer(parameters, settings)
    return _TrainingLoop(estimator, optimizer, train_loader, valid_loader, settings).run()


def sample_loaders(
    x: Any, y: Any, settings: FitSettings, valid_loader: Iterable | None = None, labels: bool = False
) -> tuple[TensorBatches, Iterable | None]:
    """Training batches of in-memory samples, and validation batches split off them
    (unless ``valid_loader`` is given or ``valid_percentage`` is 0): what
    :func:`fit_estimator` trains on. The split and the order of the batches follow
    ``settings.seed``, so two calls with the same seed give the same split and batches.
    With ``labels``, int64 ``y`` stays class indices (:func:`~mist_reg.estimation.data.samples_for`).

    Example:
        >>> x, y = torch.randn(200, 2), torch.randn(200, 2)
        >>> train, valid = sample_loaders(x, y, FitSettings(batch_size=32, seed=0))
        >>> len(train), sum(len(xb) for xb, _ in valid)  # 180 training samples, 20 held out
        (5, 20)
        >>> again, _ = sample_loaders(x, y, FitSettings(batch_size=32, seed=0))
        >>> torch.equal(next(iter(train))[0], next(iter(again))[0])
        True
    """
    settings = settings.resolved()
    generator = torch.Generator().manual_seed(settings.seed) if settings.seed is not None else None
    if x is None or y is None:
        raise ValueError("pass x and y, or a train_loader")
    x, y = as_samples(x, "x"), samples_for(y, "y", labels)
    check_pair(x, y)
    if valid_loader is None and settings.valid_percentage > 0:
        train_idx, valid_idx = split_indices(x.shape[0], settings.valid_percentage, generator)
        if len(valid_idx) < 2:
            raise ValueError(
                f"valid_percentage={settings.valid_percentage} of the {x.shape[0]} training samples holds "
                f"{len(valid_idx)}, and validation needs at least 2: pass more samples (about "
                f"{math.ceil(2 / settings.valid_percentage)} training samples) or raise valid_percentage"
            )
        valid_batch = min(settings.valid_batch_size, len(valid_idx))
        valid_loader = TensorBatches(x[valid_idx], y[valid_idx], valid_batch, shuffle=False)
        x, y = x[train_idx], y[train_idx]
    if settings.shrink_batch and settings.batch_size > x.shape[0] >= 2:
        settings = dataclasses.replace(settings, batch_size=x.shape[0])
    if settings.batch_size > x.shape[0]:
        raise ValueError(
            f"batch_size={settings.batch_size} is larger than the {x.shape[0]} training samples"
            + (" left after the validation split" if valid_loader is not None else "")
        )
    x, y = x.to(settings.device), y.to(settings.device)
    return TensorBatches(x, y, settings.batch_size, shuffle=True, drop_last=True, generator=generator), valid_loader


def _optimizer(parameters: list[torch.nn.Parameter], settings: FitSettings) -> torch.optim.Optimizer:
    optimizer_params = dict(settings.optimizer_params or {})
    if (
        settings.optimizer_class in (torch.optim.Adam, torch.optim.AdamW)
        and not {"fused", "foreach"} & optimizer_params.keys()
        and settings.device.type in ("cpu", "cuda")
        and all(p.is_floating_point() for p in parameters)
    ):
        # one kernel for every parameter, not a Python loop: a large share of a small network's step
        optimizer_params["fused"] = True
    return settings.optimizer_class(parameters, lr=settings.lr, **optimizer_params)


class _TrainingLoop:
    """The optimisation loop of :func:`fit_estimator`: steps, periodic validation, early
    stopping, and the restoration of the best weights whatever ends it."""

    def __init__(
        self,
        estimator: MIEstimator,
        optimizer: torch.optim.Optimizer,
        train_loader: Iterable,
        valid_loader: Iterable | None,
        settings: FitSettings,
    ) -> None:
        self.estimator, self.optimizer, self.settings = estimator, optimizer, settings
        self.train_loader, self.valid_loader = train_loader, valid_loader
        self.device: torch.device = settings.device
        self.log = TrainingLog()
        self.monitor = BestWeights(estimator, settings.smoothing, settings.min_delta)

    def run(self) -> TrainingLog:
        settings, log = self.settings, self.log
        if self.valid_loader is not None:  # the untrained estimator is a candidate too
            try:
                self.monitor.update(*validate(self.estimator, self.valid_loader, self.device), log, {"epoch": 0})
            except RuntimeError as error:
                raise shape_mismatch(error, *first_batch(self.valid_loader, "the validation data loader")) or error  # noqa: B904 (the original error, or a clearer one)
        steps_per_epoch = len(self.train_loader) if hasattr(self.train_loader, "__len__") else None
        total = settings.max_iterations
        if total is None:
            total = (steps_per_epoch or 0) * settings.max_epochs or None
        self.progress = tqdm(total=total, disable=not settings.verbose, desc="training", unit="step")
        self.running_loss = torch.zeros((), device=self.device)
        # whether a training batch held NaN or inf, read only when the loss turns non-finite (no sync per step)
        self.bad_inputs = torch.zeros((), dtype=torch.bool, device=self.device)
        self.steps_since_eval = 0
        try:
            log.stop_reason = self._epochs()
            return log
        finally:
            self.progress.close()
            self.monitor.restore()
            self.estimator.eval()

    def _epochs(self) -> str:
        """Runs epochs until a stopping rule fires; returns its reason."""
        settings, log = self.settings, self.log
        epoch = 0
        while True:
            steps_before = log.iterations
            for batch in self.train_loader:
                xb, yb = unpack_batch(batch, self.estimator.accepts_class_labels)
                if xb.shape[0] < 2:
                    continue
                self._step(xb, yb)
                if self.steps_since_eval == settings.eval_every or log.iterations == settings.max_iterations:
                    stop_reason = self._checkpoint(epoch)
                    if stop_reason:
                        return stop_reason
                if settings.max_iterations is not None and log.iterations >= settings.max_iterations:
                    return "max_iterations"
            if log.iterations == steps_before:
                raise ValueError("the training data loader yields no batch of at least 2 samples")
            epoch += 1
            if settings.max_epochs is not None and epoch >= settings.max_epochs:
                return "max_epochs"

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        xb, yb = xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
        self.bad_inputs |= ~(torch.isfinite(xb).all() & torch.isfinite(yb).all())
        try:
            loss = self.estimator(xb, yb)
        except RuntimeError as error:
            raise shape_mismatch(error, xb, yb) or error  # noqa: B904 (the original error, or a clearer one)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.running_loss += loss.detach()
        self.log.iterations += 1
        self.steps_since_eval += 1
        self.progress.update(1)

    def _checkpoint(self, epoch: int) -> str:
        """Logs the mean training loss since the last checkpoint and validates; returns
        a stop reason (``""`` to go on)."""
        log = self.log
        train_loss = float(self.running_loss) / self.steps_since_eval  # the only sync per eval_every steps
        self.running_loss.zero_()
        self.steps_since_eval = 0
        if not math.isfinite(train_loss):
            if bool(self.bad_inputs):
                raise ValueError(
                    f"the training data holds NaN or infinite values (seen by iteration {log.iterations}); "
                    "drop or impute them first"
                )
            warnings.warn(
                f"training stopped at iteration {log.iterations}: the loss became {train_loss}; "
                "the best weights seen were restored (try a lower lr or another estimator)",
                RuntimeWarning,
                stacklevel=2,
            )
            return "non_finite_loss"
        record = {"epoch": epoch, "train_loss": train_loss}
        if self.valid_loader is not None:
            valid_mi, score = validate(self.estimator, self.valid_loader, self.device)
            self.monitor.update(valid_mi, score, log, record)
            self.progress.set_postfix(loss=f"{train_loss:.3f}", valid_mi=f"{valid_mi:.3f}")
        else:
            self.monitor.keep(log, record)
            self.progress.set_postfix(loss=f"{train_loss:.3f}")
        if self.settings.early_stopping and self.monitor.bad_evaluations >= self.settings.patience:
            if log.lr_decays < self.settings.lr_decays and self.monitor.learned():
                self._lower_lr()
                return ""
            return "early_stopping"
        return ""

    def _lower_lr(self) -> None:
        """Goes back to the best weights and on from there with a smaller step (the
        optimiser's moments are kept: they describe the same basin). Only after training
        has beaten its first validation: a fit that never did has no basin to settle in."""
        self.monitor.restore()
        self.monitor.restart_patience()
        for group in self.optimizer.param_groups:
            group["lr"] *= self.settings.lr_decay_factor
        self.log.lr_decays += 1
