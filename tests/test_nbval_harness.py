"""The chapter harness itself (root conftest.py): a MyST chapter whose cell raises must fail the test run,
and only a chapter whose every cell passed is handed to the build's execution cache."""
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


def chapter_source(body: str) -> str:
    """A MyST chapter with one code cell per ``---``-separated part of ``body`` (also used by other tests)."""
    return HEADER + "".join(f"\n```{{code-cell}} ipython3\n{cell}\n```\n" for cell in body.split("\n---\n"))


def test_failing_cell_fails_and_passing_cell_passes(tmp_path: pathlib.Path) -> None:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "export_notebooks.py", tmp_path / "tools")
    shutil.copy(ROOT / "tools" / "execute_chapters.py", tmp_path / "tools")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --nbval-lax --nbval-current-env -p no:cacheprovider\n")
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "good.md").write_text(chapter_source("x = 2\nprint('x is', x)\n---\nassert x == 2"))
    (chapters / "bad.md").write_text(chapter_source("x = 2\n---\nassert x == 3, 'claimed result does not hold'"))
    (chapters / "plain.md").write_text("# Not a notebook\n\nJust prose.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # each chapter runs as the build reads it: its code cells, then the figure count and the hand-over
    # to the build's execution cache (skipped for the chapter with a failing cell)
    assert "FAILED chapters/bad.md::Cell 1" in out, out
    assert "1 failed, 6 passed, 1 skipped" in out, out
    from jupyter_cache import get_cache

    records = {pathlib.Path(r.uri).name: r for r in get_cache(str(tmp_path / "_build" / ".jupyter_cache")).list_cache_records()}
    assert set(records) == {"good.md"}, f"only the chapter that passed is cached: {sorted(records)}"
    cached = get_cache(str(tmp_path / "_build" / ".jupyter_cache")).get_cache_bundle(records["good.md"].pk).nb
    assert [c.execution_count for c in cached.cells] == [1, 2], cached
    assert cached.cells[0].outputs == [{"output_type": "stream", "name": "stdout", "text": "x is 2\n"}], cached
