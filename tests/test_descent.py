"""Tests of gdlab.descent: run/sweep agreement, divergence masking, recorded fields, validation."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data
from gdlab.descent import critical_step_size, gd_map, run, sweep
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Polynomial1D, Quadratic

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run_grid(f, etas, inits, steps):
    batch = np.broadcast_to(inits, (len(etas),) + inits.shape)
    return run(f, batch, np.asarray(etas)[:, None], steps)


@settings(max_examples=8)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 5), chunk=st.integers(1, 40))
def test_sweep_equals_run_bit_for_bit_on_scalar_networks(seed: int, depth: int, chunk: int) -> None:
    rng = np.random.default_rng(seed)
    f = DeepScalarLinear(depth, float(rng.uniform(0.5, 2.0)))
    etas = np.sort(rng.uniform(0.01, 1.2 * critical_step_size(f), 6))
    inits = rng.uniform(0.2, 1.6, (5, depth))
    steps = 300
    res = sweep(f, etas, inits, steps, tail=20, check_every=7, keep_last=3, chunk_size=chunk)
    traj = _run_grid(f, etas, inits, steps)
    ok = ~res.diverged & ~traj.diverged
    np.testing.assert_array_equal(res.final_params[ok], traj.params[-1][ok])
    np.testing.assert_array_equal(res.last_params[:, ok], traj.params[-3:][:, ok])
    np.testing.assert_array_equal(res.final_loss[ok], traj.loss[-1][ok])
    tail_mean = traj.grad_norm[-21:-1].mean(axis=0)
    np.testing.assert_allclose(res.grad_norm[ok], tail_mean[ok], rtol=1e-12, atol=1e-300)


def test_sweep_equals_run_on_polynomial_bitwise() -> None:
    f = Polynomial1D([0.0, 0.0, -0.5, 0.0, 0.25])  # double well, f'' = 2 at the minima
    etas = np.array([0.3, 0.9, 1.1, 1.3])
    inits = np.array([[0.5], [1.7], [-0.2]])
    res = sweep(f, etas, inits, 500, chunk_size=5)
    traj = _run_grid(f, etas, inits, 500)
    np.testing.assert_array_equal(res.final_params, traj.params[-1])


@pytest.mark.parametrize("kind", ["quadratic", "linear", "mlp"])
def test_sweep_agrees_with_run_on_matrix_models(kind: str) -> None:
    rng = np.random.default_rng(4)
    if kind == "quadratic":
        A = rng.standard_normal((4, 4))
        f = Quadratic(A @ A.T)
        inits = rng.standard_normal((3, 4))
    elif kind == "linear":
        X = data.whitened_inputs(3, 6, rng=1)
        f = LinearNetwork(X, data.teacher_targets(X, 2, rng=2), (3, 3, 2))
        inits = f.random_minimiser(rng=3, size=(3,)) + 0.1 * rng.standard_normal((3, f.n_params))
    else:
        X, Y = rng.standard_normal((2, 5)), rng.standard_normal((1, 5))
        f = MLP(X, Y, (2, 4, 1), "softplus", bias=True)
        inits = f.random_params(rng=5, size=(3,))
    etas = np.array([0.01, 0.05, 0.1])
    res = sweep(f, etas, inits, 400, chunk_size=4)
    traj = _run_grid(f, etas, inits, 400)
    np.testing.assert_array_equal(res.diverged, traj.diverged)
    ok = ~res.diverged
    assert ok.sum() >= 6
    np.testing.assert_allclose(res.final_params[ok], traj.params[-1][ok], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps, check_every", [(200, 10), (200, 1), (57, 5), (12, 3)])
def test_runs_at_exact_fixed_points_are_retired_without_changing_results(steps: int, check_every: int) -> None:
    # eta = 1 on x^2/2 reaches the minimiser 0 in one step; eta = 0.5 on the double well converges
    # (to a floating-point fixed point) after a few dozen steps; others keep moving or diverge
    f = Polynomial1D([0.0, 0.0, 0.5, 0.0, 0.01])
    etas = np.array([1.0, 0.5, 0.05, 1.9, 30.0])
    inits = np.array([[0.7], [-1.3], [2.0]])
    res = sweep(f, etas, inits, steps, tail=10, check_every=check_every, keep_last=4, chunk_size=4)
    traj = _run_grid(f, etas, inits, steps)
    ok = ~res.diverged
    assert ok.sum() >= 9 and res.diverged[-1].all()
    np.testing.assert_array_equal(res.final_params[ok], traj.params[-1][ok])
    np.testing.assert_array_equal(res.last_params[:, ok], traj.params[-4:][:, ok])
    np.testing.assert_allclose(res.grad_norm[ok], traj.grad_norm[-11:-1].mean(axis=0)[ok], rtol=1e-12, atol=0)
    slow = sweep(f, etas, inits, steps, tail=10, check_every=check_every, keep_last=4, retire_fixed_points=False)
    np.testing.assert_array_equal(slow.final_params[ok], res.final_params[ok])
    np.testing.assert_array_equal(slow.last_params[:, ok], res.last_params[:, ok])


def test_chunking_does_not_change_results() -> None:
    f = DeepScalarLinear(3)
    rng = np.random.default_rng(0)
    etas, inits = np.linspace(0.1, 1.2, 7), rng.uniform(0.3, 1.5, (11, 3))
    a = sweep(f, etas, inits, 400, chunk_size=3)
    b = sweep(f, etas, inits, 400)
    np.testing.assert_array_equal(a.final_params, b.final_params)
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    np.testing.assert_array_equal(a.diverged, b.diverged)


def test_divergence_is_masked_without_warnings() -> None:
    # x^4/4 overflows to inf and NaN within a few steps at a large step size (pytest.ini turns
    # any RuntimeWarning into an error, so a leaked overflow warning fails this test)
    f = Polynomial1D([0, 0, 0, 0, 0.25])
    res = sweep(f, [0.1, 50.0], np.array([[1.0], [3.0]]), steps=300, check_every=100)
    assert res.diverged.tolist() == [[False, False], [True, True]]
    assert np.isnan(res.grad_norm[1]).all() and np.isnan(res.final_loss[1]).all()
    assert np.isnan(res.final_params[1]).all() and np.isnan(res.last_params[:, 1]).all()
    assert np.isfinite(res.grad_norm[0]).all()
    np.testing.assert_array_equal(res.diverged_fraction, [0.0, 1.0])
    traj = run(f, np.array([[1.0], [3.0]]), np.array([0.1, 50.0]), steps=50, sharpness_every=10)
    assert traj.diverged.tolist() == [False, True]
    assert np.isnan(traj.loss[-1, 1]) and np.isnan(traj.sharpness[-1, 1]) and np.isfinite(traj.sharpness[-1, 0])


def test_sweep_phase_transition_at_the_critical_step_size() -> None:
    f = DeepScalarLinear(3)
    eta_star = critical_step_size(f)
    rng = np.random.default_rng(1)
    inits = np.exp(rng.normal(0, 0.05, (8, 3)))
    res = sweep(f, [0.5 * eta_star, 1.1 * eta_star], inits, 4000)
    assert res.converged(1e-8)[0].all()
    assert not res.converged(1e-8)[1].any()


def test_keep_last_options() -> None:
    f = DeepScalarLinear(2)
    inits = np.array([[1.2, 0.7]])
    res = sweep(f, [0.3], inits, 3, tail=1, keep_last=4)
    traj = run(f, inits, 0.3, 3)
    np.testing.assert_array_equal(res.last_params[:, 0, 0], traj.params[:, 0])
    assert sweep(f, [0.3], inits, 3, tail=1, keep_last=0).last_params is None


def test_run_records_and_sharpness() -> None:
    f = DeepScalarLinear(2)
    traj = run(f, np.array([1.5, 0.5]), 0.2, steps=20, record_every=5, sharpness_every=10)
    assert traj.steps.tolist() == [0, 5, 10, 15, 20]
    assert traj.sharpness_steps.tolist() == [0, 10, 20]
    assert traj.params.shape == (5, 2) and traj.loss.shape == (5,)
    np.testing.assert_allclose(traj.grad_norm, np.linalg.norm(f.grad(traj.params), axis=-1))
    from gdlab.curvature import sharpness

    np.testing.assert_allclose(traj.sharpness, sharpness(f, traj.params[[0, 2, 4]]), rtol=1e-12)
    assert run(f, np.array([1.5, 0.5]), 0.2, steps=3, keep_params=False).params is None
    chosen = run(f, np.array([1.5, 0.5]), 0.2, steps=20, sharpness_at=[3, 7])
    assert chosen.sharpness_steps.tolist() == [3, 7]
    np.testing.assert_allclose(chosen.sharpness, sharpness(f, chosen.params[[3, 7]]), rtol=1e-12)
    with pytest.raises(ValueError, match="sharpness_at"):
        run(f, np.array([1.5, 0.5]), 0.2, steps=20, sharpness_at=[30])


def test_gd_map_and_critical_step_size() -> None:
    f = DeepScalarLinear(3, target=8.0)
    w = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gd_map(f, w, 0.01), w - 0.01 * f.grad(w))
    assert critical_step_size(f) == pytest.approx(2 / (3 * 8.0 ** (4 / 3)))
    X = data.whitened_inputs(2, 4, rng=0)
    net = LinearNetwork(X, data.teacher_targets(X, 2, rng=1), (2, 2, 2))
    s1 = np.linalg.svd(net.least_squares_solution(), compute_uv=False)[0]
    assert critical_step_size(net) == pytest.approx(1 / s1)


def test_progress_bar_only_when_asked(capsys) -> None:
    f = DeepScalarLinear(2)
    sweep(f, [0.1], np.ones((1, 2)), steps=10, tail=1, progress=None)
    sweep(f, np.full(300, 0.1), np.ones((300, 2)), steps=3000, tail=1)  # large, but stderr is not a terminal
    assert "GD sweep" not in capsys.readouterr().err
    sweep(f, [0.1], np.ones((1, 2)), steps=10, tail=1, progress=True)
    assert "GD sweep" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda f: sweep(f, [0.1, -0.1], np.ones((1, 2)), 10), "step_sizes"),
        (lambda f: sweep(f, [0.1, np.nan], np.ones((1, 2)), 10), "step_sizes"),
        (lambda f: sweep(f, [np.inf], np.ones((1, 2)), 10), "step_sizes"),
        (lambda f: sweep(f, [[0.1]], np.ones((1, 2)), 10), "step_sizes"),
        (lambda f: sweep(f, [0.1], np.ones((1, 3)), 10), "inits"),
        (lambda f: sweep(f, [0.1], np.ones(2), 10), "inits"),
        (lambda f: sweep(f, [0.1], np.ones((1, 2)), 0), "steps"),
        (lambda f: sweep(f, [0.1], np.ones((1, 2)), 10, tail=11), "tail"),
        (lambda f: sweep(f, [0.1], np.ones((1, 2)), 10, check_every=0), "check_every"),
        (lambda f: sweep(f, [0.1], np.ones((1, 2)), 10, blowup=-1.0), "blowup"),
        (lambda f: sweep(f, [0.1], np.ones((1, 2)), 10, tail=1, keep_last=12), "keep_last"),
        (lambda f: sweep(f, [0.1], np.ones((1, 2)), 10, tail=1, chunk_size=0), "chunk_size"),
        (lambda f: run(f, np.ones(2), 0.0, 10), "step_size"),
        (lambda f: run(f, np.ones(2), np.nan, 10), "step_size"),
        (lambda f: run(f, np.ones((3, 2)), np.ones(2), 10), "step_size"),
        (lambda f: run(f, np.ones(3), 0.1, 10), "w0"),
        (lambda f: run(f, np.array([np.nan, 1.0]), 0.1, 10), "w0"),
        (lambda f: run(f, np.ones(2), 0.1, -1), "steps"),
        (lambda f: run(f, np.ones(2), 0.1, 10, record_every=0), "record_every"),
        (lambda f: gd_map(f, np.ones(2), -1.0), "step_size"),
    ],
)
def test_validation_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call(DeepScalarLinear(2))


def test_benchmark_script_runs_on_a_tiny_problem(tmp_path: pathlib.Path) -> None:
    """``benchmarks/bench_sweep.py`` on a tiny problem, in a process of its own: with the optional JAX extra
    installed, JAX's threads would otherwise live on in this test worker, which later forks (the chapter
    executor of tests/test_execute_chapters.py), and JAX warns that a fork may then deadlock."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_sweep.py"), "--steps", "200", "--n-eta", "5",
                           "--n-init", "4", "--subset", "3", "--subset-floats", "5", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["runs"] == 20 and report["sweep_seconds"] > 0
    assert "ratio" in proc.stdout


