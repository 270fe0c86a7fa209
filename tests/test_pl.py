"""Tests of gdlab.pl: the PL ratio and its estimator, the criterion's certificate, the theorems of
chapter 6 on toy problems, and the positive initialisation and its bound (chapter 7)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gdlab import data, descent, pl, initialisation, tangent_kernel, statistics
from gdlab.objectives import MLP, DeepScalarLinear, Polynomial1D, Quadratic

XY = DeepScalarLinear(depth=2, target=1.0)  # f = (xy - 1)^2 / 2, ratio = 2 (x^2 + y^2)


def _alpha_xy(z0: np.ndarray, r: float) -> float:
    return 2.0 * max(np.linalg.norm(z0) - r, 0.0) ** 2


# --------------------------------------------------------------------------- ratio and sampling


def test_pl_ratio_quadratic_and_zero_set() -> None:
    q = Quadratic(np.diag([1.0, 4.0]))
    w = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    r = pl.pl_ratio(q, w)
    np.testing.assert_allclose(r[:2], [2.0, 8.0])  # 2 lambda along each eigenvector
    assert np.isnan(r[2])


def test_pl_ratio_xy_identity() -> None:
    z = np.random.default_rng(0).standard_normal((50, 2)) * 2
    np.testing.assert_allclose(pl.pl_ratio(XY, z), 2 * np.sum(z**2, axis=1), rtol=1e-10)


@settings(max_examples=25)
@given(p=st.integers(1, 6), radius=st.floats(0.01, 10.0), seed=st.integers(0, 2**31 - 1))
def test_sample_ball_inside_and_deterministic(p: int, radius: float, seed: int) -> None:
    c = np.arange(p, dtype=float)
    x = pl.sample_ball(c, radius, 40, np.random.default_rng(seed))
    assert x.shape == (40, p)
    assert np.all(np.linalg.norm(x - c, axis=-1) <= radius * (1 + 1e-12))
    np.testing.assert_array_equal(x, pl.sample_ball(c, radius, 40, np.random.default_rng(seed)))


def test_sample_ball_batched_centres() -> None:
    c = np.array([[0.0, 0.0], [10.0, 10.0]])
    x = pl.sample_ball(c, 1.0, 30, np.random.default_rng(1))
    assert x.shape == (30, 2, 2)
    assert np.all(np.linalg.norm(x - c, axis=-1) <= 1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf])
def test_sample_ball_rejects_bad_radius(bad: float) -> None:
    with pytest.raises(ValueError, match="radius"):
        pl.sample_ball(np.zeros(2), bad, 3, np.random.default_rng(0))


# --------------------------------------------------------------------------- the estimator


@pytest.mark.parametrize("z0, r", [((2.0, 0.2), 1.0), ((1.5, 0.5), 0.8), ((-2.0, 1.0), 0.5), ((0.3, 0.3), 0.8)])
def test_estimate_alpha_matches_closed_form_from_above(z0, r) -> None:
    z0 = np.array(z0)
    exact = _alpha_xy(z0, r)
    est = pl.estimate_alpha(XY, z0, r, np.random.default_rng(0))
    assert est.alpha >= exact * (1 - 1e-10) - 1e-14  # an upper bound on the infimum
    assert est.alpha <= exact * (1 + 1e-6) + 1e-10
    assert est.sampled >= est.alpha  # refinement only improves
    assert np.linalg.norm(est.argmin - z0) <= r * (1 + 1e-12)


def test_estimate_alpha_batched_over_centres() -> None:
    z0 = np.array([[2.0, 0.2], [1.5, 0.5], [3.0, -0.1]])
    est = pl.estimate_alpha(XY, z0, 0.7, np.random.default_rng(3))
    exact = np.array([_alpha_xy(z, 0.7) for z in z0])
    assert est.alpha.shape == (3,) and est.argmin.shape == (3, 2)
    np.testing.assert_allclose(est.alpha, exact, rtol=1e-6)
    np.testing.assert_allclose(est.at_center, pl.pl_ratio(XY, z0))


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), r=st.floats(0.1, 3.0))
def test_estimate_alpha_is_an_upper_bound_for_quadratics(seed: int, r: float) -> None:
    gen = np.random.default_rng(seed)
    d = np.sort(gen.uniform(0.5, 5.0, size=3))
    q = Quadratic(np.diag(d))
    x0 = gen.standard_normal(3)
    est = pl.estimate_alpha(q, x0, r, gen, n_samples=64)
    # ratio = 2 sum d_i^2 x_i^2 / sum d_i x_i^2 >= 2 d_min everywhere
    assert est.alpha >= 2 * d[0] * (1 - 1e-12)
    if np.linalg.norm(x0) < r:  # the ball holds the minimiser: every direction occurs, inf = 2 d_min
        assert est.alpha <= 2 * d[0] * (1 + 1e-3)


def test_estimate_alpha_finds_a_spurious_critical_point() -> None:
    f = Polynomial1D([0, 0, 33 / 8, -4, 1])  # x^2 ((x-2)^2 + 1/8), local max near 1.067
    est = pl.estimate_alpha(f, np.array([0.5]), 1.0, np.random.default_rng(0))
    assert est.alpha < 1e-8


def test_estimate_alpha_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="radius"):
        pl.estimate_alpha(XY, np.ones(2), -1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="x0"):
        pl.estimate_alpha(XY, np.ones(3), 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_samples"):
        pl.estimate_alpha(XY, np.ones(2), 1.0, np.random.default_rng(0), n_samples=0)


def test_rational_min_against_dense_grid() -> None:
    q = np.polynomial.Polynomial([33 / 8, -4, 1])
    x = np.polynomial.Polynomial([0, 1])
    num = (2 * q + x * q.deriv()) ** 2
    lo, hi = np.array([-1.0, 0.0, 1.5]), np.array([0.5, 1.0, 3.0])
    got = pl.rational_min(num.coef, q.coef, lo, hi)
    for a, b, g in zip(lo, hi, got):
        grid = np.linspace(a, b, 200_001)
        ref = (num(grid) / q(grid)).min()
        assert g <= ref + 1e-12 and g >= ref - 1e-6


def test_rational_min_rejects_reversed_interval_and_nonpositive_denominator() -> None:
    with pytest.raises(ValueError, match="hi"):
        pl.rational_min([1.0], [1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="den"):
        pl.rational_min([1.0], [0.0, 1.0], -1.0, 1.0)


# --------------------------------------------------------------------------- smoothness


def test_hessian_norm_dense_and_power_iteration_agree() -> None:
    gen = np.random.default_rng(0)
    A = gen.standard_normal((80, 80))
    A = A + A.T
    q = Quadratic(A)
    ref = np.abs(np.linalg.eigvalsh(A)).max()
    got = pl.hessian_norm(q, np.zeros(80), np.random.default_rng(1), iters=2000)
    assert got <= ref * (1 + 1e-9) and got >= ref * (1 - 1e-3)
    q_small = Quadratic(np.diag([1.0, -3.0, 2.0]))
    assert float(pl.hessian_norm(q_small, np.ones(3), np.random.default_rng(0))) == pytest.approx(3.0)


def test_estimate_smoothness_is_below_the_analytic_bound_for_xy() -> None:
    z0, r = np.array([2.0, 0.2]), 1.0
    beta_ub = 1.5 * (np.linalg.norm(z0) + r) ** 2 + 1  # ||H|| <= ||z||^2 + |xy - 1|
    beta = pl.estimate_smoothness(XY, z0, r, np.random.default_rng(0), n_samples=500)
    assert 0 < beta <= beta_ub


# --------------------------------------------------------------------------- the certificate


def test_certify_values_and_rate() -> None:
    c = pl.certify(f0=0.5, alpha=2.0, beta=4.0, radius=2.0)
    assert c.holds and c.flow_length == pytest.approx(1.0) and c.eta_max == pytest.approx(0.25)
    assert c.gd_length(0.125) == pytest.approx(1.0 / (1 - 0.25))
    assert c.gd_rate(0.125) == pytest.approx(1 - 2.0 * 0.125 * 0.75)
    assert c.admissible(0.2) and not c.admissible(0.3)
    bad = pl.certify(f0=1.0, alpha=1.0, beta=1.0, radius=2.0)  # 4 f0 = r^2 alpha: fails (strict)
    assert not bad.holds and bad.eta_max <= 0


def test_certify_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="f0"):
        pl.certify(-1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        pl.certify(1.0, -1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="beta"):
        pl.certify(1.0, 1.0, 0.0, 1.0)


def test_lzb_radius() -> None:
    np.testing.assert_allclose(pl.lzb_radius(1.0, 4.0, 2.0), 2.0)
    assert np.isinf(pl.lzb_radius(1.0, 0.0, 2.0))
    # ratio to the flow radius 2 sqrt(f0/alpha) is 2 sqrt(2 beta / alpha)
    f0, alpha, beta = 0.7, 3.0, 5.0
    c = pl.certify(f0, alpha, beta, 10.0)
    assert pl.lzb_radius(f0, alpha, beta) / c.flow_length == pytest.approx(2 * np.sqrt(2 * beta / alpha))


@settings(max_examples=12)
@given(x=st.floats(0.8, 3.0), y=st.floats(-0.5, 1.5), frac=st.floats(0.1, 0.9))
def test_gd_theorem_on_xy(x: float, y: float, frac: float) -> None:
    """Theorem of chapter 6: under the radius condition GD with eta < eta_max stays within rho/c and contracts by q."""
    z0 = np.array([x, y])
    r = np.linalg.norm(z0) / 2
    f0 = float(XY.loss(z0))
    cert = pl.certify(f0, _alpha_xy(z0, r), 1.5 * (np.linalg.norm(z0) + r) ** 2 + 1, r)
    assume(cert.holds and f0 > 0)
    eta = frac * cert.eta_max
    traj = descent.run(XY, z0[None], eta, steps=200)
    dist = np.linalg.norm(traj.params[:, 0] - z0, axis=-1)
    assert dist.max() <= cert.gd_length(eta) * (1 + 1e-12) < r
    assert np.all(traj.loss[:, 0] <= cert.gd_rate(eta) ** traj.steps * f0 * (1 + 1e-9) + 1e-300)


# --------------------------------------------------------------------------- Monte Carlo


def test_event_probability_wilson_interval() -> None:
    ev = np.zeros(60, dtype=bool)
    est = statistics.event_probability(ev)
    assert est.p_hat == 0 and est.lower == 0 and est.upper == pytest.approx(1.96**2 / (60 + 1.96**2))
    ev[:30] = True
    est = statistics.event_probability(np.stack([ev, ~ev]))
    np.testing.assert_allclose(est.p_hat, [0.5, 0.5])
    assert np.all(est.lower < 0.5) and np.all(est.upper > 0.5)
    with pytest.raises(ValueError, match="boolean"):
        statistics.event_probability(np.zeros(3))


def test_event_probability_coverage() -> None:
    """About 95 % of Wilson intervals cover the true p (binomial simulation)."""
    gen = np.random.default_rng(0)
    ev = gen.uniform(size=(2000, 50)) < 0.3
    est = statistics.event_probability(ev)
    cover = np.mean((est.lower <= 0.3) & (0.3 <= est.upper))
    assert 0.92 <= cover <= 0.98


# --------------------------------------------------------------------------- networks (chapter 7)


def _net(activation: str = "tanh", bias: bool = False, widths=(6, 4, 4, 1), n: int = 4, seed: int = 0) -> MLP:
    gen = np.random.default_rng(seed)
    X = data.linearly_independent_inputs(widths[0], n, rng=gen)
    Y = gen.choice([-1.0, 1.0], size=(1, n))
    return MLP(X, Y, widths, activation, bias=bias)


@pytest.mark.parametrize("activation, bias", [("tanh", False), ("sigmoid", True), ("softplus", True), ("tanh", True)])
def test_positive_init_structure_and_zero_output(activation: str, bias: bool) -> None:
    net = _net(activation, bias)
    w = initialisation.positive_init(net, 7.0, hidden_value=2.0)
    layers = net.unflatten(w)
    assert np.all(layers[0][0] == 0)
    np.testing.assert_allclose(layers[1][0], 2.0 / 4)
    np.testing.assert_allclose(layers[2][0], 7.0 / 4)
    np.testing.assert_allclose(net.predict(w), 0.0, atol=1e-12)
    assert float(net.loss(w)) == pytest.approx(0.5 * np.sum(net.Y**2))


def test_positive_init_without_bias_and_phi0_nonzero_has_nonzero_output() -> None:
    net = _net("sigmoid", False)
    w = initialisation.positive_init(net, 10.0, hidden_value=4.0)
    out = net.predict(w)
    assert np.allclose(out, out[..., :1]) and abs(out[0, 0]) > 1  # constant in the input, grows with K
    t2 = 1 / (1 + np.exp(-4.0 * 0.5))
    assert out[0, 0] == pytest.approx(10.0 * t2)


def test_positive_init_jitter_keeps_positivity_and_batches() -> None:
    net = _net()
    w = initialisation.positive_init(net, 5.0, rng=np.random.default_rng(0), spread=0.5, size=(3,))
    assert w.shape == (3, net.n_params)
    for W, _ in net.unflatten(w)[1:]:
        assert np.all(W > 0)
    assert not np.allclose(w[0], w[1])
    with pytest.raises(ValueError, match="spread"):
        initialisation.positive_init(net, 5.0, spread=1.0)
    with pytest.raises(ValueError, match="output_scale"):
        initialisation.positive_init(net, 0.0)


def test_random_inits_have_the_stated_variances() -> None:
    net = _net(widths=(40, 60, 50, 1), n=5)
    g = net.unflatten(initialisation.glorot_init(net, np.random.default_rng(0), size=(200,)))
    h = net.unflatten(initialisation.he_init(net, np.random.default_rng(1), size=(200,)))
    for (Wg, _), (Wh, _), (m_out, m_in) in zip(g, h, net.shapes):
        assert np.var(Wg) == pytest.approx(2 / (m_in + m_out), rel=0.05)
        assert np.var(Wh) == pytest.approx(2 / m_in, rel=0.05)


def test_first_layer_bound_chain_and_jacobian() -> None:
    net = _net(widths=(8, 5, 5, 1), n=6)
    W = initialisation.glorot_init(net, np.random.default_rng(2), size=(10,))
    fb = initialisation.first_layer_bound(net, W)
    assert np.all(fb.grad_sq >= fb.first_layer_sq)
    assert np.all(fb.first_layer_sq >= fb.lower * (1 - 1e-12))
    f = net.loss(W)
    assert np.all(fb.lower >= 2 * fb.lam_min * np.min(fb.jac_norm, axis=-1) ** 2 * f * (1 - 1e-12))
    # J_i from finite differences of the output along W1 -> W1 + eps u x~_i^T (dual basis)
    X = net.X
    Ginv = np.linalg.inv(X.T @ X)
    u = np.random.default_rng(3).standard_normal(5)
    for i in range(6):
        bump = np.zeros(net.n_params)
        bump[net.layer_slices[0][0]] = np.outer(u, X @ Ginv[:, i]).ravel()
        eps = 1e-6
        fd = (net.predict(W[0] + eps * bump) - net.predict(W[0] - eps * bump))[0] / (2 * eps)
        assert np.allclose(fd[np.arange(6) != i], 0, atol=1e-8)  # other samples do not move
        assert abs(fd[i]) <= fb.jac_norm[0, i] * np.linalg.norm(u) * (1 + 1e-6)  # |J_i u| <= ||J_i|| ||u||


def test_first_layer_bound_rejects_dependent_inputs_and_vector_outputs() -> None:
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="independent"):
        initialisation.first_layer_bound(MLP(X, np.ones((1, 2)), (3, 2, 1)), np.zeros(8))
    net = MLP(np.eye(3), np.ones((2, 3)), (3, 2, 2))
    with pytest.raises(ValueError, match="scalar output"):
        initialisation.first_layer_bound(net, np.zeros(net.n_params))


@pytest.mark.parametrize("activation, bias", [("tanh", False), ("sigmoid", True), ("softplus", True)])
def test_positive_init_bound_is_a_lower_bound_on_sampled_ratios(activation: str, bias: bool) -> None:
    """Chapter 7's theorem: min over the ball of ||grad f||^2 / f >= the proved bound (checked at samples)."""
    net = _net(activation, bias, widths=(6, 4, 4, 1), n=4)
    K, a = 50.0, 2.0
    w0 = initialisation.positive_init(net, K, a)
    r = 0.5 * a / 4
    b = initialisation.positive_init_bound(net, w0, r, output_scale=K)
    low = b.alpha_lower(b.output_min)
    pts = pl.sample_ball(w0, r, 400, np.random.default_rng(0))
    assert low > 0 and np.all(pl.pl_ratio(net, pts) >= low)
    fb = initialisation.first_layer_bound(net, pts)  # the entrywise J bound behind it
    assert np.all(np.min(fb.jac_norm, axis=-1) ** 2 >= b.m1 * (b.path_factor * (b.output_min - r)) ** 2 * (1 - 1e-12))
    assert b.K_star == pytest.approx(K * b.output_star / b.output_min)
    w_star = initialisation.positive_init(net, 1.01 * b.K_star, a)
    b_star = initialisation.positive_init_bound(net, w_star, r)
    assert b_star.holds and 4 * b_star.f0 < r**2 * float(b_star.alpha_lower(b_star.output_min))


