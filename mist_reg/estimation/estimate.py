r"""The one-call estimate, :func:`estimate_mi`: it reads the column types of the samples, chooses a
model by them, fits it on part of the samples, evaluates it on held-out ones and returns an
:class:`~mist_reg.estimation.result.MIEstimate` with its error bar.

The models, by the data (the reasons, and how well each does: ``docs/choosing-an-estimator.md``):

* discrete ``x`` and ``y`` (:mod:`mist_reg.estimation.column_types`): the corrected plug-in
  of the counts; one side class labels: ``H(Y)`` minus a classifier's held-out cross-entropy
  (:mod:`mist_reg.estimation.typed_routes`);
* one continuous column on each side: KSG on every sample (:mod:`mist_reg.estimation.knn_estimate`);
* continuous columns in independent groups: the sum over the groups, each estimated by these
  rules (:mod:`mist_reg.estimation.independent_blocks`);
* anything else: MINE with a critic made of a closed-form reference log-ratio plus a trained
  correction, after a per-coordinate Gaussianisation of continuous columns (discrete columns
  enter as indicators), trained with early stopping (:mod:`mist_reg.estimation.fitting`,
  :mod:`mist_reg.estimation.reference_choice`; clustered data, where the mixture start wins,
  once more on standardised columns: :mod:`mist_reg.estimation.coordinates`), evaluated on
  held-out samples (:mod:`mist_reg.estimation.evaluation`) and pooled over folds with its
  Donsker-Varadhan term certified against InfoNCE (:mod:`mist_reg.estimation.combine`); one
  continuous column also by the ``single_column`` and ``single_index`` routes where they win.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from mist_reg.checks import check_positive_int
from mist_reg.estimation import training_defaults as defaults
from mist_reg.estimation.closed_form_all_rows import reference_on_all_rows
from mist_reg.estimation.column_types import Declared, table_values
from mist_reg.estimation.combine import FoldFit, combine_fits
from mist_reg.estimation.coordinates import fit_in_coordinates
from mist_reg.estimation.critic_ensemble import with_critic_ensemble
from mist_reg.estimation.data import first_batch, is_data_loader, split_indices
from mist_reg.estimation.default_choice import (
    DEFAULT_ESTIMATOR,
    ESTIMATE_NAMES,
    KSG,
    TRAINED_DEFAULT,
    KsgChoice,
    choose_estimator,
    discrete_for_ksg,
)
from mist_reg.estimation.diagnostics import exact_dependence, tie_warnings
from mist_reg.estimation.evaluation import DEFAULT_EVAL_BATCH_SIZE, evaluate_terms
from mist_reg.estimation.fitting import FitSettings, cpu_threads_for, resolve_device, thread_plan
from mist_reg.estimation.gaussian_estimate import gaussian_on_all_rows
from mist_reg.estimation.independent_blocks import estimate_by_blocks, independent_blocks
from mist_reg.estimation.knn_estimate import ksg_with_error_bar
from mist_reg.estimation.model_spec import ModelSpec
from mist_reg.estimation.preprocessing import Preprocessing
from mist_reg.estimation.reference_choice import fit_with_reference_choice
from mist_reg.estimation.result import MIEstimate
from mist_reg.estimation.single_column import with_single_column_challenger
from mist_reg.estimation.single_column_curve import along_learning_curve
from mist_reg.estimation.single_index import cross_fitted_index_estimate, index_reads_left_out, single_index_estimate
from mist_reg.estimation.typed_pair import read_pair
from mist_reg.estimation.typed_routes import discrete_route
from mist_reg.estimators.base import MIEstimator
from mist_reg.estimators.registry import normalize_name
from mist_reg.functional.bounds import RunningBound

__all__ = ["estimate_mi", "DEFAULT_ESTIMATOR", "TRAINED_DEFAULT", "KSG", "ESTIMATE_NAMES"]


def estimate_mi(
    x: Any = None,
    y: Any = None,
    estimator: MIEstimator | str = DEFAULT_ESTIMATOR,
    *,
    estimator_name: str | None = None,
    discrete_x: Declared = None,
    discrete_y: Declared = None,
    x_test: Any = None,
    y_test: Any = None,
    test_percentage: float = 0.3,
    n_folds: int | None = None,
    confidence: float = 0.95,
    valid_loader: Iterable | None = None,
    test_loader: Iterable | None = None,
    preprocessing: Preprocessing = "gaussianize",
    batch_size: int = defaults.ESTIMATE_BATCH_SIZE,
    eval_batch_size: int = DEFAULT_EVAL_BATCH_SIZE,
    max_iterations: int | None = None,
    max_epochs: int | None = None,
    lr: float = defaults.ESTIMATE_LR,
    valid_percentage: float = 0.1,
    early_stopping: bool = True,
    patience: int = defaults.ESTIMATE_PATIENCE,
    lr_decays: int = defaults.ESTIMATE_LR_DECAYS,
    min_delta: float = defaults.ESTIMATE_MIN_DELTA,
    eval_every: int = defaults.ESTIMATE_EVAL_EVERY,
    device: str | torch.device | None = None,
    seed: int | None = 0,
    verbose: bool = False,
    cpu_threads: int | str | None = "auto",
    **estimator_params: Any,
) -> MIEstimate:
    r"""Estimates ``I(X; Y)`` in nats from samples, in one call, with an error bar.

    **How the default chooses** (``estimator="default"``, in-memory samples):

    1. **Column types** are read first (:mod:`mist_reg.estimation.column_types`): bool,
       integer and string columns are discrete, and so are float columns with at most 20
       distinct values; ``discrete_x`` / ``discrete_y`` override the rule. A side whose
       columns are all discrete, with at least 10 samples per joint value, is *categorical*.
    2. **Both sides categorical**: the Miller-Madow-corrected plug-in of the counts on every
       sample (``estimator_name="plug-in"``).
    3. **One side categorical** (class labels): ``H(Y)`` minus the held-out cross-entropy of
       a classifier chosen on validation, cross-fitted over 5 folds (``n_folds`` sets
       how many) and extrapolated along its learning curve (``estimator_name=
       "classifier:<family> (extrapolated)"``, see :func:`mist_reg.label_mi`); given test
       data, the classifier trains on ``x, y`` and is tested there. ``test_percentage`` and
       the network arguments do not apply.
    4. **One continuous column on each side**, no value shared by more than ``k = 5`` rows
       and no argument that configures training: KSG on every sample, test data included
       (k-NN distances resolve a sharp one-dimensional density at the sample spacing, with
       nothing to train; their bias grows with the dimension, so only here).
    5. **Continuous columns that fall into independent groups** (tested pairwise, then
       jointly; :mod:`mist_reg.estimation.independent_blocks`), no argument that configures
       training: the sum of the groups' estimates, each group estimated by these rules
       (``estimator_name="blocks(ksg, mine, ...)"``, the parts in ``parts``); columns
       independent of everything drop out.
    6. **Otherwise**: MINE (``estimator_name="mine"``, as ``estimator="mine"`` always gives),
       discrete columns entering as indicator columns (never ranked as numbers); where its
       trained correction rose above its closed-form start, the mean of four
       corrections trained as one network (``"mine (averaged)"``,
       :mod:`mist_reg.estimation.critic_ensemble`); where a side is one continuous column,
       the Barber-Agakov bound (``"ba"``, or ``"ba (extrapolated)"`` along its learning curve,
       :mod:`mist_reg.estimation.single_column`) and KSG of a fitted index of the other side
       (``"ksg (single index)"``, :mod:`mist_reg.estimation.single_index`) challenge it. Where the
       MI is too high for the rows to judge a trained critic, nothing is trained: the
       Gaussian MI of every row, the sample covariance's bias removed
       (``estimator_name="gaussian_unbiased"``, :mod:`mist_reg.estimation.gaussian_estimate`).

    A registered name or an instance is trained as in step 6; a categorical ``y`` reaches
    it as class indices when it models labels itself (``"gaussian"``, ``"kernel"``), else as
    indicator columns. ``estimator="ksg"`` gives KSG always, with a warning naming tied
    columns.

    The error bar: each held-out sample gets a per-sample value whose mean is the estimate;
    ``standard_error`` is their standard deviation over ``sqrt(n)`` (plus the Monte Carlo
    error of a log-partition term, or KSG's subsampling error), and the interval is
    ``estimate -+ z * standard_error``. It covers held-out sampling noise, not the bias of
    a bound. ``n_folds=K`` cross-fits: every fold is held out once and the values pooled.
    A Donsker-Varadhan estimate resting on few negative pairs is replaced by the InfoNCE
    bound of the same critic when it falls below it; an exact copy (``y = x``) gives
    ``inf``. Both warn. See ``docs/error_bars.md``.

    Arguments:
        x: Samples ``[N, x_dim]`` (a numpy array, tensor, list of rows or pandas ``DataFrame``;
            columns of strings are codes; ``[N]`` is read as ``[N, 1]``), or a training data loader yielding ``(x, y)`` or ``{'x': x, 'y': y}`` batches
            (then give ``test_loader`` too).
        y: Samples ``[N, y_dim]`` paired row by row with ``x``.
        estimator: ``"default"`` (see above), ``"ksg"``, a registered name (see
            :func:`mist_reg.estimators.list_estimators`) or an estimator instance (copied
            for every fold with ``n_folds``).
        estimator_name: An alias of ``estimator`` (the torch_mist 0.1.5 API); it may not name another estimator than ``estimator``.
        discrete_x: Which columns of ``x`` are discrete: ``None`` reads them from the data
            (step 1), ``True`` / ``False`` declares every column discrete / continuous, a
            list of column indices declares exactly those discrete.
        discrete_y: The same for ``y``.
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
        max_iterations: As in :func:`~mist_reg.estimation.fitting.train_mi_estimator`.
        max_epochs: As in :func:`~mist_reg.estimation.fitting.train_mi_estimator`.
        lr: The learning rate.
        valid_percentage: The fraction of the training part kept for validation.
        early_stopping: As in :func:`~mist_reg.estimation.fitting.train_mi_estimator`.
        patience: As in :func:`~mist_reg.estimation.fitting.train_mi_estimator`.
        lr_decays: How many times running out of patience lowers the learning rate
            instead of stopping (:data:`~mist_reg.estimation.training_defaults.ESTIMATE_LR_DECAYS`).
        min_delta: The least rise of the smoothed validation estimate (nats) that resets
            ``patience`` (:data:`~mist_reg.estimation.training_defaults.ESTIMATE_MIN_DELTA`).
        eval_every: Steps between validations.
        device: By default CUDA when available, else the CPU.
        seed: Makes the splits, the initialisation and the batches reproducible without
            touching the global random state (``None`` leaves them random).
        verbose: Show a progress bar.
        cpu_threads: The number of torch threads while estimating on the CPU (restored
            afterwards); ``None`` keeps the current setting. ``"auto"`` (the default): one
            thread where a network is trained, whose steps are small (batches of 128, 128
            units) so that intra-op parallelism costs more in synchronisation than it saves,
            much more when other processes share the cores; the current setting for a class
            label or two discrete sides, whose classifiers work on all the rows at once
            (covariances, full-batch fits), where threads pay (see ``docs/benchmarks.md``,
            "Threads on the CPU").
        estimator_params: Passed to the estimator factory (``hidden_dims``, ``neg_samples``,
            ``critic_type``, ``tau``, ...).

    Returns:
        An :class:`~mist_reg.estimation.result.MIEstimate`, a float with the standard error, the interval, the bound
        direction, the estimator's name, the fitted estimator(s), the training log(s) and warnings.

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
        >>> from mist_reg.tasks import dense_gaussian
        >>> pair = dense_gaussian(1, 1, 0.8)  # one-dimensional x and y: KSG by default
        >>> x, y = pair.sample(2000, seed=0)
        >>> mi = estimate_mi(x, y)
        >>> mi.estimator_name, mi.bound, mi.interval[0] < pair.mutual_information < mi.interval[1]
        ('ksg', None, True)
        >>> estimate_mi(x, y, "mine", max_iterations=20).estimator_name  # opting out
        'mine'
        >>> codes = torch.randint(0, 4, (2000,), generator=torch.Generator().manual_seed(0))
        >>> estimate_mi(codes, codes % 2).estimator_name  # two discrete sides: counts
        'plug-in'
    """
    if estimator_name is not None:
        if not (
            isinstance(estimator, str)
            and normalize_name(estimator) in (normalize_name(DEFAULT_ESTIMATOR), normalize_name(estimator_name))
        ):
            raise ValueError(
                f"estimator={estimator!r} and estimator_name={estimator_name!r} name different estimators; "
                "give one of them"
            )
        estimator = estimator_name
    estimator_arg = estimator
    x, y, x_test, y_test = (table_values(v) for v in (x, y, x_test, y_test))
    configured = _configured_training(
        dict(
            test_percentage=test_percentage,
            n_folds=n_folds,
            valid_loader=valid_loader,
            test_loader=test_loader,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            max_iterations=max_iterations,
            max_epochs=max_epochs,
            lr=lr,
            valid_percentage=valid_percentage,
            early_stopping=early_stopping,
            patience=patience,
            lr_decays=lr_decays,
            min_delta=min_delta,
            eval_every=eval_every,
        ),
        estimator_params,
    )
    estimator, ksg = choose_estimator(estimator, configured, estimator_params, is_data_loader(x))
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
    device = resolve_device(device)
    threads, route_threads = thread_plan(cpu_threads, device)
    settings = FitSettings(
        batch_size=batch_size,
        valid_percentage=valid_percentage,
        max_epochs=max_epochs,
        max_iterations=max_iterations,
        lr=lr,
        device=device,
        early_stopping=early_stopping,
        patience=patience,
        lr_decays=lr_decays,
        min_delta=min_delta,
        eval_every=eval_every,
        valid_batch_size=eval_batch_size,
        verbose=verbose,
        seed=seed,
        shrink_batch="batch_size" not in configured,
    )
    held_out = _HeldOut(x_test, y_test, test_loader, test_percentage, n_folds, eval_batch_size, confidence)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), cpu_threads_for(threads):
        if seed is not None:
            torch.manual_seed(seed)
        training = [name for name in configured if name not in _HOLD_OUT_OPTIONS]
        model = ModelSpec(
            estimator,
            {} if ksg is not None else estimator_params,
            by_default=_is_default(estimator_arg),
            averaged=_is_default(estimator_arg) and not training,
        )
        if is_data_loader(x):
            return _estimate_from_loaders(x, valid_loader, model, held_out, settings)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        types = _Types(discrete_x, discrete_y, by_type=_is_default(estimator_arg), route_threads=route_threads)
        return _estimate_from_samples(x, y, preprocessing, model, held_out, settings, generator, ksg, types)


_HOLD_OUT_OPTIONS = ("test_percentage", "n_folds", "valid_loader", "test_loader", "eval_batch_size")
"""Arguments that say which samples are held out, not how the critic is trained."""

_SIGNATURE_DEFAULTS = {name: p.default for name, p in inspect.signature(estimate_mi).parameters.items()}


def _configured_training(values: dict[str, Any], estimator_params: dict[str, Any]) -> list[str]:
    """The names of the arguments that configure a trained estimator and were given a
    value other than their default (``estimator_params`` always count)."""
    changed = [name for name, value in values.items() if value is not _SIGNATURE_DEFAULTS[name]]
    changed = [name for name in changed if not _equal(values[name], _SIGNATURE_DEFAULTS[name])]
    return changed + sorted(estimator_params)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # e.g. a tensor or a loader compared with a number
        return False


@dataclass(frozen=True)
class _Types:
    """The column-type overrides, whether the type routes apply (the default estimator), and
    their torch threads."""

    discrete_x: Declared = None
    discrete_y: Declared = None
    by_type: bool = False
    route_threads: int | None = None  # torch threads of the classifier route (None: as the estimate runs)


def _is_default(estimator: MIEstimator | str) -> bool:
    return isinstance(estimator, str) and normalize_name(estimator) == DEFAULT_ESTIMATOR


@dataclass(frozen=True)
class _HeldOut:
    """Where the held-out estimate comes from, and how it is reported."""

    x_test: Any
    y_test: Any
    test_loader: Iterable | None
    test_percentage: float
    n_folds: int | None
    eval_batch_size: int
    confidence: float


def _estimate_from_loaders(
    train_loader: Iterable, valid_loader: Iterable | None, model: ModelSpec, held_out: _HeldOut, settings: FitSettings
) -> MIEstimate:
    if held_out.test_loader is None:
        raise ValueError("estimating from a data loader needs a test_loader of held-out samples")
    xb, yb = first_batch(train_loader, "the training data loader")
    first_batch(held_out.test_loader, "test_loader")
    estimator = model.build(xb.shape[1], yb.shape[1])
    estimator, log = fit_with_reference_choice(
        estimator, settings, train_loader=train_loader, valid_loader=valid_loader, reference_model=model.by_default
    )
    certificate = RunningBound()
    running = evaluate_terms(
        estimator, data_loader=held_out.test_loader, device=settings.device, certificate=certificate
    )
    test_batch = getattr(held_out.test_loader, "batch_size", None) or held_out.eval_batch_size  # for InfoNCE's cap
    fit = FoldFit(estimator, log, running, test_batch, certificate)
    return combine_fits([fit], held_out.confidence, cross_fitted=False, estimator_name=model.name)


def _estimate_from_samples(
    x: Any,
    y: Any,
    preprocessing: Preprocessing,
    model: ModelSpec,
    held_out: _HeldOut,
    settings: FitSettings,
    generator: torch.Generator | None,
    ksg: KsgChoice | None = None,
    types: _Types | None = None,
    split: bool = True,
) -> MIEstimate:
    if x is None or y is None:
        raise ValueError("estimate_mi needs x and y (or a data loader as x)")
    types = types or _Types()
    pair = read_pair(x, y, held_out.x_test, held_out.y_test, types.discrete_x, types.discrete_y)
    if types.by_type:
        with cpu_threads_for(types.route_threads):
            held = (held_out.test_percentage, held_out.n_folds, held_out.confidence)
            routed = discrete_route(pair, *held, settings.seed, settings.device, settings.verbose)
        if routed is not None:
            return routed
    c_x, c_y = pair.n_continuous_x, pair.n_continuous_y
    copy_message = exact_dependence(pair.x[:, :c_x], pair.y[:, :c_y]) if c_x and c_y else None
    if copy_message is not None:
        message = f"the mutual information is infinite: {copy_message}; no estimator was fitted"
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        return MIEstimate(
            math.inf,
            standard_error=0.0,
            interval=(math.inf, math.inf),
            confidence=held_out.confidence,
            n_test=0,
            warnings=[message],
            estimator_name=KSG if ksg is not None and ksg.applies(pair.x, pair.y) else model.name,
        )
    untyped = not (pair.x_types.discrete or pair.y_types.discrete)
    if ksg is not None and ksg.applies(pair.x, pair.y) and (untyped or not ksg.only_one_dimensional):
        # KSG fits nothing: every sample given, held-out ones included, enters the estimate
        result = ksg_with_error_bar(
            pair.x, pair.y, ksg.k, preprocessing, held_out.confidence, settings.seed, settings.device, ksg.shared_by
        )
        c_x, c_y = pair.n_continuous_x, pair.n_continuous_y
        columns = (pair.x_types.continuous, pair.y_types.continuous)
        ties = tie_warnings(pair.x[:, :c_x], pair.y[:, :c_y], ksg.k, columns)
        for message in ties + discrete_for_ksg(pair) + result.warnings:
            warnings.warn(message, RuntimeWarning, stacklevel=4)
        return result
    if split and untyped and ksg is not None and ksg.only_one_dimensional:
        screen = torch.Generator().manual_seed(settings.seed) if settings.seed is not None else None
        blocks = independent_blocks(pair.x, pair.y, screen)  # its own stream: fits draw as without it
        kept = [(block.x_columns, block.y_columns) for block in blocks or []]
        if blocks is not None and not index_reads_left_out(pair.x, pair.y, kept, preprocessing, settings.seed):
            shared = dataclasses.replace(ksg, shared_by=len(blocks))

            def estimate_block(x: torch.Tensor, y: torch.Tensor) -> MIEstimate:
                held, n = held_out, pair.n_train
                if pair.has_test:  # the given held-out rows stay held out
                    held, x, y = dataclasses.replace(held_out, x_test=x[n:], y_test=y[n:]), x[:n], y[:n]
                return _estimate_from_samples(
                    x, y, preprocessing, model, held, settings, generator, shared, types, split=False
                )

            return estimate_by_blocks(pair.x, pair.y, blocks, estimate_block, held_out.confidence)
    x, y = pair.x, pair.y
    if pair.y_types.categorical and model.accepts_class_labels():
        y, c_y = pair.y_types.joint[:, None].to(x.device), 0  # the label as a label: class indices
    x_test = y_test = None
    if pair.has_test:
        n = pair.n_train
        x, y, x_test, y_test = x[:n], y[:n], x[n:], y[n:]

    def fit(x, y, x_test, y_test, fold_seed, fresh) -> FoldFit:
        if x_test.shape[0] < 2:
            raise ValueError(
                f"at least 2 held-out samples are needed, got {x_test.shape[0]}: pass more samples, a larger "
                "test_percentage, or x_test and y_test"
            )
        fold_settings = dataclasses.replace(settings, seed=fold_seed)
        fitted = fit_in_coordinates(model, preprocessing, (c_x, c_y), x, y, fold_settings, fresh)
        fitted = with_single_column_challenger(fitted, model, preprocessing, (c_x, c_y), x, y, fold_settings)
        every_row = held_out.n_folds is None and not pair.has_test  # see reference_on_all_rows below
        fitted = with_critic_ensemble(fitted, model, x, y, fold_settings, every_row)
        fitted = along_learning_curve(fitted, fold_settings, x, y, x_test, y_test)
        estimator, log, x_test, y_test = fitted.estimator, fitted.log, fitted.x_map(x_test), fitted.y_map(y_test)
        eval_batch = min(held_out.eval_batch_size, x_test.shape[0])
        certificate = RunningBound()
        running = evaluate_terms(estimator, x_test, y_test, eval_batch, device=settings.device, certificate=certificate)
        return FoldFit(estimator, log, running, eval_batch, certificate, fitted)

    n_folds, seed, level = held_out.n_folds, settings.seed, held_out.confidence
    if n_folds is not None:
        if x.shape[0] < 2 * n_folds:
            raise ValueError(f"{n_folds} folds need at least {2 * n_folds} samples, got {x.shape[0]}")
        folds = torch.tensor_split(torch.randperm(x.shape[0], generator=generator), n_folds)
        fits, logs = [], []
        for k, test_idx in enumerate(folds):
            train_idx = torch.cat([fold for j, fold in enumerate(folds) if j != k])
            fold_seed = None if seed is None else seed + k
            fits.append(fit(x[train_idx], y[train_idx], x[test_idx], y[test_idx], fold_seed, fresh=True))
            logs.append((test_idx, fits[-1].log, dataclasses.replace(settings, seed=fold_seed)))
        index = cross_fitted_index_estimate(logs, model, preprocessing, (c_x, c_y), x, y, level)
        result = index if index is not None else combine_fits(fits, level, cross_fitted=True, estimator_name=model.name)
        return gaussian_on_all_rows(result, pair.x, pair.y, preprocessing, (c_x, c_y))

    if x_test is None:
        train_idx, test_idx = split_indices(x.shape[0], held_out.test_percentage, generator)
        x, y, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    fold = fit(x, y, x_test, y_test, seed, fresh=False)
    index = single_index_estimate(fold.log, model, preprocessing, (c_x, c_y), x, y, x_test, y_test, settings, level)
    result = index if index is not None else combine_fits([fold], level, cross_fitted=False, estimator_name=model.name)
    if index is None and model.averaged:  # every row, where a closed-form reference holds it all
        rows = None if pair.has_test else (torch.cat([x, x_test]), torch.cat([y, y_test]))
        result = reference_on_all_rows(result, fold.fitted, settings.resolved().min_delta, rows, seed)
    return gaussian_on_all_rows(result, pair.x, pair.y, preprocessing, (c_x, c_y))
