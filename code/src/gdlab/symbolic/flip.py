r"""Sympy derivations for chapters 4 and 5: the minimiser manifold of the scalar factorisation and the flip normal form.

The loss is :math:`\ell(\theta) = \tfrac12(f(\theta) - y)^2` with :math:`f = \theta_1\cdots\theta_p` and :math:`y > 0`;
:math:`\mathcal M = \{\theta > 0 : f(\theta) = y\}`, :math:`\lambda = y^2\sum_i\theta_i^{-2}` on :math:`\mathcal M`,
:math:`\theta^* = y^{1/p}\mathbf 1`, :math:`\lambda^* = p y^{2-2/p}`.

Chapter 4 (geometry)

* :func:`codim1_hessian_identity`: :math:`\nabla^2\ell = \nabla f\nabla f^\top + (f-y)\nabla^2 f` for a generic :math:`f`.
* :func:`scalar_hessian_on_manifold`: the Hessian on :math:`\mathcal M` is rank one with eigenvalue :math:`y^2\sum\theta_i^{-2}`.
* :func:`sharpness_lagrange_system`: critical points of :math:`\lambda` on :math:`\mathcal M` are balanced.
* :func:`riemannian_hessian_at_balanced`: :math:`\operatorname{Hess}_{\mathcal M}\lambda(\theta^*) = \nu P`, :math:`\nu = 4y^{2-4/p}`.
* :func:`riemannian_hessian_form`: the quadratic form :math:`2y^2\sum_i w_i^2(3\theta_i^{-2} - s_2/s_1)` at a general point.
* :func:`log_curve_second_derivative`: :math:`\frac{d^2}{ds^2}\lambda(\theta\odot e^{su})`, for the curve check.
* :func:`convexity_modulus`: the strong-convexity modulus on a coordinate box of half-width :math:`\delta`.
* :func:`projection_kkt`: the per-coordinate KKT roots and the identity :math:`\frac{d\log\prod x_i}{d\alpha} = y\sum_i 1/c_i`.

Chapter 5 (dynamics)

* :func:`balanced_line_map`, :func:`balanced_line_coefficients`: GD restricted to the invariant line
  :math:`\theta = a\mathbf 1`, expanded about :math:`a^* = y^{1/p}`.
* :func:`normal_form_coefficient`: the cubic coefficient :math:`c` of the flip normal form, in units of
  :math:`\theta^\perp`, at :math:`\theta^\parallel = \theta^*` and :math:`\eta = 2/\lambda^*`.
* :func:`critical_ratio`: :math:`\nu/(c\lambda^*) = 3/((p-1)(5p-4))`.
* :func:`normal_form_two_cycle`: the exact 2-cycle :math:`\pm\sqrt\alpha` of :math:`z \mapsto -(1+\alpha)z + z^3` and its multiplier.
* :func:`two_cycle_series`: the 2-cycle of the exact balanced-line map as a series in :math:`\sqrt{\eta\lambda^*-2}`.
* :func:`tangential_drift`: one GD step from :math:`x + s\,n(x)` moves the projection by
  :math:`-\tfrac{\eta s^2}{2}\operatorname{grad}_{\mathcal M}\lambda + O(s^3)`.
* :func:`averaged_critical_solution`: the power-law solution of the averaged critical-regime dynamics.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = [
    "AveragedCriticalSolution",
    "HessianOnManifold",
    "NormalFormCycle",
    "ProjectionKKT",
    "TwoCycleSeries",
    "alpha",
    "averaged_critical_solution",
    "balanced_line_coefficients",
    "balanced_line_map",
    "c",
    "codim1_hessian_identity",
    "convexity_modulus",
    "critical_ratio",
    "delta",
    "epsilon",
    "eta",
    "k",
    "log_curve_second_derivative",
    "normal_form_coefficient",
    "normal_form_two_cycle",
    "nu",
    "p",
    "projection_kkt",
    "riemannian_hessian_at_balanced",
    "riemannian_hessian_form",
    "s",
    "scalar_hessian_on_manifold",
    "sharpness_lagrange_system",
    "tangential_drift",
    "two_cycle_series",
    "v",
    "y",
]

y = sp.Symbol("y", positive=True)
eta = sp.Symbol("eta", positive=True)
p = sp.Symbol("p", positive=True, integer=True)
v = sp.Symbol("v", real=True)
s = sp.Symbol("s", real=True)
k = sp.Symbol("k", positive=True)  # k = eta * lambda^*
alpha = sp.Symbol("alpha", real=True)
epsilon = sp.Symbol("epsilon", positive=True)  # eta * lambda^* - 2
delta = sp.Symbol("delta", nonnegative=True)
nu = sp.Symbol("nu", positive=True)
c = sp.Symbol("c", positive=True)


def _depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2, got {depth!r}")
    return depth


def _thetas(depth: int) -> tuple[sp.Symbol, ...]:
    return sp.symbols(f"theta1:{depth + 1}", positive=True)


# --------------------------------------------------------------------------------------------- chapter 4


def codim1_hessian_identity(n: int = 3) -> sp.Matrix:
    r""":math:`\nabla^2\ell - \nabla f\nabla f^\top - (f - y)\nabla^2 f` for :math:`\ell = \tfrac12(f-y)^2` and a generic :math:`f`.

    Returns the difference (a zero matrix after simplification) for an undefined function of ``n`` variables;
    on :math:`\mathcal M` the last term vanishes, so :math:`\nabla^2\ell = \nabla f\nabla f^\top` there.
    """
    xs = sp.symbols(f"x1:{n + 1}", real=True)
    f = sp.Function("f")(*xs)
    loss = (f - y) ** 2 / 2
    grad = sp.Matrix([sp.diff(f, xi) for xi in xs])
    return sp.simplify(sp.hessian(loss, xs) - grad * grad.T - (f - y) * sp.hessian(f, xs))


@dataclass(frozen=True)
class HessianOnManifold:
    """The loss Hessian at a point of the manifold, with the closed forms it is compared with."""

    hessian: sp.Matrix
    gradient_f: sp.Matrix
    sharpness_formula: sp.Expr
    point: dict


def scalar_hessian_on_manifold(depth: int) -> HessianOnManifold:
    r"""Hessian of :math:`\ell` at the point of :math:`\mathcal M` with free :math:`\theta_1..\theta_{p-1}` and :math:`\theta_p = y/\prod_{i<p}\theta_i`.

    The tests assert ``hessian == gradient_f * gradient_f.T`` (rank one) and
    ``gradient_f.T * gradient_f == sharpness_formula`` :math:`= y^2\sum_i\theta_i^{-2}`.
    """
    depth = _depth(depth)
    th = _thetas(depth)
    f = sp.prod(th)
    loss = (f - y) ** 2 / 2
    point = {th[-1]: y / sp.prod(th[:-1])}
    H = sp.hessian(loss, th).subs(point)
    g = sp.Matrix([sp.diff(f, t) for t in th]).subs(point)
    lam = (y**2 * sum(t**-2 for t in th)).subs(point)
    return HessianOnManifold(hessian=sp.simplify(H), gradient_f=sp.simplify(g), sharpness_formula=sp.simplify(lam), point=point)


def sharpness_lagrange_system(depth: int) -> list[sp.Expr]:
    r"""Critical points of :math:`\lambda` on :math:`\mathcal M` from the Lagrange conditions :math:`\nabla\tilde\lambda = \mu\nabla f`.

    Multiplying the :math:`i`-th condition :math:`-2y^2\theta_i^{-3} = \mu\prod_{j\ne i}\theta_j` by :math:`\theta_i` and
    using :math:`\prod_j\theta_j = y` gives an equation in :math:`\theta_i` alone; returns, for each :math:`i`, the value
    of :math:`\theta_i^2` it forces.  All are equal (to :math:`-2y/\mu`), so a critical point is balanced.
    """
    depth = _depth(depth)
    th = _thetas(depth)
    mu = sp.Symbol("mu", negative=True)
    f_sym = sp.Symbol("f", positive=True)
    lam = y**2 * sum(t**-2 for t in th)
    f = sp.prod(th)
    squares = []
    for t in th:
        cond = sp.expand(t * (sp.diff(lam, t) - mu * sp.diff(f, t)))  # = -2y^2/t^2 - mu f
        cond = cond.subs(f, f_sym).subs(f_sym, y)
        (sq,) = sp.solve(cond.subs(t, sp.sqrt(sp.Symbol("T", positive=True))), sp.Symbol("T", positive=True))
        squares.append(sp.simplify(sq))
    return squares


def _riemannian_hessian(depth: int, point: dict, th: tuple[sp.Symbol, ...]) -> sp.Matrix:
    f = sp.prod(th)
    lam = y**2 * sum(t**-2 for t in th)
    gf = sp.Matrix([sp.diff(f, t) for t in th])
    gl = sp.Matrix([sp.diff(lam, t) for t in th])
    hf, hl = sp.hessian(f, th), sp.hessian(lam, th)
    mu = (gl.T * gf)[0] / (gf.T * gf)[0]
    P = sp.eye(depth) - gf * gf.T / (gf.T * gf)[0]
    return (P * (hl - mu * hf) * P).subs(point)


def riemannian_hessian_at_balanced(depth: int) -> tuple[sp.Matrix, sp.Matrix]:
    r"""``(Hess, P)``: the Riemannian Hessian :math:`P(\nabla^2\lambda - \mu\nabla^2 f)P` of the sharpness at
    :math:`\theta^* = y^{1/p}\mathbf 1`, and the tangent projector there.  Tests assert
    ``Hess == 4 y**(2 - 4/p) * P``.
    """
    depth = _depth(depth)
    th = _thetas(depth)
    point = {t: y ** sp.Rational(1, depth) for t in th}
    H = sp.simplify(_riemannian_hessian(depth, point, th))
    P = sp.eye(depth) - sp.ones(depth, depth) / depth
    return H, P


def riemannian_hessian_form(depth: int) -> tuple[sp.Expr, sp.Expr]:
    r"""``(from_matrix, closed_form)`` for :math:`\operatorname{Hess}_{\mathcal M}\lambda[v, v]` at a general point of :math:`\mathcal M`.

    The point has free :math:`\theta_1..\theta_{p-1}` and :math:`\theta_p = y/\prod_{i<p}\theta_i`; the tangent vector is
    :math:`v = \theta\odot w` with :math:`\sum_i w_i = 0` (free :math:`w_1..w_{p-1}`).  The closed form is
    :math:`2y^2\sum_i w_i^2(3\theta_i^{-2} - s_2/s_1)` with :math:`s_k = \sum_i\theta_i^{-2k}`.
    """
    depth = _depth(depth)
    th = _thetas(depth)
    ws = sp.symbols(f"w1:{depth}", real=True)
    w = list(ws) + [-sum(ws)]
    point = {th[-1]: y / sp.prod(th[:-1])}
    H = _riemannian_hessian(depth, point, th)
    vec = sp.Matrix([th[i] * w[i] for i in range(depth)]).subs(point)
    from_matrix = (vec.T * H * vec)[0]
    s1 = sum(t**-2 for t in th)
    s2 = sum(t**-4 for t in th)
    closed = (2 * y**2 * sum(w[i] ** 2 * (3 * th[i] ** -2 - s2 / s1) for i in range(depth))).subs(point)
    return from_matrix, closed


def log_curve_second_derivative(depth: int) -> tuple[sp.Expr, sp.Expr]:
    r"""``(direct, via_hessian)`` for :math:`\gamma(s) = \theta\odot e^{su}`, :math:`\sum u_i = 0`, a curve on :math:`\mathcal M`.

    ``direct`` is :math:`\frac{d^2}{ds^2}\lambda(\gamma(s))|_{s=0}`; ``via_hessian`` is
    :math:`\operatorname{Hess}_{\mathcal M}\lambda[\gamma', \gamma'] + \langle\operatorname{grad}_{\mathcal M}\lambda, \gamma''\rangle`
    with :math:`\gamma' = \theta\odot u`, :math:`\gamma'' = \theta\odot u^2` (the chain rule on a manifold).
    """
    depth = _depth(depth)
    th = _thetas(depth)
    us = sp.symbols(f"u1:{depth}", real=True)
    u = list(us) + [-sum(us)]
    point = {th[-1]: y / sp.prod(th[:-1])}
    gamma = [th[i] * sp.exp(s * u[i]) for i in range(depth)]
    lam_curve = y**2 * sum(gi**-2 for gi in gamma)
    direct = sp.diff(lam_curve, s, 2).subs(s, 0).subs(point)
    f = sp.prod(th)
    lam = y**2 * sum(t**-2 for t in th)
    gf = sp.Matrix([sp.diff(f, t) for t in th])
    gl = sp.Matrix([sp.diff(lam, t) for t in th])
    P = sp.eye(depth) - gf * gf.T / (gf.T * gf)[0]
    H = _riemannian_hessian(depth, {}, th)
    v1 = sp.Matrix([th[i] * u[i] for i in range(depth)])
    v2 = sp.Matrix([th[i] * u[i] ** 2 for i in range(depth)])
    via = ((v1.T * H * v1)[0] + ((P * gl).T * v2)[0]).subs(point)
    return direct, via


def convexity_modulus() -> sp.Expr:
    r"""Lower bound :math:`2y^{2-4/p}(1+\delta)^{-4}(1-\delta)^{-2}\big(3(1-\delta)^2 - (1+\delta)^2\big)` on
    :math:`\operatorname{Hess}_{\mathcal M}\lambda` over points with :math:`|\theta_i/y^{1/p} - 1| \le \delta`.

    Obtained from :func:`riemannian_hessian_form` with :math:`3\theta_i^{-2} \ge 3b(1+\delta)^{-2}`,
    :math:`s_2/s_1 \le b(1-\delta)^{-2}` and :math:`\sum w_i^2 \ge b(1+\delta)^{-2}\|v\|^2`, :math:`b = y^{-2/p}`.
    """
    b = y ** (-2 / p)
    return sp.simplify(2 * y**2 * b * (1 + delta) ** -2 * b * (3 * (1 + delta) ** -2 - (1 - delta) ** -2))


@dataclass(frozen=True)
class ProjectionKKT:
    r"""Per-coordinate KKT data of :math:`\min\|x - \theta\|^2` s.t. :math:`\prod_i x_i = y`, for one coordinate.

    Attributes:
        roots: the two roots of :math:`x^2 - \theta x - \alpha y = 0`.
        curvature: :math:`c = x^2 + \alpha y` rewritten at each root; equals :math:`\pm x\sqrt{\theta^2 + 4\alpha y}`.
        dlogx_dalpha: :math:`\frac{d\log x}{d\alpha}` at each root; equals :math:`y/c`.
    """

    roots: tuple[sp.Expr, sp.Expr]
    curvature: tuple[sp.Expr, sp.Expr]
    dlogx_dalpha: tuple[sp.Expr, sp.Expr]


def projection_kkt() -> ProjectionKKT:
    r"""Derive the KKT roots and the identities behind the sign rule of :func:`gdlab.manifold.project`.

    Stationarity of :math:`\tfrac12\|x-\theta\|^2 - \alpha(\prod_j x_j - y)` gives, on :math:`\prod_j x_j = y`,
    :math:`x_i - \theta_i = \alpha y/x_i`, i.e. :math:`x_i^2 - \theta_i x_i - \alpha y = 0`.
    """
    x, th = sp.Symbol("x", real=True), sp.Symbol("theta", real=True)
    a = sp.Symbol("alpha", real=True)
    roots = tuple(sorted(sp.solve(x**2 - th * x - a * y, x), key=lambda r: -sp.sign(r.subs({th: 1, a: 0}))))
    curv = tuple(sp.simplify(r**2 + a * y) for r in roots)
    dlog = tuple(sp.simplify(sp.diff(r, a) / r) for r in roots)
    return ProjectionKKT(roots=roots, curvature=curv, dlogx_dalpha=dlog)


# --------------------------------------------------------------------------------------------- chapter 5


def balanced_line_map(depth: int | sp.Symbol = p) -> sp.Expr:
    r"""GD on the invariant line :math:`\theta = a\mathbf 1` in the relative coordinate :math:`v = a/a^* - 1`.

    :math:`a \mapsto a - \eta(a^p - y)a^{p-1}`; with :math:`a = a^*(1+v)` and :math:`k = \eta\lambda^* = \eta p a^{*\,2p-2}`
    this is :math:`v \mapsto v - \frac kp\big((1+v)^{2p-1} - (1+v)^{p-1}\big)`.
    """
    return v - k / depth * ((1 + v) ** (2 * depth - 1) - (1 + v) ** (depth - 1))


def balanced_line_coefficients(depth: int | sp.Symbol = p) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""Coefficients of :math:`v, v^2, v^3` of :func:`balanced_line_map`: :math:`1-k`, :math:`-\tfrac32(p-1)k`, :math:`-\tfrac16(p-1)(7p-11)k`.

    Works for a symbolic depth (binomial series with symbolic exponent).
    """
    ser = sp.series(balanced_line_map(depth), v, 0, 4).removeO()
    return tuple(sp.factor(sp.expand(ser).coeff(v, i)) for i in (1, 2, 3))


