"""Export every chapter as a plain Jupyter notebook: ``_build/notebooks/<chapter>.ipynb``.

Run after a book build (``make notebooks`` does both).  The notebooks are generated from the chapter
sources (MyST Markdown, read with jupytext) and the build's results:

* numbers quoted in the text (``{glue:text}`key:fmt```) are substituted from the build's glue values
  (``_build/jupyter_execute/chapters/<chapter>.glue.json``), formatted exactly as MyST-NB formats them;
* the set-up cell imports the plain ``glue`` of :mod:`gdlab.notebook` instead of ``book_glue``, so every glued
  figure is displayed as a PNG output wherever the notebook runs; the book's caption follows it;
* theorems, proofs, definitions, exercises and admonitions become ordinary Markdown (a bold numbered
  heading as in the book; solutions folded in ``<details>``), equations carry their ``\\tag{}`` number,
  citations become author-year text with the chapter's references at the end, cross-references
  become text with links (to the anchor in this notebook, or to the sibling notebook);
* a first cell says what the notebook needs (``gdlab``) and checks for it.

Numbers (theorem, figure, equation, exercise) are read from the built HTML (``_build/html``), so they
are the book's numbers by construction.  Why not sphinx-tojupyter: it drops the ``remove-cell`` set-up
cell (the exported notebook does not run), does not display glued figures and needs a second Sphinx
build; this script uses the build that ``make book`` already ran and is checked by ``tests/test_book.py``.

Usage: ``python tools/export_notebooks.py [--root .] [--out _build/notebooks] [--check-only]``
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]

#: Import line of the chapters' set-up cells, and what the exported notebook imports instead.
BOOK_GLUE_IMPORT = "from gdlab.notebook import book_glue as glue  # = myst_nb.glue, without a 1 s import"
GLUE_IMPORT = re.compile("^" + re.escape(BOOK_GLUE_IMPORT) + r"\s*$", re.M)
PLAIN_GLUE_IMPORT = "from gdlab.notebook import glue  # shows glued figures in a plain notebook"

FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:.-]+)\}\s*(?P<arg>.*?)\s*$")
ROLE = re.compile(r"\{(?P<name>[\w:.-]+)\}`(?P<content>[^`]*)`")
TARGET = re.compile(r"^\((?P<label>[\w:.-]+)\)=\s*$", re.M)
#: What must not survive in the Markdown of an exported notebook (used by the tests too).
MYST_LEFT = re.compile(r"\{[\w:.-]+\}`|^\s*(`{3,}|:{3,})\{[\w:.-]+\}|^\([\w:.-]+\)=\s*$", re.M)

PRF_KINDS = {"theorem", "lemma", "proposition", "corollary", "definition", "remark", "conjecture",
             "example", "algorithm", "criterion", "axiom", "observation", "property", "assumption"}
ADMONITIONS = {"note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning",
               "caution": "Caution", "attention": "Attention", "hint": "Hint", "seealso": "See also",
               "danger": "Danger", "error": "Error"}


# --------------------------------------------------------------------------------------------
# what the build knows: glue values, numbers, titles, bibliography
# --------------------------------------------------------------------------------------------
def format_plain_text(text: str, fmt_spec: str) -> str:
    """MyST-NB's formatting of a glued ``text/plain`` value (``myst_nb.core.variables``)."""
    from myst_nb.core.variables import format_plain_text as fmt

    return fmt(text, fmt_spec)


