r"""Accuracy and speed of ``estimate_mi`` on ground-truth tasks, against references.

For every task of the suite, one run draws 5,000 training and 5,000 held-out samples and
prints the exact MI next to:

* mist_reg's ``estimate_mi`` at its defaults (trained on the training samples, evaluated
  on the held-out ones), and with other estimators named by ``--estimators``;
* torch_mist 0.2.17's ``estimate_mi`` at its defaults on the same samples, with the
  estimators named by ``--torch-mist-estimators`` (default: its default, ``smile``; run in
  its own environment: ``bash recipes/benchmarks/setup_torch_mist_env.sh`` once; skipped
  with a note when that environment is missing or ``--no-torch-mist`` is given);
* the KSG k-nearest-neighbour estimator (k=5) on all 10,000 samples.

Usage::

    python -m recipes.benchmarks.accuracy                      # the whole suite
    python -m recipes.benchmarks.accuracy --tasks spiral-5x5 --no-torch-mist
    python -m recipes.benchmarks.accuracy --estimators default nwj smile --torch-mist-estimators smile nwj

It writes a JSON record, a markdown table and a plot (estimate against truth) to
``--out`` (default ``runs/benchmark_accuracy``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import warnings
from pathlib import Path

import torch

from mist_reg import estimate_mi
from mist_reg.functional.knn import ksg_mi
from mist_reg.tasks import BENCHMARK_SUITE, benchmark, get_task

_time = benchmark.timed


def run(args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    rows = []
    columns = [f"mist_reg:{name}" for name in args.estimators]
    torch_mist_error = None
    if not args.no_torch_mist:
        try:
            from recipes.benchmarks.reference import run_torch_mist, torch_mist_python

            torch_mist_python()
            columns += [f"torch_mist:{name}" for name in args.torch_mist_estimators]
        except RuntimeError as error:
            torch_mist_error = str(error).splitlines()[0]
            print(f"[torch_mist skipped] {torch_mist_error}", file=sys.stderr)
    columns.append("ksg")
    benchmark.warm_up()  # timed warm, as the torch_mist child is
    for name in args.tasks:
        task = get_task(name)
        x, y = task.sample(args.n_train, seed=args.seed)
        x_test, y_test = task.sample(args.n_test, seed=args.seed + 1)
        row: dict = {"task": name, "truth": task.mutual_information}
        for estimator in args.estimators:
            extra = {} if estimator == "default" else {"estimator": estimator}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours, seconds = _time(
                    lambda: estimate_mi(x, y, x_test=x_test, y_test=y_test, seed=args.seed, device=args.device, **extra)
                )
            row[f"mist_reg:{estimator}"], row[f"mist_reg:{estimator}_seconds"] = float(ours), seconds
        row["ksg"], row["ksg_seconds"] = _time(lambda: ksg_mi(torch.cat([x, x_test]), torch.cat([y, y_test]), k=args.k))
        if not args.no_torch_mist and torch_mist_error is None:
            for estimator in args.torch_mist_estimators:
                record = run_torch_mist(
                    x.numpy(), y.numpy(), x_test.numpy(), y_test.numpy(), estimator=estimator, seed=args.seed
                )
                row[f"torch_mist:{estimator}"] = record["estimate"]
                row[f"torch_mist:{estimator}_seconds"] = record["seconds"]
        rows.append(row)
        print(_format_row(row, columns), flush=True)
    return rows, columns


def _format_row(row: dict, columns: list[str]) -> str:
    parts = [f"{row['task']:22s} truth {row['truth']:6.3f}"]
    for key in columns:
        parts.append(f"{key} {row[key]:7.3f} ({row[key + '_seconds']:5.1f}s)")
    return "  ".join(parts)


def summarise(rows: list[dict], columns: list[str]) -> dict:
    summary: dict = benchmark.summarise(rows, columns)
    ours, theirs = "mist_reg:default", "torch_mist:smile"
    if ours in summary and theirs in summary:
        ratios = [r[theirs + "_seconds"] / r[ours + "_seconds"] for r in rows]
        summary["speedup_vs_torch_mist"] = {
            "total": summary[theirs]["total_seconds"] / summary[ours]["total_seconds"],
            "median_per_task": statistics.median(ratios),
        }
    return summary


def markdown(rows: list[dict], summary: dict, columns: list[str], command: str) -> str:
    lines = benchmark.markdown_table(rows, summary, columns, command).rstrip("\n").split("\n")
    if "speedup_vs_torch_mist" in summary:
        s = summary["speedup_vs_torch_mist"]
        lines.append("")
        lines.append(
            "Wall time of torch_mist:smile / mist_reg:default (both at their defaults): "
            f"{s['total']:.2f}x in total, {s['median_per_task']:.2f}x median per task."
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], columns: list[str], path: Path) -> bool:
    return benchmark.plot_estimates(rows, columns, path, title="estimate against truth, 5,000 + 5,000 samples")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(BENCHMARK_SUITE))
    parser.add_argument(
        "--estimators", nargs="+", default=["default"], help="mist_reg estimators ('default': estimate_mi's)"
    )
    parser.add_argument("--torch-mist-estimators", nargs="+", default=["smile"])
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5, help="neighbours of the KSG estimator")
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-torch-mist", action="store_true", help="skip the torch_mist reference")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_accuracy"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device or 'auto'}")
    rows, columns = run(args)
    summary = summarise(rows, columns)
    command = "python -m recipes.benchmarks.accuracy " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(rows, summary, columns, command.strip())
    print()
    print(table)
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    (args.out / "results.md").write_text(table)
    if plot(rows, columns, args.out / "estimate_vs_truth.png"):
        print(f"plot: {args.out / 'estimate_vs_truth.png'}")


if __name__ == "__main__":
    main()
