"""Tests of gdlab.data: shapes, exact moment identities, determinism, validation."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data


@settings(max_examples=20)
@given(d=st.integers(1, 6), extra=st.integers(0, 10), seed=st.integers(0, 2**32 - 1))
def test_whitened_inputs_have_identity_second_moment(d: int, extra: int, seed: int) -> None:
    X = data.whitened_inputs(d, d + extra, rng=seed)
    assert X.shape == (d, d + extra)
    np.testing.assert_allclose(X @ X.T, np.eye(d), atol=1e-12)


def test_whitened_inputs_are_deterministic_and_seed_dependent() -> None:
    a = data.whitened_inputs(3, 7, rng=5)
    np.testing.assert_array_equal(a, data.whitened_inputs(3, 7, rng=np.random.default_rng(5)))
    assert not np.allclose(a, data.whitened_inputs(3, 7, rng=6))


@pytest.mark.parametrize("condition", [1.0, 10.0, 1e3])
def test_general_covariance_has_requested_condition(condition: float) -> None:
    X = data.general_covariance_inputs(4, 12, rng=0, condition=condition)
    ev = np.linalg.eigvalsh(X @ X.T)
    np.testing.assert_allclose(ev, np.geomspace(1.0, condition, 4), rtol=1e-10)


def test_general_covariance_accepts_a_given_covariance() -> None:
    sigma = np.array([[2.0, 0.5], [0.5, 1.0]])
    X = data.general_covariance_inputs(2, 5, rng=3, covariance=sigma)
    np.testing.assert_allclose(X @ X.T, sigma, atol=1e-12)
    with pytest.raises(ValueError, match="covariance"):
        data.general_covariance_inputs(2, 5, rng=3, covariance=-sigma)


def test_linearly_independent_inputs() -> None:
    X = data.linearly_independent_inputs(6, 4, rng=1)
    assert np.linalg.matrix_rank(X) == 4
    np.testing.assert_allclose(np.linalg.norm(X, axis=0), 1.0, rtol=1e-14)


def test_teacher_targets_recover_teacher_without_noise() -> None:
    X = data.general_covariance_inputs(3, 9, rng=2, condition=5.0)
    Y, T = data.teacher_targets(X, k=2, rng=2, return_teacher=True)
    W_ls = Y @ X.T @ np.linalg.inv(X @ X.T)
    np.testing.assert_allclose(W_ls, T, atol=1e-12)
    Y_low = data.teacher_targets(X, k=3, rng=2, rank=1)
    assert np.linalg.matrix_rank(Y_low) == 1
    Y_noisy = data.teacher_targets(X, k=2, rng=2, noise=0.1)
    assert not np.allclose(Y_noisy, Y)


def test_digits_subset_binary_and_one_hot() -> None:
    X, Y = data.digits_subset(30, classes=(0, 1), rng=0)
    assert X.shape == (64, 30) and Y.shape == (1, 30)
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert set(np.unique(Y)) == {-1.0, 1.0}
    X3, Y3 = data.digits_subset(30, classes=(2, 5, 7), rng=0, scaling="standardise")
    assert Y3.shape == (3, 30)
    np.testing.assert_array_equal(Y3.sum(axis=0), np.ones(30))
    np.testing.assert_allclose(X3.mean(axis=1), 0.0, atol=1e-12)
    Xa, _ = data.digits_subset(10)
    Xb, _ = data.digits_subset(10)
    np.testing.assert_array_equal(Xa, Xb)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: data.whitened_inputs(5, 3), "n"),
        (lambda: data.whitened_inputs(0, 3), "d"),
        (lambda: data.linearly_independent_inputs(2, 3), "n"),
        (lambda: data.general_covariance_inputs(2, 3, condition=0.5), "condition"),
        (lambda: data.teacher_targets(np.ones((2, 3)), k=0), "k"),
        (lambda: data.teacher_targets(np.ones((2, 3)), noise=-1.0), "noise"),
        (lambda: data.digits_subset(10, classes=(1, 1)), "classes"),
        (lambda: data.digits_subset(10, scaling="zscore"), "scaling"),
        (lambda: data.digits_subset(10**6), "n"),
        (lambda: data.whitened_inputs(2, 3, rng="seed"), "rng"),
    ],
)
def test_validation_names_the_argument(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def test_teacher_targets_rejects_nan_scale() -> None:
    """Bug: teacher_targets(scale=NaN) returned NaN targets silently."""
    X = data.whitened_inputs(2, 4, rng=0)
    for scale in (np.nan, np.inf, -1.0, 0.0):
        with pytest.raises(ValueError, match="scale"):
            data.teacher_targets(X, rng=0, scale=scale)


def test_experiment_results_found_from_outside_the_checkout(tmp_path):
    """A downloaded notebook run in an unrelated folder finds the results of the checkout gdlab comes from."""
    arrays, prov, path = data.experiment_results("ch3_mlp_digits.npz", start=tmp_path)
    assert path.parent.name == "data" and path.parent.parent.name == "chapters" and tmp_path not in path.parents
    assert prov and arrays
    with pytest.raises(FileNotFoundError, match="make experiments"):
        data.experiment_results("no_such_experiment.npz", start=tmp_path)


def test_digits_read_without_sklearn_equal_load_digits() -> None:
    """``data._digits`` reads scikit-learn's file directly (no sklearn import): the arrays of load_digits."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits

    digits, target = data._digits()
    reference = load_digits()
    assert digits.dtype == reference.data.dtype and np.array_equal(digits, reference.data)
    assert np.array_equal(target, reference.target) and target.dtype.kind == reference.target.dtype.kind == "i"
    assert not digits.flags.writeable and not target.flags.writeable
    code = "import sys; from gdlab import data; data.digits_parity(10); print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False", "reading the digits imported scikit-learn"


def test_digits_subset_all_of_the_classes() -> None:
    """``n=None``: every sample of the classes, in the data set's order (a mean image needs them all)."""
    from sklearn.datasets import load_digits

    reference = load_digits()
    pick = np.isin(reference.target, (3, 8))
    X, Y = data.digits_subset(None, classes=(3, 8))
    assert np.array_equal(X, reference.data[pick].T / 16.0) and Y.shape == (1, pick.sum())
    assert np.array_equal(X.mean(axis=1), (reference.data[pick].T / 16.0).mean(axis=1))
    with pytest.raises(ValueError, match="rng"):
        data.digits_subset(None, classes=(3, 8), rng=0)
