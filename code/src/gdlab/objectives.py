r"""Objectives on flat float64 parameter vectors, batched over leading axes.

Every objective maps parameters ``w`` of shape ``(..., n_params)`` to

* ``loss(w)``: shape ``(...,)``,
* ``grad(w)``: shape ``(..., n_params)``, the exact gradient :math:`\nabla f(w)`,
* ``hvp(w, v)``: shape ``(..., n_params)``, the exact Hessian-vector product
  :math:`\nabla^2 f(w)\,v` (``v`` broadcasts against ``w``),

so a whole batch of parameter vectors is evaluated in one array operation.
``min_sharpness()`` returns :math:`\min_{w \in \mathcal M} \lambda_{\max}(\nabla^2 f(w))`
over the set :math:`\mathcal M` of global minimisers where a closed form is proved, and raises
``NotImplementedError`` otherwise.

Objectives: :class:`Quadratic`, :class:`DeepScalarLinear` :math:`\tfrac12(w_1\cdots w_L - y)^2`,
:class:`Polynomial1D`, :class:`LinearNetwork` :math:`\tfrac12\|W_L\cdots W_1X - Y\|_F^2` (with
``min_sharpness_bounds()`` for general input covariance) and :class:`MLP` (squared loss, smooth
activations, backprop gradient and R-operator HVP). Data layout: ``X`` is ``(d, n)``, ``Y`` is ``(k, n)``.
All losses carry the factor :math:`\tfrac12`; without it every sharpness doubles and
every critical step size halves.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

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

    #: True when :meth:`_grad_T` is a native parameter-major implementation (then
    #: :func:`gdlab.descent.sweep` uses it). Its arithmetic equals that of :meth:`grad` for
    #: DeepScalarLinear and Polynomial1D (so sweep and run agree bit for bit) and agrees to
    #: rounding for LinearNetwork (einsum summation order).
    _fast_T: bool = False

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        """Gradient in parameter-major layout ``(n_params, ...)`` (default: transpose and call ``grad``)."""
        g = np.moveaxis(self.grad(np.moveaxis(wT, 0, -1)), -1, 0)
        if out is None:
            return g
        out[...] = g
        return out


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

    _fast_T = True

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
        buf = iter(work["buf"])
        pre: list = [None] * L
        for i in range(1, L):
            pre[i] = wT[0] if i == 1 else np.multiply(pre[i - 1], wT[i - 1], out=next(buf))
        suf: list = [None] * L
        for i in range(L - 2, -1, -1):
            suf[i] = wT[L - 1] if i == L - 2 else np.multiply(suf[i + 1], wT[i + 1], out=next(buf))
        r = work["r"]
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

    def loss(self, w: ArrayLike) -> Array:
        w = self._params(w)
        _, _, r = self._products_T(np.moveaxis(w, -1, 0))
        return 0.5 * r**2

    def grad(self, w: ArrayLike) -> Array:
        w = self._params(w)
        return np.moveaxis(self._grad_T(np.moveaxis(w, -1, 0)), 0, -1)

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

    _fast_T = True

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        g = self.d1(wT)
        if out is None:
            return g
        out[...] = g
        return out

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


# ----------------------------------------------------------------------------------------------
# Matrix-valued models: shared parameter layout
# ----------------------------------------------------------------------------------------------


def _widths(widths: object, name: str = "widths") -> tuple[int, ...]:
    try:
        out = tuple(widths)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {widths!r}") from None
    if len(out) < 2:
        raise ValueError(f"{name} must list at least the input and output dimensions, got {widths!r}")
    return tuple(_checks.positive_int(h, name) for h in out)


def _network_data(X: ArrayLike, Y: ArrayLike, widths: object) -> tuple[Array, Array, tuple[int, ...]]:
    """Check a network's data ``X (d, n)``, targets ``Y (k, n)`` and ``widths (d, ..., k)`` against each other."""
    X = _checks.finite_array(X, "X", ndim=2)
    Y = _checks.finite_array(Y, "Y", ndim=2)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have as many columns (samples) as X ({X.shape[1]}), got shape {Y.shape}")
    widths = _widths(widths)
    if widths[0] != X.shape[0]:
        raise ValueError(f"widths[0] must equal the input dimension {X.shape[0]}, got {widths[0]}")
    if widths[-1] != Y.shape[0]:
        raise ValueError(f"widths[-1] must equal the output dimension {Y.shape[0]}, got {widths[-1]}")
    return X, Y, widths


def _mT(a: Array) -> Array:
    return np.swapaxes(a, -1, -2)


class SharpnessBounds(NamedTuple):
    """Lower and upper bounds on the flattest-minimiser sharpness (unpacks as ``lower, upper``)."""

    lower: float
    upper: float


