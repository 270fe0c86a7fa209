"""Tests of gdlab.tubular_runs: the lean scalar GD loop, record schedules, tubular traces and the three regimes in brief."""
from __future__ import annotations


import numpy as np
import pytest

from gdlab import dynamics, manifold
from gdlab import tubular_runs as R
from gdlab.descent import run
from gdlab.objectives import DeepScalarLinear


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


@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
def test_scalar_gd_equals_the_old_loop_bit_for_bit(name: str) -> None:
    """scalar_gd is descent.run on ScalarFactorisation: the same iterates, NaNs and flags as the loop it replaced."""
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


def test_scalar_gd_policy_where_it_differs_from_the_old_loop() -> None:
    """Two edge cases where run's one policy is now applied (the old loop differed, on purpose):
    a start beyond ``blowup`` is flagged at step 0, and a blow-up after the last check but before the
    last record is caught by run's check at the last record."""
    res = R.scalar_gd(np.array([[2e6, 1.0], [1.0, 1.0]]), 0.1, 1.0, 10, blowup=1e6)
    assert res.diverged.tolist() == [True, False] and np.isnan(res.params[:, 0]).all()
    res = R.scalar_gd(np.array([[40.0, 40.0, 40.0]]), 1.0, 1.0, 5000, record=[0, 1, 3])
    assert res.diverged.tolist() == [True] and np.isnan(res.params[-1]).all()
    assert not _reference_scalar_gd(np.array([[40.0, 40.0, 40.0]]), 1.0, 1.0, 5000, [0, 1, 3])[2].any()


def test_scalar_gd_matches_descent_run() -> None:
    rng = np.random.default_rng(0)
    w0 = 1 + 0.1 * rng.normal(size=(3, 4, 5))
    eta = np.array([0.1, 0.3, 0.41])[:, None]
    ours = R.scalar_gd(w0, eta, 1.0, 300, record=[0, 7, 300])
    ref = run(DeepScalarLinear(5, 1.0), w0, eta, steps=300)
    assert ours.params.shape == (3, 3, 4, 5)
    assert np.allclose(ours.params, ref.params[[0, 7, 300]], rtol=1e-10, atol=1e-12)
    assert not ours.diverged.any()


def test_scalar_gd_flags_divergence_and_masks_later_records() -> None:
    w0 = np.array([[1.05, 1.0], [3.0, 3.0]])
    res = R.scalar_gd(w0, np.array([0.5, 0.5]), 1.0, 3000, record=[0, 1, 2500, 3000])
    assert res.diverged.tolist() == [False, True]
    assert np.all(np.isfinite(res.params[:, 0])) and np.all(np.isnan(res.params[2:, 1]))  # 2500, 3000 are after the check
    assert np.allclose(res.params[0, 1], [3.0, 3.0])


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


def test_tubular_trace_and_exit_step_subcritical() -> None:
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


def test_supercritical_two_cycle_against_series() -> None:
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
