r"""PNG plots of a run: training curves from the metrics log, and trade-off curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

__all__ = ["plot_training", "plot_tradeoff", "plot_method_curves"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(records: Sequence[dict[str, Any]], keys: Sequence[str], path: str | Path, title: str = "") -> Path | None:
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
    """Titles, lays out, writes and closes a figure."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_tradeoff(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    path: str | Path,
    xlabel: str,
    labels: Sequence[str] | None = None,
    reference: dict[str, float] | None = None,
    title: str = "",
    xscale: str = "linear",
) -> Path:
    r"""Curves of several quantities against ``x`` (one panel each, points annotated with
    ``labels``); ``reference`` draws a dashed horizontal line per panel (e.g. chance);
    ``xscale="symlog"`` suits penalty weights that include 0."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3.4), squeeze=False)
    for ax, (name, values) in zip(axes[0], series.items()):
        ax.plot(x, values, "o-", lw=1.5)
        if labels is not None:
            for xi, yi, label in zip(x, values, labels):
                ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=7)
        if reference and name in reference:
            ax.axhline(reference[name], ls="--", color="grey", lw=1)
        if xscale == "symlog":
            positive = [v for v in x if v > 0]
            ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    return _save(plt, fig, path, title)


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
                values[key], values[y], xerr=values.get(f"{key}_se"), yerr=values.get(f"{y}_se"),
                fmt="o-", lw=1.3, ms=4, capsize=2, label=method,
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
