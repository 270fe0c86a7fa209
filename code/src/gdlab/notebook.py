r"""Cells a reader can change: claim checks, the floating-point warnings policy, plain-notebook glue.

A chapter is read two ways: by the book build and the tests, which must stop at the first wrong claim,
and by a reader who edits the ``parameters`` cell and reruns, who must see what changed instead of a
bare ``AssertionError``.  This module holds the little that makes both work from one source.

* :func:`strict` / :func:`warnings_policy`: in the book build and the tests (environment variable
  ``GDLAB_STRICT=1``, set by ``_ext/course_tools.py`` for every build and by the root ``conftest.py``
  for every test run) a ``RuntimeWarning`` (overflow, invalid value, division by zero) is an error;
  in a reader's notebook it is shown once per place, so a run that diverges is drawn, not stopped.
* :class:`Claims`: ``claims.check(condition, claim)`` raises ``AssertionError(claim)`` when a claim
  fails.  A check marked ``book_only=True`` is about the book's own parameters: when the reader
  has changed them (``reader != book``), a failure is *reported* ("this check is about the book's
  parameters ...") instead of raised.  :meth:`Claims.summary` is the one-line "N claims checked".
* :func:`book_glue`: ``myst_nb.glue`` itself (the same display message, which MyST-NB reads back into
  ``{glue}`` roles), without the second its import costs in every kernel; the chapters import it as
  ``glue``.
* :func:`glue`: a stand-in for ``myst_nb.glue`` in the exported plain notebooks (``make notebooks``):
  a glued figure is shown as a PNG image output, wherever the notebook runs; other values are kept in
  :data:`GLUED` (and shown when ``display=True``).
* :func:`report_divergence`: one line naming the runs that diverged, for a cell that draws them.

>>> claims = Claims(book={"eta": 0.9}, reader={"eta": 1.2})
>>> claims.check(1 + 1 == 2, "arithmetic")
True
>>> claims.check(False, "the run converges; it does not for eta >= 1", book_only=True)
this check is about the book's parameters (changed here: eta); with yours it does not hold: the run converges; it does not for eta >= 1
False
>>> print(claims.summary())
2 claims checked: 1 holds, 1 reported (about the book's parameters, changed here: eta)
"""
from __future__ import annotations

import io
import os
import warnings
from typing import Any, Mapping

import numpy as np

__all__ = ["STRICT_ENV", "strict", "warnings_policy", "Claims", "book_glue", "GLUE_PREFIX", "glue", "GLUED", "figure_png",
           "report_divergence"]

#: Environment variable that switches on the strict mode of the book build and the tests.
STRICT_ENV = "GDLAB_STRICT"

#: Values glued by :func:`glue` in a plain notebook, by name.
GLUED: dict[str, Any] = {}


def strict() -> bool:
    """``True`` in the book build and the tests (``GDLAB_STRICT=1``), ``False`` in a reader's notebook."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


def warnings_policy(strict_mode: bool | None = None) -> str:
    """Set how ``RuntimeWarning`` (overflow, invalid value, ...) is treated; return ``"strict"`` or ``"reader"``.

    Strict (book build, tests): every ``RuntimeWarning`` is an error, so a silent NaN cannot reach a
    glued number.  Reader (default in a notebook): the warning is shown once per place and the cell
    goes on, so a step size that makes gradient descent diverge is drawn and reported, not fatal.

    >>> warnings_policy(strict_mode=False)
    'reader'
    """
    mode = strict() if strict_mode is None else bool(strict_mode)
    warnings.simplefilter("error" if mode else "default", RuntimeWarning)
    return "strict" if mode else "reader"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except Exception:  # pragma: no cover - values np.asarray cannot take
        return a == b


class Claims:
    """Checks of the claims a chapter makes, aware of the reader's parameters.

    Args:
        book: the book's values of the ``parameters`` cell, by name.
        reader: the values in use (normally the same names read from the ``parameters`` cell).

    ``check(condition, claim)`` raises ``AssertionError(claim)`` when ``condition`` is false, unless
    ``book_only=True`` and the parameters differ from the book's: then it prints
    "this check is about the book's parameters ..." and returns ``False``.
    """

    def __init__(self, book: Mapping[str, Any] | None = None, reader: Mapping[str, Any] | None = None) -> None:
        self.book = dict(book or {})
        self.reader = dict(self.book if reader is None else reader)
        unknown = sorted(set(self.reader) - set(self.book))
        if unknown:
            raise ValueError(f"reader has parameters the book does not define: {unknown}")
        self.held = 0
        self.reported: list[str] = []

    @property
    def changed(self) -> list[str]:
        """Names of the parameters whose value differs from the book's."""
        return [name for name in self.book if not _same(self.book[name], self.reader.get(name, self.book[name]))]

    def check(self, condition: Any, claim: str, *, book_only: bool = False) -> bool:
        """Check one claim; ``claim`` says what is claimed and why it can fail after an edit."""
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError("claim must be a non-empty message naming the claim")
        ok = bool(np.all(condition))
        if ok:
            self.held += 1
            return True
        changed = self.changed
        if book_only and changed:
            self.reported.append(claim)
            print(f"this check is about the book's parameters (changed here: {', '.join(changed)}); "
                  f"with yours it does not hold: {claim}")
            return False
        raise AssertionError(claim)

    @property
    def checked(self) -> int:
        return self.held + len(self.reported)

    def summary(self) -> str:
        """One line: how many claims were checked, and how many only reported."""
        n = self.checked
        text = f"{n} claim{'s' if n != 1 else ''} checked"
        if self.reported:
            text += (f": {self.held} hold{'s' if self.held == 1 else ''}, {len(self.reported)} reported "
                     f"(about the book's parameters, changed here: {', '.join(self.changed)})")
        elif self.changed:
            text += f", all hold with your parameters (changed here: {', '.join(self.changed)})"
        else:
            text += ", all hold (the book's parameters)"
        return text


