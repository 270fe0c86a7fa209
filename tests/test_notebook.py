"""gdlab.notebook (claim checks, warnings policy, plain-notebook glue), the set-up cell converter, and the
execution of every chapter's plain notebook outside the book (no build needed)."""
from __future__ import annotations

import importlib.util
import pathlib
import re
import warnings

import numpy as np
import pytest

from gdlab import notebook


def test_claim_that_holds_is_counted() -> None:
    claims = notebook.Claims(book={"eta": 0.9})
    assert claims.check(np.array([True, True]), "both runs converge") is True
    assert claims.held == 1 and claims.checked == 1 and not claims.reported
    assert claims.summary() == "1 claim checked, all hold (the book's parameters)"


def test_failing_claim_raises_with_its_message_under_the_books_parameters() -> None:
    claims = notebook.Claims(book={"eta": (0.9, 1.0)}, reader={"eta": (0.9, 1.0)})
    with pytest.raises(AssertionError, match="the rate equals rho"):
        claims.check(False, "the rate equals rho", book_only=True)


def test_failing_general_claim_raises_even_with_changed_parameters() -> None:
    claims = notebook.Claims(book={"eta": 0.9}, reader={"eta": 1.5})
    with pytest.raises(AssertionError, match="theorem"):
        claims.check(np.array([True, False]), "the theorem's prediction")


def test_book_only_claim_is_reported_when_parameters_changed(capsys) -> None:
    claims = notebook.Claims(book={"eta": (0.9, 1.0), "x0": 1.3}, reader={"eta": [0.8, 1.0], "x0": 1.3})
    assert claims.changed == ["eta"]
    assert claims.check(False, "settles on the 2-cycle", book_only=True) is False
    out = capsys.readouterr().out
    assert "this check is about the book's parameters (changed here: eta)" in out
    assert "settles on the 2-cycle" in out
    assert claims.reported == ["settles on the 2-cycle"]
    claims.check(True, "another")
    assert claims.summary().startswith("2 claims checked: 1 holds, 1 reported")


def test_claims_validate_their_arguments() -> None:
    with pytest.raises(ValueError, match="claim"):
        notebook.Claims().check(True, "  ")
    with pytest.raises(ValueError, match="does not define"):
        notebook.Claims(book={"a": 1}, reader={"b": 2})


def test_array_parameters_compare_by_value() -> None:
    claims = notebook.Claims(book={"lams": np.array([1.0, 2.0])}, reader={"lams": [1.0, 2.0]})
    assert claims.changed == []
    claims.reader["lams"] = [1.0, 3.0]
    assert claims.changed == ["lams"]


def test_strict_mode_follows_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(notebook.STRICT_ENV, "1")
    assert notebook.strict()
    monkeypatch.setenv(notebook.STRICT_ENV, "0")
    assert not notebook.strict()
    monkeypatch.delenv(notebook.STRICT_ENV)
    assert not notebook.strict()


def test_warnings_policy_strict_raises_reader_warns() -> None:
    with warnings.catch_warnings():
        assert notebook.warnings_policy(strict_mode=True) == "strict"
        with pytest.raises(RuntimeWarning):
            np.exp(np.array([1000.0]))
    with warnings.catch_warnings(record=True) as seen:
        assert notebook.warnings_policy(strict_mode=False) == "reader"
        assert np.isinf(np.exp(np.array([1000.0])))[0]
    assert any(issubclass(w.category, RuntimeWarning) for w in seen)


