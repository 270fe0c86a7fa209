r"""Sharpness :math:`\lambda_{\max}(\nabla^2 f(w))`, the largest Hessian eigenvalue, from HVPs."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .objectives import Objective

Array = NDArray[np.float64]

DENSE_LIMIT = 64
"""Models with at most this many parameters use the dense Hessian and ``eigvalsh``."""


def sharpness(objective: Objective, w: ArrayLike) -> Array:
    r"""Largest (algebraic) Hessian eigenvalue at ``w`` of shape ``(..., n_params)``; returns ``(...,)``.

    Small models: dense Hessian from ``n_params`` HVPs and ``numpy.linalg.eigvalsh``.

    >>> from gdlab.objectives import DeepScalarLinear
    >>> float(sharpness(DeepScalarLinear(2), np.array([1.0, 1.0])))
    2.0
    """
    w = objective._params(w)
    if objective.n_params <= DENSE_LIMIT:
        return np.linalg.eigvalsh(objective.hessian(w))[..., -1]
    raise NotImplementedError("matrix-free sharpness for large models is not implemented yet")
