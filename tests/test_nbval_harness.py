"""The chapter harness itself: a MyST chapter whose cell raises must fail the test run."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# A chapter
"""


def _chapter(body: str) -> str:
    return HEADER + "".join(f"\n```{{code-cell}} ipython3\n{cell}\n```\n" for cell in body.split("\n---\n"))


def test_failing_cell_fails_and_passing_cell_passes(tmp_path: pathlib.Path) -> None:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "export_notebooks.py", tmp_path / "tools")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --nbval-lax --nbval-current-env -p no:cacheprovider\n")
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "good.md").write_text(_chapter("x = 2\n---\nassert x == 2"))
    (chapters / "bad.md").write_text(_chapter("x = 2\n---\nassert x == 3, 'claimed result does not hold'"))
    (chapters / "plain.md").write_text("# Not a notebook\n\nJust prose.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # each chapter runs as its plain notebook: cell 0 is the requirements cell, then the chapter's
    # cells, then the figure-count item (no figures here)
    assert "FAILED chapters/bad.md::Cell 2" in out, out
    assert "1 failed, 7 passed" in out, out