def normal_form_coefficient(depth: int | sp.Symbol = p) -> tuple[sp.Expr, sp.Expr]:
    r"""``(c_v, c)``: the flip normal-form cubic coefficient at :math:`\eta = 2/\lambda^*`, in units of :math:`v` and of :math:`\theta^\perp`.

    For :math:`v \mapsto -v + a v^2 + b v^3` the second iterate is :math:`v - 2(a^2+b)v^3 + O(v^4)`, the same as for the
    normal form :math:`w \mapsto -w + c_v w^3`; so :math:`c_v = a^2 + b = \tfrac43(p-1)(5p-4)`.  On the line,
    :math:`\theta^\perp = \sqrt p\,a^* v`, hence :math:`c = c_v/(p\,a^{*2}) = \tfrac{4(p-1)(5p-4)}{3p}y^{-2/p}`.
    """
    _, a2, a3 = balanced_line_coefficients(depth)
    a2, a3 = a2.subs(k, 2), a3.subs(k, 2)
    c_v = sp.factor(a2**2 + a3)
    return c_v, sp.factor(c_v / (depth * y ** (2 / sp.S(depth))))


def critical_ratio(depth: int | sp.Symbol = p) -> sp.Expr:
    r""":math:`\nu/(c\lambda^*)` at :math:`\theta^*` with :math:`\nu = 4y^{2-4/p}`, :math:`\lambda^* = py^{2-2/p}`: equals :math:`3/((p-1)(5p-4))`."""
    _, c_perp = normal_form_coefficient(depth)
    nu_ = 4 * y ** (2 - 4 / sp.S(depth))
    lam_star = depth * y ** (2 - 2 / sp.S(depth))
    return sp.simplify(sp.powsimp(nu_ / (c_perp * lam_star), force=True))


