r"""Sympy derivations for chapter 1: gradient descent as a dynamical system.

Every function returns sympy objects that the chapter displays and the tests check against numerics.
The symbols are module-level and carry assumptions, so that results such as
:math:`\sqrt{2/\eta}` simplify without sign cases:

* ``eta`` (:math:`\eta > 0`, step size), ``lam`` (:math:`\lambda > 0`, curvature),
  ``K`` (:math:`K > 0`, Lipschitz constant of the gradient), ``x`` (real state),
  ``u`` (real deviation from a fixed point), ``alpha``, ``a``, ``b`` (real coefficients
  of the generic flip map).

Contents

* :func:`quadratic_gd_factor`, :func:`quadratic_stable_interval`: GD on :math:`\tfrac12\lambda x^2`
  is :math:`x \mapsto (1-\eta\lambda)x`, stable iff :math:`0 < \eta < 2/\lambda`.
* :func:`gd_jacobian`: :math:`DG_\eta = I - \eta \nabla^2 f` for a symbolic loss.
* :func:`gd_matrix_charpoly`: the eigenvalues of :math:`I - \eta A` are :math:`1 - \eta\lambda_i(A)`.
* :func:`descent_lemma_bound`, :func:`optimal_descent_step`: the descent lemma and its best step :math:`1/K`.
* :func:`gd_map_1d`, :func:`period_two_factor`, :func:`cycle_multiplier`: period-2 orbits of 1-D GD maps.
* :func:`quartic_two_cycle`, :func:`double_well_two_cycle`: the two worked examples.
* :func:`flip_cycle_amplitude_squared`, :func:`flip_critical_cubic`: leading-order flip bifurcation of
  :math:`u \mapsto -(1+\alpha)u + a u^2 + b u^3`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "DoubleWellCycle",
    "K",
    "OptimalStep",
    "a",
    "alpha",
    "b",
    "cycle_multiplier",
    "descent_lemma_bound",
    "double_well_two_cycle",
    "eta",
    "flip_critical_cubic",
    "flip_cycle_amplitude_squared",
    "flip_map",
    "gd_jacobian",
    "gd_map_1d",
    "gd_matrix_charpoly",
    "lam",
    "optimal_descent_step",
    "period_two_factor",
    "quadratic_gd_factor",
    "quadratic_stable_interval",
    "quadratic_upper_bound_integral",
    "quartic_two_cycle",
    "u",
    "x",
]

eta = sp.Symbol("eta", positive=True)
lam = sp.Symbol("lambda", positive=True)
K = sp.Symbol("K", positive=True)
x = sp.Symbol("x", real=True)
u = sp.Symbol("u", real=True)
alpha = sp.Symbol("alpha", real=True)
a = sp.Symbol("a", real=True)
b = sp.Symbol("b", real=True)


def quadratic_gd_factor() -> sp.Expr:
    r"""The factor :math:`G_\eta(x)/x = 1 - \eta\lambda` of GD on :math:`f(x) = \tfrac12 \lambda x^2`.

    Derived, not typed: it is :math:`(x - \eta f'(x))/x` simplified.

    >>> quadratic_gd_factor()
    -eta*lambda + 1
    """
    f = lam * x**2 / 2
    return sp.simplify(gd_map_1d(f) / x)


def quadratic_stable_interval() -> sp.Set:
    r"""The step sizes :math:`\eta > 0` with :math:`|1 - \eta\lambda| < 1`, as a sympy set.

    Sympy solves :math:`|1 - s| < 1` for :math:`s = \eta\lambda` (giving :math:`0 < s < 2`) and the
    result is rescaled by :math:`1/\lambda > 0`: the interval :math:`(0, 2/\lambda)`.

    >>> quadratic_stable_interval()
    Interval.open(0, 2/lambda)
    """
    s = sp.Symbol("s", real=True)
    factor = quadratic_gd_factor().subs(eta * lam, s)
    in_s = sp.solve_univariate_inequality(sp.Abs(factor) < 1, s, relational=False)
    if not isinstance(in_s, sp.Interval):  # pragma: no cover - sympy returns an Interval here
        raise RuntimeError(f"unexpected solution set {in_s!r}")
    return sp.Interval(in_s.start / lam, in_s.end / lam, in_s.left_open, in_s.right_open)


def gd_jacobian(n: int = 2) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Jacobian :math:`DG_\eta` of :math:`G_\eta(w) = w - \eta\nabla f(w)` and the Hessian of a generic :math:`f`.

    ``f`` is an undefined sympy function of ``n`` real variables; returns ``(DG, H)`` so that a test
    can assert :math:`DG = I - \eta H`.
    """
    ws = sp.symbols(f"w1:{n + 1}", real=True)
    f = sp.Function("f")(*ws)
    grad = sp.Matrix([sp.diff(f, w) for w in ws])
    G = sp.Matrix(ws) - eta * grad
    return G.jacobian(ws), sp.hessian(f, ws)


