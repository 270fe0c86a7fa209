r"""Asymptotics of GD sequences: linear rates, power laws, period-2 orbits, run labels.

* :func:`fit_linear_rate`: :math:`\log|v_t| \approx a + t\log\rho` (geometric decay :math:`|v_t| \approx e^a\rho^t`).
* :func:`fit_power_law`: :math:`\log|v_t| \approx \log c + p\log t` (:math:`|v_t| \approx c\,t^{p}`).
* :func:`detect_period_two`: is the tail of a trajectory a 2-cycle :math:`x \mapsto x' \mapsto x`,
  and with what amplitude :math:`\tfrac12\|x - x'\|` and centre :math:`\tfrac12(x + x')`.
* :func:`classify_runs`: label every run of a :func:`gdlab.descent.sweep` as converged,
  period-2, other or diverged.

The fits are ordinary least squares on the logarithms, batched over trailing axes of ``values``
(shape ``(T, ...)``); entries that are zero or not finite are left out of their own series.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .descent import gd_map

__all__ = [
    "CONVERGED",
    "DIVERGED",
    "LABELS",
    "OTHER",
    "PERIOD_TWO",
    "PeriodTwo",
    "PowerLawFit",
    "RateFit",
    "RunClasses",
    "classify_runs",
    "detect_period_two",
    "fit_linear_rate",
    "newton_two_cycle",
    "fit_power_law",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class RateFit:
    r"""Fit :math:`\log|v_t| \approx \text{intercept} + t\log(\text{rate})`; fields have the batch shape.

    Attributes:
        rate: fitted contraction factor :math:`\rho` per step (``< 1`` for convergence).
        intercept: :math:`a`, the fitted :math:`\log|v_0|`.
        stderr: standard error of the fitted slope :math:`\log\rho` (NaN with fewer than 3 points);
            :math:`\rho \in \exp(\log\rho \pm 2\,\text{stderr})` is a rough 95% band.
        window: ``(start, stop)``, the index range of ``values`` used.
    """

    rate: Array | float
    intercept: Array | float
    stderr: Array | float
    window: tuple[int, int]


@dataclass(frozen=True)
class PowerLawFit:
    r"""Fit :math:`\log|v_t| \approx \log(\text{prefactor}) + \text{exponent}\cdot\log t`; fields have the batch shape.

    Attributes:
        exponent: :math:`p` (e.g. :math:`-1/2` for :math:`t^{-1/2}` decay).
        prefactor: :math:`c`.
        stderr: standard error of :math:`p` (NaN with fewer than 3 points).
        window: ``(start, stop)``, the index range of ``values`` used.
    """

    exponent: Array | float
    prefactor: Array | float
    stderr: Array | float
    window: tuple[int, int]


@dataclass(frozen=True)
class PeriodTwo:
    r"""Result of :func:`detect_period_two`; fields have the batch shape of the trajectory.

    Attributes:
        is_period_two: bool, the last iterates alternate between two distinct points.
        amplitude: :math:`\tfrac12\|x_{T-1} - x_{T-2}\|`, half the distance between the two points
            of the orbit (computed for every run; meaningful where ``is_period_two``).
        centre: :math:`\tfrac12(x_{T-1} + x_{T-2})`, shape ``(..., n)``.
    """

    is_period_two: NDArray[np.bool_]
    amplitude: Array
    centre: Array


def _window(window: object, T: int) -> tuple[int, int]:
    if window is None:
        return 0, T
    if isinstance(window, slice):
        start, stop, step = window.indices(T)
        if step != 1:
            raise ValueError(f"window must be a contiguous range, got {window!r}")
    else:
        try:
            start, stop = (int(x) for x in window)  # type: ignore[union-attr, attr-defined]
        except (TypeError, ValueError):
            raise ValueError(f"window must be (start, stop) indices or a slice, got {window!r}") from None
        start, stop, _ = slice(start, stop).indices(T)
    if stop - start < 2:
        raise ValueError(f"window must contain at least 2 points of the {T} values, got {window!r}")
    return start, stop


def _values(values: ArrayLike) -> Array:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"values must be an array of real numbers, got {values!r}") from None
    if arr.ndim == 0 or arr.shape[0] < 2:
        raise ValueError(f"values must have shape (T, ...) with T >= 2, got {arr.shape}")
    return arr


def _steps(steps: ArrayLike | None, T: int) -> Array:
    if steps is None:
        return np.arange(T, dtype=np.float64)
    s = np.asarray(steps, dtype=np.float64)
    if s.shape != (T,) or not np.all(np.isfinite(s)):
        raise ValueError(f"steps must be {T} finite numbers (one per value), got shape {s.shape}")
    return s


def _masked_line_fit(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Least squares ``y ~ a + b x`` per column of ``y`` (T, m), ignoring non-finite ``y``."""
    mask = np.isfinite(y)
    yz = np.where(mask, y, 0.0)
    xm = np.where(mask, x[:, None], 0.0)
    with np.errstate(all="ignore"):
        n = mask.sum(axis=0).astype(np.float64)
        xbar = xm.sum(axis=0) / n
        ybar = yz.sum(axis=0) / n
        dx = np.where(mask, x[:, None] - xbar, 0.0)
        sxx = np.sum(dx * dx, axis=0)
        slope = np.sum(dx * (yz - ybar), axis=0) / sxx
        intercept = ybar - slope * xbar
        resid = np.where(mask, yz - intercept - slope * x[:, None], 0.0)
        stderr = np.sqrt(np.sum(resid * resid, axis=0) / (n - 2) / sxx)
        ok = (n >= 2) & (sxx > 0)
        slope = np.where(ok, slope, np.nan)
        intercept = np.where(ok, intercept, np.nan)
        stderr = np.where(ok & (n >= 3), stderr, np.nan)
    return slope, intercept, stderr


