"""Local Sphinx extension: the book as a course edition (registered in ``_config.yml``).

* **Two editions from one source.**  ``course_edition`` is ``"instructor"`` (the default build,
  ``make book``) or ``"student"`` (``make student``, see ``_ext/build_edition.py``).  The student
  edition is built with sphinx-exercise's ``hide_solutions``: its ``{solution}`` directives return
  no node at all, so no solution text reaches the HTML (absent, not hidden).  Notebook cells tagged
  ``solution`` (code that checks an exercise's answer) are dropped from the student edition too.
* **A solutions manual.**  The ``{solutions-manual}`` directive (page ``chapters/solutions.md``)
  becomes, in the instructor edition, every solution of the book grouped by chapter, copied from
  the chapters at build time (so it cannot drift from them); in the student edition a one-line note.
* **Trust in the footer.**  Every page's footer names the licences (``LICENSE``), the version (from
  ``CITATION.cff``), the build date (``SOURCE_DATE_EPOCH`` when set, for reproducible builds), and
  links to the book's sources: ``course_repository_url`` when it is set, otherwise a zip of the
  source files written into the build (``_static/source/``), so the link works offline.
* **An execution-status table with chapter titles** (``{execution-summary}``), in words rather than
  emoji, next to MyST-NB's own table.
* **Pages that read well.**  ``static/course.css`` and ``static/course.js``: display equations and
  code never overflow the column, equation numbers wrap below on narrow screens, figures open
  enlarged on a tap on small screens, print styles for the PDF, and search from ``file://``.
* **A one-page book for the PDF.**  sphinx-proof registers its HTML visitors for the ``html``
  builder only, so ``singlehtml`` stopped on its nodes; :func:`share_html_visitors` gives
  ``singlehtml`` every ``html`` visitor it lacks.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import subprocess
import zipfile
from pathlib import Path

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)
__version__ = "1.0"

STATIC = Path(__file__).with_name("static")
EDITIONS = ("instructor", "student")


# ---------------------------------------------------------------------------------------------
# version, date, sources
# ---------------------------------------------------------------------------------------------
def book_version(root: Path) -> str:
    """The ``version:`` of ``CITATION.cff`` (the single place the book's version is written)."""
    cff = root / "CITATION.cff"
    if cff.is_file():
        m = re.search(r"^version:\s*['\"]?([^'\"\n]+)", cff.read_text(encoding="utf-8"), flags=re.M)
        if m:
            return m.group(1).strip()
    return "unversioned"


def build_date() -> str:
    """Today (UTC) as ``YYYY-MM-DD``, or the date of ``SOURCE_DATE_EPOCH`` when it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return when.strftime("%Y-%m-%d")


SOURCE_FALLBACK = ("_config.yml", "_toc.yml", "Makefile", "README.md", "CONTRIBUTING.md", "LICENSE", "CITATION.cff",
                   "requirements.txt", "constraints.txt", "references.bib", "pytest.ini", "conftest.py")
SOURCE_DIRS = ("chapters", "code", "tests", "_ext", "tools", "benchmarks", "experiments", ".ci")


def source_files(root: Path) -> list[Path]:
    """The book's source files: ``git ls-files`` in a checkout, else the known folders and files."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, timeout=60, check=True)
        files = [root / f for f in out.stdout.decode().split("\0") if f]
        if files:
            return sorted(f for f in files if f.is_file())
    except (OSError, subprocess.SubprocessError):
        pass
    files = [root / f for f in SOURCE_FALLBACK if (root / f).is_file()]
    for d in SOURCE_DIRS:
        files += [f for f in (root / d).rglob("*") if f.is_file() and "__pycache__" not in f.parts
                  and not f.name.endswith((".pyc", ".ipynb"))]
    return sorted(files)


def source_archive_name(version: str) -> str:
    return f"_static/source/gd-large-steps-{version}-source.zip"


def write_source_archive(app, exception) -> None:
    """Ship the sources in the build: the footer's source link points here (works offline).

    Not in the student edition, whose sources would contain the solutions; there the page sources
    that other extensions copied (``_sources/``, e.g. the executed notebooks) are removed too.
    """
    if exception or app.builder.format != "html":
        return
    if app.config.course_edition == "student":
        import shutil

        shutil.rmtree(Path(app.outdir) / "_sources", ignore_errors=True)
        return
    if app.config.course_repository_url:
        return
    root = Path(app.srcdir)
    target = Path(app.outdir) / source_archive_name(book_version(root))
    target.parent.mkdir(parents=True, exist_ok=True)
    stamp = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same archive
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in source_files(root):
            info = zipfile.ZipInfo(f.relative_to(root).as_posix(), date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, f.read_bytes())


def footer_html(pathto, config, root: Path) -> str:
    """Licence, version, build date and source link, with links relative to the current page."""
    version = book_version(root)
    source = config.course_repository_url or pathto(source_archive_name(version), 1)
    edition = "student edition" if config.course_edition == "student" else "instructor edition"
    link = "" if config.course_edition == "student" and not config.course_repository_url else \
        f'<a class="course-source" href="{source}">Source files</a>. '
    return (
        '<p class="course-footer">'
        f'Version <span class="course-version">{version}</span> ({edition}), '
        f'built <time class="course-build-date">{build_date()}</time>. '
        f'Text <a href="{pathto("chapters/licence")}">CC BY 4.0</a>, '
        f'code <a href="{pathto("chapters/licence")}">MIT</a>. '
        f'{link}<a href="{pathto("chapters/00_preface")}#how-to-cite">How to cite</a>.'
        "</p>"
    )


def add_footer(app, pagename, templatename, context, doctree) -> None:
    if "pathto" not in context:
        return
    extra = footer_html(context["pathto"], app.config, Path(app.srcdir))
    context["theme_extra_footer"] = (context.get("theme_extra_footer") or "") + extra


# ---------------------------------------------------------------------------------------------
# solutions manual
# ---------------------------------------------------------------------------------------------
class solutions_manual_node(nodes.General, nodes.Element):
    """Placeholder replaced by every solution of the book (instructor) or a note (student)."""


class execution_summary_node(nodes.General, nodes.Element):
    """Placeholder replaced by the execution-status table with chapter titles."""


class SolutionsManualDirective(SphinxDirective):
    has_content = False

    def run(self):
        self.env.course_manual_docs = getattr(self.env, "course_manual_docs", set()) | {self.env.docname}
        return [solutions_manual_node()]


class ExecutionSummaryDirective(SphinxDirective):
    has_content = False

    def run(self):
        return [execution_summary_node()]


def _solution_node_class():
    from sphinx_exercise.nodes import solution_node

    return solution_node


def collect_solutions(app, doctree) -> None:
    """Keep an unresolved copy of every solution of the page just read."""
    store = app.env.course_solutions = getattr(app.env, "course_solutions", {})
    copies = [node.deepcopy() for node in doctree.findall(_solution_node_class())]
    if copies:
        store[app.env.docname] = copies
    else:
        store.pop(app.env.docname, None)


def manual_needs_math(app, doctree) -> None:
    """The page holding the solutions manual shows copied math: tell Sphinx to load MathJax there.

    Sphinx adds MathJax only to pages whose own source has math (the math domain's
    ``has_equations``); the manual's math arrives later, when the copies are inserted.
    """
    if any(True for _ in doctree.findall(solutions_manual_node)):
        app.env.get_domain("math").data.setdefault("has_equations", {})[app.env.docname] = True


def drop_solution_cells(app, doctree) -> None:
    """Student edition: remove the notebook cells tagged ``solution`` (checks of exercise answers)."""
    if app.config.course_edition != "student":
        return
    for node in list(doctree.findall(nodes.container)):
        if "tag_solution" in node.get("classes", []) and node.parent is not None:
            node.parent.remove(node)


def purge_solutions(app, env, docname) -> None:
    getattr(env, "course_solutions", {}).pop(docname, None)
    if docname in getattr(env, "course_manual_docs", set()):
        env.course_manual_docs.discard(docname)


def merge_solutions(app, env, docnames, other) -> None:
    env.course_solutions = getattr(env, "course_solutions", {})
    env.course_solutions.update({d: v for d, v in getattr(other, "course_solutions", {}).items() if d in docnames})
    env.course_manual_docs = getattr(env, "course_manual_docs", set()) | getattr(other, "course_manual_docs", set())


def rewrite_generated_pages(app, env) -> list[str]:
    """The manual shows other pages' content: write it again whenever any page was written."""
    return sorted(getattr(env, "course_manual_docs", set()))


def _chapter_heading(env, docname: str) -> str:
    number = env.toc_secnumbers.get(docname, {}).get("")
    title = env.titles[docname].astext() if docname in env.titles else docname
    return f"{'.'.join(map(str, number))} {title}" if number else title


def _doc_link(refdoc: str, docname: str, text: str) -> pending_xref:
    link = pending_xref(refdoc=refdoc, reftarget="/" + docname, reftype="doc", refdomain="std",
                        refexplicit=True, refwarn=True, classes=["xref", "doc"])
    link += nodes.inline(text=text)
    return link


def _reading_order(env) -> list[str]:
    """Docnames in the order of the table of contents (root first)."""
    order, seen = [], set()

    def walk(doc):
        if doc in seen:
            return
        seen.add(doc)
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return order + sorted(set(env.found_docs) - seen)


class FillSolutionsManual(SphinxPostTransform):
    """Replace ``{solutions-manual}`` with copies of every chapter's solutions (before references resolve)."""

    default_priority = 4  # before sphinx-exercise (5, 20-22) and the references resolver (10)

    def run(self, **kwargs) -> None:
        for placeholder in list(self.document.findall(solutions_manual_node)):
            placeholder.replace_self(self.manual())

    def manual(self) -> list[nodes.Node]:
        env, here = self.env, self.env.docname
        if self.config.hide_solutions or self.config.course_edition == "student":
            return [nodes.paragraph(text="This is the student edition of the book: it contains the exercises "
                                         "and no solutions. The instructor edition has every solution here.")]
        store = getattr(env, "course_solutions", {})
        out = []
        for docname in _reading_order(env):
            if docname == here or not store.get(docname):
                continue
            heading = _chapter_heading(env, docname)
            section = nodes.section(ids=[f"solutions-{nodes.make_id(docname)}"], classes=["course-manual-chapter"])
            section += nodes.title(text=heading)
            intro = nodes.paragraph()
            intro += nodes.Text("Exercises of ")
            intro += _doc_link(here, docname, heading)
            intro += nodes.Text(f": {len(store[docname])} solutions.")
            section += intro
            for original in store[docname]:
                copy = original.deepcopy()
                copy["ids"] = [f"manual-{i}" for i in original["ids"]]
                copy["classes"] = [c for c in original["classes"] if c != "dropdown"] + ["course-manual-solution"]
                section += copy
            out.append(section)
        if not out:
            out.append(nodes.paragraph(text="No chapter has solutions."))
        return out


# ---------------------------------------------------------------------------------------------
# execution status with titles
# ---------------------------------------------------------------------------------------------
class FillExecutionSummary(SphinxPostTransform):
    default_priority = 8  # as MyST-NB's own table: before the references resolver

    def run(self, **kwargs) -> None:
        for placeholder in list(self.document.findall(execution_summary_node)):
            placeholder.replace_self(self.table())

    def table(self) -> nodes.table:
        from myst_nb.sphinx_ import NbMetadataCollector

        env = self.env
        data = NbMetadataCollector.get_doc_data(env)
        headers = ["Chapter", "Last executed (UTC)", "Run time (s)", "Result"]
        table = nodes.table(classes=["colwidths-auto", "course-exec-summary"])
        tgroup = nodes.tgroup(cols=len(headers))
        table += tgroup
        tgroup.extend(nodes.colspec(colwidth=1) for _ in headers)
        thead, tbody = nodes.thead(), nodes.tbody()
        tgroup += thead
        tgroup += tbody
        row = nodes.row()
        row.extend(nodes.entry("", nodes.paragraph(text=h)) for h in headers)
        thead += row
        for docname in _reading_order(env):
            exec_data = data.get(docname, {}).get("exec_data")
            if not exec_data:
                continue
            mtime = exec_data.get("mtime")
            when = (_dt.datetime.fromtimestamp(mtime, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
                    if mtime else "")
            runtime = exec_data.get("runtime")
            ok = exec_data.get("succeeded") is True
            row = nodes.row()
            title = nodes.paragraph()
            title += _doc_link(env.docname, docname, _chapter_heading(env, docname))
            row += nodes.entry("", title)
            row += nodes.entry("", nodes.paragraph(text=when))
            row += nodes.entry("", nodes.paragraph(text="–" if runtime is None else f"{runtime:.1f}"))
            row += nodes.entry("", nodes.paragraph(text="passed" if ok else "FAILED"),
                               classes=["course-passed" if ok else "course-failed"])
            tbody += row
        return table


# ---------------------------------------------------------------------------------------------
# glued numbers typeset like mathematics
# ---------------------------------------------------------------------------------------------
E_NOTATION = re.compile(r"^([+-]?\d+(?:\.\d+)?)[eE]([+-]?\d+)$")
NUMPY_SCALAR = re.compile(r"^np\.(?:u?int|float|complex|bool_?)\d*\((.*)\)$")
INTEGER = re.compile(r"^[+-]?\d{4,}$")


def typeset_number(text: str) -> tuple[str, str]:
    r"""``("math", tex)`` or ``("text", text)`` for a glued value as a reader should see it.

    ``5.4e-30`` becomes :math:`5.4 \times 10^{-30}`, ``1e-03`` :math:`10^{-3}`, ``0.0e+00`` 0,
    ``np.int64(2)`` 2, and integers of four digits or more get thousands separators (1,225).
    Anything else is returned unchanged.

    >>> typeset_number("5.4e-30"), typeset_number("1e-03"), typeset_number("-7.16e-12")
    (('math', '5.4 \\times 10^{-30}'), ('math', '10^{-3}'), ('math', '-7.16 \\times 10^{-12}'))
    >>> typeset_number("0.0e+00"), typeset_number("np.int64(2)"), typeset_number("23377"), typeset_number("0.5")
    (('text', '0'), ('text', '2'), ('text', '23,377'), ('text', '0.5'))
    """
    text = text.strip()
    m = NUMPY_SCALAR.match(text)
    if m:
        return typeset_number(m.group(1))
    m = E_NOTATION.match(text)
    if m:
        mantissa, exponent = m.group(1), int(m.group(2))
        if float(mantissa) == 0:
            return "text", "0"
        if exponent == 0:
            return "text", mantissa
        sign = "-" if mantissa.startswith("-") else ""
        if float(mantissa.lstrip("+-")) == 1:
            return "math", f"{sign}10^{{{exponent}}}"
        return "math", f"{mantissa.lstrip('+')} \\times 10^{{{exponent}}}"
    if INTEGER.match(text):
        return "text", f"{int(text):,}"
    return "text", text


class TypesetGluedNumbers(SphinxPostTransform):
    """Glued numbers in prose (``{glue:text}``) read like mathematics, not like Python's repr."""

    default_priority = 999  # after MyST-NB has pasted every glued value

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.inline)):
            if "pasted-text" not in node["classes"] or len(node.children) != 1 or not isinstance(node[0], nodes.Text):
                continue
            kind, value = typeset_number(node.astext())
            if kind == "math":
                node.replace(node[0], nodes.math(value, value))
                self.env.get_domain("math").data.setdefault("has_equations", {})[self.env.docname] = True
            elif value != node.astext().strip():
                node.replace(node[0], nodes.Text(value))


