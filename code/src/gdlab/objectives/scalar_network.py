r"""The deep scalar linear network :math:`\tfrac12 (w_1 \cdots w_L - y)^2`, with its flattest minimisers, and the
same loss with the quotient gradient of the scalar factorisation (:class:`ScalarFactorisation`)."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _checks
from .base import Array, Objective, _quiet

__all__ = ["DeepScalarLinear", "ScalarFactorisation"]


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
        self.target = _checks.finite_scalar(target, "target")
        self.n_params = self.depth

    _fast_T = True
    _grad_T_exact = True

    def _leave_one_out(self, w: Array) -> Array:
        """:math:`P_{-i}` for every ``i`` by prefix/suffix products (exact even when some w_j = 0)."""
        ones = np.ones(w.shape[:-1] + (1,))
        prefix = np.cumprod(np.concatenate([ones, w[..., :-1]], axis=-1), axis=-1)
        suffix = np.cumprod(np.concatenate([ones, w[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        return prefix * suffix

    def _products_T(self, wT: Array, work: dict | None = None) -> tuple[list, list, Array]:
        r"""Prefix and suffix products and the residual, parameter-major layout ``(L, ...)``.

        The single definition of the floating-point arithmetic used by ``loss``, ``grad`` and the
        fast path of :func:`gdlab.descent.sweep`, so that ``sweep`` and ``run`` agree bit for bit:
        prefix :math:`p_i = (\cdots(w_0 w_1)\cdots) w_{i-1}`, suffix
        :math:`s_i = (\cdots(w_{L-1} w_{L-2})\cdots) w_{i+1}` (``None`` for an empty product),
        residual :math:`r = p_{L-1} w_{L-1} - y`. ``work`` caches the buffers between calls.
        """
        L = self.depth
        shape = wT.shape[1:]
        if work is None or work.get("shape") != shape:
            fresh = {"shape": shape, "buf": [np.empty(shape) for _ in range(2 * L - 3)] if L > 2 else [], "r": np.empty(shape)}
            if work is None:
                work = fresh
            else:
                work.clear()
                work.update(fresh)
        buf: Iterator[Array] = iter(work["buf"])
        pre: list = [None] * L
        for i in range(1, L):
            pre[i] = wT[0] if i == 1 else np.multiply(pre[i - 1], wT[i - 1], out=next(buf))
        suf: list = [None] * L
        for i in range(L - 2, -1, -1):
            suf[i] = wT[L - 1] if i == L - 2 else np.multiply(suf[i + 1], wT[i + 1], out=next(buf))
        r: Array = work["r"]  # type: ignore[assignment]
        if L == 1:
            np.subtract(wT[0], self.target, out=r)
        else:
            np.multiply(pre[L - 1], wT[L - 1], out=r)
            np.subtract(r, self.target, out=r)
        return pre, suf, r

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        r"""Gradient :math:`r\,P_{-i}` in parameter-major layout: ``wT`` ``(n_params, ...)`` -> same shape.

        :math:`P_{-i} = p_i s_i` is formed first, then multiplied by the residual.
        """
        pre, suf, r = self._products_T(wT, work)
        if out is None:
            out = np.empty(wT.shape)
        for i, (p, q) in enumerate(zip(pre, suf)):
            oi = out[i, ...]
            if p is None and q is None:
                oi[...] = r
            elif p is None or q is None:
                np.multiply(q if p is None else p, r, out=oi)
            else:
                np.multiply(p, q, out=oi)
                np.multiply(oi, r, out=oi)
        return out

    @_quiet
    def loss(self, w: ArrayLike) -> Array:
        w = self._params(w)
        _, _, r = self._products_T(np.moveaxis(w, -1, 0))
        return 0.5 * r**2

    def _loss_T_from_work(self, work: dict) -> Array | None:
        """:meth:`loss` from the residual :math:`r` that ``_grad_T(wT, work=work)`` left in ``work`` (the same
        ``_products_T`` arithmetic, so the same bits): ``0.5 * r**2``."""
        r = work.get("r")
        return None if r is None else 0.5 * r**2

    @_quiet
    def grad(self, w: ArrayLike) -> Array:
        w = self._params(w)
        return np.moveaxis(self._grad_T(np.moveaxis(w, -1, 0)), 0, -1)

    @_quiet
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = _checks.broadcast(self._params(w), self._params(v, "v"), ("w", "v"))
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


class ScalarFactorisation(DeepScalarLinear):
    r"""The deep scalar factorisation :math:`\ell(\theta) = \tfrac12(\theta_1\cdots\theta_p - y)^2` with the
    quotient gradient :math:`\nabla\ell(\theta) = (P - y)\,P/\theta`, :math:`P = \prod_i\theta_i`.

    The same loss, Hessian and flattest minimisers as :class:`DeepScalarLinear`; only the arithmetic of a GD
    step differs. A step of :func:`gdlab.descent.run` (and :func:`gdlab.descent.gd_map`) computes
    :math:`\theta - (\eta(P - y))\,(P/\theta)`: one product, a division and three elementwise operations, in
    this order, whatever the depth (the prefix/suffix products of :class:`DeepScalarLinear` take :math:`3p`
    and round differently in the last bits). It is the loop of :func:`gdlab.tubular_runs.scalar_gd`, whose
    long runs chapters 4 and 5 read at rounding level.

    The quotient is valid while no entry is zero: ``run`` treats a zero entry as leaving the domain (the run
    is flagged diverged, like an overflow). :meth:`grad` itself is exact everywhere: it falls back to the
    leave-one-out products of :class:`DeepScalarLinear` at points with a zero entry. ``sweep`` iterates
    :math:`\theta - \eta\,\nabla\ell(\theta)` with this gradient (equal to ``run`` up to rounding).

    >>> f = ScalarFactorisation(depth=2, target=1.0)
    >>> f.grad(np.array([2.0, 1.0])).tolist()
    [1.0, 2.0]
    >>> (f.grad(np.array([0.0, 3.0])) + 0.0).tolist()     # a zero entry: the product formula
    [-3.0, 0.0]
    """

    _fast_T = False
    _grad_T_exact = False

    @_quiet
    def grad(self, w: ArrayLike) -> Array:
        w = self._params(w)
        prod = np.prod(w, axis=-1, keepdims=True)
        g = (prod - self.target) * (prod / w)
        zero = np.any(w == 0, axis=-1)
        if zero.any():
            g[zero] = (prod[zero] - self.target) * self._leave_one_out(w[zero])
        return g

    def _scaled_grad(self, w: Array, step_size: Array) -> Array:
        # the operation order of the GD step, valid while no entry is zero (see _outside_domain); the ufunc's
        # reduce is what np.prod calls (the same products), without its Python-level dispatch
        prod = np.multiply.reduce(w, axis=-1, keepdims=True)
        return step_size * (prod - self.target) * (prod / w)

    def _outside_domain(self, w: Array, axis: int = -1) -> NDArray[np.bool_] | None:
        return np.any(w == 0, axis=axis)
