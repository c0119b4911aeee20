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
import ast
import inspect
import json
import math
import os
import sys
import typing
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import torch

from mist_reg.cli.io import SUPPORTED_EXTENSIONS, load_pair
from mist_reg.estimation.estimate import DEFAULT_ESTIMATOR, ESTIMATE_NAMES, KSG, TRAINED_DEFAULT, estimate_mi
from mist_reg.estimation.fitting import DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_MAX_ITERATIONS
from mist_reg.estimators.factories import ESTIMATION_CRITIC_DEFAULTS, make_critic
from mist_reg.estimators.registry import ESTIMATORS, REGISTRY, list_estimators, normalize_name
from mist_reg.tasks import BENCHMARK_SUITE, get_task, list_tasks
from mist_reg.tasks.benchmark import (
    DEFAULT_LABEL,
    markdown_table,
    plot_per_task,
    run_benchmark,
    summarise,
    text_table,
    timed,
)

__all__ = ["main", "build_parser", "CommandError"]

PROG = "mist-reg"
DEFAULT_COMMAND = "demo"
DEFAULT_DEMO_TASK = "half-cube-5x5"
BOUND_NOTES = {
    "lower": "lower: the estimate errs low; the interval does not cover that bias",
    "upper": "upper: the estimate errs high; the interval does not cover that bias",
    None: "none: the estimate has no guaranteed direction",
}


class CommandError(Exception):
    r"""Bad input to a command: reported on one line, exit code 2."""


# --------------------------------------------------------------------------------------
# argument parsing
# --------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text!r}")
    return value