class LinearNetwork(Objective):
    r"""Deep linear network :math:`f(W_1,\dots,W_L) = \tfrac12 \|W_L \cdots W_1 X - Y\|_F^2`.

    ``X`` has shape ``(d, n)`` (columns are samples), ``Y`` shape ``(k, n)`` and
    ``widths = (d, h_1, ..., h_{L-1}, k)``; layer ``i`` is :math:`W_i \in \mathbb R^{h_i \times h_{i-1}}`.
    The flat parameter vector concatenates :math:`W_1, \dots, W_L`, each row-major
    (:meth:`unflatten`, :meth:`flatten`, ``layer_slices``). The loss is a sum over samples (no 1/n).

    With :math:`P = W_L\cdots W_1`, :math:`\Sigma = XX^\top`, :math:`C = YX^\top`,
    :math:`G = P\Sigma - C`, prefix :math:`A_{<i} = W_{i-1}\cdots W_1` and suffix
    :math:`A_{>i} = W_L\cdots W_{i+1}`:

    .. math::
        \nabla_{W_i} f = A_{>i}^\top\, G\, A_{<i}^\top, \qquad
        \nabla^2 f[V]_i = \dot A_{>i}^\top G A_{<i}^\top + A_{>i}^\top \dot P \Sigma A_{<i}^\top
        + A_{>i}^\top G \dot A_{<i}^\top,

    where dots are directional derivatives along :math:`V = (V_1,\dots,V_L)`, e.g.
    :math:`\dot P = \sum_j A_{>j} V_j A_{<j}`. At a global minimiser :math:`G = 0`, so the Hessian is the
    Gauss-Newton form :math:`\langle V, \nabla^2 f\, V\rangle = \|\dot P\,\Sigma^{1/2}\|_F^2`.

    **Flattest minimiser** (this book's derivation; proof in the docstring of :meth:`min_sharpness`).
    If the hidden widths do not restrict the rank (:math:`\min_i h_i \ge \operatorname{rank} W^\star`)
    and :math:`\Sigma = cI`, then :math:`\min_{\mathcal M}\lambda_{\max} = c\,L\,\sigma_1(W^\star)^{2-2/L}`;
    for two layers and :math:`XX^\top = I` this is :math:`2\|W^\star\|_{\rm op}`.

    >>> X = np.eye(2); Y = np.diag([3.0, 1.0])
    >>> net = LinearNetwork(X, Y, widths=(2, 2, 2))
    >>> net.min_sharpness()
    6.0
    >>> bool(net.loss(net.balanced_minimiser()) < 1e-20)
    True
    """

    def __init__(self, X: ArrayLike, Y: ArrayLike, widths: object) -> None:
        self.X, self.Y, self.widths = _network_data(X, Y, widths)
        self.depth = len(self.widths) - 1
        self.shapes = [(self.widths[i + 1], self.widths[i]) for i in range(self.depth)]
        sizes = [a * b for a, b in self.shapes]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.layer_slices = [slice(int(offsets[i]), int(offsets[i + 1])) for i in range(self.depth)]
        self.n_params = int(offsets[-1])
        self.sigma = self.X @ self.X.T
        self.cross = self.Y @ self.X.T

    # -- layout -------------------------------------------------------------------------------
    def unflatten(self, w: ArrayLike) -> list[Array]:
        """Matrices ``[W_1, ..., W_L]``, each of shape ``(..., h_i, h_{i-1})`` (views of ``w``)."""
        w = self._params(w)
        batch = w.shape[:-1]
        return [w[..., s].reshape(batch + shape) for s, shape in zip(self.layer_slices, self.shapes)]

    def flatten(self, mats: list[ArrayLike]) -> Array:
        """Inverse of :meth:`unflatten`: concatenate row-major layers into ``(..., n_params)``."""
        if len(mats) != self.depth:
            raise ValueError(f"mats must hold {self.depth} matrices, got {len(mats)}")
        arrs = [np.asarray(m, dtype=np.float64) for m in mats]
        for i, (a, shape) in enumerate(zip(arrs, self.shapes)):
            if a.shape[-2:] != shape:
                raise ValueError(f"mats[{i}] must have shape (..., {shape[0]}, {shape[1]}), got {a.shape}")
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrs))
        return np.concatenate([np.broadcast_to(a, batch + a.shape[-2:]).reshape(batch + (-1,)) for a in arrs], axis=-1)

    # -- products -----------------------------------------------------------------------------
    def _prefixes(self, W: list[Array]) -> list[Array | None]:
        """``pre[i] = W_i ... W_1`` for i = 0..L (``pre[0] = None`` stands for the identity)."""
        pre: list[Array | None] = [None]
        for Wi in W:
            pre.append(Wi if pre[-1] is None else Wi @ pre[-1])
        return pre

    def _suffixes(self, W: list[Array]) -> list[Array | None]:
        """``suf[i] = W_L ... W_{i+1}`` for i = 0..L (``suf[L] = None`` stands for the identity)."""
        suf: list[Array | None] = [None] * (self.depth + 1)
        for i in range(self.depth - 1, -1, -1):
            suf[i] = W[i] if suf[i + 1] is None else suf[i + 1] @ W[i]
        return suf

    def end_to_end(self, w: ArrayLike) -> Array:
        """The product :math:`P = W_L \\cdots W_1`, shape ``(..., k, d)``."""
        return self._prefixes(self.unflatten(w))[-1]

    def loss(self, w: ArrayLike) -> Array:
        R = self.end_to_end(w) @ self.X - self.Y
        return 0.5 * np.sum(R * R, axis=(-2, -1))

    def _layer_grads(self, suf: list, pre: list, G: Array) -> list[Array]:
        out = []
        for i in range(self.depth):
            left = G if suf[i + 1] is None else _mT(suf[i + 1]) @ G
            out.append(left if pre[i] is None else left @ _mT(pre[i]))
        return out

    def grad(self, w: ArrayLike) -> Array:
        W = self.unflatten(w)
        pre, suf = self._prefixes(W), self._suffixes(W)
        G = pre[-1] @ self.sigma - self.cross
        return self.flatten(self._layer_grads(suf, pre, G))

    _fast_T = True

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        r"""Gradient in parameter-major layout: ``wT`` ``(n_params, ...)`` -> same shape.

        The fast path of :func:`gdlab.descent.sweep` for many runs of a small network. Each layer is
        the strided view ``(h_i, h_{i-1}, N)`` of its rows of ``wT`` (batch flattened to ``N``), and the
        products of :meth:`grad` (prefixes, suffixes, :math:`G = P\Sigma - C`,
        :math:`A_{>i}^\top G A_{<i}^\top`) are ``np.einsum`` contractions over the matrix axes with the
        batch as the trailing axis: in a sweep of the 3x3x3 network about 0.035 instead of 0.33 microseconds
        per run-step (batched ``matmul`` on stacks of tiny matrices). Same products as :meth:`grad`;
        the summation order inside each product may differ, so the two agree to rounding
        (relative ``1e-12`` in the tests), not bit for bit. ``work`` caches scratch arrays between calls.
        """
        wT = np.asarray(wT, dtype=np.float64)
        if wT.shape[:1] != (self.n_params,):
            raise ValueError(f"wT must have shape ({self.n_params}, ...), got {wT.shape}")
        shape = wT.shape
        flat = wT.reshape(self.n_params, -1)
        N = flat.shape[1]
        W = [flat[s].reshape(sh + (N,)) for s, sh in zip(self.layer_slices, self.shapes)]
        L = self.depth
        work = {} if work is None else work

        def buf(key: tuple, shape: tuple) -> Array:
            """A scratch array kept in ``work`` between calls (fresh allocations of this size cost page faults)."""
            a = work.get(key)
            if a is None or a.shape != shape:
                a = work[key] = np.empty(shape)
            return a

        d = self.widths[0]
        pre: list[Array | None] = [None]                     # pre[i] = W_i ... W_1, (h_i, d, N)
        for i, Wi in enumerate(W):
            pre.append(Wi if pre[-1] is None else np.einsum("ijn,jkn->ikn", Wi, pre[-1], out=buf(("pre", i), (Wi.shape[0], d, N))))
        suf: list[Array | None] = [None] * (L + 1)           # suf[i] = W_L ... W_{i+1}, (k, h_i, N); suf[0] unused
        for i in range(L - 1, 0, -1):
            suf[i] = W[i] if suf[i + 1] is None else np.einsum("ijn,jkn->ikn", suf[i + 1], W[i], out=buf(("suf", i), (self.widths[-1], W[i].shape[1], N)))
        G = np.matmul(self.sigma.T, pre[-1], out=buf(("G",), (self.widths[-1], d, N)))  # G[a, b] = sum_c P[a, c] Sigma[c, b]
        np.subtract(G, self.cross[..., None], out=G)
        direct = out is not None and out.shape == shape and out.flags.c_contiguous   # write into out in place
        res = out.reshape(self.n_params, N) if direct else np.empty((self.n_params, N))
        for i, (s, sh) in enumerate(zip(self.layer_slices, self.shapes)):
            gi = res[s].reshape(sh + (N,))
            if suf[i + 1] is None and pre[i] is None:
                gi[...] = G
            elif pre[i] is None:
                np.einsum("jin,jkn->ikn", suf[i + 1], G, out=gi)
            elif suf[i + 1] is None:
                np.einsum("ijn,kjn->ikn", G, pre[i], out=gi)
            else:
                left = np.einsum("jin,jkn->ikn", suf[i + 1], G, out=buf(("left", i), (sh[0], d, N)))
                np.einsum("ijn,kjn->ikn", left, pre[i], out=gi)
        if out is None:
            return res.reshape(shape)
        if not direct:
            out[...] = res.reshape(shape)
        return out

    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = np.broadcast_arrays(self._params(w), self._params(v, "v"))
        W, V = self.unflatten(w), self.unflatten(v)
        L = self.depth
        pre, suf = self._prefixes(W), self._suffixes(W)
        # directional derivatives of the prefix and suffix products
        dpre: list[Array | None] = [None]
        for i in range(L):
            term = V[i] if pre[i] is None else V[i] @ pre[i]
            dpre.append(term if dpre[-1] is None else term + W[i] @ dpre[-1])
        dsuf: list[Array | None] = [None] * (L + 1)
        for i in range(L - 1, -1, -1):
            term = V[i] if suf[i + 1] is None else suf[i + 1] @ V[i]
            dsuf[i] = term if dsuf[i + 1] is None else term + dsuf[i + 1] @ W[i]
        G = pre[-1] @ self.sigma - self.cross
        dG = dpre[-1] @ self.sigma
        out = []
        for i in range(L):
            sT = None if suf[i + 1] is None else _mT(suf[i + 1])
            pT = None if pre[i] is None else _mT(pre[i])
            mid = dG if sT is None else sT @ dG
            total = mid if pT is None else mid @ pT
            if dsuf[i + 1] is not None:
                t = _mT(dsuf[i + 1]) @ G
                total = total + (t if pT is None else t @ pT)
            if dpre[i] is not None:
                t = G if sT is None else sT @ G
                total = total + t @ _mT(dpre[i])
            out.append(total)
        return self.flatten(out)

    # -- minimisers and their sharpness ---------------------------------------------------------
    def least_squares_solution(self) -> Array:
        r"""The minimum-norm least-squares solution :math:`W^\star = \arg\min_W \tfrac12\|WX - Y\|_F^2`, ``(k, d)``.

        Equals :math:`YX^\top \Sigma^{-1}` when :math:`\Sigma = XX^\top` is invertible.
        """
        sol, *_ = np.linalg.lstsq(self.X.T, self.Y.T, rcond=None)
        return sol.T

    def _rank_tol(self, s: Array) -> float:
        return max(self.widths) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)

    def _require_realisable(self) -> tuple[Array, Array, Array, int]:
        """SVD of W* and its rank; raise unless the hidden widths can represent W*."""
        Wstar = self.least_squares_solution()
        U, s, Vt = np.linalg.svd(Wstar, full_matrices=False)
        r = int(np.sum(s > self._rank_tol(s)))
        bottleneck = min(self.widths[1:-1], default=min(self.widths))
        if r > bottleneck:
            raise NotImplementedError(
                f"the hidden widths (bottleneck {bottleneck}) cannot represent W* of rank {r}: the global "
                "minimisers solve a reduced-rank problem, for which no closed form is implemented"
            )
        return U[:, :r], s[:r], Vt[:r], r

    def _whitening_constant(self) -> float | None:
        """``c`` if :math:`XX^\\top = cI` (relative tolerance 1e-10), else ``None``."""
        c = float(np.trace(self.sigma)) / self.widths[0]
        if c > 0 and np.allclose(self.sigma, c * np.eye(self.widths[0]), rtol=0, atol=1e-10 * c):
            return c
        return None

    def balanced_minimiser(self) -> Array:
        r"""The balanced factorisation of :math:`W^\star = U S V^\top` (rank ``r``), flat ``(n_params,)``.

        :math:`W_1 = E_1 S^{1/L} V^\top`, :math:`W_i = E_i S^{1/L} E_{i-1}^\top`,
        :math:`W_L = U S^{1/L} E_{L-1}^\top`, with :math:`E_i` the first ``r`` columns of :math:`I_{h_i}`.
        Every layer has singular values :math:`\sigma_j(W^\star)^{1/L}`. It is a global minimiser
        whenever the widths can represent :math:`W^\star`, and the flattest one when
        :math:`XX^\top = cI` (:meth:`min_sharpness`); for other :math:`\Sigma` it gives the upper
        bound of :meth:`min_sharpness_bounds`.
        """
        U, s, Vt, r = self._require_realisable()
        L = self.depth
        root = s ** (1.0 / L)
        mats = []
        for i, (rows, cols) in enumerate(self.shapes):
            left = U if i == L - 1 else np.eye(rows)[:, :r]
            right = Vt if i == 0 else np.eye(cols)[:r, :]
            mats.append((left * root) @ right)
        return self.flatten(mats)

    def random_minimiser(self, rng: np.random.Generator | int | None = None, spread: float = 1.0, size: tuple[int, ...] = ()) -> Array:
        r"""Random global minimisers :math:`W_i \mapsto G_i W_i G_{i-1}^{-1}` of the balanced one, ``size + (n_params,)``.

        :math:`G_0 = I_d`, :math:`G_L = I_k` and :math:`G_i = \exp(\text{spread}\cdot Z_i/\sqrt{h_i})` with
        Gaussian :math:`Z_i`, so the product (and the loss) is unchanged. Used to check that no
        minimiser is flatter than :meth:`min_sharpness`.
        """
        gen = _checks.generator(rng)
        if not np.isfinite(spread) or spread < 0:
            raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
        size = tuple(_checks.positive_int(s, "size", minimum=0) for s in np.atleast_1d(size).tolist()) if np.size(size) else ()
        from scipy.linalg import expm

        base = self.unflatten(self.balanced_minimiser())
        out = np.empty(tuple(size) + (self.n_params,))
        for idx in np.ndindex(*size) if size else [()]:
            G = [np.eye(self.widths[0])]
            for h in self.widths[1:-1]:
                G.append(expm(spread * gen.standard_normal((h, h)) / np.sqrt(h)))
            G.append(np.eye(self.widths[-1]))
            mats = [G[i + 1] @ base[i] @ np.linalg.inv(G[i]) for i in range(self.depth)]
            out[idx] = self.flatten(mats)
        return out

    def minimiser_sharpness(self, w: ArrayLike) -> Array:
        r"""Exact :math:`\lambda_{\max}(\nabla^2 f(w))` AT A GLOBAL MINIMISER ``w`` (``(..., n_params)`` -> ``(...,)``).

        There :math:`\nabla^2 f = J^\top J` with :math:`J V = \dot P\,\Sigma^{1/2}`, and
        :math:`\lambda_{\max}(J^\top J) = \lambda_{\max}(JJ^\top)` where
        :math:`JJ^\top = \sum_j (A_{>j}A_{>j}^\top) \otimes (\Sigma^{1/2}A_{<j}^\top A_{<j}\Sigma^{1/2})`
        is only ``kd x kd``. Away from the minimisers this is the Gauss-Newton sharpness, not the
        Hessian's.
        """
        W = self.unflatten(w)
        pre, suf = self._prefixes(W), self._suffixes(W)
        evals, evecs = np.linalg.eigh(self.sigma)
        root = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
        k, d = self.widths[-1], self.widths[0]
        batch = np.asarray(w).shape[:-1]
        M = np.zeros(batch + (k * d, k * d))
        for j in range(self.depth):
            left = np.broadcast_to(np.eye(k), batch + (k, k)) if suf[j + 1] is None else suf[j + 1] @ _mT(suf[j + 1])
            right = self.sigma if pre[j] is None else root @ _mT(pre[j]) @ pre[j] @ root
            right = np.broadcast_to(right, batch + (d, d))
            M = M + np.einsum("...ab,...cd->...acbd", left, right).reshape(batch + (k * d, k * d))
        return np.linalg.eigvalsh(0.5 * (M + _mT(M)))[..., -1]

    def min_sharpness(self) -> float:
        r"""Flattest-minimiser sharpness, exact when proved: :math:`XX^\top = cI` (any depth) or :math:`L = 1`.

        **Theorem (this book's reconstruction).** Let :math:`\Sigma = XX^\top` be invertible, let the
        hidden widths satisfy :math:`h_i \ge \operatorname{rank} W^\star`, and let :math:`\mathcal M`
        be the set of global minimisers (:math:`P = W^\star`). Then
        :math:`\min_{\mathcal M} \lambda_{\max} \ge L\,\max_{\|g\|=1} \big[(g^\top\Sigma g)^{1/L}\,
        \|W^\star\Sigma^{1/2} g\|^{2(L-1)/L}\big]`, with equality (attained at the balanced
        minimiser) when :math:`\Sigma = cI`, where it reads :math:`c\,L\,\sigma_1(W^\star)^{2-2/L}`.

        *Proof.* At a minimiser :math:`\lambda_{\max} = \max_{\|V\|=1} \|\dot P\Sigma^{1/2}\|_F^2
        \ge \max_{\|V\|=1}\langle f h^\top, \dot P\rangle^2` for unit :math:`f, g` and
        :math:`h = \Sigma^{1/2} g`. The right side is the squared norm of the linear functional
        :math:`V \mapsto \sum_j \langle A_{>j}^\top f h^\top A_{<j}^\top, V_j\rangle`, i.e.
        :math:`\sum_{j=1}^L s_j^2 p_{j-1}^2` with :math:`s_j = \|A_{>j}^\top f\|` and
        :math:`p_j = \|A_{\le j} h\|` (:math:`s_L = 1`, :math:`p_0 = \|h\|`). Cauchy-Schwarz gives
        :math:`s_j p_j \ge |f^\top P h| = m`, so :math:`\prod_j s_j^2 p_{j-1}^2 = p_0^2\prod_{j=1}^{L-1}(s_jp_j)^2
        \ge \|h\|^2 m^{2(L-1)}` and AM-GM gives the bound; choose :math:`f` along
        :math:`W^\star\Sigma^{1/2}g`. For :math:`\Sigma = cI`, :math:`g = v_1` gives
        :math:`cL\sigma_1^{2-2/L}`; at the balanced minimiser the triangle inequality gives
        :math:`\lambda_{\max} \le c\sum_j \|A_{>j}\|^2\|A_{<j}\|^2 = cL\sigma_1^{2-2/L}`. :math:`\square`

        For general :math:`\Sigma` only bounds are proved: use :meth:`min_sharpness_bounds`.
        Raises ``NotImplementedError`` there and when the widths cannot represent :math:`W^\star`.
        """
        self._require_realisable()
        if self.depth == 1:
            return float(np.linalg.eigvalsh(self.sigma)[-1])
        c = self._whitening_constant()
        if c is None:
            raise NotImplementedError(
                "min_sharpness is proved only for X X^T = c I (or one layer); for general covariance use "
                "min_sharpness_bounds(), which returns the proved lower bound and the balanced upper bound"
            )
        s1 = float(np.linalg.svd(self.least_squares_solution(), compute_uv=False)[0])
        return float(c * self.depth * s1 ** (2.0 - 2.0 / self.depth))

    def min_sharpness_bounds(self) -> SharpnessBounds:
        r"""Proved bounds ``(lower, upper)`` on the flattest-minimiser sharpness, for any invertible :math:`\Sigma`.

        * ``lower`` (proved, see :meth:`min_sharpness`):
          :math:`L\max_{\|g\|=1}(g^\top\Sigma g)^{1/L}(g^\top B g)^{(L-1)/L}` with
          :math:`B = \Sigma^{1/2}W^{\star\top}W^\star\Sigma^{1/2}`; for :math:`L = 2` this is
          :math:`2\max_{\|g\|=1}\sqrt{g^\top\Sigma g}\,\|W^\star\Sigma^{1/2}g\|`. The maximum over the
          sphere is computed globally through the convex dual
          :math:`\min_\tau \lambda_{\max}(\theta e^{(\theta-1)\tau}\Sigma + (1-\theta)e^{\theta\tau}B)`,
          :math:`\theta = 1/L` (weighted AM-GM, Sion's minimax theorem and convexity of the joint
          numerical range), and the returned value is evaluated at an explicit unit vector :math:`g`,
          so it is a valid lower bound whatever the optimiser's accuracy.
        * ``upper``: the exact sharpness at :meth:`balanced_minimiser` (a minimiser, so its sharpness
          bounds the minimum from above); it is at most :math:`L\sigma_1(W^\star)^{2-2/L}\lambda_{\max}(\Sigma)`.

        When :math:`\Sigma = cI` (or :math:`L = 1`) both equal :meth:`min_sharpness`. For general
        :math:`\Sigma` the gap is open: the digest reports the two-layer lower bound as tight in a few
        numerical trials, a conjecture this class does not assume.
        """
        self._require_realisable()
        evals = np.linalg.eigvalsh(self.sigma)
        if evals[0] <= 1e-12 * evals[-1]:
            raise NotImplementedError("min_sharpness_bounds needs X X^T invertible (n >= d and X of full row rank)")
        upper = float(self.minimiser_sharpness(self.balanced_minimiser()))
        lower = self._lower_bound()
        return SharpnessBounds(lower=min(lower, upper), upper=upper)

    def _lower_bound(self) -> float:
        L = self.depth
        evals, evecs = np.linalg.eigh(self.sigma)
        root = (evecs * np.sqrt(evals)) @ evecs.T
        M = self.least_squares_solution() @ root
        A, B = self.sigma, M.T @ M

        def phi(g: Array) -> float:
            g = g / np.linalg.norm(g)
            a, b = float(g @ A @ g), max(float(g @ B @ g), 0.0)
            return L * a ** (1.0 / L) * b ** ((L - 1.0) / L)

        if L == 1:
            return float(evals[-1])
        if np.linalg.norm(B) == 0.0:
            return 0.0
        theta = 1.0 / L

        def mat(tau: float) -> Array:
            return theta * np.exp((theta - 1.0) * tau) * A + (1.0 - theta) * np.exp(theta * tau) * B

        def dual(tau: float) -> float:
            return float(np.linalg.eigvalsh(mat(tau))[-1])

        from scipy.optimize import minimize_scalar

        tau0 = float(np.log(evals[-1] / np.linalg.eigvalsh(B)[-1]))
        res = minimize_scalar(dual, bracket=(tau0 - 1.0, tau0 + 1.0), tol=1e-12)
        candidates = [np.linalg.eigh(mat(t))[1][:, -1] for t in (res.x, res.x - 1e-6, res.x + 1e-6)]
        candidates += [evecs[:, -1], np.linalg.eigh(B)[1][:, -1]]
        return max(phi(g) for g in candidates)


