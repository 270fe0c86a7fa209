"""Build the student edition or the whole-book PDF (``make student``, ``make pdf``).

Both reuse the instructor build's execution cache (``_build/.jupyter_cache``): a chapter whose code
is unchanged is not executed again, so these builds only parse and write.  Each keeps its own
Sphinx environment (``.doctrees``), so it never disturbs ``_build/html``.

* ``student``: the HTML book with ``course_edition = "student"`` (sphinx-exercise's
  ``hide_solutions``: no solution node is created) into ``_build/student/html``.
* ``pdf``: the instructor edition as one HTML page (Sphinx's ``singlehtml`` builder, made to work
  with sphinx-proof by ``course_edition.share_html_visitors``) into ``_build/pdf/html``, printed by
  headless Chromium (the browser the tests already use; installed with apt-get when missing, as
  for the tests) into ``_build/pdf/book.pdf``: A4, MathJax typeset, page numbers, a PDF outline,
  internal links.  ``--student`` prints the student edition instead (``_build/pdf/book-student.pdf``).

Usage: ``python _ext/build_edition.py {student,pdf} [--student]``; strict like ``make book``
(``-W -n --keep-going``): a warning fails the build.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"

#: Resolves when MathJax has typeset the page and every image has loaded or failed.
SETTLE_JS = r"""(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images).map(
    i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  await document.fonts.ready;
  return true;
})()"""


def sphinx_build(outdir: Path, builder: str, edition: str) -> None:
    """One strict Sphinx build of the book (``jupyter-book build``'s configuration) into ``outdir``."""
    from jupyter_book.sphinx import build_sphinx

    import shutil

    os.environ.pop("MPLBACKEND", None)  # the kernels need matplotlib's inline backend
    shutil.rmtree(outdir, ignore_errors=True)  # no file left over from an earlier build or edition
    overrides = {
        "external_toc_path": (ROOT / "_toc.yml").as_posix(),
        "latex_individualpages": False,
        "nitpicky": True,
        "course_edition": edition,
        # share the instructor build's execution cache: no chapter runs again if its code is unchanged
        "nb_execution_cache_path": str(CACHE),
    }
    result = build_sphinx(
        ROOT,
        outdir,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=overrides,
        doctreedir=outdir.parent / f".doctrees-{builder}",
        builder=builder,
        force_all=True,
        warningiserror=True,
        keep_going=True,
    )
    if result != 0:
        sys.exit(f"the {edition} {builder} build failed (see the warnings above)")


def print_pdf(html: Path, pdf: Path) -> None:
    """Print ``html`` (one page) to ``pdf`` with headless Chromium."""
    sys.path.insert(0, str(ROOT / "tests"))
    import browser  # tests/browser.py: the Chromium driver of the browser tests

    with browser.Chromium(timeout=600) as chromium:
        start = time.perf_counter()
        report = chromium.visit(html.resolve().as_uri(), "document.title", SETTLE_JS)
        loaded = time.perf_counter()
        errors = [e for e in report.console_errors if "searchindex.js" not in e]  # no search in print
        if errors:
            sys.exit("console errors in the page to print:\n  " + "\n  ".join(errors))
        data = chromium.print_to_pdf()
        print(f"page loaded and typeset in {loaded - start:.0f} s, printed in {time.perf_counter() - loaded:.0f} s")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=("student", "pdf"))
    parser.add_argument("--student", action="store_true", help="pdf: print the student edition")
    parser.add_argument("--print-only", action="store_true", help="pdf: reprint the existing one-page book")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.target == "student":
        out = BUILD / "student" / "html"
        sphinx_build(out, "html", "student")
        print(f"student edition built in {time.perf_counter() - start:.0f} s: open {out / 'index.html'}")
        return
    edition = "student" if args.student else "instructor"
    out = BUILD / "pdf" / ("html-student" if args.student else "html")
    if not args.print_only:
        sphinx_build(out, "singlehtml", edition)
    built = time.perf_counter()
    pdf = BUILD / "pdf" / ("book-student.pdf" if args.student else "book.pdf")
    # singlehtml writes the whole book into the root page (chapters/00_preface.html) but with links
    # relative to the output folder (_static/, _images/): put the page there before printing
    import yaml

    root_doc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    root_page = out / f"{root_doc}.html"
    single = out / "book.html"
    single.write_text(root_page.read_text(encoding="utf-8"), encoding="utf-8")
    print_pdf(single, pdf)
    size = pdf.stat().st_size / 1e6
    print(f"{pdf} written ({size:.1f} MB): one-page build {built - start:.0f} s, printing {time.perf_counter() - built:.0f} s")


if __name__ == "__main__":
    main()
