"""Tests of gdlab.averaged: the exact orbits of the continuous averaged model of chapter 5."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from gdlab import averaged as A


def test_docstring_examples() -> None:
    assert doctest.testmod(A).failed == 0


@settings(derandomize=True, max_examples=40, deadline=None)
@given(eps=st.floats(-0.05, 0.05), d0=st.floats(0.0, 0.05), r0=st.floats(1e-8, 1e-2), s=st.floats(0.0, 3.0))
def test_orbit_solves_the_reparametrised_ode(eps: float, d0: float, r0: float, s: float) -> None:
    m = A.AveragedModel(step_size=0.4, epsilon=eps, nu=4.0, c=22.4)
    h = 1e-5
    (d_m, d_p), (r_m, r_p) = A.orbit(m, d0, r0, [s - h, s + h])
    d, r = A.orbit(m, d0, r0, s)
    assert abs((d_p - d_m) / (2 * h) + 0.4 * 4.0 * d) < 1e-6
    assert abs((r_p - r_m) / (2 * h) - 2 * (0.4 * d + eps - 22.4 * r)) < 1e-5


def test_subcritical_limit_is_the_zero_of_r_and_matches_a_direct_integration() -> None:
    m = A.AveragedModel(step_size=0.398, epsilon=-0.01, nu=4.0, c=22.4)
    d0, r0 = np.array([0.02, 0.04]), np.array([1e-6, 1e-4])
    d_inf = A.subcritical_limit(m, d0, r0)
    assert np.all(d_inf < d0) and np.all(0.398 * d_inf - 0.01 < 0)      # ends stable: eta*lambda < 2
    for i in range(2):                                                   # integrate in t, not s
        rhs = lambda t, z: [-0.398 * 4.0 * z[1] * z[0], 2 * z[1] * (0.398 * z[0] - 0.01 - 22.4 * z[1])]  # noqa: E731
        sol = solve_ivp(rhs, (0, 1e5), [d0[i], r0[i]], method="LSODA", rtol=1e-11, atol=1e-16)
        assert abs(sol.y[0, -1] / d_inf[i] - 1) < 1e-6 and sol.y[1, -1] < 1e-12


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="epsilon < 0"):
        A.subcritical_limit(A.AveragedModel(0.4, 0.01, 4.0, 22.4), 0.02, 1e-6)
    with pytest.raises(ValueError, match="nu"):
        A.AveragedModel(0.4, 0.0, -1.0, 22.4)
    with pytest.raises(ValueError, match="r0"):
        A.orbit(A.AveragedModel(0.4, 0.0, 4.0, 22.4), 0.02, 0.0, 1.0)