def test_glue_shows_a_figure_as_png_and_keeps_values(monkeypatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(notebook, "_display", shown.append)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    notebook.glue("fig_x", fig, display=False)
    plt.close(fig)
    notebook.glue("num_x", 0.25, display=False)
    assert len(shown) == 1, "a glued figure must be displayed, a number glued with display=False not"
    data = shown[0].data
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "the figure is shown as a PNG image"
    assert notebook.GLUED["num_x"] == 0.25 and notebook.GLUED["fig_x"] is fig
    notebook.glue("num_y", 3, display=True)
    assert shown[-1] == 3


@pytest.mark.parametrize("display", [False, True])
def test_book_glue_sends_what_myst_nb_glue_sends(monkeypatch, display) -> None:
    """``book_glue`` is ``myst_nb.glue`` without its import: the same display message, value by value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import myst_nb.ext.glue as myst_glue

    ours, theirs = [], []
    monkeypatch.setattr(notebook, "_display_raw", lambda bundle, meta: ours.append((bundle, meta)))
    monkeypatch.setattr(myst_glue, "ipy_display", lambda bundle, raw, metadata: theirs.append((bundle, metadata)))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    values = {"a_float": 0.1 + 0.2, "an_int": 3, "a_string": "0, 1, 3", "an_array": np.arange(3.0),
              "a_figure": fig}
    for name, value in values.items():
        notebook.book_glue(name, value, display=display)
        myst_glue.glue(name, value, display=display)
    plt.close(fig)
    assert myst_glue.GLUE_PREFIX == notebook.GLUE_PREFIX
    assert len(ours) == len(theirs) == len(values)
    for (b1, m1), (b2, m2), name in zip(ours, theirs, values):
        assert b1 == b2 and m1 == m2, f"book_glue differs from myst_nb.glue for {name}"
        assert m1["scrapbook"]["name"] == name
        assert all(k.startswith(notebook.GLUE_PREFIX) != display for k in b1)


def test_book_glue_rejects_an_empty_name() -> None:
    with pytest.raises(ValueError, match="name"):
        notebook.book_glue("", 1.0)


def test_report_divergence(capsys) -> None:
    assert notebook.report_divergence(np.array([False, False]), ["a", "b"]) == []
    assert capsys.readouterr().out == ""
    assert notebook.report_divergence(np.array([True, False]), ["a", "b"]) == ["a"]
    assert "diverged" in capsys.readouterr().out
    with pytest.raises(ValueError, match="labels"):
        notebook.report_divergence(np.array([True]), ["a", "b"])


# ---------------------------------------------------------------------------------------------
# the set-up cell converter (tools/convert_setup_cells.py)
# ---------------------------------------------------------------------------------------------
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tool_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP = """# T

```{code-cell} ipython3
:tags: [remove-cell]
import warnings; warnings.simplefilter("error", RuntimeWarning)
import numpy as np
```

```{code-cell} ipython3
import warnings; warnings.simplefilter("error", RuntimeWarning)
```
"""


def test_convert_setup_cells_changes_only_the_setup_line_and_is_idempotent() -> None:
    convert = _tool("convert_setup_cells")
    once, changed = convert.convert_text(SETUP)
    assert changed and once.count(convert.NEW) == 1, "exactly the first (set-up) cell is converted"
    assert once.replace(convert.NEW, 'import warnings; warnings.simplefilter("error", RuntimeWarning)', 1) == SETUP
    twice, changed_again = convert.convert_text(once)
    assert not changed_again and twice == once
    assert convert.OLD.search(once), "a later cell with the same line is not the set-up cell: left alone"


def test_chapter_1_uses_the_warnings_policy() -> None:
    text = (ROOT / "chapters" / "01_dynamical_system.md").read_text(encoding="utf-8")
    convert = _tool("convert_setup_cells")
    assert convert.NEW in text and not convert.OLD.search(text)


# Every chapter is executed once per test run, by nbval over the notebook the build reads (root conftest.py:
# one item per cell, a check of the figures glued, and the run handed to the build's execution cache).
# The plain notebooks differ from it only in their first cell and the glue import, which
# tests/test_book_notebooks.py checks statically; it also runs a sample of them (chapters 1 and 6, and
# chapter 1 with changed parameters).


def test_library_digest_ignores_generated_modules(tmp_path) -> None:
    """The execution cache's stamp changes with the package sources, not with what a run writes.

    The linear-network kernels write generated ``.py`` modules under ``kernels/__pycache__`` while a
    chapter runs; if they counted, the cache would be emptied mid-run and every chapter executed twice.
    """
    spec = importlib.util.spec_from_file_location("course_tools_digest", ROOT / "_ext" / "course_tools.py")
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    pkg = tmp_path / "code" / "src" / "pkg"
    (pkg / "__pycache__" / "gen").mkdir(parents=True)
    (pkg / "mod.py").write_text("x = 1\n")
    before = tools.library_digest(tmp_path, ["code/src"])
    (pkg / "__pycache__" / "gen" / "linear_3_3_3.py").write_text("y = 2\n")
    assert tools.library_digest(tmp_path, ["code/src"]) == before
    (pkg / "mod.py").write_text("x = 2\n")
    assert tools.library_digest(tmp_path, ["code/src"]) != before
