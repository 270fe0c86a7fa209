"""Tests of gdlab.symbolic.stability: each sympy derivation against an independent computation or numerics."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from gdlab.descent import run
from gdlab.objectives import Polynomial1D, Quadratic
from gdlab.symbolic import stability as S

DOUBLE_WELL = Polynomial1D([0.25, 0.0, -0.5, 0.0, 0.25])
QUARTIC = Polynomial1D([0.0, 0.0, 0.0, 0.0, 0.25])


def test_quadratic_factor_and_interval():
    assert sp.simplify(S.quadratic_gd_factor() - (1 - S.eta * S.lam)) == 0
    assert S.quadratic_stable_interval() == sp.Interval.open(0, 2 / S.lam)


@given(st.floats(0.1, 10.0), st.floats(0.01, 3.0))
def test_quadratic_interval_matches_simulation(lam, ratio):
    """|x_t| shrinks iff eta is inside the derived interval (ratio = eta * lam / 2, away from 1)."""
    if abs(ratio - 1.0) < 1e-3:
        return
    eta = 2.0 * ratio / lam
    inside = bool(S.quadratic_stable_interval().subs(S.lam, lam).contains(eta))
    traj = run(Quadratic(np.array([[lam]])), np.array([1.0]), eta, steps=5, keep_params=True)
    shrinks = abs(traj.params[-1, 0]) < 1.0
    assert inside == shrinks


def test_gd_jacobian_is_identity_minus_eta_hessian():
    for n in (1, 2, 3):
        DG, H = S.gd_jacobian(n)
        assert sp.simplify(DG - (sp.eye(n) - S.eta * H)) == sp.zeros(n, n)


def test_gd_matrix_charpoly_identity_and_numeric_spectrum():
    for n in (2, 3):
        lhs, rhs = S.gd_matrix_charpoly(n)
        assert sp.expand(lhs - rhs) == 0
    rng = np.random.default_rng(0)
    B = rng.standard_normal((4, 4))
    A = B @ B.T
    eta = 0.3
    assert np.allclose(np.sort(np.linalg.eigvalsh(np.eye(4) - eta * A)), np.sort(1 - eta * np.linalg.eigvalsh(A)))


def test_descent_lemma_algebra_and_optimal_step():
    upper, lemma = S.descent_lemma_bound()
    assert sp.simplify(upper - lemma) == 0
    assert S.quadratic_upper_bound_integral() == S.K / 2
    opt = S.optimal_descent_step()
    assert opt.step == 1 / S.K
    assert sp.simplify(opt.decrease - 1 / (2 * S.K)) == 0
    assert opt.positive_interval == sp.Interval.open(0, 2 / S.K)


@given(st.floats(0.05, 1.95))
def test_descent_lemma_is_tight_on_a_quadratic(eta_K):
    """On f = K x^2 / 2 the lemma holds with equality: f(x - eta f') = f - eta (1 - K eta / 2) f'^2."""
    Kv, x0 = 3.0, 0.7
    eta = eta_K / Kv
    q = Quadratic(np.array([[Kv]]))
    x1 = np.array([x0]) - eta * q.grad(np.array([x0]))
    g2 = float(q.grad(np.array([x0]))[0] ** 2)
    predicted = float(q.loss(np.array([x0]))) - eta * (1 - Kv * eta / 2) * g2
    assert float(q.loss(x1)) == pytest.approx(predicted, rel=1e-12, abs=1e-14)


def test_quartic_two_cycle_is_an_orbit():
    c = S.quartic_two_cycle()
    assert sp.simplify(c - sp.sqrt(2 / S.eta)) == 0
    g = S.gd_map_1d(S.x**4 / 4)
    assert sp.simplify(g.subs(S.x, c) + c) == 0
    assert sp.simplify(S.cycle_multiplier(g, (c, -c)) - 25) == 0
    for eta in (0.1, 1.0, 3.0):
        x = np.array([float(c.subs(S.eta, eta))])
        traj = run(QUARTIC, x, eta, steps=2)
        assert traj.params[1, 0] == pytest.approx(-x[0], rel=1e-12)
        assert traj.params[2, 0] == pytest.approx(x[0], rel=1e-12)


def test_double_well_cycle_formulas():
    cyc = S.double_well_two_cycle()
    assert sp.simplify(cyc.multiplier - (9 - 2 * (1 + S.eta) ** 2)) == 0
    # p q = 1 / eta and (p - q)^2 = (eta - 1) / eta  (for eta > 1)
    for eta in (sp.Rational(11, 10), sp.Rational(6, 5), sp.Integer(2)):
        p, q = cyc.p.subs(S.eta, eta), cyc.q.subs(S.eta, eta)
        assert sp.simplify(p * q - 1 / eta) == 0
        assert sp.simplify((p - q) ** 2 - (eta - 1) / eta) == 0
        g = cyc.gd_map.subs(S.eta, eta)
        assert sp.simplify(g.subs(S.x, p) - q) == 0
        assert sp.simplify(g.subs(S.x, q) - p) == 0


@pytest.mark.parametrize("eta", [1.05, 1.1, 1.2])
def test_double_well_cycle_matches_iteration(eta):
    cyc = S.double_well_two_cycle()
    p, q = float(cyc.p.subs(S.eta, eta)), float(cyc.q.subs(S.eta, eta))
    traj = run(DOUBLE_WELL, np.array([1.2]), eta, steps=3001, record_every=3001)
    last = traj.params[-1, 0]
    assert min(abs(last - p), abs(last - q)) < 1e-10


def test_flip_leading_order():
    assert sp.simplify(S.flip_cycle_amplitude_squared() - S.alpha / (S.a**2 + S.b)) == 0
    # derived once per process: the cached expression is the fresh derivation's
    assert S.flip_cycle_amplitude_squared() is S.flip_cycle_amplitude_squared()
    assert S.flip_cycle_amplitude_squared.__wrapped__() == S.flip_cycle_amplitude_squared()
    assert sp.simplify(S.flip_critical_cubic() - 2 * (S.a**2 + S.b)) == 0
    # numerically: the 2-cycle of F with a = 1, b = 1, alpha = 1e-4 has u^2 close to alpha / 2
    al, av, bv = 1e-4, 1.0, 1.0
    F = lambda z: -(1 + al) * z + av * z**2 + bv * z**3
    z = 0.005
    for _ in range(200000):
        z = F(z)
    assert z * F(z) == pytest.approx(-al / (av**2 + bv), rel=0.05)
