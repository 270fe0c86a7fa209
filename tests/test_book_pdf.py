"""The whole-book PDF (``make pdf``) built from the strict build's Sphinx environment.

================================  ==================================================================
test                              fails when
================================  ==================================================================
test_pdf_whole_book               ``make pdf`` fails or warns, or the PDF has a page count out of
                                  range, misses a theorem title, shows raw TeX, has too few internal
                                  links or no outline
================================  ==================================================================

Its own file (the longest check of the built book), so that ``pytest-xdist`` runs it on one worker
while the other builds the student edition (``test_book_editions.py``).
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


@pytest.mark.book
def test_pdf_whole_book(built_book: pathlib.Path) -> None:
    """``make pdf``: page count in range, theorem titles in the text, no raw TeX, internal links."""
    from pypdf import PdfReader

    _build_edition(["pdf"])
    reader = PdfReader(ROOT / "_build" / "pdf" / "book.pdf")
    n = len(reader.pages)
    print(f"book.pdf: {n} pages")
    assert PDF_PAGES[0] <= n <= PDF_PAGES[1], f"book.pdf has {n} pages, expected {PDF_PAGES}"
    # NFKC: the PDF's text has typographic ligatures (ﬁ, ﬃ) where the source has letters
    text = unicodedata.normalize("NFKC", re.sub(r"\s+", " ", pdf_text(ROOT / "_build" / "pdf" / "book.pdf", reader)))
    titles = [unicodedata.normalize("NFKC", re.sub(r"\\(.)", r"\1", t)) for t in theorem_titles()]  # no Markdown escapes
    assert len(titles) >= 5, f"too few theorem titles found in the sources: {titles}"
    missing = [t for t in titles if t not in text]
    assert not missing, f"theorem titles missing from the PDF text: {missing}"
    for chapter in ("Theorem 2.1", "Exercise 1.1", "Solutions manual"):
        assert chapter in text, f"{chapter!r} not in the PDF text"
    # math left untypeset keeps its delimiters; TeX commands alone may sit in code (plot labels)
    raw = re.findall(r"\\\(|\\\[|\\begin\{|\$\$", text)
    assert not raw, f"raw TeX in the PDF text: {raw[:10]}"
    internal = sum(1 for p in reader.pages for a in (p.get("/Annots") or [])
                   if a.get_object().get("/Subtype") == "/Link" and "/URI" not in (a.get_object().get("/A") or {}))
    assert internal >= 50, f"only {internal} internal links in the PDF"
    assert reader.outline, "the PDF has no outline (bookmarks)"
