"""Run torch_mist 0.2.17 as an out-of-process reference for the benchmarks.

torch_mist needs ``numpy<2`` (plus pyro-ppl, hydra-core and ``pandas<2.3``),
so it lives in its own virtual environment, ``.venv-torch-mist`` at the
repository root, created by ``recipes/benchmarks/setup_torch_mist_env.sh``.
:func:`run_torch_mist` writes the data to a temporary ``.npz``, runs
``torch_mist_reference.py`` with that environment's interpreter and returns the
parsed JSON record.  This module only needs the standard library and numpy, so
it can be imported from the mist_reg environment.

Example (needs the venv)::

    from recipes.benchmarks.reference import run_torch_mist
    record = run_torch_mist(x_train, y_train, x_test, y_test, estimator="smile")
    record["estimate"], record["seconds"]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_torch_mist", "torch_mist_python", "REPO_ROOT", "DEFAULT_VENV"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().with_name("torch_mist_reference.py")
SETUP_SCRIPT = Path(__file__).resolve().with_name("setup_torch_mist_env.sh")
DEFAULT_VENV = ".venv-torch-mist"

ArrayLike = Any  # numpy array, torch tensor or anything np.asarray accepts
PathLike = str | os.PathLike


def torch_mist_python(venv: PathLike = DEFAULT_VENV) -> Path:
    """Return the interpreter of the torch_mist venv, or raise if it is missing.

    Arguments:
        venv: Path of the virtual environment; relative paths are resolved
            against the repository root.

    Raises:
        RuntimeError: If the venv has no Python interpreter.
    """
    venv_path = Path(venv)
    if not venv_path.is_absolute():
        venv_path = REPO_ROOT / venv_path
    if sys.platform == "win32":
        python = venv_path / "Scripts" / "python.exe"
    else:
        python = venv_path / "bin" / "python"
    if not python.exists():
        raise RuntimeError(
            f"torch_mist reference environment not found at {venv_path}. "
            f"Create it with `bash {SETUP_SCRIPT.relative_to(REPO_ROOT)}` "
            "(run from the repository root)."
        )
    return python


def _as_float32(name: str, value: ArrayLike) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {array.shape}")
    return np.ascontiguousarray(array)


def run_torch_mist(
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_test: ArrayLike,
    y_test: ArrayLike,
    estimator: str = "smile",
    seed: int = 0,
    venv: PathLike = DEFAULT_VENV,
    timeout: float | None = 3600.0,
) -> dict[str, Any]:
    """Estimate MI with torch_mist's ``estimate_mi`` at its default settings.

    The estimator is trained on ``(x_train, y_train)`` and evaluated on the
    held-out ``(x_test, y_test)``; no hyper-parameter is changed from
    torch_mist's defaults.

    Arguments:
        x_train: Training samples of X, shape ``[N, dx]`` (or ``[N]``).
        y_train: Training samples of Y, shape ``[N, dy]`` (or ``[N]``).
        x_test: Held-out samples of X, shape ``[M, dx]`` (or ``[M]``).
        y_test: Held-out samples of Y, shape ``[M, dy]`` (or ``[M]``).
        estimator: Name of a torch_mist estimator factory, e.g. ``"smile"``
            (torch_mist's default), ``"infonce"``, ``"js"``, ``"mine"``,
            ``"nwj"``, ``"doe"``, ``"club"`` or ``"pq"``.
        seed: Seed for ``random``, numpy and torch in the child process.
        venv: The torch_mist virtual environment; relative paths are resolved
            against the repository root.
        timeout: Seconds before the child process is killed (``None`` waits
            forever).

    Returns:
        The record printed by ``torch_mist_reference.py``:
        ``{"estimator": str, "estimate": float, "seconds": float,
        "torch_mist_version": str}``.  ``seconds`` is the wall time of the fit
        plus evaluation inside the child, excluding interpreter start-up and
        data transfer.

    Raises:
        RuntimeError: If the venv is missing, the child fails or times out,
            or its output is not a JSON record.
        ValueError: If the arrays have inconsistent shapes.
    """
    python = torch_mist_python(venv)
    arrays = {
        "x_train": _as_float32("x_train", x_train),
        "y_train": _as_float32("y_train", y_train),
        "x_test": _as_float32("x_test", x_test),
        "y_test": _as_float32("y_test", y_test),
    }
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny:
            raise ValueError(f"x_{split} has {nx} rows but y_{split} has {ny}")
    for var in ("x", "y"):
        d_train = arrays[f"{var}_train"].shape[1]
        d_test = arrays[f"{var}_test"].shape[1]
        if d_train != d_test:
            raise ValueError(f"{var}_train has {d_train} columns but {var}_test has {d_test}")

    with tempfile.TemporaryDirectory(prefix="torch_mist_ref_") as tmp:
        data_path = Path(tmp) / "data.npz"
        np.savez(data_path, **arrays)
        cmd = [
            str(python),
            str(SCRIPT),
            "--data",
            str(data_path),
            "--estimator",
            estimator,
            "--seed",
            str(seed),
        ]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=tmp,
                # torch_mist keeps its best weights in tempfile.gettempdir() under a name that
                # is the same in every process: a private TMPDIR lets two benchmarks run at once
                env={**os.environ, "TMPDIR": tmp},
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"torch_mist ({estimator}) did not finish within {timeout} s") from exc

    if proc.returncode != 0:
        raise RuntimeError(f"torch_mist ({estimator}) exited with status {proc.returncode}:\n" + _tail(proc.stderr))
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise RuntimeError(
            f"could not parse torch_mist output as JSON: {proc.stdout!r}\n" + _tail(proc.stderr)
        ) from exc
    record["estimate"] = float(record["estimate"])
    record["seconds"] = float(record["seconds"])
    return record


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
