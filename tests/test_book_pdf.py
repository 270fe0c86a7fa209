"""The whole-book PDF (``make pdf``) built from the strict build's Sphinx environment.

================================  ==================================================================
test                              fails when
================================  ==================================================================
test_pdf_pages_and_outline        the PDF has a page count out of range or no outline (bookmarks)
test_pdf_text                     the PDF's text misses a theorem title, a numbered theorem or
                                  exercise or the solutions manual, or shows raw TeX
test_pdf_internal_links           the PDF has too few internal links
================================  ==================================================================

When ``make pdf`` fails or warns, the fixture that runs it fails, and with it all three tests.

Its own file (the longest check of the built book), so that ``pytest-xdist`` runs it on one worker
while the other builds the student edition (``test_book_editions.py``). The PDF is made once (module
fixture) and checked by three tests: a worker asks for the next file while it has at most two tests
left, so a file of one long test would make it take two more files and sit on them until the PDF is
printed, while the other worker runs out of work.
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import unicodedata

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from book_build import ROOT  # noqa: E402
from test_book import _directives, numbered_chapters  # noqa: E402
from test_book_editions import _build_edition  # noqa: E402


#: Page count of the whole-book PDF (A4): fails if chapters go missing or the print layout breaks.
PDF_PAGES = (60, 400)


def theorem_titles() -> list[str]:
    """Titles of the numbered theorems of the chapters (those without maths, as the PDF's text)."""
    titles = []
    for page in numbered_chapters():
        for name, arg, _ in _directives((ROOT / f"{page}.md").read_text(encoding="utf-8")):
            if name == "prf:theorem" and arg and "$" not in arg and "{" not in arg:
                titles.append(arg)
    return titles


def pdf_text(path: pathlib.Path, reader) -> str:
    """The text of every page: poppler's ``pdftotext`` when installed (seconds), else pypdf (a minute or more)."""
    tool = shutil.which("pdftotext")
    if tool:
        proc = subprocess.run([tool, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            return proc.stdout
    return " ".join(p.extract_text() or "" for p in reader.pages)


@pytest.fixture(scope="module")
def book_pdf(built_book: pathlib.Path):
    """``make pdf`` of this run's build: the PDF's reader and its text (whitespace collapsed, NFKC)."""
    from pypdf import PdfReader

    _build_edition(["pdf"])
    path = ROOT / "_build" / "pdf" / "book.pdf"
    reader = PdfReader(path)
    # NFKC: the PDF's text has typographic ligatures (ﬁ, ﬃ) where the source has letters
    return reader, unicodedata.normalize("NFKC", re.sub(r"\s+", " ", pdf_text(path, reader)))


@pytest.mark.book
def test_pdf_pages_and_outline(book_pdf) -> None:
    """``make pdf``: page count in range, an outline."""
    reader, _ = book_pdf
    n = len(reader.pages)
    print(f"book.pdf: {n} pages")
    assert PDF_PAGES[0] <= n <= PDF_PAGES[1], f"book.pdf has {n} pages, expected {PDF_PAGES}"
    assert reader.outline, "the PDF has no outline (bookmarks)"


@pytest.mark.book
def test_pdf_text(book_pdf) -> None:
    """Theorem titles, numbered theorems and exercises and the solutions manual in the text; no raw TeX."""
    _, text = book_pdf
    titles = [unicodedata.normalize("NFKC", re.sub(r"\\(.)", r"\1", t)) for t in theorem_titles()]  # no Markdown escapes
    assert len(titles) >= 5, f"too few theorem titles found in the sources: {titles}"
    missing = [t for t in titles if t not in text]
    assert not missing, f"theorem titles missing from the PDF text: {missing}"
    for chapter in ("Theorem 2.1", "Exercise 1.1", "Solutions manual"):
        assert chapter in text, f"{chapter!r} not in the PDF text"
    # math left untypeset keeps its delimiters; TeX commands alone may sit in code (plot labels)
    raw = re.findall(r"\\\(|\\\[|\\begin\{|\$\$", text)
    assert not raw, f"raw TeX in the PDF text: {raw[:10]}"


@pytest.mark.book
def test_pdf_internal_links(book_pdf) -> None:
    """At least 50 links within the PDF (cross-references, the table of contents)."""
    reader, _ = book_pdf
    internal = sum(1 for p in reader.pages for a in (p.get("/Annots") or [])
                   if a.get_object().get("/Subtype") == "/Link" and "/URI" not in (a.get_object().get("/A") or {}))
    assert internal >= 50, f"only {internal} internal links in the PDF"
