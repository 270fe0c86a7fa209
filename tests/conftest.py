"""Fixtures of the tests of the built book (``tests/test_book*.py``)."""
from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import book_build  # noqa: E402  (helper module next to this file, not collected)


@pytest.fixture(scope="session")
def built_book(request) -> pathlib.Path:
    """The book built once per test run with the flags of ``make book`` (shared by all workers); the HTML folder."""
    return book_build.shared_build(request)
