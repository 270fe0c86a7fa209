"""Conformance suite for :class:`gdlab.objectives.Objective` (in the spirit of scikit-learn's ``check_estimator``).

Every objective instance in ``CASES`` goes through the same battery: shapes on batched, unbatched and
zero-size ``w``; broadcasting of ``w`` against ``v``; ints and lists; gradient and HVP against central
finite differences; Hessian symmetry, batch shape and agreement with ``hvp``; ``min_sharpness`` against a
dense search over minimisers where a closed form exists; negative curvature; huge parameters (clean
inf/NaN, never a leaked warning: ``pytest.ini`` makes ``RuntimeWarning`` an error); argument validation.
``test_every_objective_class_is_covered`` fails when a new ``Objective`` subclass is added without a case.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from gdlab import curvature, data
from gdlab import objectives as obj
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Objective, Polynomial1D, Quadratic, ScalarFactorisation


@dataclass
class Case:
    name: str
    make: Callable[[], Objective]
    scale: float = 1.0  # typical size of parameters at which derivatives are checked
    #: batch of global minimisers (n, n_params) for the min_sharpness check, or None (no closed form)
    minimisers: Callable[[Objective, np.random.Generator], np.ndarray] | None = None
    extra: dict = field(default_factory=dict)


def _lin(depth: int, whitened: bool) -> LinearNetwork:
    X = data.whitened_inputs(3, 6, rng=1) if whitened else data.general_covariance_inputs(3, 6, rng=1, condition=5.0)
    Y = data.teacher_targets(X, k=2, rng=2, scale=1.5)
    return LinearNetwork(X, Y, (3,) + (3,) * (depth - 1) + (2,))


def _mlp(activation: str, bias: bool) -> MLP:
    X = data.whitened_inputs(2, 4, rng=3)
    Y = data.teacher_targets(X, k=1, rng=4)
    return MLP(X, Y, (2, 3, 2, 1), activation=activation, bias=bias)


def _scalar_minimisers(f: DeepScalarLinear, rng: np.random.Generator) -> np.ndarray:
    """Random points of {prod w = y} (all sign patterns) plus the balanced one."""
    L, y = f.depth, f.target
    u = rng.normal(scale=0.6, size=(400, L))
    u -= u.mean(axis=1, keepdims=True)
    w = np.exp(u + np.log(abs(y)) / L) * np.sign(rng.standard_normal((400, L)))
    w[:, -1] *= np.sign(y) * np.prod(np.sign(w), axis=1)
    return np.concatenate([w, f.balanced_minimiser()[None]])


def _polynomial_minimisers(f: Polynomial1D, rng: np.random.Generator) -> np.ndarray:
    """Global minimisers by a dense grid search refined with Newton steps (independent of ``minimisers()``)."""
    x = np.linspace(-4.0, 4.0, 80001)
    vals = f.loss(x[:, None])
    cand = x[vals <= vals.min() + 1e-9][:, None]
    for _ in range(50):
        cand = cand - f.grad(cand) / np.where(f.hvp(cand, np.ones_like(cand)) != 0, f.hvp(cand, np.ones_like(cand)), 1.0)
    return cand


def _quadratic_minimisers(f: Quadratic, rng: np.random.Generator) -> np.ndarray:
    evals, evecs = np.linalg.eigh(f.A)
    kernel = evecs[:, np.abs(evals) < 1e-12]
    return f.center + rng.standard_normal((20, kernel.shape[1])) @ kernel.T


def _linear_minimisers(f: LinearNetwork, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([f.random_minimiser(rng=rng, spread=0.7, size=(30,)), f.balanced_minimiser()[None]])


CASES = [
    Case("quadratic-pd", lambda: Quadratic(np.array([[2.0, 0.5], [0.5, 1.0]]), center=[1, -1]), minimisers=_quadratic_minimisers),
    Case("quadratic-singular", lambda: Quadratic(np.diag([0.0, 3.0, 1.0])), minimisers=_quadratic_minimisers),
    Case("quadratic-indefinite", lambda: Quadratic(np.diag([-5.0, 1.0, 3.0]))),
    Case("quadratic-negative-definite", lambda: Quadratic(-np.eye(2))),
    Case("polynomial-quartic", lambda: Polynomial1D([0, 0, 0, 0, 0.25]), minimisers=_polynomial_minimisers),
    Case("polynomial-double-well", lambda: Polynomial1D([0.25, 0, -0.5, 0, 0.25]), minimisers=_polynomial_minimisers),
    Case("polynomial-unequal-wells", lambda: Polynomial1D([0, 0, 1, -2, 2, -2, 1]), minimisers=_polynomial_minimisers),
    Case("polynomial-trailing-zero", lambda: Polynomial1D([1, -2, 1, 0]), minimisers=_polynomial_minimisers),
    Case("scalar-depth1", lambda: DeepScalarLinear(1, 2.0), minimisers=_scalar_minimisers),
    Case("scalar-depth2", lambda: DeepScalarLinear(2, 1.0), minimisers=_scalar_minimisers),
    Case("scalar-depth3-negative-target", lambda: DeepScalarLinear(3, -1.5), minimisers=_scalar_minimisers),
    Case("scalar-depth5", lambda: DeepScalarLinear(5, 0.7), minimisers=_scalar_minimisers),
    Case("scalar-factorisation-depth1", lambda: ScalarFactorisation(1, 2.0), minimisers=_scalar_minimisers),
    Case("scalar-factorisation-depth3-negative-target", lambda: ScalarFactorisation(3, -1.5), minimisers=_scalar_minimisers),
    Case("scalar-factorisation-depth5", lambda: ScalarFactorisation(5, 0.7), minimisers=_scalar_minimisers),
    Case("linear-2-whitened", lambda: _lin(2, True), minimisers=_linear_minimisers),
    Case("linear-3-whitened", lambda: _lin(3, True), minimisers=_linear_minimisers),
    Case("linear-3-general", lambda: _lin(3, False)),
    *[Case(f"mlp-{a}-{'bias' if b else 'nobias'}", (lambda a=a, b=b: _mlp(a, b))) for a in MLP.ACTIVATIONS for b in (False, True)],
]
IDS = [c.name for c in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest) -> tuple[Case, Objective]:
    c = request.param
    return c, c.make()


def _points(f: Objective, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.8, size=shape + (f.n_params,))


# --------------------------------------------------------------------------- shapes and batching


@pytest.mark.parametrize("batch", [(), (3,), (2, 3), (0,), (0, 2)])
def test_shapes_on_batches(case, batch: tuple[int, ...]) -> None:
    _, f = case
    n = f.n_params
    w = _points(f, batch)
    assert f.loss(w).shape == batch
    assert f.grad(w).shape == batch + (n,)
    assert f.hvp(w, w).shape == batch + (n,)
    assert f.hessian(w).shape == batch + (n, n)
    for out in (f.loss(w), f.grad(w), f.hvp(w, w), f.hessian(w)):
        assert out.dtype == np.float64


@pytest.mark.parametrize("batch", [(), (3,), (0,)])
def test_loss_and_grad_are_loss_and_grad_bit_for_bit(case, batch: tuple[int, ...]) -> None:
    """``descent.run`` and the PL ratio take loss and gradient from ``loss_and_grad``: same bits."""
    _, f = case
    w = _points(f, batch)
    loss, grad = f.loss_and_grad(w)
    assert np.array_equal(loss, f.loss(w)) and np.array_equal(grad, f.grad(w))


def test_batched_equals_one_at_a_time(case) -> None:
    _, f = case
    w = _points(f, (2, 3))
    v = _points(f, (2, 3), seed=1)
    for i in np.ndindex(2, 3):
        np.testing.assert_allclose(f.loss(w)[i], f.loss(w[i]), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(f.grad(w)[i], f.grad(w[i]), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(f.hvp(w, v)[i], f.hvp(w[i], v[i]), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(f.hessian(w)[i], f.hessian(w[i]), rtol=1e-12, atol=1e-13)


def test_w_and_v_broadcast(case) -> None:
    _, f = case
    w = _points(f, (4,))
    v = _points(f, (), seed=2)
    full = f.hvp(w, np.broadcast_to(v, w.shape))
    np.testing.assert_allclose(f.hvp(w, v), full, rtol=1e-13, atol=1e-14)
    one = f.hvp(w[0], _points(f, (3,), seed=3))
    assert one.shape == (3, f.n_params)
    with pytest.raises(ValueError, match="w .* and v .* do not broadcast"):
        f.hvp(_points(f, (3,)), _points(f, (4,)))


def test_ints_and_lists(case) -> None:
    _, f = case
    w = np.arange(f.n_params) % 3 - 1  # ints in {-1, 0, 1}
    assert f.loss(w.tolist()) == f.loss(w.astype(float))
    np.testing.assert_array_equal(f.grad(w.tolist()), f.grad(w.astype(float)))
    np.testing.assert_array_equal(f.hvp(w.tolist(), np.ones(f.n_params, dtype=int).tolist()), f.hvp(w.astype(float), np.ones(f.n_params)))


# --------------------------------------------------------------------------- derivatives


def test_grad_and_hvp_match_finite_differences(case) -> None:
    c, f = case
    rng = np.random.default_rng(5)
    w = _points(f, (3,), seed=4) * c.scale
    d = rng.standard_normal((3, f.n_params))
    h = 1e-5
    fd_grad = (f.loss(w + h * d) - f.loss(w - h * d)) / (2 * h)
    np.testing.assert_allclose(np.sum(f.grad(w) * d, axis=-1), fd_grad, rtol=1e-6, atol=1e-7)
    fd_hvp = (f.grad(w + h * d) - f.grad(w - h * d)) / (2 * h)
    np.testing.assert_allclose(f.hvp(w, d), fd_hvp, rtol=1e-5, atol=1e-6)


def test_hessian_symmetric_and_consistent_with_hvp(case) -> None:
    _, f = case
    w = _points(f, (2,), seed=6)
    v = _points(f, (2,), seed=7)
    H = f.hessian(w)
    np.testing.assert_array_equal(H, np.swapaxes(H, -1, -2))
    np.testing.assert_allclose(np.einsum("...ij,...j->...i", H, v), f.hvp(w, v), rtol=1e-11, atol=1e-12)


def test_sharpness_methods_agree_including_negative_curvature(case) -> None:
    """The top *algebraic* eigenvalue, also where the Hessian's most negative eigenvalue dominates."""
    _, f = case
    w = _points(f, (3,), seed=8)
    ev = np.linalg.eigvalsh(f.hessian(w))
    dense = curvature.sharpness(f, w, method="dense")
    np.testing.assert_allclose(dense, ev[..., -1], rtol=1e-12, atol=1e-12)
    power = curvature.top_eigenpair(f, w, method="power", tol=1e-12, iters=20000)
    gap_ok = (ev[..., -1] - ev[..., -2] > 1e-3) if f.n_params > 1 else np.ones(3, bool)
    np.testing.assert_allclose(power.value[gap_ok], ev[gap_ok, -1], rtol=1e-6, atol=1e-8)


