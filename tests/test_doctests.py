"""Every example in a gdlab docstring runs and gives the printed result (the API page shows them)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gdlab

#: every module of the package, without the old names (the same module objects as their new names)
MODULES = sorted(m.name for m in pkgutil.walk_packages(gdlab.__path__, prefix="gdlab.")
                 if m.name.removeprefix("gdlab.") not in gdlab._OLD_NAMES)


def test_every_public_module_is_covered() -> None:
    assert {"gdlab.objectives", "gdlab.objectives.mlp", "gdlab.descent", "gdlab.pl_criterion", "gdlab.initialisation",
            "gdlab.manifold", "gdlab.symbolic.flip"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module}"
