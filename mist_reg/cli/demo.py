r"""``mist-reg demo`` (the default command): ``estimate_mi`` on a ground-truth task, beside the truth.

Example:
    >>> import argparse
    >>> commands = argparse.ArgumentParser().add_subparsers()
    >>> add_demo_parser(commands)
"""

from __future__ import annotations

import argparse
from typing import TextIO

from mist_reg.cli.common import ESTIMATOR_HELP, CommandError, check_device, check_estimator, dump, positive_int
from mist_reg.estimation.estimate import DEFAULT_ESTIMATOR, KSG, estimate_mi
from mist_reg.tasks import get_task
from mist_reg.tasks.benchmark import timed

__all__ = ["add_demo_parser", "run_demo", "DEFAULT_DEMO_TASK"]

DEFAULT_DEMO_TASK = "half-cube-5x5"


def add_demo_parser(commands: argparse._SubParsersAction) -> None:
    r"""Adds the subcommand to ``commands`` (the subparsers of ``mist-reg``)."""
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
        help=ESTIMATOR_HELP,
    )
    demo.add_argument(
        "--n-samples",
        type=positive_int,
        default=5000,
        metavar="N",
        help="training samples; as many again are held out (default 5000)",
    )
    demo.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the samples, initialisation and batches (default 0)")
    demo.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    demo.add_argument("--verbose", action="store_true", help="show a training progress bar")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace, out: TextIO) -> int:
    r"""``mist-reg demo``: an estimate on a ground-truth task beside the truth; returns the exit code."""
    check_estimator(args.estimator)
    check_device(args.device)
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
        dump(record, out)
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
