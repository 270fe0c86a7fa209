"""The strict book build: every chapter executes and Sphinx emits no warning (``-W -n``)."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def built_book() -> pathlib.Path:
    """Build the book once per session with the flags of ``make book``; return the HTML folder."""
    jb = shutil.which("jupyter-book", path=str(pathlib.Path(sys.executable).parent))
    assert jb, "jupyter-book is not installed in this environment (run `make setup`)"
    proc = subprocess.run(
        [jb, "build", str(ROOT), "--all", "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"book build failed (rc={proc.returncode}):\n{log[-6000:]}"
    assert "WARNING" not in log, f"book build emitted warnings:\n{log[-6000:]}"
    return HTML


@pytest.mark.book
def test_every_toc_page_is_built(built_book: pathlib.Path) -> None:
    toc = (ROOT / "_toc.yml").read_text()
    pages = [line.split("file:")[1].strip() for line in toc.splitlines() if "file:" in line]
    pages.append(toc.split("root:")[1].split()[0])
    for page in pages:
        assert (built_book / f"{page}.html").is_file(), f"{page}.html missing from the built book"


@pytest.mark.book
def test_no_request_leaves_the_machine(built_book: pathlib.Path) -> None:
    """MathJax is served locally; no page loads a script or stylesheet from another host."""
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in built_book.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for attr in ("src=\"http", "href=\"http"):
            for chunk in text.split(attr)[1:]:
                url = "http" + chunk.split('"', 1)[0]
                # plain hyperlinks a reader may click are fine; loaded resources are not
                assert not url.endswith((".js", ".css", ".woff", ".woff2")), f"{page.name} loads {url}"
