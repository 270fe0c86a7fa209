"""Argument checks shared by the public functions: raise once, at the boundary, naming the argument.

The convention (every public function of gdlab follows it):

* invalid input raises ``ValueError`` (wrong value: NaN/inf, out of range, wrong shape) or ``TypeError``
  (wrong kind: complex, strings, ``None`` where a number is needed), and the message names the argument and
  says what was expected;
* every valid form is accepted: Python ints and floats, lists, numpy scalars and arrays, empty batches,
  ``rng`` as ``None``, an integer seed or a :class:`numpy.random.Generator`, tolerances of 0 where 0 is
  meaningful;
* no invalid input returns a silent NaN.

``ArgumentError`` subclasses both ``ValueError`` and ``TypeError`` so that callers may catch either.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ArgumentError",
    "DEFAULT_SEED",
    "as_float_array",
    "finite_array",
    "finite_scalar",
    "generator",
    "nonnegative_finite",
    "params",
    "positive_finite",
    "positive_int",
]


class ArgumentError(ValueError, TypeError):
    """An argument of the wrong kind (complex, string, ``None``, object): both a ``ValueError`` and a ``TypeError``."""


def as_float_array(value: ArrayLike, name: str, what: str = "an array of real numbers") -> NDArray[np.float64]:
    """Return ``value`` as a float64 array; complex, string, ``None`` or object input raises naming ``name``.

    NaN and inf pass (use :func:`finite_array` to refuse them).
    """
    if value is None or isinstance(value, (str, bytes)):
        raise ArgumentError(f"{name} must be {what}, got {value!r}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be {what}, got {value!r}") from None
    if raw.dtype.kind not in "biuf":
        raise ArgumentError(f"{name} must be {what}, got {value!r} (dtype {raw.dtype})")
    return raw.astype(np.float64, copy=False)


def positive_finite(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``value`` as a float64 array, or raise ``ValueError`` unless every entry is finite and > 0."""
    arr = as_float_array(value, name, "a positive finite number")
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return arr


def nonnegative_finite(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``value`` as a float64 array, or raise ``ValueError`` unless every entry is finite and >= 0."""
    arr = as_float_array(value, name, "a finite number >= 0")
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return arr


def finite_scalar(value: ArrayLike, name: str) -> float:
    """Return ``value`` as a Python float, or raise unless it is one finite real number."""
    arr = as_float_array(value, name, "a finite real number")
    if arr.size != 1 or arr.ndim > 1 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(arr.reshape(()))


def positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` >= ``minimum`` or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def finite_array(value: ArrayLike, name: str, ndim: int | None = None) -> NDArray[np.float64]:
    """Return ``value`` as a finite float64 array (optionally of exactly ``ndim`` dimensions)."""
    arr = as_float_array(value, name)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr


def params(w: ArrayLike, n_params: int, name: str = "w") -> NDArray[np.float64]:
    """Return parameters as float64 with last axis ``n_params``; raise ``ValueError`` otherwise.

    Non-finite entries pass (an objective evaluated there returns inf or NaN, without a warning).
    """
    arr = as_float_array(w, name)
    if arr.ndim == 0 or arr.shape[-1] != n_params:
        raise ValueError(f"{name} must have shape (..., {n_params}), got {arr.shape}")
    return arr


def broadcast(a: NDArray[np.float64], b: NDArray[np.float64], names: tuple[str, str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``np.broadcast_arrays(a, b)``, or a ``ValueError`` naming both arguments and their shapes."""
    try:
        return tuple(np.broadcast_arrays(a, b))  # type: ignore[return-value]
    except ValueError:
        raise ValueError(f"{names[0]} of shape {a.shape} and {names[1]} of shape {b.shape} do not broadcast") from None


def to_batch(value: NDArray[np.float64], batch: tuple[int, ...], name: str, of: str = "w0") -> NDArray[np.float64]:
    """``np.broadcast_to(value, batch)`` (a read-only view), or a ``ValueError`` naming ``name``, its shape and
    the batch shape of the argument ``of``."""
    try:
        return np.broadcast_to(value, batch)
    except ValueError:
        raise ValueError(f"{name} of shape {value.shape} does not broadcast to the batch shape {batch} of {of}") from None


DEFAULT_SEED = 0
"""Seed used when a function's ``rng`` is ``None``: the book's results never depend on hidden entropy."""


def generator(rng: object, name: str = "rng") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a Generator or an integer seed; ``None`` means seed
    ``DEFAULT_SEED`` (deterministic, not fresh entropy). Anything else raises ``ValueError``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(DEFAULT_SEED)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name} must be a numpy Generator, an integer seed >= 0 or None, got {rng!r}")
        return np.random.default_rng(rng)
    raise ValueError(f"{name} must be a numpy Generator, an integer seed or None, got {rng!r}")