@dataclass(frozen=True)
class NormalFormCycle:
    """The 2-cycle of :math:`z \\mapsto -(1+\\alpha)z + z^3`: points, multiplier, stability interval."""

    points: tuple[sp.Expr, sp.Expr]
    multiplier: sp.Expr
    stable_interval: sp.Set


def normal_form_two_cycle() -> NormalFormCycle:
    r"""Exact 2-cycle :math:`\{\pm\sqrt\alpha\}` of the flip normal form, its multiplier :math:`(1-2\alpha)^2` and stability for :math:`0 < \alpha < 1`.

    By the odd symmetry, a 2-cycle :math:`z \mapsto -z \mapsto z` solves :math:`-(1+\alpha)z + z^3 = -z`.
    """
    z = sp.Symbol("z", real=True)
    a = sp.Symbol("alpha", positive=True)
    F = -(1 + a) * z + z**3
    roots = [r for r in sp.solve(sp.Eq(F, -z), z) if r != 0]
    pts = tuple(sorted(roots, key=lambda r: float(r.subs(a, 1))))
    dF = sp.diff(F, z)
    mult = sp.factor(sp.expand(dF.subs(z, pts[0]) * dF.subs(z, pts[1])))
    stable = sp.solve_univariate_inequality(sp.Abs(mult) < 1, a, relational=False)
    return NormalFormCycle(points=pts, multiplier=mult, stable_interval=stable)


