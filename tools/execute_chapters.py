"""Execute the book's chapters into the build's execution cache, one chapter per core (``make book`` runs it first).

MyST-NB (``execute_notebooks: cache``) executes a chapter whose code is not in its cache while Sphinx reads
the page, one page after another, so a cold build uses one core for the chapters, which spend most of
their time in single-threaded numpy and matplotlib.  This tool does the same work before the build,
on every core:

1. it reads each chapter as MyST-NB reads it (:func:`book_notebook`);
2. empties the cache when the package sources changed since it was filled, as the build's
   ``_ext/course_tools.refresh_stale_cache`` does (and drops the build's saved environment, so that
   the build re-reads every page);
3. executes the chapters the cache lacks, in parallel processes, with the function MyST-NB uses
   (``jupyter_cache.executors.utils.single_nb_execution``: nbclient, the chapter's folder as working
   directory, ``GDLAB_STRICT=1``, the timeout of ``_config.yml``);
4. stores each successful run in the cache as MyST-NB stores it.

The chapters that took longest last time start first (their times are kept next to the cache), so the
slowest chapter does not start last.

The build then finds every chapter in its cache and executes none.  A chapter that fails is reported
with its traceback and not stored, and the tool exits with status 1 (the build would fail on it too).

    .venv/bin/python tools/execute_chapters.py [--jobs N] [chapters/NN_topic.md ...]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import importlib.util
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import sys
import time

import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Set for the kernels when chapters run side by side: one BLAS thread and one ``gdlab.threaded_runs``
#: thread each (the chapters already fill the cores).  The book's matrices are small, and a BLAS thread
#: that waits for a core another chapter holds turns a 3x3 product into milliseconds (chapter 2's
#: 6,000 3x3 ``expm`` calls: 0.6 s with one thread, 2-8 s with two on a 2-core machine running two
#: chapters).  The results do not depend on these threads.
ONE_THREAD_EACH = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GDLAB_THREADS": "1"}

#: MyST-NB's execution cache of the book build (``jupyter-book build .``: ``<outdir>/../.jupyter_cache``).
EXECUTION_CACHE = ROOT / "_build" / ".jupyter_cache"


def _times_file() -> pathlib.Path:
    """Execution seconds of each chapter's last run here (kept across emptied caches, to order the next run)."""
    return EXECUTION_CACHE.with_name(EXECUTION_CACHE.name + ".seconds.json")


def _config() -> dict:
    import yaml

    path = ROOT / "_config.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def md_config():
    """MyST's parser configuration of the book (``_config.yml``'s ``parse`` section), as the build has it."""
    from myst_parser.config.main import MdParserConfig

    extensions = _config().get("parse", {}).get("myst_enable_extensions", [])
    return MdParserConfig(enable_extensions=set(extensions))


def is_myst_notebook(path: pathlib.Path) -> bool:
    """A MyST Markdown notebook: a front matter with a kernelspec or the jupytext MyST format."""
    head = path.read_text(encoding="utf-8")[:2000]
    return head.startswith("---") and ("kernelspec:" in head or "format_name: myst" in head)


def book_notebook(path: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook the book build executes for a chapter: MyST-NB's reader, as in ``myst_nb.core.read``."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), config=md_config(),
                                       add_source_map=True, path=str(path))


