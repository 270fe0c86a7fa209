"""The chapters outside the book: the reader's plain notebooks, and glued numbers reproduced by a fresh run.

Each chapter is executed once per test run, by nbval (root ``conftest.py``): the build's notebook, whose
outputs the strict build then renders.  This file runs chapters again where a *second, independent*
execution is the point, and checks the plain notebooks (``_build/notebooks``, issue 12):

=================================================  ==================================================
test                                               fails when
=================================================  ==================================================
test_plain_code_is_the_book_code                   a plain notebook's code differs from the code nbval
                                                   executes (the book's) other than by its first
                                                   "check gdlab" cell and ``glue`` from gdlab.notebook
                                                   (static: no build, no kernel)
test_glued_numbers_reproduce                       the plain notebooks of a sample of chapters, run
                                                   anew (strict, the book's parameters), stop, show
                                                   another number of figures than the book has, or
                                                   glue a ``text/plain`` value different from the
                                                   build's (nbval's run), to the last digit
test_plain_notebooks_*                             a chapter has no exported notebook, its Markdown
                                                   keeps MyST or lacks the book's numbers, its code is
                                                   not the exported code, it misses a book figure, or
                                                   chapter 1 stops instead of reporting when a reader
                                                   changes its parameters cell
=================================================  ==================================================
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from book_build import ROOT, kernel_env  # noqa: E402
from test_book import is_notebook, toc_pages  # noqa: E402

EXECUTED = ROOT / "_build" / "jupyter_execute"
# chapters re-executed by test_glued_numbers_reproduce: a fixed sample, so the test does the same work on
# every machine (BOOK_REPRO_ALL=1 re-executes every chapter)
REPRO_SAMPLE = ("chapters/01_dynamical_system", "chapters/06_local_pl")


def notebook_chapters() -> list[str]:
    return [p for p in toc_pages() if is_notebook(p)]


# ---------------------------------------------------------------------------------------------
# the plain notebook is the book's code (static)
# ---------------------------------------------------------------------------------------------
def _book_cells(page: str) -> list[tuple[str, list[str]]]:
    """(source, tags) of the code cells the build and nbval execute (MyST-NB's reading of the chapter)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    md = MdParserConfig(enable_extensions=set(config.get("parse", {}).get("myst_enable_extensions", [])))
    path = ROOT / f"{page}.md"
    nb = read_myst_markdown_notebook(path.read_text(encoding="utf-8"), config=md, path=str(path))
    return [(c.source.strip(), list(c.metadata.get("tags", []))) for c in nb.cells if c.cell_type == "code"]


def test_plain_code_is_the_book_code() -> None:
    """The plain notebook = its "check gdlab" cell + the book's cells, with only the glue import swapped.

    nbval executes the book's cells (root conftest.py); this makes that a test of the reader's notebook too,
    with the plain runs below (chapter 1 with changed parameters, the reproduction sample).
    """
    tool = _export_tool()
    chapters = notebook_chapters()
    assert chapters, "no executable chapter found"
    swaps = 0
    for page in chapters:
        plain = [c for c in tool.code_notebook(ROOT, page).cells if c.cell_type == "code"]
        assert "requirements" in plain[0].metadata.get("tags", []) and "find_spec(\"gdlab\")" in plain[0].source, (
            f"{page}: the plain notebook does not start with its requirements cell")
        book = _book_cells(page)
        assert len(plain) - 1 == len(book), f"{page}: {len(plain) - 1} plain code cells, the book has {len(book)}"
        for i, (cell, (source, tags)) in enumerate(zip(plain[1:], book)):
            back = cell.source.replace(tool.PLAIN_GLUE_IMPORT, tool.BOOK_GLUE_IMPORT).strip()
            swaps += cell.source != source
            assert back == source, f"{page} code cell {i}: the plain notebook's code is not the book's:\n{cell.source[:400]}"
            assert list(cell.metadata.get("tags", [])) == tags, f"{page} code cell {i}: tags {cell.metadata.get('tags')} != {tags}"
    assert swaps >= len([p for p in chapters if tool.BOOK_GLUE_IMPORT in (ROOT / f"{p}.md").read_text()]), \
        "the glue import was not swapped in every chapter that imports it"


def test_chapters_import_glue_from_gdlab() -> None:
    """Every chapter that glues imports ``book_glue`` (``myst_nb.glue`` costs a second of imports per kernel).

    Only that line is swapped for the plain notebook's ``glue``, which shows glued figures in Jupyter.
    """
    tool = _export_tool()
    for page in notebook_chapters():
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        assert "from myst_nb import glue" not in text, f"{page}: import glue as `{tool.BOOK_GLUE_IMPORT}`"
        if "glue(" in text:
            assert tool.BOOK_GLUE_IMPORT in text, f"{page} glues but does not import `{tool.BOOK_GLUE_IMPORT}`"


def test_plain_code_check_can_fail() -> None:
    """The comparison above sees a changed line (self-test of its normalisation)."""
    tool = _export_tool()
    book = tool.BOOK_GLUE_IMPORT + "\nx = 1"
    plain = tool.GLUE_IMPORT.sub(tool.PLAIN_GLUE_IMPORT, book)
    assert plain != book and plain.replace(tool.PLAIN_GLUE_IMPORT, tool.BOOK_GLUE_IMPORT) == book
    assert (tool.PLAIN_GLUE_IMPORT + "\nx = 2").replace(tool.PLAIN_GLUE_IMPORT, tool.BOOK_GLUE_IMPORT) != book


# ---------------------------------------------------------------------------------------------
# reproducibility: the plain notebooks of a sample, run anew
# ---------------------------------------------------------------------------------------------
#: Prepended to a plain notebook run by test_glued_numbers_reproduce: record the text/plain of every
#: glued value at glue time, exactly as myst_nb.glue formats it (IPython's format_display_data).
RECORD_GLUE = """import IPython.core.formatters as _fmt, gdlab.notebook as _nb
_RECORDED, _plain_glue = {}, _nb.glue
def _recording_glue(name, value, display=True):
    if not hasattr(value, "savefig"):
        _RECORDED[name] = _fmt.format_display_data(value)[0].get("text/plain")
    return _plain_glue(name, value, display=display)
_nb.glue = _recording_glue"""
REPORT_GLUE = "import json as _json; print('GLUED-TEXT ' + _json.dumps(_RECORDED))"


def build_glued_text(page: str) -> dict[str, str]:
    """{key: text/plain} of the glued values of the build's run of ``page`` (figures excluded)."""
    data = json.loads((EXECUTED / f"{page}.glue.json").read_text(encoding="utf-8"))
    return {k: "".join(v["data"]["text/plain"]) for k, v in data.items()
            if "text/plain" in v.get("data", {}) and not any(m.startswith("image/") for m in v["data"])}


def run_plain(page: str, cwd: pathlib.Path, env: dict, edit=None):
    """Execute the plain notebook of ``page`` (as exported, optionally edited) in a fresh kernel."""
    import nbclient

    nb = _plain(page)
    if edit:
        edit(nb)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=900,
                            resources={"metadata": {"path": str(cwd)}}).execute(env=env)
    return nb


