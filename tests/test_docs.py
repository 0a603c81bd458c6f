"""The documentation builds, and the README's Quickstart block runs on the base install as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _quickstart() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_quickstart_block_runs_and_prints_what_the_readme_says():
    block = _quickstart()
    assert "stable_baselines3" not in block and "torch" not in block  # the base install only
    out = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for line in out.stdout.splitlines():  # every printed line appears in the README's "prints" comment block
        assert line.strip() in (ROOT / "README.md").read_text(), line


def test_glossary_explains_every_term_the_issue_lists():
    glossary = (ROOT / "docs" / "glossary.md").read_text()
    for term in ("Morton's bound", "RVI", "Common random numbers", "IQM", "Naive policy", "KL leash", "RLOO",
                 "Critical fractile", "MOQ", "Outdating", "l_r / c_e", "Period Timeline", "invgym:"):
        assert f"**{term}" in glossary or f"`{term}" in glossary, term


@pytest.mark.slow
def test_mkdocs_site_builds_from_the_docstrings(tmp_path):
    pytest.importorskip("mkdocstrings", reason="the docs extra (mkdocs, mkdocs-material, mkdocstrings) is absent")
    # --strict: a broken cross-reference or link fails the build instead of warning.
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stderr
    envs = (tmp_path / "site" / "api" / "envs" / "index.html").read_text()
    assert "LostSalesEnv" in envs and "Period Timeline" in envs  # rendered from the class docstring
    assert "render_frame" in (tmp_path / "site" / "api" / "plot" / "index.html").read_text()
