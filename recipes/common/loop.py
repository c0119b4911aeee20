r"""The training loop shared by the recipes: steps, logging, checkpoints, resumption.

A recipe supplies ``step_fn(step) -> {name: 0-d tensor}``, which runs one optimisation
step and returns detached values to log. :func:`train` calls it for every step from the
last checkpoint on, and:

* every ``log_every`` steps appends the mean of each value over the steps since the last
  record to ``metrics.jsonl`` (values stay on the device in between: one synchronisation
  per record, not per step); under ``torchrun`` the means are those of every rank (one
  ``all_reduce`` per record);
* every ``checkpoint_every`` steps, and after the last step, saves everything a resumed
  run needs to continue exactly where this one stands: the modules, optimisers and
  schedulers of the :class:`TrainState`, the global random states, the step, and the
  running sums of the metrics window;
* on start, loads the checkpoint of the run folder if there is one (and says so), and
  cuts the metrics log back to the checkpoint's step (to nothing without a checkpoint),
  so that no step is logged twice or lost; the ``seconds`` of the log and the training
  time continue from the checkpoint's.

The data and augmentations of a step depend only on the seed and the step number (see
:class:`common.data.StepBatches`), so they need no saved state.

:func:`fit` wraps :func:`train` with what every recipe does around it: channels-last
and ``torch.compile`` on request, DDP under ``torchrun``, AdamW with its schedule, bf16
autocast on CUDA, and one optimisation step per call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checkpoint import atomic_save, load_checkpoint, rng_state, set_rng_state
from .config import BaseConfig
from .device import autocast, to_memory_format
from .distributed import DistributedContext, barrier, unwrap, wrap_ddp
from .optim import build_optimizer
from .run import Run

__all__ = ["TrainState", "train", "fit"]

CHECKPOINT_FORMAT = 1


@dataclass
class TrainState:
    r"""Everything with a ``state_dict`` that training changes.

    Attributes:
        modules: Models (DDP wrappers are unwrapped when saving, so checkpoints load
            with or without DDP).
        optimizers: Optimisers, including private ones (e.g. the fairness recipe's
            ``q_optimizer``; a :class:`mist_reg.MILoss` saves its inner optimiser in its
            own ``state_dict``).
        schedulers: Learning-rate schedulers.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    schedulers: dict[str, Any] = field(default_factory=dict)

    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {k: unwrap(m).state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for group in ("modules", "optimizers", "schedulers"):
            objects = getattr(self, group)
            missing = sorted(set(objects) - set(state[group]))
            if missing:
                raise KeyError(f"the checkpoint holds no {group} named {missing}")
            for name, obj in objects.items():
                (unwrap(obj) if group == "modules" else obj).load_state_dict(state[group][name])


def _mean_over_ranks(sums: dict[str, Tensor], context: DistributedContext) -> dict[str, Tensor]:
    r"""The window sums averaged over the ranks, with one ``all_reduce`` (``sums`` itself
    in a single process)."""
    if not context.distributed or not sums:
        return sums
    names = list(sums)  # the same order on every rank: the order of step_fn's values
    stacked = torch.stack([sums[k].to(context.device) for k in names])
    dist.all_reduce(stacked)
    return dict(zip(names, (stacked / context.world_size).unbind()))


def train(
    run: Run,
    state: TrainState,
    step_fn: Callable[[int], Mapping[str, Tensor]],
    *,
    steps: int,
    context: DistributedContext,
    log_every: int = 10,
    checkpoint_every: int = 100,
    progress: bool = True,
    description: str = "train",
) -> int:
    r"""Runs ``step_fn`` for the steps from the last checkpoint of ``run`` to ``steps``.

    Returns:
        The step a previous run had reached (0 for a fresh start).
    """
    if log_every < 1 or checkpoint_every < 1:
        raise ValueError(f"log_every and checkpoint_every must be positive, got {log_every} and {checkpoint_every}")
    start, sums, count, seconds_before = 0, {}, 0, 0.0
    checkpoint = load_checkpoint(run.checkpoint_path, context.device)
    if checkpoint is not None:
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{run.checkpoint_path} has format {checkpoint.get('format')}, expected {CHECKPOINT_FORMAT}; "
                "pass --no-resume to start the run afresh"
            )
        state.load_state_dict(checkpoint["state"])
        set_rng_state(checkpoint["rng"])
        start, count = int(checkpoint["step"]), int(checkpoint["window_count"])
        sums = dict(checkpoint["window_sums"])
        seconds_before = float(checkpoint.get("seconds", 0.0))
    # cut the log back to what the checkpoint saw: all of it without a checkpoint (a run
    # killed before its first one starts from step 0 again and logs those steps anew)
    run.truncate_metrics(start)
    barrier()
    if start > steps:
        raise ValueError(f"{run.dir} holds a checkpoint at step {start}, beyond --steps {steps}")
    if start > 0 and context.is_main:
        print(
            f"{description}: resuming {run.dir} at step {start} of {steps} ({seconds_before:.1f} s trained before)",
            flush=True,
        )
    started = time.perf_counter() - seconds_before  # seconds count the time of every part of a resumed run

    def save(step: int) -> None:
        window = _mean_over_ranks(sums, context)  # a resumed run continues from every rank's window
        if context.is_main:
            atomic_save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "step": step,
                    "state": state.state_dict(),
                    "rng": rng_state(),
                    "window_sums": window,
                    "window_count": count,
                    "seconds": time.perf_counter() - started,
                },
                run.checkpoint_path,
            )
        barrier()

    bar = tqdm(
        total=steps, initial=start, desc=description, disable=not (progress and context.is_main), dynamic_ncols=True
    )
    for step in range(start, steps):
        values = step_fn(step)
        for name, value in values.items():
            value = value.detach().float()
            sums[name] = sums[name] + value if name in sums else value.clone()
        count += 1
        done = step + 1
        if done % log_every == 0 or done == steps:
            record = {"step": done, **{k: float(v) / count for k, v in _mean_over_ranks(sums, context).items()}}
            record["seconds"] = round(time.perf_counter() - started, 3)
            run.log(record)
            bar.set_postfix(
                {k: _postfix(k, v) for k, v in record.items() if k not in ("step", "seconds")}, refresh=False
            )
            sums, count = {}, 0
        if done % checkpoint_every == 0 or done == steps:
            save(done)
        bar.update(1)
    bar.close()
    run.train_seconds = time.perf_counter() - started
    return start


