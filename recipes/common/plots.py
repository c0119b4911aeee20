r"""PNG plots of a run: training curves from the metrics log, and trade-off curves."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_training", "plot_tradeoff", "plot_method_curves"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(
    records: Sequence[dict[str, Any]], keys: Sequence[str], path: str | Path, title: str = ""
) -> Path | None:
    r"""One panel per metric in ``keys`` against the step (``None`` if nothing to plot)."""
    keys = [k for k in keys if any(k in r for r in records)]
    if not records or not keys:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = [(r["step"], r[key]) for r in records if key in r]
        ax.plot([p[0] for p in points], [p[1] for p in points], lw=1.5)
        ax.set_xlabel("step")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    return _save(plt, fig, path, title)


def _save(plt: Any, fig: Any, path: str | Path, title: str) -> Path:
    """Titles (wrapped to the figure's width), lays out, writes (nothing cut at the edges) and
    closes a figure."""
    if title:
        fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * 12)))
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def plot_tradeoff(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    path: str | Path,
    xlabel: str,
    labels: Sequence[str] | None = None,
    reference: dict[str, float | tuple[float, str]] | None = None,
    title: str = "",
    xscale: str = "linear",
    errors: dict[str, Sequence[float]] | None = None,
    columns: int = 3,
) -> Path:
    r"""Curves of several quantities against ``x`` (one panel each, at most ``columns``
    panels a row, points annotated with ``labels``).

    Arguments:
        reference: A dashed horizontal line per panel (e.g. chance), with a legend entry:
            a value, or ``(value, label)`` (the label defaults to ``"reference"``).
        errors: Standard errors per panel, drawn as error bars of one standard error.
        xscale: ``"symlog"`` suits penalty weights that include 0; every weight then gets
            a tick of its own (0, 0.3, 1, 3, ...).

    A panel whose values hardly change keeps a y-range of at least 5% of their size, so
    that a difference of 0.004 in an accuracy of 0.97 is not drawn as a V across the
    whole panel.
    """
    plt = _pyplot()
    n = len(series)
    n_columns = max(1, min(columns, n))
    n_rows = math.ceil(n / n_columns)
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(4.2 * n_columns, 3.4 * n_rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax, (name, values) in zip(flat, series.items()):
        yerr = errors.get(name) if errors else None
        if yerr is not None:
            ax.errorbar(x, values, yerr=yerr, fmt="o-", lw=1.5, capsize=3, label="± 1 standard error")
        else:
            ax.plot(x, values, "o-", lw=1.5)
        if labels is not None:
            for xi, yi, label in zip(x, values, labels):
                ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=7)
        if reference and name in reference:
            value, label = reference[name] if isinstance(reference[name], tuple) else (reference[name], "reference")
            xlim = ax.get_xlim()
            ax.axhline(value, ls="--", color="grey", lw=1, label=label)
            ax.set_xlim(xlim)  # the line spans the panel without widening its x-range
        if xscale == "symlog":
            positive = [v for v in x if v > 0]
            ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
            ticks = sorted(set(x))
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_locator(plt.NullLocator())
            span = max(ticks) - min(ticks)
            if span > 0:  # margins in the symlog coordinates, as matplotlib pads linear axes
                ax.set_xlim(
                    min(ticks) - 0.05 * (positive and min(positive) or 1), max(ticks) * 1.25 if max(ticks) > 0 else 1
                )
        _keep_a_sensible_range(ax, values, yerr, reference.get(name) if reference else None)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    return _save(plt, fig, path, title)


def _keep_a_sensible_range(ax: Any, values: Sequence[float], errors: Sequence[float] | None, reference: Any) -> None:
    """Widens the y-range of a panel whose values (with error bars and reference) span
    less than 5% of their magnitude, around their middle."""
    points = [float(v) for v in values if v is not None and math.isfinite(v)]
    if errors is not None:
        points += [
            float(v) + s * float(e)
            for v, e in zip(values, errors)
            for s in (-1, 1)
            if math.isfinite(v) and math.isfinite(e)
        ]
    if reference is not None:
        points.append(float(reference[0] if isinstance(reference, tuple) else reference))
    if not points:
        return
    low, high = min(points), max(points)
    minimum = 0.05 * max(abs(low), abs(high)) or 0.05
    if high - low < minimum:
        middle = (low + high) / 2
        ax.set_ylim(middle - minimum / 2 - 0.1 * minimum, middle + minimum / 2 + 0.1 * minimum)


def plot_method_curves(
    curves: dict[str, dict[str, Sequence[float]]],
    panels: Sequence[tuple[str, str]],
    path: str | Path,
    y: str = "task_accuracy",
    ylabel: str = "task accuracy",
    reference: dict[str, float] | None = None,
    title: str = "",
) -> Path:
    r"""Trade-off curves of several methods with error bars: one panel per ``(key, label)``
    of ``panels``, ``y`` against ``key``, one curve per method.

    ``curves[method]`` holds, per quantity ``q``, the means ``q`` and standard errors
    ``q_se`` of each point (one point per weight), and the point labels ``labels``;
    ``reference`` draws a dashed vertical line per panel key (e.g. the chance level)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        for method, values in curves.items():
            ax.errorbar(
                values[key],
                values[y],
                xerr=values.get(f"{key}_se"),
                yerr=values.get(f"{y}_se"),
                fmt="o-",
                lw=1.3,
                ms=4,
                capsize=2,
                label=method,
            )
            for xi, yi, text in zip(values[key], values[y], values.get("labels", ())):
                ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6)
        if reference and key in reference:
            ax.axvline(reference[key], ls="--", color="grey", lw=1)
        ax.set_xlabel(label)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(plt, fig, path, title)
