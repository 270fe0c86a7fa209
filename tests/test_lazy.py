"""Tests of gdlab.lazy: kernel regression residuals, its flow time, early-stopping step counts, and
the lazy-regression statement of chapter 7 (positive initialisation = kernel regression)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data, lazy, pl_criterion as pl, initialisation
from gdlab.objectives import MLP, Quadratic


def test_kernel_residuals_are_gd_on_linear_regression() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3)); y = rng.standard_normal(3); b = rng.standard_normal(4)
    P = np.zeros((4, 5)); eta = 0.05
    res = lazy.kernel_residuals(b @ b * X.T @ X, y, eta, 6)
    for k in range(7):
        np.testing.assert_allclose(b @ P @ X - y, res[k], rtol=1e-12, atol=1e-12)
        e = b @ P @ X - y
        P = P - eta * np.outer(b, X @ e)            # gradient of 0.5 ||b^T P X - y||^2 in P


@settings(max_examples=25, derandomize=True, deadline=None)
@given(st.floats(0.1, 3.0), st.floats(0.05, 3.0), st.floats(1e-3, 0.4))
def test_flow_time_hits_the_level(l1: float, l2: float, frac: float) -> None:
    y = np.array([1.0, -2.0]); K = np.diag([l1, l2]); level = frac * 0.5 * y @ y
    t = lazy.kernel_flow_time(K, y, level)
    e = np.exp(-t * np.diag(K)) * y
    assert 0.5 * e @ e == pytest.approx(level, rel=1e-9)


def test_flow_time_edge_cases() -> None:
    assert lazy.kernel_flow_time(np.eye(2), [1.0, 0.0], 1.0) == 0.0
    assert lazy.kernel_flow_time(np.diag([1.0, 0.0]), [0.0, 1.0], 0.1) == np.inf
    with pytest.raises(ValueError, match="kernel"):
        lazy.kernel_flow_time(np.array([[1.0, 2.0], [0.0, 1.0]]), [1.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="targets"):
        lazy.kernel_residuals(np.eye(2), [1.0], 0.1, 3)


def test_steps_to_loss_on_a_quadratic() -> None:
    q = Quadratic(np.diag([1.0, 0.1]))
    w0 = np.array([[1.0, 1.0], [1.0, 1.0]]); eta = np.array([0.5, 1.0])
    k = lazy.steps_to_loss(q, w0, eta, 1e-3, 500)
    for j in range(2):                            # closed form: f_k = 0.5 sum_i l_i (1 - eta l_i)^(2k)
        fk = [0.5 * sum(l * (1 - eta[j] * l) ** (2 * t) for l in (1.0, 0.1)) for t in range(501)]
        assert k[j] == next(t for t, f in enumerate(fk) if f < 1e-3)
    assert lazy.steps_to_loss(q, w0[:1], 2.5, 1e-3, 200)[0] == np.inf          # diverges
    assert lazy.steps_to_loss(q, w0[:1], 1e-3, 1e-3, 5)[0] == np.inf            # too few steps
    with pytest.raises(ValueError, match="step_size"):
        lazy.steps_to_loss(q, w0, -1.0, 1e-3, 5)


def test_positive_init_counts_equal_kernel_regression_for_large_K() -> None:
    """Chapter 7's lazy-regression theorem: at large K the network's count equals the linear model's."""
    rng = np.random.default_rng(1)
    X = data.linearly_independent_inputs(12, 6, rng=rng); Y = rng.choice([-1.0, 1.0], size=(1, 6))
    net = MLP(X, Y, (12, 8, 8, 1), "tanh")
    G = X.T @ X; level = 1e-2 * 0.5 * np.sum(Y**2)
    lin = lazy.kernel_residuals(G / np.linalg.eigvalsh(G)[-1], Y, 1.0, 400)
    k_lin = int(np.argmax(0.5 * np.sum(lin**2, axis=1) < level))
    w0 = initialisation.positive_init(net, 1e4, 4.0, rng=np.random.default_rng(2), spread=0.5, size=(3,))
    Jbar = initialisation.first_layer_bound(net, w0).jac_norm[:, 0]
    eta = 1.0 / (Jbar**2 * np.linalg.eigvalsh(G)[-1])
    assert np.all(lazy.steps_to_loss(net, w0, eta, level, 400) == k_lin)