def figure_png(fig, dpi: int = 110) -> bytes:
    """The PNG bytes of a matplotlib figure (tight bounding box), independent of the backend."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _display(obj) -> None:  # replaced in tests
    from IPython.display import display

    display(obj)


#: MIME-type prefix of a value glued with ``display=False`` (MyST-NB's ``myst_nb.ext.glue.GLUE_PREFIX``).
GLUE_PREFIX = "application/papermill.record/"


def _display_raw(bundle: dict, metadata: dict) -> None:  # replaced in tests
    from IPython.display import display

    display(bundle, raw=True, metadata=metadata)


def book_glue(name: str, value: Any, display: bool = True) -> None:
    """``myst_nb.glue``: record ``value`` under ``name`` for the book's ``{glue}`` roles and directives.

    The same display message as ``myst_nb.glue`` (``tests/test_notebook.py`` compares the two): the
    value's MIME bundle, with every type prefixed by :data:`GLUE_PREFIX` when ``display=False``, and
    ``{"scrapbook": {"name": name, "mime_prefix": prefix}}`` in its metadata.  ``myst_nb.glue`` imports
    ``nbformat`` and with it ``jsonschema``'s format checkers, about a second per kernel, for a type
    annotation; this function needs only IPython.
    """
    from IPython.core.formatters import format_display_data

    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=prefix)
    _display_raw({prefix + k: v for k, v in bundle.items()}, metadata)


def glue(name: str, value: Any, display: bool = True) -> None:
    """Plain-notebook stand-in for ``myst_nb.glue``: show figures, keep values in :data:`GLUED`.

    The book build uses :func:`book_glue` (``myst_nb.glue``), whose ``display=False`` outputs no Jupyter
    front end renders;
    the exported notebooks import this function instead, so every glued figure appears as an image
    output (also with a non-interactive backend) and ``GLUED[name]`` holds every value.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    GLUED[name] = value
    if hasattr(value, "savefig"):  # a matplotlib Figure
        from IPython.display import Image

        _display(Image(data=figure_png(value), format="png"))
    elif display:
        _display(value)


def report_divergence(diverged: Any, labels: list[str] | tuple[str, ...]) -> list[str]:
    """Print one line naming the runs that diverged; return their labels (empty when none did).

    ``diverged`` is a boolean array with one entry per label (e.g. ``Trajectory.diverged``).

    >>> report_divergence(np.array([False, True]), ["eta = 0.9", "eta = 1.1"])
    diverged (drawn up to the last finite iterate): eta = 1.1
    ['eta = 1.1']
    """
    mask = np.asarray(diverged, dtype=bool).reshape(-1)
    if mask.size != len(labels):
        raise ValueError(f"diverged has {mask.size} entries but labels has {len(labels)}")
    gone = [label for label, d in zip(labels, mask) if d]
    if gone:
        print("diverged (drawn up to the last finite iterate): " + ", ".join(gone))
    return gone
