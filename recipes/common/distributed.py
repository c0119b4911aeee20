r"""Process-group setup for ``torchrun``: one process per device, DDP over NCCL on GPUs and
gloo on CPUs.

Run a recipe on ``N`` processes with ``torchrun --nproc_per_node=N recipes/<recipe>.py``;
``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``, which :func:`setup` reads.
Without them the recipe runs as a single process and nothing is initialised.

Conventions shared by the recipes:

* ``--batch-size`` is the *global* batch: each rank takes ``batch_size / world_size``
  rows of it, so a run on ``N`` processes sees the same samples, augmentations and
  negatives as a run on one (``MILoss`` gathers features across ranks with gradients).
* Every rank is seeded alike and runs the same operations, so the global random state
  (saved by rank 0 in checkpoints) is the same on every rank.
* Rank 0 alone writes files and shows progress bars; the others wait at barriers.
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .device import resolve_device

__all__ = ["DistributedContext", "setup", "teardown", "barrier", "unwrap", "wrap_ddp"]


@dataclass(frozen=True)
class DistributedContext:
    r"""Where this process stands: its rank, the number of ranks and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        r"""Whether this is rank 0, the process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        r"""Whether more than one process takes part."""
        return self.world_size > 1


def setup(device: str = "auto", timeout_minutes: float = 30.0) -> DistributedContext:
    r"""Initialises the default process group when launched by ``torchrun`` with more than
    one process (NCCL on CUDA, gloo otherwise) and picks this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        kwargs = {"device_id": resolved} if resolved.type == "cuda" else {}
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes), **kwargs)
    return DistributedContext(rank, world_size, local_rank, resolved)


def teardown() -> None:
    r"""Destroys the default process group if one is initialised.

    Garbage is collected first: a DDP wrapper sits in reference cycles (its hooks refer to
    it), so without a collection its reducer, which holds the group and its last pending
    work, would be freed only at interpreter exit, after the group is gone, where gloo's
    worker threads can abort the process."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def barrier() -> None:
    r"""Waits for every rank (a no-op in a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def wrap_ddp(module: nn.Module, context: DistributedContext) -> nn.Module:
    r"""``module`` wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` when more
    than one process takes part (BatchNorm layers become SyncBatchNorm on CUDA, so batch
    statistics are those of the global batch); ``module`` itself otherwise."""
    if not context.distributed:
        return module
    if context.device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return nn.parallel.DistributedDataParallel(module, device_ids=[context.device.index])
    return nn.parallel.DistributedDataParallel(module)


def unwrap(module: nn.Module) -> nn.Module:
    r"""The module inside a DDP wrapper (the module itself otherwise)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module