def test_positive_init_bound_rejects_unsuitable_points() -> None:
    net = _net()
    w0 = initialisation.positive_init(net, 10.0, 2.0)
    with pytest.raises(ValueError, match="radius"):
        initialisation.positive_init_bound(net, w0, 0.6)  # middle weights are 0.5
    with pytest.raises(ValueError, match="first layer"):
        initialisation.positive_init_bound(net, initialisation.glorot_init(net, np.random.default_rng(0)), 0.1)
    with pytest.raises(ValueError, match="zero output"):
        net_s = _net("sigmoid", False)
        initialisation.positive_init_bound(net_s, initialisation.positive_init(net_s, 10.0, 2.0), 0.1)


def test_output_jacobian_against_finite_differences_and_kernel_identity() -> None:
    net = _net(widths=(6, 4, 3, 1), n=5, seed=4)
    w = initialisation.glorot_init(net, np.random.default_rng(0))
    J = tangent_kernel.output_jacobian(net, w)
    v = np.random.default_rng(1).standard_normal(net.n_params)
    eps = 1e-6
    fd = (net.predict(w + eps * v) - net.predict(w - eps * v))[0] / (2 * eps)
    np.testing.assert_allclose(J @ v, fd, rtol=1e-6, atol=1e-9)
    th = tangent_kernel.tangent_kernel(net, w)
    g = net.grad(w)
    e = net.predict(w)[0] - net.Y[0]
    assert g @ g == pytest.approx(e @ th @ e)
    assert np.all(np.linalg.eigvalsh(th) >= -1e-12)


