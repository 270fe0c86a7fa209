"""Fail early, with the README's set-up advice, when the environment is incomplete.

Run by ``make book`` and ``make test`` before anything else, so that a missing package gives one
clear message instead of a traceback deep inside Sphinx or a notebook kernel.
"""
from __future__ import annotations

import importlib.metadata as md
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def required() -> list[tuple[str, str]]:
    """(name, version) pairs pinned in requirements.txt."""
    pins = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins.append((m.group(1), m.group(2)))
    return pins


def main() -> int:
    if sys.version_info < (3, 11):
        print(f"set-up error: Python >= 3.11 is required, this is {sys.version.split()[0]}. See README, 'Set-up'.")
        return 1
    problems = []
    for name, version in required():
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            problems.append(f"  {name}=={version} is not installed")
            continue
        if have != version:
            problems.append(f"  {name} is {have}, requirements.txt pins {version}")
    try:
        import gdlab  # noqa: F401
    except ImportError as exc:
        problems.append(f"  the book's package gdlab cannot be imported ({exc})")
    if problems:
        print("set-up error: the environment does not match requirements.txt:")
        print("\n".join(problems))
        print("Fix: `make clean-env && make setup` (or see README, 'Set-up').")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