# ---------------------------------------------------------------------------------------------
# builders, static files, configuration
# ---------------------------------------------------------------------------------------------
def share_html_visitors(app) -> None:
    """Give ``singlehtml`` every HTML visitor it lacks (sphinx-proof registers ``html`` only)."""
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node_name, visitors in handlers.get("html", {}).items():
        single.setdefault(node_name, visitors)


def configure(app, config) -> None:
    if config.course_edition not in EDITIONS:
        raise ValueError(f"course_edition must be one of {EDITIONS}, got {config.course_edition!r}")
    if config.course_edition == "student":
        config.hide_solutions = True
        # the page sources (.md, and the executed .ipynb next to them) hold the solutions: the student
        # edition ships neither, and no download menu that would offer them
        config.html_copy_source = False
        config.html_theme_options = {**config.html_theme_options, "use_download_button": False}
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def setup(app):
    app.add_config_value("course_edition", "instructor", "env", [str])
    app.add_config_value("course_repository_url", "", "html", [str])
    app.connect("config-inited", configure)
    app.connect("builder-inited", share_html_visitors)
    app.add_node(solutions_manual_node)
    app.add_node(execution_summary_node)
    app.add_directive("solutions-manual", SolutionsManualDirective)
    app.add_directive("execution-summary", ExecutionSummaryDirective)
    app.add_post_transform(FillSolutionsManual)
    app.add_post_transform(FillExecutionSummary)
    app.add_post_transform(TypesetGluedNumbers)
    app.connect("doctree-read", collect_solutions)
    app.connect("doctree-read", manual_needs_math, priority=900)
    app.connect("doctree-read", drop_solution_cells)
    app.connect("env-purge-doc", purge_solutions)
    app.connect("env-merge-info", merge_solutions)
    app.connect("env-updated", rewrite_generated_pages)
    app.connect("html-page-context", add_footer)
    app.connect("build-finished", write_source_archive)
    app.add_css_file("course.css", priority=900)
    app.add_js_file("course.js", priority=900)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