def library_digest() -> str | None:
    """The package digest the build's cache is stamped with (``_ext/course_tools.library_digest``)."""
    tool = ROOT / "_ext" / "course_tools.py"
    if not tool.is_file():
        return None
    spec = importlib.util.spec_from_file_location("course_tools_for_execute_chapters", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = _config().get("sphinx", {}).get("config", {}).get("course_library_paths", ["code/src"])
    return module.library_digest(ROOT, list(paths))


def refresh_stale_cache() -> bool:
    """Empty the cache if it was filled with other package sources; ``True`` if it was emptied.

    The build's saved environment goes with it, so that the next build re-reads every page.
    """
    digest = library_digest()
    stamp = EXECUTION_CACHE.with_name(EXECUTION_CACHE.name + ".library-sha256")
    if digest is None or (stamp.is_file() and stamp.read_text().strip() == digest):
        return False
    emptied = EXECUTION_CACHE.exists()
    shutil.rmtree(EXECUTION_CACHE, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (EXECUTION_CACHE.parent / ".doctrees" / "environment.pickle").unlink()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")
    return emptied


def guess_seconds(path: pathlib.Path) -> float:
    """A chapter's execution time when none is recorded: 1 s per 500 characters of code (as conftest guesses)."""
    text = path.read_text(encoding="utf-8")
    return 1.0 + len("".join(re.findall(r"```\{code-cell\}.*?```", text, re.S))) / 500


def cores() -> int:
    """The cores this process may use (its CPU affinity, as ``gdlab.threaded_runs`` counts them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def chapters_in_book() -> list[pathlib.Path]:
    """The executable chapters under ``chapters/``, in file order."""
    return [p for p in sorted((ROOT / "chapters").glob("*.md")) if is_myst_notebook(p)]


def _execute(path: str, nb: nbformat.NotebookNode, timeout: int, allow_errors: bool,
             env: dict[str, str]) -> tuple[str, nbformat.NotebookNode | None, float, str | None]:
    """Run chapter ``nb`` (read from ``path``) in a fresh kernel, in a worker process: ``(path, executed
    notebook, seconds, error)``.

    Every failure (a failing cell, a dead kernel, a kernel that does not start) comes back as the
    ``error`` traceback, so that the other chapters' runs are still stored.
    """
    import traceback

    from jupyter_cache.executors.utils import single_nb_execution

    os.environ["GDLAB_STRICT"] = "1"  # as _ext/course_tools.setup sets it for the build's kernels
    os.environ.update(env)  # inherited by the kernel
    start = time.perf_counter()
    try:
        # shutdown_kernel="immediate": once the last cell has replied, the kernel is stopped without waiting
        # for its interpreter to finalise (0.3-0.6 s with numba's threads and matplotlib loaded), as nbval does
        result = single_nb_execution(nb, cwd=str(pathlib.Path(path).parent), timeout=timeout,
                                     allow_errors=allow_errors, meta_override=True, shutdown_kernel="immediate")
    except Exception:  # a dead kernel, a kernel that did not start in time
        return path, None, time.perf_counter() - start, traceback.format_exc()
    return path, nb, result.time, (result.exc_string or repr(result.err)) if result.err is not None else None


def execute(paths: list[pathlib.Path], jobs: int) -> tuple[dict[str, float], dict[str, str]]:
    """Execute the chapters of ``paths`` the cache lacks; return ``({chapter: seconds}, {chapter: traceback})``."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    refresh_stale_cache()
    cache = get_cache(str(EXECUTION_CACHE))
    todo = []  # (path, its notebook as the build reads it): read once, here
    for path in paths:
        nb = book_notebook(path)
        try:
            cache.match_cache_notebook(nb)
        except KeyError:
            todo.append((path, nb))
    execute_config = _config().get("execute", {})
    timeout, allow_errors = int(execute_config.get("timeout", 900)), bool(execute_config.get("allow_errors", False))
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    if not todo:
        return seconds, errors
    times = _times_file()
    last = json.loads(times.read_text()) if times.is_file() else {}
    todo.sort(key=lambda item: -last.get(item[0].stem, guess_seconds(item[0])))  # longest (last time, or by its code) first
    workers = max(1, min(jobs, len(todo)))
    env = {k: os.environ.get(k, v) for k, v in ONE_THREAD_EACH.items()} if workers > 1 else {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")
                                                if sys.platform != "win32" else None) as pool:
        futures = [pool.submit(_execute, str(p), nb, timeout, allow_errors, env) for p, nb in todo]
        for future in concurrent.futures.as_completed(futures):
            path, nb, secs, error = future.result()
            name = pathlib.Path(path).stem
            if error is not None:
                errors[name] = error
                print(f"  {name}: FAILED after {secs:.1f} s (not cached)", flush=True)
                continue
            cache.cache_notebook_bundle(CacheBundleIn(nb, path, data={"execution_seconds": secs}),
                                        check_validity=False, overwrite=True)
            seconds[name] = secs
            print(f"  {name}: executed in {secs:.1f} s", flush=True)
    times.write_text(json.dumps({**last, **seconds}, indent=1, sort_keys=True))
    return seconds, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("chapters", nargs="*", type=pathlib.Path, help="default: every chapter")
    ap.add_argument("--jobs", "-j", type=int, default=cores(),
                    help="chapters executed at once (default: the cores this process may use)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {args.jobs}")
    mode = _config().get("execute", {}).get("execute_notebooks", "cache")
    if mode != "cache":
        print(f"_config.yml executes notebooks in mode {mode!r}, not 'cache': the build decides, nothing executed here")
        return 0
    paths = [p.resolve() for p in args.chapters] or chapters_in_book()
    start = time.perf_counter()
    seconds, errors = execute(paths, args.jobs)
    wall = time.perf_counter() - start
    if seconds or errors:
        print(f"executed {len(seconds) + len(errors)} chapter(s) on {args.jobs} core(s) in {wall:.1f} s "
              f"(sum of chapter times {sum(seconds.values()):.1f} s)")
    else:
        print("every chapter is in the execution cache: nothing to execute")
    for name, error in errors.items():
        print(f"\n{name} failed:\n{error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
