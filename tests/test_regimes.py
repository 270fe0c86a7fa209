"""Tests of gdlab.regimes: the lean scalar GD loop, record schedules, tubular traces and the three regimes in brief."""
from __future__ import annotations


import numpy as np
import pytest

from gdlab import dynamics, manifold
from gdlab import regimes as R
from gdlab.descent import run
from gdlab.objectives import DeepScalarLinear


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
