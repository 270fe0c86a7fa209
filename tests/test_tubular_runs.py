"""Tests of gdlab.tubular_runs: the lean scalar GD loop, record schedules, tubular traces and the three regimes in brief."""
from __future__ import annotations


import numpy as np
import pytest

from gdlab import descent, dynamics, manifold
from gdlab import tubular_runs as R
from gdlab.descent import run
from gdlab.objectives import DeepScalarLinear, ScalarFactorisation


def _reference_scalar_gd(w0, step_size, target, steps, record=None, blowup=1e6):
    """The loop ``scalar_gd`` had before it became a use of ``descent.run`` (kept verbatim as the reference)."""
    y, w = float(target), np.array(w0, dtype=np.float64)
    batch = w.shape[:-1]
    eta = np.broadcast_to(np.asarray(step_size, dtype=np.float64), batch).copy()
    rec = np.arange(steps + 1) if record is None else np.unique(np.asarray(record, dtype=np.int64))
    out = np.empty((rec.size,) + w.shape)
    eta_col = eta[..., None]
    diverged = np.zeros(batch, dtype=bool)
    diverged_at = np.full(batch, steps + 1)
    j = 0
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            if t == rec[j]:
                out[j] = w
                j += 1
                if j == rec.size:
                    break
            prod = np.prod(w, axis=-1, keepdims=True)
            w -= eta_col * (prod - y) * (prod / w)
            if t % 1000 == 999 or t == steps - 1:
                bad = ~np.all(np.isfinite(w) & (np.abs(w) < blowup) & (w != 0), axis=-1)
                if bad.any():
                    diverged_at = np.where(bad & ~diverged, t + 1, diverged_at)
                    diverged |= bad
                    w[diverged] = 1.0
    out[rec.reshape((-1,) + (1,) * len(batch)) >= diverged_at] = np.nan
    out[~np.isfinite(out)] = np.nan
    return rec, out, diverged


_RNG = np.random.default_rng(20261128)
_W10 = R.initial_points(_RNG.normal(size=(10, 5)), 0.05, 1e-2, 1.0)
REFERENCE_CASES = {
    # chapter 5's shapes: a long run read on a log schedule, a bifurcation sweep read at its last four steps
    "supercritical-log-schedule": (_W10, 0.41, 1.0, 20000, R.record_schedule(20000, n_log=100)),
    "step-size-sweep-last-steps": (_W10, np.linspace(0.3, 0.5, 10), 1.0, 12000, np.arange(11997, 12001)),
    # chapter 4's shape: every step recorded, mixed convergent and divergent runs, a batch (3, 4)
    "every-step-mixed-divergence": (1 + 0.3 * _RNG.normal(size=(3, 4, 3)), np.array([0.2, 0.7, 1.5])[:, None], 2.0, 2500, None),
    "diverges-between-checks": (np.array([[1.05, 1.0], [3.0, 3.0]]), np.array([0.5, 0.5]), 1.0, 3000, [0, 1, 2500, 3000]),
    "overflow-to-inf-before-the-check": (np.array([[40.0, 40.0, 40.0]]), 1.0, 1.0, 1500, [0, 1, 2, 3, 4, 999, 1000, 1500]),
    "negative-target-depth1": (np.array([[0.5], [-2.0]]), 0.3, -1.0, 1000, None),
    "hits-zero-at-the-last-step": (np.array([2.0]), 1.0, 0.0, 1, None),  # depth 1, y = 0, eta = 1: w_1 = 0
    "hits-zero-then-nan": (np.array([2.0]), 1.0, 0.0, 5, None),
}


