"""Tests of gdlab.curvature: dense, Lanczos and power sharpness against numpy's eigvalsh."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import curvature
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Quadratic


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 12))
def test_all_methods_find_the_largest_algebraic_eigenvalue(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = rng.uniform(-10, 3, n)
    ev[0] = -20.0  # most negative eigenvalue has the largest modulus
    ev[1] = 4.0  # top algebraic eigenvalue, gap >= 1
    ev[2:] = np.minimum(ev[2:], 3.0)
    q = Quadratic((Q * ev) @ Q.T)
    w = rng.standard_normal((2, n))
    ref = np.linalg.eigvalsh(q.A)[-1]
    for method in ("dense", "lanczos", "power"):
        np.testing.assert_allclose(curvature.sharpness(q, w, method=method), [ref, ref], rtol=1e-8)


def test_iterative_methods_match_dense_on_an_mlp() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 10)), rng.standard_normal((2, 10))
    net = MLP(X, Y, (6, 8, 2), "softplus", bias=True)
    assert net.n_params > curvature.DENSE_LIMIT
    w = net.random_params(rng=1, size=(3,), gain=1.5)
    dense = curvature.top_eigenpair(net, w, method="dense")
    ref = np.linalg.eigvalsh(net.hessian(w))[:, -1]
    np.testing.assert_allclose(dense.value, ref, rtol=1e-12)
    for method in ("lanczos", "power", "auto"):
        pair = curvature.top_eigenpair(net, w, method=method)
        assert pair.converged.all()
        np.testing.assert_allclose(pair.value, ref, rtol=1e-8)
        # the vector is an eigenvector: H v = lambda v
        resid = net.hvp(w, pair.vector) - pair.value[:, None] * pair.vector
        assert np.linalg.norm(resid, axis=1).max() < 1e-3 * ref.max()
    assert curvature.top_eigenpair(net, w, method="auto").method == "lanczos"
    assert curvature.top_eigenpair(net, np.broadcast_to(w[0], (20, net.n_params)), method="auto").method == "power"


def test_warm_start_saves_iterations() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 8)), rng.standard_normal((1, 8))
    net = MLP(X, Y, (5, 12, 1), "tanh")
    w = net.random_params(rng=2)
    cold = curvature.top_eigenpair(net, w, method="power")
    warm = curvature.top_eigenpair(net, w + 1e-4, method="power", v0=cold.vector)
    recold = curvature.top_eigenpair(net, w + 1e-4, method="power")
    assert warm.iterations < recold.iterations
    assert warm.value == pytest.approx(recold.value, rel=1e-8)


def test_sharpness_of_deep_scalar_and_linear_network_minima() -> None:
    f = DeepScalarLinear(3, target=2.0)
    assert float(curvature.sharpness(f, f.balanced_minimiser())) == pytest.approx(f.min_sharpness(), rel=1e-12)
    X = np.eye(3)
    net = LinearNetwork(X, np.diag([2.0, 1.0, 0.5]), (3, 3, 3))
    assert float(curvature.sharpness(net, net.balanced_minimiser())) == pytest.approx(4.0, rel=1e-12)


def test_non_finite_points_give_nan_without_warnings() -> None:
    f = DeepScalarLinear(2)
    out = curvature.sharpness(f, np.array([[1.0, 1.0], [np.nan, 1.0], [np.inf, 0.0]]))
    assert out[0] == pytest.approx(2.0) and np.isnan(out[1:]).all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"method": "qr"}, "method"),
        ({"tol": 0.0}, "tol"),
        ({"iters": 0}, "iters"),
        ({"v0": np.ones(5)}, "v0"),
    ],
)
def test_validation_names_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        curvature.sharpness(Quadratic(np.eye(3)), np.zeros(3), **kwargs)


# --------------------------------------------------------------------------- issue 10: bugs found by fuzzing


@pytest.mark.parametrize("A", [-np.eye(3), np.zeros((3, 3)), -2.5 * np.eye(3)])
def test_power_method_on_zero_and_negative_multiples_of_the_identity(A: np.ndarray) -> None:
    """Bug: method="power" returned NaN when H + shift I vanished (H = 0 or H = -rho I)."""
    pair = curvature.top_eigenpair(Quadratic(A), np.zeros(3), method="power")
    assert float(pair.value) == pytest.approx(A[0, 0], abs=1e-12)
    assert bool(pair.converged)
    assert np.linalg.norm(pair.vector) == pytest.approx(1.0)


def test_dense_sharpness_at_huge_parameters_is_nan_not_linalg_error() -> None:
    """Bug: the dense method raised LinAlgError at w = 1e200 (Hessian overflowed to inf/NaN)."""
    f = DeepScalarLinear(3)
    w = np.stack([np.full(3, 1e200), np.ones(3)])
    lam = curvature.sharpness(f, w, method="dense")
    assert np.isnan(lam[0]) and lam[1] == pytest.approx(float(curvature.sharpness(f, np.ones(3))))