@dataclass(frozen=True)
class TwoCycleSeries:
    r"""2-cycle of the exact balanced-line map, :math:`v_\pm = \pm A_1\varepsilon^{1/2} + C_2\varepsilon \pm A_3\varepsilon^{3/2} + \dots`.

    Attributes:
        half_amplitude: :math:`(v_+ - v_-)/2` as a series in :math:`\varepsilon = \eta\lambda^* - 2` (units of :math:`v`).
        centre: :math:`(v_+ + v_-)/2` (units of :math:`v`).
        half_amplitude_perp: the half amplitude in units of :math:`\theta^\perp = \sqrt p\,a^* v`.
    """

    half_amplitude: sp.Expr
    centre: sp.Expr
    half_amplitude_perp: sp.Expr


def two_cycle_series(depth: int) -> TwoCycleSeries:
    r"""The 2-cycle :math:`v_\pm = m \pm r` of the exact polynomial map :math:`h` (:func:`balanced_line_map` at :math:`k = 2+\varepsilon`).

    The even and odd parts of :math:`h(m \pm r) = m \mp r`,

    .. math:: \tfrac12\big(h(m+r) + h(m-r)\big) = m, \qquad \tfrac1{2r}\big(h(m+r) - h(m-r)\big) = -1,

    are polynomials in :math:`m`, :math:`\rho = r^2` and :math:`\varepsilon`.  With :math:`\rho = \rho_1\varepsilon + \rho_2\varepsilon^2`,
    :math:`m = m_1\varepsilon + m_2\varepsilon^2` the coefficients of :math:`\varepsilon` and :math:`\varepsilon^2` give two small
    systems, solved in turn.  Then :math:`r = \sqrt{\rho_1\varepsilon}\,(1 + \tfrac{\rho_2}{2\rho_1}\varepsilon + O(\varepsilon^2))`.

    Only the coefficients of :math:`\varepsilon` and :math:`\varepsilon^2` are used, and :math:`m`, :math:`\rho`
    are :math:`O(\varepsilon)`: so the even and odd parts are formed only up to total degree 2 in
    :math:`(m, \rho, \varepsilon)` (term by term, by the binomial theorem for :math:`(m \pm r)^n`), which leaves those
    two coefficients exactly as in the full expansion at a fraction of its cost.
    """
    depth = _depth(depth)
    m, rho = sp.symbols("m rho", real=True)
    h = sp.Poly(sp.expand(balanced_line_map(depth).subs(k, 2 + epsilon)), v, epsilon)
    even_terms, odd_terms = [-m], [sp.Integer(1)]
    for (n, e), coeff in h.terms():  # coeff v^n eps^e; (m+r)^n +- (m-r)^n = 2 sum_j C(n, j) m^(n-j) r^j, j even/odd
        for j in range(n + 1):
            rho_power = j // 2                                  # r^j = rho^(j/2) (even), r rho^((j-1)/2) (odd)
            if (n - j) + rho_power + e <= 2:
                term = coeff * sp.binomial(n, j) * m ** (n - j) * rho**rho_power * epsilon**e
                (odd_terms if j % 2 else even_terms).append(term)
    return _two_cycle_from_parts(sp.Add(*even_terms), sp.Add(*odd_terms), m, rho, depth)


