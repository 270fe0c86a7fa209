r"""Floquet multipliers of the balanced 2-cycle of the deep scalar factorisation (chapter 5).

GD on :math:`\ell(\theta) = \tfrac12(\theta_1\cdots\theta_p - y)^2`, :math:`y > 0`, maps the balanced line
:math:`\{a\mathbf 1\}` into itself by :math:`a \mapsto G(a) = a - \eta(a^p - y)a^{p-1}`.  At :math:`a\mathbf 1` the
Hessian is :math:`a^{2p-2}\mathbf 1\mathbf 1^\top + (a^p - y)a^{p-2}(\mathbf 1\mathbf 1^\top - I)`, so the GD Jacobian
:math:`I - \eta\nabla^2\ell` has the eigenvalue :math:`G'(a)` on :math:`\mathbf 1` and

.. math:: \tau(a) = 1 + \eta(a^p - y)a^{p-2}

on the :math:`(p-1)`-dimensional complement :math:`\mathbf 1^\perp`.  The Jacobian of two steps at a point of a
2-cycle :math:`\{a_+\mathbf 1, a_-\mathbf 1\}` is therefore symmetric with eigenvalues (Floquet multipliers)
:math:`G'(a_+)G'(a_-)` (along the line) and :math:`\tau(a_+)\tau(a_-)` (transverse, multiplicity :math:`p-1`).

* :func:`line_jacobian` returns the two eigenvalues :math:`G'(a)` and :math:`\tau(a)` at points of the line.
* :func:`balanced_two_cycle` finds the 2-cycle by Newton's method and returns it with its multipliers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .dynamics import newton_two_cycle

__all__ = ["line_jacobian", "BalancedCycle", "balanced_two_cycle"]

Array = NDArray[np.float64]


def _depth_target(depth: int, target: float) -> tuple[int, float]:
    p = _checks.positive_int(depth, "depth", minimum=2)
    y = float(_checks.positive_finite(target, "target"))
    return p, y


def line_jacobian(depth: int, target: float, step_size: ArrayLike, a: ArrayLike) -> tuple[Array, Array]:
    r"""``(along, transverse)``: the eigenvalues of the GD Jacobian at :math:`a\mathbf 1` on :math:`\mathbf 1` and on :math:`\mathbf 1^\perp`.

    :math:`G'(a) = 1 - \eta\big(pa^{2p-2} + (p-1)(a^p - y)a^{p-2}\big)` and
    :math:`\tau(a) = 1 + \eta(a^p - y)a^{p-2}`; ``step_size`` and ``a`` broadcast together.

    >>> along, across = line_jacobian(2, 1.0, 1.0, 1.0)     # at a minimiser: 1 - eta*lambda and 1
    >>> float(along), float(across)
    (-1.0, 1.0)
    """
    p, y = _depth_target(depth, target)
    return _jacobian(p, y, _checks.positive_finite(step_size, "step_size"), _checks.finite_array(a, "a"))


def _jacobian(p: int, y: float, eta: Array, a: Array) -> tuple[Array, Array]:
    along = 1 - eta * (p * a ** (2 * p - 2) + (p - 1) * (a**p - y) * a ** (p - 2))
    return along, 1 + eta * (a**p - y) * a ** (p - 2)


@dataclass(frozen=True)
class BalancedCycle:
    r"""The 2-cycle :math:`\{a_+\mathbf 1, a_-\mathbf 1\}` of GD on the balanced line, per step size.

    Attributes:
        step_size: ``(n,)``.
        points: ``(n, 2)`` the values :math:`a_+ > a_-`; NaN where no 2-cycle was found.
        multiplier_line: ``(n,)`` :math:`G'(a_+)G'(a_-)`, the Floquet multiplier along :math:`\mathbf 1`.
        multiplier_transverse: ``(n,)`` :math:`\tau(a_+)\tau(a_-)`, the multiplier on :math:`\mathbf 1^\perp`
            (multiplicity :math:`p - 1`).
    """

    step_size: Array
    points: Array
    multiplier_line: Array
    multiplier_transverse: Array


def balanced_two_cycle(depth: int, target: float, step_sizes: ArrayLike, *, iterations: int = 60) -> BalancedCycle:
    r"""Solve :math:`G(G(a)) = a`, :math:`G(a) \ne a`, by Newton's method from the flip amplitude, for each step size.

    The start is :math:`a^*(1 + \sqrt{\varepsilon/c_v})` with :math:`a^* = y^{1/p}`, :math:`\varepsilon = \eta\lambda^* - 2`,
    :math:`\lambda^* = py^{2-2/p}` and :math:`c_v = \tfrac43(p-1)(5p-4)` (chapter 5).  Step sizes with
    :math:`\varepsilon \le 0`, or where Newton does not reach a genuine 2-cycle, give NaN.

    >>> cyc = balanced_two_cycle(5, 1.0, [0.4 * 1.001])
    >>> bool(abs((1 - cyc.multiplier_transverse[0]) / 0.002 - 6 / 84) < 1e-3)
    True
    """
    p, y = _depth_target(depth, target)
    eta = np.atleast_1d(_checks.positive_finite(step_sizes, "step_sizes")).astype(float)
    iterations = _checks.positive_int(iterations, "iterations")
    a_star = y ** (1.0 / p)
    eps = eta * p * y ** (2.0 - 2.0 / p) - 2.0
    c_v = 4.0 / 3.0 * (p - 1) * (5 * p - 4)

    def G(a: Array) -> tuple[Array, Array]:
        along, _ = _jacobian(p, y, eta, a)
        return a - eta * (a**p - y) * a ** (p - 1), along

    with np.errstate(all="ignore"):
        a = a_star * (1 + np.sqrt(np.where(eps > 0, eps, np.nan) / c_v))
        a = newton_two_cycle(G, a, iterations)
        b, _ = G(a)
        back, _ = G(b)
        ok = (np.isfinite(a) & (np.abs(back - a) < 1e-12 * np.abs(a)) & (np.abs(b - a) > 1e-9 * np.abs(a))
              & (a > 0) & (b > 0))
        hi, lo = np.where(ok, np.maximum(a, b), np.nan), np.where(ok, np.minimum(a, b), np.nan)
        along_hi, across_hi = _jacobian(p, y, eta, hi)
        along_lo, across_lo = _jacobian(p, y, eta, lo)
    return BalancedCycle(step_size=eta, points=np.stack([hi, lo], axis=-1),
                         multiplier_line=along_hi * along_lo, multiplier_transverse=across_hi * across_lo)