def _images(nb) -> int:
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if {"image/png", "image/svg+xml"} & set(o.get("data", {})))


@pytest.mark.book
def test_glued_numbers_reproduce(built_book: pathlib.Path) -> None:
    """Every glued text/plain value of a sample of chapters equals the build's, to the last digit.

    The build's values come from nbval's execution (root conftest.py); this is a second execution, by
    another client (nbclient), of the plain notebook a reader downloads, strict, with the book's
    parameters: it also checks that the plain notebook runs and shows every figure of the book. The
    sample is fixed (``REPRO_SAMPLE``), not chosen by run time, so the test does the same work on
    every machine; ``BOOK_REPRO_ALL=1`` checks every chapter.
    """
    import nbformat

    sample = [p for p in notebook_chapters() if (EXECUTED / f"{p}.glue.json").is_file()
              and (os.environ.get("BOOK_REPRO_ALL") or p in REPRO_SAMPLE)]
    assert len(sample) >= min(2, len(REPRO_SAMPLE)), f"no glued values found for the sample {REPRO_SAMPLE}"

    def instrument(nb):
        nb.cells.insert(1, nbformat.v4.new_code_cell(RECORD_GLUE))
        nb.cells.append(nbformat.v4.new_code_cell(REPORT_GLUE))

    env = kernel_env()
    env["GDLAB_STRICT"] = "1"
    differences, checked = [], 0
    for page in sample:
        built = build_glued_text(page)
        nb = run_plain(page, (ROOT / page).parent, env, instrument)
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
        fresh = json.loads(text.split("GLUED-TEXT ", 1)[1])
        assert set(fresh) == set(built), f"{page}: glue keys differ: {sorted(set(fresh) ^ set(built))}"
        differences += [f"{page} {k}: build {built[k]!r} vs fresh {fresh[k]!r}" for k in built if fresh[k] != built[k]]
        checked += len(built)
        assert _images(nb) == _figures(page), f"{page}: the plain notebook showed {_images(nb)} figures, the book has {_figures(page)}"
    print(f"reproduced {checked} glued values of {sample}")
    assert checked > 0, "no glued value compared"
    assert not differences, "glued values differ between the build and a fresh execution:\n" + "\n".join(differences)


