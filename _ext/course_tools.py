"""Local Sphinx extension for the course build (registered in ``_config.yml`` under ``sphinx.local_extensions``).

Things the stock Jupyter Book 1 toolchain does not do for an offline course text:

* **Download every chapter as a plain notebook.**  sphinx-book-theme adds an ``.ipynb`` entry to a
  page's download menu only when a launch service (Binder, Colab, ...) is configured, which this
  offline book does not have.  For every page that MyST-NB executed, :func:`offer_notebook` sets the
  theme's ``ipynb_source`` context key, so the download menu of each chapter offers ``.ipynb`` next to
  ``.md`` and ``.pdf``; at the end of the build :func:`export_plain_notebooks` writes that file: the
  chapter exported by ``tools/export_notebooks.py`` (numbers substituted, figures as outputs, no MyST
  left, a first cell that checks for ``gdlab``) to ``_build/notebooks/`` and ``_build/html/_sources/``.
  A failed export is a build warning (so ``-W`` fails the build).
* **Strict in the build, lenient for a reader.**  The chapters' set-up cells call
  ``gdlab.notebook.warnings_policy()``, which turns ``RuntimeWarning`` into an error only when
  ``GDLAB_STRICT=1``; :func:`setup` sets it for the kernels the build starts.
* **No console error and no remote URL from thebe.**  sphinx-thebe registers an inline ``<script>``
  (``const THEBE_JS_URL = "https://unpkg.com/..."``) at ``env-before-read-docs``, after the HTML builder
  was initialised; Sphinx 7.4's ``prepare_writing`` re-adds registry scripts with ``filename or ''``,
  which no longer equals the ``None`` of the first copy, so the inline script lands on every page
  twice and the browser reports ``Uncaught SyntaxError: Identifier 'THEBE_JS_URL' has already been
  declared``.  Live code (thebe) is switched off in ``_config.yml`` (``launch_buttons.thebe: false``),
  so :func:`drop_thebe_assets` removes thebe's scripts and stylesheet from every page.
* **No stale numbers after a library change.**  MyST-NB's execution cache (``execute_notebooks:
  cache``) keys a chapter on its own code only, so after a change to the book's Python package
  (``code/src``) an incremental build would keep serving numbers computed by the old code.
  :func:`refresh_stale_cache` hashes the package sources; when the hash differs from the one the
  cache was built with, it empties the cache and :func:`reread_after_library_change` makes Sphinx
  re-read (and so re-execute) every page.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

__version__ = "1.0"


def _is_thebe(asset) -> bool:
    filename = getattr(asset, "filename", None) or str(asset)
    body = (getattr(asset, "attributes", None) or {}).get("body", "")
    return "thebe" in str(filename).lower() or "THEBE_JS_URL" in body


def drop_thebe_assets(app, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's (unused, duplicated) script and stylesheet from the page."""
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def offer_notebook(app, pagename, templatename, context, doctree) -> None:
    """Put the plain notebook of ``pagename`` in the download menu (written by :func:`export_plain_notebooks`)."""
    if doctree is None or not context.get("sourcename", "").endswith(".md"):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():  # a plain Markdown page (not a notebook)
        return
    context["ipynb_source"] = f"{pagename}.ipynb"
    app.course_offered = getattr(app, "course_offered", set()) | {pagename}


