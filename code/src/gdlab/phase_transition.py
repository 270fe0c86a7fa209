r"""The phase transition of GD at the critical step size (paper A; chapters 3 and 8).

Above the critical step size :math:`\eta^* = 2/\min_{\mathcal M}\lambda_{\max}` gradient descent
cannot converge (except from a null set of initialisations); just above it, the runs settle on a
period-2 orbit whose gradient norm grows like :math:`C\,(\eta-\eta^*)^{1/2}`. This module

* (the runs of a :func:`gdlab.descent.sweep` are classified as converged / period-2 / other /
  diverged by :func:`gdlab.dynamics.classify_runs`),
* summarises the asymptotic gradient norm per step size without warnings (:func:`grad_norm_quantiles`),
* fits the onset exponent :math:`\beta` in :math:`\|\nabla f\|_\infty \approx C(\eta-\eta^*)^\beta`
  on a stated window (:func:`fit_onset`),
* derives the onset coefficient :math:`C` of the deep scalar network on its invariant balanced line
  with sympy, and computes that 2-cycle exactly (:func:`balanced_onset`, :func:`balanced_cycle_grad_norm`),
* predicts :math:`\eta^*` for a network without a closed form from the sharpness of the minima that
  GD finds at a small step (:func:`predict_critical_step_size`) and locates the observed transition
  (:func:`observed_transition`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .curvature import sharpness
from .descent import SweepResult, sweep
from .dynamics import fit_power_law, newton_two_cycle
from .objectives import Objective

__all__ = [
    "BalancedOnset",
    "OnsetFit",
    "SharpnessPrediction",
    "balanced_cycle_grad_norm",
    "balanced_onset",
    "fit_onset",
    "grad_norm_quantiles",
    "observed_transition",
    "predict_critical_step_size",
]

Array = NDArray[np.float64]

# ----------------------------------------------------------------------------------------------
# Summaries of a sweep (run classes: :func:`gdlab.dynamics.classify_runs`)
# ----------------------------------------------------------------------------------------------


def grad_norm_quantiles(result: SweepResult, q: ArrayLike = (0.1, 0.5, 0.9)) -> Array:
    r"""Quantiles over initialisations of the asymptotic gradient norm, ignoring diverged runs.

    Returns shape ``(len(q), n_eta)``; a step size at which every run diverged gets NaN (and no
    warning is emitted).

    >>> from gdlab.objectives import DeepScalarLinear
    >>> res = sweep(DeepScalarLinear(2), [0.5], np.array([[0.8, 1.3], [1.2, 0.9]]), steps=3000)
    >>> bool(grad_norm_quantiles(res, [0.5])[0, 0] < 1e-10)
    True
    """
    q = _checks.finite_array(q, "q")
    if q.ndim != 1 or np.any((q < 0) | (q > 1)):
        raise ValueError(f"q must be a one-dimensional array of probabilities in [0, 1], got {q!r}")
    out = np.full((q.size, result.step_sizes.size), np.nan)
    for i in range(result.step_sizes.size):
        ok = ~result.diverged[i]
        if ok.any():
            out[:, i] = np.quantile(result.grad_norm[i, ok], q)
    return out


# ----------------------------------------------------------------------------------------------
# The onset exponent
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnsetFit:
    r"""Least-squares fit of :math:`\log\|\nabla f\|_\infty = \log C + \beta\log(\eta - \eta^*) [+\, c\,(\eta - \eta^*)]`.

    Attributes:
        exponent: :math:`\beta`.
        exponent_stderr: its standard error from the residuals of the linear fit.
        prefactor: :math:`C` (gradient norm per :math:`(\eta-\eta^*)^\beta`, absolute :math:`\eta`).
        correction: :math:`c`, the coefficient of the first-order correction (NaN if not fitted).
        window: ``(lo, hi)``: the fit used the step sizes with ``lo`` :math:`\le (\eta - \eta^*)/\eta^* \le` ``hi``.
        n_points: number of step sizes in the window.
        critical_step_size: :math:`\eta^*` used.
    """

    exponent: float
    exponent_stderr: float
    prefactor: float
    correction: float
    window: tuple[float, float]
    n_points: int
    critical_step_size: float


def fit_onset(
    step_sizes: ArrayLike,
    grad_norm: ArrayLike,
    critical_step_size: float,
    window: tuple[float, float] = (1e-3, 1e-1),
    *,
    correction: bool = False,
) -> OnsetFit:
    r"""Fit the onset law :math:`\|\nabla f\|_\infty \approx C(\eta - \eta^*)^\beta` on a relative window.

    ``grad_norm`` is ``(n_eta,)`` or ``(n_eta, n_init)`` (then the median over finite entries of each
    row is used). Only step sizes with :math:`(\eta-\eta^*)/\eta^* \in` ``window`` and a finite,
    positive gradient norm enter the ordinary least-squares fit in log-log coordinates
    (:func:`gdlab.dynamics.fit_power_law` with :math:`\eta - \eta^*` in place of the iteration number).

    With ``correction=True`` the model is :math:`\log\|\nabla f\| = \log C + \beta\log\delta + c\,\delta`,
    :math:`\delta = \eta - \eta^*`: a branch :math:`C\delta^\beta(1 + c\delta + O(\delta^2))` such as a flip
    bifurcation's, whose first-order correction otherwise biases :math:`\beta` on a wide window.
    Ordinary least squares in :math:`(1, \log\delta, \delta)`; ``exponent_stderr`` from its covariance.

    >>> eta = 1 + np.geomspace(1e-3, 1e-1, 9)
    >>> fit = fit_onset(eta, 2.0 * np.sqrt(eta - 1), 1.0)
    >>> round(fit.exponent, 12), round(fit.prefactor, 12)
    (0.5, 2.0)
    """
    etas = _checks.positive_finite(step_sizes, "step_sizes")
    if etas.ndim != 1:
        raise ValueError(f"step_sizes must be one-dimensional, got shape {etas.shape}")
    g = np.asarray(grad_norm, dtype=np.float64)
    if g.shape[:1] != etas.shape or g.ndim not in (1, 2):
        raise ValueError(f"grad_norm must have shape ({etas.size},) or ({etas.size}, n_init), got {g.shape}")
    eta_star = float(_checks.positive_finite(critical_step_size, "critical_step_size"))
    lo, hi = (float(v) for v in window)
    if not (0 < lo < hi):
        raise ValueError(f"window must be (lo, hi) with 0 < lo < hi, got {window!r}")
    if g.ndim == 2:
        med = np.full(etas.size, np.nan)
        for i, row in enumerate(g):
            row = row[np.isfinite(row)]
            if row.size:
                med[i] = np.median(row)
        g = med
    rel = (etas - eta_star) / eta_star
    with np.errstate(invalid="ignore"):
        use = (rel >= lo * (1 - 1e-12)) & (rel <= hi * (1 + 1e-12)) & np.isfinite(g) & (g > 0)
    n = int(use.sum())
    if n < 3:
        raise ValueError(f"window {window!r} holds {n} usable step sizes; at least 3 are needed")
    delta = etas[use] - eta_star
    if not correction:
        fit = fit_power_law(g[use], delta)
        beta, stderr, prefactor, corr = float(fit.exponent), float(fit.stderr), float(fit.prefactor), float("nan")
    else:
        if n < 4:
            raise ValueError(f"window {window!r} holds {n} usable step sizes; the corrected fit needs at least 4")
        A = np.column_stack([np.ones(n), np.log(delta), delta])
        z = np.log(g[use])
        coef, *_ = np.linalg.lstsq(A, z, rcond=None)
        resid = z - A @ coef
        cov = (resid @ resid / (n - 3)) * np.linalg.inv(A.T @ A)
        beta, stderr = float(coef[1]), float(np.sqrt(cov[1, 1]))
        prefactor, corr = float(np.exp(coef[0])), float(coef[2])
    return OnsetFit(
        exponent=beta,
        exponent_stderr=stderr,
        prefactor=prefactor,
        correction=corr,
        window=(lo, hi),
        n_points=n,
        critical_step_size=eta_star,
    )


# ----------------------------------------------------------------------------------------------
# The 2-cycle of the deep scalar network on its balanced line
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalancedOnset:
    r"""The flip bifurcation of GD on :math:`\tfrac12(w_1\cdots w_L - y)^2` restricted to :math:`w = a\mathbf 1`.

    In the coordinate :math:`a = a^*(1+u)`, :math:`a^* = y^{1/L}`, one GD step is
    :math:`u \mapsto u - s\,\big((1+u)^L - 1\big)(1+u)^{L-1}` with :math:`s = \eta y^{2-2/L}`, i.e.
    :math:`u \mapsto -(1+\alpha)u + a_2u^2 + a_3u^3 + O(u^4)` with :math:`\alpha = \lambda^*(\eta-\eta^*)`.
    On the 2-cycle :math:`u^2 = \alpha/(a_2^2 + a_3) + o(\alpha)` and
    :math:`\|\nabla f\| = \sqrt L\,|y|\,|(1+u)^L - 1|\,a^{*L-1}|1+u|^{L-1}`, so

    .. math:: \|\nabla f\| = C\sqrt{\eta - \eta^*} + O(\eta - \eta^*), \qquad
        C = L^{3/2}\, y^{2-1/L} \sqrt{\lambda^*/(a_2^2 + a_3)} .

    Attributes:
        depth, target: :math:`L`, :math:`y > 0`.
        critical_step_size: :math:`\eta^* = 2/(L y^{2-2/L})`.
        min_sharpness: :math:`\lambda^* = L y^{2-2/L}`.
        a2, a3: quadratic and cubic coefficients of the map in :math:`u` at :math:`\eta = \eta^*`.
        coefficient: :math:`C` (float); ``coefficient_expr``: the same as an exact sympy expression.
    """

    depth: int
    target: float
    critical_step_size: float
    min_sharpness: float
    a2: float
    a3: float
    coefficient: float
    coefficient_expr: object


def balanced_onset(depth: int, target: float = 1.0) -> BalancedOnset:
    r"""Derive (sympy) the onset coefficient :math:`C` of the balanced 2-cycle; see :class:`BalancedOnset`.

    Uses :func:`gdlab.symbolic.stability.flip_cycle_amplitude_squared` for the leading-order cycle
    amplitude :math:`u^2 = \alpha/(a_2^2 + a_3)` and checks that the flip is supercritical
    (:math:`a_2^2 + a_3 > 0`).

    The derivation is exact and depends only on ``(depth, target)``: it is done once per pair and process
    (cached; the result is a frozen dataclass of floats and an immutable sympy expression), so the repeated
    calls of a chapter, and of :func:`balanced_cycle_grad_norm`, cost nothing after the first.

    >>> round(balanced_onset(2, 1.0).coefficient, 12)   # sqrt(2): ||grad f|| ~ sqrt(2 eta - 2)
    1.414213562373
    """
    L = _checks.positive_int(depth, "depth", minimum=2)
    yv = float(_checks.positive_finite(target, "target"))
    return _balanced_onset(L, yv)


@functools.lru_cache(maxsize=64)
def _balanced_onset(L: int, yv: float) -> BalancedOnset:
    """:func:`balanced_onset` for checked arguments (cached)."""
    import sympy as sp

    from .symbolic import stability

    u, s = sp.symbols("u s", real=True)
    step_map = u - s * ((1 + u) ** L - 1) * (1 + u) ** (L - 1)
    s_star = sp.Rational(2, L)
    poly = sp.Poly(sp.expand(step_map.subs(s, s_star)), u)
    if poly.coeff_monomial(u) != -1:  # pragma: no cover - a derivation check
        raise RuntimeError("the balanced map does not have multiplier -1 at s = 2/L")
    a2, a3 = poly.coeff_monomial(u**2), poly.coeff_monomial(u**3)
    if a2**2 + a3 <= 0:  # pragma: no cover - holds for every L >= 2
        raise RuntimeError("the flip is not supercritical")
    Y = sp.nsimplify(yv)
    lam_star = L * Y ** (2 - sp.Rational(2, L))
    d_eta = sp.Symbol("delta", positive=True)  # eta - eta*
    u_sq = stability.flip_cycle_amplitude_squared().subs(
        {stability.alpha: lam_star * d_eta, stability.a: a2, stability.b: a3}
    )
    grad_lin = sp.sqrt(L) * Y * L * Y ** (sp.Rational(L - 1, L))  # ||grad|| ~ this * |u|
    C = sp.simplify(grad_lin * sp.sqrt(u_sq) / sp.sqrt(d_eta))
    return BalancedOnset(
        depth=L,
        target=yv,
        critical_step_size=float(2 / lam_star),
        min_sharpness=float(lam_star),
        a2=float(a2),
        a3=float(a3),
        coefficient=float(C),
        coefficient_expr=C,
    )


def balanced_cycle_grad_norm(depth: int, target: float, step_sizes: ArrayLike, *, iterations: int = 60) -> Array:
    r"""Mean gradient norm over the exact 2-cycle on the balanced line, for each step size, ``(n_eta,)``.

    Solves :math:`F(F(u)) = u`, :math:`u \ne 0`, by Newton's method from the leading-order amplitude
    :math:`\sqrt{\alpha/(a_2^2+a_3)}` (:class:`BalancedOnset`), then averages
    :math:`\|\nabla f\|` over the two points. NaN where Newton does not converge to a genuine
    2-cycle (step sizes too far above :math:`\eta^*`) and 0 for :math:`\eta \le \eta^*`.

    >>> g = balanced_cycle_grad_norm(2, 1.0, [1.0001])
    >>> bool(abs(g[0] / np.sqrt(2 * 1e-4) - 1) < 1e-3)
    True
    """
    onset = balanced_onset(depth, target)
    L, yv = onset.depth, onset.target
    etas = _checks.positive_finite(step_sizes, "step_sizes")
    iterations = _checks.positive_int(iterations, "iterations")
    s = etas * yv ** (2 - 2 / L)
    alpha = L * s - 2

    def F(v: Array) -> tuple[Array, Array]:
        p = 1 + v
        val = v - s * (p**L - 1) * p ** (L - 1)
        der = 1 - s * (L * p ** (2 * L - 2) + (L - 1) * (p**L - 1) * p ** (L - 2))
        return val, der

    def grad_norm(v: Array) -> Array:
        p = 1 + v
        return np.sqrt(L) * yv * np.abs(p**L - 1) * yv ** ((L - 1) / L) * np.abs(p) ** (L - 1)

    out = np.zeros_like(etas)
    above = alpha > 0
    with np.errstate(all="ignore"):
        v = np.sqrt(np.where(above, alpha, 0.0) / (onset.a2**2 + onset.a3))
        v = newton_two_cycle(F, v, iterations)
        f1, _ = F(v)
        f2, _ = F(f1)
        ok = np.isfinite(v) & (np.abs(f2 - v) < 1e-12 * np.maximum(1.0, np.abs(v))) & (np.abs(f1 - v) > 1e-9)
        mean = 0.5 * (grad_norm(v) + grad_norm(f1))
    out[above] = np.where(ok, mean, np.nan)[above]
    return out


# ----------------------------------------------------------------------------------------------
# Networks without a closed form: predicted and observed critical step size
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharpnessPrediction:
    r"""Critical step size predicted from the minima that GD reaches at a small step.

    Attributes:
        step_size: the small step used.
        sharpness: ``(n_init,)`` top Hessian eigenvalue at each final point (NaN if not converged).
        converged: ``(n_init,)`` mask of runs whose final gradient norm is below ``grad_tol``.
        final_loss: ``(n_init,)``.
        critical_step_size: :math:`2/\min` sharpness over the converged runs: the largest step at which
            every minimum that GD found is still linearly stable.
        critical_step_size_median: :math:`2/\operatorname{median}` sharpness.
    """

    step_size: float
    sharpness: Array
    converged: NDArray[np.bool_]
    final_loss: Array
    critical_step_size: float
    critical_step_size_median: float


def predict_critical_step_size(
    objective: Objective,
    inits: ArrayLike,
    step_size: float,
    steps: int,
    *,
    grad_tol: float = 1e-6,
) -> SharpnessPrediction:
    r"""Run GD at a small ``step_size`` from ``inits`` ``(n_init, n_params)``; return :math:`2/\lambda_{\max}` of the minima found.

    For a network without a closed-form flattest sharpness this is an *estimate* of :math:`\eta^*`:
    the minima found at small steps need not be the flattest, so :math:`2/\lambda_{\max}` there is
    a lower bound for :math:`2/\min_{\mathcal M}\lambda_{\max}`. Sharpness by
    :func:`gdlab.curvature.sharpness` (dense, Lanczos or power iteration by size). Raises
    ``ValueError`` if no run converged.

    >>> from gdlab.objectives import DeepScalarLinear
    >>> p = predict_critical_step_size(DeepScalarLinear(2), np.array([[1.0, 1.0], [0.5, 2.0]]), 0.1, 10)
    >>> np.round(p.sharpness, 10).tolist()   # (1, 1) and (0.5, 2) are minima: sharpness w1^-2 + w2^-2
    [2.0, 4.25]
    >>> round(p.critical_step_size, 10), round(p.critical_step_size_median, 10)   # 2/2 and 2/3.125
    (1.0, 0.64)
    """
    step_size = float(_checks.positive_finite(step_size, "step_size"))
    grad_tol = float(_checks.positive_finite(grad_tol, "grad_tol"))
    res = sweep(objective, [step_size], inits, steps, tail=1)
    w = np.where(res.diverged[0][:, None], 0.0, res.final_params[0])
    with np.errstate(all="ignore"):
        gn = np.linalg.norm(objective.grad(w), axis=-1)
    converged = ~res.diverged[0] & (gn <= grad_tol)
    if not converged.any():
        raise ValueError("no run converged at this step_size; use a smaller step_size or more steps")
    sharp = np.full(w.shape[0], np.nan)
    sharp[converged] = sharpness(objective, w[converged])
    return SharpnessPrediction(
        step_size=step_size,
        sharpness=sharp,
        converged=converged,
        final_loss=res.final_loss[0],
        critical_step_size=float(2.0 / np.min(sharp[converged])),
        critical_step_size_median=float(2.0 / np.median(sharp[converged])),
    )


def observed_transition(step_sizes: ArrayLike, converged_fraction: ArrayLike, level: float = 0.5) -> float:
    r"""The step size at which the fraction of converged runs first falls below ``level``.

    Linear interpolation between the last grid point at or above ``level`` and the next one.
    Returns NaN if the fraction never falls below ``level`` on the grid, and the first step size if it
    starts below.

    >>> observed_transition([1.0, 2.0, 3.0], [1.0, 1.0, 0.0])
    2.5
    """
    etas = _checks.positive_finite(step_sizes, "step_sizes")
    frac = _checks.finite_array(converged_fraction, "converged_fraction", ndim=1)
    if etas.ndim != 1 or frac.shape != etas.shape:
        raise ValueError(f"step_sizes and converged_fraction must be one-dimensional of equal length, got {etas.shape}, {frac.shape}")
    if np.any(np.diff(etas) <= 0):
        raise ValueError("step_sizes must be strictly increasing")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    below = np.flatnonzero(frac < level)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(etas[0])
    t = (frac[i - 1] - level) / (frac[i - 1] - frac[i])
    return float(etas[i - 1] + t * (etas[i] - etas[i - 1]))
