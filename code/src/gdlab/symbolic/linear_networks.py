r"""Sympy derivations for linear networks: Hessians at minima, flattest sharpness, critical step sizes.

Deep scalar network :math:`f(w) = \tfrac12(w_1\cdots w_L - y)^2` (chapter 2):

* :func:`scalar_network_loss`, :func:`scalar_network_gradient`, :func:`scalar_network_hessian`;
* :func:`scalar_hessian_on_minimisers`: the Hessian on :math:`\mathcal M = \{\prod_i w_i = y\}`,
  the rank-one matrix :math:`vv^\top` with :math:`v = \nabla P` (:func:`scalar_normal_vector`);
* :func:`scalar_sharpness_on_minimisers`: :math:`\lambda_{\max} = \|v\|^2 = y^2\sum_i w_i^{-2}` on :math:`\mathcal M`;
* :func:`scalar_sharpness_log_coordinates` and :func:`scalar_flattest_certificate`: the AM-GM step
  made checkable. With :math:`|w_i| = e^{u_i}`, :math:`\lambda = y^2\sum_i e^{-2u_i}` is strictly
  convex in :math:`u` (Hessian :math:`\operatorname{diag}(4y^2e^{-2u_i}) \succ 0`) on the affine set
  :math:`\sum_i u_i = \log|y|`, and the Lagrange conditions hold at :math:`u_i = \log|y|/L`; a
  stationary point of a strictly convex function on an affine set is its unique minimiser, so
* :func:`flattest_sharpness_scalar` :math:`= L|y|^{2-2/L}` and :func:`critical_step_size_scalar`
  :math:`= 2/(L|y|^{2-2/L})`.

Matrix networks :math:`\tfrac12\|W_L\cdots W_1X - Y\|_F^2` (chapters 2-3):

* :func:`linear_network_loss` and :func:`linear_network_hessian`: entrywise symbolic loss and Hessian
  for given widths (tests compare them with :class:`gdlab.objectives.LinearNetwork`);
* :func:`two_layer_whitened_sharpness`: :math:`\sigma_1(W_1)^2 + \sigma_1(W_2)^2` at a minimiser and
  its minimum :math:`2\sigma_1(W^\star)` over factorisations (:math:`XX^\top = I`);
* :func:`flattest_sharpness_whitened` :math:`= L\sigma_1(W^\star)^{2-2/L}` and
  :func:`critical_step_size_whitened` (proof in :meth:`gdlab.objectives.LinearNetwork.min_sharpness`).

All losses carry the factor :math:`\tfrac12` and sum over samples.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "FlattestCertificate",
    "L_sym",
    "abs_y",
    "critical_step_size_scalar",
    "critical_step_size_whitened",
    "flattest_sharpness_scalar",
    "flattest_sharpness_whitened",
    "linear_network_hessian",
    "linear_network_loss",
    "linear_network_symbols",
    "scalar_flattest_certificate",
    "scalar_hessian_on_minimisers",
    "scalar_network_gradient",
    "scalar_network_hessian",
    "scalar_network_loss",
    "scalar_network_symbols",
    "scalar_normal_vector",
    "scalar_sharpness_log_coordinates",
    "scalar_sharpness_on_minimisers",
    "sigma",
    "two_layer_whitened_sharpness",
    "y",
]

y = sp.Symbol("y", real=True, nonzero=True)
abs_y = sp.Symbol("abs_y", positive=True)  # |y|, for the log-coordinate argument
sigma = sp.Symbol("sigma", positive=True)  # top singular value of W*
L_sym = sp.Symbol("L", positive=True, integer=True)


def _depth(depth: object) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    return depth


def scalar_network_symbols(depth: int) -> tuple[sp.Symbol, ...]:
    """Real symbols ``(w1, ..., wL)``."""
    return tuple(sp.symbols(f"w1:{_depth(depth) + 1}", real=True))


def scalar_network_loss(depth: int, target: sp.Expr = y) -> sp.Expr:
    r""":math:`\tfrac12(w_1\cdots w_L - y)^2` in the symbols of :func:`scalar_network_symbols`.

    >>> scalar_network_loss(2)
    (w1*w2 - y)**2/2
    """
    ws = scalar_network_symbols(depth)
    return (sp.Mul(*ws) - target) ** 2 / 2


def scalar_network_gradient(depth: int, target: sp.Expr = y) -> sp.Matrix:
    r"""Gradient column :math:`(P - y)P_{-i}`."""
    ws = scalar_network_symbols(depth)
    return sp.Matrix([sp.diff(scalar_network_loss(depth, target), w) for w in ws])


def scalar_network_hessian(depth: int, target: sp.Expr = y) -> sp.Matrix:
    r"""Hessian: :math:`\partial_{ii} f = P_{-i}^2`, :math:`\partial_{ij} f = P_{-i}P_{-j} + (P - y)P_{-ij}`.

    >>> scalar_network_hessian(2)[0, 1]
    2*w1*w2 - y
    """
    return sp.hessian(scalar_network_loss(depth, target), scalar_network_symbols(depth))


def scalar_normal_vector(depth: int) -> sp.Matrix:
    r""":math:`v = \nabla P`, :math:`v_i = P_{-i} = \prod_{j\ne i} w_j`: the normal direction to :math:`\mathcal M`."""
    ws = scalar_network_symbols(depth)
    P = sp.Mul(*ws)
    return sp.Matrix([sp.diff(P, w) for w in ws])


def scalar_hessian_on_minimisers(depth: int) -> sp.Matrix:
    r"""The Hessian with :math:`y = \prod_i w_i` substituted (so the point is a global minimiser).

    It equals :math:`vv^\top` (:func:`scalar_normal_vector`): the residual terms vanish.

    >>> H = scalar_hessian_on_minimisers(3); v = scalar_normal_vector(3)
    >>> sp.simplify(H - v * v.T) == sp.zeros(3, 3)
    True
    """
    ws = scalar_network_symbols(depth)
    return sp.expand(scalar_network_hessian(depth).subs(y, sp.Mul(*ws)))


def scalar_sharpness_on_minimisers(depth: int, in_terms_of_y: bool = True) -> sp.Expr:
    r"""Sharpness on :math:`\mathcal M`: the only non-zero eigenvalue of :math:`vv^\top`, :math:`\|v\|^2`.

    ``in_terms_of_y``: :math:`y^2\sum_i w_i^{-2}` (valid on :math:`\mathcal M`, all :math:`w_i \ne 0`);
    otherwise :math:`\sum_i \prod_{j\ne i} w_j^2`.
    """
    ws = scalar_network_symbols(depth)
    if in_terms_of_y:
        return y**2 * sum(w ** (-2) for w in ws)
    v = scalar_normal_vector(depth)
    return sp.expand((v.T * v)[0, 0])


def scalar_sharpness_log_coordinates(depth: int) -> tuple[sp.Expr, sp.Expr, tuple[sp.Symbol, ...]]:
    r"""``(lam, constraint, us)``: :math:`\lambda = |y|^2\sum_i e^{-2u_i}` and :math:`\sum_i u_i - \log|y|`
    with :math:`|w_i| = e^{u_i}` and the positive symbol ``abs_y`` for :math:`|y|`; :math:`\mathcal M`
    (up to signs) is ``constraint = 0``."""
    us = tuple(sp.symbols(f"u1:{_depth(depth) + 1}", real=True))
    lam = abs_y**2 * sum(sp.exp(-2 * u) for u in us)
    return lam, sum(us) - sp.log(abs_y), us


@dataclass(frozen=True)
class FlattestCertificate:
    """The pieces of the convexity proof that :math:`L|y|^{2-2/L}` is the minimum of the sharpness on M.

    Attributes:
        lagrangian_gradient: gradient of :math:`\\lambda - \\mu\\,(\\sum u_i - \\log|y|)` in ``(u, mu)`` at
            the balanced point and multiplier; all entries simplify to 0.
        hessian_diagonal: the Hessian of :math:`\\lambda` in ``u`` is diagonal with these entries
            (positive for every real ``u``: strict convexity).
        hessian_offdiagonal_zero: True when the off-diagonal Hessian entries vanish identically.
        minimum: value of :math:`\\lambda` at the balanced point, ``L * abs_y**(2 - 2/L)``.
    """

    lagrangian_gradient: tuple[sp.Expr, ...]
    hessian_diagonal: tuple[sp.Expr, ...]
    hessian_offdiagonal_zero: bool
    minimum: sp.Expr


def scalar_flattest_certificate(depth: int) -> FlattestCertificate:
    r"""Check the AM-GM step by convexity: stationarity at :math:`u_i = \log|y|/L` and strict convexity.

    Multiplier: :math:`\mu = -2y^2e^{-2u_i} = -2|y|^{2-2/L}`.

    >>> cert = scalar_flattest_certificate(3)
    >>> all(sp.simplify(g) == 0 for g in cert.lagrangian_gradient), cert.hessian_offdiagonal_zero
    (True, True)
    """
    lam, constraint, us = scalar_sharpness_log_coordinates(depth)
    mu = sp.Symbol("mu", real=True)
    lagr = lam - mu * constraint
    L = len(us)
    point = {u: sp.log(abs_y) / L for u in us}
    point[mu] = -2 * abs_y ** (2 - sp.Rational(2, L))
    grad = tuple(sp.simplify(sp.diff(lagr, v).subs(point)) for v in (*us, mu))
    H = sp.hessian(lam, us)
    diag = tuple(H[i, i] for i in range(L))
    off = all(H[i, j] == 0 for i in range(L) for j in range(L) if i != j)
    minimum = sp.simplify(lam.subs(point))
    return FlattestCertificate(lagrangian_gradient=grad, hessian_diagonal=diag, hessian_offdiagonal_zero=off, minimum=minimum)


def flattest_sharpness_scalar(depth: int | sp.Expr = L_sym, target: sp.Expr = y) -> sp.Expr:
    r""":math:`\min_{\mathcal M}\lambda_{\max} = L|y|^{2-2/L}` (``depth`` an integer or the symbol ``L``).

    >>> flattest_sharpness_scalar(5, 1)
    5
    """
    L = depth if isinstance(depth, sp.Expr) else sp.Integer(_depth(depth))
    return L * sp.Abs(target) ** (2 - 2 / L)


def critical_step_size_scalar(depth: int | sp.Expr = L_sym, target: sp.Expr = y) -> sp.Expr:
    r""":math:`\eta^* = 2/(L|y|^{2-2/L})`.

    >>> critical_step_size_scalar(5, 1)
    2/5
    """
    return 2 / flattest_sharpness_scalar(depth, target)


# -- matrix networks -------------------------------------------------------------------------------


def linear_network_symbols(widths: Sequence[int]) -> list[sp.Matrix]:
    """Symbolic layer matrices ``[W1, ..., WL]`` with entries ``W{i}_{r}{c}`` (row-major = flat order)."""
    widths = tuple(int(h) for h in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must be at least two positive integers, got {widths!r}")
    mats = []
    for i in range(len(widths) - 1):
        rows, cols = widths[i + 1], widths[i]
        mats.append(sp.Matrix(rows, cols, lambda r, c, i=i: sp.Symbol(f"W{i + 1}_{r}{c}", real=True)))
    return mats


def linear_network_loss(widths: Sequence[int], X: sp.Matrix | None = None, Y: sp.Matrix | None = None) -> tuple[sp.Expr, list[sp.Symbol]]:
    r"""``(f, params)``: :math:`\tfrac12\|W_L\cdots W_1X - Y\|_F^2` with ``X`` (default :math:`I_d`) and
    ``Y`` (default symbolic ``Y_{r}{c}``, ``(k, n)``); ``params`` in the flat order of
    :class:`gdlab.objectives.LinearNetwork`."""
    mats = linear_network_symbols(widths)
    d, k = int(widths[0]), int(widths[-1])
    X = sp.eye(d) if X is None else sp.Matrix(X)
    if X.shape[0] != d:
        raise ValueError(f"X must have {d} rows, got shape {X.shape}")
    n = X.shape[1]
    if Y is None:
        Y = sp.Matrix(k, n, lambda r, c: sp.Symbol(f"Y_{r}{c}", real=True))
    Y = sp.Matrix(Y)
    if Y.shape != (k, n):
        raise ValueError(f"Y must have shape ({k}, {n}), got {Y.shape}")
    P = mats[0]
    for W in mats[1:]:
        P = W * P
    R = P * X - Y
    params = [s for W in mats for s in W]  # row-major
    return sum(r**2 for r in R) / 2, params


def linear_network_hessian(widths: Sequence[int], X: sp.Matrix | None = None, Y: sp.Matrix | None = None) -> tuple[sp.Matrix, list[sp.Symbol]]:
    """``(H, params)``: the symbolic Hessian of :func:`linear_network_loss` (small widths only)."""
    f, params = linear_network_loss(widths, X, Y)
    return sp.hessian(f, params), params


def two_layer_whitened_sharpness() -> tuple[sp.Expr, sp.Expr]:
    r"""``(at_minimiser, flattest)`` for two layers and :math:`XX^\top = I`.

    At a minimiser :math:`W_2W_1 = W^\star`, :math:`\lambda_{\max} = a^2 + b^2` with
    :math:`a = \sigma_1(W_1)`, :math:`b = \sigma_1(W_2)` (symbols ``a``, ``b``); since
    :math:`ab \ge \sigma_1(W^\star)` and :math:`a^2 + b^2 - 2ab = (a - b)^2 \ge 0`, the minimum is
    :math:`2\sigma_1(W^\star)` (symbol ``sigma``), at :math:`a = b = \sqrt{\sigma}`.

    >>> at_min, flat = two_layer_whitened_sharpness()
    >>> flat
    2*sigma
    """
    a, b = sp.symbols("a b", positive=True)
    return a**2 + b**2, 2 * sigma


def flattest_sharpness_whitened(depth: int | sp.Expr = L_sym, top_singular_value: sp.Expr = sigma) -> sp.Expr:
    r""":math:`L\,\sigma_1(W^\star)^{2-2/L}` for :math:`XX^\top = I` and widths that can represent :math:`W^\star`.

    >>> flattest_sharpness_whitened(2)
    2*sigma
    """
    L = depth if isinstance(depth, sp.Expr) else sp.Integer(_depth(depth))
    return L * top_singular_value ** (2 - 2 / L)


def critical_step_size_whitened(depth: int | sp.Expr = L_sym, top_singular_value: sp.Expr = sigma) -> sp.Expr:
    r""":math:`\eta^* = 2/(L\sigma_1(W^\star)^{2-2/L})`; for two layers :math:`1/\|W^\star\|_{\rm op}`.

    >>> critical_step_size_whitened(2)
    1/sigma
    """
    return 2 / flattest_sharpness_whitened(depth, top_singular_value)