def _two_cycle_from_parts(even: sp.Expr, odd: sp.Expr, m: sp.Symbol, rho: sp.Symbol, depth: int) -> TwoCycleSeries:
    r"""The series of :func:`two_cycle_series` from the even and odd parts (each :math:`= 0` on the 2-cycle).

    Only their coefficients of :math:`\varepsilon` and :math:`\varepsilon^2` after
    :math:`\rho = \rho_1\varepsilon + \rho_2\varepsilon^2`, :math:`m = m_1\varepsilon + m_2\varepsilon^2` are used.
    """
    r1, r2, m1, m2 = sp.symbols("rho1 rho2 m1 m2", real=True)
    sub = {rho: r1 * epsilon + r2 * epsilon**2, m: m1 * epsilon + m2 * epsilon**2}
    E = sp.expand(even.subs(sub))
    O = sp.expand(odd.subs(sub))
    first = sp.solve([E.coeff(epsilon, 1), O.coeff(epsilon, 1)], [r1, m1], dict=True)
    (first,) = [sol for sol in first if sol[r1] != 0]
    second = sp.solve([E.coeff(epsilon, 2).subs(first), O.coeff(epsilon, 2).subs(first)], [r2, m2], dict=True)[0]
    rho1, rho2 = first[r1], second[r2]
    half = sp.sqrt(rho1) * (sp.sqrt(epsilon) + rho2 / (2 * rho1) * epsilon ** sp.Rational(3, 2))
    centre = first[m1] * epsilon + second[m2] * epsilon**2
    scale = sp.sqrt(depth) * y ** sp.Rational(1, depth)
    return TwoCycleSeries(half_amplitude=sp.expand(half), centre=sp.expand(centre), half_amplitude_perp=sp.expand(scale * half))