@pytest.fixture(params=["numpy", "compiled"])
def own_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Run a test with ``descent.run``'s numpy loop and again with its compiled loop (the same bits are expected);
    checks afterwards that the loop named was the one used."""
    calls: list[int] = []
    real = descent._own_kernel_run
    monkeypatch.setattr(descent, "_own_kernel_run", lambda *args: calls.append(1) or real(*args))
    monkeypatch.setattr(descent, "_own_kernel_loaded", False)
    monkeypatch.delenv("GDLAB_SWEEP_ENGINE", raising=False)
    if request.param == "compiled":
        pytest.importorskip("numba")
        monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 0)
        monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS_WARM", 0)
    else:
        monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 10**18)
    yield request.param
    assert bool(calls) == (request.param == "compiled"), f"the {request.param} loop was not the one used"


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_scalar_gd_equals_the_old_loop_bit_for_bit(name: str, own_loop: str) -> None:
    """scalar_gd is descent.run on ScalarFactorisation: the same iterates, NaNs and flags as the loop it replaced,
    with run's numpy loop and with its compiled loop."""
    w0, eta, y, steps, record = REFERENCE_CASES[name]
    rec, params, diverged = _reference_scalar_gd(w0, eta, y, steps, record)
    ours = R.scalar_gd(w0, eta, y, steps, record=record)
    assert np.array_equal(ours.steps, rec)
    assert ours.params.shape == params.shape
    assert np.array_equal(ours.params, params, equal_nan=True), f"{name}: iterates differ from the old loop"
    assert np.array_equal(ours.diverged, diverged), f"{name}: divergence flags differ from the old loop"


def test_reference_cases_exercise_every_branch() -> None:
    """The bit-for-bit cases above cover convergence, divergence, overflow to inf and an exact zero."""
    outcomes = {name: _reference_scalar_gd(*case[:4], case[4]) for name, case in REFERENCE_CASES.items()}
    assert not outcomes["supercritical-log-schedule"][2].any()
    assert 0 < outcomes["every-step-mixed-divergence"][2].sum() < 12
    assert outcomes["hits-zero-at-the-last-step"][2].all() and np.isnan(outcomes["hits-zero-at-the-last-step"][1][-1]).all()
    assert outcomes["hits-zero-then-nan"][1][1, 0] == 0.0  # the zero itself is a true iterate, recorded
    over = outcomes["overflow-to-inf-before-the-check"]
    assert over[2].all() and np.isnan(over[1][4]).all() and np.isfinite(over[1][:4]).all()  # step 4 overflowed


def test_scalar_gd_policy_where_it_differs_from_the_old_loop(own_loop: str) -> None:
    """Two edge cases where run's one policy is now applied (the old loop differed, on purpose):
    a start beyond ``blowup`` is flagged at step 0, and a blow-up after the last check but before the
    last record is caught by run's check at the last record."""
    res = R.scalar_gd(np.array([[2e6, 1.0], [1.0, 1.0]]), 0.1, 1.0, 10, blowup=1e6)
    assert res.diverged.tolist() == [True, False] and np.isnan(res.params[:, 0]).all()
    res = R.scalar_gd(np.array([[40.0, 40.0, 40.0]]), 1.0, 1.0, 5000, record=[0, 1, 3])
    assert res.diverged.tolist() == [True] and np.isnan(res.params[-1]).all()
    assert not _reference_scalar_gd(np.array([[40.0, 40.0, 40.0]]), 1.0, 1.0, 5000, [0, 1, 3])[2].any()


def test_scalar_gd_matches_descent_run(own_loop: str) -> None:
    rng = np.random.default_rng(0)
    w0 = 1 + 0.1 * rng.normal(size=(3, 4, 5))
    eta = np.array([0.1, 0.3, 0.41])[:, None]
    ours = R.scalar_gd(w0, eta, 1.0, 300, record=[0, 7, 300])
    ref = run(DeepScalarLinear(5, 1.0), w0, eta, steps=300)
    assert ours.params.shape == (3, 3, 4, 5)
    assert np.allclose(ours.params, ref.params[[0, 7, 300]], rtol=1e-10, atol=1e-12)
    assert not ours.diverged.any()


def test_scalar_gd_flags_divergence_and_masks_later_records(own_loop: str) -> None:
    w0 = np.array([[1.05, 1.0], [3.0, 3.0]])
    res = R.scalar_gd(w0, np.array([0.5, 0.5]), 1.0, 3000, record=[0, 1, 2500, 3000])
    assert res.diverged.tolist() == [False, True]
    assert np.all(np.isfinite(res.params[:, 0])) and np.all(np.isnan(res.params[2:, 1]))  # 2500, 3000 are after the check
    assert np.allclose(res.params[0, 1], [3.0, 3.0])


