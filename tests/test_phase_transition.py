"""Tests of gdlab.phase_transition: onset fits, the balanced 2-cycle, predicted and observed critical step sizes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import phase_transition as tr
from gdlab.descent import sweep
from gdlab.objectives import DeepScalarLinear


@settings(max_examples=25, deadline=None)
@given(
    beta=st.floats(0.2, 2.0),
    C=st.floats(0.1, 10.0),
    eta_star=st.floats(0.05, 5.0),
)
def test_fit_onset_recovers_exact_power_law(beta: float, C: float, eta_star: float) -> None:
    etas = eta_star * (1 + np.geomspace(1e-3, 1e-1, 11))
    fit = tr.fit_onset(etas, C * (etas - eta_star) ** beta, eta_star)
    assert fit.exponent == pytest.approx(beta, rel=1e-9)
    assert fit.prefactor == pytest.approx(C, rel=1e-8)
    assert fit.n_points == 11 and fit.window == (1e-3, 1e-1)


def test_fit_onset_window_and_median() -> None:
    etas = 1 + np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    g = np.sqrt(etas - 1)
    g[0], g[-1] = 100.0, 100.0  # outside the window: must be ignored
    runs = np.stack([g, g, np.full_like(g, np.nan)], axis=1)  # NaN (diverged) runs ignored by the median
    fit = tr.fit_onset(etas, runs, 1.0, window=(1e-3, 1e-1))
    assert fit.n_points == 3
    assert fit.exponent == pytest.approx(0.5, rel=1e-9)


def test_fit_onset_bad_arguments() -> None:
    etas = 1 + np.geomspace(1e-3, 1e-1, 5)
    with pytest.raises(ValueError, match="window"):
        tr.fit_onset(etas, np.sqrt(etas - 1), 1.0, window=(0.1, 0.01))
    with pytest.raises(ValueError, match="usable"):
        tr.fit_onset(etas, np.sqrt(etas - 1), 1.0, window=(0.5, 0.9))
    with pytest.raises(ValueError, match="grad_norm"):
        tr.fit_onset(etas, np.ones(3), 1.0)
    with pytest.raises(ValueError, match="critical_step_size"):
        tr.fit_onset(etas, np.ones(5), -1.0)


def test_balanced_onset_depth_two_closed_form() -> None:
    # f = (xy - 1)^2 / 2: the 2-cycle has ||grad f|| ~ sqrt(2 eta - 2), i.e. C = sqrt 2, eta* = 1
    onset = tr.balanced_onset(2, 1.0)
    assert onset.critical_step_size == pytest.approx(1.0)
    assert onset.coefficient == pytest.approx(np.sqrt(2.0), rel=1e-14)
    assert (onset.a2, onset.a3) == (-3.0, -1.0)


@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("target", [0.5, 1.0, 3.0])
def test_balanced_onset_matches_exact_cycle(depth: int, target: float) -> None:
    onset = tr.balanced_onset(depth, target)
    assert onset.min_sharpness == pytest.approx(DeepScalarLinear(depth, target).min_sharpness())
    eta = onset.critical_step_size * (1 + 1e-5)
    g = tr.balanced_cycle_grad_norm(depth, target, [eta])[0]
    assert g == pytest.approx(onset.coefficient * np.sqrt(eta - onset.critical_step_size), rel=1e-3)


@pytest.mark.parametrize("depth", [2, 4])
def test_balanced_cycle_is_the_gd_attractor(depth: int) -> None:
    # GD from a point near the balanced line settles on the computed 2-cycle
    f = DeepScalarLinear(depth, 1.0)
    eta_star = 2 / f.min_sharpness()
    etas = eta_star * np.array([1.01, 1.05])
    w0 = np.array([[1.05] + [0.97] * (depth - 1)])
    res = sweep(f, etas, w0, steps=20000, tail=1000)
    exact = tr.balanced_cycle_grad_norm(depth, 1.0, etas)
    np.testing.assert_allclose(res.grad_norm[:, 0], exact, rtol=1e-6)


def test_balanced_cycle_below_critical_is_zero() -> None:
    out = tr.balanced_cycle_grad_norm(3, 1.0, [0.1, 2 / 3 * 0.999])
    assert np.all(out == 0.0)


def test_grad_norm_quantiles_ignores_diverged() -> None:
    f = DeepScalarLinear(2, 1.0)
    inits = np.array([[1.2, 0.9], [30.0, 30.0]])  # the second run diverges at eta = 0.5
    res = sweep(f, [0.5, 3.0], inits, steps=2000)
    assert res.diverged[0].tolist() == [False, True] and res.diverged[1].all()
    q = tr.grad_norm_quantiles(res, [0.5, 0.9])
    assert q.shape == (2, 2)
    assert np.all(q[:, 0] < 1e-10)
    assert np.all(np.isnan(q[:, 1]))
    with pytest.raises(ValueError, match="q"):
        tr.grad_norm_quantiles(res, [1.5])


def test_predict_critical_step_size_scalar() -> None:
    # GD at a small step from near-balanced points converges to minima of sharpness ~2 (flattest is 2)
    f = DeepScalarLinear(2, 1.0)
    rng = np.random.default_rng(0)
    inits = np.exp(0.1 * rng.standard_normal((8, 2)))
    pred = tr.predict_critical_step_size(f, inits, 0.1, 3000)
    assert pred.converged.all()
    # every limit is a minimiser x y = 1 with sharpness x^2 + y^2 >= 2
    assert np.all(pred.sharpness >= 2.0 - 1e-9)
    assert pred.critical_step_size <= 1.0 + 1e-9
    assert pred.critical_step_size == pytest.approx(2 / np.min(pred.sharpness))
    assert pred.critical_step_size_median <= pred.critical_step_size


def test_predict_critical_step_size_needs_convergence() -> None:
    f = DeepScalarLinear(2, 1.0)
    with pytest.raises(ValueError, match="no run converged"):
        tr.predict_critical_step_size(f, np.array([[0.5, 3.0]]), 1e-4, 2)
    with pytest.raises(ValueError, match="step_size"):
        tr.predict_critical_step_size(f, np.array([[0.5, 3.0]]), -1.0, 2)


def test_observed_transition() -> None:
    etas = np.array([1.0, 2.0, 3.0, 4.0])
    assert tr.observed_transition(etas, [1.0, 0.8, 0.2, 0.0]) == pytest.approx(2.5)
    assert tr.observed_transition(etas, [0.2, 0.0, 0.0, 0.0]) == 1.0
    assert np.isnan(tr.observed_transition(etas, [1.0, 1.0, 1.0, 0.9]))
    with pytest.raises(ValueError, match="increasing"):
        tr.observed_transition(etas[::-1], [1.0, 0.8, 0.2, 0.0])
    with pytest.raises(ValueError, match="level"):
        tr.observed_transition(etas, [1.0, 0.8, 0.2, 0.0], level=1.5)


def test_fit_onset_with_correction_removes_the_window_bias() -> None:
    # the exact balanced 2-cycle: the plain fit on [1e-3, 1e-1] is biased below 1/2, the corrected fit is not
    onset = tr.balanced_onset(3, 1.0)
    eta_star = onset.critical_step_size
    etas = eta_star * (1 + np.geomspace(1e-3, 1e-1, 13))
    g = tr.balanced_cycle_grad_norm(3, 1.0, etas)
    plain = tr.fit_onset(etas, g, eta_star)
    corrected = tr.fit_onset(etas, g, eta_star, correction=True)
    assert plain.exponent < 0.49 and np.isnan(plain.correction)
    assert abs(corrected.exponent - 0.5) < 2e-3
    assert corrected.prefactor == pytest.approx(onset.coefficient, rel=1e-2)
    assert corrected.correction < 0


def test_fit_onset_correction_exact_model() -> None:
    etas = 2.0 + np.geomspace(1e-3, 1e-1, 9)
    d = etas - 2.0
    fit = tr.fit_onset(etas, 3.0 * d**0.5 * np.exp(-4.0 * d), 2.0, window=(1e-4, 1.0), correction=True)
    assert (fit.exponent, fit.prefactor, fit.correction) == pytest.approx((0.5, 3.0, -4.0), rel=1e-9)


def test_observed_transition_interpolates_linearly_not_at_the_midpoint() -> None:
    """The crossing of level 0.5 between fractions 0.9 (eta = 2) and 0.3 (eta = 3) is at 2 + 0.4/0.6."""
    etas = np.array([1.0, 2.0, 3.0, 4.0])
    assert tr.observed_transition(etas, [1.0, 0.9, 0.3, 0.0]) == pytest.approx(2.0 + 2.0 / 3.0, rel=1e-14)
    assert tr.observed_transition(etas, [1.0, 0.9, 0.3, 0.0], level=0.8) == pytest.approx(2.0 + 1.0 / 6.0, rel=1e-14)


def test_fit_onset_corrected_standard_error_matches_an_independent_ols() -> None:
    """Standard error of beta in log g = log C + beta log d + c d: sigma^2 = RSS / (n - 3), cov = sigma^2 (A^T A)^-1 via QR."""
    rng = np.random.default_rng(4)
    etas = 1.0 + np.geomspace(1e-3, 1e-1, 11)
    d = etas - 1.0
    g = 2.0 * d**0.5 * np.exp(-3.0 * d + 0.02 * rng.standard_normal(d.size))
    fit = tr.fit_onset(etas, g, 1.0, correction=True)
    A = np.column_stack([np.ones(d.size), np.log(d), d])
    Qm, Rm = np.linalg.qr(A)
    coef = np.linalg.solve(Rm, Qm.T @ np.log(g))
    rss = float(np.sum((np.log(g) - A @ coef) ** 2))
    Rinv = np.linalg.inv(Rm)
    se = np.sqrt(rss / (d.size - 3) * (Rinv @ Rinv.T)[1, 1])
    assert fit.exponent == pytest.approx(coef[1], rel=1e-10)
    assert fit.exponent_stderr == pytest.approx(se, rel=1e-8)
    plain = tr.fit_onset(etas, g, 1.0)
    A2 = A[:, :2]
    c2, res2, *_ = np.linalg.lstsq(A2, np.log(g), rcond=None)
    se2 = np.sqrt(float(res2[0]) / (d.size - 2) * np.linalg.inv(A2.T @ A2)[1, 1])
    assert plain.exponent_stderr == pytest.approx(se2, rel=1e-8)


def test_balanced_onset_is_derived_once_per_pair() -> None:
    """balanced_onset caches its exact derivation per (depth, target): the cached result equals a fresh
    derivation, an int and a float target share the entry, and bad arguments are still rejected."""
    fresh = tr._balanced_onset.__wrapped__(4, 2.0)
    first = tr.balanced_onset(4, 2.0)
    assert first == fresh, "the cached onset differs from a fresh derivation"
    assert tr.balanced_onset(4, 2) is first and tr.balanced_onset(np.int64(4), 2.0) is first
    assert tr.balanced_onset(3, 2.0) is not first and tr.balanced_onset(3, 2.0).depth == 3
    with pytest.raises(ValueError, match="depth"):
        tr.balanced_onset(1, 2.0)
    with pytest.raises(ValueError, match="target"):
        tr.balanced_onset(3, -1.0)