def _shape_out(arr: Array, batch: tuple[int, ...]) -> Array | float:
    arr = arr.reshape(batch)
    return float(arr) if batch == () else arr


def fit_linear_rate(values: ArrayLike, steps: ArrayLike | None = None, window: object = None) -> RateFit:
    r"""Fit a geometric rate: :math:`\log|v_t| \approx a + t\log\rho` by least squares.

    ``values`` has shape ``(T, ...)`` (trailing axes are independent series); ``steps`` (default
    ``0..T-1``) gives :math:`t`; ``window`` = ``(start, stop)`` indices (or a slice) restricts the fit
    to ``values[start:stop]``. Zero or non-finite entries are skipped in their series; a series with
    fewer than two usable points gives NaN.

    >>> fit = fit_linear_rate(3.0 * 0.5 ** np.arange(20))
    >>> round(fit.rate, 12), round(float(np.exp(fit.intercept)), 12)
    (0.5, 3.0)
    """
    v = _values(values)
    T = v.shape[0]
    t = _steps(steps, T)
    start, stop = _window(window, T)
    batch = v.shape[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.log(np.abs(v[start:stop].reshape(stop - start, -1)))
    slope, intercept, stderr = _masked_line_fit(t[start:stop], logv)
    with np.errstate(all="ignore"):
        rate = np.exp(slope)
    return RateFit(
        rate=_shape_out(rate, batch),
        intercept=_shape_out(intercept, batch),
        stderr=_shape_out(stderr, batch),
        window=(start, stop),
    )


def fit_power_law(values: ArrayLike, steps: ArrayLike, window: object = None) -> PowerLawFit:
    r"""Fit a power law :math:`|v_t| \approx c\,t^p`: least squares of :math:`\log|v_t|` on :math:`\log t`.

    ``values`` has shape ``(T, ...)``; ``steps`` (shape ``(T,)``) must be positive inside the window.
    Zero or non-finite values are skipped in their series.

    >>> t = np.arange(1, 200)
    >>> fit = fit_power_law(2.0 * t ** -0.5, t)
    >>> round(fit.exponent, 12), round(fit.prefactor, 12)
    (-0.5, 2.0)
    """
    v = _values(values)
    T = v.shape[0]
    if steps is None:
        raise ValueError("steps must be given (positive iteration numbers) for a power-law fit")
    t = _steps(steps, T)
    start, stop = _window(window, T)
    if np.any(t[start:stop] <= 0):
        raise ValueError("steps must be positive inside the window (log t is fitted)")
    batch = v.shape[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.log(np.abs(v[start:stop].reshape(stop - start, -1)))
    slope, intercept, stderr = _masked_line_fit(np.log(t[start:stop]), logv)
    with np.errstate(all="ignore"):
        prefactor = np.exp(intercept)
    return PowerLawFit(
        exponent=_shape_out(slope, batch),
        prefactor=_shape_out(prefactor, batch),
        stderr=_shape_out(stderr, batch),
        window=(start, stop),
    )


def newton_two_cycle(
    step: Callable[[Array], tuple[Array, Array]], x: Array, iterations: int
) -> Array:
    r"""Newton's method for a point of period two of a scalar map, elementwise over an array of starts.

    ``step(x)`` returns :math:`(g(x), g'(x))`. Each iteration solves :math:`g(g(x)) = x` by
    :math:`x \leftarrow x - \frac{g(g(x)) - x}{g'(g(x))\,g'(x) - 1}`; ``iterations`` steps are taken
    with no stopping test (the callers check the result). Call it inside ``np.errstate`` when a start
    may leave the domain.

    >>> newton_two_cycle(lambda x: (-x**3, -3 * x**2), np.array([0.9]), 20)   # the 2-cycle {1, -1} of -x^3
    array([1.])
    """
    for _ in range(iterations):
        g1, d1 = step(x)
        g2, d2 = step(g1)
        x = x - (g2 - x) / (d2 * d1 - 1)
    return x


def detect_period_two(traj: ArrayLike, rtol: float = 1e-6, atol: float = 1e-9) -> PeriodTwo:
    r"""Detect a period-2 orbit in the last four iterates of ``traj`` (shape ``(T, ..., n)``, ``T >= 4``).

    With :math:`x_a \approx x_b` meaning :math:`\|x_a - x_b\| \le \text{atol} + \text{rtol}\max(\|x_a\|, \|x_b\|)`,
    a run is period-2 when :math:`x_{T-1} \approx x_{T-3}`, :math:`x_{T-2} \approx x_{T-4}`, all four are
    finite and :math:`x_{T-1} \not\approx x_{T-2}` (a fixed point is not a 2-cycle). A 1-D ``traj`` is a
    scalar sequence (``n = 1``). Loosen ``rtol`` for orbits that are still converging slowly.

    >>> x = np.array([0.3, -0.3, 0.3, -0.3, 0.3])
    >>> res = detect_period_two(x)
    >>> bool(res.is_period_two), float(res.amplitude), res.centre.tolist()
    (True, 0.3, [0.0])
    """
    x = _checks.as_float_array(traj, "traj")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim < 2 or x.shape[0] < 4:
        raise ValueError(f"traj must have shape (T, ..., n) with T >= 4, got {np.shape(traj)}")
    rtol = float(_checks.nonnegative_finite(rtol, "rtol"))
    atol = float(_checks.nonnegative_finite(atol, "atol"))
    a, b, c, d = x[-4], x[-3], x[-2], x[-1]
    with np.errstate(all="ignore"):
        def close(p: Array, q: Array) -> NDArray[np.bool_]:
            dist = np.linalg.norm(p - q, axis=-1)
            size = np.maximum(np.linalg.norm(p, axis=-1), np.linalg.norm(q, axis=-1))
            return dist <= atol + rtol * size

        finite = np.all(np.isfinite(x[-4:]), axis=(0, -1))
        is_p2 = finite & close(d, b) & close(c, a) & ~close(d, c)
        amplitude = 0.5 * np.linalg.norm(d - c, axis=-1)
        centre = 0.5 * (d + c)
    return PeriodTwo(is_period_two=np.asarray(is_p2), amplitude=np.asarray(amplitude), centre=centre)


CONVERGED, PERIOD_TWO, OTHER, DIVERGED = 0, 1, 2, 3
LABELS = ("converged", "period-2", "other", "diverged")


@dataclass(frozen=True)
class RunClasses:
    """Labels of the runs of a sweep: codes ``CONVERGED=0, PERIOD_TWO=1, OTHER=2, DIVERGED=3`` (names in ``LABELS``).

    Attributes:
        labels: ``(n_eta, n_init)`` int8 codes.
        amplitude: ``(n_eta, n_init)`` half-distance between the two points of the orbit; NaN unless period-2.
    """

    labels: NDArray[np.int8]
    amplitude: Array

    def fraction(self, label: int | str) -> Array:
        """Fraction of runs with ``label`` (code or name) per step size, shape ``(n_eta,)``."""
        code = LABELS.index(label) if isinstance(label, str) else int(label)
        return np.mean(self.labels == code, axis=-1)


def classify_runs(objective, result, *, grad_tol: float = 1e-8, rtol: float = 1e-6, atol: float = 1e-9) -> RunClasses:
    r"""Label every run of a :class:`gdlab.descent.SweepResult` produced on ``objective``.

    * diverged: ``result.diverged``;
    * converged: asymptotic gradient norm below ``grad_tol``;
    * period-2: the final iterate and three further GD steps (:func:`gdlab.descent.gd_map`, same step size) pass
      :func:`detect_period_two` with ``rtol``, ``atol``;
    * other: everything else (slow convergence, longer cycles, chaos).

    >>> from gdlab.objectives import DeepScalarLinear
    >>> from gdlab.descent import sweep
    >>> f = DeepScalarLinear(2)
    >>> res = sweep(f, [0.5, 1.05], np.array([[1.3, 0.8]]), steps=3000)
    >>> [LABELS[c] for c in classify_runs(f, res).labels[:, 0]]
    ['converged', 'period-2']
    """
    grad_tol = float(_checks.positive_finite(grad_tol, "grad_tol"))
    eta = np.asarray(result.step_sizes, dtype=np.float64)[:, None]
    w = np.where(result.diverged[..., None], 0.0, result.final_params)
    traj = [w]
    for _ in range(3):
        traj.append(gd_map(objective, traj[-1], eta))
    p2 = detect_period_two(np.stack(traj), rtol=rtol, atol=atol)
    labels = np.full(result.diverged.shape, OTHER, dtype=np.int8)
    labels[p2.is_period_two] = PERIOD_TWO
    with np.errstate(invalid="ignore"):
        labels[result.grad_norm < grad_tol] = CONVERGED
    labels[result.diverged] = DIVERGED
    amplitude = np.where(labels == PERIOD_TWO, p2.amplitude, np.nan)
    return RunClasses(labels=labels, amplitude=amplitude)
