"""gdlab: the shared code of the book *Gradient descent at large step sizes*.

Modules (one idea each): :mod:`~gdlab.objectives` (losses with exact grad/hvp and flattest-minimiser
sharpness), :mod:`~gdlab.descent` (GD runs and vectorised sweeps), :mod:`~gdlab.curvature`
(sharpness), :mod:`~gdlab.dynamics` (rates, power laws, period-2 orbits), :mod:`~gdlab.data`
(seeded synthetic and small real data), :mod:`~gdlab.plotting` (house style) and the sympy
derivations in :mod:`gdlab.symbolic`. ``import gdlab`` loads the numerical modules; ``plotting``
and ``symbolic`` are imported on demand (they pull in matplotlib and sympy).
"""
from . import curvature, data, descent, dynamics, objectives

__version__ = "0.1.0"
__all__ = ["curvature", "data", "descent", "dynamics", "objectives"]