def test_negative_curvature_is_reported_where_it_exists() -> None:
    """Points with an indefinite Hessian: saddles of the scalar network and an indefinite quadratic."""
    f = DeepScalarLinear(2, 1.0)
    H = f.hessian(np.zeros(2))  # [[0, -1], [-1, 0]]
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [-1.0, 1.0], atol=1e-15)
    q = Quadratic(-np.eye(3))
    assert float(curvature.sharpness(q, np.ones(3), method="power")) == pytest.approx(-1.0, abs=1e-12)
    assert float(curvature.sharpness(q, np.ones(3), method="dense")) == -1.0


# --------------------------------------------------------------------------- flattest minimiser


def test_min_sharpness_against_a_dense_search(case) -> None:
    c, f = case
    if c.minimisers is None:
        with pytest.raises((NotImplementedError, ValueError)):
            f.min_sharpness()
        return
    lam_star = f.min_sharpness()
    mins = c.minimisers(f, np.random.default_rng(9))
    np.testing.assert_allclose(f.grad(mins), 0.0, atol=1e-8)
    lam = curvature.sharpness(f, mins, method="dense")
    assert lam.min() >= lam_star * (1 - 1e-9) - 1e-12, f"{c.name}: a minimiser is flatter than min_sharpness()"
    assert lam.min() <= lam_star * (1 + 1e-6) + 1e-12, f"{c.name}: the search found no minimiser as flat as min_sharpness()"


