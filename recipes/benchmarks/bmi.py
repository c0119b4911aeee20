r"""The public BMI benchmark (Czyz et al., "Beyond Normal", NeurIPS 2023) as the accuracy yardstick.

The 40 tasks of ``benchmark-mi``'s list are drawn by BMI itself, 5,000 samples per draw
and a few seeds, in their own environment (JAX), and saved as ``.npz`` files with BMI's
ground truth::

    bash recipes/benchmarks/setup_bmi_env.sh
    .venv-bmi/bin/python -m recipes.benchmarks.draw_bmi_tasks --seeds 0 1 2   # runs/bmi/samples
    .venv-bmi/bin/python -m recipes.benchmarks.draw_bmi_tasks --seeds 0 --ksg # BMI's own KSG

This script reads those files with numpy alone and runs, on every draw, the estimators
asked for, appending one JSON line per estimate to ``--out/results.jsonl`` (a run started
again skips what is recorded, so it can be stopped and resumed):

* ``mist_reg``: :func:`mist_reg.estimate_mi` at its defaults, trained on the first 3,500
  samples and evaluated on the last 1,500;
* ``torch_mist``: torch_mist 0.2.17's ``estimate_mi`` at its defaults (SMILE) on the same
  split, in its own environment (``bash recipes/benchmarks/setup_torch_mist_env.sh``);
* ``ksg``: :func:`mist_reg.functional.knn.ksg_mi` with k = 5 on all 5,000 samples;
* ``bmi_ksg``: BMI's own KSG (k = 5 and 10 averaged), read from the draw script's files.

``--report`` writes ``bmi.md`` (per task, averaged over the seeds recorded, and per
family: 1v1, multinormal, Student-t, transformed), ``bmi.summary.json`` and
``bmi_estimates.png`` from the records (with ``--seeds 0``: ``bmi-seeds-0.md`` and so on,
for the seeds given only; with ``--estimators``, those only).

Usage::

    OMP_NUM_THREADS=1 python -m recipes.benchmarks.bmi --estimators mist_reg ksg --seeds 0 1 2
    OMP_NUM_THREADS=1 python -m recipes.benchmarks.bmi --estimators torch_mist --seeds 0
    python -m recipes.benchmarks.bmi --report --seeds 0      # every estimator on the same draws
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mist_reg import estimate_mi
from mist_reg.functional.knn import ksg_mi
from mist_reg.tasks.benchmark import plot_estimates, timed, warm_up

ESTIMATORS = ("mist_reg", "torch_mist", "ksg", "bmi_ksg")
FAMILIES = ("1v1", "multinormal", "Student-t", "transformed")
N_TRAIN = 3500


def family(task_id: str, x_dim: int, y_dim: int) -> str:
    r"""The family of a BMI task: ``1v1`` (one-dimensional x and y), ``multinormal``,
    ``Student-t`` (untransformed), or ``transformed`` (every other task).

    Example:
        >>> family("student-identity-5-5-2", 5, 5), family("asinh-student-identity-5-5-2", 5, 5)
        ('Student-t', 'transformed')
    """
    if x_dim == 1 and y_dim == 1:
        return "1v1"
    if task_id.startswith("multinormal"):
        return "multinormal"
    if task_id.startswith("student"):
        return "Student-t"
    return "transformed"


def _draws(samples: Path, seeds: list[int] | None, tasks: list[str] | None) -> list[Path]:
    paths = sorted(samples.glob("*/seed-*.npz"))
    if seeds is not None:
        paths = [p for p in paths if int(p.stem.split("-")[1]) in seeds]
    if tasks is not None:
        paths = [p for p in paths if p.parent.name in tasks]
    return paths


def _estimate(name: str, path: Path, x: np.ndarray, y: np.ndarray) -> dict[str, Any] | None:
    if name == "mist_reg":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mi, seconds = timed(lambda: estimate_mi(x[:N_TRAIN], y[:N_TRAIN], x_test=x[N_TRAIN:], y_test=y[N_TRAIN:]))
        reference = getattr(getattr(mi.estimator, "critic", None), "reference", None)
        df = getattr(reference, "df_value", None)  # the Student-t start (finite) or the Gaussian one (inf)
        return {
            "estimate": float(mi),
            "seconds": seconds,
            "interval": list(mi.interval),
            "warnings": mi.warnings,
            "estimator_name": mi.estimator_name,
            **({"reference_df": df} if df is not None else {}),
        }
    if name == "ksg":
        value, seconds = timed(lambda: ksg_mi(x, y, k=5))
        return {"estimate": float(value), "seconds": seconds}
    if name == "torch_mist":
        from recipes.benchmarks.reference import run_torch_mist

        record = run_torch_mist(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], estimator="smile", seed=0)
        return {"estimate": float(record["estimate"]), "seconds": float(record["seconds"])}
    if name == "bmi_ksg":
        ksg_path = path.with_suffix(".bmi_ksg.json")
        return json.loads(ksg_path.read_text()) if ksg_path.exists() else None
    raise ValueError(f"unknown estimator {name!r}; choose from {ESTIMATORS}")


def run(args: argparse.Namespace) -> None:
    results = args.out / "results.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if results.exists():
        for line in results.read_text().splitlines():
            r = json.loads(line)
            done.add((r["task"], r["seed"], r["estimator"]))
    torch.set_num_threads(1)
    if "mist_reg" in args.estimators:
        warm_up()  # timed warm, as the torch_mist child is
    draws = _draws(args.samples, args.seeds, args.tasks)
    if not draws:
        raise SystemExit(
            f"no draws under {args.samples}; run .venv-bmi/bin/python -m recipes.benchmarks.draw_bmi_tasks first"
        )
    for path in draws:
        task, seed = path.parent.name, int(path.stem.split("-")[1])
        data = np.load(path)
        x, y = data["x"].astype(np.float32), data["y"].astype(np.float32)
        for name in args.estimators:
            if (task, seed, name) in done:
                continue
            record = _estimate(name, path, x, y)
            if record is None:
                continue
            record = {
                "task": task,
                "seed": seed,
                "estimator": name,
                "truth": float(data["mutual_information"]),
                "family": family(task, x.shape[1], y.shape[1]),
                "x_dim": x.shape[1],
                "y_dim": y.shape[1],
                **record,
            }
            with results.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(
                f"{task} seed {seed} {name}: {record['estimate']:.3f} of {record['truth']:.3f} "
                f"({record['seconds']:.1f} s)",
                flush=True,
            )


def _within(estimate: float, truth: float) -> bool:
    return abs(estimate - truth) <= 0.02 if truth < 0.01 else 1 / 1.5 <= estimate / truth <= 1.5


def report(args: argparse.Namespace) -> None:
    records = [json.loads(line) for line in (args.out / "results.jsonl").read_text().splitlines()]
    if args.seeds is not None:
        records = [r for r in records if r["seed"] in args.seeds]
    if args.estimators_given:
        records = [r for r in records if r["estimator"] in args.estimators]
    stem = "bmi" if args.seeds is None else "bmi-seeds-" + "-".join(map(str, args.seeds))
    columns = [e for e in ESTIMATORS if any(r["estimator"] == e for r in records)]
    by_key = {(r["task"], r["seed"], r["estimator"]): r for r in records}
    rows = []
    for task in sorted({r["task"] for r in records}):
        seeds = sorted({r["seed"] for r in records if r["task"] == task})
        cells = {e: [by_key[(task, s, e)] for s in seeds if (task, s, e) in by_key] for e in columns}
        first = next(r for r in records if r["task"] == task)
        row = {"task": task, "truth": first["truth"], "family": first["family"], "seeds": {}}
        for e, found in cells.items():
            if found:
                row[e] = statistics.fmean(r["estimate"] for r in found)
                row[e + "_seconds"] = statistics.fmean(r["seconds"] for r in found)
                row["seeds"][e] = len(found)
        rows.append(row)

    def summary(subset: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        out = {}
        for e in columns:
            have = [r for r in subset if e in r]
            if have:
                out[e] = {
                    "tasks": len(have),
                    "mean_abs_error": statistics.fmean(abs(r[e] - r["truth"]) for r in have),
                    "within_target": sum(_within(r[e], r["truth"]) for r in have),
                    "total_seconds": sum(r[e + "_seconds"] for r in have),
                }
        return out

    lines = ["| task | family | truth | " + " | ".join(columns) + " |", "|---|---|---:|" + "---:|" * len(columns)]
    for r in rows:
        cells = [f"{r[e]:.3f}" if e in r else "" for e in columns]
        lines.append(f"| {r['task']} | {r['family']} | {r['truth']:.3f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| family | estimator | tasks | mean abs. error | within 1.5x | total s (mean over seeds) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    summaries = {}
    for name in FAMILIES + ("all",):
        subset = rows if name == "all" else [r for r in rows if r["family"] == name]
        summaries[name] = summary(subset)
        for e, s in summaries[name].items():
            lines.append(
                f"| {name} | {e} | {s['tasks']} | {s['mean_abs_error']:.3f} | "
                f"{s['within_target']}/{s['tasks']} | {s['total_seconds']:.1f} |"
            )
    seeds = {e: sorted({r["seed"] for r in records if r["estimator"] == e}) for e in columns}
    lines += ["", "Seeds per estimator: " + ", ".join(f"{e} {v}" for e, v in seeds.items())]
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (args.out / f"{stem}.summary.json").write_text(json.dumps(summaries, indent=2))
    common = [r for r in rows if all(e in r for e in columns)]
    if common:
        plot_estimates(common, columns, args.out / f"{stem}_estimates.png", title="BMI tasks, 5,000 samples")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=Path("runs/bmi/samples"))
    parser.add_argument("--out", type=Path, default=Path("runs/bmi"))
    parser.add_argument(
        "--estimators",
        nargs="+",
        default=None,
        choices=ESTIMATORS,
        help="what to run (default: mist_reg, ksg, bmi_ksg); with --report, what to tabulate",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--tasks", nargs="+", default=None)
    parser.add_argument("--report", action="store_true", help="write the tables and the plot from the records")
    args = parser.parse_args(argv)
    args.estimators_given = args.estimators is not None
    if args.estimators is None:
        args.estimators = ["mist_reg", "ksg", "bmi_ksg"]
    report(args) if args.report else run(args)


if __name__ == "__main__":
    main()
