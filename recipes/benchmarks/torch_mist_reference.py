"""Run torch_mist's ``estimate_mi`` at its defaults on one data set.

This script runs inside the isolated ``.venv-torch-mist`` environment created
by ``setup_torch_mist_env.sh`` (torch_mist 0.2.17 needs ``numpy<2``, which the
mist_reg environment does not provide).  It is normally driven by
:func:`reference.run_torch_mist`, but it can be used by hand::

    .venv-torch-mist/bin/python recipes/benchmarks/torch_mist_reference.py \\
        --data pairs.npz --estimator smile --seed 0

The ``.npz`` file must hold ``x_train``, ``y_train``, ``x_test`` and ``y_test``
(float32, shape ``[N, d]`` or ``[N]``).  The estimator is trained on the train
split and evaluated on the held-out test split with every other setting left
at torch_mist's defaults; nothing is tuned.

Everything torch_mist prints (progress bars, ``[Info]`` lines, the model
summary) is sent to stderr, so stdout carries exactly one JSON line::

    {"estimator": "smile", "estimate": 0.98, "seconds": 41.2,
     "torch_mist_version": "0.2.17"}

``seconds`` is the wall time of the whole ``estimate_mi`` call (fit and
evaluation), measured with :func:`time.perf_counter`, after an untimed warm-up call on
the first 256 rows (5 iterations): the first optimiser a process builds imports
``torch._dynamo``, a one-off cost that mist_reg's side of a benchmark pays
once per run, so without the warm-up each torch_mist task would pay it and the other
side only the first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

DEFAULT_ESTIMATOR = "smile"
REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Estimate mutual information with torch_mist.estimate_mi at its default settings and print one JSON line."
        )
    )
    parser.add_argument(
        "--data",
        required=True,
        help="path to an .npz with x_train, y_train, x_test, y_test",
    )
    parser.add_argument(
        "--estimator",
        default=DEFAULT_ESTIMATOR,
        help=f"torch_mist estimator factory name (default: {DEFAULT_ESTIMATOR})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for torch, numpy and random")
    return parser.parse_args(argv)


def _load(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        missing = [key for key in REQUIRED_KEYS if key not in archive.files]
        if missing:
            raise ValueError(f"{path} is missing array(s) {missing}; expected {list(REQUIRED_KEYS)}")
        arrays = {key: np.ascontiguousarray(archive[key], dtype=np.float32) for key in REQUIRED_KEYS}
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny:
            raise ValueError(f"x_{split} has {nx} rows but y_{split} has {ny}; they must match")
    return arrays


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


WARM_UP_ROWS = 256


def _warm_up(estimate_mi: Any, arrays: dict[str, np.ndarray], estimator: str) -> None:
    """One short untimed call, so that the timed one pays no one-off process costs."""
    rows = slice(0, WARM_UP_ROWS)
    estimate_mi(
        (arrays["x_train"][rows], arrays["y_train"][rows]),
        estimator=estimator,
        test_data=(arrays["x_test"][rows], arrays["y_test"][rows]),
        max_iterations=5,
    )


def _to_float(value: Any) -> float:
    if isinstance(value, dict):
        if len(value) != 1:
            raise RuntimeError(f"expected one MI value, got {value}")
        value = next(iter(value.values()))
    if torch.is_tensor(value):
        value = value.item()
    return float(value)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    arrays = _load(args.data)

    # Everything below may print to stdout; keep stdout for the JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        import torch_mist
        from torch_mist import estimate_mi

        _warm_up(estimate_mi, arrays, args.estimator)
        _seed_everything(args.seed)
        start = time.perf_counter()
        result = estimate_mi(
            (arrays["x_train"], arrays["y_train"]),
            estimator=args.estimator,
            test_data=(arrays["x_test"], arrays["y_test"]),
        )
        seconds = time.perf_counter() - start

    # With the default logger estimate_mi returns (mi, train_log).
    mi_value = result[0] if isinstance(result, tuple) else result
    estimate = _to_float(mi_value)

    record = {
        "estimator": args.estimator,
        # A diverged run gives NaN/inf; json writes those as NaN/Infinity,
        # which json.loads on the calling side reads back as floats.
        "estimate": estimate,
        "seconds": seconds,
        "torch_mist_version": torch_mist.__version__,
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