def export_plain_notebooks(app, exception) -> None:
    """After a successful HTML build of the book: export every chapter as a plain notebook
    (``tools/export_notebooks.py``).

    Writes ``_build/notebooks/<chapter>.ipynb`` and the same file at ``_build/html/_sources/<page>.ipynb``,
    the download-menu target set by :func:`offer_notebook`. Not for the one-page build of the PDF
    (``singlehtml``, no download menu) nor the student edition (which ships no page source): about
    10 s saved in each.
    """
    if exception is not None or app.builder.name != "html" or getattr(app.config, "course_edition", "") == "student":
        return
    import importlib.util

    script = Path(app.srcdir) / "tools" / "export_notebooks.py"
    spec = importlib.util.spec_from_file_location("course_export_notebooks", script)
    export = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export)
    out = Path(app.outdir).parent / "notebooks"
    book = export.Book(Path(app.srcdir))
    pages = export.notebook_pages(book)
    out.mkdir(parents=True, exist_ok=True)
    for page in pages:
        nb, problems = export.export_page(book, page, set(pages))
        for problem in problems:
            LOGGER.warning(f"[course_tools] notebook export of {page}: {problem}")
        export.nbformat.write(nb, out / f"{Path(page).name}.ipynb")
        target = Path(app.outdir) / "_sources" / f"{page}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / f"{Path(page).name}.ipynb", target)
    missing = sorted(getattr(app, "course_offered", set()) - set(pages))
    if missing:
        LOGGER.warning(f"[course_tools] download menu offers notebooks that were not exported: {missing}")
    LOGGER.info(f"[course_tools] exported {len(pages)} plain notebooks to {out}")


def library_digest(root: Path, paths: list[str]) -> str | None:
    """SHA-256 of the ``*.py`` files under ``paths`` (relative to ``root``); ``None`` if there are none.

    Files under ``__pycache__`` are not sources: the numba kernels write generated modules there
    (``gdlab/kernels/__pycache__/gdlab_gen``) while a build or a test run executes, and counting them
    would empty the execution cache in the middle of the run.
    """
    files = sorted(f for p in paths if (root / p).is_dir() for f in (root / p).rglob("*.py")
                   if "__pycache__" not in f.relative_to(root).parts)
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def refresh_stale_cache(app) -> None:
    """Empty MyST-NB's execution cache when the package sources changed since it was filled."""
    digest = library_digest(Path(app.srcdir), list(app.config.course_library_paths))
    config = getattr(app.env, "mystnb_config", None)
    if digest is None or config is None or not config.execution_cache_path:
        return
    cache = Path(config.execution_cache_path)
    stamp = cache.with_name(cache.name + ".library-sha256")
    previous = stamp.read_text().strip() if stamp.is_file() else None
    if previous == digest:
        return
    if cache.exists():
        LOGGER.info(f"[course_tools] the package sources changed: emptying the execution cache {cache}")
        shutil.rmtree(cache)
        app.course_reread_all = True
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")


def reread_after_library_change(app, env, added, changed, removed):
    """Re-read every page after :func:`refresh_stale_cache` emptied the cache."""
    return sorted(env.found_docs) if getattr(app, "course_reread_all", False) else []


def cache_pybtex_entry_points() -> None:
    """Look each pybtex plugin up once per build, not once per citation.

    pybtex finds its plugins with ``importlib.metadata.entry_points(group=..., name=...)``, which reads
    the metadata of every installed distribution (about 6 ms here), and sphinxcontrib-bibtex asks for
    them for every citation: several seconds of every build. The installed entry points do not change
    during a build; plugins registered at run time are looked up before the entry points, as before.
    """
    import functools

    import pybtex.plugin

    lookup = pybtex.plugin.entry_points
    if hasattr(lookup, "cache_info"):  # already cached (a second build in this process)
        return

    @functools.lru_cache(maxsize=None)
    def entry_points(**selection):
        return tuple(lookup(**selection))

    pybtex.plugin.entry_points = entry_points


def default_favicon(app, config) -> None:
    """Use the book's icon (next to this file) unless ``html_favicon`` is set: no request for /favicon.ico."""
    if not config.html_favicon:
        config.html_favicon = str(Path(__file__).with_name("favicon.svg"))


def setup(app):
    # kernels started by this build inherit it: gdlab.notebook.warnings_policy() is strict in the build
    os.environ["GDLAB_STRICT"] = "1"
    app.connect("config-inited", default_favicon)
    cache_pybtex_entry_points()
    app.add_config_value("course_library_paths", ["code/src"], "env")
    # after MyST-NB has set its cache path (builder-inited, priority 500)
    app.connect("builder-inited", refresh_stale_cache, priority=600)
    app.connect("env-get-outdated", reread_after_library_change)
    # before sphinx-book-theme builds the header buttons (priority 501)
    app.connect("html-page-context", offer_notebook, priority=450)
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    app.connect("build-finished", export_plain_notebooks)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
