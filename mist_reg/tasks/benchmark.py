r"""Benchmarking estimators on ground-truth tasks (:mod:`mist_reg.tasks`): running them,
summarising the errors, and writing tables and a plot of estimate against truth.

Results are rows, one dictionary per task: ``task``, ``truth`` and, for every column
(an estimator), ``<column>`` (the estimate) and ``<column>_seconds``; columns produced by
:func:`run_benchmark` also carry ``<column>_stderr``, ``<column>_low`` and
``<column>_high`` (the interval of :class:`mist_reg.MIEstimate`).

Example:
    >>> rows, columns = run_benchmark(["independent-5x5"], ["nwj"], n_samples=400,
    ...                               max_iterations=5, hidden_dims=[8])
    >>> columns, sorted(rows[0])[:3]
    (['mist_reg:nwj'], ['mist_reg:nwj', 'mist_reg:nwj_high', 'mist_reg:nwj_low'])
    >>> summarise(rows, columns)['mist_reg:nwj']['tasks']
    1
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mist_reg.estimation.estimate import DEFAULT_ESTIMATOR, estimate_mi
from mist_reg.estimators.factories import ESTIMATORS, normalize_name
from mist_reg.tasks import BENCHMARK_SUITE, get_task

__all__ = [
    "DEFAULT_LABEL",
    "column_name",
    "timed",
    "warm_up",
    "run_benchmark",
    "summarise",
    "markdown_table",
    "text_table",
    "plot_estimates",
    "plot_per_task",
]

DEFAULT_LABEL = "default"
"""The estimator name that stands for :func:`mist_reg.estimate_mi` at its defaults."""

T = TypeVar("T")


def column_name(estimator: str) -> str:
    r"""The result column of a mist_reg estimator.

    Example:
        >>> column_name("smile")
        'mist_reg:smile'
    """
    return f"mist_reg:{estimator}"


def warm_up() -> None:
    r"""One short untimed :func:`~mist_reg.estimate_mi` call, so that timed calls after it
    pay no one-off process costs (the first optimiser a process builds imports
    ``torch._dynamo``). The torch_mist side of the benchmarks warms up the same
    way in its child process, so that both sides are timed warm.

    Example:
        >>> warm_up()
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=generator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate_mi(x, x + torch.randn(256, 2, generator=generator), estimator="mine", max_iterations=5)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    r"""``fn()`` and the wall-clock seconds it took."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run_benchmark(
    tasks: Sequence[str] = BENCHMARK_SUITE,
    estimators: Sequence[str] = (DEFAULT_LABEL,),
    n_samples: int = 5000,
    n_test: int | None = None,
    seed: int = 0,
    device: str | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    **estimate_kwargs: Any,
) -> tuple[list[dict[str, Any]], list[str]]:
    r"""Runs :func:`mist_reg.estimate_mi` with every estimator on every task.

    Arguments:
        tasks: Task names (see :func:`mist_reg.tasks.list_tasks`).
        estimators: Registered estimator names, or ``"default"`` for
            :func:`~mist_reg.estimate_mi` at its defaults.
        n_samples: The samples drawn per task (seed ``seed``).
        n_test: If given, as many held-out samples are drawn separately (seed ``seed + 1``)
            and passed as ``x_test, y_test``; otherwise ``estimate_mi`` splits
            ``n_samples`` itself (or cross-fits, with ``n_folds=`` in ``estimate_kwargs``).
        seed: Seeds sampling and estimation.
        device: Passed to ``estimate_mi``.
        on_row: Called with every row as soon as it is complete (for progress output).
        estimate_kwargs: More arguments of ``estimate_mi`` (``n_folds``,
            ``max_iterations``, ``hidden_dims``, ...).

    Returns:
        The rows (see the module documentation) and the estimator columns.
    """
    for estimator in estimators:
        if estimator != DEFAULT_LABEL and normalize_name(estimator) not in ESTIMATORS:
            raise ValueError(
                f"unknown estimator {estimator!r}; valid names: {DEFAULT_LABEL}, {', '.join(sorted(ESTIMATORS))}"
            )
    task_objects = [get_task(name) for name in tasks]  # fails early on an unknown name
    rows, columns = [], [column_name(e) for e in estimators]
    for task in task_objects:
        x, y = task.sample(n_samples, seed=seed)
        held_out: dict[str, Any] = {}
        if n_test is not None:
            held_out["x_test"], held_out["y_test"] = task.sample(n_test, seed=seed + 1)
        row: dict[str, Any] = {"task": task.name, "truth": task.mutual_information}
        for estimator, column in zip(estimators, columns):
            name = DEFAULT_ESTIMATOR if estimator == DEFAULT_LABEL else estimator
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result, seconds = timed(
                    lambda: estimate_mi(x, y, name, seed=seed, device=device, **held_out, **estimate_kwargs)
                )
            row[column], row[f"{column}_seconds"] = float(result), seconds
            row[f"{column}_stderr"] = result.standard_error
            row[f"{column}_low"], row[f"{column}_high"] = result.interval
            row[f"{column}_warnings"] = list(result.warnings)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows, columns


def _within_target(estimate: float, truth: float) -> bool:
    return abs(estimate) <= 0.02 if truth == 0 else 1 / 1.5 <= estimate / truth <= 1.5


def summarise(rows: list[dict[str, Any]], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    r"""Per column: mean and max absolute error, how many tasks are within 1.5x of the
    truth (within 0.02 nats when the truth is 0), and the total and median seconds."""
    summary: dict[str, dict[str, Any]] = {}
    for key in columns:
        errors = [abs(r[key] - r["truth"]) for r in rows]
        summary[key] = {
            "mean_abs_error": statistics.fmean(errors),
            "max_abs_error": max(errors),
            "within_target": sum(_within_target(r[key], r["truth"]) for r in rows),
            "tasks": len(rows),
            "total_seconds": sum(r[key + "_seconds"] for r in rows),
            "median_seconds": statistics.median(r[key + "_seconds"] for r in rows),
        }
        intervals = [r for r in rows if key + "_low" in r]
        if intervals:
            summary[key]["truth_in_interval"] = sum(
                r[key + "_low"] <= r["truth"] <= r[key + "_high"] for r in intervals
            )
    return summary


def markdown_table(
    rows: list[dict[str, Any]], summary: dict[str, dict[str, Any]], columns: Sequence[str], command: str | None = None
) -> str:
    r"""A markdown table of every estimate (seconds in brackets) and one of the summary."""
    lines = [f"Command: `{command}`", ""] if command else []
    lines += [
        "| task | truth | " + " | ".join(f"{k} (s)" for k in columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for r in rows:
        cells = [f"{r[k]:.3f} ({r[k + '_seconds']:.1f})" for k in columns]
        lines.append(f"| {r['task']} | {r['truth']:.3f} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| estimator | mean abs. error | max abs. error | within 1.5x (0 +- 0.02) | total s | median s |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for k in columns:
        s = summary[k]
        lines.append(
            f"| {k} | {s['mean_abs_error']:.3f} | {s['max_abs_error']:.3f} | {s['within_target']}/{s['tasks']} "
            f"| {s['total_seconds']:.1f} | {s['median_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def text_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    r"""A plain-text table, one line per task and estimator: truth, estimate, interval,
    error and seconds."""
    header = (
        f"{'task':22s} {'estimator':18s} {'truth':>7s} {'estimate':>9s} {'interval':>19s} {'error':>8s} {'seconds':>8s}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        for k in columns:
            interval = f"[{r[k + '_low']:.3f}, {r[k + '_high']:.3f}]" if k + "_low" in r else ""
            lines.append(
                f"{r['task']:22s} {k.split(':', 1)[-1]:18s} {r['truth']:7.3f} {r[k]:9.3f} {interval:>19s} "
                f"{r[k] - r['truth']:+8.3f} {r[k + '_seconds']:8.1f}"
            )
    return "\n".join(lines) + "\n"


def _pyplot():
    """matplotlib's pyplot on the file-only backend, or ``None`` (with a note) when missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[plot skipped] matplotlib is not installed (pip install mist_reg[bench])", file=sys.stderr)
        return None
    return plt


