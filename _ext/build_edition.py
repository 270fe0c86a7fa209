"""Build the student edition or the whole-book PDF (``make student``, ``make pdf``).

Both reuse the instructor build's execution cache (``_build/.jupyter_cache``): a chapter whose code
is unchanged is not executed again.  The instructor PDF also starts from a copy of the instructor
build's Sphinx environment (``_build/.doctrees``), so it reads only the pages changed since ``make
book`` (usually none) and only writes; the student edition reads every page (its solutions are left
out while reading).  Each keeps its own environment (``.doctrees-*``), so it never disturbs
``_build/html``.

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
MAIN_DOCTREES = BUILD / ".doctrees"  # the Sphinx environment of `make book`

#: Resolves when MathJax has typeset the page and every image has loaded or failed.
SETTLE_JS = r"""(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all(Array.from(document.images).map(
    i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; })));
  await document.fonts.ready;
  return true;
})()"""


def sphinx_build(outdir: Path, builder: str, edition: str, reuse_env: bool = False) -> None:
    """One strict Sphinx build of the book (``jupyter-book build``'s configuration) into ``outdir``.

    ``reuse_env``: start from a copy of the instructor build's Sphinx environment (``_build/.doctrees``,
    the pages as ``make book`` read them) when there is one, so that only the pages changed since are
    read again (usually none: the build only writes); the instructor build's own files are not touched.
    """
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
    doctreedir = outdir.parent / f".doctrees-{builder}"
    force_all = True
    if reuse_env and (MAIN_DOCTREES / "environment.pickle").is_file():
        shutil.rmtree(doctreedir, ignore_errors=True)
        shutil.copytree(MAIN_DOCTREES, doctreedir)
        # the configuration of `jupyter-book build` exactly (any other value of a setting that the
        # environment depends on would make Sphinx read every page again); MyST-NB then looks for its
        # cache next to the output folder: point that at the instructor build's cache
        del overrides["nb_execution_cache_path"]
        link = outdir.parent / CACHE.name
        if link.is_symlink() or not link.exists():
            link.unlink(missing_ok=True)
            link.symlink_to(CACHE, target_is_directory=True)
        force_all = False
    result = build_sphinx(
        ROOT,
        outdir,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=overrides,
        doctreedir=doctreedir,
        builder=builder,
        force_all=force_all,
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
        sphinx_build(out, "singlehtml", edition, reuse_env=edition == "instructor")
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
