r"""The ``mist-reg`` command line: the parser and its entry point (:mod:`~mist_reg.cli.app`),
one module per subcommand (:mod:`~mist_reg.cli.estimate`, :mod:`~mist_reg.cli.demo`,
:mod:`~mist_reg.cli.listing`, :mod:`~mist_reg.cli.bench`), and the data files it reads
(:mod:`~mist_reg.cli.io`, :mod:`~mist_reg.cli.tables`).

This module imports nothing heavy: :func:`main`, the console entry point, imports the
commands (and torch) inside its own answer to Ctrl-C, so an interrupt at any moment is one
line and exit status 130.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    r"""Runs ``mist-reg`` (see :func:`mist_reg.cli.app.main`) and returns the exit code; Ctrl-C,
    also while the libraries load, prints one line and returns 130.

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
        from mist_reg.cli.app import main as run

        return run(argv)
    except KeyboardInterrupt:
        print("mist-reg: interrupted", file=sys.stderr)
        return 130
