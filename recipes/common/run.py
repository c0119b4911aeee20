r"""The folder of a run: resolved config, metrics log, checkpoints, plots and summary.

Layout of ``--out DIR``::

    DIR/config.json          the resolved configuration
    DIR/metrics.jsonl        one JSON record per logged step ({"step": ..., "loss": ...})
    DIR/checkpoints/last.pt  the latest checkpoint (see :mod:`common.checkpoint`)
    DIR/plots/*.png          training curves and recipe plots
    DIR/summary.json         final figures; DIR/summary.md the same, short, for people

Running the same command again resumes from ``last.pt``; a run whose ``summary.json``
exists is complete. A different configuration in an existing folder is refused (only
settings that do not change what is computed, such as ``device`` or ``checkpoint_every``,
may differ), so results of two configurations never mix; pass ``--no-resume`` to start
the folder afresh.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from .checkpoint import remove_stale_temporaries
from .config import BaseConfig, config_to_dict
from .device import manual_seed_all
from .distributed import DistributedContext, barrier, setup

__all__ = ["Run", "RUNTIME_KEYS", "start", "command_line"]

RUNTIME_KEYS: frozenset[str] = frozenset(
    {"device", "compile", "resume", "progress", "checkpoint_every", "out", "amp", "threads", "download", "data_dir"}
)
r"""Settings that may change between a run and its resumption."""


class Run:
    r"""A run folder, written by the main process only (other ranks read checkpoints).

    Arguments:
        out: The folder.
        config: The resolved configuration (JSON-ready values).
        is_main: Whether this process writes files (rank 0).
        resume: Continue from what the folder holds (``False`` deletes it first).
    """

    def __init__(self, out: str | Path, config: dict[str, Any], is_main: bool = True, resume: bool = True) -> None:
        self.dir = Path(out)
        self.config, self.is_main = dict(config), is_main
        self.train_seconds: float | None = None  # set by common.loop.train: every part of a resumed run
        if is_main:
            self._prepare(resume)
        barrier()

    # -- paths ---------------------------------------------------------------------------

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.jsonl"

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoints" / "last.pt"

    @property
    def plots_dir(self) -> Path:
        return self.dir / "plots"

    @property
    def summary_path(self) -> Path:
        return self.dir / "summary.json"

    @property
    def complete(self) -> bool:
        r"""Whether a previous run in this folder finished (its summary exists)."""
        return self.summary_path.is_file()

    # -- setup ---------------------------------------------------------------------------

    def _prepare(self, resume: bool) -> None:
        config_path = self.dir / "config.json"
        if not resume and self.dir.exists():
            shutil.rmtree(self.dir)
        if config_path.is_file():
            previous = json.loads(config_path.read_text())
            changed = sorted(
                k
                for k in set(previous) | set(self.config)
                if k not in RUNTIME_KEYS and previous.get(k) != self.config.get(k)
            )
            if changed:
                details = ", ".join(f"{k}: {previous.get(k)!r} -> {self.config.get(k)!r}" for k in changed)
                raise ValueError(
                    f"{self.dir} holds a run with another configuration ({details}); "
                    "choose another --out or pass --no-resume to start it afresh"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.dir / "checkpoints")
        config_path.write_text(json.dumps(self.config, indent=2) + "\n")

    # -- metrics -------------------------------------------------------------------------

    def log(self, record: dict[str, Any]) -> None:
        r"""Appends one record to the metrics log (main process only)."""
        if self.is_main:
            with open(self.metrics_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        r"""Every complete record of the metrics log (a line cut by a kill is skipped)."""
        if not self.metrics_path.is_file():
            return []
        records = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def truncate_metrics(self, step: int) -> None:
        r"""Keeps the records of steps up to ``step``: what a checkpoint at ``step`` saw."""
        if not self.is_main or not self.metrics_path.is_file():
            return
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= step]
        tmp = self.metrics_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        tmp.replace(self.metrics_path)

    # -- results -------------------------------------------------------------------------

    def plot_path(self, name: str) -> Path:
        self.plots_dir.mkdir(parents=True, exist_ok=True)
        return self.plots_dir / name

    def read_summary(self) -> dict[str, Any] | None:
        return json.loads(self.summary_path.read_text()) if self.complete else None

    def write_summary(self, summary: dict[str, Any], title: str, lines: Iterable[str] = ()) -> None:
        r"""Writes ``summary.json`` and ``summary.md`` (a title, ``lines``, then the figures)."""
        if not self.is_main:
            return
        tmp = self.summary_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        markdown = [f"# {title}", "", *lines, "", "| quantity | value |", "|---|---:|"]
        for key, value in _flatten(summary):
            markdown.append(f"| {key} | {_format(value)} |")
        (self.dir / "summary.md").write_text("\n".join(markdown) + "\n")
        tmp.replace(self.summary_path)


def _flatten(values: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            yield f"{prefix}{key}", value


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def start(config: BaseConfig) -> tuple[DistributedContext, Run]:
    r"""Sets the thread count, joins the process group (under ``torchrun``), seeds every
    generator with ``config.seed`` and opens the run folder ``config.out``."""
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    context = setup(config.device)
    manual_seed_all(config.seed)
    return context, Run(config.out, config_to_dict(config), context.is_main, config.resume)


def command_line(main: Any, argv: Sequence[str] | None = None) -> int:
    r"""Runs a recipe's ``main`` from the command line: a problem with the settings or the
    run folder (a ``ValueError``, a missing file) is one line on stderr and exit status 2,
    not a traceback; Ctrl-C exits with status 130."""
    prog = Path(sys.argv[0]).name
    try:
        main(argv)
    except (ValueError, FileNotFoundError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the same command resumes from the last checkpoint", file=sys.stderr)
        return 130
    return 0
