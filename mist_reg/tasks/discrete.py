r"""Discrete-discrete pairs: x and y are integer codes drawn from a joint probability table.

A side may have several columns: its code ``0..V-1`` is written in mixed radix with the
given levels per column (``levels=(4, 3)`` makes two columns with values 0..3 and 0..2).
The mutual information is exact, from the table.

Example:
    >>> task = discrete_pair(20, 5, strength=2.0)
    >>> x, y = task.sample(4, seed=0)
    >>> x.dtype, x.shape, y.shape, task.mutual_information_se
    (torch.int64, torch.Size([4, 1]), torch.Size([4, 1]), 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float, _check_int

__all__ = ["DiscretePairTask", "discrete_pair", "table_mutual_information", "to_columns"]


def table_mutual_information(joint: Tensor) -> float:
    r"""Exact MI of a joint probability table ``p(x, y)`` (rows x, columns y), in nats.

    Arguments:
        joint: Non-negative table summing to 1, shape [Vx, Vy].

    Returns:
        ``sum p(x, y) log(p(x, y) / (p(x) p(y)))``, with ``0 log 0 = 0``.

    Example:
        >>> round(table_mutual_information(torch.eye(4) / 4), 6) == round(math.log(4), 6)
        True
    """
    p = torch.as_tensor(joint, dtype=torch.float64)
    outer = p.sum(1, keepdim=True) * p.sum(0, keepdim=True)
    terms = torch.where(p > 0, p * (p.clamp_min(1e-300).log() - outer.clamp_min(1e-300).log()), 0.0)
    return terms.sum().item()


def to_columns(codes: Tensor, levels: Sequence[int]) -> Tensor:
    r"""Mixed-radix digits of integer codes: one column per entry of ``levels``.

    Arguments:
        codes: Integer codes in ``0..prod(levels)-1``, shape [n].
        levels: Number of values of each column.

    Returns:
        An int64 tensor of shape [n, len(levels)].

    Example:
        >>> to_columns(torch.tensor([0, 5, 11]), (4, 3)).tolist()
        [[0, 0], [1, 1], [3, 2]]
    """
    digits, rest = [], codes.to(torch.int64)
    for level in levels:
        digits.append(rest % level)
        rest = rest // level
    return torch.stack(digits, dim=1)


def _levels(levels: int | Sequence[int], name: str) -> tuple[int, ...]:
    levels = (levels,) if isinstance(levels, int) else tuple(levels)
    if not levels:
        raise ValueError(f"{name} needs at least one column")
    return tuple(_check_int(v, name, minimum=2) for v in levels)


class DiscretePairTask(Task):
    r"""Integer-coded x and y (int64) drawn from a joint probability table; exact MI.

    Arguments:
        joint: Table ``p(x, y)`` of shape [prod(levels_x), prod(levels_y)], non-negative, sum 1.
        levels_x: Values per column of x (an int for one column).
        levels_y: Values per column of y.
        name: Task name.
        description: Human-readable description.

    Raises:
        ValueError: If the table is not a probability table of the stated shape.

    Example:
        >>> task = DiscretePairTask(torch.tensor([[0.5, 0.0], [0.0, 0.5]]), 2, 2, "copy")
        >>> round(task.mutual_information, 6) == round(math.log(2), 6)
        True
    """

    def __init__(
        self,
        joint: Tensor,
        levels_x: int | Sequence[int],
        levels_y: int | Sequence[int],
        name: str,
        description: str = "",
    ) -> None:
        self.levels_x, self.levels_y = _levels(levels_x, "levels_x"), _levels(levels_y, "levels_y")
        p = torch.as_tensor(joint, dtype=torch.float64)
        shape = (math.prod(self.levels_x), math.prod(self.levels_y))
        if tuple(p.shape) != shape:
            raise ValueError(f"joint must have shape {shape} for these levels, got {tuple(p.shape)}")
        if bool((p < 0).any()) or abs(p.sum().item() - 1) > 1e-9:
            raise ValueError("joint must be non-negative and sum to 1")
        self.joint = p
        desc = description or f"discrete pair, levels {self.levels_x} and {self.levels_y}"
        super().__init__(name, len(self.levels_x), len(self.levels_y), table_mutual_information(p), desc)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        cells = torch.multinomial(self.joint.reshape(-1), n, replacement=True, generator=generator)
        n_y = self.joint.shape[1]
        return to_columns(cells // n_y, self.levels_x), to_columns(cells % n_y, self.levels_y)


def discrete_pair(
    levels_x: int | Sequence[int],
    levels_y: int | Sequence[int],
    strength: float,
    seed: int = 0,
    name: str | None = None,
) -> DiscretePairTask:
    r"""Uniform x and ``p(y | x) = softmax(strength * g_x)`` with ``g_x ~ N(0, I)`` fixed by ``seed``.

    Larger ``strength`` makes y closer to a function of x (MI up to ``log Vy``).

    Arguments:
        levels_x: Values per column of x.
        levels_y: Values per column of y.
        strength: Non-negative scale of the logits.
        seed: Seed of the logits.
        name: Task name (default ``"discrete-{Vx}x{Vy}-b{strength}"``, columns joined by ``.``).

    Example:
        >>> discrete_pair(20, 5, 0.0).mutual_information
        0.0
        >>> discrete_pair((4, 3), 5, 1.0).dim_x
        2
    """
    strength = _check_float(strength, "strength")
    if strength < 0:
        raise ValueError(f"strength must be non-negative, got {strength}")
    lx, ly = _levels(levels_x, "levels_x"), _levels(levels_y, "levels_y")
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(math.prod(lx), math.prod(ly), generator=generator, dtype=torch.float64) * strength
    joint = torch.softmax(logits, dim=1) / math.prod(lx)
    spell = ".".join
    name = name or f"discrete-{spell(map(str, lx))}x{spell(map(str, ly))}-b{strength:g}"
    return DiscretePairTask(joint, lx, ly, name, f"uniform x, y ~ softmax({strength:g} * fixed Gaussian logits)")
