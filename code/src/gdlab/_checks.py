"""Argument checks shared by the public functions: raise once, at the boundary, naming the argument."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def positive_finite(value: ArrayLike, name: str) -> NDArray[np.float64]:
    """Return ``value`` as a float64 array, or raise ``ValueError`` unless every entry is finite and > 0."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return arr


def positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` >= ``minimum`` or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def finite_array(value: ArrayLike, name: str, ndim: int | None = None) -> NDArray[np.float64]:
    """Return ``value`` as a finite float64 array (optionally of exactly ``ndim`` dimensions)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values")
    return arr


def params(w: ArrayLike, n_params: int, name: str = "w") -> NDArray[np.float64]:
    """Return parameters as float64 with last axis ``n_params``; raise ``ValueError`` otherwise."""
    arr = np.asarray(w, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != n_params:
        raise ValueError(f"{name} must have shape (..., {n_params}), got {arr.shape}")
    return arr


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
        return np.random.default_rng(rng)
    raise ValueError(f"{name} must be a numpy Generator, an integer seed or None, got {rng!r}")