def _parameter(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. hidden_dims=[64,64]), got {text!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()  # a bare word such as critic_type=joint
    return name.strip(), value


class _Parser(argparse.ArgumentParser):
    """Raises instead of exiting, so that :func:`main` can return the exit code."""

    def error(self, message: str) -> typing.NoReturn:
        raise CommandError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    r"""The argument parser of ``mist-reg`` and its subcommands."""
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("\n", " "))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

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
    est.add_argument(
        "--estimator",
        default=DEFAULT_ESTIMATOR,
        help=(
            f"'{DEFAULT_ESTIMATOR}' ({KSG} for one-dimensional continuous x and y given no training option, "
            f"else {TRAINED_DEFAULT}), '{KSG}', or a registered estimator (see 'mist-reg estimators')"
        ),
    )
    est.add_argument(
        "--param",
        action="append",
        type=_parameter,
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
        type=_fraction,
        default=0.3,
        metavar="F",
        help="held-out fraction without --n-folds (default 0.3)",
    )
    est.add_argument("--confidence", type=_fraction, default=0.95, help="level of the interval (default 0.95)")
    est.add_argument(
        "--preprocessing",
        choices=["gaussianize", "standardize", "none"],
        default="gaussianize",
        help="per-coordinate map fitted on the training part (default gaussianize)",
    )
    est.add_argument(
        "--max-iterations",
        type=_positive_int,
        metavar="N",
        help=f"training steps at most (default {DEFAULT_MAX_ITERATIONS}, with early stopping)",
    )
    est.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="B",
        help=f"training batch size (default {DEFAULT_BATCH_SIZE})",
    )
    est.add_argument("--lr", type=float, default=DEFAULT_LR, help=f"learning rate (default {DEFAULT_LR})")
    est.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    est.add_argument("--seed", type=int, default=0, help="seed of splits, initialisation and batches (default 0)")
    est.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    est.add_argument("--verbose", action="store_true", help="show a training progress bar")
    est.set_defaults(run=_estimate)

    demo = commands.add_parser(
        "demo",
        help="estimate MI on one ground-truth task and print it beside the truth (the default command)",
        description=(
            "Estimate I(X;Y) with estimate_mi on N samples of a ground-truth task, evaluated on N more, and print "
            "the estimate beside the exact value. Runs when no command is given."
        ),
    )
    demo.add_argument(
        "--task",
        default=DEFAULT_DEMO_TASK,
        help=f"a ground-truth task (default {DEFAULT_DEMO_TASK}; see 'mist-reg tasks')",
    )
    demo.add_argument(
        "--estimator",
        default=DEFAULT_ESTIMATOR,
        help=(
            f"'{DEFAULT_ESTIMATOR}' ({KSG} for one-dimensional continuous x and y given no training option, "
            f"else {TRAINED_DEFAULT}), '{KSG}', or a registered estimator (see 'mist-reg estimators')"
        ),
    )
    demo.add_argument(
        "--n-samples",
        type=_positive_int,
        default=5000,
        metavar="N",
        help="training samples; as many again are held out (default 5000)",
    )
    demo.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the samples, initialisation and batches (default 0)")
    demo.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    demo.add_argument("--verbose", action="store_true", help="show a training progress bar")
    demo.set_defaults(run=_demo)

    tasks = commands.add_parser(
        "tasks", help="list the ground-truth tasks", description="List the ground-truth tasks (exact MI known)."
    )
    tasks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tasks.set_defaults(run=_tasks)

    estimators = commands.add_parser(
        "estimators",
        help="list the estimators with their bound direction and arguments",
        description="List every registered estimator, its bound direction and its arguments.",
    )
    estimators.add_argument("--json", action="store_true", help="print JSON instead of text")
    estimators.set_defaults(run=_estimators)

    bench = commands.add_parser(
        "bench",
        help="benchmark estimators on ground-truth tasks",
        description=(
            "Run estimators on ground-truth tasks and report truth, estimate, interval, error and time; "
            "writes results.json, results.md and a plot of estimate and truth per task to --out."
        ),
    )
    bench.add_argument(
        "--tasks",
        nargs="+",
        default=list(BENCHMARK_SUITE),
        metavar="TASK",
        help="task names (default: the benchmark suite)",
    )
    bench.add_argument(
        "--estimators",
        nargs="+",
        default=[DEFAULT_LABEL],
        metavar="NAME",
        help=f"estimator names; '{DEFAULT_LABEL}' is estimate_mi at its defaults",
    )
    bench.add_argument(
        "--n-samples", type=_positive_int, default=5000, metavar="N", help="samples per task (default 5000)"
    )
    bench.add_argument(
        "--n-test",
        type=_positive_int,
        metavar="N",
        help="draw N held-out samples separately (default: split --n-samples)",
    )
    bench.add_argument("--n-folds", type=int, metavar="K", help="cross-fit over K folds")
    bench.add_argument("--max-iterations", type=_positive_int, metavar="N", help="training steps at most")
    bench.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, metavar="B")
    bench.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument(
        "--out",
        type=Path,
        default=Path("runs/mist-reg-bench"),
        metavar="DIR",
        help="output folder (default runs/mist-reg-bench)",
    )
    bench.add_argument("--no-plot", action="store_true", help="do not write the plot")
    bench.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    bench.set_defaults(run=_bench)
    return parser


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _finite(value: Any) -> Any:
    """JSON-safe: NaN becomes ``None`` and infinities the strings ``"inf"`` and ``"-inf"``
    (an exact copy has infinite MI), containers are converted recursively."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """``value`` when JSON can hold it, else its ``repr``."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _dump(value: Any, out: TextIO) -> None:
    out.write(json.dumps(_finite(value), indent=2, allow_nan=False) + "\n")


def _check_estimator(name: str, also: Sequence[str] = ESTIMATE_NAMES) -> None:
    """Refuses a name that is neither registered nor one of ``also`` (by default the
    other names :func:`~mist_reg.estimation.estimate.estimate_mi` takes)."""
    if normalize_name(name) in also:
        return
    if normalize_name(name) not in ESTIMATORS:
        valid = list(also) + list_estimators()
        raise CommandError(f"unknown estimator {name!r}; valid names: {', '.join(valid)}")


def _check_device(device: str | None) -> None:
    if device is None:
        return
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise CommandError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if resolved.type not in ("cpu", "cuda"):
        raise CommandError(f"unsupported device {device!r}; use cpu, cuda or cuda:N")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"device {device!r} was asked for but CUDA is not available; use --device cpu")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise CommandError(
            f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )


def _check_folds(n_folds: int | None) -> None:
    if n_folds is not None and n_folds < 2:
        raise CommandError(f"--n-folds must be at least 2, got {n_folds}")