class Book:
    """The built book: pages, numbers of labelled things, link texts, glue values, bibliography."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.html = root / "_build" / "html"
        self.executed = root / "_build" / "jupyter_execute"
        if not self.html.is_dir():
            raise SystemExit(f"export error: no built book in {self.html}; run `make book` first")
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
        self.pages = [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p.get("chapters", [])]
        self.pages = [re.sub(r"\.(md|ipynb)$", "", p) for p in self.pages]
        self.titles: dict[str, str] = {}
        self.numbers: dict[str, tuple[str, str]] = {}  # label -> (page, number text)
        self.link_text: dict[str, str] = {}  # "page#anchor" -> first link text seen
        self.blocks: dict[str, list[tuple[str, str]]] = {}  # page -> [(id, number)] of prf/exercise blocks
        for page in self.pages:
            self._read_page(page)
        from pybtex.database import parse_file

        self.bib = parse_file(str(root / "references.bib"))

    def _read_page(self, page: str) -> None:
        path = self.html / f"{page}.html"
        if not path.is_file():
            return
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        article = soup.find("article") or soup
        h1 = article.find("h1")
        if h1:
            for a in h1.find_all("a", class_="headerlink"):
                a.decompose()
            self.titles[page] = _unmath(h1.get_text(" ", strip=True))
        blocks = []
        for el in article.find_all(id=True):
            classes = el.get("class") or []
            number = None
            if el.name == "div" and ("exercise" in classes or ("proof" in classes and len(classes) > 2)):
                cap = el.find(class_="caption-number")
                number = cap.get_text(" ", strip=True) if cap else None
                if number:
                    blocks.append((el["id"], number))
            elif el.name == "figure":
                cap = el.find(class_="caption-number")
                number = cap.get_text(" ", strip=True) if cap else None
            elif el.name == "div" and "math" in classes and el["id"].startswith("equation-"):
                eqno = el.find(class_="eqno")
                if eqno:
                    for a in eqno.find_all("a"):
                        a.decompose()
                    self.numbers[el["id"][len("equation-"):]] = (page, eqno.get_text(strip=True).strip("()"))
                continue
            if number:
                self.numbers[el["id"]] = (page, number)
        self.blocks[page] = blocks
        folder = str(Path(page).parent)
        for a in article.find_all("a", class_="reference"):
            href = a.get("href", "")
            if "internal" not in (a.get("class") or []) or href.startswith("http"):
                continue
            target_page, _, anchor = href.partition("#")
            target_page = (folder + "/" + target_page[:-5]) if target_page.endswith(".html") else page
            key = f"{_norm(target_page)}#{anchor}"
            self.link_text.setdefault(key, _unmath(a.get_text(" ", strip=True)))

    def key(self, label: str) -> str:
        """The HTML id of a label (Sphinx lower-cases ids and replaces other characters by '-')."""
        from docutils.nodes import make_id

        for candidate in (label, label.lower(), make_id(label)):
            if candidate in self.numbers or any(k.endswith("#" + candidate) for k in self.link_text):
                return candidate
        return make_id(label)

    def glue(self, page: str) -> dict[str, str]:
        path = self.executed / f"{page}.glue.json"
        if not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: "".join(v["data"]["text/plain"]) for k, v in data.items() if "text/plain" in v.get("data", {})}

    # citations -------------------------------------------------------------------------------
    def _authors(self, key: str) -> str:
        # memoised: pybtex looks its plugins up in the package metadata on every render (~25 ms each),
        # which made the export of the nine chapters take ~25 s of CPU per build
        cache = self.__dict__.setdefault("_authors_cache", {})
        if key not in cache:
            cache[key] = self._authors_uncached(key)
        return cache[key]

    def _authors_uncached(self, key: str) -> str:
        from pybtex.richtext import Text

        entry = self.bib.entries[key]
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
        if not last:
            return key
        if len(last) == 1:
            return last[0]
        if len(last) == 2:
            return f"{last[0]} and {last[1]}"
        return f"{last[0]} et al."

    def year(self, key: str) -> str:
        return self.bib.entries[key].fields.get("year", "n.d.")

    def cite(self, keys: list[str], textual: bool) -> str:
        missing = [k for k in keys if k not in self.bib.entries]
        if missing:
            raise SystemExit(f"export error: citation keys not in references.bib: {missing}")
        if textual:
            return "; ".join(f"{self._authors(k)} ({self.year(k)})" for k in keys)
        return "(" + "; ".join(f"{self._authors(k)}, {self.year(k)}" for k in keys) + ")"

    def bibliography(self, keys: list[str]) -> str:
        from pybtex.plugin import find_plugin

        if not hasattr(self, "_style"):
            self._style, self._reference_text = find_plugin("pybtex.style.formatting", "plain")(), {}
        entries = sorted(keys, key=lambda k: (self._authors(k), self.year(k)))
        lines = ["## References", ""]
        for entry in self._style.format_entries([self.bib.entries[k] for k in entries]):
            if entry.key not in self._reference_text:  # memoised, as _authors
                self._reference_text[entry.key] = " ".join(entry.text.render_as("text").split())
            text = self._reference_text[entry.key]
            lines.append(f"* {self._authors(entry.key)} ({self.year(entry.key)}). {text}")
        return "\n".join(lines)


def _norm(page: str) -> str:
    parts: list[str] = []
    for part in page.split("/"):
        if part == "..":
            parts and parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _unmath(text: str) -> str:
    """HTML text with MathJax delimiters back to Markdown ``$...$``."""
    return re.sub(r"\\\((.*?)\\\)", r"$\1$", text)


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
class Converter:
    """Turns one chapter's MyST Markdown into plain Jupyter Markdown."""

    def __init__(self, book: Book, page: str, notebook_pages: set[str]) -> None:
        self.book, self.page, self.notebook_pages = book, page, notebook_pages
        self.glue = book.glue(page)
        self.blocks = list(book.blocks.get(page, []))
        self.cited: list[str] = []
        self.unknown: list[str] = []

    # links -------------------------------------------------------------------------------------
    def _href(self, page: str, anchor: str = "") -> str | None:
        if page == self.page:
            return f"#{anchor}" if anchor else None
        if page in self.notebook_pages:
            return f"{Path(page).name}.ipynb" + (f"#{anchor}" if anchor else "")
        return None  # a page that is not exported: text only

    def _link(self, text: str, page: str, anchor: str = "") -> str:
        href = self._href(page, anchor)
        return f"[{text}]({href})" if href else text

    def _doc(self, target: str) -> tuple[str, str]:
        page = _norm(str(Path(self.page).parent / target)) if not target.startswith("/") else target.strip("/")
        return page, self.book.titles.get(page, target)

    # roles ---------------------------------------------------------------------------------------
    def role(self, m: re.Match) -> str:
        name, content = m.group("name"), m.group("content")
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", content, re.S)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else (None, content)
        if name in ("glue:text", "glue", "glue:"):
            key, _, fmt = target.rpartition(":") if ":" in target else (target, "", "s")
            if key not in self.glue:
                self.unknown.append(f"glue key {key!r}")
                return f"`{key}`"
            return _escape(format_plain_text(self.glue[key], fmt or "s"))
        if name == "doc":
            page, title = self._doc(target)
            return self._link(text or self.book.link_text.get(f"{page}#", title), page)
        if name in ("cite", "cite:p", "cite:t", "cite:ps", "cite:ts"):
            keys = [k.strip() for k in target.split(",") if k.strip()]
            self.cited += [k for k in keys if k not in self.cited]
            return self.book.cite(keys, textual=name.startswith("cite:t"))
        if name in ("eq", "prf:ref", "numref", "ref"):
            label = self.book.key(target)
            if label not in self.book.numbers and not any(k.endswith("#" + label) for k in self.book.link_text):
                self.unknown.append(f"{name} target {label!r}")
                return text or label
            page, number = self.book.numbers.get(label, (None, None))
            if page is None:
                key = next(k for k in self.book.link_text if k.endswith("#" + label))
                page = key.split("#")[0]
            anchor = label
            if name == "eq":
                shown = f"({number})"
            elif name == "numref" and text and "%s" in text:
                shown = text.replace("%s", number.split()[-1] if number else "?")
            elif text:
                shown = text
            elif name == "ref":
                shown = self.book.link_text.get(f"{page}#{label}") or number or label
            else:
                shown = number or self.book.link_text.get(f"{page}#{label}", label)
            return self._link(shown, page, anchor)
        if name in ("math",):
            return f"${content}$"
        if name in ("sub", "sup"):
            return f"<{name}>{content}</{name}>"
        if name in ("abbr", "term", "dfn", "kbd", "code", "samp", "file", "command", "program"):
            return f"`{content}`" if name in ("code", "samp", "file", "command", "program", "kbd") else (text or target)
        self.unknown.append(f"role {{{name}}}")
        return text or target

    def inline(self, text: str) -> str:
        return ROLE.sub(self.role, text)

    # blocks --------------------------------------------------------------------------------------
    def convert(self, text: str) -> str:
        text = TARGET.sub(lambda m: f'<a id="{self.book.key(m.group("label"))}"></a>', text)
        text = self._labelled_math(text)
        out, lines, i = [], text.split("\n"), 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                out.append(self.inline(lines[i]))
                i += 1
                continue
            fence, name, arg = m.group("fence"), m.group("name"), m.group("arg")
            body, i = _take_body(lines, i + 1, fence)
            options, body = _options(body)
            out.append(self.directive(name, arg, options, "\n".join(body)))
        return "\n".join(out)

    def _labelled_math(self, text: str) -> str:
        """``$$ ... $$ (label)`` blocks: the book's number as ``\\tag{}`` and an anchor before the block."""
        lines, out, i = text.split("\n"), [], 0
        while i < len(lines):
            if lines[i].strip() != "$$":
                out.append(lines[i])
                i += 1
                continue
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("$$"):
                j += 1
            if j == len(lines):
                out.extend(lines[i:])
                break
            closing = re.match(r"^\s*\$\$[ \t]*\((?P<label>[\w:.-]+)\)[ \t]*$", lines[j])
            body = lines[i + 1:j]
            if closing:
                label = self.book.key(closing.group("label"))
                number = self.book.numbers.get(label, (None, None))[1]
                if number is None:
                    self.unknown.append(f"equation {label!r}")
                else:
                    out += [f'<a id="{label}"></a>', "", "$$", *body, f"\\tag{{{number}}}", "$$"]
                    i = j + 1
                    continue
            out += ["$$", *body, lines[j]]
            i = j + 1
        return "\n".join(out)

    def _next_block(self, label: str | None) -> str:
        """The book's number of the next numbered block (theorem, ..., exercise) of this page."""
        if not self.blocks:
            self.unknown.append(f"numbered block {label!r} (not in the HTML)")
            return ""
        ident, number = self.blocks.pop(0)
        if label and ident != label:
            self.unknown.append(f"numbered block {label!r} found {ident!r} in the HTML")
        return number

    def directive(self, name: str, arg: str, options: dict[str, str], body: str) -> str:
        inner = self.convert(body).strip()
        label = options.get("label") or options.get("name")
        label = self.book.key(label) if label else None
        anchor = f'<a id="{label}"></a>\n\n' if label else ""
        title = self.inline(arg).strip()
        if name.startswith("prf:") and name[4:] in PRF_KINDS:
            number = self._next_block(label)
            head = f"**{number}**" + (f" ({title})" if title else "") + "."
            return f"{anchor}{head} {inner}\n"
        if name == "prf:proof":
            return f"*Proof.* {inner} $\\blacksquare$\n"
        if name == "exercise":
            number = self._next_block(label)
            head = f"**{number}**" + (f" ({title})" if title else "") + "."
            return f"{anchor}{head} {inner}\n"
        if name == "solution":
            page, number = self.book.numbers.get(self.book.key(arg), (None, arg))
            return (f"<details>\n<summary>Solution to {number}</summary>\n\n{inner}\n\n</details>\n")
        if name == "glue:figure":
            page, number = self.book.numbers.get(label or "", (None, None))
            if number is None:
                self.unknown.append(f"figure {label!r}")
                number = "Figure"
            number = number.replace("Fig.", "Figure")
            return f"{anchor}**{number}.** {inner} *(The figure is the output of the code cell above.)*\n"
        if name == "admonition" or name in ADMONITIONS:
            heading = title if name == "admonition" else ADMONITIONS[name] + (f": {title}" if title else "")
            quoted = "\n".join("> " + line if line else ">" for line in inner.split("\n"))
            return f"{anchor}> **{heading}**\n>\n{quoted}\n"
        if name in ("math",):
            return f"$$\n{body}\n$$\n"
        self.unknown.append(f"directive {{{name}}}")
        return inner