def gd_matrix_charpoly(n: int = 2) -> tuple[sp.Expr, sp.Expr]:
    r"""Characteristic polynomials behind the eigen-decomposition of linear GD :math:`w \mapsto (I - \eta A) w`.

    For a generic symmetric :math:`n \times n` matrix :math:`A` returns ``(lhs, rhs)`` with
    :math:`\text{lhs} = \det(zI - (I - \eta A))` and :math:`\text{rhs} = (-\eta)^n \det(\mu I - A)` at
    :math:`\mu = (1 - z)/\eta`; they are equal, so the eigenvalues of :math:`I - \eta A` are exactly
    :math:`1 - \eta\lambda_i(A)`.
    """
    z = sp.Symbol("z")
    entries = {(i, j): sp.Symbol(f"a{min(i, j) + 1}{max(i, j) + 1}", real=True) for i in range(n) for j in range(n)}
    A = sp.Matrix(n, n, lambda i, j: entries[(i, j)])
    I = sp.eye(n)
    lhs = (z * I - (I - eta * A)).det()
    mu = (1 - z) / eta
    rhs = (-eta) ** n * (mu * I - A).det()
    return sp.expand(lhs), sp.expand(rhs)


def descent_lemma_bound() -> tuple[sp.Expr, sp.Expr]:
    r"""The quadratic upper bound evaluated at :math:`y = x - \eta\nabla f(x)`, and the lemma's form.

    With :math:`g = \|\nabla f(x)\|^2` (symbol ``g``, non-negative) and :math:`f_0 = f(x)`, the bound
    :math:`f(y) \le f(x) + \nabla f(x)^\top (y - x) + \tfrac K2 \|y - x\|^2` becomes
    :math:`f_0 - \eta g + \tfrac K2 \eta^2 g`; the lemma writes it as :math:`f_0 - \eta(1 - K\eta/2) g`.
    Returns ``(upper_bound, lemma_form)``; their difference simplifies to zero.
    """
    f0 = sp.Symbol("f_0", real=True)
    g = sp.Symbol("g", nonnegative=True)
    gradient_dot_step = -eta * g  # \nabla f^T (y - x) with y - x = -eta \nabla f
    step_sq = eta**2 * g  # \|y - x\|^2
    upper = f0 + gradient_dot_step + K / 2 * step_sq
    lemma = f0 - eta * (1 - K * eta / 2) * g
    return upper, lemma


def quadratic_upper_bound_integral() -> sp.Expr:
    r""":math:`\int_0^1 K s \, ds`, the constant of the quadratic upper bound (it equals :math:`K/2`).

    In the proof, :math:`f(y) - f(x) - \nabla f(x)^\top(y - x) = \int_0^1 (\nabla f(x + s(y-x)) - \nabla f(x))^\top (y-x)\,ds
    \le \int_0^1 K s \|y-x\|^2 ds`.
    """
    s = sp.Symbol("s", nonnegative=True)
    return sp.integrate(K * s, (s, 0, 1))


@dataclass(frozen=True)
class OptimalStep:
    """Maximiser of the guaranteed decrease :math:`\\eta(1 - K\\eta/2)` and its value."""

    step: sp.Expr
    decrease: sp.Expr
    positive_interval: sp.Set


