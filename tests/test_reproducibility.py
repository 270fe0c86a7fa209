"""Static reproducibility checks: every random number in the book comes from a seeded generator.

Runs on the sources (chapters' code cells read with jupytext, and the ``gdlab`` package), so it needs no
build and takes well under a second.  The dynamic check, that re-executing chapters gives the build's
glued numbers digit for digit, is ``test_glued_numbers_reproduce`` in ``tests/test_book.py`` (it needs
the built book).
"""
from __future__ import annotations

import ast
import pathlib
import re
import warnings

import jupytext
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: numpy.random names that do not draw from the hidden global state
SEEDABLE = {"default_rng", "Generator", "SeedSequence", "BitGenerator", "PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def randomness_problems(source: str) -> list[str]:
    """Uses of unseeded or global-state randomness in Python ``source`` (IPython magics are skipped)."""
    code = "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())
    with warnings.catch_warnings():  # e.g. an invalid escape in a docstring is not this test's business
        warnings.simplefilter("ignore")
        tree = ast.parse(code)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "random" for a in node.names):
            problems.append(f"line {node.lineno}: `import random` (use numpy.random.default_rng(seed))")
        elif isinstance(node, ast.ImportFrom) and node.module == "random":
            problems.append(f"line {node.lineno}: `from random import ...` (use numpy.random.default_rng(seed))")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            head, _, last = name.rpartition(".")
            if head.endswith("random") and head.split(".")[0] in ("np", "numpy") and last not in SEEDABLE:
                problems.append(f"line {node.lineno}: `{name}(...)` draws from numpy's global state")
            elif last == "default_rng" and (
                not node.args or (isinstance(node.args[0], ast.Constant) and node.args[0].value is None)
            ) and not node.keywords:
                problems.append(f"line {node.lineno}: `{name}()` without a seed")
    return problems


def chapter_sources() -> list[pathlib.Path]:
    return sorted(p for p in (ROOT / "chapters").glob("*.md") if "kernelspec:" in p.read_text(encoding="utf-8")[:2000])


def package_sources() -> list[pathlib.Path]:
    """The package's source files (not the kernel modules that ``gdlab.kernels._linear`` generates into
    ``__pycache__`` from its template, a source file itself; old versions of them accumulate there)."""
    return sorted(p for p in (ROOT / "code" / "src" / "gdlab").rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.name)
def test_chapter_randomness_is_seeded(path: pathlib.Path) -> None:
    nb = jupytext.read(path)
    problems = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        problems += [f"code cell {i}, {p}" for p in randomness_problems(cell.source)]
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", package_sources(), ids=lambda p: str(p.relative_to(ROOT / "code" / "src")))
def test_package_randomness_is_seeded(path: pathlib.Path) -> None:
    problems = randomness_problems(path.read_text(encoding="utf-8"))
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_check_catches_unseeded_randomness() -> None:
    bad = "import numpy as np\nx = np.random.rand(3)\nrng = np.random.default_rng()\nimport random\n%matplotlib inline\n"
    assert len(randomness_problems(bad)) == 3
    good = "import numpy as np\nrng = np.random.default_rng(20261123)\nx = rng.normal(size=3)\n"
    assert randomness_problems(good) == []
