r"""Checkpoints that survive a kill at any moment and load with ``weights_only=True``.

A checkpoint is a nested dictionary of tensors and plain Python values (no pickled
objects), written to a temporary file in the same folder and moved over the previous
checkpoint with :func:`os.replace`, which is atomic: a process killed while saving leaves
the previous checkpoint intact (and a stray temporary file, removed at the next start).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["atomic_save", "load_checkpoint", "rng_state", "set_rng_state", "remove_stale_temporaries"]

_TMP_MARKER = ".tmp-"


def atomic_save(obj: dict[str, Any], path: str | Path) -> None:
    r"""Saves ``obj`` to ``path`` atomically (temporary file, fsync, :func:`os.replace`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{_TMP_MARKER}{os.getpid()}")
    with open(tmp, "wb") as handle:
        torch.save(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def remove_stale_temporaries(folder: str | Path) -> None:
    r"""Removes temporary files left by a process killed while saving."""
    folder = Path(folder)
    if folder.is_dir():
        for tmp in folder.glob(f"*{_TMP_MARKER}*"):
            tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any] | None:
    r"""The checkpoint at ``path`` loaded with ``weights_only=True`` (``None`` if absent); a
    file that cannot be read raises a ``ValueError`` naming it and ``--no-resume``."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # torch raises several types for a truncated or foreign file
        raise ValueError(
            f"cannot read the checkpoint {path}: it is truncated or not a checkpoint of this recipe "
            f"({type(error).__name__} from torch.load); pass --no-resume to start the run afresh"
        ) from None
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f"{path} holds a {type(checkpoint).__name__}, not a checkpoint of this recipe; "
            "pass --no-resume to start the run afresh"
        )
    return checkpoint


def rng_state() -> dict[str, Any]:
    r"""The global random states of torch (CPU and CUDA devices), as tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    r"""Restores the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = [s.cpu() for s in state["cuda"]]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
