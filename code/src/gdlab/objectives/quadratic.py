r"""The quadratic :math:`\tfrac12 (w - c)^\top A (w - c)`: GD is a linear map, the sharpness is :math:`\lambda_{\max}(A)`."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from .base import Array, Objective, _quiet

__all__ = ["Quadratic"]


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

    @_quiet
    def loss(self, w: ArrayLike) -> Array:
        d = self._params(w) - self.center
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.A, d)

    @_quiet
    def grad(self, w: ArrayLike) -> Array:
        return (self._params(w) - self.center) @ self.A

    @_quiet
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = _checks.broadcast(self._params(w), self._params(v, "v"), ("w", "v"))
        return v @ self.A

    def min_sharpness(self) -> float:
        r""":math:`\lambda_{\max}(A)`, the sharpness at every minimiser; ``ValueError`` if ``A`` has a negative
        eigenvalue (then :math:`f` is unbounded below and has no global minimiser)."""
        evals = np.linalg.eigvalsh(self.A)
        if evals[0] < -1e-12 * max(1.0, float(np.abs(evals).max())):
            raise ValueError(f"this quadratic has no global minimiser (A has the eigenvalue {float(evals[0])!r} < 0)")
        return float(evals[-1])