def test_compiled_loop_equals_numpy_loop_on_long_chaotic_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chapter 5's long runs read at rounding level: the compiled loop gives the numpy loop's bits over 10^5 steps
    of supercritical and critical runs, a batch of shape (2, 3), step sizes per run, and a divergent run."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(7)
    w0 = R.initial_points(rng.normal(size=(6, 5)), 0.1, 1e-3, 1.0).reshape(2, 3, 5)
    w0[1, 2] *= 1.6                                               # far from M at a large step size: diverges
    eta = np.array([[0.4, 0.41, 0.45], [0.398, 0.4, 0.5]])
    rec = np.union1d(R.record_schedule(10**5, n_log=300), np.arange(0, 10**5 + 1, 997))
    monkeypatch.delenv("GDLAB_SWEEP_ENGINE", raising=False)
    monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 10**18)
    monkeypatch.setattr(descent, "_own_kernel_loaded", False)
    ref = R.scalar_gd(w0, eta, 1.0, 10**5, record=rec)
    monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 0)
    ours = R.scalar_gd(w0, eta, 1.0, 10**5, record=rec)
    assert descent._own_kernel_loaded, "the compiled loop did not run"
    assert ref.diverged.tolist() == [[False] * 3, [False, False, True]], "the test lost its divergent run"
    assert np.array_equal(ours.params, ref.params, equal_nan=True), "compiled loop: iterates differ from numpy's"
    assert np.array_equal(ours.diverged, ref.diverged)
    traj = descent.run(ScalarFactorisation(5, 1.0), w0, eta, 3000, record_every=7, check_every=1)
    monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 10**18)
    monkeypatch.setattr(descent, "_own_kernel_loaded", False)
    traj_ref = descent.run(ScalarFactorisation(5, 1.0), w0, eta, 3000, record_every=7, check_every=1)
    for key in ("steps", "loss", "grad_norm", "params", "diverged"):
        assert np.array_equal(getattr(traj, key), getattr(traj_ref, key), equal_nan=True), key


def test_own_kernel_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """run picks the compiled loop only for ScalarFactorisation itself, without until_loss or sharpness, once the
    process's numpy-loop steps reach AUTO_OWN_KERNEL_STEPS (or when loaded); GDLAB_SWEEP_ENGINE=numpy forbids it."""
    pytest.importorskip("numba")

    class Sub(ScalarFactorisation):
        pass

    monkeypatch.delenv("GDLAB_SWEEP_ENGINE", raising=False)
    monkeypatch.setattr(descent, "_own_kernel_loaded", False)
    monkeypatch.setattr(descent, "_own_numpy_steps", 0)
    monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 1000)
    f = ScalarFactorisation(3, 1.0)
    assert not descent._use_own_kernel(Sub(3, 1.0), 10**6)
    assert not descent._use_own_kernel(DeepScalarLinear(3, 1.0), 10**6)
    assert not descent._use_own_kernel(f, 600) and descent._own_numpy_steps == 600
    assert descent._use_own_kernel(f, 400)                        # 600 + 400 steps: the kernel pays
    monkeypatch.setenv("GDLAB_SWEEP_ENGINE", "numpy")
    assert not descent._use_own_kernel(f, 10**6)
    monkeypatch.delenv("GDLAB_SWEEP_ENGINE")
    monkeypatch.setattr(descent, "_own_kernel_loaded", True)
    assert descent._use_own_kernel(f, descent.AUTO_OWN_KERNEL_STEPS_WARM)
    assert not descent._use_own_kernel(f, descent.AUTO_OWN_KERNEL_STEPS_WARM - 1)
    monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS", 0)
    monkeypatch.setattr(descent, "AUTO_OWN_KERNEL_STEPS_WARM", 0)
    spy: list[int] = []
    real = descent._own_kernel_run
    monkeypatch.setattr(descent, "_own_kernel_run", lambda *args: spy.append(1) or real(*args))
    w0 = np.array([[1.1, 0.9, 1.0]])
    descent.run(f, w0, 0.3, 50, until_loss=1e-6)
    descent.run(f, w0, 0.3, 50, sharpness_every=10)
    descent.run(Sub(3, 1.0), w0, 0.3, 50)
    assert not spy, "the compiled loop ran where it does not apply"
    descent.run(f, w0, 0.3, 50)
    assert spy == [1]


