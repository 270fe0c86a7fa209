r"""The manifold of global minimisers of the deep scalar factorisation, and tubular coordinates around it.

For :math:`\ell(\theta) = \tfrac12 (f(\theta) - y)^2` with :math:`f(\theta) = \theta_1 \cdots \theta_p` and
:math:`y > 0`, the global minimisers in the positive orthant form the hypersurface

.. math::
    \mathcal M = \{\theta \in (0, \infty)^p : \theta_1 \cdots \theta_p = y\},

a :math:`(p-1)`-dimensional manifold (``y`` is a regular value of ``f``) with unit normal
:math:`n = \nabla f / \|\nabla f\|`, where :math:`\nabla f(\theta) = y\, \theta^{-1}` on :math:`\mathcal M`
(powers act entrywise).  On :math:`\mathcal M` the Hessian of the loss is :math:`\nabla f \nabla f^\top`,
so the sharpness is

.. math::
    \lambda(\theta) = \|\nabla f(\theta)\|^2 = y^2 \sum_i \theta_i^{-2},

minimal at the balanced point :math:`\theta^* = y^{1/p}\mathbf 1` where :math:`\lambda^* = p\,y^{2-2/p}`.

Contents

* :func:`minimiser_sharpness`, :func:`normal`, :func:`tangent_projector`, :func:`riemannian_gradient`,
  :func:`riemannian_hessian` (and the generic codimension-1 formula :func:`riemannian_hessian_codim1`).
* :func:`project`: the nearest point of :math:`\mathcal M` (KKT conditions + bisection), returned with the
  tubular coordinates :math:`(\theta^\parallel, \theta^\perp)` of :math:`\theta = \theta^\parallel + \theta^\perp n(\theta^\parallel)`;
  :func:`embed` is the inverse map.
* :func:`geodesic`: a geodesic of :math:`\mathcal M` by RK4 on :math:`\gamma'' = -\frac{\gamma'^\top \nabla^2 f \gamma'}{\|\nabla f\|^2}\nabla f`.
* :func:`distance_bounds`: :math:`\|x - z\| \le d_{\mathcal M}(x, z) \le` length of the curve
  :math:`s \mapsto z \odot (x/z)^s` (which lies on :math:`\mathcal M`).

All functions take parameters with shape ``(..., p)`` and broadcast over the leading axes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks

__all__ = [
    "DistanceBounds",
    "Projection",
    "balanced_point",
    "distance_bounds",
    "embed",
    "geodesic",
    "normal",
    "project",
    "riemannian_gradient",
    "riemannian_hessian",
    "minimiser_sharpness",
    "riemannian_hessian_codim1",
    "tangent_projector",
]

Array = NDArray[np.float64]


def _target(target: float) -> float:
    y = float(_checks.positive_finite(target, "target"))
    return y


def _points(x: ArrayLike, name: str = "x", positive: bool = True) -> Array:
    arr = _checks.finite_array(x, name)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(f"{name} must have shape (..., p) with p >= 2, got {arr.shape}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must lie in the positive orthant (all entries > 0)")
    return arr


def balanced_point(depth: int, target: float) -> Array:
    r"""The flattest minimiser :math:`\theta^* = y^{1/p}\mathbf 1` of the depth-``depth`` scalar factorisation.

    >>> balanced_point(2, 4.0).tolist()
    [2.0, 2.0]
    """
    p = _checks.positive_int(depth, "depth", minimum=2)
    return np.full(p, _target(target) ** (1.0 / p))


def minimiser_sharpness(x: ArrayLike, target: float) -> Array:
    r"""Sharpness at the minimisers, in closed form: :math:`\lambda(x) = y^2 \sum_i x_i^{-2}` for ``x`` on
    :math:`\mathcal M`; ``x`` is ``(..., p)``, result ``(...,)``.

    On :math:`\mathcal M` it equals :func:`gdlab.curvature.sharpness` (the Hessian's top eigenvalue); off
    :math:`\mathcal M` it is one smooth extension of :math:`\lambda`, not the Hessian's top eigenvalue there.
    (Named like :meth:`gdlab.objectives.LinearNetwork.minimiser_sharpness`, the same quantity for linear networks.)

    >>> float(minimiser_sharpness(np.ones(5), 1.0))
    5.0
    """
    y = _target(target)
    x = _points(x)
    return y**2 * np.sum(x**-2.0, axis=-1)


def normal(x: ArrayLike) -> Array:
    r"""Unit normal :math:`n(x) = \nabla f(x)/\|\nabla f(x)\| = x^{-1}/\|x^{-1}\|` of the level set of :math:`f = \prod_i x_i` through ``x``.

    >>> normal(np.array([1.0, 1.0])).round(6).tolist()
    [0.707107, 0.707107]
    """
    x = _points(x)
    inv = 1.0 / x
    return inv / np.linalg.norm(inv, axis=-1, keepdims=True)


def tangent_projector(x: ArrayLike) -> Array:
    r"""Orthogonal projector :math:`P(x) = I - n n^\top` onto the tangent space :math:`T_x\mathcal M`; shape ``(..., p, p)``."""
    n = normal(x)
    return np.eye(n.shape[-1]) - n[..., :, None] * n[..., None, :]


def _sharpness_derivatives(x: Array, y: float) -> tuple[Array, Array]:
    """Gradient and Hessian of the extension :math:`\\tilde\\lambda(x) = y^2 \\sum_i x_i^{-2}`."""
    grad = -2.0 * y**2 * x**-3.0
    hess = 6.0 * y**2 * x[..., :, None] ** -4.0 * np.eye(x.shape[-1])
    return grad, hess


def _product_derivatives(x: Array) -> tuple[Array, Array]:
    r"""Gradient and Hessian of :math:`f(x) = \prod_i x_i` (entries of ``x`` non-zero)."""
    prod = np.prod(x, axis=-1)
    grad = prod[..., None] / x
    hess = prod[..., None, None] / (x[..., :, None] * x[..., None, :])
    hess = hess * (1.0 - np.eye(x.shape[-1]))
    return grad, hess


def riemannian_gradient(x: ArrayLike, target: float) -> Array:
    r"""Riemannian gradient :math:`\operatorname{grad}_{\mathcal M}\lambda(x) = P(x)\nabla\tilde\lambda(x)` of the sharpness, ``(..., p)``.

    With :math:`s_k = \sum_i x_i^{-2k}` it equals :math:`-2y^2\,(x^{-3} - (s_2/s_1)\,x^{-1})`; it vanishes
    exactly at the balanced point.

    >>> bool(np.abs(riemannian_gradient(np.ones(3), 1.0)).max() < 1e-15)
    True
    """
    y = _target(target)
    x = _points(x)
    grad, _ = _sharpness_derivatives(x, y)
    n = normal(x)
    return grad - np.sum(grad * n, axis=-1, keepdims=True) * n


def riemannian_hessian_codim1(grad_f: ArrayLike, hess_f: ArrayLike, grad_g: ArrayLike, hess_g: ArrayLike) -> Array:
    r"""Riemannian Hessian of :math:`g` on the level set :math:`\{f = y\}` through a point, as a ``(..., p, p)`` matrix.

    .. math::
        \operatorname{Hess}_{\mathcal M} g = P\,(\nabla^2 g - \mu \nabla^2 f)\,P, \qquad
        \mu = \frac{\nabla g^\top \nabla f}{\|\nabla f\|^2}, \qquad P = I - \frac{\nabla f \nabla f^\top}{\|\nabla f\|^2}.

    :math:`\mu` is the Lagrange multiplier of :math:`g` restricted to the level set; the term
    :math:`-\mu\nabla^2 f` is the correction from the second fundamental form (a geodesic's acceleration is normal).
    Shapes: gradients ``(..., p)``, Hessians ``(..., p, p)``.

    >>> # sphere |x|^2 = 1 in R^2 at (1, 0), g = x_1: Hess = -x_1 * I on the tangent line
    >>> H = riemannian_hessian_codim1([2.0, 0.0], 2 * np.eye(2), [1.0, 0.0], np.zeros((2, 2)))
    >>> H.round(12).tolist()
    [[0.0, 0.0], [0.0, -1.0]]
    """
    gf = _checks.finite_array(grad_f, "grad_f")
    hf = _checks.finite_array(hess_f, "hess_f")
    gg = _checks.finite_array(grad_g, "grad_g")
    hg = _checks.finite_array(hess_g, "hess_g")
    norm2 = np.sum(gf * gf, axis=-1)
    if np.any(norm2 <= 0):
        raise ValueError("grad_f must be non-zero (y must be a regular value)")
    mu = np.sum(gg * gf, axis=-1) / norm2
    P = np.eye(gf.shape[-1]) - gf[..., :, None] * gf[..., None, :] / norm2[..., None, None]
    H = hg - mu[..., None, None] * hf
    H = P @ H @ P
    return 0.5 * (H + np.swapaxes(H, -1, -2))


def riemannian_hessian(x: ArrayLike, target: float) -> Array:
    r"""Riemannian Hessian of the sharpness :math:`\lambda = y^2\sum_i x_i^{-2}` on :math:`\mathcal M` at ``x``; ``(..., p, p)``.

    For a tangent vector :math:`v` and :math:`w = v/x`,
    :math:`\operatorname{Hess}_{\mathcal M}\lambda[v, v] = 2y^2 \sum_i w_i^2\,(3x_i^{-2} - s_2/s_1)`; at the
    balanced point it is :math:`\nu P` with :math:`\nu = 4y^{2-4/p}`.

    >>> H = riemannian_hessian(np.ones(3), 1.0)
    >>> np.round(np.linalg.eigvalsh(H), 10).tolist()[1:]    # the normal direction gives the eigenvalue 0
    [4.0, 4.0]
    """
    y = _target(target)
    x = _points(x)
    if not np.allclose(np.prod(x, axis=-1), y, rtol=1e-8, atol=0):
        raise ValueError("x must lie on the manifold prod(x) = target")
    gl, hl = _sharpness_derivatives(x, y)
    gf, hf = _product_derivatives(x)
    return riemannian_hessian_codim1(gf, hf, gl, hl)


@dataclass(frozen=True)
class Projection:
    r"""Nearest point of :math:`\mathcal M` and the tubular coordinates of the projected points.

    Attributes:
        point: :math:`\theta^\parallel`, the nearest point of :math:`\mathcal M`, ``(..., p)``.
        normal_coordinate: :math:`\theta^\perp = \langle \theta - \theta^\parallel, n(\theta^\parallel)\rangle`, ``(...,)``;
            positive on the side where :math:`f > y`.
        distance: :math:`\|\theta - \theta^\parallel\|`, ``(...,)``.
        multiplier: the KKT multiplier :math:`\alpha` with :math:`\theta^\parallel - \theta = \alpha \nabla f(\theta^\parallel)`, ``(...,)``.
    """

    point: Array
    normal_coordinate: Array
    distance: Array
    multiplier: Array


def _plus_root(theta: Array, alpha_y: Array) -> Array:
    r"""Larger root of :math:`x^2 - \theta x - \alpha y = 0`, written without cancellation."""
    with np.errstate(invalid="ignore"):
        disc = np.sqrt(np.maximum(theta**2 + 4.0 * alpha_y, 0.0))
        safe = np.where(theta >= 0, 1.0, disc - theta)
        return np.where(theta >= 0, 0.5 * (theta + disc), 2.0 * alpha_y / safe)


def _project_outside(theta: Array, y: float) -> tuple[Array, Array]:
    """Rows with prod(max(theta, 0)) < y: one KKT point, all '+' roots, alpha > 0 found by bisection on log(alpha)."""
    log_y = np.log(y)

    def gap(log_alpha: Array) -> Array:
        x = _plus_root(theta, (np.exp(log_alpha) * y)[:, None])
        with np.errstate(divide="ignore"):
            return np.sum(np.log(x), axis=-1) - log_y

    lo = np.full(theta.shape[0], -700.0)
    hi = np.full(theta.shape[0], np.log(max(y ** (2.0 / theta.shape[1] - 1.0), 1.0)) + 1.0)
    for _ in range(2000):  # extend the bracket until prod x(alpha) >= y
        short = gap(hi) < 0
        if not short.any():
            break
        hi = np.where(short, hi + np.log(4.0), hi)
    on_manifold = gap(lo) >= 0  # prod of theta equals y to rounding: alpha ~ 0
    for _ in range(80):  # bracket width <= ~750 in log(alpha): 750 * 2**-80 < 1e-21
        mid = 0.5 * (lo + hi)
        below = gap(mid) < 0
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    alpha = np.where(on_manifold, 0.0, np.exp(0.5 * (lo + hi)))
    x = np.where(on_manifold[:, None], np.maximum(theta, np.finfo(float).tiny), _plus_root(theta, (alpha * y)[:, None]))
    return x, alpha


def _inside_path(theta: Array, k: Array, t: Array, y: float) -> tuple[Array, Array]:
    r"""Points of the KKT path parametrised by :math:`t = x_k/\theta_k \in (0, 1]` (``t`` is ``(rows, m)``).

    :math:`\alpha(t) = \theta_k^2 t(t-1)/y`, :math:`x_k = \theta_k t` (the '-' root for :math:`t < 1/2`) and
    '+' roots elsewhere.  Returns ``(x, alpha)`` with shapes ``(rows, m, p)`` and ``(rows, m)``.
    """
    rows = np.arange(theta.shape[0])
    th_k = theta[rows, k][:, None]
    alpha = th_k**2 * t * (t - 1.0) / y
    x = _plus_root(theta[:, None, :], (alpha * y)[..., None])
    x[rows, :, k] = th_k * t
    return x, alpha


def _project_inside(theta: Array, y: float, grid: int, chunk: int = 512) -> tuple[Array, Array]:
    r"""Rows with theta > 0 and prod(theta) > y.

    On the KKT path :math:`\prod_i x_i(t) \le t \prod_i \theta_i`, so crossings have :math:`t \ge y/\prod\theta`.
    Rows with :math:`\prod\theta < 2y` therefore have a single crossing, on the all-'+' branch
    :math:`t \in [1/2, 1]` where the product increases: plain bisection.  Other rows: scan the path on
    ``grid`` points, refine every crossing by bisection and keep the nearest candidate.
    """
    k = np.argmin(theta, axis=-1)
    log_y = np.log(y)

    def gap(t: Array, rows: NDArray[np.integer] | slice = slice(None)) -> Array:
        x, _ = _inside_path(theta[rows], k[rows], t, y)
        with np.errstate(divide="ignore"):
            return np.sum(np.log(x), axis=-1) - log_y

    near = np.sum(np.log(theta), axis=-1) < log_y + np.log(2.0)
    r_near = np.nonzero(near)[0]
    lo_parts, hi_parts, row_parts, neg_parts = [r_near * 0 + 0.5], [np.ones(r_near.size)], [r_near], [np.ones(r_near.size, bool)]
    far = np.nonzero(~near)[0]
    t_grid = np.linspace(0.0, 1.0, grid + 1)
    for start in range(0, far.size, chunk):  # chunks bound the memory of the (rows, grid, p) scan
        rows = far[start : start + chunk]
        g = gap(np.broadcast_to(t_grid, (rows.size, grid + 1)), rows)
        g[:, 0] = -np.inf
        neg = g < 0
        r_idx, j_idx = np.nonzero(neg[:, :-1] != neg[:, 1:])  # every sign change brackets a KKT point
        lo_parts.append(t_grid[j_idx])
        hi_parts.append(t_grid[j_idx + 1])
        row_parts.append(rows[r_idx])
        neg_parts.append(neg[r_idx, j_idx])
    lo, hi = np.concatenate(lo_parts).astype(float), np.concatenate(hi_parts)
    r_idx, lo_negative = np.concatenate(row_parts), np.concatenate(neg_parts)
    for _ in range(64):  # brackets have width <= 1/2: 2**-65 is below the spacing of floats near 1
        mid = 0.5 * (lo + hi)
        same = (gap(mid[:, None], r_idx)[:, 0] < 0) == lo_negative
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    x_c, alpha_c = _inside_path(theta[r_idx], k[r_idx], (0.5 * (lo + hi))[:, None], y)
    x_c, alpha_c = x_c[:, 0, :], alpha_c[:, 0]
    dist = np.linalg.norm(x_c - theta[r_idx], axis=-1)
    order = np.lexsort((dist, r_idx))
    _, first = np.unique(r_idx[order], return_index=True)
    best = order[first]
    return x_c[best], alpha_c[best]


def project(theta: ArrayLike, target: float, *, grid: int = 256) -> Projection:
    r"""Nearest point of :math:`\mathcal M = \{x > 0: \prod_i x_i = y\}` to each ``theta`` (shape ``(..., p)``).

    **KKT conditions.** A nearest point :math:`x` satisfies :math:`x - \theta = \alpha\nabla f(x) = \alpha y/x`,
    so each coordinate solves :math:`x_i^2 - \theta_i x_i - \alpha y = 0`:

    .. math:: x_i = \tfrac12\big(\theta_i \pm \sqrt{\theta_i^2 + 4\alpha y}\big).

    **Sign rule** (proved in chapter 4).
    If :math:`\prod_i \max(\theta_i, 0) < y` (``theta`` outside the convex set :math:`\{x > 0: \prod x_i \ge y\}`)
    then :math:`\alpha > 0`, every sign is '+', :math:`\prod_i x_i(\alpha)` increases with :math:`\alpha`, and the
    unique root is found by bisection on :math:`\log\alpha`.  Otherwise :math:`\alpha < 0`, at most one sign is '-',
    and only on a smallest coordinate :math:`k`; all candidates lie on the path :math:`t = x_k/\theta_k \in (0, 1]`,
    :math:`\alpha = \theta_k^2 t(t-1)/y`, which is scanned on ``grid`` points; each crossing of
    :math:`\prod_i x_i = y` is refined by bisection and the nearest candidate is returned (two crossings
    closer than ``1/grid`` in ``t`` could be missed; near :math:`\mathcal M` there is only one).

    The tubular coordinates are :math:`\theta^\parallel` = ``point`` and
    :math:`\theta^\perp = \langle\theta - \theta^\parallel, n(\theta^\parallel)\rangle` = ``normal_coordinate``.

    >>> pr = project(np.array([2.0, 2.0]), 1.0)     # the hyperbola xy = 1 from its convex side
    >>> pr.point.round(6).tolist(), round(float(pr.normal_coordinate), 6)
    ([1.0, 1.0], 1.414214)
    """
    y = _target(target)
    theta = _points(theta, "theta", positive=False)
    grid = _checks.positive_int(grid, "grid", minimum=2)
    shape = theta.shape
    flat = theta.reshape(-1, shape[-1])
    with np.errstate(over="ignore", under="ignore"):
        prod_plus = np.prod(np.maximum(flat, 0.0), axis=-1)
    inside = np.all(flat > 0, axis=-1) & (prod_plus > y)
    x = np.empty_like(flat)
    alpha = np.empty(flat.shape[0])
    if (~inside).any():
        x[~inside], alpha[~inside] = _project_outside(flat[~inside], y)
    if inside.any():
        x[inside], alpha[inside] = _project_inside(flat[inside], y, grid)
    diff = flat - x
    n = normal(x)
    return Projection(
        point=x.reshape(shape),
        normal_coordinate=np.sum(diff * n, axis=-1).reshape(shape[:-1]),
        distance=np.linalg.norm(diff, axis=-1).reshape(shape[:-1]),
        multiplier=alpha.reshape(shape[:-1]),
    )


def embed(point: ArrayLike, normal_coordinate: ArrayLike) -> Array:
    r"""Inverse of the tubular coordinates: :math:`\theta = \theta^\parallel + \theta^\perp n(\theta^\parallel)`; ``(..., p)``.

    >>> embed(np.array([1.0, 1.0]), np.sqrt(2.0)).round(12).tolist()
    [2.0, 2.0]
    """
    x = _points(point, "point")
    s = _checks.finite_array(normal_coordinate, "normal_coordinate")
    return x + s[..., None] * normal(x)


def geodesic(x0: ArrayLike, v0: ArrayLike, length: float, *, n_steps: int = 200) -> tuple[Array, Array]:
    r"""Geodesic of the level set of :math:`f = \prod_i x_i` through ``x0`` with initial velocity ``v0``.

    Integrates :math:`\gamma'' = -\frac{\gamma'^\top\nabla^2 f(\gamma)\gamma'}{\|\nabla f(\gamma)\|^2}\nabla f(\gamma)`
    (acceleration normal to the level set) with classical RK4 over :math:`s \in [0, \text{length}]`.
    ``v0`` should be tangent (:math:`\sum_i v_i/x_i = 0`).  Returns ``(s, gamma)`` with shapes ``(n_steps + 1,)``
    and ``(n_steps + 1, ..., p)``.

    >>> s, g = geodesic(np.array([1.0, 1.0]), np.array([1.0, -1.0]) / np.sqrt(2), 0.5)
    >>> abs(float(np.prod(g[-1]) - 1.0)) < 1e-10
    True
    """
    x0 = _points(x0, "x0")
    v0 = _checks.finite_array(v0, "v0")
    length = float(_checks.finite_array(length, "length"))
    n_steps = _checks.positive_int(n_steps, "n_steps")
    x0, v0 = np.broadcast_arrays(x0, v0)

    def rhs(state: Array) -> Array:
        x, v = state[0], state[1]
        gf, hf = _product_derivatives(x)
        curv = np.einsum("...i,...ij,...j->...", v, hf, v) / np.sum(gf * gf, axis=-1)
        return np.stack([v, -curv[..., None] * gf])

    h = length / n_steps
    state = np.stack([x0, v0]).astype(np.float64)
    out = [state[0].copy()]
    for _ in range(n_steps):
        k1 = rhs(state)
        k2 = rhs(state + 0.5 * h * k1)
        k3 = rhs(state + 0.5 * h * k2)
        k4 = rhs(state + h * k3)
        state = state + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(state[0].copy())
    return np.linspace(0.0, length, n_steps + 1), np.stack(out)


@dataclass(frozen=True)
class DistanceBounds:
    r"""Bounds :math:`\text{chord} \le d_{\mathcal M}(x, z) \le \text{log\_curve}` on the geodesic distance.

    Attributes:
        chord: Euclidean distance :math:`\|x - z\|`, ``(...,)``.
        log_curve: length of :math:`s \mapsto z \odot (x/z)^s`, :math:`s \in [0, 1]`, a curve on :math:`\mathcal M`, ``(...,)``.
    """

    chord: Array
    log_curve: Array


def distance_bounds(x: ArrayLike, z: ArrayLike, *, n_nodes: int = 64) -> DistanceBounds:
    r"""Two-sided bounds on the geodesic distance between points ``x``, ``z`` of the same level set of :math:`\prod_i x_i`.

    The chord is a lower bound (a straight segment is the shortest curve in :math:`\mathbb R^p`); the curve
    :math:`\gamma(s) = z \odot e^{s u}`, :math:`u = \log(x/z)`, stays on :math:`\mathcal M` because
    :math:`\sum_i u_i = 0`, so its length :math:`\int_0^1 \|z \odot e^{su} \odot u\|\,ds` (Gauss-Legendre
    quadrature, ``n_nodes`` nodes) is an upper bound.  Both agree to first order as :math:`x \to z`.

    >>> b = distance_bounds(np.array([2.0, 0.5]), np.array([1.0, 1.0]))
    >>> bool(b.chord <= b.log_curve)
    True
    """
    x = _points(x, "x")
    z = _points(z, "z")
    n_nodes = _checks.positive_int(n_nodes, "n_nodes")
    x, z = np.broadcast_arrays(x, z)
    if not np.allclose(np.prod(x, axis=-1), np.prod(z, axis=-1), rtol=1e-8, atol=0):
        raise ValueError("x and z must lie on the same level set of prod")
    u = np.log(x / z)
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    s = 0.5 * (nodes + 1.0)
    speed = np.linalg.norm(z[..., None, :] * np.exp(s[:, None] * u[..., None, :]) * u[..., None, :], axis=-1)
    return DistanceBounds(chord=np.linalg.norm(x - z, axis=-1), log_curve=0.5 * speed @ weights)


def __getattr__(name: str) -> object:
    """``manifold.sharpness`` was renamed :func:`minimiser_sharpness` (issue 10: ``curvature.sharpness`` is the
    Hessian's); the old name stays reachable for code not yet updated by ``tools/rename_api.py``."""
    if name == "sharpness":
        return minimiser_sharpness
    raise AttributeError(f"module 'gdlab.manifold' has no attribute {name!r}")
