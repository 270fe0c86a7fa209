r"""Sharpness :math:`\lambda_{\max}(\nabla^2 f(w))`, the largest (algebraic) Hessian eigenvalue, from HVPs.

Three methods, all batched over the leading axes of ``w`` (shape ``(..., n_params)``):

* ``"dense"``: the Hessian from ``n_params`` HVPs, then :func:`numpy.linalg.eigh`. Exact to rounding;
  the reference the other two are tested against. Default for ``n_params <= DENSE_LIMIT``.
* ``"lanczos"``: :func:`scipy.sparse.linalg.eigsh` (implicitly restarted Lanczos, ``which="LA"``)
  on a matrix-free :class:`~scipy.sparse.linalg.LinearOperator`, one batch item at a time.
* ``"power"``: batched power iteration on the shifted operator :math:`H + sI`, all batch items
  advancing together in one HVP per iteration. The shift :math:`s` is an estimate of the spectral
  radius :math:`\rho(H)` from a few plain power steps; it makes :math:`\lambda_{\max} + s` the
  eigenvalue of largest modulus (any :math:`s > -(\lambda_{\max}+\lambda_{\min})/2` does), so the
  *largest algebraic* eigenvalue is found even when :math:`\lambda_{\min} < -\lambda_{\max}`.
  Convergence factor :math:`(\lambda_2 + s)/(\lambda_{\max} + s)` per step: slow for small gaps.

``v0`` warm-starts the Lanczos and power methods (e.g. the ``vector`` of a previous
:func:`top_eigenpair` along a trajectory).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .objectives import Objective

__all__ = [
    "DENSE_LIMIT",
    "EigenPair",
    "LANCZOS_BATCH_LIMIT",
    "METHODS",
    "plain_power_iteration",
    "sharpness",
    "top_eigenpair",
]

Array = NDArray[np.float64]

DENSE_LIMIT = 64
"""Models with at most this many parameters use the dense Hessian and ``eigh`` under ``method="auto"``."""

LANCZOS_BATCH_LIMIT = 8
"""Under ``method="auto"``, larger models use Lanczos for at most this many batch items, power iteration beyond."""

METHODS = ("auto", "dense", "lanczos", "power")


@dataclass(frozen=True)
class EigenPair:
    """Top Hessian eigenpair at a batch of points.

    Attributes:
        value: ``(...,)`` largest algebraic eigenvalue (the sharpness).
        vector: ``(..., n_params)`` unit eigenvector (sign arbitrary); pass it as ``v0`` to warm-start.
        method: the method actually used.
        iterations: HVP iterations used (``n_params`` for dense; the maximum over the batch otherwise).
        converged: ``(...,)`` bool, the requested tolerance was met.
    """

    value: Array
    vector: Array
    method: str
    iterations: int
    converged: NDArray[np.bool_]


def _choose(method: str, n_params: int, batch_size: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    if n_params <= DENSE_LIMIT:
        return "dense"
    return "lanczos" if batch_size <= LANCZOS_BATCH_LIMIT else "power"


def _start_vectors(v0: ArrayLike | None, shape: tuple[int, ...], n: int) -> Array:
    if v0 is None:
        v = np.random.default_rng(0).standard_normal(shape)
    else:
        v = np.broadcast_to(np.asarray(v0, dtype=np.float64), shape).copy()
        if not np.all(np.isfinite(v)):
            raise ValueError("v0 must contain only finite values")
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    bad = norm[..., 0] == 0
    if np.any(bad):
        v[bad] = np.random.default_rng(1).standard_normal((int(bad.sum()), n))
        norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / norm


def _dense(objective: Objective, w: Array) -> tuple[Array, Array]:
    H = objective.hessian(w)
    ok = np.all(np.isfinite(H), axis=(-2, -1))  # overflow at huge w: NaN, not a LinAlgError
    evals, evecs = np.linalg.eigh(np.where(ok[..., None, None], H, 0.0))
    return np.where(ok, evals[..., -1], np.nan), np.where(ok[..., None], evecs[..., :, -1], np.nan)


def _lanczos(objective: Objective, w: Array, v0: Array, iters: int | None, tol: float) -> tuple[Array, Array, int, Array]:
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    n = objective.n_params
    batch = w.shape[:-1]
    values, vectors = np.empty(batch), np.empty(batch + (n,))
    conv = np.ones(batch, dtype=bool)
    count = 0
    for idx in np.ndindex(*batch):
        wi = w[idx]
        calls = [0]

        def matvec(x: Array, wi: Array = wi, calls: list = calls) -> Array:
            calls[0] += 1
            return objective.hvp(wi, np.ravel(x))

        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        try:
            val, vec = eigsh(op, k=1, which="LA", v0=v0[idx], tol=tol, maxiter=iters)
            values[idx], vectors[idx] = val[0], vec[:, 0]
        except ArpackNoConvergence as err:
            conv[idx] = False
            if len(err.eigenvalues):
                values[idx], vectors[idx] = err.eigenvalues[0], err.eigenvectors[:, 0]
            else:
                values[idx], vectors[idx] = np.nan, np.nan
        count = max(count, calls[0])
    return values, vectors, count, conv


def plain_power_iteration(objective: Objective, w: Array, v: Array, iters: int) -> tuple[Array, Array, Array]:
    r"""``iters`` steps of plain power iteration :math:`v \leftarrow Hv/\|Hv\|` on :math:`H = \nabla^2 f(w)`, batched.

    ``v`` (``(..., n_params)``, unit rows) is the start. Returns ``(last, largest, v)``: the last and the largest
    :math:`\|Hv\|` met, both lower bounds on the spectral radius :math:`\rho(H) = \max_i|\lambda_i|` that tighten
    with ``iters`` (for symmetric :math:`H` the sequence :math:`\|Hv_k\|` is non-decreasing), and the final
    vector. The one plain power iteration of the package: it estimates the shift of the ``"power"`` method
    and the operator norm of :func:`gdlab.pl_criterion.hessian_norm`.
    """
    last = np.zeros(w.shape[:-1])
    largest = np.zeros(w.shape[:-1])
    for _ in range(iters):
        hv = objective.hvp(w, v)
        nrm = np.linalg.norm(hv, axis=-1, keepdims=True)
        last = nrm[..., 0]
        largest = np.maximum(largest, last)
        v = np.where(nrm > 0, hv / np.where(nrm > 0, nrm, 1.0), v)
    return last, largest, v


def _power(objective: Objective, w: Array, v0: Array, iters: int, tol: float) -> tuple[Array, Array, int, Array]:
    v = v0.copy()
    # phase 1: a few plain power steps estimate the spectral radius (the shift)
    u = np.random.default_rng(2).standard_normal(v.shape)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    _, radius, _ = plain_power_iteration(objective, w, u, min(20, iters))
    shift = radius[..., None]
    # phase 2: power iteration on H + shift I, per-item stopping on the Rayleigh quotient
    hv = objective.hvp(w, v)
    rq = np.einsum("...i,...i->...", v, hv)
    active = np.ones(w.shape[:-1], dtype=bool)
    it = 0
    while it < iters and active.any():
        it += 1
        z = hv + shift * v
        # z = 0 exactly: (H + shift I) v = 0 with shift >= rho(H), so H = -shift I on the iterates
        # (zero or negative-definite multiple of I): v is already an eigenvector; keep it
        zn = np.linalg.norm(z, axis=-1, keepdims=True)
        v = np.where(active[..., None] & (zn > 0), z / np.where(zn > 0, zn, 1.0), v)
        hv = objective.hvp(w, v)
        new = np.einsum("...i,...i->...", v, hv)
        # residual test: |mu - lambda| <= |r|^2 / gap for symmetric H, so |r| ~ sqrt(tol) gives ~tol
        resid = np.linalg.norm(hv - new[..., None] * v, axis=-1)
        done = (resid <= np.sqrt(tol) * np.maximum(1.0, np.abs(new))) & (np.abs(new - rq) <= tol * np.maximum(1.0, np.abs(new)))
        rq = np.where(active, new, rq)
        active &= ~done
    return rq, v, it, ~active


def top_eigenpair(
    objective: Objective,
    w: ArrayLike,
    *,
    method: str = "auto",
    v0: ArrayLike | None = None,
    iters: int | None = None,
    tol: float = 1e-10,
) -> EigenPair:
    r"""Largest algebraic eigenvalue of :math:`\nabla^2 f(w)` and its unit eigenvector, batched.

    ``w``: ``(..., n_params)``. ``method``: ``"auto"`` (dense up to ``DENSE_LIMIT`` parameters,
    else Lanczos for small batches and power iteration for large ones), ``"dense"``,
    ``"lanczos"`` or ``"power"``. ``v0`` (broadcastable to ``w``) warm-starts the iterative methods;
    ``iters`` caps their iterations (power default 5000; Lanczos: ARPACK's restarts, default
    ``10 n_params``); ``tol`` is the relative tolerance on the eigenvalue (power iteration stops when
    the Rayleigh quotient changes by less than ``tol`` and the residual :math:`\|Hv - \mu v\|` is below
    :math:`\sqrt{\text{tol}}\,\max(1, |\mu|)`). Non-finite ``w`` gives NaN.

    >>> from gdlab.objectives import Quadratic
    >>> pair = top_eigenpair(Quadratic(np.diag([-5.0, 1.0, 3.0])), np.zeros(3), method="power")
    >>> round(float(pair.value), 8), np.abs(pair.vector).round(4).tolist()
    (3.0, [0.0, 0.0, 1.0])
    """
    w = objective._params(w)
    n = objective.n_params
    tol = float(_checks.positive_finite(tol, "tol"))
    if iters is not None:
        iters = _checks.positive_int(iters, "iters")
    batch = w.shape[:-1]
    chosen = _choose(method, n, int(np.prod(batch, dtype=int)))
    finite = np.all(np.isfinite(w), axis=-1)
    safe = np.where(finite[..., None], w, 0.0)
    if v0 is not None:
        v0 = objective._params(v0, "v0")
    start = _start_vectors(v0, w.shape, n)
    with np.errstate(all="ignore"):
        if chosen == "dense":
            value, vector = _dense(objective, safe)
            count, conv = n, np.ones(batch, dtype=bool)
        elif chosen == "lanczos":
            if n < 3:
                raise ValueError(f"method='lanczos' needs n_params >= 3, got {n}; use method='dense'")
            value, vector, count, conv = _lanczos(objective, safe, start, iters, tol)
        else:
            value, vector, count, conv = _power(objective, safe, start, 5000 if iters is None else iters, tol)
    value = np.where(finite, value, np.nan)
    vector = np.where(finite[..., None], vector, np.nan)
    return EigenPair(value=value, vector=vector, method=chosen, iterations=int(count), converged=conv & finite)


def sharpness(
    objective: Objective,
    w: ArrayLike,
    *,
    method: str = "auto",
    v0: ArrayLike | None = None,
    iters: int | None = None,
    tol: float = 1e-10,
) -> Array:
    r"""Largest (algebraic) Hessian eigenvalue :math:`\lambda_{\max}(\nabla^2 f(w))`; ``(..., n_params)`` -> ``(...,)``.

    Same options as :func:`top_eigenpair`; small models (``n_params <= DENSE_LIMIT``) use the dense
    Hessian and ``eigh`` by default.

    >>> from gdlab.objectives import DeepScalarLinear
    >>> float(sharpness(DeepScalarLinear(2), np.array([1.0, 1.0])))
    2.0
    """
    return top_eigenpair(objective, w, method=method, v0=v0, iters=iters, tol=tol).value