# ----------------------------------------------------------------------------------------------
# Multi-layer perceptron with smooth activations
# ----------------------------------------------------------------------------------------------


def _expit(z: Array) -> Array:
    """The logistic function (scipy's, imported on first use: importing scipy.special costs 0.25 s)."""
    from scipy.special import expit

    return expit(z)


def _activation(name: str, z: Array, order: int) -> tuple[Array, ...]:
    """``(sigma(z), sigma'(z), sigma''(z))`` truncated to ``order + 1`` entries, overflow-free."""
    if name == "tanh":
        s = np.tanh(z)
        if order == 0:
            return (s,)
        d1 = 1.0 - s * s
        return (s, d1) if order == 1 else (s, d1, -2.0 * s * d1)
    if name == "sigmoid":
        s = _expit(z)
        if order == 0:
            return (s,)
        d1 = s * (1.0 - s)
        return (s, d1) if order == 1 else (s, d1, d1 * (1.0 - 2.0 * s))
    if name == "softplus":
        s = np.logaddexp(0.0, z)
        if order == 0:
            return (s,)
        d1 = _expit(z)
        return (s, d1) if order == 1 else (s, d1, d1 * (1.0 - d1))
    raise ValueError(f"activation must be one of {MLP.ACTIVATIONS}, got {name!r}")  # pragma: no cover


