"""Local Sphinx extension for the course build (registered in ``_config.yml`` under ``sphinx.local_extensions``).

Two things the stock Jupyter Book 1 toolchain does not do for an offline course text:

* **Download every chapter as a notebook.**  sphinx-book-theme adds an ``.ipynb`` entry to a page's
  download menu only when a launch service (Binder, Colab, ...) is configured, which this offline book
  does not have.  For every page that MyST-NB executed, :func:`offer_notebook` copies the executed
  notebook (``_build/jupyter_execute/<page>.ipynb``, code *and* outputs) to ``_build/html/_sources/`` and
  sets the theme's ``ipynb_source`` context key, so the download menu of each chapter offers
  ``.ipynb`` next to ``.md`` and ``.pdf``.
* **No console error and no remote URL from thebe.**  sphinx-thebe registers an inline ``<script>``
  (``const THEBE_JS_URL = "https://unpkg.com/..."``) at ``env-before-read-docs``, after the HTML builder
  was initialised; Sphinx 7.4's ``prepare_writing`` re-adds registry scripts with ``filename or ''``,
  which no longer equals the ``None`` of the first copy, so the inline script lands on every page
  twice and the browser reports ``Uncaught SyntaxError: Identifier 'THEBE_JS_URL' has already been
  declared``.  Live code (thebe) is switched off in ``_config.yml`` (``launch_buttons.thebe: false``),
  so :func:`drop_thebe_assets` removes thebe's scripts and stylesheet from every page.
"""
from __future__ import annotations

import shutil
from pathlib import Path

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
    """Copy the executed notebook of ``pagename`` next to its sources and put it in the download menu."""
    if doctree is None or not context.get("sourcename", "").endswith(".md"):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():  # a plain Markdown page (not a notebook)
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    # before sphinx-book-theme builds the header buttons (priority 501)
    app.connect("html-page-context", offer_notebook, priority=450)
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
