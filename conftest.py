"""Root pytest configuration: nbval over every chapter, each chapter executed once per test run.

Each chapter under ``chapters/`` that carries a jupytext/kernelspec header is collected as the notebook
the book build executes: MyST-NB's own reading of the ``.md`` (:func:`book_notebook`), in a kernel
started like the build's (same interpreter, the chapter's folder as working directory, ``GDLAB_STRICT=1``,
matplotlib's inline backend). Every code cell is one nbval test item (``--nbval-lax``: a cell fails
when it raises; ``GDLAB_STRICT=1`` makes a RuntimeWarning or a failing claim raise), then two items:

* ``figures shown``: the run glued one image per ``{glue:figure}`` of the chapter;
* ``executed once``: when every cell passed, the executed notebook (the source's cells with the outputs
  nbval received) is stored in the build's execution cache (``_build/.jupyter_cache``, MyST-NB's
  jupyter-cache, keyed by the hash of the code it executes), and the item checks that the build will
  find it there.  The strict book build of ``tests/test_book.py`` then renders these outputs instead of
  executing the chapter a second time; a chapter that failed is not cached, so the build executes it
  and fails too.

The reader's plain notebook (``_build/notebooks/<chapter>.ipynb``, ``tools/export_notebooks.py``) has
the same code except its first "check gdlab" cell and ``glue`` imported from :mod:`gdlab.notebook`;
``tests/test_book_notebooks.py`` checks that difference statically and runs plain notebooks.

Ordering (for ``pytest-xdist --dist loadfile``, see :func:`pytest_collection_modifyitems`): the chapters
come first, longest first, then ``tests/test_book.py`` (whose build waits for the chapters of this run),
then the other files; the files that need the built book after the build itself come where a worker
is free once the build is done.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import re
import shutil
import time
import uuid

import nbformat
import nbval.plugin
import pytest

collect_ignore_glob = ["_build/*", ".venv/*", "node_modules/*", "code/*"]

ROOT = pathlib.Path(__file__).resolve().parent
#: MyST-NB's execution cache of the book build (``jupyter-book build .``: ``<outdir>/../.jupyter_cache``).
EXECUTION_CACHE = ROOT / "_build" / ".jupyter_cache"
#: Where the workers of one test run leave notes for each other (chapters executed, the build's result).
RUN_NOTES = ROOT / "_build" / ".pytest-run"

os.environ.setdefault("MPLBACKEND", "Agg")
# strict mode of gdlab.notebook.warnings_policy() for every kernel the tests start (nbval, nbclient):
# a RuntimeWarning in a chapter is an error in the tests, as in the book build
os.environ.setdefault("GDLAB_STRICT", "1")

try:  # deterministic property tests: same examples every run
    from hypothesis import settings

    settings.register_profile("book", derandomize=True, deadline=None, print_blob=True)
    settings.load_profile("book")
except ImportError:  # pragma: no cover - hypothesis is pinned in requirements.txt
    pass


# ---------------------------------------------------------------------------------------------
# one test run, several workers
# ---------------------------------------------------------------------------------------------
def pytest_configure(config) -> None:
    _one_blas_thread_per_worker()
    if hasattr(config, "workerinput"):  # an xdist worker: the id its controller chose
        config.book_run_id = config.workerinput["testrunuid"]
        return
    # the controller, or a run without xdist: xdist hands --testrunuid to its workers
    if getattr(config.option, "testrunuid", None) is None and hasattr(config.option, "testrunuid"):
        config.option.testrunuid = uuid.uuid4().hex
    config.book_run_id = getattr(config.option, "testrunuid", None) or uuid.uuid4().hex


def run_notes(config) -> pathlib.Path:
    """This run's folder of notes (shared by its xdist workers)."""
    path = RUN_NOTES / config.book_run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def file_lock(path: pathlib.Path):
    """An exclusive lock between the processes of a test run (``fcntl.flock``; released on exit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def chapter_note(config, chapter: str) -> pathlib.Path:
    return run_notes(config) / (chapter.replace("/", "__") + ".done")


# ---------------------------------------------------------------------------------------------
# the chapter as the build reads it
# ---------------------------------------------------------------------------------------------
def _execution_tool():
    """``tools/execute_chapters.py``, which reads a chapter as the build does (one copy of that code)."""
    import importlib.util
    import sys

    name = "execute_chapters_for_tests"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "execute_chapters.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _one_blas_thread_per_worker() -> None:
    """Under xdist (chapters and tests side by side, one per core): one BLAS thread (and one
    ``gdlab.threaded_runs`` thread) per kernel and worker.

    As ``tools/execute_chapters.py`` does for the build (its ``ONE_THREAD_EACH``): a BLAS thread that waits
    for a core the other worker holds makes the chapters' small products slow.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from threadpoolctl import threadpool_limits

    for name, value in _execution_tool().ONE_THREAD_EACH.items():
        os.environ.setdefault(name, value)  # the kernels nbval starts, and this process
    threadpool_limits(1, user_api="blas")  # this process: numpy may already be loaded


