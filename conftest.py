"""Root pytest configuration: nbval over every chapter, executed as the reader's plain notebook.

Each chapter under ``chapters/`` that carries a jupytext/kernelspec header is collected as the code of
its exported plain notebook (``tools/export_notebooks.py``'s :func:`code_notebook`: the requirements
cell, then every code cell of the chapter with ``glue`` taken from :mod:`gdlab.notebook`, which
displays each glued figure). Every code cell is one nbval test item (``--nbval-lax``: a cell fails
when it raises; ``GDLAB_STRICT=1`` below makes a RuntimeWarning or a failing claim raise), and a last
item checks that the run showed one image per figure of the book. This is the one execution of each
chapter outside the book build in ``make test``: the code the reader downloads is the code tested.
"""
from __future__ import annotations

import os
import pathlib
import re
from unittest import mock

import nbval.plugin
import pytest

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


def _export_tool():
    import importlib.util

    path = pathlib.Path(__file__).resolve().parent / "tools" / "export_notebooks.py"
    spec = importlib.util.spec_from_file_location("export_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FigureCount(pytest.Item):
    """The chapter's executed cells showed one image output per ``{glue:figure}`` of the book."""

    def __init__(self, *, cells, figures, **kwargs):
        super().__init__(**kwargs)
        self.cells, self.figures = cells, figures

    def runtest(self):
        if any(c.test_outputs is None for c in self.cells):
            pytest.skip("not every cell of the chapter ran in this session")
        images = sum("image/png" in out.get("data", {}) for c in self.cells for out in c.test_outputs)
        assert images == self.figures, (
            f"{self.path.name}: the plain notebook showed {images} image(s), the book has {self.figures} figure(s)"
        )

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}::figures shown"


class JupytextNbFile(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading a chapter as its plain notebook (no temporary files)."""

    def collect(self):
        page = f"{self.path.parent.name}/{self.path.stem}"
        root = self.path.parent.parent

        def read(fp, as_version=4, **kwargs):
            return _export_tool().code_notebook(root, page)

        with mock.patch.object(nbval.plugin.nbformat, "read", read):
            cells = list(super().collect())
        yield from cells
        text = self.path.read_text(encoding="utf-8")
        figures = len(re.findall(r"^\s*(`{3,}|:{3,})\{glue:figure\}", text, re.M))
        yield FigureCount.from_parent(self, name="figures shown", cells=cells, figures=figures)


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if (opt.nbval or opt.nbval_lax) and file_path.suffix == ".md" and _is_myst_notebook(file_path):
        return JupytextNbFile.from_parent(parent, path=file_path)
    return None
