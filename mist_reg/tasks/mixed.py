r"""Mixed columns: x holds discrete columns (integer codes) and continuous ones; y is continuous
or a class label.

``x = (c_1..c_m, z)``: ``c_j`` uniform on ``0..levels-1`` and ``z ~ N(0, I_p)``, all independent.
The signal is ``s(x) = sum_j U_j[c_j] + B z`` with fixed random tables ``U_j`` and matrix ``B``.

* continuous y: ``y = s(x) + noise * eps``; ``p(y)`` is a Gaussian mixture over the discrete
  combinations, and the truth is the Monte Carlo mean of ``log p(y | x) - log p(y)``;
* class label y (``n_classes`` given): ``p(y | x) = softmax(s(x))``; the truth is the Monte
  Carlo mean of ``KL(p(. | x) || p(y))``, ``p(y)`` averaged over separate draws.

x is returned as float64 (float32 from :meth:`Task.sample`) with integer-valued discrete
columns first, listed in ``discrete_columns_x``; a class-label y is int64.

Example:
    >>> task = MixedColumnsTask(n_discrete=2, levels=3, n_continuous=2, dim_y=2)
    >>> x, y = task.sample(3, seed=0)
    >>> task.discrete_columns_x, x.shape, y.dtype
    ((0, 1), torch.Size([3, 4]), torch.float32)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mist_reg.tasks.base import Task, _check_float, _check_int
from mist_reg.tasks.monte_carlo import MONTE_CARLO_SEED, N_MONTE_CARLO, monte_carlo_mean, stored_truth

__all__ = ["MixedColumnsTask"]


class MixedColumnsTask(Task):
    r"""x with ``n_discrete`` integer-valued columns and ``n_continuous`` Gaussian ones; y continuous
    (``dim_y``) or a class label (``n_classes``).

    Arguments:
        n_discrete: Number of discrete columns of x (>= 1).
        levels: Values of each discrete column (>= 2).
        n_continuous: Number of continuous columns of x (>= 0).
        dim_y: Dimension of a continuous y (ignored when ``n_classes`` is given).
        n_classes: If given, y is a class label with this many classes.
        signal: Scale of the tables ``U_j`` and of ``B`` (larger: more information).
        noise: Standard deviation of the noise of a continuous y.
        seed: Seed of ``U_j`` and ``B``.
        name: Task name.

    Raises:
        ValueError: On a non-positive count, scale or noise.

    Example:
        >>> task = MixedColumnsTask(1, 4, 1, n_classes=3)
        >>> x, y = task.sample(2, seed=0)
        >>> y.dtype, y.shape, task.mutual_information_se > 0
        (torch.int64, torch.Size([2, 1]), True)
    """

    def __init__(
        self,
        n_discrete: int,
        levels: int,
        n_continuous: int,
        dim_y: int = 1,
        n_classes: int | None = None,
        signal: float = 1.0,
        noise: float = 1.0,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        self.n_discrete = _check_int(n_discrete, "n_discrete")
        self.levels = _check_int(levels, "levels", minimum=2)
        self.n_continuous = _check_int(n_continuous, "n_continuous", minimum=0)
        self.n_classes = None if n_classes is None else _check_int(n_classes, "n_classes", minimum=2)
        out = self.n_classes or _check_int(dim_y, "dim_y")
        self.signal, self.noise = _check_float(signal, "signal"), _check_float(noise, "noise")
        if self.signal <= 0 or self.noise <= 0:
            raise ValueError(f"signal and noise must be positive, got {signal} and {noise}")
        generator = torch.Generator().manual_seed(seed)
        shape = (self.n_discrete, self.levels, out)
        self.tables = torch.randn(shape, generator=generator, dtype=torch.float64) * self.signal
        self.tables -= self.tables.mean(1, keepdim=True)
        scale = self.signal / math.sqrt(max(self.n_continuous, 1))
        self.weights = torch.randn(self.n_continuous, out, generator=generator, dtype=torch.float64) * scale
        self.discrete_columns_x = tuple(range(self.n_discrete))
        kind = f"c{self.n_classes}" if self.n_classes else f"y{out}"
        spec = f"mixed-{self.n_discrete}d{self.levels}-{self.n_continuous}c-{kind}-s{self.signal:g}"
        key = f"{spec}-n{self.noise:g}-seed{seed}"
        mi, se = stored_truth(key, self._monte_carlo)
        desc = f"{self.n_discrete} discrete columns ({self.levels} values) and {self.n_continuous} Gaussian ones; " + (
            f"{self.n_classes}-class label" if self.n_classes else f"{out}-d y = signal + {self.noise:g} noise"
        )
        dim_y_out = 1 if self.n_classes else out
        super().__init__(name or spec, self.n_discrete + self.n_continuous, dim_y_out, mi, desc, se)

    def _draw_x(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        codes = torch.randint(self.levels, (n, self.n_discrete), generator=generator)
        z = torch.randn(n, self.n_continuous, generator=generator, dtype=torch.float64)
        signal = z @ self.weights + sum(self.tables[j, codes[:, j]] for j in range(self.n_discrete))
        return torch.cat([codes.to(torch.float64), z], dim=1), signal

    def _combinations(self) -> Tensor:
        # Sum of the tables over every combination of discrete codes: [levels ** n_discrete, out].
        means = self.tables[0]
        for j in range(1, self.n_discrete):
            means = (means[:, None, :] + self.tables[j][None, :, :]).reshape(-1, means.shape[1])
        return means

    def _information_density(self, generator: torch.Generator, n: int) -> Tensor:
        _, signal = self._draw_x(n, generator)
        y = signal + self.noise * torch.randn(signal.shape, generator=generator, dtype=torch.float64)
        cov = self.weights.T @ self.weights + self.noise**2 * torch.eye(signal.shape[1], dtype=torch.float64)
        chol = torch.linalg.cholesky(cov)
        white = torch.linalg.solve_triangular(chol, (y[:, None, :] - self._combinations()).mT, upper=False)
        log_components = -0.5 * white.pow(2).sum(-2) - torch.log(torch.diagonal(chol)).sum()
        log_marginal = torch.logsumexp(log_components, dim=1) - math.log(log_components.shape[1])
        log_conditional = -0.5 * ((y - signal) / self.noise).pow(2).sum(1) - signal.shape[1] * math.log(self.noise)
        return log_conditional - log_marginal

    def _monte_carlo(self) -> tuple[float, float]:
        if self.n_classes is None:
            return monte_carlo_mean(self._information_density)
        generator = torch.Generator().manual_seed(MONTE_CARLO_SEED + 1)
        marginal = torch.softmax(self._draw_x(N_MONTE_CARLO, generator)[1], dim=1).mean(0).log()

        def kl(g: torch.Generator, m: int) -> Tensor:
            log_post = torch.log_softmax(self._draw_x(m, g)[1], dim=1)
            return (log_post.exp() * (log_post - marginal)).sum(1)

        return monte_carlo_mean(kl)

    def _sample(self, n: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        x, signal = self._draw_x(n, generator)
        if self.n_classes is not None:
            return x, torch.multinomial(torch.softmax(signal, dim=1), 1, generator=generator)
        return x, signal + self.noise * torch.randn(signal.shape, generator=generator, dtype=torch.float64)
