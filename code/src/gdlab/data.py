r"""Seeded data sets for the linear-network and MLP experiments.

Layout everywhere: inputs ``X`` have shape ``(d, n)`` (columns are samples) and targets ``Y``
shape ``(k, n)``, so a linear model is :math:`\hat Y = W X` and the input second-moment matrix
is :math:`\Sigma = X X^\top` (a sum over samples, not a mean, matching the losses of
:mod:`gdlab.objectives`).

* :func:`whitened_inputs`: :math:`X X^\top = I_d` exactly (to rounding).
* :func:`general_covariance_inputs`: :math:`X X^\top = \Sigma` with a prescribed condition number.
* :func:`linearly_independent_inputs`: ``n <= d`` unit-norm, linearly independent columns.
* :func:`teacher_targets`: :math:`Y = W_{\rm teacher} X + \text{noise}`.
* :func:`digits_subset`: a small real data set, scikit-learn's bundled 8x8 digits (offline).
* :func:`digits_parity`: all ten digits (or a seeded subset), target the parity of the digit.
* :func:`experiment_results`: a results file of ``make experiments`` (``chapters/data/``) and its provenance.

Every function takes ``rng``: a :class:`numpy.random.Generator` or an integer seed (``None`` means
the fixed seed ``gdlab._checks.DEFAULT_SEED``, so results are reproducible by default).
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from . import _checks

__all__ = [
    "covariance_with_condition",
    "digits_parity",
    "digits_subset",
    "experiment_results",
    "general_covariance_inputs",
    "linearly_independent_inputs",
    "teacher_targets",
    "whitened_inputs",
]

Array = NDArray[np.float64]
RngLike = np.random.Generator | int | None


def _rng(rng: RngLike, name: str = "rng") -> np.random.Generator:
    return _checks.generator(rng, name)


def _orthonormal_columns(rows: int, cols: int, rng: np.random.Generator) -> Array:
    """A Haar-random ``(rows, cols)`` matrix with orthonormal columns (``rows >= cols``)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))  # sign fix makes the distribution Haar


def whitened_inputs(d: int, n: int, rng: RngLike = None) -> Array:
    r"""Inputs ``X`` of shape ``(d, n)`` with orthonormal rows, :math:`X X^\top = I_d` (needs ``n >= d``).

    The rows are the first ``d`` columns of a Haar-random orthogonal ``n x n`` matrix, transposed.
    With whitened inputs the least-squares solution is :math:`W^\star = Y X^\top`.

    >>> X = whitened_inputs(3, 10, rng=0)
    >>> X.shape, bool(np.allclose(X @ X.T, np.eye(3)))
    ((3, 10), True)
    """
    d = _checks.positive_int(d, "d")
    n = _checks.positive_int(n, "n")
    if n < d:
        raise ValueError(f"n must be >= d={d} for X X^T = I to be possible, got {n}")
    return _orthonormal_columns(n, d, _rng(rng)).T.copy()


def covariance_with_condition(d: int, condition: float, rng: RngLike = None) -> Array:
    r"""A random symmetric positive-definite ``(d, d)`` matrix with eigenvalues geometrically
    spaced from 1 to ``condition`` (so its condition number is ``condition``), in a Haar-random basis."""
    d = _checks.positive_int(d, "d")
    condition = float(_checks.positive_finite(condition, "condition"))
    if condition < 1.0:
        raise ValueError(f"condition must be >= 1, got {condition!r}")
    eig = np.geomspace(1.0, condition, d) if d > 1 else np.ones(1)
    u = _orthonormal_columns(d, d, _rng(rng))
    sigma = (u * eig) @ u.T
    return 0.5 * (sigma + sigma.T)