def _take_body(lines: list[str], start: int, fence: str) -> tuple[list[str], int]:
    """Lines of a directive's body up to its closing fence; nested fences are skipped over."""
    stack: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i].rstrip()
        if not stack and line == fence:
            return lines[start:i], i + 1
        opening = re.match(r"^\s*(`{3,}|:{3,})(\S.*)?$", line)
        if stack and line.strip() == stack[-1]:
            stack.pop()
        elif opening and opening.group(2):
            stack.append(opening.group(1))
        i += 1
    raise SystemExit(f"export error: unclosed directive fence {fence!r}")


def _options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    options = {}
    while body and re.match(r"^:[\w-]+:", body[0]):
        key, _, value = body.pop(0)[1:].partition(":")
        options[key.strip()] = value.strip()
    return options, body


def _escape(text: str) -> str:
    return re.sub(r"([*_`<>\\])", r"\\\1", text)


# --------------------------------------------------------------------------------------------
# the notebook
# --------------------------------------------------------------------------------------------
def first_cells(page: str, title: str) -> list:
    md = nbformat.v4.new_markdown_cell(
        f"*This notebook is a chapter of the book* Gradient descent at large step sizes "
        f"(*{title}*), exported from `{page}.md`.\n\n"
        "**What it needs.** Python ≥ 3.11 and the book's package `gdlab` with its pinned dependencies, "
        "from a clone of the book's repository:\n\n"
        "* `make setup` in the clone creates `.venv` with everything (then `make lab`, or open this "
        "notebook with the kernel of `.venv`); or\n"
        "* `pip install -r requirements.txt` (it installs `gdlab` from `code/`), or just `pip install -e code` "
        "into an environment that has numpy, scipy, sympy and matplotlib.\n\n"
        "**Numbers and figures.** The numbers quoted in the text are the book's; the cells recompute them, "
        "and every figure is drawn as an output of the cell that makes it. Change a value in the cell "
        "tagged `parameters` and rerun: checks about the book's own parameters then *report* "
        "(\"this check is about the book's parameters ...\") instead of stopping the notebook."
    )
    code = nbformat.v4.new_code_cell(
        "# What this notebook needs: the book's package gdlab (from the book's repository).\n"
        "import importlib.util\n"
        "if importlib.util.find_spec(\"gdlab\") is None or importlib.util.find_spec(\"gdlab.notebook\") is None:\n"
        "    raise ModuleNotFoundError(\n"
        "        \"this notebook needs the package gdlab of the book 'Gradient descent at large step sizes': \"\n"
        "        \"in a clone of its repository run `make setup` (creates .venv) and use that kernel, \"\n"
        "        \"or run `pip install -e code` in the clone\")\n"
        "import gdlab\n"
        "print(f\"gdlab {gdlab.__version__} from {gdlab.__path__[0]}\")"
    )
    code.metadata["tags"] = ["requirements"]
    return [md, code]


