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
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --nbval-lax --nbval-current-env -p no:cacheprovider\n")
    (tmp_path / "good.md").write_text(_chapter("x = 2\n---\nassert x == 2"))
    (tmp_path / "bad.md").write_text(_chapter("x = 2\n---\nassert x == 3, 'claimed result does not hold'"))
    (tmp_path / "plain.md").write_text("# Not a notebook\n\nJust prose.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "FAILED bad.md::Cell 1" in out, out
    assert "3 passed, 1 failed" in out.replace("1 failed, 3 passed", "3 passed, 1 failed"), out