def test_tangent_kernel_at_positive_init_is_scaled_gram() -> None:
    """Chapter 7's proposition: Theta(w0) = ||J||^2 X^T X, jitter included."""
    net = _net(widths=(6, 4, 4, 1), n=4, seed=5)
    W = initialisation.positive_init(net, 20.0, 2.0, rng=np.random.default_rng(0), spread=0.5, size=(3,))
    th = tangent_kernel.tangent_kernel(net, W)
    jn = initialisation.first_layer_bound(net, W).jac_norm
    assert np.allclose(jn, jn[..., :1])  # the same J for every sample
    G = net.X.T @ net.X
    np.testing.assert_allclose(th, jn[:, :1, None] ** 2 * G, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- issue 10: bugs found by fuzzing


def test_rng_may_be_none_an_int_or_a_generator() -> None:
    """Bug: sample_ball, estimate_alpha, hessian_norm, glorot_init and he_init raised AttributeError for rng=None or an int."""
    net = MLP(np.eye(3), np.ones((1, 3)), (3, 2, 2, 1))
    q = Quadratic(np.diag([1.0, 4.0]))
    np.testing.assert_array_equal(pl.sample_ball([0.0, 0.0], 1.0, 5, 3), pl.sample_ball([0.0, 0.0], 1.0, 5, np.random.default_rng(3)))
    np.testing.assert_array_equal(pl.sample_ball([0.0, 0.0], 1.0, 5, None), pl.sample_ball([0.0, 0.0], 1.0, 5, 0))
    np.testing.assert_array_equal(initialisation.glorot_init(net, 4), initialisation.glorot_init(net, np.random.default_rng(4)))
    np.testing.assert_array_equal(initialisation.he_init(net, None, size=2), initialisation.he_init(net, 0, size=(2,)))
    a = pl.estimate_alpha(q, [0.3, 0.3], 0.5, 7, n_samples=16)
    b = pl.estimate_alpha(q, [0.3, 0.3], 0.5, np.random.default_rng(7), n_samples=16)
    assert float(a.alpha) == float(b.alpha)
    assert float(pl.hessian_norm(q, [1.0, 1.0], None)) == 4.0


def test_sample_ball_rejects_an_empty_center() -> None:
    """Bug: sample_ball(center=[]) raised ZeroDivisionError."""
    with pytest.raises(ValueError, match="center"):
        pl.sample_ball([], 1.0, 3, 0)


def test_lzb_radius_rejects_nan() -> None:
    """Bug: lzb_radius returned a silent NaN for alpha = NaN."""
    for args, name in (((1.0, np.nan, 1.0), "alpha"), ((1.0, 1.0, np.nan), "beta"), ((np.nan, 1.0, 1.0), "f0")):
        with pytest.raises(ValueError, match=name):
            pl.lzb_radius(*args)


def test_hessian_norm_keeps_the_batch_of_a_quadratic() -> None:
    """Bug (through Quadratic.hessian): hessian_norm of a batch returned a scalar."""
    q = Quadratic(np.diag([1.0, -3.0]))
    np.testing.assert_array_equal(pl.hessian_norm(q, np.ones((4, 2))), np.full(4, 3.0))
