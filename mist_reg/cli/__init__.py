r"""The ``mist-reg`` command line: the parser and its entry point (:mod:`~mist_reg.cli.app`),
one module per subcommand (:mod:`~mist_reg.cli.estimate`, :mod:`~mist_reg.cli.demo`,
:mod:`~mist_reg.cli.listing`, :mod:`~mist_reg.cli.bench`), and the data files it reads
(:mod:`~mist_reg.cli.io`, :mod:`~mist_reg.cli.tables`).

This module imports nothing heavy: :func:`main`, the console entry point, imports the
commands (and torch) while Ctrl-C ends the process at once with one line and exit status
130 (:func:`exit_on_interrupt`), so an interrupt at any moment is one line and 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

__all__ = ["main", "exit_on_interrupt", "launched_as_command"]

INTERRUPTED = "mist-reg: interrupted"


def launched_as_command() -> bool:
    r"""Whether this process is the ``mist-reg`` command: the console script, or ``python -m
    mist_reg`` (or one of its modules), rather than a program that calls :func:`main`.

    Example:
        >>> launched_as_command()  # a test run
        False
    """
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and (spec.name or "").split(".")[0] == "mist_reg":
        return True
    return bool(sys.argv) and os.path.splitext(os.path.basename(sys.argv[0]))[0] == "mist-reg"


def _end_process(signum: int, frame: object) -> None:
    os.write(2, (INTERRUPTED + "\n").encode())
    os._exit(130)


@contextlib.contextmanager
def exit_on_interrupt(active: bool = True) -> Iterator[None]:
    r"""While the block runs, Ctrl-C (SIGINT) writes one line and ends the process with exit
    status 130 at once, instead of raising ``KeyboardInterrupt``; the previous handler is
    restored afterwards. Nothing is set from another thread than the main one, or when
    ``active`` is false.

    Why: while torch and numpy load, a ``KeyboardInterrupt`` lands in import code that is not
    written for it: torch's C extension, importing numpy, can swallow it (the command then
    runs to the end and exits 0) or abort the process. No file has been written while the
    libraries load, so ending the process loses nothing.

    Arguments:
        active: Whether to take over SIGINT.

    Example:
        >>> with exit_on_interrupt():
        ...     import json
    """
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _end_process)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: Sequence[str] | None = None) -> int:
    r"""Runs ``mist-reg`` (see :func:`mist_reg.cli.app.main`) and returns the exit code; Ctrl-C
    prints one line and gives 130, also while the libraries load (the command then ends the
    process at once: :func:`exit_on_interrupt`).

    Arguments:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on bad input, 130 when interrupted.

    Example:
        >>> main(["tasks", "--json"]) == 0  # doctest: +ELLIPSIS
        [...
        True
    """
    try:
        with exit_on_interrupt(launched_as_command()):
            from mist_reg.cli.app import main as run

        return run(argv)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