def general_covariance_inputs(
    d: int, n: int, rng: RngLike = None, condition: float = 10.0, covariance: Array | None = None
) -> Array:
    r"""Inputs ``X`` of shape ``(d, n)`` with :math:`X X^\top = \Sigma` exactly (to rounding).

    :math:`\Sigma` is ``covariance`` if given (symmetric positive definite), otherwise a random matrix
    with eigenvalues geometrically spaced in ``[1, condition]`` (:func:`covariance_with_condition`).
    Construction: :math:`X = \Sigma^{1/2} X_0` with :math:`X_0` whitened. Needs ``n >= d``.

    >>> X = general_covariance_inputs(3, 20, rng=1, condition=100.0)
    >>> float(np.round(np.linalg.cond(X @ X.T), 6))
    100.0
    """
    d = _checks.positive_int(d, "d")
    n = _checks.positive_int(n, "n")
    gen = _rng(rng)
    if covariance is None:
        sigma = covariance_with_condition(d, condition, gen)
    else:
        sigma = _checks.finite_array(covariance, "covariance", ndim=2)
        if sigma.shape != (d, d) or not np.allclose(sigma, sigma.T):
            raise ValueError(f"covariance must be a symmetric ({d}, {d}) matrix, got shape {sigma.shape}")
    evals, evecs = np.linalg.eigh(0.5 * (sigma + sigma.T))
    if evals[0] <= 0:
        raise ValueError("covariance must be positive definite")
    root = (evecs * np.sqrt(evals)) @ evecs.T
    return root @ whitened_inputs(d, n, gen)


def linearly_independent_inputs(d: int, n: int, rng: RngLike = None) -> Array:
    r"""Inputs ``X`` of shape ``(d, n)`` with ``n <= d`` unit-norm, linearly independent columns.

    Gaussian columns normalised to length one; rank ``n`` holds with probability one and is checked
    (a ``RuntimeError`` would signal the probability-zero failure). With ``n <= d`` every target
    ``Y`` is fitted exactly by a linear map (interpolation regime).

    >>> X = linearly_independent_inputs(5, 3, rng=2)
    >>> X.shape, int(np.linalg.matrix_rank(X)), bool(np.allclose(np.linalg.norm(X, axis=0), 1.0))
    ((5, 3), 3, True)
    """
    d = _checks.positive_int(d, "d")
    n = _checks.positive_int(n, "n")
    if n > d:
        raise ValueError(f"n must be <= d={d} for n linearly independent columns, got {n}")
    X = _rng(rng).standard_normal((d, n))
    X /= np.linalg.norm(X, axis=0)
    if np.linalg.matrix_rank(X) < n:  # pragma: no cover - probability zero
        raise RuntimeError("drew linearly dependent columns; use another seed")
    return X


