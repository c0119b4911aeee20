r"""Monte Carlo ground truths: a mean with its standard error, deterministic, and a table of
stored values so that tasks with expensive truths build instantly.

A truth without a closed form is ``E[f(x, y)]`` for a pointwise quantity ``f`` (an
information density, or a posterior's KL divergence from the prior). :func:`monte_carlo_mean`
averages it over ``N_MONTE_CARLO`` draws of a fixed generator (seed ``MONTE_CARLO_SEED``) and
returns the mean and ``std / sqrt(n)``. :func:`stored_truth` looks a task's key up in
:data:`mist_reg.tasks.truth_table.TRUTH_TABLE` and computes (and caches in memory) what is
not there; ``python -m recipes.benchmarks.family_truths`` recomputes the whole table.

Example:
    >>> mean, se = monte_carlo_mean(lambda g, n: torch.randn(n, generator=g, dtype=torch.float64) ** 2, 10_000)
    >>> abs(mean - 1.0) < 5 * se
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from mist_reg.tasks.truth_table import TRUTH_TABLE

__all__ = ["N_MONTE_CARLO", "MONTE_CARLO_SEED", "monte_carlo_mean", "stored_truth"]

N_MONTE_CARLO = 200_000
"""Draws behind every Monte Carlo truth."""

MONTE_CARLO_SEED = 20_231_127
"""Seed of the generator behind every Monte Carlo truth."""

_CHUNK = 20_000
_computed: dict[str, tuple[float, float]] = {}


def monte_carlo_mean(
    draw: Callable[[torch.Generator, int], Tensor], n: int = N_MONTE_CARLO, seed: int = MONTE_CARLO_SEED
) -> tuple[float, float]:
    r"""Mean of a pointwise quantity over ``n`` draws, and its standard error.

    Arguments:
        draw: ``draw(generator, m)`` returns ``m`` float64 values of the quantity, drawn with
            ``generator``; it is called in chunks of at most 20,000.
        n: Number of draws.
        seed: Seed of the CPU generator passed to ``draw``.

    Returns:
        ``(mean, standard_error)`` in float64 arithmetic.

    Raises:
        ValueError: If ``draw`` returns a non-finite value or the wrong number of values.

    Example:
        >>> mean, se = monte_carlo_mean(lambda g, m: torch.ones(m, dtype=torch.float64), 100)
        >>> mean, se
        (1.0, 0.0)
    """
    generator = torch.Generator().manual_seed(seed)
    total, total_sq, done = 0.0, 0.0, 0
    while done < n:
        m = min(_CHUNK, n - done)
        values = draw(generator, m).to(torch.float64).reshape(-1)
        if values.numel() != m or not bool(torch.isfinite(values).all()):
            raise ValueError(f"draw returned {values.numel()} values (wanted {m}) or non-finite ones")
        total += values.sum().item()
        total_sq += values.pow(2).sum().item()
        done += m
    mean = total / n
    variance = max(total_sq / n - mean * mean, 0.0) * n / max(n - 1, 1)
    return mean, math.sqrt(variance / n)


def stored_truth(key: str, compute: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    r"""The stored Monte Carlo truth of ``key``, else ``compute()`` (cached in memory).

    Arguments:
        key: The parameters of a task, spelt as in the table.
        compute: Returns ``(mutual_information, standard_error)``.

    Returns:
        ``(mutual_information, standard_error)`` in nats.

    Example:
        >>> stored_truth("example-key-not-in-the-table", lambda: (0.5, 0.001))
        (0.5, 0.001)
    """
    if key in TRUTH_TABLE:
        return TRUTH_TABLE[key]
    if key not in _computed:
        _computed[key] = compute()
    return _computed[key]
