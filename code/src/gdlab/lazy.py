r"""Kernel (lazy) regression and iteration counts: the linear model that a network reduces to at
the positive initialisation of chapter 7, and an early-stopping count of GD steps to a loss level.

For a kernel :math:`\Theta` (symmetric positive semi-definite, ``(n, n)``) and targets :math:`y`,
the *kernel regression* started from the zero predictor has residuals :math:`e_0 = -y` and, under
GD with step :math:`\eta` on :math:`\tfrac12\|e\|^2`,

.. math:: e_{k+1} = (I - \eta\,\Theta)\,e_k ,\qquad \text{so}\qquad e_k = (I - \eta\,\Theta)^k e_0 ;

under gradient flow :math:`e(t) = \exp(-t\,\Theta)\,e_0`.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, descent, threaded_runs
from .objectives import Objective

Array = NDArray[np.float64]

__all__ = ["kernel_residuals", "kernel_flow_time", "recorded_steps_to_loss", "steps_to_loss"]


def _kernel_and_targets(kernel: ArrayLike, targets: ArrayLike) -> tuple[Array, Array]:
    K = _checks.finite_array(kernel, "kernel", ndim=2)
    if K.shape[0] != K.shape[1] or not np.allclose(K, K.T, rtol=1e-12, atol=0.0):
        raise ValueError(f"kernel must be a symmetric square matrix, got shape {K.shape}")
    y = np.ravel(np.asarray(targets, dtype=np.float64))
    if y.shape != (K.shape[0],) or not np.all(np.isfinite(y)):
        raise ValueError(f"targets must hold {K.shape[0]} finite values, got shape {np.shape(targets)}")
    return K, y


def kernel_residuals(kernel: ArrayLike, targets: ArrayLike, step_size: float, steps: int) -> Array:
    r"""Residuals :math:`e_k=(I-\eta\Theta)^k(-y)`, :math:`k=0,\dots,` ``steps``: shape ``(steps + 1, n)``.

    This is GD with step :math:`\eta` on any linear model whose tangent kernel is :math:`\Theta`,
    seen in output space; for example :math:`\ell(P)=\tfrac12\sum_i(b^\top Px_i-y_i)^2` has
    :math:`\Theta=\|b\|^2X^\top X`. The loss after :math:`k` steps is :math:`\tfrac12\|e_k\|^2`.

    >>> kernel_residuals(np.eye(2), [1.0, 2.0], 0.5, 2).tolist()
    [[-1.0, -2.0], [-0.5, -1.0], [-0.25, -0.5]]
    """
    K, y = _kernel_and_targets(kernel, targets)
    eta = float(_checks.positive_finite(step_size, "step_size"))
    steps = _checks.positive_int(steps, "steps", minimum=0)
    M = np.eye(K.shape[0]) - eta * K
    out = np.empty((steps + 1, y.size))
    out[0] = -y
    for k in range(steps):
        out[k + 1] = M @ out[k]
    return out


def kernel_flow_time(kernel: ArrayLike, targets: ArrayLike, level: float) -> float:
    r"""Gradient-flow time :math:`t` at which :math:`\tfrac12\|e^{-t\Theta}y\|^2` falls to ``level``.

    The loss :math:`\tfrac12\sum_j (q_j^\top y)^2 e^{-2\lambda_j t}` (eigenpairs of :math:`\Theta`)
    is decreasing; the time is found by bisection to relative precision :math:`10^{-12}`. Returns
    ``inf`` when the level is not reached (it is below the loss of the kernel's null space).

    >>> round(float(kernel_flow_time(np.eye(1), [1.0], 0.5 * np.exp(-2.0))), 12)
    1.0
    """
    K, y = _kernel_and_targets(kernel, targets)
    level = float(_checks.positive_finite(level, "level"))
    lam, Q = np.linalg.eigh(K)
    c2 = (Q.T @ y) ** 2

    def loss(t: float) -> float:
        return 0.5 * float(np.sum(c2 * np.exp(-2.0 * np.maximum(lam, 0.0) * t)))

    if loss(0.0) <= level:
        return 0.0
    if 0.5 * float(np.sum(c2[lam <= 1e-14 * max(lam[-1], 1e-300)])) >= level:
        return float("inf")
    hi = 1.0 / lam[-1]
    while loss(hi) > level:
        hi *= 2.0
    lo = 0.0
    while hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if loss(mid) > level else (lo, mid)
    return float(hi)


def steps_to_loss(
    objective: Objective, w0: ArrayLike, step_size: ArrayLike, level: float, max_steps: int, *,
    every: int = 1, blowup: float | None = None,
) -> Array:
    r"""First :math:`k` with :math:`f(w_k) <` ``level`` under GD :math:`w_{k+1}=w_k-\eta\nabla f(w_k)`.

    ``w0`` has shape ``(..., n_params)`` and ``step_size`` broadcasts against ``w0.shape[:-1]``.
    With ``every=1`` (the default) every step is checked (no recording interval) and the loop stops once
    every run has reached the level. Runs that do not reach it within ``max_steps`` steps, or whose
    loss becomes non-finite, get ``inf``. Shape ``w0.shape[:-1]``. The counts are then those of
    :func:`gdlab.descent.run` with ``until_loss=level`` (its ``reached_at``) bit for bit, so ``w0`` must
    be finite (``ValueError`` otherwise).

    ``every > 1`` compares the loss with the level only at the steps that :func:`gdlab.descent.run`
    records with ``record_every=every`` (``0, every, 2 every, ...`` and ``max_steps``): the count read
    off such a recorded trajectory (:func:`recorded_steps_to_loss`), bit for bit, without computing the
    steps after it. As in the recorded run, only the parameter test ends a run then (a non-finite loss
    alone does not).
    ``blowup``: a run ends, uncounted, when an entry of its parameters leaves :math:`|w_i| <`
    ``blowup`` (``descent.run``'s divergence test, checked every step); by default only a non-finite
    parameter does.

    For an objective that computes every run of a batch independently of the others (its
    ``_runs_independent`` is true: :class:`~gdlab.objectives.MLP`), a run leaves the batch as soon as
    it has reached the level or diverged, so the work is the sum of the runs' counts rather than the
    slowest count times the number of runs; the remaining runs' iterates are unchanged, bit for bit.
    The runs are also dealt to threads (:func:`gdlab.threaded_runs.over_runs`). Other objectives are
    iterated by :func:`gdlab.descent.run` itself.

    >>> from gdlab.objectives import Quadratic
    >>> steps_to_loss(Quadratic(np.eye(1)), np.array([[1.0]]), 0.5, 0.5 * 0.25**2 + 1e-12, 10).tolist()
    [2.0]
    >>> steps_to_loss(Quadratic(np.eye(1)), np.array([[1.0]]), 0.5, 0.5 * 0.25**2 + 1e-12, 10, every=4).tolist()
    [4.0]
    """
    level = float(_checks.positive_finite(level, "level"))
    max_steps = _checks.positive_int(max_steps, "max_steps", minimum=0)
    every = _checks.positive_int(every, "every")
    # without a bound, a non-finite loss or parameter ends a run (finfo.max)
    blowup = float(np.finfo(np.float64).max) if blowup is None else float(_checks.positive_finite(blowup, "blowup"))
    if not getattr(objective, "_runs_independent", False) or type(objective)._scaled_grad is not Objective._scaled_grad:
        if every == 1:  # GD with the stop criterion of descent.run; nothing recorded but step 0
            traj = descent.run(objective, w0, step_size, max_steps, until_loss=level, record_at=[0],
                               keep_params=False, blowup=blowup)
            assert traj.reached_at is not None
            return traj.reached_at
        return recorded_steps_to_loss(descent.run(objective, w0, step_size, max_steps, record_every=every,
                                                  keep_params=False, blowup=blowup), level)
    w = objective._params(w0, "w0")
    if not np.all(np.isfinite(w)):
        raise ValueError("w0 must contain only finite values")
    batch, p = w.shape[:-1], w.shape[-1]
    total = int(np.prod(batch))
    flat, eta = w.reshape(total, p), descent._step_sizes_for_batch(step_size, batch).reshape(total)
    # the runs dealt to threads (gdlab.threaded_runs), each block compacted on its own
    return threaded_runs.over_runs(
        objective, lambda sel: (_steps_to_loss_compacted(objective, flat[sel], eta[sel], level, max_steps, blowup, every),),
        total)[0].reshape(batch)


def recorded_steps_to_loss(trajectory: descent.Trajectory, level: float) -> Array:
    """Per run, the first recorded step whose loss is below ``level`` (``inf`` if none): the count read off
    a trajectory of :func:`gdlab.descent.run`, resolved to its records. A diverged run's records are NaN, so
    it counts only if it got below the level before it diverged. Shape: the trajectory's batch shape.

    For a trajectory recorded every ``k`` steps this is :func:`steps_to_loss` with ``every=k``.

    >>> from gdlab.objectives import Quadratic
    >>> traj = descent.run(Quadratic(np.eye(1)), np.array([[1.0]]), 0.5, 10, record_every=4)
    >>> recorded_steps_to_loss(traj, 0.5 * 0.25**2 + 1e-12).tolist()
    [4.0]
    """
    hit = trajectory.loss < level  # False where the loss is NaN
    return np.where(hit.any(axis=0), trajectory.steps[np.argmax(hit, axis=0)], np.inf)


def _steps_to_loss_compacted(
    objective: Objective, w: Array, eta: Array, level: float, max_steps: int, blowup: float, every: int = 1
) -> Array:
    """:func:`steps_to_loss` of the finite runs ``w`` ``(B, n_params)`` with steps ``eta`` ``(B,)``: the runs
    still going form the batch; returns ``(B,)``.

    The divergence policy is that of :func:`gdlab.descent.run` with ``check_every=1``: a run is out at
    step ``t`` when its parameters after a step fail :func:`gdlab.descent._leaves`, or (``every=1``, as
    with ``until_loss``) when its loss there is non-finite; it is never counted (``run`` freezes it at 0
    and excludes it). The level is compared only at the steps ``0, every, 2 every, ...`` and ``max_steps``.
    """
    count = np.full(w.shape[0], np.inf)
    live = np.flatnonzero(~descent._leaves(objective, w, blowup))  # run indices still going
    state = w[live]  # a copy
    rate = eta[live, None]
    with np.errstate(all="ignore"):
        for t in range(max_steps + 1):
            if live.size == 0:
                break
            f, g = objective.loss_and_grad(state)  # the bits of loss() and grad(), as in run
            checked = t % every == 0 or t == max_steps  # the steps run records with record_every=every
            reached = (f < level) & checked  # False where f is NaN
            count[live[reached]] = t
            if t == max_steps:
                break
            # until_loss (every = 1) ends a run at a non-finite loss; records (every > 1) do not
            going = ~reached & np.isfinite(f) if every == 1 else ~reached
            if not going.all():
                live, state, g, rate = live[going], state[going], g[going], rate[going]
            state = state - rate * g
            ok = ~descent._leaves(objective, state, blowup)
            if not ok.all():
                live, state, rate = live[ok], state[ok], rate[ok]
    return count
