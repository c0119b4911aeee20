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

A run folder is one whose ``config.json`` is ours: a JSON object whose ``recipe`` names the
recipe. A folder is opened only if it is new, empty, or a run of the same recipe; anything
else (a file, the working directory, a folder of other files, another recipe's run) is
refused before anything is written. ``--no-resume`` deletes only what a run writes (the
files above, and the runs in sub-folders of a sweep); other files in the folder stay.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

from .checkpoint import remove_stale_temporaries
from .config import BaseConfig, config_to_dict
from .device import manual_seed_all
from .distributed import DistributedContext, barrier, setup
from .validation import run_folder

__all__ = ["Run", "RUNTIME_KEYS", "start", "command_line", "recipe_name", "check_run_folder", "remove_run"]

RUNTIME_KEYS: frozenset[str] = frozenset(
    {"device", "compile", "resume", "progress", "checkpoint_every", "out", "amp", "threads", "download", "data_dir"}
)
r"""Settings that may change between a run and its resumption."""


_RUN_FILES: tuple[str, ...] = ("metrics.jsonl", "metrics.jsonl.tmp", "summary.json.tmp", "summary.md", "summary.json")
_RUN_FOLDERS: dict[str, str] = {"checkpoints": "last.pt*", "plots": "*.png"}  # sub-folder: the files a run writes


def _recipe_of(folder: Path) -> str | None:
    r"""The recipe of the run in ``folder`` (``None``: no ``config.json`` of a run there)."""
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    recipe = config.get("recipe") if isinstance(config, dict) else None
    return recipe if isinstance(recipe, str) else None


def check_run_folder(path: str | Path, recipe: str) -> None:
    r"""Raises a ``ValueError`` unless ``path`` may hold a run of ``recipe``: a new or empty
    folder, or a run of that recipe (see the module documentation). Reads, never writes.

    Arguments:
        path: The run folder (``--out``).
        recipe: The recipe's name, as :func:`recipe_name` gives it.

    Raises:
        ValueError: A one-line message naming the folder and what to do.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> check_run_folder(folder / "new", "contrastive")
        >>> _ = (folder / "notes.txt").write_text("mine")
        >>> check_run_folder(folder, "contrastive")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: ... holds other files and no run (no config.json of a recipe); choose another --out ...
    """
    path = Path(path)
    run_folder(path)
    if not path.is_dir():
        return
    if (path / "config.json").exists():
        found = _recipe_of(path)
        if found is None:
            raise ValueError(f"{path} holds a config.json that is not a recipe's run; choose another --out")
        if found != recipe:
            raise ValueError(f"{path} holds a run of the {found} recipe, not of {recipe}; choose another --out")
    elif any(path.iterdir()):
        raise ValueError(
            f"{path} holds other files and no run (no config.json of a recipe); choose another --out "
            "(a new or empty folder)"
        )


def remove_run(folder: str | Path, recipe: str) -> bool:
    r"""Deletes what runs of ``recipe`` wrote in ``folder`` and in its sub-folders (the
    files of the module documentation), and the folders that this leaves empty; every
    other file stays.

    Arguments:
        folder: A folder that holds runs (checked by :func:`check_run_folder`).
        recipe: Only runs of this recipe are deleted.

    Returns:
        Whether a run was found (and deleted).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "config.json").write_text('{"recipe": "contrastive"}')
        >>> _ = (folder / "notes.txt").write_text("mine")
        >>> remove_run(folder, "contrastive"), sorted(p.name for p in folder.iterdir())
        (True, ['notes.txt'])
    """
    folder = Path(folder)
    found = False
    for child in sorted(folder.iterdir()) if folder.is_dir() else ():
        if child.is_dir() and not child.is_symlink() and child.name not in _RUN_FOLDERS:
            found = remove_run(child, recipe) or found
    if _recipe_of(folder) != recipe:
        if found:
            _remove_if_empty(folder)
        return found
    for name, pattern in _RUN_FOLDERS.items():
        sub = folder / name
        if sub.is_dir() and not sub.is_symlink():
            for path in sub.glob(pattern):
                if path.is_file():
                    path.unlink()
            _remove_if_empty(sub)
    for name in _RUN_FILES:
        (folder / name).unlink(missing_ok=True)
    (folder / "config.json").unlink()  # last: a folder cut short here is still known as a run
    _remove_if_empty(folder)
    return True


def _remove_if_empty(folder: Path) -> None:
    if not any(folder.iterdir()):
        folder.rmdir()


class Run:
    r"""A run folder, written by the main process only (other ranks read checkpoints).

    Arguments:
        out: The folder.
        config: The resolved configuration (JSON-ready values); its ``recipe`` names the
            recipe (see :func:`recipe_name`).
        is_main: Whether this process writes files (rank 0).
        resume: Continue from what the folder holds (``False`` deletes what runs of the
            recipe wrote there first, see :func:`remove_run`).

    Raises:
        ValueError: Before anything is written, when ``out`` cannot hold this run (see
            :func:`check_run_folder`) or holds a run of another configuration.
    """

    def __init__(self, out: str | Path, config: dict[str, Any], is_main: bool = True, resume: bool = True) -> None:
        self.dir = Path(out)
        self.config, self.is_main = dict(config), is_main
        if not isinstance(self.config.get("recipe"), str):
            raise ValueError("a run's config needs a 'recipe' entry naming the recipe")
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
        recipe = self.config["recipe"]
        check_run_folder(self.dir, recipe)
        if not resume and self.dir.exists():
            remove_run(self.dir, recipe)
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


def recipe_name(config: BaseConfig) -> str:
    r"""The name of the recipe of ``config``: its class name without ``Config``, in lower case.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class ContrastiveConfig(BaseConfig):
        ...     pass
        >>> recipe_name(ContrastiveConfig())
        'contrastive'
    """
    return type(config).__name__.removesuffix("Config").lower()


def start(config: BaseConfig) -> tuple[DistributedContext, Run]:
    r"""Checks the run folder ``config.out``, sets the thread count, joins the process group
    (under ``torchrun``), seeds every generator with ``config.seed`` and opens the folder."""
    check_run_folder(config.out, recipe_name(config))
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    context = setup(config.device)
    manual_seed_all(config.seed)
    values = {"recipe": recipe_name(config), **config_to_dict(config)}
    return context, Run(config.out, values, context.is_main, config.resume)


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