# --------------------------------------------------------------------------- issue 10: bugs found by fuzzing


def test_critical_step_size_without_minimiser_or_curvature() -> None:
    """Bugs: critical_step_size gave -2 for Quadratic(-I) and ZeroDivisionError for Quadratic(0)."""
    with pytest.raises(ValueError, match="no global minimiser"):
        critical_step_size(Quadratic(-np.eye(2)))
    assert critical_step_size(Quadratic(np.zeros((2, 2)))) == np.inf
    with pytest.raises(TypeError, match="objective"):
        critical_step_size("quadratic")


@pytest.mark.parametrize("make", ["linear", "mlp"])
def test_run_on_a_zero_size_batch(make: str) -> None:
    """Bug: run failed on a (0, n_params) batch of networks."""
    X = data.whitened_inputs(2, 4, rng=0)
    Y = data.teacher_targets(X, 1, rng=1)
    net = LinearNetwork(X, Y, (2, 3, 1)) if make == "linear" else MLP(X, Y, (2, 3, 1))
    traj = run(net, np.zeros((0, net.n_params)), 0.1, steps=3)
    assert traj.loss.shape == (4, 0) and traj.params.shape == (4, 0, net.n_params)


# --------------------------------------------------------------------------- issue 10: one GD engine


@pytest.mark.parametrize("make", [lambda: DeepScalarLinear(4, 1.5), lambda: Polynomial1D([0.25, 0, -0.5, 0, 0.25]), lambda: Quadratic(np.diag([1.0, 3.0]))])
def test_run_iterates_are_those_of_the_plain_loop_bit_for_bit(make) -> None:
    """The in-place parameter-major path (DeepScalarLinear, Polynomial1D) changes no bit of w - eta grad(w)."""
    f = make()
    rng = np.random.default_rng(1)
    w = 1 + 0.2 * rng.standard_normal((3, 2, f.n_params))
    eta = np.array([[0.05], [0.2], [0.31]])
    traj = run(f, w, eta, steps=50, record_at=[0, 17, 50])
    ref = [w]
    for _ in range(50):
        ref.append(ref[-1] - eta[..., None] * f.grad(ref[-1]))
    np.testing.assert_array_equal(traj.params, np.stack([ref[0], ref[17], ref[50]]))
    np.testing.assert_array_equal(traj.steps, [0, 17, 50])
    g = f.grad(ref[50])
    np.testing.assert_array_equal(traj.grad_norm[-1], np.sqrt(np.einsum("...i,...i->...", g, g)))


