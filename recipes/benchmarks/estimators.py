r"""Every estimator of mist_reg against torch_mist 0.2.17's version of the same estimator.

For every task of the suite, one draw of 5,000 training and 5,000 held-out samples is
shared by all the estimators. mist_reg's are run through ``estimate_mi`` by name (with
the arguments a spec gives), torch_mist's through its ``estimate_mi`` at its defaults in
its own environment (``bash recipes/benchmarks/setup_torch_mist_env.sh`` once).

A spec is ``NAME`` or ``LABEL=NAME:KEY=VALUE,KEY=VALUE`` (values are read as Python
literals, ``none`` as ``None``), e.g. ``infonce-alone=infonce:reference=none``: InfoNCE
with a plain critic instead of the Gaussian reference that ``estimate_mi`` gives every
critic by default.

Results are appended to ``--out/results.jsonl`` one estimate at a time, and a run started
again with the same ``--out`` skips what is there: torch_mist's CLUB and PQ take minutes
per task on a CPU, so the whole comparison can be run in pieces. ``--report`` writes the
markdown tables (``estimators.md``), ``summary.json`` and a plot from what is recorded.

Usage::

    python -m recipes.benchmarks.estimators                        # the default comparison
    python -m recipes.benchmarks.estimators --ours doe club --theirs doe club --tasks gaussian-5x5
    python -m recipes.benchmarks.estimators --report               # tables from the records
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import sys
import warnings
from pathlib import Path
from typing import Any

from mist_reg import estimate_mi
from mist_reg.tasks import BENCHMARK_SUITE, get_task
from mist_reg.tasks.benchmark import markdown_table, plot_estimates, summarise, timed, warm_up

DISCRIMINATIVE = ["nwj", "mine", "infonce", "tuba", "alpha_tuba", "js", "smile", "flo"]
GENERATIVE = ["doe", "gm", "l1out", "club", "binned", "pq"]
HYBRID = ["gaussian_hybrid", "gaussian_hybrid-mine=gaussian_hybrid:discriminative=mine", "pq_hybrid"]
DEFAULT_OURS = DISCRIMINATIVE + [f"{name}-alone={name}:reference=none" for name in DISCRIMINATIVE] + GENERATIVE + HYBRID
DEFAULT_THEIRS = DISCRIMINATIVE + GENERATIVE + ["hybrid_pq"]
COUNTERPARTS = {"hybrid_pq": "pq_hybrid"}
r"""torch_mist names whose mist_reg counterpart has another name."""


def parse_spec(spec: str) -> tuple[str, str, dict[str, Any]]:
    r"""``(label, estimator name, arguments)`` of a spec.

    Example:
        >>> parse_spec("infonce-alone=infonce:reference=none,neg_samples=8")
        ('infonce-alone', 'infonce', {'reference': None, 'neg_samples': 8})
        >>> parse_spec("pq_hybrid:hidden_dims=(64,64),n_bins=8")
        ('pq_hybrid', 'pq_hybrid', {'hidden_dims': (64, 64), 'n_bins': 8})
        >>> parse_spec("doe")
        ('doe', 'doe', {})
    """
    label, _, rest = spec.partition("=") if "=" in spec.split(":", 1)[0] else (spec.split(":", 1)[0], "", spec)
    name, _, arguments = rest.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, re.split(r",(?=\s*\w+=)", arguments)):  # commas inside values stay
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"argument {item!r} of spec {spec!r} is not KEY=VALUE")
        try:
            params[key] = None if value.lower() == "none" else ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value  # a bare word: a string

    return label, name, params


def _load(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["task"], r["column"]): r for r in records}


def run(args: argparse.Namespace, results: Path) -> None:
    done = _load(results)
    run_torch_mist = None
    if args.theirs:
        try:
            from recipes.benchmarks.reference import run_torch_mist, torch_mist_python

            torch_mist_python()
        except RuntimeError as error:
            print(f"[torch_mist skipped] {error}", file=sys.stderr)
            run_torch_mist = None
    if args.ours:
        warm_up()  # timed warm, as the torch_mist child is
    for task_name in args.tasks:
        task = get_task(task_name)
        x, y = task.sample(args.n_train, seed=args.seed)
        x_test, y_test = task.sample(args.n_test, seed=args.seed + 1)
        jobs = [(f"mist_reg:{label}", ("ours", name, params)) for label, name, params in map(parse_spec, args.ours)]
        if run_torch_mist is not None:
            jobs += [(f"torch_mist:{name}", ("theirs", name, {})) for name in args.theirs]
        for column, (side, name, params) in jobs:
            if (task_name, column) in done:
                continue
            record: dict[str, Any] = {"task": task_name, "truth": task.mutual_information, "column": column}
            try:
                if side == "ours":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        estimate, seconds = timed(
                            lambda: estimate_mi(
                                x, y, name, x_test=x_test, y_test=y_test, seed=args.seed, device=args.device, **params
                            )
                        )
                    record.update(estimate=float(estimate), seconds=seconds)
                else:
                    out = run_torch_mist(
                        x.numpy(),
                        y.numpy(),
                        x_test.numpy(),
                        y_test.numpy(),
                        estimator=name,
                        seed=args.seed,
                        timeout=args.torch_mist_timeout,
                    )
                    record.update(estimate=out["estimate"], seconds=out["seconds"])
            except (RuntimeError, ValueError) as error:
                record.update(estimate=None, seconds=None, error=str(error).strip().splitlines()[-1][:300])
            with results.open("a") as stream:
                stream.write(json.dumps(record) + "\n")
            shown = (
                "failed: " + record["error"]
                if record["estimate"] is None
                else f"{record['estimate']:7.3f} ({record['seconds']:.1f} s)"
            )
            print(f"{task_name:22s} truth {task.mutual_information:6.3f}  {column:34s} {shown}", flush=True)


def report(out: Path, results: Path) -> None:
    records = _load(results)
    tasks = [t for t in BENCHMARK_SUITE if any(task == t for task, _ in records)]
    columns = sorted({column for _, column in records})
    complete = [c for c in columns if all((t, c) in records and records[t, c]["estimate"] is not None for t in tasks)]
    rows = []
    for t in tasks:
        row: dict[str, Any] = {"task": t, "truth": next(r["truth"] for (task, _), r in records.items() if task == t)}
        for c in complete:
            row[c], row[c + "_seconds"] = records[t, c]["estimate"], records[t, c]["seconds"]
        rows.append(row)
    summary = summarise(rows, complete)
    head_to_head = []
    for c in complete:
        if not c.startswith("torch_mist:"):
            continue
        name = c.split(":", 1)[1]
        ours = f"mist_reg:{COUNTERPARTS.get(name, name)}"
        if ours not in complete:
            continue
        wins = sum(abs(r[ours] - r["truth"]) <= abs(r[c] - r["truth"]) for r in rows)
        ratios = [r[c + "_seconds"] / r[ours + "_seconds"] for r in rows]
        head_to_head.append(
            f"| {ours.split(':')[1]} | {summary[ours]['mean_abs_error']:.3f} | {summary[c]['mean_abs_error']:.3f} "
            f"| {wins}/{len(rows)} | {statistics.median(ratios):.1f}x |"
        )
    failed = [f"{c} on {t}: {r['error']}" for (t, c), r in records.items() if r["estimate"] is None]
    missing = [c for c in columns if c not in complete]
    text = markdown_table(rows, summary, complete, " ".join(["python", *sys.argv]))
    text += "\n| estimator | mist_reg mean abs. error | torch_mist mean abs. error | tasks where mist_reg is at least as close | median time ratio (torch_mist / mist_reg) |\n"
    text += "|---|---:|---:|---:|---:|\n" + "\n".join(head_to_head) + "\n"
    if missing:
        text += "\nNot on every task (left out of the tables): " + ", ".join(missing) + "\n"
    if failed:
        text += "\nFailed runs:\n" + "\n".join(f"- {line}" for line in failed) + "\n"
    (out / "estimators.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_estimates(
        rows,
        [c for c in complete if c.startswith("mist_reg:")][:8],
        out / "estimators.png",
        title="mist_reg estimators, estimate against truth",
    )
    print(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(BENCHMARK_SUITE))
    parser.add_argument("--ours", nargs="*", default=DEFAULT_OURS, help="mist_reg specs (see the module docstring)")
    parser.add_argument("--theirs", nargs="*", default=DEFAULT_THEIRS, help="torch_mist estimator names")
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None)
    parser.add_argument("--torch-mist-timeout", type=float, default=1800.0, help="seconds per torch_mist run")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark_estimators"))
    parser.add_argument("--report", action="store_true", help="only write the tables from the records")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    if not args.report:
        run(args, results)
    report(args.out, results)


if __name__ == "__main__":
    main()
