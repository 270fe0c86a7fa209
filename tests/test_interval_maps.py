"""Tests of gdlab.interval_maps: 1-D GD maps, orbit diagrams, least periods, Lyapunov exponents."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gdlab import interval_maps as maps
from gdlab.objectives import Polynomial1D, Quadratic

DOUBLE_WELL = Polynomial1D([0.25, 0.0, -0.5, 0.0, 0.25])


@given(st.floats(-2.0, 2.0), st.floats(0.01, 3.0))
def test_map_derivative_matches_finite_difference(x, eta):
    h = 1e-6
    g = lambda z: z - eta * (z**3 - z)
    fd = (g(x + h) - g(x - h)) / (2 * h)
    assert float(maps.map_derivative(DOUBLE_WELL, np.array([x]), eta)) == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_orbit_diagram_shapes_and_fixed_point():
    d = maps.orbit_diagram(DOUBLE_WELL, [0.3, 0.6, 0.9], [0.5, 1.5], transient=3000, keep=40)
    assert d.points.shape == (3, 2, 40) and d.lyapunov.shape == (3, 2)
    assert np.allclose(np.abs(d.points), 1.0, atol=1e-10)  # the minimisers are x = +1 and x = -1
    # at the fixed point the Lyapunov exponent is log|1 - 2 eta|
    assert np.allclose(d.lyapunov, np.log(np.abs(1 - 2 * d.step_sizes))[:, None], atol=1e-8)
    assert (d.periods() == 1).all()


def test_orbit_diagram_period_doubling_sequence():
    """Fixed point below eta = 1, 2-cycle up to sqrt(5) - 1, then a 4-cycle."""
    d = maps.orbit_diagram(DOUBLE_WELL, [0.9, 1.1, 1.2, 1.25], [1.2], transient=5000, keep=64)
    assert d.periods(max_period=16).ravel().tolist() == [1, 2, 2, 4]
    assert (d.lyapunov < 0).all()


def test_chaos_has_positive_lyapunov_exponent_and_no_period():
    d = maps.orbit_diagram(DOUBLE_WELL, [1.9], [0.3], transient=1000, keep=4000)
    assert d.lyapunov[0, 0] > 0.3
    assert d.periods(max_period=64)[0, 0] == 0


def test_divergence_is_masked_without_warnings():
    quartic = Polynomial1D([0, 0, 0, 0, 0.25])
    d = maps.orbit_diagram(quartic, [1.0], [0.5, 2.0], transient=100, keep=10)
    assert d.diverged.tolist() == [[False, True]]
    assert np.isnan(d.points[0, 1]).all() and np.isnan(d.lyapunov[0, 1])
    assert np.isfinite(d.points[0, 0]).all()


def test_least_period_examples_and_nan():
    t = np.arange(12)
    pts = np.stack([np.full(12, 3.0), np.where(t % 2 == 0, 1.0, -1.0), np.sin(2 * np.pi * t / 3), np.sqrt(t + 1.0)])
    pts = np.vstack([pts, np.full(12, np.nan)])
    assert maps.least_period(pts, max_period=5).tolist() == [1, 2, 3, 0, 0]


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="objective"):
        maps.orbit_diagram(Quadratic(np.eye(2)), [0.5], [1.0])
    with pytest.raises(ValueError, match="step_sizes"):
        maps.orbit_diagram(DOUBLE_WELL, [-0.5], [1.0])
    with pytest.raises(ValueError, match="inits"):
        maps.orbit_diagram(DOUBLE_WELL, [0.5], [[1.0]])
    with pytest.raises(ValueError, match="keep"):
        maps.orbit_diagram(DOUBLE_WELL, [0.5], [1.0], keep=0)
    with pytest.raises(ValueError, match="points"):
        maps.least_period(np.zeros(4), max_period=4)
    with pytest.raises(ValueError, match="step_size"):
        maps.map_derivative(DOUBLE_WELL, np.array([1.0]), 0.0)


def test_least_period_accepts_zero_tolerance() -> None:
    """Bug: tol = 0 (exact periodicity, meaningful) was refused."""
    assert maps.least_period(np.array([1.0, 2.0, 1.0, 2.0, 1.0]), max_period=2, tol=0).tolist() == 2
    assert maps.least_period(np.array([1.0, 2.0, 1.0, 2.0 + 1e-15, 1.0]), max_period=2, tol=0).tolist() == 0


def test_orbit_diagram_is_descent_run() -> None:
    """orbit_diagram is a thin use of descent.run: its points are run's iterates bit for bit."""
    from gdlab.descent import run

    etas, inits = np.array([0.5, 1.1, 1.3]), np.array([1.2, -0.3])
    d = maps.orbit_diagram(DOUBLE_WELL, etas, inits, transient=500, keep=8)
    traj = run(DOUBLE_WELL, np.broadcast_to(inits[None, :, None], (3, 2, 1)), np.broadcast_to(etas[:, None], (3, 2)), 507)
    np.testing.assert_array_equal(d.points, np.moveaxis(traj.params[500:, ..., 0], 0, -1))
