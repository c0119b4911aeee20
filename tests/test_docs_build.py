"""Builds the documentation site with ``mkdocs build --strict``: every page of the nav
exists, every ``::: module`` block renders, every cross-reference resolves, and griffe
finds nothing wrong in the docstrings (a documented parameter missing from a signature,
for example). Needs the ``docs`` extra (part of ``dev``)."""

from __future__ import annotations

import os
import re
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
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,  # mkdocs.yml names the griffe extension by a path relative to the root
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    for page in (
        "index.html",
        "getting-started/index.html",
        "choosing-an-estimator/index.html",
        "api/training/index.html",
    ):
        assert (site / page).is_file(), page
    api = (site / "api" / "training" / "index.html").read_text(encoding="utf-8")
    assert 'id="mist_reg.estimation.estimate.estimate_mi"' in api  # docstrings were rendered

    # the site renders without a network: formulas and fonts come from the site itself
    pages = {path: path.read_text(encoding="utf-8") for path in site.rglob("*.html")}
    for path, text in pages.items():
        for remote in ("cdn.jsdelivr.net", "fonts.googleapis.com", "fonts.gstatic.com", "unpkg.com", "mathjax"):
            assert remote not in text, f"{path.relative_to(site)} loads {remote}"
    for asset in (
        "assets/katex/katex.min.js",
        "assets/katex/katex.min.css",
        "assets/javascripts/katex-init.js",
        "assets/katex/fonts/KaTeX_Main-Regular.woff2",
        "assets/fonts/roboto-latin-400-normal.woff2",
    ):
        assert (site / asset).is_file(), asset
    css = (site / "assets" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    for font in set(re.findall(r"url\((fonts/[\w-]+\.\w+)\)", css)):
        assert (site / "assets" / "katex" / font).is_file(), f"katex.min.css needs {font}"
    # signatures show default values, not the names of constants
    assert not re.search(r'<span class="o">=</span>\s*<span class="n">DEFAULT_', api)
    assert 'batch_size</span><span class="o">=</span><span class="mi">64</span>' in api
    # docstrings link the pages they name; every page has previous/next links
    assert 'href="../../error_bars/">Error bars</a>' in api
    assert "md-footer__link--next" in pages[site / "index.html"]
    estimators = (site / "api" / "discriminative" / "index.html").read_text(encoding="utf-8")
    nwj = estimators[estimators.index('id="mist_reg.estimators.discriminative.nwj"') :]
    nwj = nwj[: nwj.index('id="mist_reg.estimators.discriminative.mine"')]
    assert "Negatives per sample" in nwj and "Hidden widths" in nwj  # a parameter table, not one line
