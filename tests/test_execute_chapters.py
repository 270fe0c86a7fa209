"""``tools/execute_chapters.py``: chapters executed in parallel into an execution cache the build then uses."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_nbval_harness import chapter_source  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def tool(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("execute_chapters_under_test", ROOT / "tools" / "execute_chapters.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # the worker processes unpickle its functions by name
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "EXECUTION_CACHE", tmp_path / "_build" / ".jupyter_cache")
    return module


def test_runs_what_the_cache_lacks_and_stores_what_the_build_looks_up(tool, tmp_path, monkeypatch) -> None:
    from jupyter_cache import get_cache

    monkeypatch.delenv("GDLAB_STRICT", raising=False)  # the tool must set it for the kernels itself
    good, bad, dead = tmp_path / "good.md", tmp_path / "bad.md", tmp_path / "dead.md"
    good.write_text(chapter_source("import os\nprint(os.environ['GDLAB_STRICT'], 6 * 7)"))
    bad.write_text(chapter_source("raise ValueError('a planted failure')"))
    dead.write_text(chapter_source("import os\nos._exit(3)"))
    assert tool.is_myst_notebook(good) and not tool.is_myst_notebook(ROOT / "README.md")
    seconds, errors = tool.execute([good, bad, dead], jobs=2)
    assert set(seconds) == {"good"} and set(errors) == {"bad", "dead"}, (seconds, errors)
    assert "a planted failure" in errors["bad"] and "DeadKernelError" in errors["dead"], errors
    cache = get_cache(str(tool.EXECUTION_CACHE))
    record = cache.match_cache_notebook(tool.book_notebook(good))  # what MyST-NB's cache mode looks up
    stored = cache.get_cache_bundle(record.pk).nb
    assert stored.cells[0].outputs[0]["text"] == "1 42\n", "run in strict mode, output stored"
    with pytest.raises(KeyError):
        cache.match_cache_notebook(tool.book_notebook(bad))
    assert tool.execute([good], jobs=1) == ({}, {}), "a cached chapter is not executed again"
    good.write_text(chapter_source("x = 2"))
    assert set(tool.execute([good], jobs=1)[0]) == {"good"}, "changed code is executed again"


def test_a_changed_package_empties_the_cache(tool, monkeypatch) -> None:
    monkeypatch.setattr(tool, "library_digest", lambda: "one")
    tool.EXECUTION_CACHE.mkdir(parents=True)
    pickle = tool.EXECUTION_CACHE.parent / ".doctrees" / "environment.pickle"
    pickle.parent.mkdir()
    pickle.write_bytes(b"x")
    assert tool.refresh_stale_cache() and not pickle.exists(), "no stamp yet: emptied, the build re-reads"
    tool.EXECUTION_CACHE.mkdir()
    assert not tool.refresh_stale_cache() and tool.EXECUTION_CACHE.is_dir(), "same sources: kept"
    monkeypatch.setattr(tool, "library_digest", lambda: "two")
    assert tool.refresh_stale_cache() and not tool.EXECUTION_CACHE.exists()


def test_jobs_must_be_positive(tool) -> None:
    with pytest.raises(ValueError, match="jobs"):
        tool.main(["--jobs", "0"])
