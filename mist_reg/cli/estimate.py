r"""``mist-reg estimate``: I(X;Y) of a data file, with an error bar (see ``docs/cli.md``).

Example:
    >>> import argparse
    >>> commands = argparse.ArgumentParser().add_subparsers()
    >>> add_estimate_parser(commands)
"""

from __future__ import annotations

import argparse
from typing import TextIO

from mist_reg.cli.common import (
    ESTIMATOR_HELP,
    check_device,
    check_estimator,
    check_folds,
    column_types,
    dump,
    fraction,
    jsonable,
    parameter,
    positive_int,
    run_quietly,
)
from mist_reg.cli.io import load_pair
from mist_reg.cli.tables import SUPPORTED_EXTENSIONS
from mist_reg.estimation.estimate import DEFAULT_ESTIMATOR, KSG, estimate_mi
from mist_reg.estimation.fitting import DEFAULT_MAX_ITERATIONS
from mist_reg.estimation.training_defaults import ESTIMATE_BATCH_SIZE, ESTIMATE_LR
from mist_reg.tasks.benchmark import timed

__all__ = ["add_estimate_parser", "run_estimate", "BOUND_NOTES"]

BOUND_NOTES = {
    "lower": "lower: the estimate errs low; the interval does not cover that bias",
    "upper": "upper: the estimate errs high; the interval does not cover that bias",
    None: "none: the estimate has no guaranteed direction",
}


def add_estimate_parser(commands: argparse._SubParsersAction) -> None:
    r"""Adds the subcommand to ``commands`` (the subparsers of ``mist-reg``)."""
    est = commands.add_parser(
        "estimate",
        help="estimate I(X;Y) from a data file, with an error bar",
        description=(
            "Estimate I(X;Y) in nats from paired samples in a file, with a standard error and a "
            f"confidence interval. Supported files: {', '.join(SUPPORTED_EXTENSIONS)}."
        ),
    )
    est.add_argument("data", metavar="DATA", help="the data file (.npz, .pt, .csv, .tsv, or .npy with --y-file)")
    est.add_argument(
        "--x", metavar="SEL", help="x: an array name (.npz/.pt; default 'x') or columns of a table ('0:3,5', 'a,b')"
    )
    est.add_argument(
        "--y", metavar="SEL", help="y: an array name (default 'y') or columns (default: the columns not in --x)"
    )
    est.add_argument("--y-file", metavar="FILE", help="read y from this file (DATA then holds x)")
    est.add_argument(
        "--header",
        choices=["auto", "yes", "no"],
        default="auto",
        help="whether the first row of a .csv/.tsv names the columns (default: auto-detect)",
    )
    for side in ("x", "y"):
        est.add_argument(
            f"--discrete-{side}",
            type=column_types,
            default=None,
            metavar="TYPES",
            help=f"which columns of {side} are discrete: auto (default: integer and boolean arrays, and columns "
            "with at most 20 distinct values), yes, no, or positions within the selection such as 0,2",
        )
    est.add_argument(
        "--estimator",
        default=DEFAULT_ESTIMATOR,
        help=ESTIMATOR_HELP,
    )
    est.add_argument(
        "--param",
        action="append",
        type=parameter,
        default=[],
        metavar="NAME=VALUE",
        help="an estimator argument, e.g. --param hidden_dims=[64,64] (repeatable)",
    )
    est.add_argument(
        "--n-folds",
        type=int,
        metavar="K",
        help="cross-fit over K folds (every sample held out once) instead of one split",
    )
    est.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.3,
        metavar="F",
        help="held-out fraction without --n-folds (default 0.3)",
    )
    est.add_argument("--confidence", type=fraction, default=0.95, help="level of the interval (default 0.95)")
    est.add_argument(
        "--preprocessing",
        choices=["gaussianize", "standardize", "none"],
        default="gaussianize",
        help="per-coordinate map fitted on the training part (default gaussianize)",
    )
    est.add_argument(
        "--max-iterations",
        type=positive_int,
        metavar="N",
        help=f"training steps at most (default {DEFAULT_MAX_ITERATIONS}, with early stopping)",
    )
    est.add_argument(
        "--batch-size",
        type=positive_int,
        default=ESTIMATE_BATCH_SIZE,
        metavar="B",
        help=f"training batch size (default {ESTIMATE_BATCH_SIZE})",
    )
    est.add_argument("--lr", type=float, default=ESTIMATE_LR, help=f"learning rate (default {ESTIMATE_LR})")
    est.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    est.add_argument("--seed", type=int, default=0, help="seed of splits, initialisation and batches (default 0)")
    est.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    est.add_argument("--verbose", action="store_true", help="show a training progress bar")
    est.set_defaults(run=run_estimate)