def test_run_record_at_and_check_every() -> None:
    f = Polynomial1D([0, 0, 0, 0, 0.25])  # x^4/4: diverges from x0 = 3 with eta = 1
    traj = run(f, [[0.5], [3.0]], 1.0, steps=40, record_at=[0, 1, 2, 39, 40], blowup=1e6, check_every=10)
    assert traj.diverged.tolist() == [False, True]
    # the run blew up at step 3 (|x| > 1e6), the check at step 10 caught it: later records are NaN, earlier are iterates
    np.testing.assert_array_equal(traj.params[:3, 1, 0], [3.0, 3.0 - 27.0, (3.0 - 27.0) - (3.0 - 27.0) ** 3])
    assert np.all(np.isnan(traj.params[3:, 1])) and np.all(np.isnan(traj.loss[3:, 1]))
    assert np.all(np.isfinite(traj.params[:, 0]))
    for bad in ([41], [-1], [0.5], "a", [[1, 2]]):
        with pytest.raises(ValueError, match="record_at"):
            run(f, [0.5], 0.1, steps=40, record_at=bad)
    with pytest.raises(ValueError, match="check_every"):
        run(f, [0.5], 0.1, steps=40, check_every=0)


# --------------------------------------------------------------------------- an objective with its own GD increment


def test_run_steps_scalar_factorisation_by_its_own_increment() -> None:
    """run on ScalarFactorisation iterates gd_map bit for bit, with the quotient arithmetic (eta (P - y)) (P / w)."""
    from gdlab.objectives import ScalarFactorisation

    f = ScalarFactorisation(4, 1.5)
    rng = np.random.default_rng(3)
    w = 1.1 + 0.1 * rng.normal(size=(2, 3, 4))
    eta = np.array([0.05, 0.2, 0.3])
    traj = run(f, w, eta, 40, record_at=[0, 17, 40])
    cur = w.copy()
    for t in range(41):
        if t in (0, 17, 40):
            assert np.array_equal(traj.params[[0, 17, 40].index(t)], cur)
        prod = np.prod(cur, axis=-1, keepdims=True)
        step = eta[:, None] * (prod - 1.5) * (prod / cur)
        assert np.array_equal(gd_map(f, cur, eta), cur - step)
        cur = cur - step
    np.testing.assert_array_equal(traj.loss, f.loss(traj.params))
    np.testing.assert_allclose(traj.grad_norm, np.linalg.norm(f.grad(traj.params), axis=-1), rtol=1e-14)
    # the same run on DeepScalarLinear (prefix/suffix products) agrees to rounding, not bit for bit
    other = run(DeepScalarLinear(4, 1.5), w, eta, 40, record_at=[0, 17, 40])
    np.testing.assert_allclose(other.params, traj.params, rtol=1e-12)
    lean = run(f, w, eta, 40, record_at=[0, 17, 40], keep_params=False)
    assert lean.params is None and np.array_equal(lean.loss, traj.loss)


