"""The :class:`Task` contract: a joint distribution of (x, y) with exactly known mutual information."""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

__all__ = ["Task"]


def _check_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def _natural_dtype(t: Tensor) -> Tensor:
    return (t.to(torch.float32) if t.is_floating_point() else t.to(torch.int64)).contiguous()


class Task:
    r"""A joint distribution of (x, y) with exactly known mutual information.

    Subclasses implement ``_sample(n, generator)`` returning float64 tensors, or int64
    tensors for a discrete side (class labels, categories: integer codes ``0..K-1``);
    :meth:`sample` validates arguments, casts floating tensors to float32 and keeps
    integer ones as int64.

    Arguments:
        name: Identifier of the task.
        dim_x: Dimension of x.
        dim_y: Dimension of y.
        mutual_information: I(x; y) in nats: exact, or a Monte Carlo value whose standard
            error is ``mutual_information_se``.
        description: Human-readable description.
        mutual_information_se: Standard error of ``mutual_information`` (0 when exact).

    A float side may hold integer-valued discrete columns next to continuous ones; their
    indices are ``discrete_columns_x`` (a class attribute, empty unless a task sets it).

    Example:
        >>> Task("custom", dim_x=2, dim_y=3, mutual_information=0.5)
        Task(name='custom', dim_x=2, dim_y=3, mutual_information=0.500000)
    """

    discrete_columns_x: tuple[int, ...] = ()

    def __init__(
        self,
        name: str,
        dim_x: int,
        dim_y: int,
        mutual_information: float,
        description: str = "",
        mutual_information_se: float = 0.0,
    ) -> None:
        self.name = name
        self.dim_x = _check_int(dim_x, "dim_x")
        self.dim_y = _check_int(dim_y, "dim_y")
        self.mutual_information = float(mutual_information)
        self.mutual_information_se = float(mutual_information_se)
        self.description = description

    def sample(
        self, n: int, seed: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draw ``n`` i.i.d. pairs.

        Arguments:
            n: Number of samples, a positive integer.
            seed: Seed of a fresh CPU generator (reproducible sampling).
            generator: Explicit generator; mutually exclusive with ``seed``.
                With neither, torch's global generator is used.

        Returns:
            Tensors ``x`` of shape [n, dim_x] and ``y`` of shape [n, dim_y]: float32, or
            int64 for a discrete side.

        Example:
            >>> from mist_reg.tasks import get_task
            >>> task = get_task("gaussian-5x5")
            >>> x, y = task.sample(100, seed=0)
            >>> x.shape, y.shape, x.dtype
            (torch.Size([100, 5]), torch.Size([100, 5]), torch.float32)
            >>> torch.equal(x, task.sample(100, seed=0)[0])
            True
        """
        n = _check_int(n, "n")
        if seed is not None and generator is not None:
            raise ValueError("pass either seed or generator, not both")
        if seed is not None:
            generator = torch.Generator().manual_seed(_check_int(seed, "seed", minimum=0))
        elif generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        x, y = self._sample(n, generator)
        return _natural_dtype(x), _natural_dtype(y)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dim_x={self.dim_x}, dim_y={self.dim_y}, "
            f"mutual_information={self.mutual_information:.6f})"
        )
