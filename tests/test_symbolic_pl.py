"""Tests of gdlab.symbolic.pl: each derived expression against numerics or gdlab.pl_criterion."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import pl_criterion as pl
from gdlab.symbolic import pl as sym


@settings(max_examples=50)
@given(a=st.floats(1e-6, 1e6), b=st.floats(0.0, 1e6))
def test_sqrt_telescoping_inequality_numerically(a: float, b: float) -> None:
    gap, factored = sym.sqrt_telescoping()
    val = float(gap.subs({sym.a: a, sym.b: b}))
    ref = float(factored.subs({sym.p: np.sqrt(a), sym.q: np.sqrt(b)}))
    assert val == pytest.approx(ref, rel=1e-8, abs=1e-8 * (1 + a + b))
    assert (a - b) / np.sqrt(a) <= 2 * (np.sqrt(a) - np.sqrt(b)) + 1e-9 * (1 + a + b)


def test_sqrt_telescoping_is_a_square_over_positive() -> None:
    _, factored = sym.sqrt_telescoping()
    assert factored == (sym.p - sym.q) ** 2 / sym.p


def test_flow_sqrt_slope_matches_finite_difference() -> None:
    """d/dt sqrt(F) along F' = -G^2, checked on F(t) = F0 - G^2 t."""
    slope, gap = sym.flow_sqrt_slope()
    F0, Gv, h = 2.0, 0.7, 1e-6
    fd = (np.sqrt(F0 - Gv**2 * h) - np.sqrt(F0 + Gv**2 * h)) / (2 * h)
    assert float(slope.subs({sym.G: Gv, sym.a: F0})) == pytest.approx(fd, rel=1e-8)
    # gap <= 0 exactly when G >= sqrt(alpha F)
    for al, sign in ((0.1, -1), (0.5, 1)):  # sqrt(0.1*2) = 0.447 < 0.7; sqrt(0.5*2) = 1 > 0.7
        assert np.sign(float(gap.subs({sym.G: Gv, sym.a: F0, sym.alpha: al}))) == sign


def test_descent_step_is_exact_for_a_quadratic() -> None:
    """On f = beta/2 x^2 the descent lemma is an equality."""
    expr = sym.descent_step()
    beta, x, s = 3.0, 1.3, 0.2
    g = beta * x
    exact = beta / 2 * (x - s * g) ** 2 - beta / 2 * x**2
    assert float(expr.subs({sym.beta: beta, sym.s: s, sym.G: g**2})) == pytest.approx(exact)


@settings(max_examples=30)
@given(f0=st.floats(0.01, 10), alpha=st.floats(0.1, 10), beta=st.floats(0.1, 10), r=st.floats(0.1, 20))
def test_gd_step_size_bound_matches_certify(f0: float, alpha: float, beta: float, r: float) -> None:
    expr = sym.gd_step_size_bound()
    val = float(expr.subs({sym.f0: f0, sym.alpha: alpha, sym.beta: beta, sym.r: r}))
    assert val == pytest.approx(pl.certify(f0, alpha, beta, r).eta_max, rel=1e-10, abs=1e-12)


def test_best_step_size() -> None:
    crit, gain = sym.best_step_size()
    beta = 2.5
    etas = np.linspace(0.01, 0.79, 10_001)
    vals = etas * (1 - beta * etas / 2)
    assert float(crit.subs(sym.beta, beta)) == pytest.approx(etas[vals.argmax()], abs=1e-4)
    assert float(gain.subs(sym.beta, beta)) == pytest.approx(vals.max(), rel=1e-6)


def test_lzb_ratio_matches_numerics() -> None:
    ratio = sym.lzb_to_criterion_ratio()
    f0, alpha, beta = 0.9, 1.7, 4.2
    num = pl.lzb_radius(f0, alpha, beta) / pl.certify(f0, alpha, beta, 1.0).flow_length
    assert float(ratio.subs({sym.alpha: alpha, sym.beta: beta})) == pytest.approx(num)


@settings(max_examples=30)
@given(u=st.floats(0.0, 1.0))
def test_geometric_sqrt_bound(u: float) -> None:
    assert sym.geometric_sqrt_bound() == sym.u**2 / 4
    assert np.sqrt(1 - u) <= 1 - u / 2 + 1e-15


def test_positive_init_threshold_solves_the_radius_condition() -> None:
    Kst = sym.positive_init_threshold()
    vals = dict(r=0.1, u=0.25, c=0.3, lam=0.2, m1=16, Y=4.0)
    subs = {sym.r: vals["r"]}
    for name in ("u", "c", "lambda", "m_1", "Y"):
        subs[sp.Symbol(name, positive=True)] = vals["lam" if name == "lambda" else "m1" if name == "m_1" else name]
    K = float(Kst.subs(subs))
    lhs = 4 * vals["Y"] ** 2 / 2
    rhs = vals["r"] ** 2 * 2 * vals["lam"] * vals["m1"] * vals["c"] ** 2 * (K * vals["u"] - vals["r"]) ** 2
    assert lhs == pytest.approx(rhs)
    assert K * vals["u"] > vals["r"]