def test_run_flags_a_run_that_leaves_the_objective_domain() -> None:
    """ScalarFactorisation's domain excludes zero entries: a run reaching one is flagged at the next check."""
    from gdlab.objectives import ScalarFactorisation

    f = ScalarFactorisation(1, 0.0)  # w - eta (w - 0) (w / w): eta = 1 sends every start to 0 in one step
    traj = run(f, np.array([[2.0], [3.0]]), np.array([1.0, 0.5]), 3, check_every=1)
    assert traj.diverged.tolist() == [True, False]
    assert np.isnan(traj.params[1:, 0]).all() and traj.params[0, 0, 0] == 2.0
    assert traj.params[3, 1, 0] == 3.0 / 8
    flat = run(DeepScalarLinear(1, 0.0), np.array([[2.0]]), 1.0, 3)  # the same map, no domain: 0 is a minimiser
    assert not flat.diverged.any() and flat.params[-1, 0, 0] == 0.0


def test_run_records_non_finite_parameters_as_nan() -> None:
    """Between a blow-up and the check that catches it, recorded parameters are huge or NaN, never inf."""
    traj = run(Polynomial1D([0, 0, 0, 0, 0.25]), np.array([[30.0]]), 1.0, 10, check_every=10)
    assert traj.diverged.all() and not np.isinf(traj.params).any()
    assert np.isnan(traj.params[-1]).all() and np.isfinite(traj.params[:2]).all()


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_run_record_loss_from_the_gradient_work_is_loss_bit_for_bit(depth: int) -> None:
    """On the parameter-major path run takes a record's loss from the residual _grad_T left in its work buffers
    (DeepScalarLinear._loss_T_from_work): the same bits as loss() at the recorded point, and the same until_loss
    stopping steps."""
    f = DeepScalarLinear(depth, 1.3)
    rng = np.random.default_rng(depth)
    w0 = 1.0 + 0.2 * rng.normal(size=(3, 2, depth))
    w0[2] += 1.0
    eta = np.array([0.05 / depth, 0.2 / depth, 2.5])[:, None]      # the last row diverges
    traj = run(f, w0, eta, 300, record_every=1)
    assert traj.diverged[2].all() and not traj.diverged[:2].any(), "the test lost its divergent runs"
    finite = ~traj.diverged
    np.testing.assert_array_equal(traj.loss[:, finite], f.loss(traj.params[:, finite]))
    work: dict = {}
    wT = np.ascontiguousarray(np.moveaxis(w0, -1, 0))
    f._grad_T(wT, out=np.empty_like(wT), work=work)
    np.testing.assert_array_equal(f._loss_T_from_work(work), f.loss(w0))
    assert f._loss_T_from_work({}) is None and Polynomial1D([0, 0, 1])._loss_T_from_work(work) is None
    stop = run(f, w0[:2], eta[:2], 300, until_loss=1e-6)
    first = np.argmax(traj.loss[:, :2] < 1e-6, axis=0).astype(float)
    first[~(traj.loss[:, :2] < 1e-6).any(axis=0)] = np.inf
    np.testing.assert_array_equal(stop.reached_at, first)
