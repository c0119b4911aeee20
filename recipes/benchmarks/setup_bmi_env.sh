#!/usr/bin/env bash
# Create the isolated environment that draws the tasks of the public BMI benchmark
# (Czyz et al., "Beyond Normal", NeurIPS 2023; the `benchmark-mi` package) for
# recipes/benchmarks/bmi.py.
#
# benchmark-mi samples its tasks with JAX; jax and jaxlib are pinned to 0.4.30 (later
# releases removed APIs that benchmark-mi 0.1.3 uses). None of this belongs in the
# mist_reg environment: the venv at <repo root>/.venv-bmi is created without the system
# site packages, and it only writes the samples and their ground truth to .npz files,
# which mist_reg reads with numpy alone.
#
# Usage:
#   bash recipes/benchmarks/setup_bmi_env.sh            # create / reuse
#   PYTHON=/path/to/python3 bash recipes/benchmarks/setup_bmi_env.sh
#   FORCE=1 bash recipes/benchmarks/setup_bmi_env.sh    # rebuild
#
# The script is idempotent: if the venv already imports bmi it exits without touching
# anything.

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
VENV="${REPO_ROOT}/.venv-bmi"
PYTHON="${PYTHON:-python3}"
BMI_VERSION="0.1.3"
JAX_VERSION="0.4.30"

log() { echo "[setup_bmi_env] $*" >&2; }

if [[ "${FORCE:-0}" != "1" && -x "${VENV}/bin/python" ]] \
    && "${VENV}/bin/python" -c "import bmi" >/dev/null 2>&1; then
    log "bmi already importable from ${VENV}; nothing to do (FORCE=1 rebuilds)."
    exit 0
fi

if [[ "${FORCE:-0}" == "1" && -d "${VENV}" ]]; then
    log "FORCE=1: removing ${VENV}"
    rm -rf "${VENV}"
fi

if [[ ! -x "${VENV}/bin/python" ]]; then
    log "creating venv at ${VENV}"
    "${PYTHON}" -m venv "${VENV}"
fi

VPY="${VENV}/bin/python"
log "installing benchmark-mi==${BMI_VERSION} with jax and jaxlib ${JAX_VERSION}"
"${VPY}" -m pip install --quiet \
    "benchmark-mi==${BMI_VERSION}" \
    "jax==${JAX_VERSION}" \
    "jaxlib==${JAX_VERSION}"

"${VPY}" - <<'PY'
import sys
from importlib.metadata import version

import bmi
import jax

tasks = list(bmi.benchmark.BENCHMARK_TASKS)
print(f"[setup_bmi_env] ok: benchmark-mi {version('benchmark-mi')}, jax {jax.__version__}, "
      f"{len(tasks)} tasks", file=sys.stderr)
PY