def _postfix(name: str, value: float) -> str:
    r"""A progress-bar value: the learning rate and small values in scientific notation
    (``lr=2.00e-04``, not ``lr=0.000``), others with three decimals."""
    if name == "lr" or (value != 0 and abs(value) < 1e-2):
        return f"{value:.2e}"
    return f"{value:.3f}"


def fit(
    run: Run,
    context: DistributedContext,
    config: BaseConfig,
    model: nn.Module,
    compute_loss: Callable[[nn.Module, int], tuple[Tensor, Mapping[str, Tensor]]],
    *,
    extra_optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
    compile_module: nn.Module | None = None,
    description: str = "train",
) -> dict[str, float]:
    r"""Trains ``model`` (already on ``context.device``) in ``run`` for ``config.steps``
    steps, resuming from the run's checkpoint.

    Arguments:
        compute_loss: ``(model, step) -> (loss, values to log)``; ``model`` is the DDP
            wrapper under ``torchrun`` (call it, so gradients synchronise), ``model``
            itself otherwise. It runs under bf16 autocast on CUDA.
        extra_optimizers: Optimisers that step on their own (e.g. the ``q`` optimiser of
            the fairness recipe's confusion penalty), saved in checkpoints with the rest. A
            :class:`mist_reg.MILoss` inside ``model`` needs none: its inner optimiser is in
            its ``state_dict``.
        compile_module: The submodule compiled in place when ``config.compile`` is set
            (module names, hooks and checkpoints are unchanged by it).

    Returns:
        ``train_seconds`` and ``steps_per_second`` of the whole run: a resumed run adds
        the training time saved in its checkpoint.
    """
    model = to_memory_format(model, context.device)
    if config.compile and compile_module is not None:
        compile_module.compile()
    ddp_model = wrap_ddp(model, context)
    optimizer, scheduler = build_optimizer(
        model.parameters(), config.lr, config.weight_decay, config.steps, config.warmup
    )

    def step(step: int) -> dict[str, Tensor]:
        with autocast(context.device, config.amp):
            loss, values = compute_loss(ddp_model, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        lr = scheduler.get_last_lr()[0]  # the rate this step used, read before the scheduler moves on
        optimizer.step()
        scheduler.step()
        return {"loss": loss.detach(), **values, "lr": torch.tensor(lr)}

    state = TrainState({"model": model}, {"optimizer": optimizer, **(extra_optimizers or {})}, {"scheduler": scheduler})
    started = time.perf_counter()
    train(
        run,
        state,
        step,
        steps=config.steps,
        context=context,
        log_every=config.log_every,
        checkpoint_every=config.checkpoint_every,
        progress=config.progress,
        description=description,
    )
    seconds = run.train_seconds if run.train_seconds is not None else time.perf_counter() - started
    return {"train_seconds": seconds, "steps_per_second": config.steps / seconds if seconds > 0 else math.nan}
