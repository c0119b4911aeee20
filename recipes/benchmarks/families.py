r"""Task families beyond copulas (:mod:`mist_reg.tasks.families`): mist_reg's default against
KSG, torch_mist 0.2.17 and the simplest hand-written baseline of each family.

For every task of the chosen split and families and every seed, ``--n`` samples are drawn
(``task.sample(n, seed=seed)``, discrete sides as int64) and these columns are run:

* ``mist_reg``: :func:`mist_reg.estimate_mi` ``(x, y)`` at its defaults, on all samples;
* ``ksg``: :func:`mist_reg.functional.knn.ksg_mi` with ``k = 5`` on all samples, where
  ``dim_x + dim_y <= --ksg-max-dim`` and neither side is an integer tensor (KSG assumes
  continuous data: ties of a discrete side inflate it by nats);
* ``torch_mist``: torch_mist 0.2.17's ``estimate_mi`` at its defaults, trained on the first
  70% and evaluated on the rest, in its own environment
  (``bash recipes/benchmarks/setup_torch_mist_env.sh``; skip with ``--no-torch-mist``);
* ``baseline``: :func:`recipes.benchmarks.baselines.baseline_mi` on the same split.

One JSON line per estimate is appended to ``--out/results.jsonl`` (a run started again skips
what is recorded); ``--out/families.md`` and ``families.summary.json`` then hold, from the
records of the tasks and seeds asked for, a table per task (mean over seeds, seconds in
brackets) and per family: mean abs. error, tasks within 1.5x, median seconds per task, and
the median-time ratio to mist_reg.

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.families --split reporting --seeds 0 --n 5000
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.families --families labels discrete --no-torch-mist
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mist_reg import estimate_mi
from mist_reg.functional.knn import ksg_mi
from mist_reg.tasks import FAMILY_TASKS, Task, family_of, family_tasks, get_task
from mist_reg.tasks.benchmark import summarise, timed, warm_up
from mist_reg.tasks.families import FAMILY_FACTORIES
from recipes.benchmarks.baselines import baseline_mi

ESTIMATORS = ("mist_reg", "ksg", "torch_mist", "baseline")
TRAIN_FRACTION = 0.7


def _discrete_columns(task: Task, side: torch.Tensor, is_x: bool) -> tuple[int, ...]:
    if not side.is_floating_point():
        return tuple(range(side.shape[1]))
    return tuple(task.discrete_columns_x) if is_x else ()


def _estimate(name: str, task: Task, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> dict | None:
    n_train = int(TRAIN_FRACTION * len(x))
    if name == "mist_reg":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, seconds = timed(lambda: estimate_mi(x, y))
        return {"estimate": float(result), "seconds": seconds, "estimator_name": result.estimator_name}
    if name == "ksg":
        if task.dim_x + task.dim_y > args.ksg_max_dim or not (x.is_floating_point() and y.is_floating_point()):
            return None
        value, seconds = timed(lambda: ksg_mi(x.double(), y.double(), k=5))
        return {"estimate": float(value), "seconds": seconds}
    if name == "torch_mist":
        from recipes.benchmarks.reference import run_torch_mist

        xf, yf = x.float().numpy(), y.float().numpy()
        record = run_torch_mist(xf[:n_train], yf[:n_train], xf[n_train:], yf[n_train:], estimator="smile", seed=0)
        return {"estimate": record["estimate"], "seconds": record["seconds"]}
    if name == "baseline":
        discrete_x, discrete_y = _discrete_columns(task, x, True), _discrete_columns(task, y, False)
        (kind, value), seconds = timed(
            lambda: baseline_mi(x.numpy(), y.numpy(), discrete_x, discrete_y, n_train=n_train)
        )
        return {"estimate": value, "seconds": seconds, "estimator_name": kind}
    raise ValueError(f"unknown estimator {name!r}; choose from {ESTIMATORS}")


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    r"""Runs every missing (task, seed, estimator) and returns the records of those asked for."""
    results = args.out / "results.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    done = {(r["task"], r["seed"], r["n"], r["estimator"]) for r in records}
    if "mist_reg" in args.estimators:
        warm_up()  # timed warm, as the torch_mist child is
    for name in args.tasks:
        task = get_task(name)
        for seed in args.seeds:
            x, y = task.sample(args.n, seed=seed)
            for estimator in args.estimators:
                if (name, seed, args.n, estimator) in done:
                    continue
                record = _estimate(estimator, task, x, y, args)
                if record is None:
                    continue
                record = {
                    "task": name,
                    "family": family_of(name),
                    "seed": seed,
                    "n": args.n,
                    "estimator": estimator,
                    "truth": task.mutual_information,
                    "truth_se": task.mutual_information_se,
                    **record,
                }
                records.append(record)
                with results.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(
                    f"{name} seed {seed} {estimator}: {record['estimate']:.3f} of {task.mutual_information:.3f} "
                    f"({record['seconds']:.1f} s)",
                    flush=True,
                )
    wanted = set(args.tasks), set(args.seeds)
    return [r for r in records if r["task"] in wanted[0] and r["seed"] in wanted[1] and r["n"] == args.n]


def rows_by_task(records: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    r"""One row per task: the truth and, per column, the mean estimate and seconds over seeds."""
    rows = []
    for task in dict.fromkeys(r["task"] for r in records):
        mine = [r for r in records if r["task"] == task]
        row = {"task": task, "family": mine[0]["family"], "truth": mine[0]["truth"], "truth_se": mine[0]["truth_se"]}
        for column in columns:
            found = [r for r in mine if r["estimator"] == column]
            if found:
                row[column] = statistics.fmean(r["estimate"] for r in found)
                row[column + "_seconds"] = statistics.fmean(r["seconds"] for r in found)
        rows.append(row)
    return rows


def report(records: list[dict[str, Any]], out: Path, command: str) -> str:
    r"""Writes ``families.md`` and ``families.summary.json`` under ``out`` and returns the markdown."""
    columns = [e for e in ESTIMATORS if any(r["estimator"] == e for r in records)]
    rows = rows_by_task(records, columns)
    lines = [f"Command: `{command}`", ""]
    lines += ["| task | family | truth | " + " | ".join(f"{c} (s)" for c in columns) + " |"]
    lines += ["|---|---|---:|" + "---:|" * len(columns)]
    for r in rows:
        cells = [f"{r[c]:.3f} ({r[c + '_seconds']:.1f})" if c in r else "" for c in columns]
        truth = f"{r['truth']:.3f}" + (f" +- {r['truth_se']:.3f}" if r["truth_se"] else "")
        lines.append(f"| {r['task']} | {r['family']} | {truth} | " + " | ".join(cells) + " |")
    lines += ["", "| family | estimator | tasks | mean abs. error | within 1.5x | median s | median s / mist_reg's |"]
    lines += ["|---|---|---:|---:|---:|---:|---:|"]
    summaries: dict[str, dict[str, Any]] = {}
    for family in [*dict.fromkeys(r["family"] for r in rows), "all"]:
        subset = rows if family == "all" else [r for r in rows if r["family"] == family]
        summaries[family] = {
            c: summarise([r for r in subset if c in r], [c])[c] for c in columns if any(c in r for r in subset)
        }
        reference = summaries[family].get("mist_reg", {}).get("median_seconds")
        for c, s in summaries[family].items():
            ratio = f"{s['median_seconds'] / reference:.2f}" if reference else ""
            lines.append(
                f"| {family} | {c} | {s['tasks']} | {s['mean_abs_error']:.3f} | {s['within_target']}/{s['tasks']} "
                f"| {s['median_seconds']:.2f} | {ratio} |"
            )
    text = "\n".join(lines) + "\n"
    (out / "families.md").write_text(text)
    (out / "families.summary.json").write_text(json.dumps(summaries, indent=2))
    return text


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tuning", "reporting", "unseen", "all"), default="reporting")
    parser.add_argument("--families", nargs="+", default=None, choices=list(FAMILY_TASKS))
    parser.add_argument("--tasks", nargs="+", default=None, help="task names (default: the split of the families)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n", type=int, default=5000, help="samples per task")
    parser.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    parser.add_argument("--no-torch-mist", action="store_true", help="skip the torch_mist column")
    parser.add_argument("--ksg-max-dim", type=int, default=20, help="KSG only where dim_x + dim_y is at most this")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("runs/families"))
    args = parser.parse_args(argv)
    if args.n < 10:
        parser.error(f"--n must be at least 10, got {args.n}")
    args.tasks = args.tasks or family_tasks(args.split, args.families)
    unknown = [t for t in args.tasks if t not in FAMILY_FACTORIES]
    if unknown:
        parser.error(f"not family tasks: {unknown}; see mist_reg.tasks.FAMILY_TASKS")
    if args.no_torch_mist:
        args.estimators = [e for e in args.estimators if e != "torch_mist"]
    torch.set_num_threads(args.threads)
    np.seterr(all="ignore")
    records = run(args)
    command = "python -m recipes.benchmarks.families " + shlex.join(sys.argv[1:] if argv is None else argv)
    print(report(records, args.out, command))
    return records


if __name__ == "__main__":
    main()