def plot_per_task(
    rows: list[dict[str, Any]], columns: Sequence[str], path: str | Path, title: str = "estimate and truth per task"
) -> bool:
    r"""Writes a plot with one slot per task: the truth as a black bar and every
    estimator's estimate beside it, with its interval as an error bar when known.

    Returns:
        ``False`` (with a note on stderr) when matplotlib is not installed, else ``True``.
    """
    plt = _pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(rows) + 2), 4.5))
    positions = list(range(len(rows)))
    ax.hlines(
        [r["truth"] for r in rows],
        [p - 0.4 for p in positions],
        [p + 0.4 for p in positions],
        color="black",
        lw=2,
        label="truth",
    )
    markers = "os^vDP*X"
    width = 0.6 / max(len(columns), 1)
    for i, key in enumerate(columns):
        xs = [p - 0.3 + width * (i + 0.5) for p in positions]
        estimates = [r[key] for r in rows]
        if all(key + "_low" in r for r in rows):
            errors = [
                [max(r[key] - r[key + "_low"], 0.0) for r in rows],
                [max(r[key + "_high"] - r[key], 0.0) for r in rows],
            ]
            ax.errorbar(
                xs, estimates, yerr=errors, fmt=markers[i % len(markers)], capsize=3, label=key.split(":", 1)[-1]
            )
        else:
            ax.scatter(xs, estimates, marker=markers[i % len(markers)], label=key.split(":", 1)[-1])
    ax.set_xticks(positions)
    ax.set_xticklabels([r["task"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("MI (nats)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def plot_estimates(
    rows: list[dict[str, Any]], columns: Sequence[str], path: str | Path, title: str = "estimate against truth"
) -> bool:
    r"""Writes a plot of estimate against truth (one point per task and estimator, with its
    interval as an error bar when known; the diagonal and the 1.5x band for reference).

    Returns:
        ``False`` (with a note on stderr) when matplotlib is not installed, else ``True``.
    """
    plt = _pyplot()
    if plt is None:
        return False
    fig, ax = plt.subplots(figsize=(6, 5))
    top = max(max(max(r["truth"], r[k]) for r in rows for k in columns), 0.5) * 1.1
    ax.plot([0, top], [0, top], color="grey", lw=1, label="truth")
    ax.fill_between([0, top], [0, top / 1.5], [0, top * 1.5], color="grey", alpha=0.15, label="within 1.5x")
    markers = "os^vDP*X"
    for i, key in enumerate(columns):
        truths, estimates = [r["truth"] for r in rows], [r[key] for r in rows]
        if all(key + "_low" in r for r in rows):
            errors = [[r[key] - r[key + "_low"] for r in rows], [r[key + "_high"] - r[key] for r in rows]]
            ax.errorbar(truths, estimates, yerr=errors, fmt=markers[i % len(markers)], capsize=3, label=key)
        else:
            ax.scatter(truths, estimates, marker=markers[i % len(markers)], label=key)
    ax.set_xlabel("true MI (nats)")
    ax.set_ylabel("estimate (nats)")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
