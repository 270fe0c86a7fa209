"""gdlab: the shared code of the book *Gradient descent at large step sizes*.

Modules: :mod:`~gdlab.objectives` (losses with exact grad/hvp and flattest-minimiser sharpness),
:mod:`~gdlab.descent` (GD runs and vectorised sweeps), :mod:`~gdlab.curvature` (Hessian sharpness),
:mod:`~gdlab.dynamics` (rates, power laws, period-2 orbits), :mod:`~gdlab.manifold` (the minimiser
manifold of the scalar network), :mod:`~gdlab.maps` (one-dimensional GD maps), :mod:`~gdlab.regimes`
(the three regimes of chapter 5), :mod:`~gdlab.transition` (the phase transition of chapter 3),
:mod:`~gdlab.pl` (the local PL criterion), :mod:`~gdlab.initialisation` (network initialisations and the
certificate of the positive one), :mod:`~gdlab.tangent_kernel`, :mod:`~gdlab.statistics` (Monte Carlo
probabilities), :mod:`~gdlab.data` (seeded data), :mod:`~gdlab.plotting`
(house style) and the sympy derivations in :mod:`gdlab.symbolic`.

``import gdlab`` is light: it imports no submodule (so neither scipy, sympy, scikit-learn nor
matplotlib). A submodule is imported on first access, ``gdlab.pl`` as well as ``from gdlab import pl``;
every module of the package is found this way, including ones added later.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from ._version import __version__

#: public submodules, discovered from the package directory (private ``_name`` modules excluded)
SUBMODULES: tuple[str, ...] = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))

__all__ = ["SUBMODULES", "__version__", *SUBMODULES]


def __getattr__(name: str) -> ModuleType:
    if name in SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gdlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBMODULES))