def tangential_drift(depth: int = 2) -> tuple[sp.Matrix, sp.Matrix]:
    r"""``(drift, prediction)``: :math:`\lim_{s\to0} P(x)(G_\eta(x + s n) - x)/s^2` and :math:`-\tfrac\eta2\operatorname{grad}_{\mathcal M}\lambda(x)`.

    :math:`x` is a general point of :math:`\mathcal M` (free :math:`\theta_1..\theta_{p-1}`), :math:`n` its unit normal and
    :math:`G_\eta(\theta) = \theta - \eta\nabla\ell(\theta)`.  The normal part of :math:`\theta - x` does not move the
    projection, so this is the leading tangential motion of :math:`\theta^\parallel` in one step.
    """
    depth = _depth(depth)
    th = _thetas(depth)
    point = {th[-1]: y / sp.prod(th[:-1])}
    X = sp.Matrix(th)
    f = sp.prod(th)
    gf = sp.Matrix([sp.diff(f, t) for t in th])
    n = gf / sp.sqrt((gf.T * gf)[0])
    theta = X + s * n
    f_at = sp.prod(list(theta))
    grad_at = sp.Matrix([sp.diff(f, t) for t in th]).subs(dict(zip(th, theta)), simultaneous=True)
    step = theta - eta * (f_at - y) * grad_at
    P = sp.eye(depth) - n * n.T
    moved = (P * (step - X)).subs(point)
    drift = moved.applyfunc(lambda e: sp.simplify(sp.limit(sp.simplify(e) / s**2, s, 0)))
    lam = y**2 * sum(t**-2 for t in th)
    gl = sp.Matrix([sp.diff(lam, t) for t in th])
    prediction = (-eta / 2 * P * gl).subs(point).applyfunc(sp.simplify)
    return drift, prediction