# ---------------------------------------------------------------------------------------------
# plain notebooks (issue 12): every chapter as a plain Jupyter notebook in _build/notebooks
# ---------------------------------------------------------------------------------------------
# Exported at the end of every build by _ext/course_tools.py (tools/export_notebooks.py).
PLAIN = ROOT / "_build" / "notebooks"


def _export_tool():
    import importlib.util

    spec = importlib.util.spec_from_file_location("export_notebooks", ROOT / "tools" / "export_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plain(page: str) -> dict:
    import nbformat

    path = PLAIN / f"{pathlib.Path(page).name}.ipynb"
    assert path.is_file(), f"{page}: no plain notebook {path.relative_to(ROOT)}"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _figures(page: str) -> int:
    return len(re.findall(r"^\s*(`{3,}|:{3,})\{glue:figure\}", (ROOT / f"{page}.md").read_text(encoding="utf-8"), re.M))


@pytest.mark.book
def test_plain_notebooks_exist_first_cell_checks_gdlab(built_book: pathlib.Path) -> None:
    pages = [p for p in toc_pages() if is_notebook(p)]
    assert pages
    for page in pages:
        nb = _plain(page)
        offered = built_book / "_sources" / f"{page}.ipynb"
        assert offered.read_bytes() == (PLAIN / f"{pathlib.Path(page).name}.ipynb").read_bytes(), (
            f"{page}: the download menu's notebook is not the plain notebook")
        first_md, first_code = nb.cells[0], nb.cells[1]
        assert first_md.cell_type == "markdown" and "gdlab" in first_md.source and "make setup" in first_md.source
        assert "pip install -e code" in first_md.source
        assert first_code.cell_type == "code" and "requirements" in first_code.metadata.get("tags", [])
        assert "find_spec(\"gdlab\")" in first_code.source and "pip install -e code" in first_code.source


@pytest.mark.book
def test_plain_notebooks_markdown_has_no_myst_and_the_books_numbers(built_book: pathlib.Path) -> None:
    tool = _export_tool()
    problems = []
    for page in (p for p in toc_pages() if is_notebook(p)):
        nb, source = _plain(page), (ROOT / f"{page}.md").read_text(encoding="utf-8")
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        problems += [f"{page}: MyST left: {m.group(0)!r}" for m in tool.MYST_LEFT.finditer(markdown)]
        problems += [f"{page}: a code cell imports myst_nb" for c in nb.cells if c.cell_type == "code" and "myst_nb" in c.source]
        # the book's numbering: every theorem-like block, exercise and figure has its bold heading
        html = (built_book / f"{page}.html").read_text(encoding="utf-8")
        for number in re.findall(r'<span class="caption-number">((?:Theorem|Lemma|Proposition|Corollary|Definition|Remark|Exercise) [\d.]+) </span>', html):
            if f"**{number}**" not in markdown:
                problems.append(f"{page}: no heading **{number}**")
        for number in re.findall(r'<span class="caption-number">Fig\. ([\d.]+) </span>', html):
            if f"**Figure {number}.**" not in markdown:
                problems.append(f"{page}: no caption **Figure {number}.**")
        # glued numbers: every glue role was replaced by text (the exporter fails on an unknown key)
        if source.count("{glue:text}`") and "{glue" in markdown:
            problems.append(f"{page}: glue roles left")
        if "{cite" in source and "## References" not in markdown:
            problems.append(f"{page}: citations but no references section")
        if source.count("{solution}") != markdown.count("<details>"):
            problems.append(f"{page}: {source.count('{solution}')} solutions but {markdown.count('<details>')} <details>")
    assert not problems, "plain notebooks:\n" + "\n".join(problems)


@pytest.mark.book
def test_plain_notebooks_code_is_the_executed_code(built_book: pathlib.Path) -> None:
    """The code cells of each exported plain notebook are ``code_notebook``'s (checked against the book's code above)."""
    tool = _export_tool()
    for page in (p for p in toc_pages() if is_notebook(p)):
        exported = [(c.source, c.metadata.get("tags", [])) for c in _plain(page).cells if c.cell_type == "code"]
        executed = [(c.source, c.metadata.get("tags", [])) for c in tool.code_notebook(ROOT, page).cells if c.cell_type == "code"]
        assert exported == executed, f"{page}: the plain notebook's code differs from the executed code"


@pytest.mark.book
def test_plain_notebooks_show_every_book_figure(built_book: pathlib.Path) -> None:
    """Downloaded, before it is run, each plain notebook shows the book's figures as image outputs."""
    for page in (p for p in toc_pages() if is_notebook(p)):
        nb = _plain(page)
        images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if {"image/png", "image/svg+xml"} & set(o.get("data", {})))
        html_figures = (built_book / f"{page}.html").read_text(encoding="utf-8").count("<figure")
        assert images == _figures(page) == html_figures, (
            f"{page}: {images} image outputs, {_figures(page)} glue:figure directives, {html_figures} figures in the HTML")


