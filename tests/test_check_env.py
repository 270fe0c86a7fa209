"""The set-up check that `make book` / `make test` run first: a clear message, not a deep traceback."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture()
def check_env():
    spec = importlib.util.spec_from_file_location("check_env", ROOT / "tools" / "check_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_current_environment_matches_the_pins(check_env, capsys) -> None:
    assert check_env.main() == 0, capsys.readouterr().out


def test_every_pin_is_read(check_env) -> None:
    names = {name for name, _ in check_env.required()}
    assert {"jupyter-book", "numpy", "sympy", "nbval", "sphinx-mathjax-offline"} <= names


def test_missing_package_gives_the_setup_error(check_env, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_env, "required", lambda: [("numpy", "2.4.6"), ("no-such-package-gdlab", "1.0")])
    assert check_env.main() == 1
    out = capsys.readouterr().out
    assert out.startswith("set-up error:")
    assert "no-such-package-gdlab==1.0 is not installed" in out
    assert "make setup" in out


def test_wrong_version_is_reported(check_env, monkeypatch, capsys) -> None:
    monkeypatch.setattr(check_env, "required", lambda: [("numpy", "0.0.1")])
    assert check_env.main() == 1
    assert "numpy is" in capsys.readouterr().out