@dataclass(frozen=True)
class AveragedCriticalSolution:
    r"""Power-law solution :math:`\delta_t \simeq X/t`, :math:`(\theta^\perp_t)^2 \simeq Y/t` of the averaged model at :math:`\eta = 2/\lambda^*`.

    Model: :math:`\delta' = \delta(1 - \eta\nu r)`, :math:`r' = r(1 + 2\eta\delta - 2cr)` with :math:`\delta = \lambda(\theta^\parallel) - \lambda^*`,
    :math:`r = (\theta^\perp)^2`.  ``X`` and ``Y`` are the matched coefficients; ``positivity`` is the condition ``X > 0``.
    """

    X: sp.Expr
    Y: sp.Expr
    positivity: sp.Expr


def averaged_critical_solution() -> AveragedCriticalSolution:
    r"""Match :math:`\delta_t = X/t`, :math:`r_t = Y/t` in the averaged model to leading order in :math:`1/t`."""
    t = sp.Symbol("t", positive=True)
    X, Y = sp.symbols("X Y", real=True)
    d_t, r_t = X / t, Y / t
    eq1 = sp.series((X / (t + 1) - d_t) - (-eta * nu * r_t * d_t), t, sp.oo, 3).removeO()
    eq2 = sp.series((Y / (t + 1) - r_t) - r_t * (2 * eta * d_t - 2 * c * r_t), t, sp.oo, 3).removeO()
    lead1 = sp.simplify(sp.limit(eq1 * t**2, t, sp.oo))
    lead2 = sp.simplify(sp.limit(eq2 * t**2, t, sp.oo))
    sols = sp.solve([lead1, lead2], [X, Y], dict=True)
    (sol,) = [sl for sl in sols if sl[X] != 0 and sl[Y] != 0]  # the non-trivial power law
    Xs, Ys = sp.simplify(sol[X]), sp.simplify(sol[Y])
    return AveragedCriticalSolution(X=Xs, Y=Ys, positivity=sp.simplify(eta * nu / (2 * c)) < 1)
