r"""Gradient descent on one-dimensional losses as an interval map :math:`g_\eta(x) = x - \eta f'(x)`.

* :func:`map_derivative` is :math:`g_\eta'(x) = 1 - \eta f''(x)`, the local stretching factor.
* :func:`orbit_diagram` iterates a whole grid of step sizes x initialisations at once, discards a
  transient and keeps the next points of every orbit, with the orbit's Lyapunov exponent
  :math:`\frac1T \sum_t \log|g_\eta'(x_t)|`: the data of a bifurcation (orbit) diagram.
* :func:`least_period` reads off the least period of each kept orbit (0 when none is found).

All arrays are float64; a run that leaves :math:`|x| <` ``blowup`` or becomes non-finite is frozen,
masked (NaN) and flagged, and no floating-point warning leaks out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .descent import run
from .objectives import Objective

__all__ = [
    "OrbitDiagram",
    "least_period",
    "map_derivative",
    "orbit_diagram",
]

Array = NDArray[np.float64]


def _one_dimensional(objective: Objective) -> None:
    if getattr(objective, "n_params", None) != 1:
        raise ValueError(f"objective must be one-dimensional (n_params == 1), got n_params={getattr(objective, 'n_params', None)!r}")


def map_derivative(objective: Objective, x: ArrayLike, step_size: ArrayLike) -> Array:
    r"""Derivative :math:`g_\eta'(x) = 1 - \eta f''(x)` of the 1-D GD map; ``x`` is ``(..., 1)``, result ``(...,)``.

    ``step_size`` is a scalar or broadcasts against ``x.shape[:-1]``.

    >>> from gdlab.objectives import Polynomial1D
    >>> double_well = Polynomial1D([0.25, 0, -0.5, 0, 0.25])   # (x^2 - 1)^2 / 4
    >>> float(map_derivative(double_well, np.array([1.0]), 1.5))
    -2.0
    """
    _one_dimensional(objective)
    eta = _checks.positive_finite(step_size, "step_size")
    x = objective._params(x, "x")
    curvature = objective.hvp(x, np.ones_like(x))[..., 0]
    return 1.0 - eta * curvature


@dataclass(frozen=True)
class OrbitDiagram:
    """Tails of GD orbits over a grid of step sizes x initialisations (see :func:`orbit_diagram`).

    Attributes:
        step_sizes: ``(n_eta,)``.
        inits: ``(n_init,)`` initial points.
        points: ``(n_eta, n_init, keep)``: :math:`x_t` for ``t = transient, ..., transient + keep - 1``;
            NaN where the run diverged.
        lyapunov: ``(n_eta, n_init)``: :math:`\\frac{1}{keep}\\sum_t \\log|g_\\eta'(x_t)|` over the kept points;
            NaN where diverged, ``-inf`` if an orbit hits a point with :math:`g_\\eta' = 0` exactly.
        diverged: ``(n_eta, n_init)`` bool.
        transient: number of discarded steps.
    """

    step_sizes: Array
    inits: Array
    points: Array
    lyapunov: Array
    diverged: NDArray[np.bool_]
    transient: int

    def periods(self, *, max_period: int = 32, tol: float = 1e-7) -> NDArray[np.int64]:
        """Least period of every kept orbit, ``(n_eta, n_init)``; see :func:`least_period`."""
        return least_period(self.points, max_period=max_period, tol=tol)


def orbit_diagram(
    objective: Objective,
    step_sizes: ArrayLike,
    inits: ArrayLike,
    *,
    transient: int = 1000,
    keep: int = 128,
    blowup: float = 1e6,
) -> OrbitDiagram:
    r"""Iterate :math:`g_\eta(x) = x - \eta f'(x)` for every step size and initial point at once (with :func:`gdlab.descent.run`).

    ``step_sizes`` has shape ``(n_eta,)``, ``inits`` shape ``(n_init,)``; the state is an array
    ``(n_eta, n_init, 1)``.  After ``transient`` steps the next ``keep`` points are stored, and the
    Lyapunov exponent :math:`\frac1{keep}\sum_t \log|1 - \eta f''(x_t)|` is averaged over them
    (negative on an attracting cycle, positive on a chaotic orbit).

    >>> from gdlab.objectives import Polynomial1D
    >>> double_well = Polynomial1D([0.25, 0, -0.5, 0, 0.25])
    >>> d = orbit_diagram(double_well, [0.5, 1.1], [1.2], transient=2000, keep=8)
    >>> d.periods(max_period=4).ravel().tolist()
    [1, 2]
    """
    _one_dimensional(objective)
    etas = _checks.positive_finite(step_sizes, "step_sizes")
    if etas.ndim != 1:
        raise ValueError(f"step_sizes must be one-dimensional, got shape {etas.shape}")
    x0 = _checks.finite_array(inits, "inits", ndim=1)
    transient = _checks.positive_int(transient, "transient", minimum=0)
    keep = _checks.positive_int(keep, "keep")
    blowup = float(_checks.positive_finite(blowup, "blowup"))

    w0 = np.broadcast_to(x0[None, :, None], (etas.size, x0.size, 1))
    eta = np.broadcast_to(etas[:, None], (etas.size, x0.size))
    traj = run(objective, w0, eta, transient + keep - 1, record_at=np.arange(transient, transient + keep),
               blowup=blowup, check_every=50)
    diverged = traj.diverged
    kept = np.moveaxis(cast(Array, traj.params)[..., 0], 0, -1)  # (n_eta, n_init, keep)
    log_stretch = np.zeros((etas.size, x0.size))
    with np.errstate(all="ignore"):
        safe = np.where(diverged[..., None], 0.0, kept)
        for k in range(keep):
            x = safe[..., k : k + 1]
            log_stretch += np.log(np.abs(1.0 - eta * objective.hvp(x, np.ones_like(x))[..., 0]))
    nan_out = np.where(diverged, np.nan, 1.0)
    return OrbitDiagram(
        step_sizes=etas,
        inits=x0,
        points=kept * nan_out[..., None],
        lyapunov=log_stretch / keep * nan_out,
        diverged=diverged,
        transient=transient,
    )


def least_period(points: ArrayLike, *, max_period: int = 32, tol: float = 1e-7) -> NDArray[np.int64]:
    r"""Least :math:`p \le` ``max_period`` with :math:`|x_{t+p} - x_t| \le \mathrm{tol}\,(1 + \max_t |x_t|)` for all kept ``t``.

    ``points`` has shape ``(..., keep)`` with ``keep > max_period``; returns ``(...,)`` integers, 0 where
    no period up to ``max_period`` fits (chaotic or not yet converged orbits) or the orbit contains NaN.

    >>> least_period(np.array([[1.0, 1.0, 1.0, 1.0], [0.2, 0.8, 0.2, 0.8]]), max_period=2).tolist()
    [1, 2]
    """
    pts = _checks.as_float_array(points, "points")
    max_period = _checks.positive_int(max_period, "max_period")
    tol = float(_checks.nonnegative_finite(tol, "tol"))
    if pts.ndim == 0 or pts.shape[-1] <= max_period:
        raise ValueError(f"points must have shape (..., keep) with keep > max_period={max_period}, got {pts.shape}")
    out = np.zeros(pts.shape[:-1], dtype=np.int64)
    finite = np.all(np.isfinite(pts), axis=-1)
    with np.errstate(invalid="ignore"):
        scale = tol * (1.0 + np.max(np.abs(pts), axis=-1))
        for p in range(max_period, 0, -1):  # descending: the last match is the least period
            fits = np.all(np.abs(pts[..., p:] - pts[..., :-p]) <= scale[..., None], axis=-1)
            out = np.where(fits & finite, p, out)
    return out
