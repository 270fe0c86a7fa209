"""Root pytest configuration: nbval over the MyST Markdown chapters, read with jupytext.

Each chapter under ``chapters/`` that carries a jupytext/kernelspec header is collected as a
notebook; every code cell is one test item (``--nbval-lax``: a cell fails when it raises).
"""
from __future__ import annotations

import os
from unittest import mock

import jupytext
import nbval.plugin

collect_ignore_glob = ["_build/*", ".venv/*", "node_modules/*", "code/*"]

os.environ.setdefault("MPLBACKEND", "Agg")
# strict mode of gdlab.notebook.warnings_policy() for every kernel the tests start (nbval, nbclient):
# a RuntimeWarning in a chapter is an error in the tests, as in the book build
os.environ.setdefault("GDLAB_STRICT", "1")

try:  # deterministic property tests: same examples every run
    from hypothesis import settings

    settings.register_profile("book", derandomize=True, deadline=None, print_blob=True)
    settings.load_profile("book")
except ImportError:  # pragma: no cover - hypothesis is pinned in requirements.txt
    pass


def _is_myst_notebook(path) -> bool:
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and ("kernelspec:" in head or "format_name: myst" in head)


class JupytextNbFile(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading MyST Markdown through jupytext (no temporary files)."""

    def collect(self):
        def read(fp, as_version=4, **kwargs):
            return jupytext.read(fp)

        with mock.patch.object(nbval.plugin.nbformat, "read", read):
            yield from super().collect()


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if (opt.nbval or opt.nbval_lax) and file_path.suffix == ".md" and _is_myst_notebook(file_path):
        return JupytextNbFile.from_parent(parent, path=file_path)
    return None