class MLP(Objective):
    r"""Multi-layer perceptron with squared loss :math:`f(w) = \tfrac12 \sum_{i=1}^n \|\mathrm{out}(x_i) - y_i\|^2`.

    A **sum** over samples (no :math:`1/n`). ``widths = (d, h_1, ..., h_{L-1}, k)``; hidden layers
    :math:`a_j = \sigma(z_j)`, :math:`z_j = W_j a_{j-1} + b_j`, :math:`a_0 = X`; the output layer
    :math:`z_L = W_L a_{L-1} + b_L` is linear. ``activation`` is ``"tanh"``, ``"softplus"``
    (:math:`\log(1+e^z)`) or ``"sigmoid"``; all smooth and strictly increasing. ``bias=False`` drops
    every :math:`b_j`.

    Flat layout: per layer, :math:`W_j` row-major then :math:`b_j` (``layer_slices[j] = (slice_W,
    slice_b or None)``). ``grad`` is backpropagation and ``hvp`` Pearlmutter's R-operator
    (forward-mode derivative of backprop), both exact and batched over leading axes of ``w``:

    .. math::
        \delta_L = z_L - Y,\quad \nabla_{W_j} f = \delta_j a_{j-1}^\top,\quad
        \delta_{j-1} = (W_j^\top\delta_j)\odot\sigma'(z_{j-1}),

    .. math::
        \mathcal R\{\delta_{j-1}\} = (V_j^\top\delta_j + W_j^\top\mathcal R\{\delta_j\})\odot\sigma'(z_{j-1})
        + (W_j^\top\delta_j)\odot\sigma''(z_{j-1})\odot\mathcal R\{z_{j-1}\}.

    No closed-form ``min_sharpness`` (``NotImplementedError``).

    >>> X = np.array([[0.0, 1.0, 2.0]]); Y = np.array([[0.0, 1.0, 0.0]])
    >>> net = MLP(X, Y, widths=(1, 3, 1), activation="tanh", bias=True)
    >>> net.n_params
    10
    >>> w = net.random_params(rng=0)
    >>> bool(np.allclose(net.hvp(w, net.grad(w)), net.hessian(w) @ net.grad(w)))
    True
    """

    ACTIVATIONS = ("tanh", "softplus", "sigmoid")

    def __init__(self, X: ArrayLike, Y: ArrayLike, widths: object, activation: str = "tanh", bias: bool = False) -> None:
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {self.ACTIVATIONS}, got {activation!r}")
        self.X, self.Y, self.widths = _network_data(X, Y, widths)
        self.activation = activation
        self.bias = bool(bias)
        self.depth = len(self.widths) - 1
        self.shapes = [(self.widths[i + 1], self.widths[i]) for i in range(self.depth)]
        slices, pos = [], 0
        for rows, cols in self.shapes:
            sw = slice(pos, pos + rows * cols)
            pos += rows * cols
            sb = None
            if self.bias:
                sb = slice(pos, pos + rows)
                pos += rows
            slices.append((sw, sb))
        self.layer_slices: list[tuple[slice, slice | None]] = slices
        self.n_params = pos

    def unflatten(self, w: ArrayLike) -> list[tuple[Array, Array | None]]:
        """Per layer ``(W_j, b_j or None)`` with shapes ``(..., h_j, h_{j-1})`` and ``(..., h_j)``."""
        w = self._params(w)
        batch = w.shape[:-1]
        return [
            (w[..., sw].reshape(batch + shape), None if sb is None else w[..., sb])
            for (sw, sb), shape in zip(self.layer_slices, self.shapes)
        ]

    def flatten(self, layers: list) -> Array:
        """Inverse of :meth:`unflatten`; accepts ``(W, b)`` pairs, or bare ``W`` when ``bias=False``."""
        if len(layers) != self.depth:
            raise ValueError(f"layers must hold {self.depth} entries, got {len(layers)}")
        parts, batches = [], []
        for j, (layer, shape) in enumerate(zip(layers, self.shapes)):
            W, b = layer if isinstance(layer, tuple) else (layer, None)
            W = np.asarray(W, dtype=np.float64)
            if W.shape[-2:] != shape:
                raise ValueError(f"layers[{j}] weight must have shape (..., {shape[0]}, {shape[1]}), got {W.shape}")
            if self.bias != (b is not None):
                raise ValueError(f"layers[{j}] must {'' if self.bias else 'not '}carry a bias (bias={self.bias})")
            parts.append(W.reshape(W.shape[:-2] + (-1,)))
            batches.append(W.shape[:-2])
            if b is not None:
                b = np.asarray(b, dtype=np.float64)
                if b.shape[-1:] != (shape[0],):
                    raise ValueError(f"layers[{j}] bias must have shape (..., {shape[0]}), got {b.shape}")
                parts.append(b)
                batches.append(b.shape[:-1])
        batch = np.broadcast_shapes(*batches)
        return np.concatenate([np.broadcast_to(p, batch + p.shape[-1:]) for p in parts], axis=-1)

    def random_params(self, rng: np.random.Generator | int | None = None, size: tuple[int, ...] = (), gain: float = 1.0) -> Array:
        r"""Random parameters ``size + (n_params,)``: :math:`W_j` entries :math:`\mathcal N(0, \text{gain}^2/h_{j-1})`, biases 0."""
        gen = _checks.generator(rng)
        gain = float(_checks.positive_finite(gain, "gain"))
        layers = []
        for rows, cols in self.shapes:
            W = gen.standard_normal(tuple(size) + (rows, cols)) * (gain / np.sqrt(cols))
            layers.append((W, np.zeros(tuple(size) + (rows,))) if self.bias else W)
        return self.flatten(layers)

    def _forward(self, layers: list, order: int) -> tuple[list[Array], list[Array], list[tuple[Array, ...]]]:
        """Inputs ``a_j`` to each layer, pre-activations ``z_j`` and activation derivatives."""
        a, zs, acts = [self.X], [], []
        for j, (W, b) in enumerate(layers):
            z = W @ a[-1]
            if b is not None:
                z = z + b[..., None]
            zs.append(z)
            if j < self.depth - 1:
                act = _activation(self.activation, z, order)
                acts.append(act)
                a.append(act[0])
        return a, zs, acts

    def predict(self, w: ArrayLike) -> Array:
        """Network outputs on the training inputs, shape ``(..., k, n)``."""
        _, zs, _ = self._forward(self.unflatten(w), 0)
        return zs[-1]

    def loss(self, w: ArrayLike) -> Array:
        R = self.predict(w) - self.Y
        return 0.5 * np.sum(R * R, axis=(-2, -1))

    def grad(self, w: ArrayLike) -> Array:
        layers = self.unflatten(w)
        a, zs, acts = self._forward(layers, 1)
        delta = zs[-1] - self.Y
        grads: list = [None] * self.depth
        for j in range(self.depth - 1, -1, -1):
            gW = delta @ _mT(a[j])
            grads[j] = (gW, delta.sum(axis=-1)) if self.bias else gW
            if j > 0:
                delta = (_mT(layers[j][0]) @ delta) * acts[j - 1][1]
        return self.flatten(grads)

    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = np.broadcast_arrays(self._params(w), self._params(v, "v"))
        layers, dirs = self.unflatten(w), self.unflatten(v)
        a, zs, acts = self._forward(layers, 2)
        # forward R-pass: Ra[j] = R{a_j}, Rz[j] = R{z_j}
        Ra: list[Array | None] = [None]
        Rz: list[Array] = []
        for j, ((W, _), (V, c)) in enumerate(zip(layers, dirs)):
            rz = V @ a[j]
            if Ra[j] is not None:
                rz = rz + W @ Ra[j]
            if c is not None:
                rz = rz + c[..., None]
            Rz.append(rz)
            if j < self.depth - 1:
                Ra.append(acts[j][1] * rz)
        # backward pass and its R-derivative
        delta, Rdelta = zs[-1] - self.Y, Rz[-1]
        out: list = [None] * self.depth
        for j in range(self.depth - 1, -1, -1):
            W, V = layers[j][0], dirs[j][0]
            RgW = Rdelta @ _mT(a[j])
            if Ra[j] is not None:
                RgW = RgW + delta @ _mT(Ra[j])
            out[j] = (RgW, Rdelta.sum(axis=-1)) if self.bias else RgW
            if j > 0:
                back = _mT(W) @ delta
                _, d1, d2 = acts[j - 1]
                Rdelta = (_mT(V) @ delta + _mT(W) @ Rdelta) * d1 + back * d2 * Rz[j - 1]
                delta = back * d1
        return self.flatten(out)