@pytest.mark.book
def test_plain_notebook_reader_changes_parameters(built_book: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Chapter 1 with other step sizes in its ``parameters`` cell, run as a reader runs it (no
    ``GDLAB_STRICT``): it runs to the end, the checks about the book's parameters report instead of
    raising, a diverging run is reported, and every figure is still drawn."""
    import nbclient

    page = "chapters/01_dynamical_system"
    nb = _plain(page)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{page}: expected one cell tagged `parameters`, found {len(cells)}"
    edited = cells[0].source.replace("ETA_FACTORS = (0.9, 1.0, 1.1)", "ETA_FACTORS = (0.8, 1.0, 1.2)")
    edited = edited.replace("DW_ETAS = (0.9, 1.0, 1.1)", "DW_ETAS = (0.9, 1.0, 1.3)")
    assert edited.count("0.8, 1.0, 1.2") == 1 and edited.count("0.9, 1.0, 1.3") == 1, "parameters cell changed shape"
    cells[0].source = edited
    env = kernel_env()
    env.pop("GDLAB_STRICT", None)
    start = time.perf_counter()
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=900,
                            resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    print(f"chapter 1 with changed parameters executed in {time.perf_counter() - start:.1f} s")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream")
    assert "this check is about the book's parameters (changed here: ETA_FACTORS, DW_ETAS)" in text, text[-2000:]
    assert "diverged (drawn up to the last finite iterate): eta = 1.2 eta*" in text, text[-2000:]
    assert re.search(r"\d+ claims checked: \d+ hold, [1-9]\d* reported", text), text[-2000:]
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if {"image/png", "image/svg+xml"} & set(o.get("data", {})))
    assert images == _figures(page), f"{images} figures drawn, the book has {_figures(page)}"


@pytest.mark.book
def test_plain_notebooks_carry_the_builds_printed_output(built_book: pathlib.Path) -> None:
    """Downloaded, the notebook shows what the book's run printed: the claims summary of every chapter that has one.

    The build takes a chapter's outputs from its execution cache (filled by nbval in ``make test``), and
    MyST-NB then writes its executed notebook without outputs; the export reads them from the cache.
    """
    missing = []
    for page in notebook_chapters():
        if "print(claims.summary())" not in (ROOT / f"{page}.md").read_text(encoding="utf-8"):
            continue
        cells = [c for c in _plain(page).cells if c.cell_type == "code" and "print(claims.summary())" in c.source]
        printed = "".join(o.get("text", "") for c in cells for o in c.outputs if o.get("output_type") == "stream")
        if not re.search(r"\d+ claims? checked, all hold", printed):
            missing.append(f"{page}: {printed[:120]!r}")
    assert not missing, "plain notebooks without the build's printed claims summary:\n" + "\n".join(missing)
