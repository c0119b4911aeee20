"""Builds the documentation site with ``mkdocs build --strict``: every page of the nav
exists, every ``::: module`` block renders, every cross-reference resolves, and griffe
finds nothing wrong in the docstrings (a documented parameter missing from a signature,
for example). Needs the ``docs`` extra (part of ``dev``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path: Path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # a banner of the theme, not a warning
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=ROOT,  # mkdocs.yml names the griffe extension by a path relative to the root
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    for page in ("index.html", "getting-started/index.html", "choosing-an-estimator/index.html",
                 "api/training/index.html"):
        assert (site / page).is_file(), page
    api = (site / "api" / "training" / "index.html").read_text(encoding="utf-8")
    assert 'id="mist_reg.training.estimate_mi"' in api  # docstrings were rendered