def test_record_schedule() -> None:
    sched = R.record_schedule(10**5, dense=10, n_log=50)
    assert sched[0] == 0 and sched[-1] == 10**5 and np.all(np.diff(sched) > 0)
    assert set(range(10)) <= set(sched.tolist()) and {99997, 99998, 99999} <= set(sched.tolist())
    with pytest.raises(ValueError, match="steps"):
        R.record_schedule(0)


def test_initial_points_have_prescribed_tubular_coordinates() -> None:
    rng = np.random.default_rng(1)
    w = R.initial_points(rng.normal(size=(6, 5)), 0.1, 1e-3, 2.0)
    pr = manifold.project(w, 2.0)
    assert np.allclose(pr.normal_coordinate, 1e-3, rtol=1e-9)
    u = np.log(pr.point / manifold.balanced_point(5, 2.0))
    assert np.allclose(np.linalg.norm(u, axis=-1), 0.1) and np.allclose(u.sum(axis=-1), 0, atol=1e-14)
    with pytest.raises(ValueError, match="directions"):
        R.initial_points(np.ones(5), 0.1, 0.0, 1.0)


def test_tubular_trace_and_exit_step_subcritical(own_loop: str) -> None:
    """Subcritical: the sharpness of the projection drops below 2/eta once and for all; theta_perp then decays at rate eta*lambda_inf - 1."""
    rng = np.random.default_rng(2)
    eta = 0.398
    w0 = R.initial_points(rng.normal(size=(2, 5)), np.sqrt(0.04 / 2), 1e-3, 1.0)
    steps = 30000
    res = R.scalar_gd(w0, eta, 1.0, steps, record=np.arange(0, steps + 1, 10))
    tr = R.tubular_trace(res)
    assert np.all(eta * (tr.sharpness_gap[0] + 5) > 2)
    tau = tr.exit_step()
    assert np.all((tau > 0) & (tau < steps))
    lam_inf = tr.sharpness_gap[-1] + 5
    assert np.all((lam_inf > 5) & (eta * lam_inf < 2))
    win = R.index_window(tr.steps, 15000, 25000)
    fit = dynamics.fit_linear_rate(np.abs(tr.normal), tr.steps, window=win)
    assert np.allclose(fit.rate, eta * lam_inf - 1, atol=2e-5)


def test_supercritical_two_cycle_against_series(own_loop: str) -> None:
    eps = 0.05
    eta = (2 + eps) / 5
    w0 = R.initial_points(np.array([1.0, -1.0, 0.5, 0.0, -0.5]), 0.02, 1e-2, 1.0)
    steps = 20000
    res = R.scalar_gd(w0, eta, 1.0, steps, record=R.record_schedule(steps, n_log=20))
    tr = R.tubular_trace(res)
    half, centre = tr.two_cycle()
    series = np.sqrt(35) / 28 * (np.sqrt(eps) - 3547 / 31360 * eps**1.5)
    assert abs(half - series) < eps**2.5
    assert tr.distance_to_flattest[-1] < 1e-10
    p2 = dynamics.detect_period_two(tr.normal[-4:])
    assert bool(p2.is_period_two)


def test_index_window_and_bad_inputs() -> None:
    assert R.index_window(np.array([0, 5, 10, 50]), 5, 50) == (1, 4)
    with pytest.raises(ValueError, match="fewer than two"):
        R.index_window(np.array([0, 5, 10]), 6, 9)
    with pytest.raises(ValueError, match="w0"):
        R.scalar_gd(np.array([1.0, 0.0]), 0.1, 1.0, 10)
    with pytest.raises(ValueError, match="step_size"):
        R.scalar_gd(np.ones((2, 3)), np.ones(3), 1.0, 10)
    with pytest.raises(ValueError, match="record"):
        R.scalar_gd(np.ones(3), 0.1, 1.0, 10, record=[0, 11])
    with pytest.raises(ValueError, match="run"):
        R.tubular_trace(np.ones(3))


def test_scalar_gd_rejects_nonpositive_blowup() -> None:
    """Bug: scalar_gd(blowup=0) flagged every run as diverged instead of rejecting the argument."""
    for blowup in (0, -1.0, np.nan):
        with pytest.raises(ValueError, match="blowup"):
            R.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, blowup=blowup)