def plain_code_cell(cell) -> nbformat.NotebookNode:
    """A chapter's code cell as the plain notebook has it: ``glue`` from gdlab.notebook, tags kept."""
    new = nbformat.v4.new_code_cell(GLUE_IMPORT.sub(PLAIN_GLUE_IMPORT, cell.source))
    tags = list(cell.metadata.get("tags", []))
    if tags:
        new.metadata["tags"] = tags
    if {"hide-input", "remove-input", "hide-cell"} & set(tags):
        new.metadata["jupyter"] = {"source_hidden": True}
    return new


def code_notebook(root: Path, page: str) -> nbformat.NotebookNode:
    """The code of the exported notebook of ``page``, without the build: the first cells and every code cell.

    ``tests/test_book_notebooks.py`` checks that these are the chapter's code cells (which nbval executes,
    root ``conftest.py``) with only the first cells and the ``glue`` import changed, that the exported
    notebooks' code cells are exactly these, and runs some of them.
    """
    source = jupytext.read(root / f"{page}.md")
    cells = first_cells(page, page) + [plain_code_cell(c) for c in source.cells if c.cell_type == "code"]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


#: Image formats of the book's figures (``gdlab.plotting.apply_style`` sends SVG, or PNG when too large).
IMAGE_MIMES = ("image/svg+xml", "image/png")

