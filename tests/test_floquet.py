"""Tests of gdlab.floquet: the balanced 2-cycle of the scalar factorisation and its Floquet multipliers."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

from gdlab import floquet
from gdlab.objectives import DeepScalarLinear


def test_docstring_examples() -> None:
    assert doctest.testmod(floquet).failed == 0


@pytest.mark.parametrize(("p", "y"), [(2, 1.0), (3, 2.0), (5, 1.0), (6, 0.5)])
def test_cycle_and_multipliers_match_the_full_jacobian(p: int, y: float) -> None:
    lam_star = p * y ** (2 - 2 / p)
    eta = (2 + np.array([1e-3, 2e-2])) / lam_star
    cyc = floquet.balanced_two_cycle(p, y, eta)
    f = DeepScalarLinear(p, y)
    for i, e in enumerate(eta):
        hi, lo = cyc.points[i]
        step = lambda a: a - e * f.grad(a)                       # noqa: E731
        assert np.allclose(step(hi * np.ones(p)), lo, rtol=1e-12) and np.allclose(step(lo * np.ones(p)), hi, rtol=1e-12)
        jac = (np.eye(p) - e * f.hessian(lo * np.ones(p))) @ (np.eye(p) - e * f.hessian(hi * np.ones(p)))
        eig = np.sort(np.linalg.eigvals(jac).real)
        expected = np.sort([cyc.multiplier_line[i]] + [cyc.multiplier_transverse[i]] * (p - 1))
        assert np.allclose(eig, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [2, 3, 4, 5, 7])
def test_transverse_multiplier_leading_order(p: int) -> None:
    eps = np.array([1e-5, 1e-4])
    cyc = floquet.balanced_two_cycle(p, 1.0, (2 + eps) / p)
    slope = (1 - cyc.multiplier_transverse) / eps
    assert np.all(np.abs(slope * (p - 1) * (5 * p - 4) / 6 - 1) < 20 * eps)
    assert np.all(np.abs((1 - cyc.multiplier_line) / eps / 4 - 1) < 50 * np.sqrt(eps))


def test_no_cycle_at_or_below_the_critical_step() -> None:
    cyc = floquet.balanced_two_cycle(5, 1.0, [0.3, 0.4, 0.401])
    assert np.all(np.isnan(cyc.points[:2])) and np.all(np.isfinite(cyc.points[2]))
    assert cyc.points.shape == (3, 2) and cyc.points[2, 0] > cyc.points[2, 1]


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="depth"):
        floquet.balanced_two_cycle(1, 1.0, 0.5)
    with pytest.raises(ValueError, match="target"):
        floquet.line_jacobian(3, -1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="step_size"):
        floquet.line_jacobian(3, 1.0, 0.0, 1.0)