def optimal_descent_step() -> OptimalStep:
    r"""Maximise :math:`c(\eta) = \eta(1 - K\eta/2)` over :math:`\eta > 0`.

    Sympy solves :math:`c'(\eta) = 0` (the unique root is :math:`1/K`, a maximum since :math:`c'' = -K < 0`),
    evaluates :math:`c(1/K) = 1/(2K)`, and solves :math:`c(\eta) > 0`, giving :math:`(0, 2/K)`.

    >>> optimal_descent_step().step
    1/K
    """
    c = eta * (1 - K * eta / 2)
    (root,) = sp.solve(sp.diff(c, eta), eta)
    if not sp.simplify(sp.diff(c, eta, 2)).is_negative:  # pragma: no cover - c is concave
        raise RuntimeError("expected a concave decrease coefficient")
    s = sp.Symbol("s", real=True)  # s = K eta
    in_s = sp.solve_univariate_inequality(sp.expand(c * K).subs(eta, s / K) > 0, s, relational=False)
    interval = sp.Interval(in_s.start / K, in_s.end / K, in_s.left_open, in_s.right_open)
    return OptimalStep(step=sp.simplify(root), decrease=sp.simplify(c.subs(eta, root)), positive_interval=interval)


def gd_map_1d(f: sp.Expr, var: sp.Symbol = x, step: sp.Expr = eta) -> sp.Expr:
    r"""The 1-D GD map :math:`G_\eta(x) = x - \eta f'(x)` as an expanded polynomial expression."""
    return sp.expand(var - step * sp.diff(f, var))


def period_two_factor(g: sp.Expr, var: sp.Symbol = x) -> sp.Expr:
    r"""The factor of :math:`g(g(x)) - x` whose roots are the points of least period exactly 2.

    For a polynomial map :math:`g`, every fixed point is a root of :math:`g(g(x)) - x`, so
    :math:`g(x) - x` divides it; the quotient (exact polynomial division, checked) is returned,
    with content and constant factors removed by ``sympy.factor``.
    """
    gg = sp.expand(g.subs(var, g) - var)
    q, r = sp.div(sp.Poly(gg, var), sp.Poly(sp.expand(g - var), var))
    if not r.is_zero:  # pragma: no cover - exact for polynomial maps
        raise RuntimeError("g(x) - x does not divide g(g(x)) - x")
    return sp.factor(q.as_expr())


def cycle_multiplier(g: sp.Expr, points: tuple[sp.Expr, ...], var: sp.Symbol = x) -> sp.Expr:
    r"""Multiplier :math:`\prod_i g'(x_i)` of the cycle :math:`(x_1, \dots, x_p)`: the derivative of :math:`g^p` on it.

    The cycle is linearly stable when the multiplier lies in :math:`(-1, 1)`.
    """
    dg = sp.diff(g, var)
    return sp.simplify(sp.prod([dg.subs(var, p) for p in points]))


def quartic_two_cycle() -> sp.Expr:
    r"""Positive point :math:`\sqrt{2/\eta}` of the 2-cycle :math:`\{\pm\sqrt{2/\eta}\}` of GD on :math:`x^4/4`.

    Solves :math:`x - \eta x^3 = -x` (an orbit :math:`x \mapsto -x \mapsto x`) and returns the positive root.

    >>> quartic_two_cycle()
    sqrt(2)/sqrt(eta)
    """
    g = gd_map_1d(x**4 / 4)
    roots = [r for r in sp.solve(sp.Eq(g, -x), x) if r != 0]
    (pos,) = [r for r in roots if r.is_positive]
    return pos


@dataclass(frozen=True)
class DoubleWellCycle:
    r"""The 2-cycle :math:`\{q, p\}`, :math:`0 < q < 1 < p`, of GD on :math:`\tfrac14(x^2-1)^2` for :math:`\eta > 1`.

    ``s_plus``/``s_minus`` are :math:`p^2, q^2`, the roots in :math:`s = x^2` of the period-2 factor;
    ``multiplier`` is :math:`g'(p)g'(q)` as a function of :math:`\eta`.
    """

    p: sp.Expr
    q: sp.Expr
    s_plus: sp.Expr
    s_minus: sp.Expr
    multiplier: sp.Expr
    gd_map: sp.Expr
    period_two_factor: sp.Expr


