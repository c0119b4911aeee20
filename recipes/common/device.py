r"""Device choice and the speed settings that depend on it: bf16 autocast and channels-last
memory on CUDA, plain float32 elsewhere."""

from __future__ import annotations

import contextlib
import re
from contextlib import AbstractContextManager

import torch
from torch import nn

__all__ = ["DEVICES", "check_device", "resolve_device", "autocast", "to_memory_format", "manual_seed_all"]

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


def check_device(name: str) -> None:
    r"""Raises a ``ValueError`` unless ``name`` is a device :func:`resolve_device` accepts:
    ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (GPU ``N``) or ``mps`` (availability is checked
    later, when the device is resolved).

    Example:
        >>> check_device("cuda:1")
        >>> check_device("gpu")
        Traceback (most recent call last):
        ...
        ValueError: invalid device 'gpu'; valid choices: auto, cpu, cuda, cuda:N (N a GPU index), mps
    """
    if name not in DEVICES and re.fullmatch(r"cuda:\d+", name) is None:
        raise ValueError(f"invalid device {name!r}; valid choices: auto, cpu, cuda, cuda:N (N a GPU index), mps")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    r"""``"auto"`` picks CUDA (the GPU of ``local_rank``), then MPS, then the CPU; a name
    that is not available raises a ``ValueError``."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ValueError(f"unknown device {name!r}; valid choices: {', '.join(DEVICES)} (optionally cuda:N)")
    if base == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was requested but CUDA is not available; use --device auto or cpu")
        return torch.device(name if ":" in name else f"cuda:{local_rank}")
    if base == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps was requested but MPS is not available; use --device auto or cpu")
    return torch.device(base)


def autocast(device: torch.device, enabled: bool = True) -> AbstractContextManager:
    r"""bf16 autocast on CUDA (when ``enabled``); a no-op elsewhere, where float32 is kept."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_memory_format(module_or_tensor: nn.Module | torch.Tensor, device: torch.device):
    r"""Channels-last layout on CUDA for 4-D tensors and convolutional modules (faster
    convolutions with tensor cores); unchanged elsewhere."""
    if device.type != "cuda":
        return module_or_tensor
    if isinstance(module_or_tensor, torch.Tensor):
        return (
            module_or_tensor.contiguous(memory_format=torch.channels_last)
            if module_or_tensor.dim() == 4
            else module_or_tensor
        )
    return module_or_tensor.to(memory_format=torch.channels_last)


def manual_seed_all(seed: int) -> None:
    r"""Seeds the global generators of torch (CPU and every CUDA device)."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
