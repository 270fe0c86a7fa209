"""Shared parameter layout of the matrix-valued models: checks of ``(X, Y, widths)`` and a batched transpose."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from .base import Array


def _widths(widths: object, name: str = "widths") -> tuple[int, ...]:
    try:
        out: tuple[object, ...] = tuple(widths)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {widths!r}") from None
    if len(out) < 2:
        raise ValueError(f"{name} must list at least the input and output dimensions, got {widths!r}")
    return tuple(_checks.positive_int(h, name) for h in out)


def _network_data(X: ArrayLike, Y: ArrayLike, widths: object) -> tuple[Array, Array, tuple[int, ...]]:
    """Check a network's data ``X (d, n)``, targets ``Y (k, n)`` and ``widths (d, ..., k)`` against each other."""
    X = _checks.finite_array(X, "X", ndim=2)
    Y = _checks.finite_array(Y, "Y", ndim=2)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y must have as many columns (samples) as X ({X.shape[1]}), got shape {Y.shape}")
    widths = _widths(widths)
    if widths[0] != X.shape[0]:
        raise ValueError(f"widths[0] must equal the input dimension {X.shape[0]}, got {widths[0]}")
    if widths[-1] != Y.shape[0]:
        raise ValueError(f"widths[-1] must equal the output dimension {Y.shape[0]}, got {widths[-1]}")
    return X, Y, widths


def _mT(a: Array) -> Array:
    return np.swapaxes(a, -1, -2)