def double_well_two_cycle() -> DoubleWellCycle:
    r"""Derive the 2-cycle of :math:`g(x) = x - \eta(x^3 - x)` born at :math:`x = 1` when :math:`\eta = 1`.

    The period-2 factor of :math:`g` is :math:`(\eta x^2 - \eta - 2)(\eta^2 x^4 - \eta(\eta+1) x^2 + 1)`
    up to a constant: the first factor is the symmetric orbit :math:`\pm\sqrt{(2+\eta)/\eta}`, the
    quartic holds the orbits near :math:`\pm 1`. Its roots in :math:`s = x^2` are
    :math:`s_\pm = \big((\eta+1) \pm \sqrt{(\eta-1)(\eta+3)}\big)/(2\eta)`, real iff :math:`\eta \ge 1`.
    """
    g = gd_map_1d((x**2 - 1) ** 2 / 4)
    factor = period_two_factor(g)
    s = sp.Symbol("s", positive=True)
    quartic = [fa for fa, _ in sp.factor_list(factor)[1] if sp.degree(fa, x) == 4]
    if len(quartic) != 1:  # pragma: no cover - fixed by the algebra above
        raise RuntimeError(f"expected one quartic factor, got {quartic}")
    in_s = sp.Poly(quartic[0].subs(x**2, s), s)
    roots = sp.solve(in_s.as_expr(), s)
    roots = sorted(roots, key=lambda r: float(r.subs(eta, 2)))  # order at an eta > 1
    s_minus, s_plus = (sp.simplify(r) for r in roots)
    p, q = sp.sqrt(s_plus), sp.sqrt(s_minus)
    return DoubleWellCycle(
        p=p,
        q=q,
        s_plus=s_plus,
        s_minus=s_minus,
        multiplier=sp.expand(sp.simplify(cycle_multiplier(g, (p, q)))),
        gd_map=g,
        period_two_factor=factor,
    )


def flip_map() -> sp.Expr:
    r"""The generic cubic map :math:`F(u) = -(1+\alpha)u + a u^2 + b u^3` near a flip (multiplier :math:`-1` at :math:`\alpha = 0`)."""
    return -(1 + alpha) * u + a * u**2 + b * u**3


@functools.cache
def flip_cycle_amplitude_squared() -> sp.Expr:
    r"""Leading order of :math:`u^2` on the 2-cycle of :math:`F` as :math:`\alpha \to 0`: :math:`\alpha/(a^2+b)`.

    Derived once per process (cached: the derivation has no argument and a sympy expression is immutable).

    Substitutes :math:`\alpha = \varepsilon^2`, :math:`u = \varepsilon v` in the period-2 factor of :math:`F`;
    the lowest non-vanishing power of :math:`\varepsilon` gives :math:`(a^2+b) v^2 - 1 = 0`, so
    :math:`u^2 = \varepsilon^2 v^2 = \alpha/(a^2+b) + o(\alpha)` when :math:`a^2 + b > 0`.
    """
    eps = sp.Symbol("epsilon", positive=True)
    v = sp.Symbol("v", real=True)
    factor = period_two_factor(flip_map(), u)
    scaled = sp.Poly(sp.expand(factor.subs({u: eps * v, alpha: eps**2})), eps)
    coeffs = scaled.all_coeffs()[::-1]
    lowest = next(c for c in coeffs if sp.expand(c) != 0)  # polynomials in a, b, v: zero iff expanded to 0
    v2 = sp.Symbol("V", positive=True)
    (sol,) = sp.solve(sp.expand(lowest).subs(v**2, v2), v2)
    return sp.simplify(sol * alpha)


def flip_critical_cubic() -> sp.Expr:
    r"""The coefficient :math:`C` in :math:`F(F(u)) = u - C u^3 + O(u^4)` at :math:`\alpha = 0`: :math:`C = 2(a^2 + b)`.

    At the flip the second iterate has no linear or quadratic correction, so for :math:`C > 0`
    the orbit decays like a power law, :math:`t\,u_t^2 \to 1/C`.
    """
    F2 = sp.expand(flip_map().subs(u, flip_map()).subs(alpha, 0))
    poly = sp.Poly(F2, u)
    if poly.coeff_monomial(u) != 1 or poly.coeff_monomial(u**2) != 0:  # pragma: no cover
        raise RuntimeError("unexpected low-order terms of F(F(u))")
    return sp.factor(-poly.coeff_monomial(u**3))
