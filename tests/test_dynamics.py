"""Tests of gdlab.dynamics: rate and power-law fits, period-2 detection, run classification."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import dynamics
from gdlab.descent import run, sweep
from gdlab.objectives import DeepScalarLinear, Polynomial1D


@settings(max_examples=30)
@given(rate=st.floats(0.05, 1.5), c=st.floats(0.01, 100.0), sign=st.sampled_from([-1.0, 1.0]))
def test_linear_rate_recovers_exact_geometric_sequences(rate: float, c: float, sign: float) -> None:
    t = np.arange(0, 40, dtype=float)
    v = sign * c * rate**t * (-1.0) ** t  # alternating signs are fitted through |v|
    fit = dynamics.fit_linear_rate(v, steps=t)
    assert fit.rate == pytest.approx(rate, rel=1e-9)
    assert np.exp(fit.intercept) == pytest.approx(c, rel=1e-9)
    assert fit.stderr < 1e-9


@settings(max_examples=30)
@given(p=st.floats(-3.0, 1.0), c=st.floats(0.01, 100.0))
def test_power_law_recovers_exact_power_laws(p: float, c: float) -> None:
    t = np.arange(1, 500, dtype=float)
    fit = dynamics.fit_power_law(c * t**p, t)
    assert fit.exponent == pytest.approx(p, abs=1e-9)
    assert fit.prefactor == pytest.approx(c, rel=1e-8)


def test_fits_are_batched_windowed_and_skip_zeros() -> None:
    t = np.arange(30.0)
    v = np.stack([0.9**t, 2.0 * 0.5**t, np.zeros(30)], axis=1)
    v[10, 0] = 0.0  # skipped
    fit = dynamics.fit_linear_rate(v, window=(5, 25))
    np.testing.assert_allclose(fit.rate[:2], [0.9, 0.5], rtol=1e-10)
    assert np.isnan(fit.rate[2])
    assert fit.window == (5, 25)
    noisy = 0.8**t * np.exp(0.05 * np.random.default_rng(0).standard_normal(30))
    nfit = dynamics.fit_linear_rate(noisy)
    assert abs(np.log(nfit.rate) - np.log(0.8)) < 4 * nfit.stderr
    assert nfit.stderr > 0


def test_rate_fit_on_gd_for_a_quadratic() -> None:
    # GD on x^2/2 * a with step eta contracts by |1 - eta a| per step
    f = Polynomial1D([0.0, 0.0, 1.5])  # f'' = 3
    traj = run(f, np.array([1.0]), 0.5, steps=40)
    fit = dynamics.fit_linear_rate(traj.grad_norm, steps=traj.steps)
    assert fit.rate == pytest.approx(0.5, rel=1e-10)


def test_detect_period_two_on_gd() -> None:
    # depth-2 scalar net: eta slightly above 2/min sharpness = 1 settles on a 2-cycle
    f = DeepScalarLinear(2)
    traj = run(f, np.array([[1.3, 0.8], [1.0, 1.0]]), np.array([1.05, 0.5]), steps=4000)
    res = dynamics.detect_period_two(traj.params)
    assert res.is_period_two.tolist() == [True, False]
    p = traj.params[-2:, 0]
    assert res.amplitude[0] == pytest.approx(0.5 * np.linalg.norm(p[1] - p[0]))
    np.testing.assert_allclose(res.centre[0], p.mean(axis=0))
    assert res.amplitude[0] > 1e-3


def test_detect_period_two_rejects_fixed_points_and_nan() -> None:
    assert not dynamics.detect_period_two(np.ones((5, 2))).is_period_two
    x = np.array([1.0, -1.0, 1.0, np.nan])
    assert not dynamics.detect_period_two(x).is_period_two
    assert not dynamics.detect_period_two(np.array([1.0, 2.0, 3.0, 4.0])).is_period_two


def test_classify_runs_labels_every_regime() -> None:
    f = DeepScalarLinear(2)
    etas = np.array([0.5, 1.05, 3.0])
    res = sweep(f, etas, np.array([[1.3, 0.8]]), steps=4000)
    classes = dynamics.classify_runs(f, res)
    assert classes.labels[:, 0].tolist() == [dynamics.CONVERGED, dynamics.PERIOD_TWO, dynamics.DIVERGED]
    assert classes.fraction("period-2").tolist() == [0.0, 1.0, 0.0]
    assert np.isnan(classes.amplitude[0, 0]) and classes.amplitude[1, 0] > 0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: dynamics.fit_linear_rate([1.0]), "values"),
        (lambda: dynamics.fit_linear_rate([1.0, 2.0, 3.0], steps=[0, 1]), "steps"),
        (lambda: dynamics.fit_linear_rate([1.0, 2.0, 3.0], window=(0, 1)), "window"),
        (lambda: dynamics.fit_linear_rate([1.0, 2.0, 3.0], window="all"), "window"),
        (lambda: dynamics.fit_power_law([1.0, 2.0, 3.0], [0, 1, 2]), "steps"),
        (lambda: dynamics.fit_power_law([1.0, 2.0, 3.0], None), "steps"),
        (lambda: dynamics.detect_period_two(np.ones((3, 2))), "traj"),
        (lambda: dynamics.detect_period_two(np.ones((5, 2)), rtol=-1.0), "rtol"),
    ],
)
def test_validation_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def test_detect_period_two_accepts_zero_tolerances() -> None:
    """Bug: rtol = 0 / atol = 0 (exact comparison, meaningful) were refused."""
    res = dynamics.detect_period_two(np.array([0.3, -0.3, 0.3, -0.3]), rtol=0.0, atol=0.0)
    assert bool(res.is_period_two)
    assert not dynamics.detect_period_two(np.array([0.3, -0.3, 0.3, -0.30000001]), rtol=0.0, atol=0.0).is_period_two


def test_fit_standard_errors_match_an_independent_regression() -> None:
    """The slope's standard error uses n - 2 degrees of freedom (checked against scipy.stats.linregress)."""
    from scipy.stats import linregress

    rng = np.random.default_rng(3)
    t = np.arange(1.0, 13.0)
    v = 0.8**t * np.exp(0.1 * rng.standard_normal(t.size))
    ref = linregress(t, np.log(v))
    fit = dynamics.fit_linear_rate(v, steps=t)
    assert fit.rate == pytest.approx(np.exp(ref.slope), rel=1e-12)
    assert fit.stderr == pytest.approx(ref.stderr, rel=1e-10)
    p = 3.0 * t**-0.7 * np.exp(0.1 * rng.standard_normal(t.size))
    ref = linregress(np.log(t), np.log(p))
    pfit = dynamics.fit_power_law(p, steps=t)
    assert pfit.exponent == pytest.approx(ref.slope, rel=1e-12)
    assert pfit.stderr == pytest.approx(ref.stderr, rel=1e-10)
