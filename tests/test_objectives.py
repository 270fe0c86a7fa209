"""Tests of gdlab.objectives: exact derivatives (finite differences, sympy), batching, flattest minima, validation."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data
from gdlab.curvature import sharpness
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Polynomial1D, Quadratic

SEEDS = st.integers(0, 2**32 - 1)


def _small_objectives(seed: int) -> list:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 4))
    Y = rng.standard_normal((2, 4))
    A = rng.standard_normal((3, 3))
    return [
        Quadratic(A + A.T, rng.standard_normal(3)),
        DeepScalarLinear(4, target=float(rng.uniform(-2, 2))),
        Polynomial1D([0.0, 0.3, -1.0, 0.0, 0.25]),
        LinearNetwork(X, Y, (3, 2, 4, 2)),
        LinearNetwork(X, Y, (3, 2)),
        MLP(X, Y, (3, 4, 2), "tanh"),
        MLP(X, Y, (3, 3, 2, 2), "softplus", bias=True),
        MLP(X, Y, (3, 3, 2), "sigmoid", bias=True),
    ]


def _central_differences(f, w: np.ndarray, v: np.ndarray, h: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    eye = np.eye(f.n_params)
    g = (f.loss(w + h * eye) - f.loss(w - h * eye)) / (2 * h)
    hv = (f.grad(w + h * v) - f.grad(w - h * v)) / (2 * h)
    return g, hv


@settings(max_examples=15)
@given(seed=SEEDS)
def test_grad_and_hvp_match_central_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for f in _small_objectives(seed):
        w = rng.uniform(-1.2, 1.2, f.n_params)
        v = rng.standard_normal(f.n_params)
        g_fd, hv_fd = _central_differences(f, w, v)
        g, hv = f.grad(w), f.hvp(w, v)
        scale_g, scale_h = 1.0 + np.abs(g).max(), 1.0 + np.abs(hv).max()
        assert np.abs(g - g_fd).max() < 1e-7 * scale_g, type(f).__name__
        assert np.abs(hv - hv_fd).max() < 1e-6 * scale_h, type(f).__name__


@settings(max_examples=10)
@given(seed=SEEDS)
def test_batched_equals_unbatched(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for f in _small_objectives(seed):
        W = rng.uniform(-1.5, 1.5, (2, 3, f.n_params))
        V = rng.standard_normal((2, 3, f.n_params))
        loss, grad, hvp = f.loss(W), f.grad(W), f.hvp(W, V)
        assert loss.shape == (2, 3) and grad.shape == hvp.shape == (2, 3, f.n_params)
        for i, j in np.ndindex(2, 3):
            np.testing.assert_allclose(loss[i, j], f.loss(W[i, j]), rtol=1e-13, atol=1e-13)
            np.testing.assert_allclose(grad[i, j], f.grad(W[i, j]), rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(hvp[i, j], f.hvp(W[i, j], V[i, j]), rtol=1e-12, atol=1e-13)


def test_hessian_is_symmetric_and_hvp_broadcasts() -> None:
    for f in _small_objectives(7):
        w = np.random.default_rng(1).uniform(-1, 1, f.n_params)
        H = f.hessian(w)
        np.testing.assert_allclose(H, H.T, atol=1e-12)
        v = np.random.default_rng(2).standard_normal((5, f.n_params))
        np.testing.assert_allclose(f.hvp(w, v), v @ H, atol=1e-10)


# -- sympy references on random points ------------------------------------------------------------


def _sympy_check(f, expr, symbols, w: np.ndarray) -> None:
    grad = sp.Matrix([expr]).jacobian(symbols)
    hess = sp.hessian(expr, symbols)
    subs = dict(zip(symbols, w.tolist()))
    g_ref = np.array(grad.evalf(subs=subs), dtype=float).ravel()
    H_ref = np.array(hess.evalf(subs=subs), dtype=float)
    np.testing.assert_allclose(f.grad(w), g_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(f.hessian(w), H_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(float(f.loss(w)), float(expr.evalf(subs=subs)), rtol=1e-12, atol=1e-12)


@settings(max_examples=5)
@given(seed=SEEDS, depth=st.integers(1, 4))
def test_deep_scalar_against_sympy(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    y = float(rng.uniform(-2, 2))
    ws = sp.symbols(f"w1:{depth + 1}")
    expr = sp.Rational(1, 2) * (sp.Mul(*ws) - sp.Float(y, 30)) ** 2
    _sympy_check(DeepScalarLinear(depth, y), expr, ws, rng.uniform(-1.5, 1.5, depth))


@settings(max_examples=4)
@given(seed=SEEDS)
def test_linear_network_against_sympy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    net = LinearNetwork(X, Y, (2, 2, 1, 2))
    syms = sp.symbols(f"p0:{net.n_params}")
    W1 = sp.Matrix(2, 2, syms[0:4])
    W2 = sp.Matrix(1, 2, syms[4:6])
    W3 = sp.Matrix(2, 1, syms[6:8])
    R = W3 * W2 * W1 * sp.Matrix(X) - sp.Matrix(Y)
    expr = sp.Rational(1, 2) * sum(r**2 for r in R)
    _sympy_check(net, expr, syms, rng.uniform(-1, 1, net.n_params))


@functools.lru_cache(maxsize=None)
def _mlp_sympy_reference(activation: str):
    """Lambdified loss, gradient and Hessian of a (2, 2, 1) MLP with biases on two fixed samples."""
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((2, 2)), rng.standard_normal((1, 2))
    syms = sp.symbols("p0:9")
    act = {"tanh": sp.tanh, "sigmoid": lambda z: 1 / (1 + sp.exp(-z)), "softplus": lambda z: sp.log(1 + sp.exp(z))}[activation]
    W1, b1 = sp.Matrix(2, 2, syms[0:4]), sp.Matrix(syms[4:6])
    W2, b2 = sp.Matrix(1, 2, syms[6:8]), sp.Matrix(syms[8:9])
    expr = 0
    for i in range(2):
        out = W2 * (W1 * sp.Matrix(X[:, i]) + b1).applyfunc(act) + b2
        expr += sp.Rational(1, 2) * (out[0] - Y[0, i]) ** 2
    grad = sp.Matrix([expr]).jacobian(syms)
    hess = sp.hessian(expr, syms)
    funcs = tuple(sp.lambdify(syms, e, "numpy") for e in (expr, grad, hess))
    return MLP(X, Y, (2, 2, 1), activation, bias=True), funcs


@settings(max_examples=6)
@given(activation=st.sampled_from(MLP.ACTIVATIONS), seed=SEEDS)
def test_mlp_against_sympy(activation: str, seed: int) -> None:
    net, (loss, grad, hess) = _mlp_sympy_reference(activation)
    w = np.random.default_rng(seed).uniform(-1.5, 1.5, net.n_params)
    np.testing.assert_allclose(float(net.loss(w)), loss(*w), rtol=1e-12)
    np.testing.assert_allclose(net.grad(w), np.asarray(grad(*w), dtype=float).ravel(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net.hessian(w), np.asarray(hess(*w), dtype=float), rtol=1e-10, atol=1e-12)


# -- internal fast path -------------------------------------------------------------------------------


@settings(max_examples=10)
@given(seed=SEEDS, depth=st.integers(1, 6))
def test_parameter_major_gradient_is_bitwise_equal(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    f = DeepScalarLinear(depth, float(rng.uniform(0.1, 3)))
    W = rng.uniform(-2, 2, (7, depth))
    np.testing.assert_array_equal(f._grad_T(np.ascontiguousarray(W.T)).T, f.grad(W))
    np.testing.assert_array_equal(f._grad_T(W[0]), f.grad(W[0]))


@settings(max_examples=10)
@given(seed=SEEDS, hidden=st.lists(st.integers(1, 4), min_size=0, max_size=3))
def test_linear_network_parameter_major_gradient_matches_grad(seed: int, hidden: list[int]) -> None:
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    net = LinearNetwork(X, Y, (3, *hidden, 2))
    assert net._fast_T
    W = rng.standard_normal((4, 3, net.n_params))
    ref = net.grad(W)
    tol = dict(rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(np.moveaxis(net._grad_T(np.moveaxis(W, -1, 0)), 0, -1), ref, **tol)  # (n, 4, 3)
    np.testing.assert_allclose(net._grad_T(W[0, 0]), ref[0, 0], **tol)                              # (n,)
    out = np.empty((net.n_params, 12))
    assert net._grad_T(np.ascontiguousarray(W.reshape(12, -1).T), out=out) is out
    np.testing.assert_allclose(out.T, ref.reshape(12, -1), **tol)
    with pytest.raises(ValueError, match="wT"):
        net._grad_T(np.zeros((net.n_params + 1, 2)))


# -- flattest minimisers -------------------------------------------------------------------------------


@settings(max_examples=10)
@given(depth=st.integers(1, 6), y=st.floats(-3, 3).filter(lambda t: abs(t) > 0.05), seed=SEEDS)
def test_deep_scalar_random_minimisers_never_flatter(depth: int, y: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    f = DeepScalarLinear(depth, y)
    u = rng.normal(0.0, 0.6, (200, depth))
    u -= u.mean(axis=1, keepdims=True)  # sum of log|w_i| = log|y|
    w = np.exp(u + np.log(abs(y)) / depth) * np.sign(rng.standard_normal((200, depth)))
    w[:, -1] *= np.sign(y) * np.prod(np.sign(w), axis=1)
    np.testing.assert_allclose(np.prod(w, axis=1), y, rtol=1e-12)
    lam = sharpness(f, w)
    assert lam.min() >= f.min_sharpness() * (1 - 1e-12)
    np.testing.assert_allclose(sharpness(f, f.balanced_minimiser()), f.min_sharpness(), rtol=1e-12)


@pytest.mark.parametrize("hidden", [(3,), (4,), (3, 5), (4, 3, 4)])
def test_linear_network_whitened_flattest_sharpness(hidden: tuple[int, ...]) -> None:
    X = data.whitened_inputs(3, 7, rng=11)
    Y = data.teacher_targets(X, k=2, rng=12, scale=2.0)
    net = LinearNetwork(X, Y, (3, *hidden, 2))
    L = net.depth
    s1 = np.linalg.svd(net.least_squares_solution(), compute_uv=False)[0]
    assert net.min_sharpness() == pytest.approx(L * s1 ** (2 - 2 / L), rel=1e-12)
    if L == 2:
        assert net.min_sharpness() == pytest.approx(2 * s1, rel=1e-12)
    wb = net.balanced_minimiser()
    assert 0.0 <= float(net.loss(wb)) < 1e-24 * float(np.sum(Y**2))  # noiseless teacher: an exact fit
    np.testing.assert_allclose(net.grad(wb), 0.0, atol=1e-12)
    np.testing.assert_allclose(sharpness(net, wb), net.min_sharpness(), rtol=1e-10)
    rand = net.random_minimiser(rng=5, spread=0.8, size=(60,))
    np.testing.assert_allclose(net.grad(rand), 0.0, atol=1e-9)
    lam = net.minimiser_sharpness(rand)
    np.testing.assert_allclose(lam[:4], sharpness(net, rand[:4]), rtol=1e-10)
    assert lam.min() >= net.min_sharpness() * (1 - 1e-12)
    lo, hi = net.min_sharpness_bounds()
    assert lo == pytest.approx(net.min_sharpness(), rel=1e-10) and hi == pytest.approx(net.min_sharpness(), rel=1e-10)


def test_linear_network_scaled_whitening_and_one_layer() -> None:
    X = 2.0 * data.whitened_inputs(2, 5, rng=1)  # X X^T = 4 I
    Y = data.teacher_targets(X, k=2, rng=2)
    net = LinearNetwork(X, Y, (2, 3, 2))
    np.testing.assert_allclose(sharpness(net, net.balanced_minimiser()), net.min_sharpness(), rtol=1e-10)
    Xg = data.general_covariance_inputs(3, 6, rng=3, condition=7.0)
    one = LinearNetwork(Xg, data.teacher_targets(Xg, 2, rng=4), (3, 2))
    assert one.min_sharpness() == pytest.approx(7.0, rel=1e-10)


@pytest.mark.parametrize("hidden", [(3,), (3, 3)])
def test_linear_network_general_covariance_bounds(hidden: tuple[int, ...]) -> None:
    X = data.general_covariance_inputs(3, 9, rng=21, condition=20.0)
    Y = data.teacher_targets(X, k=2, rng=22)
    net = LinearNetwork(X, Y, (3, *hidden, 2))
    with pytest.raises(NotImplementedError, match="min_sharpness_bounds"):
        net.min_sharpness()
    lo, hi = net.min_sharpness_bounds()
    assert 0 < lo < hi
    np.testing.assert_allclose(sharpness(net, net.balanced_minimiser()), hi, rtol=1e-10)
    lam = net.minimiser_sharpness(net.random_minimiser(rng=6, spread=1.0, size=(300,)))
    assert lam.min() >= lo * (1 - 1e-12)
    # the lower bound for two layers: 2 max_g sqrt(g'Sg) |W* S^{1/2} g| (brute force over a fine grid on the sphere)
    if net.depth == 2:
        S = net.sigma
        ev, evec = np.linalg.eigh(S)
        M = net.least_squares_solution() @ (evec * np.sqrt(ev)) @ evec.T
        g = np.random.default_rng(0).standard_normal((20000, 3))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        brute = np.max(2 * np.sqrt(np.einsum("ni,ij,nj->n", g, S, g)) * np.linalg.norm(g @ M.T, axis=1))
        assert brute <= lo * (1 + 1e-12) and brute >= lo * (1 - 1e-3)


def test_linear_network_bottleneck_is_reported() -> None:
    X = data.whitened_inputs(3, 5, rng=0)
    Y = data.teacher_targets(X, k=3, rng=1)
    net = LinearNetwork(X, Y, (3, 1, 3))
    with pytest.raises(NotImplementedError, match="rank"):
        net.min_sharpness()


def test_layouts_roundtrip() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    net = LinearNetwork(X, Y, (3, 5, 2))
    w = rng.standard_normal((4, net.n_params))
    mats = net.unflatten(w)
    assert [m.shape for m in mats] == [(4, 5, 3), (4, 2, 5)]
    np.testing.assert_array_equal(net.flatten(mats), w)
    np.testing.assert_allclose(net.end_to_end(w), mats[1] @ mats[0])
    mlp = MLP(X, Y, (3, 5, 2), "tanh", bias=True)
    w = mlp.random_params(rng=1, size=(3,))
    layers = mlp.unflatten(w)
    assert layers[0][0].shape == (3, 5, 3) and layers[0][1].shape == (3, 5)
    np.testing.assert_array_equal(mlp.flatten(layers), w)
    assert mlp.layer_slices[1][1] == slice(mlp.n_params - 2, mlp.n_params)
    with pytest.raises(NotImplementedError):
        mlp.min_sharpness()


def test_mlp_is_overflow_free_at_large_weights() -> None:
    rng = np.random.default_rng(0)
    X, Y = 50 * rng.standard_normal((2, 3)), rng.standard_normal((1, 3))
    for act in MLP.ACTIVATIONS:
        net = MLP(X, Y, (2, 3, 1), act, bias=True)
        w = 100 * rng.standard_normal(net.n_params)
        assert np.all(np.isfinite(net.hvp(w, w))) and np.all(np.isfinite(net.grad(w)))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: MLP(np.ones((2, 3)), np.ones((1, 3)), (2, 2, 1), "relu"), "activation"),
        (lambda: MLP(np.ones((2, 3)), np.ones((1, 4)), (2, 2, 1)), "Y"),
        (lambda: LinearNetwork(np.ones((2, 3)), np.ones((1, 3)), (3, 2, 1)), "widths"),
        (lambda: LinearNetwork(np.ones((2, 3)), np.ones((1, 3)), (2, 2, 2)), "widths"),
        (lambda: LinearNetwork(np.ones((2, 3)), np.ones((1, 3)), (2,)), "widths"),
        (lambda: LinearNetwork(np.ones((2, 3)), np.ones((1, 3)), (2, 0, 1)), "widths"),
        (lambda: LinearNetwork(np.full((2, 3), np.nan), np.ones((1, 3)), (2, 1)), "X"),
        (lambda: DeepScalarLinear(0), "depth"),
        (lambda: DeepScalarLinear(2, np.inf), "target"),
        (lambda: DeepScalarLinear(2).grad(np.ones(3)), "w"),
        (lambda: DeepScalarLinear(2).hvp(np.ones(2), np.ones(3)), "v"),
        (lambda: Quadratic(np.array([[1.0, 2.0], [0.0, 1.0]])), "A"),
        (lambda: MLP(np.ones((2, 3)), np.ones((1, 3)), (2, 2, 1)).random_params(rng=0, gain=-1.0), "gain"),
        (lambda: MLP(np.ones((2, 3)), np.ones((1, 3)), (2, 2, 1)).random_params(rng="x"), "rng"),
        (lambda: LinearNetwork(np.eye(2), np.eye(2), (2, 2, 2)).random_minimiser(rng=0, spread=np.nan), "spread"),
        (lambda: LinearNetwork(np.eye(2), np.eye(2), (2, 2, 2)).random_minimiser(rng=0, size=(-1,)), "size"),
    ],
)
def test_validation_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- issue 10: bugs found by fuzzing


def test_quadratic_hvp_and_hessian_keep_the_batch_of_w() -> None:
    """Bug: Quadratic.hvp/hessian ignored a batch of w ((5, 2) gave (2, 2))."""
    q = Quadratic(np.diag([1.0, 4.0]))
    w = np.ones((5, 2))
    assert q.hvp(w, np.array([1.0, 0.0])).shape == (5, 2)
    H = q.hessian(w)
    assert H.shape == (5, 2, 2)
    np.testing.assert_array_equal(H, np.broadcast_to(q.A, (5, 2, 2)))


@pytest.mark.parametrize("cls", ["LinearNetwork", "MLP"])
def test_network_derivatives_on_a_zero_size_batch(cls: str) -> None:
    """Bug: LinearNetwork/MLP grad/hvp/hessian failed on a (0, n_params) batch (reshape with -1)."""
    X = data.whitened_inputs(2, 4, rng=0)
    Y = data.teacher_targets(X, 1, rng=1)
    net = LinearNetwork(X, Y, (2, 3, 1)) if cls == "LinearNetwork" else MLP(X, Y, (2, 3, 1), bias=True)
    w = np.zeros((0, net.n_params))
    assert net.grad(w).shape == (0, net.n_params)
    assert net.hvp(w, np.ones(net.n_params)).shape == (0, net.n_params)
    assert net.hessian(w).shape == (0, net.n_params, net.n_params)


def test_polynomial_min_sharpness_takes_the_flatter_of_two_global_minima() -> None:
    """f = x^2 (x - 1)^2 (x^2 + 1): global minima at 0 (f'' = 2) and 1 (f'' = 4); min_sharpness is the smaller."""
    coeffs = np.polynomial.polynomial.polymul(np.polynomial.polynomial.polymul([0, 0, 1], [1, -2, 1]), [1, 0, 1])
    f = Polynomial1D(coeffs)
    np.testing.assert_allclose(f.minimisers(), [0.0, 1.0], atol=1e-9)
    assert f.min_sharpness() == pytest.approx(2.0, rel=1e-9)


def test_polynomial_min_sharpness_ignores_trailing_zero_coefficients() -> None:
    """Bug: Polynomial1D([0, 0, 1, 0]) (x^2) was said to have no minimiser (degree read from the zero)."""
    assert Polynomial1D([0, 0, 1, 0]).min_sharpness() == 2.0
    np.testing.assert_array_equal(Polynomial1D([1, 0, 1, 0, 0]).minimisers(), [0.0])
    assert Polynomial1D([3.0, 0.0]).min_sharpness() == 0.0  # a constant: Hessian 0 everywhere
    with pytest.raises(ValueError, match="no global minimiser"):
        Polynomial1D([0, 1, 0]).min_sharpness()  # x: unbounded below


def test_quadratic_min_sharpness_needs_a_minimiser() -> None:
    """Bug: Quadratic(-I).min_sharpness() returned -1 (critical step size -2); f is unbounded below."""
    with pytest.raises(ValueError, match="no global minimiser"):
        Quadratic(-np.eye(2)).min_sharpness()
    assert Quadratic(np.diag([0.0, 3.0])).min_sharpness() == 3.0  # singular PSD: minimisers form a line
    assert Quadratic(np.zeros((2, 2))).min_sharpness() == 0.0


def test_huge_parameters_give_clean_inf_or_nan_without_warnings() -> None:
    """Bug: overflow RuntimeWarnings escaped from loss/grad at huge w (pytest.ini makes them errors)."""
    for f in (Quadratic(np.eye(2)), DeepScalarLinear(3), Polynomial1D([0, 0, 0, 0, 1])):
        w = np.full(f.n_params, 1e200)
        assert f.loss(w) == np.inf  # every loss here is +inf at w = 1e200 (no warning)
        f.grad(w)  # a leaked RuntimeWarning is an error under pytest.ini
        f.hvp(w, np.ones(f.n_params))
