r"""Gradient descent :math:`w_{t+1} = G_\eta(w_t) = w_t - \eta \nabla f(w_t)`, batched and vectorised.

* :func:`gd_map` applies one step to a batch of parameter vectors.
* :func:`run` iterates it and records loss, gradient norm and (optionally) sharpness.
* :func:`sweep` runs a whole grid of step sizes x initialisations as one array computation
  and returns the asymptotic gradient norm of every run with a divergence mask.
* :func:`critical_step_size` is :math:`\eta^* = 2 / \min_{\mathcal M} \lambda_{\max}`.

Divergence (overflow, NaN, or parameters beyond ``blowup``) is detected every
``check_every`` steps; diverged runs are frozen, masked and reported, and no
floating-point warning leaks out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .objectives import Objective

Array = NDArray[np.float64]


def critical_step_size(objective: Objective) -> float:
    r"""Critical step size :math:`\eta^* = 2 / \min_{w \in \mathcal M} \lambda_{\max}(\nabla^2 f(w))`.

    Above it every global minimiser is a linearly unstable fixed point of the GD map.

    >>> from gdlab.objectives import DeepScalarLinear
    >>> critical_step_size(DeepScalarLinear(depth=5, target=1.0))
    0.4
    """
    return 2.0 / objective.min_sharpness()


def gd_map(objective: Objective, w: ArrayLike, step_size: ArrayLike) -> Array:
    r"""One GD step :math:`G_\eta(w) = w - \eta \nabla f(w)`.

    ``w`` has shape ``(..., n_params)``; ``step_size`` is a scalar or broadcasts against ``w.shape[:-1]``.
    """
    eta = _checks.positive_finite(step_size, "step_size")
    w = np.asarray(w, dtype=np.float64)
    return w - eta[..., None] * objective.grad(w)


@dataclass(frozen=True)
class Trajectory:
    """Recorded GD iterates.  Leading axis: record index; the rest is the batch shape.

    Attributes:
        steps: iteration numbers recorded, shape ``(T,)``.
        loss: ``(T, *batch)``; NaN after a run diverged.
        grad_norm: ``(T, *batch)``.
        params: ``(T, *batch, n_params)`` or ``None`` when not kept.
        sharpness: ``(T_s, *batch)`` at ``sharpness_steps``, or ``None``.
        sharpness_steps: iteration numbers where sharpness was measured.
        diverged: ``(*batch,)`` bool, True where the run blew up.
    """

    steps: Array
    loss: Array
    grad_norm: Array
    params: Array | None
    sharpness: Array | None
    sharpness_steps: Array | None
    diverged: NDArray[np.bool_]


def _blown_up(w: Array, blowup: float) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return ~np.all(np.abs(w) < blowup, axis=-1)


def run(
    objective: Objective,
    w0: ArrayLike,
    step_size: ArrayLike,
    steps: int,
    *,
    record_every: int = 1,
    sharpness_every: int | None = None,
    keep_params: bool = True,
    blowup: float = 1e8,
) -> Trajectory:
    r"""Iterate GD from ``w0`` (shape ``(..., n_params)``) for ``steps`` steps.

    Records loss and :math:`\|\nabla f\|` at steps ``0, record_every, ...`` (and the last step),
    the parameters if ``keep_params``, and the sharpness every ``sharpness_every`` steps.
    ``step_size`` is a scalar or broadcasts against the batch shape ``w0.shape[:-1]``.
    A run whose parameters leave ``|w_i| < blowup`` or become non-finite is frozen and
    flagged in ``diverged``; its later records are NaN.

    >>> from gdlab.objectives import Quadratic
    >>> traj = run(Quadratic(np.eye(1)), np.array([1.0]), 0.5, steps=3)
    >>> traj.params[:, 0].tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    steps = _checks.positive_int(steps, "steps", minimum=0)
    record_every = _checks.positive_int(record_every, "record_every")
    if sharpness_every is not None:
        sharpness_every = _checks.positive_int(sharpness_every, "sharpness_every")
    eta = _checks.positive_finite(step_size, "step_size")
    w = objective._params(w0, "w0").copy()
    batch = w.shape[:-1]
    try:
        eta = np.broadcast_to(eta, batch)[..., None]
    except ValueError:
        raise ValueError(f"step_size of shape {np.shape(step_size)} does not broadcast to the batch shape {batch} of w0") from None

    record = sorted(set(range(0, steps + 1, record_every)) | {steps})
    sharp_at = [] if sharpness_every is None else sorted(set(range(0, steps + 1, sharpness_every)) | {steps})
    losses, norms, kept, sharp = [], [], [], []
    diverged = _blown_up(w, blowup)

    from .curvature import sharpness as _sharpness

    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            g = objective.grad(w)
            if t in record or (sharp_at and t in sharp_at):
                bad = diverged[..., None]
                if t in record:
                    losses.append(np.where(diverged, np.nan, objective.loss(w)))
                    norms.append(np.where(diverged, np.nan, np.linalg.norm(g, axis=-1)))
                    if keep_params:
                        kept.append(np.where(bad, np.nan, w))
                if sharp_at and t in sharp_at:
                    safe = np.where(bad, 0.0, w)
                    sharp.append(np.where(diverged, np.nan, _sharpness(objective, safe)))
            if t == steps:
                break
            w = w - eta * g
            newly = _blown_up(w, blowup) & ~diverged
            if newly.any():
                diverged = diverged | newly
            w = np.where(diverged[..., None], 0.0, w)
    return Trajectory(
        steps=np.asarray(record, dtype=np.int64),
        loss=np.stack(losses),
        grad_norm=np.stack(norms),
        params=np.stack(kept) if keep_params else None,
        sharpness=np.stack(sharp) if sharp_at else None,
        sharpness_steps=np.asarray(sharp_at, dtype=np.int64) if sharp_at else None,
        diverged=diverged,
    )