def _run_quietly(fn):
    """Runs ``fn`` and returns its result and the messages of the RuntimeWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        result = fn()
    return result, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


# --------------------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------------------


def _estimate(args: argparse.Namespace, out: TextIO) -> int:
    _check_estimator(args.estimator)
    _check_device(args.device)
    _check_folds(args.n_folds)
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
    )
    n = data.x.shape[0]
    (result, caught), seconds = timed(
        lambda: _run_quietly(lambda: estimate_mi(data.x, data.y, args.estimator, **kwargs, **params))
    )
    messages = list(result.warnings) + [m for m in dict.fromkeys(caught) if m not in result.warnings]
    record = {
        **result.to_dict(),
        "warnings": messages,
        "estimator": result.estimator_name,
        "estimator_params": {k: _jsonable(v) for k, v in params.items()},
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
        _dump(record, out)
        return 0
    low, high = result.interval
    if result.estimator_name == KSG:
        scheme = "every sample, standard error by subsampling"
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
        f"{'samples used' if result.estimator_name == KSG else 'held out':16s}{result.n_test} samples",
        f"time            {seconds:.1f} s",
    ]
    lines += [f"warning: {m}" for m in messages]
    out.write("\n".join(lines) + "\n")
    return 0


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    _check_estimator(args.estimator)
    _check_device(args.device)
    try:
        task = get_task(args.task)
    except ValueError as error:
        raise CommandError(str(error)) from None
    x, y = task.sample(args.n_samples, seed=args.seed)
    x_test, y_test = task.sample(args.n_samples, seed=args.seed + 1)
    kwargs = dict(x_test=x_test, y_test=y_test, seed=args.seed, device=args.device, verbose=args.verbose)
    result, seconds = timed(lambda: estimate_mi(x, y, args.estimator, **kwargs))
    truth = task.mutual_information
    if args.json:
        record = {
            **result.to_dict(),
            "task": task.name,
            "truth": truth,
            "error": float(result) - truth,
            "estimator": result.estimator_name,
            "seconds": seconds,
        }
        _dump(record, out)
        return 0
    out.write(
        f"task      {task.name}: {task.description}\n"
        f"truth     {truth:.4f} nats\n"
        f"estimate  {float(result):.4f} +- {result.standard_error:.4f} nats ({result.estimator_name}, "
        f"{result.bound} bound, {result.n_test} {'' if result.estimator_name == KSG else 'held-out '}samples, "
        f"{seconds:.1f} s)\n"
        f"error     {float(result) - truth:+.4f} nats\n"
    )
    return 0


def _tasks(args: argparse.Namespace, out: TextIO) -> int:
    records = []
    for name in list_tasks():
        task = get_task(name)
        records.append(
            {
                "name": name,
                "dim_x": task.dim_x,
                "dim_y": task.dim_y,
                "mutual_information": task.mutual_information,
                "in_suite": name in BENCHMARK_SUITE,
                "description": task.description,
            }
        )
    if args.json:
        _dump(records, out)
        return 0
    out.write(f"{'name':22s} {'dim_x':>6s} {'dim_y':>6s} {'MI (nats)':>10s}  suite  description\n")
    for r in records:
        out.write(
            f"{r['name']:22s} {r['dim_x']:6d} {r['dim_y']:6d} {r['mutual_information']:10.4f}  "
            f"{'yes' if r['in_suite'] else '':5s}  {r['description']}\n"
        )
    return 0


def _arguments(function: Any, skip: Sequence[str] = ("x_dim", "y_dim")) -> list[dict[str, Any]]:
    """The named parameters of ``function`` with their defaults (``required`` when none)."""
    result = []
    for p in inspect.signature(function).parameters.values():
        if p.name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        entry: dict[str, Any] = {"name": p.name, "required": p.default is p.empty}
        if p.default is not p.empty:
            entry["default"] = (
                p.default if isinstance(p.default, (int, float, str, bool, type(None))) else repr(p.default)
            )
        result.append(entry)
    return result


def _format_argument(entry: dict[str, Any]) -> str:
    return entry["name"] if entry["required"] else f"{entry['name']}={entry['default']!r}"


def estimator_catalogue() -> list[dict[str, Any]]:
    r"""Every registered estimator: name, class, bound direction, factory arguments and
    what :func:`mist_reg.estimate_mi` gives it by default (from its registry entry)."""
    records = []
    for name in list_estimators():
        entry = REGISTRY[name]
        records.append(
            {
                "name": name,
                "class": entry.cls.__name__,
                "bound": entry.bound,
                "arguments": _arguments(entry.factory),
                "critic_arguments": entry.has_critic,
                "estimate_defaults": dict(entry.estimate_defaults),
            }
        )
    return records


def _estimators(args: argparse.Namespace, out: TextIO) -> int:
    records = estimator_catalogue()
    critic = _arguments(make_critic, skip=("x_dim", "y_dim", "hidden_dims"))
    if args.json:
        _dump(
            {
                "estimators": records,
                "critic_arguments": critic,
                "estimate_mi_critic_defaults": ESTIMATION_CRITIC_DEFAULTS,
            },
            out,
        )
        return 0
    for r in records:
        arguments = ", ".join(_format_argument(a) for a in r["arguments"])
        if r["critic_arguments"]:
            arguments += (", " if arguments else "") + "+ critic arguments"
        out.write(f"{r['name']:16s} {str(r['bound']):6s} {r['class']}\n    {arguments or '(none)'}\n")
    out.write(
        "\ncritic arguments: " + ", ".join(_format_argument(a) for a in critic) + "\n"
        "estimate_mi gives critic estimators: "
        + ", ".join(f"{k}={v!r}" for k, v in ESTIMATION_CRITIC_DEFAULTS.items())
        + "\n"
        "bound: lower, upper or None (no guaranteed direction). Pass arguments to 'mist-reg estimate' "
        "with --param NAME=VALUE.\n"
    )
    return 0


def _bench(args: argparse.Namespace, out: TextIO) -> int:
    for name in args.estimators:
        _check_estimator(name, also=(DEFAULT_LABEL,))
    for name in args.tasks:
        try:
            get_task(name)
        except ValueError as error:
            raise CommandError(str(error)) from None
    _check_device(args.device)
    _check_folds(args.n_folds)
    kwargs: dict[str, Any] = {"batch_size": args.batch_size}
    if args.n_folds is not None:
        kwargs["n_folds"] = args.n_folds
    if args.max_iterations is not None:
        kwargs["max_iterations"] = args.max_iterations

    def progress(row: dict[str, Any]) -> None:
        print(f"[{row['task']}] done", file=sys.stderr, flush=True)

    try:  # before the runs, so that a bad --out does not throw their results away
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"cannot create the output folder {args.out}: {error.strerror}") from None
    rows, columns = run_benchmark(
        args.tasks,
        args.estimators,
        n_samples=args.n_samples,
        n_test=args.n_test,
        seed=args.seed,
        device=args.device,
        on_row=None if args.json else progress,
        **kwargs,
    )
    summary = summarise(rows, columns)
    command = " ".join([PROG, *args.argv])
    (args.out / "results.json").write_text(json.dumps(_finite({"rows": rows, "summary": summary}), indent=2) + "\n")
    (args.out / "results.md").write_text(markdown_table(rows, summary, columns, command))
    plot_path = args.out / "estimate_vs_truth.png"
    plotted = False if args.no_plot else plot_per_task(rows, columns, plot_path)
    if args.json:
        _dump({"rows": rows, "summary": summary, "plot": str(plot_path) if plotted else None}, out)
        return 0
    out.write(text_table(rows, columns))
    for key in columns:
        s = summary[key]
        covered = (
            f", truth inside the interval on {s['truth_in_interval']}/{s['tasks']}" if "truth_in_interval" in s else ""
        )
        out.write(
            f"{key.split(':', 1)[-1]}: mean abs. error {s['mean_abs_error']:.3f} nats, within 1.5x on "
            f"{s['within_target']}/{s['tasks']}{covered}, {s['total_seconds']:.1f} s\n"
        )
    out.write(f"results: {args.out / 'results.json'}, {args.out / 'results.md'}\n")
    if plotted:
        out.write(f"plot: {plot_path}\n")
    return 0


# --------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------


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
