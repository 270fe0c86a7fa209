"""The student edition built from the strict build (no solution); the whole-book PDF: ``test_book_pdf.py``.

Files of their own so that, under ``pytest-xdist``, the two workers check the editions (the PDF takes
longest) while the browser checks of ``tests/test_book.py`` go on; all use the same build of this run
(fixture ``built_book``, ``tests/book_build.py``).

================================  ==================================================================
test                              fails when
================================  ==================================================================
test_student_edition_has_no_...   ``make student`` fails or warns, or its HTML (or any file shipped
                                  with it) holds a solution, a page source or the source archive
================================  ==================================================================
"""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from book_build import ROOT, SPHINX_PROBLEM, kernel_env  # noqa: E402
from test_book import numbered_chapters  # noqa: E402


# ---- the student edition ---------------------------------------------------------------------
def _build_edition(args: list[str]) -> str:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "_ext" / "build_edition.py"), *args],
                          capture_output=True, text=True, timeout=1800, env=kernel_env())
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"build_edition.py {' '.join(args)} failed (rc={proc.returncode}):\n{log[-6000:]}"
    problems = [line for line in log.splitlines() if SPHINX_PROBLEM.search(line)]
    assert not problems, f"build_edition.py {' '.join(args)} emitted warnings:\n" + "\n".join(problems[:50])
    assert "Executing notebook" not in log, "the edition build re-executed chapters instead of using the cache"
    print(f"build_edition.py {' '.join(args)}: {time.perf_counter() - start:.1f} s")
    return log


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def solution_snippets(html_dir: pathlib.Path) -> dict[str, list[str]]:
    """{page: [a 60-character piece of the text of each solution]} of a built edition."""
    found = {}
    for page in numbered_chapters():
        html = (html_dir / f"{page}.html").read_text(encoding="utf-8")
        pieces = re.findall(r'<section id="solution-content">(.*?)</section>', html, flags=re.S)
        found[page] = [t[:60] for t in (_text(p) for p in pieces) if len(t) >= 30]
    return found


@pytest.mark.book
def test_student_edition_has_no_solution(built_book: pathlib.Path) -> None:
    """``make student``: every exercise, no solution (not hidden: absent from the HTML)."""
    _build_edition(["student"])
    student = ROOT / "_build" / "student" / "html"
    instructor_solutions = solution_snippets(built_book)
    assert sum(map(len, instructor_solutions.values())) >= len(numbered_chapters()), \
        f"the instructor edition should have solutions in every chapter: {instructor_solutions}"
    for page in numbered_chapters():
        inst = (built_book / f"{page}.html").read_text(encoding="utf-8")
        stud = (student / f"{page}.html").read_text(encoding="utf-8")
        n_ex = len(re.findall(r'class="[^"]*\bexercise\b', inst))
        assert n_ex and len(re.findall(r'class="[^"]*\bexercise\b', stud)) == n_ex, f"{page}: exercises differ between editions"
        assert not re.search(r'class="[^"]*\bsolution\b', stud), f"{page}: the student edition has a solution element"
        text = _text(stud)
        leaked = [s for s in instructor_solutions[page] if s in text]
        assert not leaked, f"{page}: solution text in the student edition: {leaked[:3]}"
    # nothing shipped with the student edition holds a solution: no page source, notebook or archive
    for path in student.rglob("*"):
        if path.suffix in (".html", ".md", ".ipynb", ".txt", ".js", ".json") and "mathjax" not in path.parts:
            raw = path.read_text(encoding="utf-8", errors="replace")
            assert "{solution}" not in raw, f"{path}: a {{solution}} directive in the student edition"
            if path.suffix in (".md", ".ipynb"):
                raise AssertionError(f"{path}: the student edition ships a page source")
    assert not list(student.rglob("*.zip")), "the student edition ships the source archive"
    manual = _text((student / "chapters" / "solutions.html").read_text(encoding="utf-8"))
    assert "student edition" in manual and not any(s in manual for v in instructor_solutions.values() for s in v)
    # the instructor edition's manual holds every solution of every chapter
    inst_manual = _text((built_book / "chapters" / "solutions.html").read_text(encoding="utf-8"))
    missing = [s for v in instructor_solutions.values() for s in v if s not in inst_manual]
    assert not missing, f"solutions missing from the solutions manual: {missing[:3]}"
