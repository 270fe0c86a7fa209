"""Tests of the package surface: light import, lazy submodules, __all__ everywhere, one version, metadata."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import pathlib
import pkgutil
import subprocess
import sys
import tomllib

import pytest

import gdlab

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "code" / "src" / "gdlab"
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(gdlab.__path__, "gdlab.")
    if not m.name.rsplit(".", 1)[-1].startswith("_") and m.name.removeprefix("gdlab.") not in gdlab._OLD_NAMES
)


def test_import_gdlab_is_light_and_submodules_load_on_access() -> None:
    code = (
        "import sys, gdlab\n"
        "heavy = [m for m in ('scipy', 'sympy', 'sklearn', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'gdlab.pl_criterion' not in sys.modules\n"
        "assert callable(gdlab.pl_criterion.certify) and 'gdlab.pl_criterion' in sys.modules\n"
        "assert gdlab.symbolic.__name__ == 'gdlab.symbolic'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_unknown_attribute_and_dir() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gdlab.nope  # noqa: B018
    assert {"descent", "objectives", "pl_criterion", "__version__"} <= set(dir(gdlab))
    assert set(gdlab.SUBMODULES) <= set(gdlab.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_all(name: str) -> None:
    mod = importlib.import_module(name)
    assert isinstance(getattr(mod, "__all__", None), list), f"{name} has no __all__"
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{name}.__all__ lists undefined names {missing}"


def test_one_version_string() -> None:
    from gdlab._version import __version__

    assert gdlab.__version__ == __version__ == md.version("gdlab")
    project = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"] and "version" not in project
    # the book's footer and citation metadata read CITATION.cff: it must name the same version
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert f'version: "{__version__}"' in cff, "CITATION.cff's version differs from gdlab's"


def test_metadata_declares_runtime_dependencies_licence_and_types() -> None:
    requires = " ".join(md.requires("gdlab") or [])
    for dep in ("numpy", "scipy", "sympy", "scikit-learn", "tqdm"):
        assert dep in requires, f"{dep} is not declared"
    assert 'matplotlib>=3.8; extra == "plot"' in requires
    assert md.metadata("gdlab")["License-Expression"] == "MIT"
    assert (PKG / "py.typed").is_file()


def test_layout_moved_names_still_resolve() -> None:
    """Names moved by the layout of issue 10 stay reachable under their old module (undocumented)."""
    from gdlab import initialisation, manifold, pl, statistics, tangent_kernel

    assert pl.positive_init is initialisation.positive_init and pl.glorot_init is initialisation.glorot_init
    assert pl.tangent_kernel is tangent_kernel.tangent_kernel and pl.event_probability is statistics.event_probability
    assert manifold.sharpness is manifold.minimiser_sharpness
    assert "positive_init" not in pl.__all__ and "sharpness" not in manifold.__all__
    with pytest.raises(AttributeError):
        pl.nope  # noqa: B018


#: the chapter-named modules of issue 10 and the names they now have (spelt as strings: tools/rename_api.py
#: rewrites every use of the old names in this file)
OLD_MODULE_NAMES = {"pl": "pl_criterion", "maps": "interval_maps", "transition": "phase_transition", "regimes": "tubular_runs"}


@pytest.mark.parametrize("old", sorted(OLD_MODULE_NAMES))
def test_old_module_names_are_the_new_modules(old: str) -> None:
    """``gdlab.<old>`` still imports, as the very module ``gdlab.<new>`` (no copy, no warning), and is not listed."""
    import warnings

    new = OLD_MODULE_NAMES[old]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module = importlib.import_module(f"gdlab.{old}")
        attr = getattr(gdlab, old)
    assert module is importlib.import_module(f"gdlab.{new}") is attr is sys.modules[f"gdlab.{old}"]
    assert old not in gdlab.SUBMODULES and new in gdlab.SUBMODULES and old not in gdlab.__all__
    assert gdlab._OLD_NAMES == OLD_MODULE_NAMES
    spec = importlib.util.spec_from_file_location("rename_api", ROOT / "tools" / "rename_api.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.RENAMED == OLD_MODULE_NAMES, "tools/rename_api.py and gdlab._OLD_NAMES must agree"


def test_objectives_subpackage_keeps_its_public_names() -> None:
    from gdlab import objectives

    for name in ("Objective", "Quadratic", "DeepScalarLinear", "Polynomial1D", "LinearNetwork", "MLP", "SharpnessBounds"):
        assert name in objectives.__all__ and getattr(objectives, name).__name__ == name
    assert objectives.MLP.__module__ == "gdlab.objectives.mlp"


def test_rename_script_is_idempotent_on_the_repository() -> None:
    """tools/rename_api.py --check: every chapter, test and benchmark already uses the new names."""
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "rename_api.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