GLUE_CALL = re.compile(r"""\bglue\(\s*f?["']([^"'{}]+)["']""")


def cached_run(book: Book, page: str) -> nbformat.NotebookNode | None:
    """The execution-cache record of ``page``'s current code (``_build/.jupyter_cache``), or ``None``.

    Matched as MyST-NB matches it: the chapter read by MyST-NB's reader with the book's parser settings.
    """
    cache_dir = book.root / "_build" / ".jupyter_cache"
    if not cache_dir.is_dir():
        return None
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    config = yaml.safe_load((book.root / "_config.yml").read_text(encoding="utf-8")) or {}
    md = MdParserConfig(enable_extensions=set(config.get("parse", {}).get("myst_enable_extensions", [])))
    path = book.root / f"{page}.md"
    source = read_myst_markdown_notebook(path.read_text(encoding="utf-8"), config=md, path=str(path))
    cache = get_cache(str(cache_dir))
    try:
        return cache.merge_match_into_notebook(source)[1]
    except KeyError:
        return None


def book_outputs(book: Book, page: str) -> list[list]:
    """Outputs of the build's run of each code cell, glued figures included as images (SVG or PNG).

    MyST-NB keeps glued values out of the executed notebook (in ``<page>.glue.json``); a glued figure
    is put back as an image output of the cell that glued it, so the downloaded notebook shows the
    book's figures before it is run.
    """
    executed = book.executed / f"{page}.ipynb"
    if not executed.is_file():
        return []
    nb = nbformat.read(executed, as_version=4)
    if not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        # MyST-NB writes the notebook without outputs when it took them from its execution cache (a
        # warm build, and every build of `make test`, which nbval fills): take them from the cache
        nb = cached_run(book, page) or nb
    glue_path = book.executed / f"{page}.glue.json"
    glued = json.loads(glue_path.read_text(encoding="utf-8")) if glue_path.is_file() else {}
    result = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        outputs = []
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook"):
                continue  # a glued value: its number is in the Markdown
            if "execution_count" in out:
                out["execution_count"] = None
            outputs.append(out)
        for key in GLUE_CALL.findall(cell.source):
            data = glued.get(key, {}).get("data", {})
            images = {mime: data[mime] for mime in IMAGE_MIMES if mime in data}
            if images:
                outputs.append(nbformat.v4.new_output(
                    "display_data", data={**images, "text/plain": f"<figure {key}>"}))
        result.append(outputs)
    return result


