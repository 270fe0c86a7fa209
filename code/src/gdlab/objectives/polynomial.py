r"""One-dimensional polynomial losses :math:`\sum_k a_k x^k` (quartic, double well), with their global minimisers."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from .base import Array, Objective, _quiet

__all__ = ["Polynomial1D"]


class Polynomial1D(Objective):
    r"""One-dimensional polynomial loss :math:`f(x) = \sum_k a_k x^k` (``coeffs = [a_0, a_1, ...]``).

    The book's examples: :math:`x^4/4` (no global Lipschitz gradient: :math:`f''(x) = 3x^2` is unbounded)
    and the double well :math:`\tfrac14 (x^2 - 1)^2`.  ``min_sharpness`` is :math:`\min f''` over the
    global minimisers, found from the real roots of :math:`f'`.

    >>> f = Polynomial1D([0, 0, 0, 0, 0.25])   # x^4 / 4
    >>> f.grad(np.array([2.0])).tolist()
    [8.0]
    """

    def __init__(self, coeffs: ArrayLike) -> None:
        coeffs = _checks.finite_array(coeffs, "coeffs", ndim=1)
        if coeffs.size < 2:
            raise ValueError(f"coeffs must have at least two entries, got {coeffs.size}")
        self.poly = np.polynomial.Polynomial(coeffs)
        self.d1 = self.poly.deriv(1)
        self.d2 = self.poly.deriv(2)
        self.n_params = 1

    _fast_T = True
    _grad_T_exact = True

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        g = self.d1(wT)
        if out is None:
            return g
        out[...] = g
        return out

    @_quiet
    def loss(self, w: ArrayLike) -> Array:
        return self.poly(self._params(w)[..., 0])

    @_quiet
    def grad(self, w: ArrayLike) -> Array:
        return self.d1(self._params(w))

    @_quiet
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = _checks.broadcast(self._params(w), self._params(v, "v"), ("w", "v"))
        return self.d2(w) * v

    def minimisers(self) -> Array:
        """Global minimisers (real critical points of least value); empty if f is unbounded below.

        Trailing zero coefficients are ignored (``[0, 0, 1, 0]`` is :math:`x^2`). A constant polynomial
        is minimised everywhere: ``ValueError`` (no isolated minimiser to list).
        """
        poly = self.poly.trim()
        if poly.degree() == 0:
            raise ValueError("a constant polynomial is minimised by every x: no isolated minimisers")
        if poly.degree() % 2 == 1 or poly.coef[-1] < 0:
            return np.empty(0)
        roots = poly.deriv(1).roots()
        crit = np.unique(np.round(roots[np.abs(roots.imag) < 1e-9].real, 12))
        values = poly(crit)
        return crit[np.isclose(values, values.min(), rtol=0, atol=1e-12)]

    def min_sharpness(self) -> float:
        r""":math:`\min f''` over the global minimisers (0 for a constant polynomial, whose Hessian is 0)."""
        if self.poly.trim().degree() == 0:
            return 0.0
        mins = self.minimisers()
        if mins.size == 0:
            raise ValueError("this polynomial has no global minimiser")
        return float(self.d2(mins).min())
