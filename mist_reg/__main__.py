r"""``python -m mist_reg``: the ``mist-reg`` command line (:func:`mist_reg.cli.main`), for
when the script is not on the ``PATH``. Without arguments it runs ``mist-reg demo``: an
estimate on a ground-truth task, printed beside the truth.

Usage::

    python -m mist_reg                                          # mist-reg demo
    python -m mist_reg demo --task spiral-5x5 --estimator nwj --n-samples 2000
    python -m mist_reg tasks                                    # the ground-truth tasks
    python -m mist_reg estimate data.npz                        # see docs/cli.md
"""

from __future__ import annotations

import sys

from mist_reg.cli import main

if __name__ == "__main__":
    sys.exit(main())
