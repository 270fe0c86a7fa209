"""Tests of gdlab.symbolic.flip: every derivation against an independent symbolic identity or against numerics."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from gdlab import manifold
from gdlab.descent import gd_map
from gdlab.objectives import DeepScalarLinear
from gdlab.symbolic import flip as F
from gdlab.symbolic import stability


def test_codim1_hessian_identity() -> None:
    assert F.codim1_hessian_identity(3) == sp.zeros(3, 3)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_hessian_on_manifold_is_rank_one(depth: int) -> None:
    h = F.scalar_hessian_on_manifold(depth)
    assert sp.simplify(h.hessian - h.gradient_f * h.gradient_f.T) == sp.zeros(depth, depth)
    assert sp.simplify((h.gradient_f.T * h.gradient_f)[0] - h.sharpness_formula) == 0
    # numeric spot check against the objective's dense Hessian
    free = [t for t in sp.symbols(f"theta1:{depth + 1}", positive=True) if t not in h.point]
    point = {t: 0.8 + 0.25 * i for i, t in enumerate(free)}
    point[F.y] = 1.7
    H_num = np.array(h.hessian.subs(point), dtype=float)
    w = [point[t] for t in free]
    w.append(1.7 / np.prod(w))
    assert np.allclose(H_num, DeepScalarLinear(depth, 1.7).hessian(np.array(w)), rtol=1e-10)


def test_lagrange_system_forces_balance() -> None:
    for depth in (2, 3, 4):
        squares = F.sharpness_lagrange_system(depth)
        assert len(squares) == depth and all(sp.simplify(sq - squares[0]) == 0 for sq in squares)


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_riemannian_hessian_at_balanced(depth: int) -> None:
    H, P = F.riemannian_hessian_at_balanced(depth)
    assert sp.simplify(H - 4 * F.y ** (2 - sp.Rational(4, depth)) * P) == sp.zeros(depth, depth)
    num = np.array(H.subs(F.y, 2.3), dtype=float)
    assert np.allclose(num, manifold.riemannian_hessian(manifold.balanced_point(depth, 2.3), 2.3), atol=1e-12)


def test_riemannian_hessian_closed_form_and_chain_rule() -> None:
    for depth in (2, 3):
        from_matrix, closed = F.riemannian_hessian_form(depth)
        assert sp.simplify(from_matrix - closed) == 0
        direct, via = F.log_curve_second_derivative(depth)
        assert sp.simplify(direct - via) == 0


def test_convexity_modulus() -> None:
    mod = F.convexity_modulus()
    assert sp.simplify(mod.subs(F.delta, 0) - 4 * F.y ** (2 - 4 / F.p)) == 0
    roots = sp.solve(sp.numer(sp.together(mod)), F.delta)
    assert 2 - sp.sqrt(3) in roots
    assert float(mod.subs({F.delta: sp.Rational(15, 100), F.y: 1, F.p: 5})) == pytest.approx(1.3373, abs=1e-4)


def test_projection_kkt_identities() -> None:
    kkt = F.projection_kkt()
    th, a = sp.Symbol("theta", real=True), sp.Symbol("alpha", real=True)
    root = sp.sqrt(th**2 + 4 * a * F.y)
    plus, minus = kkt.roots
    assert sp.simplify(plus - (th + root) / 2) == 0 and sp.simplify(minus - (th - root) / 2) == 0
    assert sp.simplify(kkt.curvature[0] - plus * root) == 0
    assert sp.simplify(kkt.curvature[1] + minus * root) == 0
    for i in range(2):
        assert sp.simplify(kkt.dlogx_dalpha[i] - F.y / kkt.curvature[i]) == 0


def test_balanced_line_map_matches_gd() -> None:
    for depth, y, eta in [(2, 1.0, 0.9), (5, 1.0, 0.41), (4, 2.0, 0.1)]:
        a_star = y ** (1 / depth)
        k_val = eta * depth * a_star ** (2 * depth - 2)
        h = sp.lambdify(F.v, F.balanced_line_map(depth).subs(F.k, k_val))
        v0 = np.array([-0.07, 0.01, 0.05])
        a_next = gd_map(DeepScalarLinear(depth, y), a_star * (1 + v0)[:, None] * np.ones(depth), eta)
        assert np.allclose(a_next, (a_star * (1 + h(v0)))[:, None], rtol=1e-13)


def test_balanced_line_coefficients_symbolic_depth() -> None:
    c1, c2, c3 = F.balanced_line_coefficients()
    assert sp.simplify(c1 - (1 - F.k)) == 0
    assert sp.simplify(c2 + sp.Rational(3, 2) * (F.p - 1) * F.k) == 0
    assert sp.simplify(c3 + (F.p - 1) * (7 * F.p - 11) * F.k / 6) == 0
    for depth in (2, 3, 5):
        poly = sp.Poly(sp.expand(F.balanced_line_map(depth)), F.v)
        assert [poly.coeff_monomial(F.v**i) for i in (1, 2, 3)] == [sp.expand(c.subs(F.p, depth)) for c in (c1, c2, c3)]


def test_normal_form_coefficient_and_critical_ratio() -> None:
    c_v, c_perp = F.normal_form_coefficient()
    assert sp.simplify(c_v - sp.Rational(4, 3) * (F.p - 1) * (5 * F.p - 4)) == 0
    assert sp.simplify(F.critical_ratio() - 3 / ((F.p - 1) * (5 * F.p - 4))) == 0
    assert F.critical_ratio(5) == sp.Rational(1, 28) and F.critical_ratio(2) == sp.Rational(1, 2)
    # chapter 1's generic flip lemma gives the same coefficient: u^2 = alpha / (a^2 + b)
    a2, a3 = (c.subs(F.k, 2) for c in F.balanced_line_coefficients(5)[1:])
    amp2 = stability.flip_cycle_amplitude_squared().subs({stability.a: a2, stability.b: a3})
    assert sp.simplify(amp2 - stability.alpha / c_v.subs(F.p, 5)) == 0
    # numeric: second iterate of the exact map at k = 2 is v - 2 c_v v^3 + O(v^4)
    h = sp.lambdify(F.v, F.balanced_line_map(5).subs(F.k, 2))
    v0 = 1e-3
    assert (v0 - h(h(v0))) / (2 * v0**3) == pytest.approx(112, rel=2e-2)


def test_normal_form_two_cycle() -> None:
    cyc = F.normal_form_two_cycle()
    a = sp.Symbol("alpha", positive=True)
    assert cyc.points == (-sp.sqrt(a), sp.sqrt(a))
    assert sp.expand(cyc.multiplier - (1 - 2 * a) ** 2) == 0
    assert cyc.stable_interval == sp.Interval.open(0, 1)


@pytest.mark.parametrize("depth", [2, 5])
def test_two_cycle_series_against_iteration(depth: int) -> None:
    series = F.two_cycle_series(depth)
    lead = sp.sqrt(1 / F.normal_form_coefficient(depth)[0])
    assert sp.simplify(series.half_amplitude.coeff(sp.sqrt(F.epsilon)) - lead) == 0
    for eps in (1e-3, 1e-2):
        h = sp.lambdify(F.v, F.balanced_line_map(depth).subs(F.k, 2 + eps))
        v = 1e-3
        for _ in range(40000):
            v = h(v)
        w = h(v)
        half, centre = abs(v - w) / 2, (v + w) / 2
        pred_half = float(series.half_amplitude.subs(F.epsilon, eps))
        pred_centre = float(series.centre.subs(F.epsilon, eps))
        assert abs(half - pred_half) < eps**2.5  # the next term of the series is O(eps^(5/2))
        assert abs(centre - pred_centre) < eps**3
    perp = series.half_amplitude_perp.coeff(sp.sqrt(F.epsilon))
    assert sp.simplify(perp - sp.sqrt(1 / F.normal_form_coefficient(depth)[1])) == 0


def test_tangential_drift_depth_two() -> None:
    drift, prediction = F.tangential_drift(2)
    assert sp.simplify(drift - prediction) == sp.zeros(2, 1)


def test_tangential_drift_numerically() -> None:
    y, eta = 1.0, 0.3
    x = np.array([1.4, 0.9, 1 / 1.26])
    obj = DeepScalarLinear(3, y)
    n = manifold.normal(x)
    pred = -eta / 2 * manifold.riemannian_gradient(x, y)
    errs = []
    for s in (1e-2, 5e-3):
        moved = manifold.project(gd_map(obj, x + s * n, eta), y).point - x
        errs.append(np.linalg.norm(moved / s**2 - pred))
    assert errs[1] < 0.6 * errs[0] and errs[1] < 0.05 * np.linalg.norm(pred)


def test_averaged_critical_solution() -> None:
    sol = F.averaged_critical_solution()
    assert sp.simplify(sol.Y - 1 / (F.eta * F.nu)) == 0
    assert sp.simplify(sol.X - (2 * F.c / (F.eta * F.nu) - 1) / (2 * F.eta)) == 0
    # a direct iteration of the averaged model converges to the power law
    eta, nu, c = 0.4, 4.0, 22.4
    d, r = 0.05, 1e-3
    for _ in range(200000):
        d, r = d * (1 - eta * nu * r), r * (1 + 2 * eta * d - 2 * c * r)
    t = 200000
    assert t * r == pytest.approx(float(sol.Y.subs({F.eta: eta, F.nu: nu})), rel=0.03)
    assert t * d == pytest.approx(float(sol.X.subs({F.eta: eta, F.nu: nu, F.c: c})), rel=0.05)


def test_bad_depth() -> None:
    for bad in (1, 2.0, True):
        with pytest.raises(ValueError, match="depth"):
            F.two_cycle_series(bad)


def _two_cycle_series_full_expansion(depth: int) -> F.TwoCycleSeries:
    """two_cycle_series as it was before its truncated expansion: h(m +- r) expanded in full (the reference).

    Only the even and odd parts are formed differently; the solve that follows is the function's own.
    """
    eps = F.epsilon
    m, r, rho = sp.symbols("m r rho", real=True)
    h = sp.expand(F.balanced_line_map(depth).subs(F.k, 2 + eps))
    even = sp.expand((h.subs(F.v, m + r) + h.subs(F.v, m - r)) / 2 - m)
    odd = sp.expand(sp.cancel((h.subs(F.v, m + r) - h.subs(F.v, m - r)) / (2 * r)) + 1)
    even, odd = (sp.expand(e.subs(r, sp.sqrt(rho))) for e in (even, odd))
    return F._two_cycle_from_parts(even, odd, m, rho, depth)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_two_cycle_series_truncation_changes_nothing(depth: int) -> None:
    """Forming the even and odd parts only to total degree 2 in (m, rho, eps) gives the very expressions of the
    full expansion (structurally equal, so every number chapter 5 derives from them is the same)."""
    assert F.two_cycle_series(depth) == _two_cycle_series_full_expansion(depth)
