"""Tests of gdlab.manifold: projection (KKT, optimality, idempotence), tubular coordinates, Riemannian calculus."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from gdlab import manifold as m
from gdlab.objectives import DeepScalarLinear


def on_manifold(rng: np.random.Generator, n: int, p: int, y: float, spread: float = 0.5) -> np.ndarray:
    z = np.exp(rng.normal(0.0, spread, size=(n, p)))
    return z * (y / np.prod(z, axis=-1, keepdims=True)) ** (1.0 / p)


@settings(max_examples=60)
@given(st.integers(2, 6), st.floats(0.2, 5.0), st.integers(0, 2**31 - 1))
def test_projection_kkt_and_idempotence(p: int, y: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    theta = np.exp(rng.normal(0.0, 0.8, size=(40, p))) * rng.choice([1.0, 1.0, 1.0, -1.0], size=(40, p))
    pr = m.project(theta, y)
    x = pr.point
    assert np.all(x > 0)
    assert np.allclose(np.prod(x, axis=-1), y, rtol=1e-12)
    # stationarity: x - theta = alpha * grad f(x) = alpha * y / x
    assert np.allclose(x - theta, pr.multiplier[:, None] * y / x, atol=1e-10 * (1 + np.abs(theta).max()))
    # the normal coordinate carries the whole displacement, with the sign of f(theta) - y
    assert np.allclose(np.abs(pr.normal_coordinate), pr.distance, rtol=1e-9, atol=1e-12)
    outside = np.prod(np.maximum(theta, 0), axis=-1) < y
    assert np.all(pr.normal_coordinate[outside] <= 0) and np.all(pr.multiplier[outside] >= 0)
    assert np.all(pr.multiplier[~outside] <= 0)
    again = m.project(x, y)
    assert np.allclose(again.point, x, atol=1e-13 * (1 + x.max())) and np.all(again.distance < 1e-12 * (1 + x.max()))


def test_projection_beats_random_points_of_manifold() -> None:
    rng = np.random.default_rng(0)
    for p in (2, 3, 5):
        theta = np.exp(rng.normal(0.0, 0.7, size=(50, p))) * rng.choice([1.0, -1.0], p=[0.8, 0.2], size=(50, p))
        pr = m.project(theta, 1.0)
        cloud = on_manifold(rng, 20000, p, 1.0, spread=1.2)
        nearest = np.min(np.linalg.norm(theta[:, None, :] - cloud[None], axis=-1), axis=1)
        assert np.all(pr.distance <= nearest + 1e-12)


@pytest.mark.parametrize("theta", [[10.0, 10.0], [3.0, 3.0, 3.0], [0.9, 0.95, 1.2, 3.0, 5.0], [1.5, 1.5, 1.5, 1.5, 1.5], [4.0, 0.3, 2.0]])
def test_projection_is_global_on_the_convex_side(theta: list[float]) -> None:
    """Against many local minimisations in log coordinates (x = exp(u), sum u = log y)."""
    theta = np.asarray(theta)
    p = theta.size
    pr = m.project(theta, 1.0)
    rng = np.random.default_rng(1)
    best = np.inf
    for _ in range(60):
        def dist2(u: np.ndarray) -> float:
            x = np.exp(np.append(u, -u.sum()))
            return float(np.sum((x - theta) ** 2))

        res = minimize(dist2, rng.normal(0.0, 1.5, size=p - 1), method="BFGS", options={"gtol": 1e-12})
        best = min(best, np.sqrt(res.fun))
    assert pr.distance <= best + 1e-10
    assert abs(pr.distance - best) < 1e-8


def test_sign_rule_examples() -> None:
    # from the convex side of xy = 1 the balanced point is a local *maximum* of the distance beyond the focal point (2, 2)
    far = m.project(np.array([10.0, 10.0]), 1.0)
    assert abs(far.point[0] - far.point[1]) > 9 and far.distance < np.hypot(9.0, 9.0)
    near = m.project(np.array([1.9, 1.9]), 1.0)
    assert np.allclose(near.point, [1.0, 1.0])
    # the minus root sits on the smallest coordinate: the order of theta is kept
    theta = np.array([6.0, 2.0, 4.0])
    x = m.project(theta, 1.0).point
    assert np.argmin(x) == np.argmin(theta) and list(np.argsort(x)) == list(np.argsort(theta))


@given(st.integers(2, 6), st.floats(-0.5, 0.5), st.integers(0, 2**31 - 1))
def test_tubular_round_trip(p: int, s: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = on_manifold(rng, 1, p, 2.0, spread=0.2)[0]
    focal = 1.0 / np.max(np.abs(np.linalg.eigvalsh(shape_operator(x))))
    s = s * 0.9 * focal
    pr = m.project(m.embed(x, s), 2.0)
    assert np.allclose(pr.point, x, atol=1e-12) and abs(pr.normal_coordinate - s) < 1e-12


def shape_operator(x: np.ndarray) -> np.ndarray:
    P = np.prod(x)
    grad = P / x
    hess = P / np.outer(x, x) * (1 - np.eye(x.size))
    proj = m.tangent_projector(x)
    return proj @ hess @ proj / np.linalg.norm(grad)


def test_sharpness_matches_hessian_eigenvalue_on_manifold() -> None:
    rng = np.random.default_rng(2)
    for p, y in [(2, 1.0), (3, 2.5), (5, 0.7)]:
        x = on_manifold(rng, 30, p, y)
        top = np.linalg.eigvalsh(DeepScalarLinear(p, y).hessian(x))[:, -1]
        assert np.allclose(m.minimiser_sharpness(x, y), top, rtol=1e-10)
        n = m.normal(x)
        assert np.allclose(DeepScalarLinear(p, y).hvp(x, n), top[:, None] * n, atol=1e-9)


def test_riemannian_hessian_at_balanced_point() -> None:
    for p, y in [(2, 1.0), (3, 2.0), (5, 1.0), (6, 0.3)]:
        xs = m.balanced_point(p, y)
        H = m.riemannian_hessian(xs, y)
        nu = 4 * y ** (2 - 4 / p)
        assert np.allclose(H, nu * m.tangent_projector(xs), atol=1e-10 * nu)
        assert np.allclose(m.riemannian_gradient(xs, y), 0.0, atol=1e-13)
        assert np.isclose(m.minimiser_sharpness(xs, y), p * y ** (2 - 2 / p))


def test_riemannian_hessian_against_geodesic_finite_differences() -> None:
    rng = np.random.default_rng(3)
    for p, y in [(2, 1.0), (3, 1.5), (5, 1.0)]:
        for x in on_manifold(rng, 4, p, y, spread=0.3):
            v = m.tangent_projector(x) @ rng.normal(size=p)
            v /= np.linalg.norm(v)
            h = 2e-3
            _, g = m.geodesic(x, np.stack([v, -v]), h, n_steps=20)
            lam = m.minimiser_sharpness(g[-1], y)
            second = (lam[0] + lam[1] - 2 * m.minimiser_sharpness(x, y)) / h**2
            assert abs(second - v @ m.riemannian_hessian(x, y) @ v) < 1e-4 * (1 + abs(second))
            first = (lam[0] - lam[1]) / (2 * h)
            assert abs(first - v @ m.riemannian_gradient(x, y)) < 1e-5 * (1 + abs(first))


def test_riemannian_hessian_does_not_depend_on_the_extension() -> None:
    """lambda extended as |grad f|^2 = sum_i prod_{j != i} x_j^2 gives the same Riemannian Hessian."""
    rng = np.random.default_rng(4)
    p, y = 4, 1.3
    x = on_manifold(rng, 1, p, y, spread=0.3)[0]
    P = np.prod(x)
    loo = P / x
    grad2 = np.array([sum(2 * loo[i] ** 2 / x[k] for i in range(p) if i != k) for k in range(p)])
    hess2 = np.zeros((p, p))
    for k in range(p):
        for j in range(p):
            if j == k:
                hess2[k, k] = sum(2 * loo[i] ** 2 / x[k] ** 2 for i in range(p) if i != k)
            else:
                hess2[k, j] = sum(4 * loo[i] ** 2 / (x[k] * x[j]) for i in range(p) if i not in (k, j))
    gf = P / x
    hf = P / np.outer(x, x) * (1 - np.eye(p))
    assert np.allclose(m.riemannian_hessian_codim1(gf, hf, grad2, hess2), m.riemannian_hessian(x, y), atol=1e-10)


def test_convexity_modulus_on_coordinate_box() -> None:
    """Hess_M lambda >= 2 y^(2-4/p) (1+d)^-4 (1-d)^-2 (3(1-d)^2 - (1+d)^2) when |x_i / y^(1/p) - 1| <= d."""
    rng = np.random.default_rng(5)
    p, y, d = 5, 1.0, 0.15
    z = 1 + rng.uniform(-d, d, size=(4000, p - 1))
    last = 1 / np.prod(z, axis=-1)
    keep = np.abs(last - 1) <= d
    x = np.concatenate([z[keep], last[keep, None]], axis=1) * y ** (1 / p)
    H = m.riemannian_hessian(x, y)
    n = m.normal(x)
    # smallest eigenvalue on the tangent space: shift the normal direction up
    lam_min = np.linalg.eigvalsh(H + 1e3 * n[:, :, None] * n[:, None, :])[:, 0]
    bound = 2 * y ** (2 - 4 / p) * (1 + d) ** -4 * (1 - d) ** -2 * (3 * (1 - d) ** 2 - (1 + d) ** 2)
    assert np.all(lam_min >= bound - 1e-12) and bound > 1.33


def test_sharpness_is_not_geodesically_convex_far_out() -> None:
    e = 0.05
    x = np.array([e, 1.0, 1.0 / e])
    H = m.riemannian_hessian(x, 1.0)
    n = m.normal(x)
    assert np.linalg.eigvalsh(H + 1e3 * np.outer(n, n))[0] < 0


def test_geodesic_stays_on_manifold_with_normal_acceleration() -> None:
    x0 = np.array([1.2, 0.5, 1 / 0.6])
    v0 = m.tangent_projector(x0) @ np.array([0.3, -1.0, 0.2])
    v0 /= np.linalg.norm(v0)
    s, g = m.geodesic(x0, v0, 1.0, n_steps=400)
    assert np.allclose(np.prod(g, axis=-1), 1.0, atol=1e-9)
    speed = np.linalg.norm(np.diff(g, axis=0), axis=-1) / np.diff(s)
    assert np.allclose(speed, 1.0, atol=1e-4)
    acc = (g[2:] - 2 * g[1:-1] + g[:-2]) / np.diff(s)[0] ** 2
    tangential = np.einsum("tij,tj->ti", m.tangent_projector(g[1:-1]), acc)
    assert np.max(np.linalg.norm(tangential, axis=-1)) < 1e-3


def test_distance_bounds() -> None:
    rng = np.random.default_rng(6)
    z = m.balanced_point(5, 1.0)
    u = rng.normal(size=5)
    u -= u.mean()
    u /= np.linalg.norm(u)
    ratios = []
    for r in (0.2, 0.1, 0.05):
        b = m.distance_bounds(z * np.exp(r * u), z)
        assert b.chord <= b.log_curve
        ratios.append(b.log_curve / b.chord - 1)
    assert ratios[0] > ratios[1] > ratios[2] > 0
    assert ratios[2] < ratios[1] / 3.5  # the gap is second order
    # on the hyperbola xy = 1 the log curve is the hyperbola itself: its length is the arc length
    a = 2.5
    xs = np.linspace(1.0, a, 200001)
    integrand = np.sqrt(1 + xs**-4)
    arc = np.sum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(xs))
    assert abs(m.distance_bounds(np.array([a, 1 / a]), np.array([1.0, 1.0])).log_curve - arc) < 1e-8


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="target"):
        m.project(np.ones(3), -1.0)
    with pytest.raises(ValueError, match="theta"):
        m.project(np.ones(1), 1.0)
    with pytest.raises(ValueError, match="x"):
        m.minimiser_sharpness(np.array([1.0, -1.0]), 1.0)
    with pytest.raises(ValueError, match="manifold"):
        m.riemannian_hessian(np.array([1.0, 2.0]), 1.0)
    with pytest.raises(ValueError, match="level set"):
        m.distance_bounds(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="grad_f"):
        m.riemannian_hessian_codim1(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
