"""The strict book build, once per test run, shared by the test files that check it (xdist workers included).

Not collected by pytest (no ``test_`` prefix); used by ``tests/conftest.py`` (fixture ``built_book``)
and ``tests/test_book*.py``.

The first worker that asks for the built book builds it (``jupyter-book build . --all -W -n --keep-going``,
the flags of ``make book``) under a file lock; every other file, on any worker of the same run, waits
for the lock and reuses that result (the HTML, or the same failure).  Before building, it waits until
every chapter collected in this run has been executed by nbval (root ``conftest.py``): each executed
chapter is then in the build's execution cache, so the build renders nbval's outputs instead of
executing the chapter a second time.  A chapter that nbval could not execute is not cached, and the
build executes it (and fails if it is broken).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(os.environ.get("BOOK_ROOT") or pathlib.Path(__file__).resolve().parents[1]).resolve()
HTML = ROOT / "_build" / "html"
#: nbval's notes of this run (root conftest.py writes them; ``<run id>/<chapter>.done``)
RUN_NOTES = pathlib.Path(__file__).resolve().parents[1] / "_build" / ".pytest-run"
#: how long the build waits for the next chapter to be executed by nbval before building anyway
CHAPTER_PATIENCE = 600.0

# Sphinx's own diagnostics; not e.g. "[IPKernelApp] WARNING | Kernel is running over TCP ..."
# which ipykernel >= 7 prints to stderr on every kernel start (harmless, not a Sphinx warning).
SPHINX_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):")
#: MyST-NB's log line for a chapter it executes itself (not found in the execution cache)
EXECUTING = re.compile(r"([^\s:]+\.(?:md|ipynb)): Executing notebook using (?:local|temporary) CWD")


def kernel_env() -> dict[str, str]:
    """The environment for the build and its kernels: this one without ``MPLBACKEND``.

    The root conftest sets ``MPLBACKEND=Agg`` for the test process; inherited by the build's kernels,
    it would switch off matplotlib's inline backend, every glued figure would become the text
    ``<Figure size ...>`` and the execution cache would keep those outputs for later builds.
    """
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    return env


def run_folder(config) -> pathlib.Path:
    path = RUN_NOTES / config.book_run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def chapters_of_this_run(session) -> list[str]:
    """Chapters whose nbval run ends in this session with an ``executed once`` item."""
    return sorted({item.nodeid.split("::", 1)[0] for item in session.items
                   if item.nodeid.startswith("chapters/") and item.nodeid.endswith("::executed once")})


def wait_for_chapters(config, chapters: list[str]) -> list[str]:
    """Wait until nbval has executed ``chapters`` in this run; return those it did not (after a long pause)."""
    folder = run_folder(config)

    def pending() -> list[str]:
        return [c for c in chapters if not (folder / (c[: -len(".md")].replace("/", "__") + ".done")).is_file()]

    left, last_change = pending(), time.monotonic()
    while left and time.monotonic() - last_change < CHAPTER_PATIENCE:
        time.sleep(0.5)
        now = pending()
        if len(now) < len(left):
            last_change = time.monotonic()
        left = now
    return left


def build(session) -> dict:
    """Run the strict build (after nbval's chapters of this run); return what the other files need."""
    config = session.config
    waited = time.perf_counter()
    not_executed = wait_for_chapters(config, chapters_of_this_run(session))
    waited = time.perf_counter() - waited
    jb = shutil.which("jupyter-book", path=str(pathlib.Path(sys.executable).parent))
    if not jb:
        return {"ok": False, "error": "jupyter-book is not installed in this environment (run `make setup`)"}
    start = time.perf_counter()
    proc = subprocess.run(
        [jb, "build", str(ROOT), "--all", "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=1800, env=kernel_env(),
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    result = {"ok": True, "seconds": round(seconds, 1), "waited_for_nbval": round(waited, 1),
              "not_executed_by_nbval": not_executed, "executed_by_build": sorted({pathlib.Path(p).resolve().relative_to(ROOT).as_posix() for p in EXECUTING.findall(log)}),
              "log_tail": log[-6000:]}
    if proc.returncode != 0:
        result.update(ok=False, error=f"book build failed (rc={proc.returncode}):\n{log[-6000:]}")
    else:
        problems = [line for line in log.splitlines() if SPHINX_PROBLEM.search(line)]
        if problems:
            result.update(ok=False, error="book build emitted warnings:\n" + "\n".join(problems[:50]))
    return result


def shared_build(request) -> pathlib.Path:
    """The built book of this test run: built by the first file that asks, on any worker; the HTML folder."""
    import pytest

    config = request.config
    folder = run_folder(config)
    note = folder / "build.json"
    import fcntl

    with open(folder / "build.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if note.is_file():
                result = json.loads(note.read_text())
            else:
                result = build(request.session)
                note.write_text(json.dumps(result))
                print(f"book built in {result.get('seconds')} s after waiting {result.get('waited_for_nbval')} s "
                      f"for nbval; chapters executed by the build itself: {result.get('executed_by_build')}")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not result["ok"]:
        pytest.fail(result["error"], pytrace=False)
    return HTML


def build_result(config) -> dict:
    """What :func:`shared_build` recorded for this run (``{}`` before the build)."""
    note = run_folder(config) / "build.json"
    return json.loads(note.read_text()) if note.is_file() else {}