# --------------------------------------------------------------------------- huge values, validation


@pytest.mark.parametrize("value", [1e200, -1e200, 1e300, np.inf, np.nan])
def test_huge_or_nonfinite_parameters_give_clean_values(case, value: float) -> None:
    _, f = case
    w = np.full((2, f.n_params), value)
    w[1] = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, g, hv, H = f.loss(w), f.grad(w), f.hvp(w, np.ones(f.n_params)), f.hessian(w)
        lam = curvature.sharpness(f, w)
    assert np.isfinite(loss[1]) and np.all(np.isfinite(g[1])) and np.all(np.isfinite(hv[1])) and np.isfinite(lam[1])
    for out in (loss[0], g[0], hv[0], H[0], lam[0]):
        assert np.asarray(out).dtype == np.float64


def test_invalid_parameters_are_refused_by_name(case) -> None:
    _, f = case
    n = f.n_params
    for bad, name in ((np.ones(n + 1), "w"), (np.ones(n) * 1j, "w"), ("w", "w"), (None, "w"), (1.0, "w")):
        with pytest.raises(ValueError, match=name):
            f.grad(bad)
    with pytest.raises(ValueError, match="v"):
        f.hvp(np.ones(n), np.ones(n + 1))


def test_every_objective_class_is_covered() -> None:
    """A new Objective subclass must be added to CASES (and so pass the battery)."""
    def subclasses(cls: type) -> set[type]:
        out = set(cls.__subclasses__())
        return out.union(*(subclasses(s) for s in out)) if out else out

    public = {c for c in subclasses(Objective) if c.__module__.startswith("gdlab") and not c.__name__.startswith("_")}
    covered = {type(c.make()) for c in CASES}
    assert public <= covered, f"objectives without a conformance case: {sorted(c.__name__ for c in public - covered)}"
    assert obj.Objective is Objective
