r"""Draws the 40 tasks of the public BMI benchmark (``benchmark-mi``) to ``.npz`` files.

Runs in the environment of ``bash recipes/benchmarks/setup_bmi_env.sh`` (JAX), so that
mist_reg's side (``recipes/benchmarks/bmi.py``) reads samples and ground truth with numpy
alone. Every task of ``bmi.benchmark.BENCHMARK_TASKS`` is drawn with BMI's own sampler and
seed, and written to ``OUT/<task id>/seed-<seed>.npz`` with the arrays ``x`` and ``y`` and
the scalars ``mutual_information``, ``task_id`` and ``task_name`` (BMI's ground truth). Files
that exist are kept. With ``--ksg``, BMI's own KSG estimator (``KSGEnsembleFirstEstimator``,
k = 5 and 10, averaged) is also run on every draw and its estimate and wall time written to
``OUT/<task id>/seed-<seed>.bmi_ksg.json``.

Run it as a module from the repository root: run as a file, its own folder leads
``sys.path`` and ``import bmi`` finds ``recipes/benchmarks/bmi.py`` instead of BMI.

Usage::

    .venv-bmi/bin/python -m recipes.benchmarks.draw_bmi_tasks --seeds 0 1 2
    .venv-bmi/bin/python -m recipes.benchmarks.draw_bmi_tasks --seeds 0 --ksg
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bmi/samples"))
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", default=None, help="task ids (default: all 40)")
    parser.add_argument("--ksg", action="store_true", help="also run BMI's KSG estimator on every draw")
    args = parser.parse_args(argv)

    import bmi  # only in the BMI environment

    tasks = bmi.benchmark.BENCHMARK_TASKS
    for task_id in args.tasks or list(tasks):
        task = tasks[task_id]
        for seed in args.seeds:
            path = args.out / task_id / f"seed-{seed}.npz"
            if not path.exists():
                x, y = task.sample(args.n, seed=seed)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(
                    path,
                    x=np.asarray(x, dtype=np.float32),
                    y=np.asarray(y, dtype=np.float32),
                    mutual_information=float(task.mutual_information),
                    task_id=task_id,
                    task_name=task.name,
                )
                print(f"{task_id} seed {seed}: {task.mutual_information:.3f} nats -> {path}", flush=True)
            ksg_path = path.with_suffix(".bmi_ksg.json")
            if args.ksg and not ksg_path.exists():
                data = np.load(path)
                start = time.perf_counter()
                estimate = bmi.estimators.KSGEnsembleFirstEstimator(neighborhoods=(5, 10)).estimate(
                    data["x"], data["y"]
                )
                seconds = time.perf_counter() - start
                ksg_path.write_text(json.dumps({"estimate": float(estimate), "seconds": seconds}))
                print(f"{task_id} seed {seed}: BMI KSG {estimate:.3f} ({seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
