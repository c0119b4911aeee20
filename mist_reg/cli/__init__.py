r"""The ``mist-reg`` command line (:mod:`~mist_reg.cli.app`) and the data files it reads
(:mod:`~mist_reg.cli.io`)."""

from mist_reg.cli.app import main

__all__ = ["main"]
