r"""``python -m mist_reg``: estimate MI on a ground-truth task and compare with the truth.

Usage::

    python -m mist_reg                          # the default task, 5,000 + 5,000 samples
    python -m mist_reg --task spiral-5x5 --estimator nwj --n 2000
    python -m mist_reg --list                   # the ground-truth tasks
"""

from __future__ import annotations

import argparse
import sys
import time

from mist_reg.estimators import list_estimators
from mist_reg.tasks import get_task, list_tasks
from mist_reg.training import DEFAULT_ESTIMATOR, estimate_mi

DEFAULT_TASK = "half-cube-5x5"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mist_reg", description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=DEFAULT_TASK, help=f"a ground-truth task (default {DEFAULT_TASK})")
    parser.add_argument("--estimator", default=DEFAULT_ESTIMATOR, help=f"one of {', '.join(list_estimators())}")
    parser.add_argument("--n", type=int, default=5000, help="training samples (as many again are held out)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument("--list", action="store_true", help="list the ground-truth tasks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in list_tasks():
            print(f"{name:22s} {get_task(name).mutual_information:.4f} nats")
        return 0
    try:
        task = get_task(args.task)
        x, y = task.sample(args.n, seed=args.seed)
        x_test, y_test = task.sample(args.n, seed=args.seed + 1)
        start = time.perf_counter()
        estimate = estimate_mi(
            x, y, args.estimator, x_test=x_test, y_test=y_test, seed=args.seed, device=args.device, verbose=True
        )
    except (ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(f"task      {task.name}: {task.description}")
    print(f"truth     {task.mutual_information:.4f} nats")
    print(
        f"estimate  {float(estimate):.4f} +- {estimate.standard_error:.4f} nats "
        f"({args.estimator}, {estimate.bound} bound, {estimate.n_test} held-out samples, {seconds:.1f} s)"
    )
    print(f"error     {float(estimate) - task.mutual_information:+.4f} nats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
