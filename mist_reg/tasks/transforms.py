"""Invertible maps of x or y, which leave the mutual information unchanged, and the tasks they make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float

__all__ = ["Transform", "TransformedTask", "normal_cdf", "half_cube", "cube", "spiral"]


@dataclass(frozen=True)
class Transform:
    r"""An invertible map applied to a whole [n, d] sample; it preserves mutual information.

    Arguments:
        name: Short identifier.
        forward: The map.
        inverse: Its inverse.

    Example:
        >>> t = torch.tensor([[-8.0, 27.0]], dtype=torch.float64)
        >>> cube.inverse(t)
        tensor([[-2.,  3.]], dtype=torch.float64)
    """

    name: str
    forward: Callable[[Tensor], Tensor]
    inverse: Callable[[Tensor], Tensor]

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)


# Coordinate-wise transforms. In float32, normal_cdf saturates to exactly 1 (or 0) for |x| > ~5.4,
# which a standard normal coordinate exceeds with probability ~7e-8.
normal_cdf = Transform("normal-cdf", torch.special.ndtr, torch.special.ndtri)
half_cube = Transform("half-cube", lambda x: x * x.abs().sqrt(), lambda y: y.sign() * y.abs().pow(2 / 3))
cube = Transform("cube", lambda x: x**3, lambda y: y.sign() * y.abs().pow(1 / 3))


def _rotate_first_plane(x: Tensor, speed: float) -> Tensor:
    if x.shape[-1] < 2:
        raise ValueError(f"spiral needs at least 2 coordinates, got {x.shape[-1]}")
    angle = speed * x.pow(2).sum(-1)
    cos, sin = angle.cos(), angle.sin()
    out = x.clone()
    out[..., 0] = cos * x[..., 0] - sin * x[..., 1]
    out[..., 1] = sin * x[..., 0] + cos * x[..., 1]
    return out


def spiral(speed: float) -> Transform:
    r"""Rotation in the plane of the first two coordinates by the angle ``speed * ||x||**2``.

    The rotation preserves ``||x||``, so rotating back by ``-speed * ||x||**2`` inverts it.

    Arguments:
        speed: Angular speed (radians per unit squared norm).

    Example:
        >>> s = spiral(0.5)
        >>> x = torch.randn(4, 3, dtype=torch.float64)
        >>> torch.allclose(s.inverse(s(x)), x)
        True
    """
    speed = _check_float(speed, "speed")
    return Transform(
        f"spiral-{speed:g}", partial(_rotate_first_plane, speed=speed), partial(_rotate_first_plane, speed=-speed)
    )


class TransformedTask(Task):
    r"""A task whose x and/or y are passed through invertible transforms (same MI as ``base``).

    Arguments:
        base: The underlying task.
        transform_x: Transform applied to x (``None`` keeps x).
        transform_y: Transform applied to y (``None`` keeps y).
        name: Task name (default: transform names prefixed to the base name).

    Example:
        >>> from mist_reg.tasks import get_task
        >>> base = get_task("gaussian-5x5")
        >>> task = TransformedTask(base, normal_cdf, normal_cdf)
        >>> x, y = task.sample(1000, seed=0)
        >>> bool(x.min() > 0 and x.max() < 1), task.mutual_information == base.mutual_information
        (True, True)
    """

    def __init__(
        self,
        base: Task,
        transform_x: Transform | None = None,
        transform_y: Transform | None = None,
        name: str | None = None,
        description: str = "",
    ) -> None:
        self.base, self.transform_x, self.transform_y = base, transform_x, transform_y
        parts = [f"{t.name}({axis})" for t, axis in ((transform_x, "x"), (transform_y, "y")) if t is not None]
        names = dict.fromkeys(t.name for t in (transform_x, transform_y) if t is not None)
        default = "-".join([*names, base.name])
        desc = description or f"{base.name} with " + (", ".join(parts) or "no transform")
        super().__init__(name or default, base.dim_x, base.dim_y, base.mutual_information, desc)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, y = self.base._sample(n, generator)
        x = self.transform_x(x) if self.transform_x is not None else x
        y = self.transform_y(y) if self.transform_y is not None else y
        return x, y
