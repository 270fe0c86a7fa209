"""Tests of gdlab.lazy: kernel regression residuals, its flow time, early-stopping step counts, and
the lazy-regression statement of chapter 7 (positive initialisation = kernel regression)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data, lazy, pl_criterion as pl, initialisation
from gdlab.objectives import MLP, DeepScalarLinear, Quadratic


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


def _steps_to_loss_reference(objective, w0, step_size, level, max_steps):
    """The loop `lazy.steps_to_loss` had before it became `descent.run(..., until_loss=level)`: the reference."""
    w = objective._params(w0, "w0").copy()
    batch = w.shape[:-1]
    eta = np.broadcast_to(np.asarray(step_size, dtype=np.float64), batch)[..., None]
    count = np.full(batch, np.inf)
    dead = np.zeros(batch, dtype=bool)
    with np.errstate(all="ignore"):
        for k in range(max_steps + 1):
            f = np.asarray(objective.loss(w))
            dead |= ~np.isfinite(f)
            count = np.where(np.isinf(count) & ~dead & (f < level), float(k), count)
            if k == max_steps or np.all(np.isfinite(count) | dead):
                break
            w = np.where(dead[..., None], 0.0, w - eta * objective.grad(w))
    return count


def _reference_cases():
    rng = np.random.default_rng(5)
    X = data.linearly_independent_inputs(6, 5, rng=rng); Y = rng.choice([-1.0, 1.0], size=(1, 5))
    for bias in (False, True):
        net = MLP(X, Y, (6, 4, 4, 1), "tanh", bias=bias)
        W0 = net.random_params(rng=rng, size=(6,))
        # small steps reach the level; the last two (huge steps) diverge to a non-finite loss
        eta = np.array([0.05, 0.1, 0.2, 0.3, 80.0, 1e3])
        yield net, W0, eta, 0.05, 300
    deep = DeepScalarLinear(depth=3, target=1.0)
    W0 = rng.uniform(0.5, 1.5, size=(4, 3))
    yield deep, W0, np.array([0.05, 0.2, 0.7, 3.0]), 1e-6, 400   # converge, converge, oscillate, diverge
    q = Quadratic(np.diag([1.0, 0.1]))
    yield q, np.ones((3, 2)), np.array([0.5, 1.0, 2.5]), 1e-3, 500


def test_steps_to_loss_equals_the_reference_loop_bit_for_bit() -> None:
    """steps_to_loss is descent.run with until_loss: the same counts as the old loop, with reached,
    unreached and diverged runs in one batch (MLP with and without bias, deep scalar, quadratic)."""
    seen_inf = seen_finite = 0
    for objective, W0, eta, level, max_steps in _reference_cases():
        ref = _steps_to_loss_reference(objective, W0, eta, level, max_steps)
        got = lazy.steps_to_loss(objective, W0, eta, level, max_steps)
        np.testing.assert_array_equal(got, ref, err_msg=type(objective).__name__)
        seen_inf += int(np.isinf(ref).sum()); seen_finite += int(np.isfinite(ref).sum())
    assert seen_inf >= 3 and seen_finite >= 8    # the cases exercise both outcomes


def test_run_until_loss_stops_and_records_up_to_the_stop() -> None:
    from gdlab.descent import run
    q = Quadratic(np.eye(1))
    traj = run(q, np.array([[1.0], [1.0]]), np.array([0.5, 0.25]), 50, until_loss=np.array([0.5 * 0.25**2 + 1e-12, 0.4]))
    # run 0: f_k = 0.5 * 0.25**k -> k = 2; run 1: f_k = 0.5 * 0.75**(2k) < 0.4 at k = 1
    assert traj.reached_at.tolist() == [2.0, 1.0]
    assert traj.steps.tolist() == [0, 1, 2] and traj.loss.shape == (3, 2)
    np.testing.assert_array_equal(traj.params[-1, :, 0], [0.25, 0.75**2])
    assert run(q, np.array([1.0]), 0.5, 5).reached_at is None
    empty = run(q, np.array([1.0]), 0.5, 10, until_loss=1.0, record_at=[5])   # reached at step 0
    assert empty.reached_at == 0.0 and empty.steps.size == 0 and empty.loss.shape == (0,)
    with pytest.raises(ValueError, match="until_loss"):
        run(q, np.ones((2, 1)), 0.5, 5, until_loss=np.ones(3))


def test_mlp_loss_and_grad_are_those_of_loss_and_grad() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((3, 4)); Y = rng.standard_normal((2, 4))
    for act in MLP.ACTIVATIONS:
        for bias in (False, True):
            net = MLP(X, Y, (3, 5, 2), act, bias=bias)
            for shape in ((), (3,), (2, 2), (0,)):
                w = net.random_params(rng=rng, size=shape)
                f, g = net.loss_and_grad(w)
                np.testing.assert_array_equal(f, net.loss(w)); np.testing.assert_array_equal(g, net.grad(w))
                assert g.shape == shape + (net.n_params,)


def test_mlp_batched_derivatives_equal_single_ones_bit_for_bit() -> None:
    """The first layer's products run as one matrix product over the batch: every batch entry must get the
    bits it gets alone (the iterates of descent.run and the book's glued numbers depend on it)."""
    from gdlab import data as _data
    X, Y = _data.digits_subset(32, classes=(3, 8), rng=0)
    for bias in (False, True):
        net = MLP(X / np.linalg.norm(X, axis=0), Y, (64, 32, 32, 1), "tanh", bias=bias)
        W = net.random_params(rng=np.random.default_rng(7), size=(5, 3))
        f, g = net.loss_and_grad(W)
        for i in np.ndindex(5, 3):
            fi, gi = net.loss_and_grad(W[i])
            assert f[i] == fi and np.array_equal(g[i], gi), i
            np.testing.assert_array_equal(net.predict(W)[i], net.predict(W[i]))


def test_mlp_runs_are_computed_independently_of_the_batch() -> None:
    """MLP._runs_independent: the loss and gradient of a run do not depend on the other runs in the
    batch, bit for bit (what lets steps_to_loss drop finished runs), for sub-batches down to one run."""
    rng = np.random.default_rng(11)
    for widths, n in (((8, 6, 6, 1), 5), ((64, 32, 32, 1), 32), ((32, 16, 16, 1), 16)):
        X = rng.standard_normal((widths[0], n)); Y = rng.choice([-1.0, 1.0], size=(1, n))
        for act in MLP.ACTIVATIONS:
            net = MLP(X, Y, widths, act, bias=act == "sigmoid")
            assert net._runs_independent
            W = net.random_params(rng=rng, size=(24,))
            f, g = net.loss_and_grad(W)
            for sub in (slice(0, 1), slice(3, 4), slice(5, 17), slice(1, 24, 3)):
                fs, gs = net.loss_and_grad(np.ascontiguousarray(W[sub]))
                assert np.array_equal(fs, f[sub]) and np.array_equal(gs, g[sub]), (widths, act, sub)


def test_compacted_steps_to_loss_equals_descent_run() -> None:
    """For an MLP, steps_to_loss drops finished runs; its counts equal descent.run(until_loss=...)'s
    reached_at bit for bit, with reached, unreached and diverged runs in one batch of shape (2, 4)."""
    from gdlab.descent import run
    rng = np.random.default_rng(12)
    X = data.linearly_independent_inputs(10, 6, rng=rng); Y = rng.choice([-1.0, 1.0], size=(1, 6))
    net = MLP(X, Y, (10, 8, 8, 1), "tanh")
    W0 = net.random_params(rng=rng, size=(2, 4))
    eta = np.array([[0.02, 0.05, 0.1, 0.2], [0.01, 0.3, 50.0, 1e4]])
    level = 1e-2 * 0.5 * np.sum(Y**2)
    got = lazy.steps_to_loss(net, W0, eta, level, 300)
    ref = run(net, W0, eta, 300, until_loss=level, record_at=[0], keep_params=False,
              blowup=float(np.finfo(np.float64).max)).reached_at
    np.testing.assert_array_equal(got, ref)
    assert got.shape == (2, 4) and np.isinf(got).sum() >= 2 and np.isfinite(got).sum() >= 4, got
    np.testing.assert_array_equal(lazy.steps_to_loss(net, W0[0, 1], eta[0, 1], level, 300), ref[0, 1])
    with pytest.raises(ValueError, match="w0"):
        lazy.steps_to_loss(net, np.full(net.n_params, np.nan), 0.1, level, 3)


@pytest.mark.parametrize("every, max_steps, blowup", [(7, 300, 1e8), (25, 300, 1e8), (1, 40, 1e8), (25, 301, 2.0),
                                                      (200, 140, 1e8)])
def test_counts_read_every_k_steps_equal_those_of_a_recorded_trajectory(every: int, max_steps: int,
                                                                         blowup: float) -> None:
    """steps_to_loss(every=k, blowup=b) is the count read off descent.run(record_every=k, blowup=b)'s losses
    (first recorded step below the level, the last step included; inf for runs that never get there or
    diverge), for an MLP (runs dropped as they finish) and a Quadratic (descent.run itself)."""
    from gdlab.descent import run
    from gdlab.objectives import Quadratic
    rng = np.random.default_rng(13)
    X = data.linearly_independent_inputs(10, 6, rng=rng); Y = rng.choice([-1.0, 1.0], size=(1, 6))
    net = MLP(X, Y, (10, 8, 8, 1), "tanh")
    cases = [(net, net.random_params(rng=rng, size=(2, 4)), np.array([[0.02, 0.05, 0.1, 0.2], [0.01, 0.3, 50.0, 1e4]]),
              1e-2 * 0.5 * np.sum(Y**2)),
             (Quadratic(np.diag([1.0, 3.0])), rng.standard_normal((5, 2)), np.array([0.1, 0.3, 0.6, 0.69, 0.7]), 1e-4)]
    for objective, W0, eta, level in cases:
        traj = run(objective, W0, eta, max_steps, record_every=every, keep_params=False, blowup=blowup)
        hit = traj.loss < level
        ref = np.where(hit.any(axis=0), traj.steps[np.argmax(hit, axis=0)], np.inf)
        got = lazy.steps_to_loss(objective, W0, eta, level, max_steps, every=every, blowup=blowup)
        np.testing.assert_array_equal(got, ref)
        assert np.isinf(got).any() and np.isfinite(got).any(), got
        if every > 1:
            finite = got[np.isfinite(got)]
            assert np.all((finite % every == 0) | (finite == max_steps))
    net, W0, eta, level = cases[0]
    with pytest.raises(ValueError, match="every"):
        lazy.steps_to_loss(net, W0, eta, level, 3, every=0)
    if (every, max_steps) == (200, 140):  # the level read at the last step only: a count of 0 or 140
        assert set(lazy.steps_to_loss(net, W0, eta, level, max_steps, every=every).ravel()) <= {0.0, 140.0, np.inf}


def test_counts_read_every_k_steps_go_on_through_a_non_finite_loss() -> None:
    """With every > 1, as in a recorded run, only the parameter test ends a run; every = 1 (until_loss)
    also ends it at a non-finite loss. Huge weights overflow the loss but not the parameters."""
    from gdlab.descent import run
    net = MLP(np.eye(6), np.ones((1, 6)), (6, 1), "tanh")
    w0 = np.full((1, net.n_params), 1e160)
    traj = run(net, w0, 0.5, 1000, record_every=5, keep_params=False, blowup=float(np.finfo(np.float64).max))
    hit = traj.loss < 1e-3
    assert hit.any() and not np.isfinite(traj.loss[0]).all()
    ref = traj.steps[np.argmax(hit, axis=0)]
    np.testing.assert_array_equal(lazy.steps_to_loss(net, w0, 0.5, 1e-3, 1000, every=5), ref)
    assert np.isinf(lazy.steps_to_loss(net, w0, 0.5, 1e-3, 1000))
