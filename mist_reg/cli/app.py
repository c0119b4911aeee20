r"""The ``mist-reg`` command line: estimate mutual information from a data file, list the
ground-truth tasks and the estimators, and benchmark estimators against the truth.

Usage::

    mist-reg                                            # the same as 'mist-reg demo'
    mist-reg demo --task spiral-5x5 --estimator nwj     # one ground-truth task, estimate beside the truth
    mist-reg estimate data.npz                          # arrays 'x' and 'y'
    mist-reg estimate table.csv --x 0:3 --y 3:5 --n-folds 5
    mist-reg estimate x.npy --y-file y.npy --estimator nwj --json
    mist-reg tasks
    mist-reg estimators
    mist-reg bench --tasks gaussian-5x5 spiral-5x5 --estimators default smile --out runs/bench

``python -m mist_reg`` and ``python -m mist_reg.cli.app`` do the same as ``mist-reg``. Bad
input ends with exit code 2 and a one-line message on stderr. See ``docs/cli.md``.

Example:
    >>> import contextlib, io
    >>> printed = io.StringIO()
    >>> with contextlib.redirect_stdout(printed):
    ...     code = main(["tasks"])
    >>> code, printed.getvalue().splitlines()[1].split()[:5]
    (0, ['gaussian-5x5', '5', '5', '1.0000', 'yes'])
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from collections.abc import Sequence

from mist_reg.cli.bench import add_bench_parser
from mist_reg.cli.common import PROG, CommandError
from mist_reg.cli.demo import add_demo_parser
from mist_reg.cli.estimate import add_estimate_parser
from mist_reg.cli.listing import add_listing_parsers

__all__ = ["main", "build_parser", "CommandError"]

DEFAULT_COMMAND = "demo"


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting, so that :func:`main` can return the exit code."""

    def error(self, message: str) -> typing.NoReturn:
        raise CommandError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    r"""The argument parser of ``mist-reg`` and its subcommands (each added by its module)."""
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("\n", " "))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    add_estimate_parser(commands)
    add_demo_parser(commands)
    add_listing_parsers(commands)
    add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    r"""Runs ``mist-reg`` with ``argv`` (default ``sys.argv[1:]``) and returns the exit code:
    0 on success, 2 on bad input (with a one-line message on stderr), 130 when
    interrupted with Ctrl-C. Without arguments it runs ``mist-reg demo``."""
    parser = build_parser()
    try:
        argv = list(argv) if argv is not None else sys.argv[1:]
        if not argv:
            print(
                f"{PROG}: no command given: running '{PROG} {DEFAULT_COMMAND}' (see '{PROG} --help')", file=sys.stderr
            )
        args = parser.parse_args(argv or [DEFAULT_COMMAND])
        args.argv = argv  # recorded in the outputs of `bench`
        return args.run(args, sys.stdout)
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0
    except KeyboardInterrupt:  # Ctrl-C: the conventional exit status, without a traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, e.g. `mist-reg estimators | head`
        sys.stdout = open(os.devnull, "w")  # no second error when Python flushes stdout at exit
        return 0
    except (CommandError, ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        if not isinstance(error, CommandError) or not message.startswith(PROG):
            message = f"{PROG}: error: {message}"
        print(message, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
