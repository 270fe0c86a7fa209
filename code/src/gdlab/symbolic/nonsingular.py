r"""Sympy certificates that the gradient-descent map is non-singular (chapter 3).

The GD map :math:`G_\eta(w) = w - \eta\nabla f(w)` has Jacobian :math:`DG_\eta = I - \eta\nabla^2 f`.
For a polynomial (more generally real-analytic) loss, :math:`G_\eta` is *non-singular* (preimages of
Lebesgue-null sets are null) as soon as

.. math:: D_\eta(w) := \det\bigl(I - \eta \nabla^2 f(w)\bigr) \not\equiv 0 ,

because the zero set of a real-analytic function that is not identically zero is null.
To *certify* :math:`D_\eta \not\equiv 0` for **every** :math:`\eta > 0` at once it suffices to find
finitely many points :math:`w^{(1)}, \dots, w^{(m)}` such that the polynomials
:math:`p_j(\eta) = D_\eta(w^{(j)})` have no common positive root: for each :math:`\eta > 0` one of
them is non-zero.  The exceptional step sizes of a single point are
:math:`\{1/\lambda : \lambda > 0 \text{ an eigenvalue of } \nabla^2 f(w^{(j)})\}`, at most
``n_params`` values.

Contents

* :func:`deep_scalar_loss`: :math:`\tfrac12(w_1\cdots w_L - y)^2` with symbolic or numeric target.
* :func:`two_layer_loss`: :math:`\tfrac12\|W_2 W_1 X - Y\|_F^2` with rational data.
* :func:`gd_determinant`: :math:`D_\eta(w)` as an expanded polynomial.
* :func:`certify_nonsingular`: the certificate above (a frozen dataclass).
* :func:`balancedness_update`: the exact identity
  :math:`w_i'^2 - w_j'^2 = (w_i^2 - w_j^2)(1 - \eta^2 r^2 P_{-ij}^2)` for the scalar network.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "BalancednessUpdate",
    "NonsingularityCertificate",
    "balancedness_update",
    "certify_nonsingular",
    "deep_scalar_loss",
    "eta",
    "gd_determinant",
    "two_layer_loss",
    "y",
]

eta = sp.Symbol("eta", positive=True)
y = sp.Symbol("y", real=True, nonzero=True)


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def deep_scalar_loss(depth: int, target: sp.Expr | int | float = y) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    r"""The deep scalar linear network :math:`f(w) = \tfrac12 (w_1 w_2 \cdots w_L - y)^2`.

    Returns ``(f, (w1, ..., wL))`` with real symbols.

    >>> f, ws = deep_scalar_loss(2, 1)
    >>> sp.expand(f)
    w1**2*w2**2/2 - w1*w2 + 1/2
    """
    depth = _positive_int(depth, "depth")
    ws = sp.symbols(f"w1:{depth + 1}", real=True)
    return (sp.Mul(*ws) - sp.sympify(target)) ** 2 / 2, tuple(ws)


def two_layer_loss(
    X: Sequence[Sequence[int | float]] | sp.Matrix, Y: Sequence[Sequence[int | float]] | sp.Matrix, hidden: int
) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    r"""The two-layer linear network :math:`f = \tfrac12 \|W_2 W_1 X - Y\|_F^2`, ``X`` ``(d, n)``, ``Y`` ``(k, n)``.

    Data entries are converted to exact rationals. Parameters are ordered as ``W1`` (row-major,
    ``hidden x d``) then ``W2`` (row-major, ``k x hidden``), named ``a_ij`` and ``b_ij``.

    >>> f, ws = two_layer_loss([[1]], [[2]], hidden=1)
    >>> sp.factor(f)
    (a11*b11 - 2)**2/2
    """
    hidden = _positive_int(hidden, "hidden")
    Xm = sp.Matrix(X).applyfunc(sp.nsimplify)
    Ym = sp.Matrix(Y).applyfunc(sp.nsimplify)
    if Xm.cols != Ym.cols:
        raise ValueError(f"X and Y must have the same number of columns, got {Xm.cols} and {Ym.cols}")
    d, k = Xm.rows, Ym.rows
    W1 = sp.Matrix(hidden, d, lambda i, j: sp.Symbol(f"a{i + 1}{j + 1}", real=True))
    W2 = sp.Matrix(k, hidden, lambda i, j: sp.Symbol(f"b{i + 1}{j + 1}", real=True))
    R = W2 * W1 * Xm - Ym
    f = sum(r**2 for r in R) / 2
    return f, tuple(W1) + tuple(W2)


def gd_determinant(f: sp.Expr, variables: Sequence[sp.Symbol], step: sp.Expr = eta) -> sp.Expr:
    r""":math:`D_\eta(w) = \det(I - \eta\nabla^2 f(w))`, expanded, a polynomial in ``variables`` and ``step``.

    >>> f, ws = deep_scalar_loss(2, 1)
    >>> gd_determinant(f, ws).subs({ws[0]: 0, ws[1]: 0})
    1 - eta**2
    """
    variables = tuple(variables)
    if not variables:
        raise ValueError("variables must be a non-empty sequence of symbols")
    H = sp.hessian(f, variables)
    return sp.expand((sp.eye(len(variables)) - step * H).det(method="berkowitz"))


def _det_identity_minus(H: sp.Matrix, step: sp.Symbol) -> sp.Expr:
    r""":math:`\det(I - \eta H)` for a constant matrix ``H`` via its characteristic polynomial.

    If :math:`\det(\lambda I - H) = \sum_k c_k \lambda^k` then :math:`\det(I - \eta H) = \sum_k c_k \eta^{n-k}`.
    """
    lam = sp.Dummy("lambda")
    coeffs = H.charpoly(lam).all_coeffs()  # c_n (=1), c_{n-1}, ..., c_0
    return sp.expand(sum(c * step**k for k, c in enumerate(coeffs)))


@dataclass(frozen=True)
class NonsingularityCertificate:
    r"""Evidence that :math:`\det(I - \eta\nabla^2 f) \not\equiv 0` for every :math:`\eta > 0`.

    Attributes:
        points: the evaluation points :math:`w^{(j)}` (tuples of exact numbers).
        polynomials: :math:`p_j(\eta) = \det(I - \eta\nabla^2 f(w^{(j)}))`.
        common_factor: :math:`\gcd_j p_j` (a polynomial in :math:`\eta`).
        exceptional: positive real roots of ``common_factor``: step sizes not covered.
        certified: ``True`` iff ``exceptional`` is empty, i.e. for every :math:`\eta > 0`
            some :math:`p_j(\eta) \ne 0`.
    """

    points: tuple[tuple[sp.Expr, ...], ...]
    polynomials: tuple[sp.Expr, ...]
    common_factor: sp.Expr
    exceptional: tuple[sp.Expr, ...]
    certified: bool


def certify_nonsingular(
    f: sp.Expr,
    variables: Sequence[sp.Symbol],
    points: Sequence[Sequence[int | float | sp.Expr]],
    step: sp.Symbol = eta,
) -> NonsingularityCertificate:
    r"""Evaluate :math:`p_j(\eta) = \det(I - \eta\nabla^2 f(w^{(j)}))` at the given points and intersect their positive roots.

    Only the Hessian at the points is formed (cheap even for many parameters). ``f`` may contain
    no free symbol other than ``variables``. If the result is ``certified``, then for every
    :math:`\eta > 0` the polynomial :math:`w \mapsto \det(I - \eta\nabla^2 f(w))` is not the zero
    polynomial, hence its zero set is Lebesgue-null and :math:`G_\eta` is non-singular.

    >>> f, ws = deep_scalar_loss(2, 1)
    >>> cert = certify_nonsingular(f, ws, [(0, 0), (1, 2)])
    >>> cert.polynomials[0], cert.certified
    (1 - eta**2, True)
    """
    variables = tuple(variables)
    if not points:
        raise ValueError("points must contain at least one point")
    extra = f.free_symbols - set(variables)
    if extra:
        raise ValueError(f"f must depend only on variables; it also contains {sorted(map(str, extra))}")
    H = sp.hessian(f, variables)
    pts, polys = [], []
    for p in points:
        if len(p) != len(variables):
            raise ValueError(f"every point must have {len(variables)} coordinates, got {len(p)}")
        exact = tuple(sp.nsimplify(c) for c in p)
        Hp = H.subs(dict(zip(variables, exact)))
        polys.append(_det_identity_minus(Hp, step))
        pts.append(exact)
    common = polys[0]
    for q in polys[1:]:
        common = sp.gcd(common, q)
    common = sp.factor(common)
    roots = [r for r in sp.Poly(common, step).real_roots() if r > 0] if common.has(step) else []
    exceptional = tuple(sorted(set(roots), key=lambda r: float(r)))
    return NonsingularityCertificate(
        points=tuple(pts),
        polynomials=tuple(polys),
        common_factor=common,
        exceptional=exceptional,
        certified=not exceptional,
    )


@dataclass(frozen=True)
class BalancednessUpdate:
    r"""Both sides of the exact one-step identity for the scalar network (indices ``i = 1, j = 2``).

    Attributes:
        lhs: :math:`w_1'^2 - w_2'^2` with :math:`w' = G_\eta(w)`.
        rhs: :math:`(w_1^2 - w_2^2)(1 - \eta^2 r^2 P_{-12}^2)`, :math:`r = P - y`.
    """

    lhs: sp.Expr
    rhs: sp.Expr


def balancedness_update(depth: int) -> BalancednessUpdate:
    r"""The exact GD identity :math:`w_i'^2 - w_j'^2 = (w_i^2 - w_j^2)(1 - \eta^2 r^2 P_{-ij}^2)`.

    For gradient flow :math:`w_i^2 - w_j^2` is conserved; one GD step multiplies it by
    :math:`1 - \eta^2 r^2 P_{-ij}^2`. Returned for ``i, j = 1, 2`` (the others follow by symmetry).

    >>> u = balancedness_update(3)
    >>> sp.expand(u.lhs - u.rhs)
    0
    """
    depth = _positive_int(depth, "depth", minimum=2)
    f, ws = deep_scalar_loss(depth, y)
    P = sp.Mul(*ws)
    new = [w - eta * sp.diff(f, w) for w in ws]
    lhs = sp.expand(new[0] ** 2 - new[1] ** 2)
    P_minus_12 = sp.Mul(*ws[2:])
    rhs = (ws[0] ** 2 - ws[1] ** 2) * (1 - eta**2 * (P - y) ** 2 * P_minus_12**2)
    return BalancednessUpdate(lhs=lhs, rhs=rhs)
