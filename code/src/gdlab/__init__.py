"""gdlab: the shared code of the book *Gradient descent at large step sizes*.

Modules, each named for what it holds: :mod:`~gdlab.objectives` (losses with exact grad/hvp and
flattest-minimiser sharpness), :mod:`~gdlab.descent` (GD runs and vectorised sweeps: the one GD engine),
:mod:`~gdlab.curvature` (Hessian sharpness), :mod:`~gdlab.dynamics` (rates, power laws, period-2 orbits),
:mod:`~gdlab.manifold` (the minimiser manifold of the scalar factorisation), :mod:`~gdlab.tubular_runs` (long
GD runs of the scalar factorisation read in tubular coordinates), :mod:`~gdlab.floquet` and
:mod:`~gdlab.averaged` (its 2-cycle and averaged model), :mod:`~gdlab.phase_transition` (the transition at the
critical step size), :mod:`~gdlab.pl_criterion` (the local PL criterion), :mod:`~gdlab.initialisation`
(network initialisations and the certificate of the positive one), :mod:`~gdlab.tangent_kernel`,
:mod:`~gdlab.statistics` (Monte Carlo probabilities), :mod:`~gdlab.lazy` (kernel regression),
:mod:`~gdlab.threaded_runs` (a batch of runs on threads), :mod:`~gdlab.interval_maps` (one-dimensional GD
maps), :mod:`~gdlab.data` (seeded data), :mod:`~gdlab.plotting` (house style), :mod:`~gdlab.notebook` (claim
checks) and the sympy derivations in :mod:`gdlab.symbolic`.

``import gdlab`` is light: it imports no submodule (so neither scipy, sympy, scikit-learn nor
matplotlib). A submodule is imported on first access, ``gdlab.pl_criterion`` as well as
``from gdlab import pl_criterion``; every module of the package is found this way, including ones added later.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from ._version import __version__

#: old module names (issue 10) -> the module each now names; the old name imports the same module object
_OLD_NAMES: dict[str, str] = {
    "maps": "interval_maps",
    "pl": "pl_criterion",
    "regimes": "tubular_runs",
    "transition": "phase_transition",
}

#: public submodules, discovered from the package directory (private ``_name`` modules and old names excluded)
SUBMODULES: tuple[str, ...] = tuple(sorted(
    m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name not in _OLD_NAMES))

__all__ = ["SUBMODULES", "__version__", *SUBMODULES]


def __getattr__(name: str) -> ModuleType:
    if name in SUBMODULES or name in _OLD_NAMES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gdlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBMODULES))
