"""Tests of gdlab.symbolic.nonsingular: det(I - eta H) certificates and the balancedness identity."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab.objectives import DeepScalarLinear
from gdlab.symbolic import nonsingular as ns


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_gd_determinant_matches_numpy(depth: int) -> None:
    f, ws = ns.deep_scalar_loss(depth, 1)
    D = ns.gd_determinant(f, ws)
    rng = np.random.default_rng(depth)
    w = rng.normal(size=depth)
    step = 0.3
    H = DeepScalarLinear(depth, 1.0).hessian(w)
    expected = np.linalg.det(np.eye(depth) - step * H)
    got = float(D.subs({**dict(zip(ws, w)), ns.eta: step}))
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_point_polynomial_is_reversed_charpoly() -> None:
    f, ws = ns.deep_scalar_loss(3, 2)
    cert = ns.certify_nonsingular(f, ws, [(1, 2, 3)])
    H = sp.hessian(f, ws).subs(dict(zip(ws, (1, 2, 3))))
    direct = sp.expand((sp.eye(3) - ns.eta * H).det())
    assert sp.expand(cert.polynomials[0] - direct) == 0


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_deep_scalar_certified_at_origin(depth: int) -> None:
    # the Hessian vanishes at the origin when depth >= 3, so det(I - eta H(0)) = 1
    f, ws = ns.deep_scalar_loss(depth, 1)
    cert = ns.certify_nonsingular(f, ws, [(0,) * depth])
    assert cert.polynomials == (1,)
    assert cert.certified and cert.exceptional == ()


def test_depth_two_needs_two_points() -> None:
    f, ws = ns.deep_scalar_loss(2, 1)
    one = ns.certify_nonsingular(f, ws, [(0, 0)])
    assert not one.certified and one.exceptional == (1,)  # det(I - H(0)) = 0 at eta = 1
    two = ns.certify_nonsingular(f, ws, [(0, 0), (1, 2)])
    assert two.certified


def test_quadratic_is_singular_at_inverse_eigenvalues() -> None:
    # f = (x^2 + 4 z^2)/2 has constant Hessian diag(1, 4): G is singular exactly at eta = 1 and 1/4
    x, z = sp.symbols("x z", real=True)
    cert = ns.certify_nonsingular((x**2 + 4 * z**2) / 2, (x, z), [(0, 0), (1, 5)])
    assert not cert.certified
    assert set(cert.exceptional) == {sp.Integer(1), sp.Rational(1, 4)}


def test_two_layer_certified() -> None:
    f, ws = ns.two_layer_loss([[1, 0, 1], [0, 1, 1]], [[1, 2, 0]], hidden=2)
    assert len(ws) == 2 * 2 + 1 * 2
    cert = ns.certify_nonsingular(f, ws, [(0,) * len(ws), tuple(range(1, len(ws) + 1))])
    assert cert.certified


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_balancedness_identity(depth: int) -> None:
    u = ns.balancedness_update(depth)
    assert sp.expand(u.lhs - u.rhs) == 0


@settings(max_examples=30, deadline=None)
@given(
    w=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    step=st.floats(0.01, 1.0),
)
def test_balancedness_identity_numerically(w: list[float], step: float) -> None:
    f = DeepScalarLinear(3, 1.0)
    w = np.array(w)
    w_new = w - step * f.grad(w)
    r = np.prod(w) - 1.0
    lhs = w_new[0] ** 2 - w_new[1] ** 2
    rhs = (w[0] ** 2 - w[1] ** 2) * (1 - step**2 * r**2 * w[2] ** 2)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="depth"):
        ns.deep_scalar_loss(0)
    with pytest.raises(ValueError, match="hidden"):
        ns.two_layer_loss([[1]], [[1]], hidden=0)
    with pytest.raises(ValueError, match="columns"):
        ns.two_layer_loss([[1, 2]], [[1]], hidden=1)
    f, ws = ns.deep_scalar_loss(2)  # symbolic target y is a free symbol
    with pytest.raises(ValueError, match="variables"):
        ns.certify_nonsingular(f, ws, [(0, 0)])
    f, ws = ns.deep_scalar_loss(2, 1)
    with pytest.raises(ValueError, match="points"):
        ns.certify_nonsingular(f, ws, [])
    with pytest.raises(ValueError, match="coordinates"):
        ns.certify_nonsingular(f, ws, [(0, 0, 0)])
    with pytest.raises(ValueError, match="variables"):
        ns.gd_determinant(f, [])
