r"""Objectives on flat float64 parameter vectors, batched over leading axes.

Every objective maps parameters ``w`` of shape ``(..., n_params)`` to

* ``loss(w)``: shape ``(...,)``,
* ``grad(w)``: shape ``(..., n_params)``, the exact gradient :math:`\nabla f(w)`,
* ``hvp(w, v)``: shape ``(..., n_params)``, the exact Hessian-vector product
  :math:`\nabla^2 f(w)\,v` (``v`` broadcasts against ``w``),

so a whole batch of parameter vectors is evaluated in one array operation.
``min_sharpness()`` returns :math:`\min_{w \in \mathcal M} \lambda_{\max}(\nabla^2 f(w))`
over the set :math:`\mathcal M` of global minimisers where a closed form is known.
All losses carry the factor :math:`\tfrac12`; without it every sharpness doubles and
every critical step size halves.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks

Array = NDArray[np.float64]


class Objective(ABC):
    """A twice-differentiable loss on ``R^n_params`` with exact derivatives."""

    n_params: int

    @abstractmethod
    def loss(self, w: ArrayLike) -> Array:
        """Loss values, shape ``(...,)``."""

    @abstractmethod
    def grad(self, w: ArrayLike) -> Array:
        """Gradient, shape ``(..., n_params)``."""

    @abstractmethod
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        """Hessian-vector product :math:`\\nabla^2 f(w) v`, shape ``(..., n_params)``."""

    def hessian(self, w: ArrayLike) -> Array:
        """Dense Hessian, shape ``(..., n_params, n_params)``, from ``n_params`` HVPs.

        Meant for small models and for checking ``hvp``; it costs ``n_params`` HVPs.
        """
        w = self._params(w)
        eye = np.eye(self.n_params)
        cols = self.hvp(w[..., None, :], eye)  # (..., n, n): row j is H e_j
        return 0.5 * (cols + np.swapaxes(cols, -1, -2))

    def min_sharpness(self) -> float:
        """Top Hessian eigenvalue at the flattest global minimiser (closed form)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form min_sharpness")

    def _params(self, w: ArrayLike, name: str = "w") -> Array:
        return _checks.params(w, self.n_params, name)


class Quadratic(Objective):
    r"""Quadratic :math:`f(w) = \tfrac12 (w - c)^\top A (w - c)` with symmetric ``A``.

    The Hessian is ``A`` everywhere, so the sharpness is :math:`\lambda_{\max}(A)`
    and gradient descent is the linear map :math:`w - c \mapsto (I - \eta A)(w - c)`.

    >>> q = Quadratic(np.diag([1.0, 4.0]))
    >>> float(q.loss(np.array([1.0, 1.0])))
    2.5
    >>> q.min_sharpness()
    4.0
    """

    def __init__(self, A: ArrayLike, center: ArrayLike | None = None) -> None:
        A = _checks.finite_array(A, "A", ndim=2)
        if A.shape[0] != A.shape[1] or not np.allclose(A, A.T):
            raise ValueError(f"A must be a symmetric square matrix, got shape {A.shape}")
        self.A = 0.5 * (A + A.T)
        self.n_params = A.shape[0]
        if center is None:
            center = np.zeros(self.n_params)
        self.center = _checks.finite_array(center, "center", ndim=1)
        if self.center.shape != (self.n_params,):
            raise ValueError(f"center must have shape ({self.n_params},), got {self.center.shape}")

    def loss(self, w: ArrayLike) -> Array:
        d = self._params(w) - self.center
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.A, d)

    def grad(self, w: ArrayLike) -> Array:
        return (self._params(w) - self.center) @ self.A

    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        self._params(w)
        return self._params(v, "v") @ self.A

    def min_sharpness(self) -> float:
        return float(np.linalg.eigvalsh(self.A)[-1])