def export_page(book: Book, page: str, notebook_pages: set[str]) -> tuple[nbformat.NotebookNode, list[str]]:
    source = jupytext.read(book.root / f"{page}.md")
    conv = Converter(book, page, notebook_pages)
    cells = first_cells(page, book.titles.get(page, page))
    outputs = book_outputs(book, page)
    n_code = sum(1 for c in source.cells if c.cell_type == "code")
    if outputs and len(outputs) != n_code:
        conv.unknown.append(f"the build's notebook has {len(outputs)} code cells, the source {n_code}: rebuild the book")
        outputs = []
    code_index = 0
    for cell in source.cells:
        if cell.cell_type == "markdown":
            text = conv.convert(cell.source).strip()
            if text:
                cells.append(nbformat.v4.new_markdown_cell(text))
        elif cell.cell_type == "code":
            new = plain_code_cell(cell)
            if outputs:
                new.outputs = outputs[code_index]
            code_index += 1
            cells.append(new)
        else:
            cells.append(cell)
    if conv.cited:
        cells.append(nbformat.v4.new_markdown_cell(book.bibliography(conv.cited)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["gdlab"] = {"source": f"{page}.md", "exported_by": "tools/export_notebooks.py"}
    if any("from myst_nb" in c.source or "book_glue" in c.source for c in cells if c.cell_type == "code"):
        conv.unknown.append("a code cell still imports the book's glue (myst_nb's), not the plain notebook's")
    leftover = [m.group(0) for c in cells if c.cell_type == "markdown" for m in MYST_LEFT.finditer(c.source)]
    conv.unknown += [f"MyST left in the Markdown: {s!r}" for s in leftover]
    if conv.blocks:
        conv.unknown.append(f"numbered blocks of the HTML not matched in the source: {conv.blocks}")
    return nb, conv.unknown


def notebook_pages(book: Book) -> list[str]:
    pages = []
    for page in book.pages:
        path = book.root / f"{page}.md"
        if path.is_file() and "kernelspec:" in path.read_text(encoding="utf-8")[:2000]:
            pages.append(page)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=None, help="default: <root>/_build/notebooks")
    args = parser.parse_args(argv)
    book = Book(args.root.resolve())
    out = args.out or book.root / "_build" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    pages = notebook_pages(book)
    problems = []
    for page in pages:
        nb, unknown = export_page(book, page, set(pages))
        problems += [f"{page}: {u}" for u in unknown]
        nbformat.validate(nb)
        nbformat.write(nb, out / f"{Path(page).name}.ipynb")
    print(f"exported {len(pages)} notebooks to {out}")
    if problems:
        print("export error:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
