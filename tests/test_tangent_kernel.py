"""Tests of gdlab.tangent_kernel: output Jacobian against finite differences, the kernel identity."""
from __future__ import annotations

import numpy as np
import pytest

from gdlab import data, initialisation, tangent_kernel
from gdlab.objectives import MLP


def _net(activation: str = "tanh", bias: bool = False, widths=(6, 4, 4, 1), n: int = 4, seed: int = 0) -> MLP:
    gen = np.random.default_rng(seed)
    X = data.linearly_independent_inputs(widths[0], n, rng=gen)
    Y = gen.choice([-1.0, 1.0], size=(1, n))
    return MLP(X, Y, widths, activation, bias=bias)


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