@dataclass(frozen=True)
class SweepResult:
    """Outcome of :func:`sweep` over a grid of step sizes x initialisations.

    Attributes:
        step_sizes: ``(n_eta,)``.
        grad_norm: ``(n_eta, n_init)`` asymptotic gradient norm, the mean of
            :math:`\\|\\nabla f(w_t)\\|` over the last ``tail`` steps; NaN where diverged.
        final_loss: ``(n_eta, n_init)`` loss at the last step; NaN where diverged.
        final_params: ``(n_eta, n_init, n_params)``; NaN where diverged.
        diverged: ``(n_eta, n_init)`` bool mask.
        steps: number of GD steps run.
        tail: number of final steps averaged.
    """

    step_sizes: Array
    grad_norm: Array
    final_loss: Array
    final_params: Array
    diverged: NDArray[np.bool_]
    steps: int
    tail: int

    @property
    def diverged_fraction(self) -> Array:
        """Fraction of diverged runs per step size, shape ``(n_eta,)``."""
        return self.diverged.mean(axis=1)

    def converged(self, tol: float = 1e-6) -> NDArray[np.bool_]:
        """Mask of runs whose asymptotic gradient norm is below ``tol`` (diverged runs are False)."""
        with np.errstate(invalid="ignore"):
            return ~self.diverged & (self.grad_norm < tol)


def sweep(
    objective: Objective,
    step_sizes: ArrayLike,
    inits: ArrayLike,
    steps: int,
    *,
    tail: int = 100,
    check_every: int = 100,
    blowup: float = 1e8,
    progress: bool = False,
) -> SweepResult:
    r"""Run GD for every pair (step size, initialisation) as one vectorised computation.

    ``step_sizes`` has shape ``(n_eta,)`` and ``inits`` shape ``(n_init, n_params)``; the state is an
    array ``(n_eta, n_init, n_params)`` updated in place.  The asymptotic gradient norm is the mean of
    :math:`\|\nabla f(w_t)\|` over the last ``tail`` steps (averaging over a whole number of periods
    of a 2-cycle when ``tail`` is even).  Runs that overflow or leave ``|w_i| < blowup`` are frozen and
    masked.  ``progress=True`` shows a tqdm bar.

    >>> from gdlab.objectives import DeepScalarLinear
    >>> res = sweep(DeepScalarLinear(2), [0.5, 1.2], np.array([[0.9, 1.2]]), steps=2000)
    >>> bool(res.grad_norm[0, 0] < 1e-10), bool(res.grad_norm[1, 0] > 0.3)
    (True, True)
    """
    etas = _checks.positive_finite(step_sizes, "step_sizes")
    if etas.ndim != 1:
        raise ValueError(f"step_sizes must be one-dimensional, got shape {etas.shape}")
    inits = _checks.finite_array(inits, "inits", ndim=2)
    if inits.shape[1] != objective.n_params:
        raise ValueError(f"inits must have shape (n_init, {objective.n_params}), got {inits.shape}")
    steps = _checks.positive_int(steps, "steps")
    tail = _checks.positive_int(tail, "tail")
    check_every = _checks.positive_int(check_every, "check_every")
    if tail > steps:
        raise ValueError(f"tail must be at most steps={steps}, got {tail}")

    n_eta, n_init = etas.size, inits.shape[0]
    w = np.broadcast_to(inits, (n_eta, n_init, objective.n_params)).copy()
    eta = etas[:, None, None]
    diverged = np.zeros((n_eta, n_init), dtype=bool)
    norm_sum = np.zeros((n_eta, n_init))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="GD sweep", unit="step")

    with np.errstate(all="ignore"):
        for t in range(steps):
            g = objective.grad(w)
            if t >= steps - tail:
                norm_sum += np.sqrt(np.einsum("...i,...i->...", g, g))
            g *= eta
            w -= g
            if (t + 1) % check_every == 0 or t == steps - 1:
                newly = _blown_up(w, blowup) & ~diverged
                if newly.any():
                    diverged |= newly
                    w[diverged] = 0.0
                if bar is not None:
                    bar.update((t + 1) - bar.n)
        final_loss = objective.loss(w)
    if bar is not None:
        bar.close()
    nan_out = np.where(diverged, np.nan, 1.0)
    return SweepResult(
        step_sizes=etas,
        grad_norm=norm_sum / tail * nan_out,
        final_loss=final_loss * nan_out,
        final_params=w * nan_out[..., None],
        diverged=diverged,
        steps=steps,
        tail=tail,
    )
