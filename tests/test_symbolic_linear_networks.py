"""Tests of gdlab.symbolic.linear_networks: the symbolic derivations, and their agreement with the numerics."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data
from gdlab.curvature import sharpness
from gdlab.descent import critical_step_size
from gdlab.objectives import DeepScalarLinear, LinearNetwork
from gdlab.symbolic import linear_networks as ln


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_hessian_on_minimisers_is_rank_one(depth: int) -> None:
    H = ln.scalar_hessian_on_minimisers(depth)
    v = ln.scalar_normal_vector(depth)
    assert sp.simplify(H - v * v.T) == sp.zeros(depth, depth)
    norm2 = (v.T * v)[0, 0]
    assert sp.simplify(H * v - norm2 * v) == sp.zeros(depth, 1)
    assert sp.simplify(H.trace() - norm2) == 0  # rank one: the trace is the only non-zero eigenvalue
    ws = ln.scalar_network_symbols(depth)
    on_m = ln.scalar_sharpness_on_minimisers(depth).subs(ln.y, sp.Mul(*ws))
    assert sp.simplify(on_m - ln.scalar_sharpness_on_minimisers(depth, in_terms_of_y=False)) == 0


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_flattest_certificate(depth: int) -> None:
    cert = ln.scalar_flattest_certificate(depth)
    assert all(sp.simplify(g) == 0 for g in cert.lagrangian_gradient)
    assert cert.hessian_offdiagonal_zero
    assert all(entry.is_positive for entry in cert.hessian_diagonal)
    assert sp.simplify(cert.minimum - ln.flattest_sharpness_scalar(depth, ln.abs_y)) == 0


@settings(max_examples=10)
@given(depth=st.integers(1, 6), target=st.floats(-4, 4).filter(lambda t: abs(t) > 0.01))
def test_scalar_formulas_match_the_numerics(depth: int, target: float) -> None:
    f = DeepScalarLinear(depth, target)
    lam = float(ln.flattest_sharpness_scalar(depth, sp.Float(target, 30)))
    assert lam == pytest.approx(f.min_sharpness(), rel=1e-13)
    assert float(ln.critical_step_size_scalar(depth, sp.Float(target, 30))) == pytest.approx(critical_step_size(f), rel=1e-13)
    generic = ln.flattest_sharpness_scalar().subs({ln.L_sym: depth, ln.y: sp.Float(target, 30)})
    assert float(generic) == pytest.approx(lam, rel=1e-13)


@settings(max_examples=8)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 4))
def test_scalar_hessian_matches_numeric_hessian_at_random_points(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    target = float(rng.uniform(-2, 2))
    w = rng.uniform(-1.5, 1.5, depth)
    H = ln.scalar_network_hessian(depth)
    subs = {**dict(zip(ln.scalar_network_symbols(depth), w.tolist())), ln.y: target}
    ref = np.array(H.evalf(subs=subs), dtype=float)
    np.testing.assert_allclose(DeepScalarLinear(depth, target).hessian(w), ref, rtol=1e-12, atol=1e-12)
    g = np.array(ln.scalar_network_gradient(depth).evalf(subs=subs), dtype=float).ravel()
    np.testing.assert_allclose(DeepScalarLinear(depth, target).grad(w), g, rtol=1e-12, atol=1e-12)


@settings(max_examples=4)
@given(seed=st.integers(0, 2**32 - 1))
def test_matrix_hessian_matches_linear_network(seed: int) -> None:
    rng = np.random.default_rng(seed)
    widths = (2, 2, 1, 2)
    X = rng.standard_normal((2, 3))
    Y = rng.standard_normal((2, 3))
    H, params = ln.linear_network_hessian(widths, sp.Matrix(X), sp.Matrix(Y))
    net = LinearNetwork(X, Y, widths)
    w = rng.uniform(-1, 1, net.n_params)
    ref = np.array(sp.lambdify(params, H, "numpy")(*w), dtype=float)
    np.testing.assert_allclose(net.hessian(w), ref, rtol=1e-10, atol=1e-10)


def test_matrix_network_of_width_one_is_the_scalar_network() -> None:
    f, params = ln.linear_network_loss((1, 1, 1), Y=sp.Matrix([[ln.y]]))
    scalar = ln.scalar_network_loss(2)
    w1, w2 = ln.scalar_network_symbols(2)
    assert sp.simplify(f.subs({params[0]: w1, params[1]: w2}) - scalar) == 0


def test_two_layer_whitened_amgm_step() -> None:
    at_min, flat = ln.two_layer_whitened_sharpness()
    a, b = sp.symbols("a b", positive=True)
    # a^2 + b^2 - 2ab = (a - b)^2 >= 0, with ab >= sigma_1(W*)
    assert sp.expand(at_min - flat.subs(ln.sigma, a * b) - (a - b) ** 2) == 0
    assert ln.flattest_sharpness_whitened(2) == flat
    assert ln.critical_step_size_whitened(2) == 1 / ln.sigma


@pytest.mark.parametrize("hidden", [(3,), (3, 3), (4, 3, 4)])
def test_whitened_formula_matches_numerics(hidden: tuple[int, ...]) -> None:
    X = data.whitened_inputs(3, 5, rng=0)
    net = LinearNetwork(X, data.teacher_targets(X, 2, rng=1), (3, *hidden, 2))
    s1 = float(np.linalg.svd(net.least_squares_solution(), compute_uv=False)[0])
    formula = float(ln.flattest_sharpness_whitened(net.depth, sp.Float(s1, 30)))
    assert formula == pytest.approx(net.min_sharpness(), rel=1e-12)
    assert float(sharpness(net, net.balanced_minimiser())) == pytest.approx(formula, rel=1e-10)
    assert float(ln.critical_step_size_whitened(net.depth, sp.Float(s1, 30))) == pytest.approx(critical_step_size(net), rel=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: ln.scalar_network_loss(0), "depth"),
        (lambda: ln.flattest_sharpness_scalar(2.5), "depth"),
        (lambda: ln.linear_network_loss((2,)), "widths"),
        (lambda: ln.linear_network_loss((2, 1), X=sp.eye(3)), "X"),
        (lambda: ln.linear_network_loss((2, 1), Y=sp.ones(2, 2)), "Y"),
    ],
)
def test_validation_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()