class DeepScalarLinear(Objective):
    r"""Deep scalar linear network :math:`f(w) = \tfrac12 (w_1 w_2 \cdots w_L - y)^2`.

    With :math:`P = \prod_i w_i`, :math:`P_{-i} = \prod_{j \ne i} w_j` and residual
    :math:`r = P - y`,

    .. math::
        \partial_i f = r P_{-i}, \qquad
        \partial_{ij} f = P_{-i} P_{-j} + r\, P_{-ij}\ (i \ne j), \qquad
        \partial_{ii} f = P_{-i}^2 .

    On the minimiser manifold :math:`P = y` the Hessian is :math:`\nabla P \nabla P^\top`
    (rank one) with sharpness :math:`y^2 \sum_i w_i^{-2}`; by AM-GM its minimum is
    :math:`L |y|^{2 - 2/L}`, attained at the balanced points :math:`|w_i| = |y|^{1/L}`.

    >>> f = DeepScalarLinear(depth=2, target=1.0)
    >>> f.min_sharpness()
    2.0
    >>> f.grad(np.array([2.0, 1.0])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, depth: int, target: float = 1.0) -> None:
        self.depth = _checks.positive_int(depth, "depth")
        target = float(target)
        if not np.isfinite(target):
            raise ValueError(f"target must be finite, got {target!r}")
        self.target = target
        self.n_params = self.depth

    def _leave_one_out(self, w: Array) -> Array:
        """:math:`P_{-i}` for every ``i`` by prefix/suffix products (exact even when some w_j = 0)."""
        ones = np.ones(w.shape[:-1] + (1,))
        prefix = np.cumprod(np.concatenate([ones, w[..., :-1]], axis=-1), axis=-1)
        suffix = np.cumprod(np.concatenate([ones, w[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        return prefix * suffix

    def loss(self, w: ArrayLike) -> Array:
        w = self._params(w)
        return 0.5 * (np.prod(w, axis=-1) - self.target) ** 2

    def grad(self, w: ArrayLike) -> Array:
        w = self._params(w)
        residual = np.prod(w, axis=-1, keepdims=True) - self.target
        return residual * self._leave_one_out(w)

    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w = self._params(w)
        v = self._params(v, "v")
        w, v = np.broadcast_arrays(w, v)
        loo = self._leave_one_out(w)
        residual = np.prod(w, axis=-1, keepdims=True) - self.target
        gauss_newton = loo * np.sum(loo * v, axis=-1, keepdims=True)
        # directional derivative of P_{-i} along v: sum_{j != i} P_{-ij} v_j
        d_loo = np.zeros_like(w)
        for j in range(self.depth):
            mask = np.ones(self.depth, dtype=bool)
            mask[j] = False
            w_j_removed = np.where(mask, w, 1.0)
            d_loo += np.where(mask, self._leave_one_out(w_j_removed), 0.0) * v[..., j : j + 1]
        return gauss_newton + residual * d_loo

    def min_sharpness(self) -> float:
        L, y = self.depth, abs(self.target)
        return float(L * y ** (2.0 - 2.0 / L))

    def balanced_minimiser(self) -> Array:
        """The flattest global minimiser with positive leading entries: :math:`w_i = |y|^{1/L}`, sign fixed on the last entry."""
        w = np.full(self.depth, abs(self.target) ** (1.0 / self.depth))
        w[-1] *= np.sign(self.target) if self.target != 0 else 1.0
        return w


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

    def loss(self, w: ArrayLike) -> Array:
        return self.poly(self._params(w)[..., 0])

    def grad(self, w: ArrayLike) -> Array:
        return self.d1(self._params(w))

    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        return self.d2(self._params(w)) * self._params(v, "v")

    def minimisers(self) -> Array:
        """Global minimisers (real critical points of least value); empty if f is unbounded below."""
        if self.poly.degree() % 2 == 1 or self.poly.coef[-1] < 0:
            return np.empty(0)
        roots = self.d1.roots()
        crit = np.unique(np.round(roots[np.abs(roots.imag) < 1e-9].real, 12))
        values = self.poly(crit)
        return crit[np.isclose(values, values.min(), rtol=0, atol=1e-12)]

    def min_sharpness(self) -> float:
        mins = self.minimisers()
        if mins.size == 0:
            raise ValueError("this polynomial has no global minimiser")
        return float(self.d2(mins).min())
