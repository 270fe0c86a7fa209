"""Switch a chapter's set-up cell from "every RuntimeWarning is an error" to gdlab's warnings policy.

Before (strict for everyone, so a reader's diverging run stops the notebook)::

    import warnings; warnings.simplefilter("error", RuntimeWarning)

After (strict in the book build and the tests, where ``GDLAB_STRICT=1``; a shown warning for a reader)::

    from gdlab import notebook; notebook.warnings_policy()  # RuntimeWarning: error in build/tests, warning for a reader

Idempotent: a chapter already converted is left as it is.  Only the set-up cell (the chapter's first
code cell) is changed, and in it only that line; nothing else in the chapter is touched.

Usage::

    python tools/convert_setup_cells.py chapters/02_critical_step_size.md [...]   # convert
    python tools/convert_setup_cells.py --check chapters/*.md                     # list, change nothing
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

OLD = re.compile(
    r"^(?P<indent>[ \t]*)import warnings\s*;\s*warnings\.simplefilter\(\s*[\"']error[\"']\s*,\s*RuntimeWarning\s*\)[ \t]*(#.*)?$",
    re.M,
)
NEW = ("from gdlab import notebook; notebook.warnings_policy()"
       "  # RuntimeWarning: error in build/tests, warning for a reader")
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n.*?^```[ \t]*$", re.M | re.S)


def convert_text(text: str) -> tuple[str, bool]:
    """(new text, changed?) for one chapter's MyST source."""
    cell = CELL.search(text)  # the set-up cell is the chapter's first code cell
    if cell is None or not OLD.search(cell.group(0)):
        return text, False
    new_block = OLD.sub(lambda m: m.group("indent") + NEW, cell.group(0), count=1)
    return text[: cell.start()] + new_block + text[cell.end():], True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report what would change, write nothing")
    args = parser.parse_args(argv)
    pending = 0
    for path in args.chapters:
        text = path.read_text(encoding="utf-8")
        new, changed = convert_text(text)
        if not changed:
            state = "already uses the policy" if NEW in text else "no set-up line to convert"
            print(f"{path}: {state}")
            continue
        pending += 1
        if args.check:
            print(f"{path}: would convert the set-up cell")
        else:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: set-up cell converted")
    return 1 if (args.check and pending) else 0


if __name__ == "__main__":
    sys.exit(main())
