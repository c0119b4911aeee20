r"""``mist-reg bench``: estimators against ground-truth tasks; results and a plot in ``--out``.

Example:
    >>> import argparse
    >>> commands = argparse.ArgumentParser().add_subparsers()
    >>> add_bench_parser(commands)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from mist_reg.cli.common import (
    PROG,
    CommandError,
    check_device,
    check_estimator,
    check_folds,
    dump,
    finite,
    positive_int,
)
from mist_reg.estimation.training_defaults import ESTIMATE_BATCH_SIZE
from mist_reg.tasks import BENCHMARK_SUITE, get_task
from mist_reg.tasks.benchmark import (
    DEFAULT_LABEL,
    markdown_table,
    plot_per_task,
    run_benchmark,
    summarise,
    text_table,
)

__all__ = ["add_bench_parser", "run_bench"]


def add_bench_parser(commands: argparse._SubParsersAction) -> None:
    r"""Adds the subcommand to ``commands`` (the subparsers of ``mist-reg``)."""
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
        "--n-samples", type=positive_int, default=5000, metavar="N", help="samples per task (default 5000)"
    )
    bench.add_argument(
        "--n-test",
        type=positive_int,
        metavar="N",
        help="draw N held-out samples separately (default: split --n-samples)",
    )
    bench.add_argument("--n-folds", type=int, metavar="K", help="cross-fit over K folds")
    bench.add_argument("--max-iterations", type=positive_int, metavar="N", help="training steps at most")
    bench.add_argument("--batch-size", type=positive_int, default=ESTIMATE_BATCH_SIZE, metavar="B")
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
    bench.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace, out: TextIO) -> int:
    r"""``mist-reg bench``: estimators against the truth of tasks, written to ``--out``; returns the exit code."""
    for name in args.estimators:
        check_estimator(name, also=(DEFAULT_LABEL,))
    for name in args.tasks:
        try:
            get_task(name)
        except ValueError as error:
            raise CommandError(str(error)) from None
    check_device(args.device)
    check_folds(args.n_folds)
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
    (args.out / "results.json").write_text(json.dumps(finite({"rows": rows, "summary": summary}), indent=2) + "\n")
    (args.out / "results.md").write_text(markdown_table(rows, summary, columns, command))
    plot_path = args.out / "estimate_vs_truth.png"
    plotted = False if args.no_plot else plot_per_task(rows, columns, plot_path)
    if args.json:
        dump({"rows": rows, "summary": summary, "plot": str(plot_path) if plotted else None}, out)
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
