r"""Regression pairs: one continuous ``y`` that is a smooth function of several columns of
``x`` plus Gaussian noise, ``y = f(x) + noise * eps`` with ``x ~ N(0, I_d)``.

The shape of data people bring when they ask how much a set of features says about one
measured quantity. ``I(X; Y) = h(Y) - h(noise * eps)``, and ``h(Y)`` is one-dimensional:
the density of ``Y`` is that of ``f(x)`` (a histogram of 200,000 draws in bins of a
fortieth of the noise) convolved with the noise's, integrated numerically. The standard
error stated is the spread of the same computation over the four quarters of the draws,
halved (each quarter's histogram is noisier than the whole's, so it errs high).

Example:
    >>> task = RegressionTask("norm", 3, 0.2)
    >>> task.name, task.dim_x, task.dim_y, round(task.mutual_information, 2)
    ('regression-norm-3-n0.2', 3, 1, 1.24)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float, _check_int
from mist_reg.tasks.monte_carlo import MONTE_CARLO_SEED, N_MONTE_CARLO, stored_truth

__all__ = ["RegressionTask", "FUNCTIONS"]


def _relu_sum(x: Tensor) -> Tensor:
    half = x.shape[1] // 2
    return torch.relu(x[:, :half]).sum(1) - torch.relu(x[:, half:]).sum(1)


def _norm(x: Tensor) -> Tensor:
    return x.norm(dim=1)


def _product(x: Tensor) -> Tensor:
    return x.prod(1)


def _sin_cos(x: Tensor) -> Tensor:
    return torch.sin(2 * x[:, 0]) * torch.cos(x[:, 1])  # further columns are independent of y


def _tanh(x: Tensor) -> Tensor:
    signs = torch.ones(x.shape[1], dtype=x.dtype)
    signs[1::2] = -1
    return 2 * torch.tanh(x @ signs / math.sqrt(x.shape[1]))


def _wave(x: Tensor) -> Tensor:
    return torch.sin(2 * x.sum(1) / math.sqrt(x.shape[1]))  # bends back: each column's linear trace is faint


def _cubic(x: Tensor) -> Tensor:
    return (x.sum(1) / math.sqrt(x.shape[1])) ** 3 / 3


def _interaction(x: Tensor) -> Tensor:
    half = x.shape[1] // 2
    signs = torch.ones(x.shape[1] - half, dtype=x.dtype)
    signs[1::2] = -1
    first = x[:, :half].sum(1) / math.sqrt(half)
    second = x[:, half:] @ signs / math.sqrt(x.shape[1] - half)
    return first * second  # a quadratic form of all columns: no column's square carries it


def _shifts(x: Tensor) -> Tensor:
    return torch.linspace(-0.8, 0.8, x.shape[1], dtype=x.dtype)


def _ripple(x: Tensor) -> Tensor:
    return torch.sin(1.5 * x + _shifts(x)).sum(1) / math.sqrt(x.shape[1])  # additive: a wave per column


def _kinks(x: Tensor) -> Tensor:
    return (x - _shifts(x)).abs().sum(1) / math.sqrt(x.shape[1])  # additive: a kink per column, off the median


FUNCTIONS: dict[str, tuple[Callable[[Tensor], Tensor], int, str]] = {
    "relu": (_relu_sum, 2, "sum of relu(x_i) over the first half of x minus over the second"),
    "norm": (_norm, 1, "|x|"),
    "product": (_product, 2, "x_1 x_2 ... x_d"),
    "sincos": (_sin_cos, 2, "sin(2 x_1) cos(x_2)"),
    "tanh": (_tanh, 1, "2 tanh(<x, s> / sqrt(d)) with alternating signs s"),
    "cubic": (_cubic, 1, "(sum x / sqrt(d))^3 / 3"),
    "wave": (_wave, 1, "sin(2 sum x / sqrt(d))"),
    "interaction": (_interaction, 2, "the product of two orthogonal unit projections of x"),
    "ripple": (_ripple, 1, "sum sin(1.5 x_i + s_i) / sqrt(d), shifts s_i from -0.8 to 0.8"),
    "kinks": (_kinks, 1, "sum |x_i - s_i| / sqrt(d), shifts s_i from -0.8 to 0.8"),
}
"""``f`` by name: the function, the least dimension of ``x`` it needs, and its formula."""


class RegressionTask(Task):
    r"""``x ~ N(0, I_d)`` and ``y = f(x) + noise * eps`` with ``f`` one of :data:`FUNCTIONS`.

    Arguments:
        function: The name of ``f`` in :data:`FUNCTIONS`.
        dim: The dimension of ``x``.
        noise: The noise standard deviation (> 0).
        name: Task name (default ``"regression-{function}-{dim}-n{noise}"``).

    Example:
        >>> x, y = RegressionTask("relu", 8, 0.3).sample(1000, seed=0)
        >>> x.shape, y.shape
        (torch.Size([1000, 8]), torch.Size([1000, 1]))
    """

    def __init__(self, function: str, dim: int, noise: float, name: str | None = None) -> None:
        if function not in FUNCTIONS:
            raise ValueError(f"unknown function {function!r}; choose one of {', '.join(FUNCTIONS)}")
        dim = _check_int(dim, "dim")
        self.f, least, formula = FUNCTIONS[function]
        if dim < least:
            raise ValueError(f"{function} needs x of at least {least} dimensions, got {dim}")
        self.noise = _check_float(noise, "noise")
        if self.noise <= 0:
            raise ValueError(f"noise must be positive, got {noise}")
        self.function = function
        name = name or f"regression-{function}-{dim}-n{self.noise:g}"
        mi, se = stored_truth(name, lambda: self._truth(dim))
        super().__init__(name, dim, 1, mi, f"y = {formula} + {self.noise:g} noise, standard normal x", se)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, self.dim_x, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, generator=generator, dtype=torch.float64)
        return x, (self.f(x) + self.noise * eps)[:, None]

    def _truth(self, dim: int) -> tuple[float, float]:
        generator = torch.Generator().manual_seed(MONTE_CARLO_SEED)
        values = self.f(torch.randn(N_MONTE_CARLO, dim, generator=generator, dtype=torch.float64))
        whole = _output_entropy(values, self.noise)
        quarters = torch.tensor([_output_entropy(part, self.noise) for part in values.chunk(4)])
        noise_entropy = 0.5 * math.log(2 * math.pi * math.e * self.noise**2)
        return whole - noise_entropy, float(quarters.std()) / 2


def _output_entropy(values: Tensor, noise: float) -> float:
    """``h(f + noise * eps)`` from draws of ``f``: their histogram convolved with the noise."""
    low, high = float(values.min()) - 8 * noise, float(values.max()) + 8 * noise
    width = noise / 40
    bins = math.ceil((high - low) / width)
    density = torch.histc(values, bins, low, high) / (values.numel() * width)
    offsets = torch.arange(-320, 321, dtype=torch.float64) * width  # 8 noise standard deviations
    kernel = torch.exp(-0.5 * (offsets / noise) ** 2) / (noise * math.sqrt(2 * math.pi)) * width
    smooth = torch.nn.functional.conv1d(density[None, None], kernel.flip(0)[None, None], padding=320)[0, 0]
    smooth = smooth.clamp_min(1e-300)
    return float(-(smooth * smooth.log()).sum() * width)