def teacher_targets(
    X: Array,
    k: int = 1,
    rng: RngLike = None,
    *,
    noise: float = 0.0,
    rank: int | None = None,
    scale: float = 1.0,
    teacher: Array | None = None,
    return_teacher: bool = False,
) -> Array | tuple[Array, Array]:
    r"""Targets :math:`Y = W_{\rm teacher} X + \varepsilon` of shape ``(k, n)``.

    ``teacher`` (shape ``(k, d)``) is used if given; otherwise it is a Gaussian matrix with entries
    of standard deviation ``scale / sqrt(d)``, of rank ``rank`` if given (product of Gaussian
    factors). ``noise`` is the standard deviation of i.i.d. Gaussian label noise. With ``noise=0``
    and :math:`XX^\top` invertible the least-squares solution is the teacher itself.
    Returns ``Y``, or ``(Y, teacher)`` if ``return_teacher``.

    >>> X = whitened_inputs(3, 8, rng=0)
    >>> Y, T = teacher_targets(X, k=2, rng=0, return_teacher=True)
    >>> Y.shape, bool(np.allclose(Y @ X.T, T))
    ((2, 8), True)
    """
    X = _checks.finite_array(X, "X", ndim=2)
    k = _checks.positive_int(k, "k")
    d = X.shape[0]
    gen = _rng(rng)
    noise = float(_checks.nonnegative_finite(noise, "noise"))
    scale = float(_checks.positive_finite(scale, "scale"))
    if teacher is None:
        if rank is None:
            teacher = gen.standard_normal((k, d)) * (scale / np.sqrt(d))
        else:
            rank = _checks.positive_int(rank, "rank")
            if rank > min(k, d):
                raise ValueError(f"rank must be <= min(k, d)={min(k, d)}, got {rank}")
            teacher = (gen.standard_normal((k, rank)) @ gen.standard_normal((rank, d))) * (
                scale / np.sqrt(d * rank)
            )
    else:
        teacher = _checks.finite_array(teacher, "teacher", ndim=2)
        if teacher.shape != (k, d):
            raise ValueError(f"teacher must have shape ({k}, {d}), got {teacher.shape}")
    Y = teacher @ X
    if noise > 0:
        Y = Y + noise * gen.standard_normal(Y.shape)
    return (Y, teacher) if return_teacher else Y


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[Array, Array]:
    """scikit-learn's bundled 8x8 digits: ``data`` ``(1797, 64)`` (float64, intensities 0..16), ``target`` ``(1797,)``.

    Read as ``sklearn.datasets.load_digits`` reads it (``np.loadtxt`` of the ``digits.csv.gz`` that ships
    with scikit-learn) without importing scikit-learn, which takes about a second; ``load_digits`` itself
    when the file is not where it is expected. ``tests/test_data.py`` checks both give the same arrays.
    Read-only arrays, read once per process.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(folders[0]) / "datasets" / "data" / "digits.csv.gz" if folders else None
    if path is not None and path.is_file():
        import gzip

        with gzip.open(path, "rt", encoding="utf-8") as handle:
            raw = np.loadtxt(handle, delimiter=",")
        data, target = raw[:, :-1], raw[:, -1].astype(int, copy=False)
    else:  # pragma: no cover - a scikit-learn that keeps its data elsewhere
        from sklearn.datasets import load_digits

        bunch = load_digits()
        data, target = bunch.data, bunch.target
    data.setflags(write=False)
    target.setflags(write=False)
    return data, target


def digits_subset(
    n: int | None,
    classes: Sequence[int] = (0, 1),
    rng: RngLike = None,
    *,
    scaling: str = "unit",
    one_hot: bool | None = None,
) -> tuple[Array, Array]:
    r"""``n`` samples of scikit-learn's bundled 8x8 digits (no download): ``X`` ``(64, n)``, ``Y`` ``(k, n)``.

    * ``scaling="unit"``: pixel intensities divided by 16, so ``X`` lies in ``[0, 1]``;
      ``scaling="standardise"``: each pixel centred and scaled to unit variance over the chosen
      samples (constant pixels are left at 0).
    * Targets: with two classes and ``one_hot`` not true, ``Y`` has shape ``(1, n)`` with
      ``+1`` for ``classes[1]`` and ``-1`` for ``classes[0]``; otherwise (or with ``one_hot=True``)
      ``Y`` is one-hot of shape ``(len(classes), n)``, row ``j`` for ``classes[j]``.
    * ``rng=None`` takes the first ``n`` matching samples in the data set's order; a seed or
      Generator draws ``n`` of them uniformly without replacement (order as drawn). ``n=None`` takes
      every matching sample, in the data set's order (``rng`` must then be ``None``).

    >>> X, Y = digits_subset(20, classes=(3, 8), rng=0)
    >>> X.shape, Y.shape, sorted(set(Y.ravel().tolist()))
    ((64, 20), (1, 20), [-1.0, 1.0])
    """
    if n is not None:
        n = _checks.positive_int(n, "n")
    elif rng is not None:
        raise ValueError("rng must be None when n is None (every sample of the classes, in order)")
    classes = tuple(int(c) for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"classes must be at least two distinct digits in 0..9, got {classes!r}")
    if scaling not in ("unit", "standardise"):
        raise ValueError(f"scaling must be 'unit' or 'standardise', got {scaling!r}")
    data, target = _digits()
    idx = np.flatnonzero(np.isin(target, classes))
    n = idx.size if n is None else n
    if n > idx.size:
        raise ValueError(f"n must be <= {idx.size} (samples of classes {classes}), got {n}")
    idx = idx[:n] if rng is None else _rng(rng).choice(idx, size=n, replace=False)
    X = data[idx].T.astype(np.float64) / 16.0
    if scaling == "standardise":
        mean = X.mean(axis=1, keepdims=True)
        std = X.std(axis=1, keepdims=True)
        X = np.where(std > 0, (X - mean) / np.where(std > 0, std, 1.0), 0.0)
    labels = target[idx]
    if len(classes) == 2 and not one_hot:
        Y = np.where(labels == classes[1], 1.0, -1.0)[None, :]
    else:
        Y = (labels[None, :] == np.asarray(classes)[:, None]).astype(np.float64)
    return X, Y


def digits_parity(n: int | None = None, rng: RngLike = None, *, scaling: str = "standardise") -> tuple[Array, Array]:
    r"""All ten classes of scikit-learn's bundled 8x8 digits with the **parity** as target: ``X`` ``(64, n)``, ``Y`` ``(1, n)``.

    ``Y`` is ``+1`` for an even digit and ``-1`` for an odd one (a scalar target, so a network with
    thousands of parameters can interpolate hundreds of images). ``n=None`` takes all 1,797 images
    in the data set's order; otherwise ``rng=None`` takes the first ``n`` and a seed or Generator
    draws ``n`` uniformly without replacement (order as drawn). ``scaling`` as in
    :func:`digits_subset` (``"standardise"``: each pixel centred and scaled to unit variance over
    the chosen images, constant pixels left at 0; ``"unit"``: intensities divided by 16).

    >>> X, Y = digits_parity(100, rng=0)
    >>> X.shape, Y.shape, sorted(set(Y.ravel().tolist()))
    ((64, 100), (1, 100), [-1.0, 1.0])
    >>> digits_parity()[0].shape
    (64, 1797)
    """
    if scaling not in ("unit", "standardise"):
        raise ValueError(f"scaling must be 'unit' or 'standardise', got {scaling!r}")
    data, target = _digits()
    total = target.size
    if n is None:
        idx = np.arange(total)
    else:
        n = _checks.positive_int(n, "n")
        if n > total:
            raise ValueError(f"n must be <= {total} (images in the data set), got {n}")
        idx = np.arange(n) if rng is None else _rng(rng).choice(total, size=n, replace=False)
    X = data[idx].T.astype(np.float64) / 16.0
    if scaling == "standardise":
        mean = X.mean(axis=1, keepdims=True)
        std = X.std(axis=1, keepdims=True)
        X = np.where(std > 0, (X - mean) / np.where(std > 0, std, 1.0), 0.0)
    Y = np.where(target[idx] % 2 == 0, 1.0, -1.0)[None, :]
    return X, Y


def experiment_results(name: str, start: str | Path | None = None) -> tuple[dict[str, Array], dict, Path]:
    r"""Load ``chapters/data/<name>`` (an ``.npz`` written by ``make experiments``): ``(arrays, provenance, path)``.

    The file is looked for as ``chapters/data/<name>`` and ``data/<name>`` in ``start`` (default: the
    working directory) and its parents, so a chapter finds it whether it runs from the repository or
    from ``chapters/``, and last in the checkout gdlab is installed from (so a downloaded notebook run
    elsewhere finds it too). ``arrays`` maps every stored key to its array; ``provenance`` is the JSON record
    stored under the key ``"provenance"`` (parameters, versions, source hashes). Raises
    ``FileNotFoundError`` naming the command that regenerates the file if it is missing.
    """
    here = Path.cwd() if start is None else Path(start)
    # then the checkout gdlab is installed from (editable install: <repo>/code/src/gdlab), so that a
    # chapter downloaded as a plain notebook and run anywhere still finds the committed results
    checkout = Path(__file__).resolve().parents[3]
    for folder in (here, *here.resolve().parents, checkout):
        for path in (folder / "chapters" / "data" / name, folder / "data" / name):
            if path.is_file():
                with np.load(path, allow_pickle=False) as f:
                    arrays = {k: f[k] for k in f.files if k != "provenance"}
                    prov = json.loads(str(f["provenance"])) if "provenance" in f.files else {}
                return arrays, prov, path
    raise FileNotFoundError(f"{name} not found in chapters/data/ above {here}; regenerate it with `make experiments`")
