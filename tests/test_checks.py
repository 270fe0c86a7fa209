"""Tests of gdlab._checks (argument validation shared by the public functions)."""
from __future__ import annotations


import numpy as np
import pytest

from gdlab import _checks


def test_positive_finite() -> None:
    np.testing.assert_array_equal(_checks.positive_finite([0.5, 2], "eta"), [0.5, 2.0])
    for bad in (0.0, -1.0, np.nan, np.inf, [], [1.0, -1.0], "x", None):
        with pytest.raises(ValueError, match="eta"):
            _checks.positive_finite(bad, "eta")


def test_positive_int() -> None:
    assert _checks.positive_int(np.int64(3), "n") == 3
    assert _checks.positive_int(0, "n", minimum=0) == 0
    for bad in (0, -2, 1.5, True, "3", None):
        with pytest.raises(ValueError, match="n must be an integer"):
            _checks.positive_int(bad, "n")


def test_finite_array_and_params() -> None:
    assert _checks.finite_array([[1, 2]], "A", ndim=2).dtype == np.float64
    with pytest.raises(ValueError, match="A must have 2"):
        _checks.finite_array([1, 2], "A", ndim=2)
    with pytest.raises(ValueError, match="A must contain only finite"):
        _checks.finite_array([1, np.nan], "A")
    with pytest.raises(ValueError, match="A must be an array"):
        _checks.finite_array("abc", "A")
    assert _checks.params(np.ones((2, 3)), 3).shape == (2, 3)
    for bad in (np.ones((2, 4)), 1.0):
        with pytest.raises(ValueError, match=r"w must have shape \(\.\.\., 3\)"):
            _checks.params(bad, 3)


def test_generator() -> None:
    g = np.random.default_rng(1)
    assert _checks.generator(g) is g
    assert _checks.generator(5).integers(100) == np.random.default_rng(5).integers(100)
    assert _checks.generator(None).integers(10**9) == np.random.default_rng(_checks.DEFAULT_SEED).integers(10**9)
    for bad in (1.5, "seed", True):
        with pytest.raises(ValueError, match="rng"):
            _checks.generator(bad)


def test_complex_strings_and_none_are_refused_by_name() -> None:
    """Complex input used to be truncated with a ComplexWarning; strings gave numpy's conversion message."""
    for bad in (1j, [1.0, 2j], "1.0", None, object()):
        with pytest.raises(_checks.ArgumentError, match="x must be"):
            _checks.as_float_array(bad, "x")
    err = _checks.ArgumentError("x")
    assert isinstance(err, ValueError) and isinstance(err, TypeError)
    assert _checks.as_float_array([True, 2], "x").tolist() == [1.0, 2.0]


def test_nonnegative_finite_accepts_zero() -> None:
    assert _checks.nonnegative_finite(0, "tol").tolist() == 0.0
    for bad in (-1e-300, np.nan, np.inf, []):
        with pytest.raises(ValueError, match="tol must be finite and >= 0"):
            _checks.nonnegative_finite(bad, "tol")


def test_finite_scalar_and_broadcast() -> None:
    assert _checks.finite_scalar(np.array([2]), "y") == 2.0
    for bad in ([1.0, 2.0], np.nan, "y"):
        with pytest.raises(ValueError, match="y must be a finite real number"):
            _checks.finite_scalar(bad, "y")
    with pytest.raises(ValueError, match=r"w of shape \(3, 2\) and v of shape \(4, 2\)"):
        _checks.broadcast(np.ones((3, 2)), np.ones((4, 2)), ("w", "v"))
    with pytest.raises(ValueError, match="rng"):
        _checks.generator(-1)