def _is_myst_notebook(path) -> bool:
    return _execution_tool().is_myst_notebook(pathlib.Path(path))


def book_notebook(path: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook the book build executes for a chapter: MyST-NB's reader, as in ``myst_nb.core.read``."""
    return _execution_tool().book_notebook(path)


def _output(out: dict) -> nbformat.NotebookNode:
    """An nbval output as nbformat writes it (what nbclient's ``output_from_msg`` makes of the message)."""
    kind = out["output_type"]
    if kind == "stream":
        return nbformat.v4.new_output("stream", name=out["name"], text=out["text"])
    if kind in ("display_data", "execute_result"):
        extra = {"execution_count": out.get("execution_count")} if kind == "execute_result" else {}
        return nbformat.v4.new_output(kind, data=out.get("data", {}), metadata=out.get("metadata", {}), **extra)
    if kind == "error":
        return nbformat.v4.new_output("error", ename=out["ename"], evalue=out["evalue"], traceback=out["traceback"])
    raise ValueError(f"unexpected output type {kind!r}")


def cache_executed_chapter(path: pathlib.Path, nb: nbformat.NotebookNode, outputs: list[list[dict]],
                           seconds: float) -> int:
    """Store a chapter executed by nbval in the build's execution cache; return the cache record id.

    ``nb`` is :func:`book_notebook` of ``path``; ``outputs`` the outputs of each of its code cells, in
    order, from one kernel. The cache is first emptied if it was filled with other package sources
    (as ``_ext/course_tools.refresh_stale_cache`` does in the build), together with the main build's
    saved environment, so that the next ``make book`` re-reads every page.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    executed = nbformat.from_dict(json.loads(json.dumps(nb)))
    code = [c for c in executed.cells if c.cell_type == "code"]
    if len(code) != len(outputs):
        raise ValueError(f"{path.name}: {len(code)} code cells but outputs for {len(outputs)}")
    for count, (cell, outs) in enumerate(zip(code, outputs), start=1):
        cell.execution_count = count
        cell.outputs = [_output(o) for o in outs]
    nbformat.validate(executed)
    with file_lock(EXECUTION_CACHE.with_name(".jupyter_cache.lock")):
        _execution_tool().refresh_stale_cache()
        cache = get_cache(str(EXECUTION_CACHE))
        record = cache.cache_notebook_bundle(
            CacheBundleIn(executed, str(path), data={"execution_seconds": seconds}),
            check_validity=True, overwrite=True)
        return record.pk


def cached_record(nb: nbformat.NotebookNode):
    """The cache record the build will use for ``nb`` (KeyError when there is none)."""
    from jupyter_cache import get_cache

    with file_lock(EXECUTION_CACHE.with_name(".jupyter_cache.lock")):
        return get_cache(str(EXECUTION_CACHE)).match_cache_notebook(nb)


def forget_chapter(nb: nbformat.NotebookNode) -> None:
    """Remove the cache record of ``nb``'s code, if any (a chapter that failed under nbval)."""
    from jupyter_cache import get_cache

    if not EXECUTION_CACHE.is_dir():
        return
    with file_lock(EXECUTION_CACHE.with_name(".jupyter_cache.lock")):
        cache = get_cache(str(EXECUTION_CACHE))
        with contextlib.suppress(KeyError):
            cache.remove_cache(cache.match_cache_notebook(nb).pk)


# ---------------------------------------------------------------------------------------------
# nbval items
# ---------------------------------------------------------------------------------------------
#: nodeids of the items that failed (or errored) in this process; a chapter is cached only when none did
FAILED: set[str] = set()
#: call duration of every passed item, by nodeid (the execution time recorded in the cache)
DURATIONS: dict[str, float] = {}
#: seconds spent in each file's tests (setup, call, teardown): to order the next run, never asserted on
FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    """Per process: failed items and call durations; on the controller also each file's total (every worker's reports)."""
    path = report.nodeid.split("::", 1)[0]
    FILE_SECONDS[path] = FILE_SECONDS.get(path, 0.0) + report.duration
    if report.failed:
        FAILED.add(report.nodeid)
    elif report.when == "call":
        DURATIONS[report.nodeid] = report.duration


def glued_images(outputs: list[dict]) -> int:
    """Outputs that carry a glued or displayed image (``glue(key, fig, display=False)`` prefixes the mime)."""
    return sum(any(re.search(r"(^|/)image/(png|svg\+xml)$", mime) for mime in out.get("data", {})) for out in outputs)


class ChapterItem(pytest.Item):
    """Base of the two items that follow a chapter's cells."""

    def __init__(self, *, cells, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def ran_every_cell(self) -> bool:
        return all(c.test_outputs is not None for c in self.cells)

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}::{self.name}"


class FigureCount(ChapterItem):
    """The chapter's executed cells glued one image per ``{glue:figure}`` of the book."""

    def __init__(self, *, figures, **kwargs):
        super().__init__(**kwargs)
        self.figures = figures

    def runtest(self):
        if not self.ran_every_cell():
            pytest.skip("not every cell of the chapter ran in this session")
        images = sum(glued_images(c.test_outputs) for c in self.cells)
        assert images == self.figures, (
            f"{self.path.name}: the run glued {images} image(s), the book has {self.figures} figure(s)"
        )


class ExecutedOnce(ChapterItem):
    """Every cell passed: hand the executed notebook to the build's execution cache, and check the build finds it."""

    def __init__(self, *, notebook, **kwargs):
        super().__init__(**kwargs)
        self.notebook = notebook

    def runtest(self):
        status = "not cached"
        try:
            if not self.ran_every_cell():
                pytest.skip("not every cell of the chapter ran in this session: the build executes it")
            failed = [c.nodeid for c in self.cells if c.nodeid in FAILED]
            if failed:
                forget_chapter(self.notebook)  # no older result either: the build executes it (and fails)
                pytest.skip(f"{len(failed)} cell(s) failed: not cached, the build executes the chapter (and fails)")
            seconds = sum(DURATIONS.get(c.nodeid, 0.0) for c in self.cells)
            notebook = nbformat.from_dict(json.loads(json.dumps(self.notebook)))
            if getattr(self.parent, "language_info", None):  # as nbclient records it (the build's code lexer)
                notebook.metadata["language_info"] = self.parent.language_info
            pk = cache_executed_chapter(self.path, notebook, [c.test_outputs for c in self.cells], seconds)
            record = cached_record(book_notebook(self.path))
            assert record.pk == pk, f"{self.path.name}: the build would not find this run in its execution cache"
            status = "cached"
        finally:  # the build waits for this note (tests/book_build.py), whatever happened
            chapter = f"{self.path.parent.name}/{self.path.stem}"
            chapter_note(self.config, chapter).write_text(status + "\n")


class BookNbFile(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading a chapter as the book build does (no temporary files)."""

    def collect(self):
        notebook = book_notebook(self.path)

        def read(fp, as_version=4, **kwargs):
            return nbformat.from_dict(json.loads(json.dumps(notebook)))

        with _patched(nbval.plugin.nbformat, "read", read):
            cells = list(super().collect())
        yield from cells
        text = self.path.read_text(encoding="utf-8")
        figures = len(re.findall(r"^\s*(`{3,}|:{3,})\{glue:figure\}", text, re.M))
        yield FigureCount.from_parent(self, name="figures shown", cells=cells, figures=figures)
        yield ExecutedOnce.from_parent(self, name="executed once", cells=cells, notebook=notebook)

    def setup(self):
        """Start the kernel as the build starts its kernels: without the tests' ``MPLBACKEND=Agg``.

        (Inherited by the kernel, it would switch off matplotlib's inline backend and every glued
        figure would be the text ``<Figure size ...>``, as ``tests/test_book.py:kernel_env`` explains.)
        """
        saved = os.environ.pop("MPLBACKEND", None)
        try:
            super().setup()
        finally:
            if saved is not None:
                os.environ["MPLBACKEND"] = saved
        kernel = self.kernel

        def execute_cell_input(cell_input, allow_stdin=None):
            # nbval sends store_history=False; Jupyter and the build's nbclient send True, which numbers
            # the cells and lets a trailing ';' hide a cell's result: execute as they do
            return kernel.kc.execute(cell_input, store_history=True, allow_stdin=False if allow_stdin is None else allow_stdin)

        kernel.execute_cell_input = execute_cell_input
        msg_id, reply = kernel.kc.kernel_info(), None
        while reply is None or reply["parent_header"].get("msg_id") != msg_id:
            reply = kernel.kc.get_shell_msg(timeout=60)
        self.language_info = reply["content"].get("language_info")


@contextlib.contextmanager
def _patched(obj, name, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if (opt.nbval or opt.nbval_lax) and file_path.suffix == ".md" and _is_myst_notebook(file_path):
        return BookNbFile.from_parent(parent, path=file_path)
    return None


# ---------------------------------------------------------------------------------------------
# order: chapters, the build, then the rest (xdist --dist loadfile hands out files in this order)
# ---------------------------------------------------------------------------------------------
#: Files that use the built book after tests/test_book.py built it: queued after this many seconds of
#: other work (measured in the last run, else guessed), so a worker reaches them when the build is done.
AFTER_BUILD = ("tests/test_book_pdf.py", "tests/test_book_editions.py", "tests/test_book_notebooks.py")
DURATIONS_KEY = "book/file-durations"
#: The build's seconds when no run has measured it (a fresh clone): about 20 s on a 2-core machine.
BUILD_SECONDS_GUESS = 20.0


def _file_of(item) -> str:
    return item.nodeid.split("::", 1)[0]


def _guess_seconds(path: str) -> float:
    """A fallback when the last run's durations are unknown: size of the code of a chapter, else 1 s."""
    return _execution_tool().guess_seconds(ROOT / path) if path.startswith("chapters/") else 1.0


def pytest_collection_modifyitems(session, config, items) -> None:
    known = config.cache.get(DURATIONS_KEY, {}) if getattr(config, "cache", None) is not None else {}
    files: dict[str, list] = {}
    for item in items:
        files.setdefault(_file_of(item), []).append(item)

    def cost(path: str) -> float:
        return float(known.get(path, _guess_seconds(path)))

    chapters = sorted((f for f in files if f.startswith("chapters/")), key=cost, reverse=True)
    build = [f for f in files if f == "tests/test_book.py"]
    after = [f for f in AFTER_BUILD if f in files]
    rest = sorted((f for f in files if f not in chapters + build + after), key=cost, reverse=True)
    # the build itself takes about build_seconds after the chapters; fill that time with other files
    build_seconds = float(known.get("build", BUILD_SECONDS_GUESS))
    order, filled = chapters + build, 0.0
    for path in rest:
        if after and filled >= build_seconds:
            order += after
            after = []
        order.append(path)
        filled += cost(path)
    order += after
    items[:] = [item for path in order for item in files[path]]


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001 - hook signature
    """Remember each file's run time and the build's, to order the next run; never asserted on."""
    config = session.config
    if hasattr(config, "workerinput") or getattr(config, "cache", None) is None:
        return
    known = dict(config.cache.get(DURATIONS_KEY, {}))
    known.update({path: round(seconds, 1) for path, seconds in FILE_SECONDS.items()})
    build = RUN_NOTES / config.book_run_id / "build.json"
    if build.is_file():
        known["build"] = json.loads(build.read_text()).get("seconds", known.get("build", BUILD_SECONDS_GUESS))
    config.cache.set(DURATIONS_KEY, known)
    shutil.rmtree(RUN_NOTES / config.book_run_id, ignore_errors=True)