def run_estimate(args: argparse.Namespace, out: TextIO) -> int:
    r"""``mist-reg estimate``: the estimate of a data file, as text or JSON; returns the exit code."""
    check_estimator(args.estimator)
    check_device(args.device)
    check_folds(args.n_folds)
    header = {"auto": None, "yes": True, "no": False}[args.header]
    data = load_pair(args.data, x=args.x, y=args.y, y_file=args.y_file, header=header)
    params = dict(args.param)
    kwargs = dict(
        n_folds=args.n_folds,
        test_percentage=args.test_fraction,
        confidence=args.confidence,
        preprocessing=args.preprocessing,
        max_iterations=args.max_iterations,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        seed=args.seed,
        verbose=args.verbose,
        discrete_x=args.discrete_x,
        discrete_y=args.discrete_y,
    )
    n = data.x.shape[0]
    (result, caught), seconds = timed(
        lambda: run_quietly(lambda: estimate_mi(data.x, data.y, args.estimator, **kwargs, **params))
    )
    messages = list(result.warnings) + [m for m in dict.fromkeys(caught) if m not in result.warnings]
    record = {
        **result.to_dict(),
        "warnings": messages,
        "estimator": result.estimator_name,
        "estimator_params": {k: jsonable(v) for k, v in params.items()},
        "data": {
            "path": str(args.data),
            "y_file": args.y_file,
            "n_samples": n,
            "x_dim": data.x.shape[1],
            "y_dim": data.y.shape[1],
            "x": data.x_source,
            "y": data.y_source,
        },
        "seconds": seconds,
    }
    if args.json:
        dump(record, out)
        return 0
    low, high = result.interval
    every_sample = result.estimator_name == KSG or (
        bool(result.parts) and all(part.estimator_name == KSG for _, _, part in result.parts)
    )
    if result.estimator_name == KSG:
        scheme = "every sample, standard error by subsampling"
    elif result.parts:
        scheme = f"{len(result.parts)} independent groups of columns, each estimated alone, added"
    elif result.n_folds:
        folds = ", ".join(f"{v:.4f}" for v in result.fold_estimates)
        scheme = f"{result.n_folds}-fold cross-fitting (fold estimates {folds})"
    else:
        scheme = f"one split, {args.test_fraction:.0%} held out"
    lines = [
        f"I(X;Y)          {float(result):.4f} nats",
        f"standard error  {result.standard_error:.4f} nats",
        f"{f'{result.confidence * 100:g}% interval':16s}[{low:.4f}, {high:.4f}] nats",
        f"bound           {BOUND_NOTES.get(result.bound, str(result.bound))}",
        f"estimator       {record['estimator']}, {scheme}",
        f"data            {n} samples; x: {data.x.shape[1]} dim ({data.x_source}); y: {data.y.shape[1]} dim ({data.y_source})",
        f"{'samples used' if every_sample else 'held out':16s}{result.n_test} samples",
        f"time            {seconds:.1f} s",
    ]
    lines += [
        f"group           x{list(xs)} ~ y{list(ys)}: {float(part):.4f} +- {part.standard_error:.4f} nats "
        f"({part.estimator_name})"
        for xs, ys, part in result.parts
    ]
    lines += [f"warning: {m}" for m in messages]
    out.write("\n".join(lines) + "\n")
    return 0
