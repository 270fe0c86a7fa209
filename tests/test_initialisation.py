"""Tests of gdlab.initialisation: positive, Glorot and He initialisations, the first-layer bound and the
certificate of the positive initialisation (chapter 7)."""
from __future__ import annotations

import numpy as np
import pytest

from gdlab import data, initialisation, pl_criterion as pl
from gdlab.objectives import MLP


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
