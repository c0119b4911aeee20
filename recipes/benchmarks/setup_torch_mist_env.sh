#!/usr/bin/env bash
# Create the isolated environment used to run torch_mist 0.2.17 as a reference
# in the accuracy benchmark (see recipes/benchmarks/reference.py).
#
# torch_mist needs numpy<2, pandas<2.3, pyro-ppl and hydra-core, none of which
# belong in the mist_reg core environment.  They are installed into a venv at
# <repo root>/.venv-torch-mist that is created with --system-site-packages so it
# reuses the torch already installed for the base interpreter instead of
# downloading a second copy.  The exact system torch version is pinned while
# installing, and the script checks afterwards that the venv still imports the
# system torch.
#
# Usage:
#   bash recipes/benchmarks/setup_torch_mist_env.sh            # create / reuse
#   PYTHON=/path/to/python3 bash recipes/benchmarks/setup_torch_mist_env.sh
#   FORCE=1 bash recipes/benchmarks/setup_torch_mist_env.sh    # rebuild
#
# The script is idempotent: if the venv already imports torch_mist it exits
# without touching anything.

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
VENV="${REPO_ROOT}/.venv-torch-mist"
PYTHON="${PYTHON:-python3}"
TORCH_MIST_VERSION="0.2.17"

log() { echo "[setup_torch_mist_env] $*" >&2; }

if [[ "${FORCE:-0}" != "1" && -x "${VENV}/bin/python" ]] \
    && "${VENV}/bin/python" -c "import torch_mist" >/dev/null 2>&1; then
    log "torch_mist already importable from ${VENV}; nothing to do (FORCE=1 rebuilds)."
    exit 0
fi

if ! "${PYTHON}" -c "import torch" >/dev/null 2>&1; then
    log "error: '${PYTHON}' cannot import torch; set PYTHON to the interpreter that has torch installed."
    exit 1
fi

# Distribution version as pip sees it (torch.__version__ may carry a local
# suffix such as "+cu130" that the installed metadata does not).
SYS_TORCH_DIST="$("${PYTHON}" -c 'from importlib.metadata import version; print(version("torch"))')"
SYS_TORCH_VERSION="$("${PYTHON}" -c 'import torch; print(torch.__version__)')"
SYS_TORCH_FILE="$("${PYTHON}" -c 'import torch; print(torch.__file__)')"
log "base interpreter: $("${PYTHON}" -c 'import sys; print(sys.executable)')"
log "system torch: ${SYS_TORCH_VERSION} (distribution ${SYS_TORCH_DIST}, ${SYS_TORCH_FILE})"

if [[ "${FORCE:-0}" == "1" && -d "${VENV}" ]]; then
    log "FORCE=1: removing ${VENV}"
    rm -rf "${VENV}"
fi

if [[ ! -x "${VENV}/bin/python" ]]; then
    log "creating venv at ${VENV}"
    "${PYTHON}" -m venv --system-site-packages "${VENV}"
fi

VPY="${VENV}/bin/python"

# Pin torch to the exact system build so pip treats the requirement as already
# satisfied and never downloads another wheel.  Any constraint file configured
# globally for pip still applies on top of this one.
CONSTRAINTS="$(mktemp)"
trap 'rm -f "${CONSTRAINTS}"' EXIT
echo "torch==${SYS_TORCH_DIST}" > "${CONSTRAINTS}"

log "installing torch-mist==${TORCH_MIST_VERSION} and its pinned dependencies"
"${VPY}" -m pip install \
    --constraint "${CONSTRAINTS}" \
    "torch-mist==${TORCH_MIST_VERSION}" \
    "numpy<2" \
    "pandas<2.3" \
    pyro-ppl \
    hydra-core

# Verify: torch_mist imports, and torch is still the system installation.
"${VPY}" - "${SYS_TORCH_FILE}" "${SYS_TORCH_VERSION}" <<'EOF'
import sys
from importlib.metadata import version
from pathlib import Path

import numpy
import torch
import torch_mist  # noqa: F401

expected_file, expected_version = sys.argv[1], sys.argv[2]
if Path(torch.__file__).resolve() != Path(expected_file).resolve():
    sys.exit(
        f"venv imports torch from {torch.__file__}, expected the system copy "
        f"at {expected_file}"
    )
if torch.__version__ != expected_version:
    sys.exit(f"venv torch is {torch.__version__}, expected {expected_version}")
if int(numpy.__version__.split(".")[0]) >= 2:
    sys.exit(f"venv numpy is {numpy.__version__}; torch_mist needs numpy<2")
print(
    f"[setup_torch_mist_env] ok: torch_mist {version('torch-mist')}, "
    f"torch {torch.__version__} (system), numpy {numpy.__version__}",
    file=sys.stderr,
)
EOF
