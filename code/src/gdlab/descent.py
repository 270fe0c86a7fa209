r"""Gradient descent :math:`w_{t+1} = G_\eta(w_t) = w_t - \eta \nabla f(w_t)`, batched and vectorised.

* :func:`gd_map` applies one step to a batch of parameter vectors.
* :func:`run` iterates it and records loss, gradient norm and (optionally) sharpness.
* :func:`sweep` runs a whole grid of step sizes x initialisations as one array computation
  and returns the asymptotic gradient norm of every run with a divergence mask.
* :func:`critical_step_size` is :math:`\eta^* = 2 / \min_{\mathcal M} \lambda_{\max}`.

Divergence (overflow, NaN, or parameters beyond ``blowup``) is detected (every step in
:func:`run`, every ``check_every`` steps in :func:`sweep`); diverged runs are frozen, masked and
reported, and no floating-point warning leaks out.

``run`` and ``sweep`` perform the same floating-point operations on every non-diverged run, so
they agree bit for bit on the objectives with a native parameter-major gradient
(:class:`~gdlab.objectives.DeepScalarLinear`, :class:`~gdlab.objectives.Polynomial1D`) and to
rounding (BLAS summation order) on the others.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .objectives import Objective

__all__ = [
    "SweepResult",
    "Trajectory",
    "critical_step_size",
    "gd_map",
    "run",
    "sweep",
]

Array = NDArray[np.float64]


def critical_step_size(objective: Objective) -> float:
    r"""Critical step size :math:`\eta^* = 2 / \min_{w \in \mathcal M} \lambda_{\max}(\nabla^2 f(w))`.

    Above it every global minimiser is a linearly unstable fixed point of the GD map. ``inf`` when the
    flattest minimiser has zero curvature (e.g. a constant loss: no step size destabilises it).
    Raises ``NotImplementedError`` where the objective has no proved ``min_sharpness`` and
    ``ValueError`` where it has no global minimiser.

    >>> from gdlab.objectives import DeepScalarLinear
    >>> critical_step_size(DeepScalarLinear(depth=5, target=1.0))
    0.4
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be a gdlab Objective, got {type(objective).__name__}")
    lam = float(objective.min_sharpness())
    if not lam >= 0:  # a minimiser's Hessian is positive semi-definite
        raise ValueError(f"min_sharpness() returned {lam!r}; a global minimiser has sharpness >= 0")
    return float("inf") if lam == 0 else 2.0 / lam


def gd_map(objective: Objective, w: ArrayLike, step_size: ArrayLike) -> Array:
    r"""One GD step :math:`G_\eta(w) = w - \eta \nabla f(w)`.

    ``w`` has shape ``(..., n_params)``; ``step_size`` is a scalar or broadcasts against ``w.shape[:-1]``.

    >>> from gdlab.objectives import Quadratic
    >>> gd_map(Quadratic(np.eye(2)), np.array([1.0, -2.0]), 0.25).tolist()
    [0.75, -1.5]
    """
    eta = _checks.positive_finite(step_size, "step_size")
    w = objective._params(w)
    try:
        np.broadcast_shapes(eta.shape, w.shape[:-1])
    except ValueError:
        raise ValueError(f"step_size of shape {eta.shape} does not broadcast to the batch shape {w.shape[:-1]}") from None
    with np.errstate(all="ignore"):
        return w - objective._scaled_grad(w, eta[..., None])


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
        reached_at: ``(*batch,)``, with ``until_loss``: the first step :math:`k` with
            :math:`f(w_k) <` the run's level (``inf`` where not reached), else ``None``.
    """

    steps: NDArray[np.int64]
    loss: Array
    grad_norm: Array
    params: Array | None
    sharpness: Array | None
    sharpness_steps: Array | None
    diverged: NDArray[np.bool_]
    reached_at: Array | None = None


def _blown_up(w: Array, blowup: float, axis: int = -1) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return ~np.all(np.abs(w) < blowup, axis=axis)


def _leaves(objective: Objective, w: Array, blowup: float, axis: int = -1) -> NDArray[np.bool_]:
    """The divergence test of :func:`run`: non-finite, beyond ``blowup``, or outside the objective's domain."""
    bad = _blown_up(w, blowup, axis)
    outside = objective._outside_domain(w, axis)
    return bad if outside is None else bad | outside


def _step_sizes_for_batch(step_size: ArrayLike, batch: tuple[int, ...], name: str = "step_size") -> Array:
    return _checks.to_batch(_checks.positive_finite(step_size, name), batch, name)


def _iteration_numbers(value: object, steps: int, name: str) -> set[int]:
    """A set of iteration numbers in ``[0, steps]`` from a sequence of integers, or ``ValueError`` naming ``name``."""
    try:
        arr = np.atleast_1d(np.asarray(value))
    except (TypeError, ValueError):  # pragma: no cover - asarray accepts almost anything
        raise ValueError(f"{name} must be a sequence of iteration numbers, got {value!r}") from None
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional sequence of iteration numbers, got {value!r}")
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() > steps):
        raise ValueError(f"{name} must hold integers in [0, steps={steps}], got {value!r}")
    return {int(t) for t in arr}


def run(
    objective: Objective,
    w0: ArrayLike,
    step_size: ArrayLike,
    steps: int,
    *,
    record_every: int = 1,
    record_at: object = None,
    sharpness_every: int | None = None,
    sharpness_at: object = None,
    sharpness_method: str = "auto",
    keep_params: bool = True,
    blowup: float = 1e8,
    check_every: int = 1,
    until_loss: ArrayLike | None = None,
) -> Trajectory:
    r"""Iterate GD from ``w0`` (shape ``(..., n_params)``) for ``steps`` steps: the package's one GD engine.

    **Records.** Loss and :math:`\|\nabla f\|` (and the parameters if ``keep_params``) at steps
    ``0, record_every, 2 record_every, ...`` and the last step, or, if ``record_at`` is given, at exactly
    those iteration numbers (e.g. :func:`gdlab.tubular_runs.record_schedule` for long runs); the sharpness every
    ``sharpness_every`` steps and at the iteration numbers listed in ``sharpness_at`` (with
    :func:`gdlab.curvature.top_eigenpair`, ``method=sharpness_method``, warm-started from the previous
    eigenvector). ``step_size`` is a scalar or broadcasts against the batch shape ``w0.shape[:-1]``.

    **Divergence policy** (the same in :func:`sweep`, which has no domain test: there a zero entry of a
    :class:`~gdlab.objectives.ScalarFactorisation` run turns into NaN one step later and is caught as
    non-finite). At step 0, every ``check_every`` steps and at the last step, a run whose parameters are non-finite, leave :math:`|w_i| <` ``blowup`` or leave the
    objective's domain (:class:`~gdlab.objectives.ScalarFactorisation`: an entry exactly zero; the other
    objectives have none) is flagged in ``diverged`` and frozen at 0; its records from that check on are
    NaN. With ``check_every > 1`` the records between the blow-up and the check that caught it hold the
    iterates themselves: huge values, or NaN where an entry is no longer finite (a recorded parameter is
    finite or NaN, never infinite).

    Objectives whose parameter-major gradient has exactly the arithmetic of ``grad`` (``_grad_T_exact``:
    :class:`~gdlab.objectives.DeepScalarLinear`, :class:`~gdlab.objectives.Polynomial1D`) are iterated in
    that layout with in-place updates, as in :func:`sweep`; the iterates are those of
    ``w - step_size * grad(w)`` bit for bit either way. An objective with its own GD increment
    (:class:`~gdlab.objectives.ScalarFactorisation`: :math:`(\eta(P - y))(P/w)`, the operation order of
    :func:`gdlab.tubular_runs.scalar_gd`) is iterated by that increment alone, equal to
    :func:`gd_map` bit for bit (long runs of :class:`~gdlab.objectives.ScalarFactorisation` without
    ``until_loss`` or sharpness by the same loop compiled with numba, the same bits: see
    ``AUTO_OWN_KERNEL_STEPS``); the loss and gradient norm of its records are evaluated at the end, in one
    batched call on the recorded parameters (so the parameters are kept in memory even when
    ``keep_params=False``).

    **Stopping at a loss level.** With ``until_loss`` (a level, or one per run: it broadcasts against the
    batch shape) the loss of every run is evaluated at every step; ``reached_at`` holds the first step
    :math:`k` with :math:`f(w_k) <` the run's level (``inf`` if none), a run whose loss is non-finite is
    flagged diverged at that step (besides the parameter test above), and the loop stops at the first step
    where every run has reached its level or diverged: records and sharpness then end at that step.
    Where both are needed (records, ``until_loss``) loss and gradient come from
    ``objective.loss_and_grad``, one forward pass for :class:`~gdlab.objectives.MLP`, with the same bits
    as ``loss`` and ``grad``.

    >>> from gdlab.objectives import Quadratic
    >>> traj = run(Quadratic(np.eye(1)), np.array([1.0]), 0.5, steps=3)
    >>> traj.params[:, 0].tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    from .curvature import METHODS, top_eigenpair

    steps = _checks.positive_int(steps, "steps", minimum=0)
    record_every = _checks.positive_int(record_every, "record_every")
    check_every = _checks.positive_int(check_every, "check_every")
    if sharpness_every is not None:
        sharpness_every = _checks.positive_int(sharpness_every, "sharpness_every")
    blowup = float(_checks.positive_finite(blowup, "blowup"))
    if sharpness_method not in METHODS:
        raise ValueError(f"sharpness_method must be one of {METHODS}, got {sharpness_method!r}")
    w = objective._params(w0, "w0").copy()
    if not np.all(np.isfinite(w)):
        raise ValueError("w0 must contain only finite values")
    batch = w.shape[:-1]
    eta = _step_sizes_for_batch(step_size, batch)
    until = None
    if until_loss is not None:
        until = _checks.to_batch(_checks.finite_array(until_loss, "until_loss"), batch, "until_loss")
        reached_at = np.full(batch, np.inf)

    if record_at is None:
        record = set(range(0, steps + 1, record_every)) | {steps}
    else:
        record = _iteration_numbers(record_at, steps, "record_at")
        if not record:
            raise ValueError("record_at must hold at least one iteration number")
    sharp_at = set() if sharpness_every is None else set(range(0, steps + 1, sharpness_every)) | {steps}
    if sharpness_at is not None:
        sharp_at |= _iteration_numbers(sharpness_at, steps, "sharpness_at")
    losses, norms, kept, sharp = [], [], [], []
    diverged = _leaves(objective, w, blowup)
    detected_at = np.where(diverged, 0, steps + 1)  # the check that flagged each run
    vec = None

    fast = bool(getattr(objective, "_grad_T_exact", False))
    # an objective with its own increment is stepped by it alone; its records are evaluated at the end
    own = type(objective)._scaled_grad is not Objective._scaled_grad and not fast
    if fast:  # parameter-major state (n_params, *batch), updated in place
        state = np.ascontiguousarray(np.moveaxis(w, -1, 0))
        gbuf = np.empty_like(state)
        work: dict = {}
        p_axis = 0
    else:
        state = w
        eta = eta[..., None]
        p_axis = -1

    if own:  # records written in place (a long run of a small batch spends little per step)
        record_index = {step: i for i, step in enumerate(sorted(record))}
        own_records = np.empty((len(record_index),) + state.shape)
        scaled_grad = objective._scaled_grad

    def params() -> Array:
        return np.moveaxis(state, 0, -1) if fast else state

    t_end = steps
    compiled = own and until is None and not sharp_at and _use_own_kernel(objective, steps)
    if compiled:  # the same loop compiled (bit for bit): records, detections; the rest as below
        detected_at = _own_kernel_run(objective, state, eta, steps, np.asarray(sorted(record), dtype=np.int64),
                                      check_every, blowup, own_records, detected_at)
        diverged = detected_at <= steps
    with np.errstate(all="ignore"):
        for t in range(0 if compiled else steps + 1):
            f_t = None
            if own:
                if t in record:
                    own_records[record_index[t]] = state  # records from a run's detection on are NaN'd below
            elif not fast and (until is not None or t in record):
                f_t, g = objective.loss_and_grad(state)  # MLP: one forward pass, the bits of loss() and grad()
            else:
                g = objective._grad_T(state, out=gbuf, work=work) if fast else objective.grad(state)
                if fast and (until is not None or t in record):  # the loss from the gradient's work, same bits
                    f_t = objective._loss_T_from_work(work)
            stop = False
            if until is not None:
                if f_t is None:
                    f_t = objective.loss(np.ascontiguousarray(params()) if fast else state)
                lost = ~np.isfinite(f_t) & ~diverged
                if lost.any():  # frozen at 0 after this step's update, like a run caught by the parameter test
                    diverged = diverged | lost
                    detected_at = np.where(lost, t, detected_at)
                reached_at[np.isinf(reached_at) & ~diverged & (f_t < until)] = t
                stop = bool(np.all(np.isfinite(reached_at) | diverged))
                if stop:
                    t_end = t
            if t in record and not own:
                w_t = params() if f_t is None or keep_params else None
                f_rec = f_t if f_t is not None else objective.loss(params() if w_t is None else w_t)
                losses.append(np.where(diverged, np.nan, f_rec))
                if w_t is not None and keep_params:
                    kept.append(np.where(diverged[..., None], np.nan, w_t))
                gb = np.moveaxis(g, 0, -1) if fast else g  # the layout grad() returns (same einsum order)
                norms.append(np.where(diverged, np.nan, np.sqrt(np.einsum("...i,...i->...", gb, gb))))
            if t in sharp_at:
                safe = np.where(diverged[..., None], 0.0, params())
                pair = top_eigenpair(objective, safe, method=sharpness_method, v0=vec)
                vec = np.where(np.isfinite(pair.vector), pair.vector, 1.0)
                sharp.append(np.where(diverged, np.nan, pair.value))
            if t == steps or stop:
                break
            if fast:
                g *= eta
                state -= g
            elif own:
                state -= scaled_grad(state, eta)
            else:
                state = state - eta * g
            pending = until is not None and bool(lost.any())  # flagged by their loss at t, not yet zeroed
            if (t + 1) % check_every == 0 or t + 1 == steps or pending:
                newly = _leaves(objective, state, blowup, axis=p_axis) & ~diverged
                if newly.any():
                    diverged = diverged | newly
                    detected_at = np.where(newly, t + 1, detected_at)
                if newly.any() or pending:
                    if fast:
                        state[:, diverged] = 0.0
                    else:
                        state = np.where(diverged[..., None], 0.0, state)
    if t_end < steps:  # stopped early (until_loss): records and sharpness end at t_end
        record = {step for step in record if step <= t_end}
        sharp_at = {step for step in sharp_at if step <= t_end}
    steps_arr = np.asarray(sorted(record), dtype=np.int64)
    if own:  # the records' loss and gradient norm, in one batched call each
        params_arr = own_records[: len(record)]
        with np.errstate(all="ignore"):
            loss_arr = objective.loss(params_arr)
            g = objective.grad(params_arr)
            norm_arr = np.sqrt(np.einsum("...i,...i->...", g, g))
        if not keep_params:
            params_arr = None
    elif losses:
        loss_arr, norm_arr = np.stack(losses), np.stack(norms)
        params_arr = np.stack(kept) if keep_params else None
    else:  # stopped (until_loss) before the first iteration number of record_at
        loss_arr, norm_arr = np.empty((0,) + batch), np.empty((0,) + batch)
        params_arr = np.empty((0,) + w.shape) if keep_params else None
    if params_arr is not None:
        params_arr[~np.isfinite(params_arr)] = np.nan
    if check_every > 1 or own:  # records at or after the check that caught a divergence are NaN
        late = steps_arr.reshape((-1,) + (1,) * len(batch)) >= detected_at
        loss_arr[late] = np.nan
        norm_arr[late] = np.nan
        if params_arr is not None:
            params_arr[late] = np.nan
    return Trajectory(
        steps=steps_arr,
        loss=loss_arr,
        grad_norm=norm_arr,
        params=params_arr,
        sharpness=np.stack(sharp) if sharp_at else None,
        sharpness_steps=np.asarray(sorted(sharp_at), dtype=np.int64) if sharp_at else None,
        diverged=diverged,
        reached_at=None if until is None else reached_at,
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
        last_params: ``(keep_last, n_eta, n_init, n_params)``, the iterates
            :math:`w_{T-\\text{keep\\_last}+1}, \\dots, w_T` (oldest first; the last equals
            ``final_params``), NaN where diverged; ``None`` when ``keep_last=0``.
    """

    step_sizes: Array
    grad_norm: Array
    final_loss: Array
    final_params: Array
    diverged: NDArray[np.bool_]
    steps: int
    tail: int
    last_params: Array | None = None

    @property
    def diverged_fraction(self) -> Array:
        """Fraction of diverged runs per step size, shape ``(n_eta,)``."""
        return self.diverged.mean(axis=1)

    def converged(self, tol: float = 1e-6) -> NDArray[np.bool_]:
        """Mask of runs whose asymptotic gradient norm is below ``tol`` (diverged runs are False)."""
        with np.errstate(invalid="ignore"):
            return ~self.diverged & (self.grad_norm < tol)


def _default_chunk(objective: Objective, total: int) -> int:
    if objective._fast_T:
        return 16384  # parameter-major chunks of this many runs stay (about) in the L2 cache
    return max(1, min(total, 2**21 // max(1, objective.n_params)))


def _show_progress(progress: bool | None, work: int) -> bool:
    if progress is not None:
        return bool(progress)
    stream = sys.stderr
    return work >= 5 * 10**8 and hasattr(stream, "isatty") and stream.isatty()


def sweep(
    objective: Objective,
    step_sizes: ArrayLike,
    inits: ArrayLike,
    steps: int,
    *,
    tail: int = 100,
    check_every: int = 100,
    blowup: float = 1e8,
    progress: bool | None = None,
    keep_last: int = 2,
    chunk_size: int | None = None,
    retire_fixed_points: bool = True,
    engine: str = "auto",
    client: object = None,
) -> SweepResult:
    r"""Run GD for every pair (step size, initialisation) as one vectorised computation.

    ``step_sizes`` has shape ``(n_eta,)`` and ``inits`` shape ``(n_init, n_params)``; run
    ``(i, j)`` starts at ``inits[j]`` with step ``step_sizes[i]``. The asymptotic gradient norm is the
    mean of :math:`\|\nabla f(w_t)\|` over the last ``tail`` steps (averaging over a whole number of
    periods of a 2-cycle when ``tail`` is even). Every ``check_every`` steps, runs that overflowed or
    left ``|w_i| < blowup`` are marked diverged and dropped from the computation (their outputs are
    NaN). ``keep_last`` final iterates are returned in ``last_params`` (for period-2 detection, see
    :func:`gdlab.dynamics.classify_runs`).

    Runs that reach an exact fixed point of the floating-point GD map (:math:`w_{t+1} = w_t` bit for
    bit at a check) are retired early with their remaining records filled in, which changes no result
    (``retire_fixed_points=False`` runs every step anyway, e.g. for timing).

    Implementation: the runs are processed in chunks of ``chunk_size`` columns; objectives with a
    native parameter-major gradient (``_fast_T``) keep each chunk as a contiguous
    ``(n_params, chunk)`` array updated in place with ``out=`` buffers, so one GD step is a handful of
    cache-resident ufunc calls. ``progress=True`` shows a tqdm bar; ``None`` (default) shows it only for
    large sweeps (``n_eta * n_init * steps * n_params >= 5e8``) on an interactive terminal, so it is
    silent in tests and notebooks; ``False`` never.

    ``engine``: ``"numba"`` runs the compiled kernels of ``gdlab.kernels`` (all cores;
    :class:`~gdlab.objectives.DeepScalarLinear`, :class:`~gdlab.objectives.LinearNetwork`,
    :class:`~gdlab.objectives.MLP`), ``"numpy"`` this module's reference implementation, ``"auto"``
    (default) a kernel that is bit for bit the reference (:class:`~gdlab.objectives.DeepScalarLinear`, and
    :class:`~gdlab.objectives.LinearNetwork` with widths up to 6 and depth up to 4) when numba is installed
    and the sweep is large enough to pay for it (``AUTO_KERNEL_WORK``: the first kernel load in a process
    waits until the process has done about 1 s of numpy sweeps; ``AUTO_KERNEL_WORK_WARM`` afterwards), else
    the reference, with identical results either way; the environment variable
    ``GDLAB_SWEEP_ENGINE=numpy`` makes ``"auto"`` choose the reference. The kernels give the same results
    (bit for bit for DeepScalarLinear and LinearNetwork, to rounding for MLP; see ``gdlab.kernels``).
    ``client``: a ``dask.distributed.Client``; the runs are then cut into chunks computed as tasks on
    its cluster (same results as in-process).

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
    keep_last = _checks.positive_int(keep_last, "keep_last", minimum=0)
    blowup = float(_checks.positive_finite(blowup, "blowup"))
    if tail > steps:
        raise ValueError(f"tail must be at most steps={steps}, got {tail}")
    if keep_last > steps + 1:
        raise ValueError(f"keep_last must be at most steps + 1={steps + 1}, got {keep_last}")
    n_eta, n_init, n = etas.size, inits.shape[0], objective.n_params
    total = n_eta * n_init
    chunk = _default_chunk(objective, total) if chunk_size is None else _checks.positive_int(chunk_size, "chunk_size")
    auto = engine == "auto"
    engine = _resolve_engine(objective, engine, total * steps * n)
    if auto and engine == "numpy" and client is None:
        from . import kernels

        if kernels.available() and kernels.auto_ok(objective):
            global _numpy_auto_work
            _numpy_auto_work += total * steps * n

    # outputs over the flat run index k = i * n_init + j, parameter-major
    final = np.zeros((n, total))
    last = np.full((keep_last, n, total), np.nan) if keep_last else None
    norm_sum = np.zeros(total)
    diverged = np.zeros(total, dtype=bool)
    eta_flat = np.repeat(etas, n_init)
    init_T = np.ascontiguousarray(inits.T)

    bar = None
    if _show_progress(progress, total * steps * n):
        from tqdm.auto import tqdm

        bar = tqdm(total=total * steps, desc="GD sweep", unit="run-step", unit_scale=True)

    with np.errstate(all="ignore"):
        if engine == "numba" or client is not None:
            from .kernels import sweep_block_arrays

            final, last, norm_sum, diverged = sweep_block_arrays(
                objective, etas, inits, steps, tail, check_every, blowup, keep_last, retire_fixed_points,
                engine=engine, chunk_size=chunk_size, bar=bar, client=client)
        else:
            for lo in range(0, total, chunk):
                hi = min(total, lo + chunk)
                idx = np.arange(lo, hi)
                wT = init_T[:, idx % n_init].copy()
                _sweep_chunk(objective, wT, eta_flat[lo:hi], idx, steps, tail, check_every, blowup, keep_last,
                             final, last, norm_sum, diverged, bar, retire_fixed_points)
        final_P = np.ascontiguousarray(final.T).reshape(n_eta, n_init, n)
        final_loss = objective.loss(np.where(diverged.reshape(n_eta, n_init)[..., None], 0.0, final_P))
    if bar is not None:
        bar.close()
    div = diverged.reshape(n_eta, n_init)
    nan_out = np.where(div, np.nan, 1.0)
    last_params = None
    if last is not None:
        last_params = np.moveaxis(last, 1, -1).reshape(keep_last, n_eta, n_init, n) * nan_out[..., None]
    return SweepResult(
        step_sizes=etas,
        grad_norm=norm_sum.reshape(n_eta, n_init) / tail * nan_out,
        final_loss=final_loss * nan_out,
        final_params=final_P * nan_out[..., None],
        diverged=div,
        steps=steps,
        tail=tail,
        last_params=last_params,
    )


def _rent_or_buy(work: int, rented: int, price: int, warm: int, loaded: bool) -> bool:
    """Whether to run ``work`` on a compiled kernel rather than on numpy: the one rule of ``sweep(engine="auto")``
    and of :func:`run`'s compiled loop, whose results are identical either way.

    Loading a kernel costs a fixed time (importing numba, reading the cached machine code), worth ``price``
    units of numpy work. A process that has not loaded it runs on numpy ("rents") until the work it has run
    there (``rented``) plus the current ``work`` reaches ``price``, then loads it ("buys"): when ``price`` is
    the numpy work the load time would buy, the time spent is at most about twice that of the better choice
    made in hindsight. Once ``loaded``, any ``work`` of at least ``warm`` units runs on the kernel (``warm``
    only keeps the tiniest calls on numpy).
    """
    return work >= warm if loaded else work + rented >= price


#: ``engine="auto"`` and a bit-for-bit kernel (``kernels.auto_ok``): the price of loading the kernel in
#: parameter updates (runs x steps x n_params) for ``_rent_or_buy``. Loading takes about 0.4-0.6 s (numba's
#: import and the cached machine code), in which the numpy reference runs about 1e8 updates of a small
#: LinearNetwork and about 5e8 of a DeepScalarLinear: 2e8 is between the two.
AUTO_KERNEL_WORK = 2 * 10**8
#: ... and once the kernel is loaded in this process, every sweep of at least this many updates uses it
#: (a loaded kernel's fixed cost per sweep is about 0.2 ms, the numpy reference's about 0.7 ms: the loaded
#: kernel is faster from a few hundred updates on).
AUTO_KERNEL_WORK_WARM = 10**3
_numpy_auto_work = 0    # parameter updates run on numpy by engine="auto" where a kernel could have run


#: :func:`run` on :class:`~gdlab.objectives.ScalarFactorisation` (no ``until_loss``, no sharpness) iterates
#: with a compiled loop (``objectives._scalar_kernel``, bit for bit the numpy loop); the price of loading it,
#: in steps, for ``_rent_or_buy`` (the numpy loop: about 4 µs a step for a small batch; loading the
#: compiled loop: about 0.7 s) ...
AUTO_OWN_KERNEL_STEPS = 10**5
#: ... and once it is loaded, every such run of at least this many steps.
AUTO_OWN_KERNEL_STEPS_WARM = 100
_own_numpy_steps = 0    # steps run on the numpy loop where the compiled one could have run
_own_kernel_loaded = False


def _use_own_kernel(objective: Objective, steps: int) -> bool:
    """True when :func:`run` should iterate ``objective`` for ``steps`` steps with the compiled loop.

    Only :class:`~gdlab.objectives.ScalarFactorisation` itself (a subclass may change its increment) and only
    when numba is installed; ``GDLAB_SWEEP_ENGINE=numpy`` forces the numpy loop. Results are identical either
    way; the choice (``_rent_or_buy`` with ``AUTO_OWN_KERNEL_STEPS``) is about time.
    """
    global _own_numpy_steps
    from .objectives import ScalarFactorisation

    if type(objective) is not ScalarFactorisation or os.environ.get("GDLAB_SWEEP_ENGINE", "auto") == "numpy":
        return False
    from . import kernels

    if kernels.available() and _rent_or_buy(steps, _own_numpy_steps, AUTO_OWN_KERNEL_STEPS,
                                            AUTO_OWN_KERNEL_STEPS_WARM, _own_kernel_loaded):
        return True
    _own_numpy_steps += steps
    return False


def _own_kernel_run(objective: Objective, state: Array, eta: Array, steps: int, record: NDArray[np.int64],
                    check_every: int, blowup: float, own_records: Array,
                    detected_at: NDArray[np.int64]) -> NDArray[np.int64]:
    """The loop of :func:`run` for an objective with its own increment, compiled: fills ``own_records``
    ``(len(record), *batch, p)`` and returns the step of the check that flagged each run (``steps + 1``: never),
    as the numpy loop does (``detected_at`` on entry: ``0`` for the runs flagged at step 0)."""
    global _own_kernel_loaded
    from .objectives._scalar_kernel import own_run

    _own_kernel_loaded = True
    p = state.shape[-1]
    w = np.ascontiguousarray(state, dtype=np.float64).reshape(-1, p)
    # fresh writable C arrays: the kernel's one signature (a read-only broadcast view would be another type)
    etas = np.array(np.broadcast_to(eta, state.shape[:-1] + (1,)), dtype=np.float64, order="C").reshape(-1)
    det = np.array(np.broadcast_to(detected_at, state.shape[:-1]), dtype=np.int64, order="C").reshape(-1)
    recs = own_records.reshape(len(record), -1, p)  # a view: own_records is C-contiguous
    target = float(objective.target)  # type: ignore[attr-defined]  # a ScalarFactorisation (_use_own_kernel)
    own_run(w, etas, target, int(steps), np.array(record, dtype=np.int64, order="C"),
            int(check_every), float(blowup), recs, det)
    return det.reshape(state.shape[:-1])


def _resolve_engine(objective: Objective, engine: str, work: int) -> str:
    """``"numba"`` or ``"numpy"`` for ``engine`` in ``("auto", "numba", "numpy")`` and a sweep of ``work`` updates.

    Results are identical either way for ``"auto"`` (it only uses bit-for-bit kernels); the choice is about
    time (``_rent_or_buy`` with ``AUTO_KERNEL_WORK`` and ``AUTO_KERNEL_WORK_WARM``).
    """
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    if engine == "auto" and os.environ.get("GDLAB_SWEEP_ENGINE", "auto") != "auto":
        engine = os.environ["GDLAB_SWEEP_ENGINE"]      # e.g. to time the chapters on the numpy reference
        if engine not in ("numba", "numpy"):
            raise ValueError(f"GDLAB_SWEEP_ENGINE must be 'auto', 'numba' or 'numpy', got {engine!r}")
        if engine == "numba" and work < AUTO_KERNEL_WORK:
            engine = "auto"
    if engine == "numpy":
        return engine
    from . import kernels

    has_kernel = kernels.available() and kernels.kind_of(objective) is not None
    if engine == "numba" and not has_kernel:
        why = "numba is not installed" if not kernels.available() else f"no kernel for {type(objective).__name__}"
        raise ValueError(f"engine='numba' is not available: {why}")
    if engine == "numba":
        return "numba"
    if not (has_kernel and kernels.auto_ok(objective)):
        return "numpy"
    use = _rent_or_buy(work, _numpy_auto_work, AUTO_KERNEL_WORK, AUTO_KERNEL_WORK_WARM, kernels.loaded(objective))
    return "numba" if use else "numpy"


def _sweep_chunk(objective, wT, eta, idx, steps, tail, check_every, blowup, keep_last, final, last, norm_sum, diverged, bar, retire_fixed):
    """GD on one chunk of runs, in place; ``wT`` is ``(n_params, c)``, ``idx`` the runs' flat indices.

    At every check (each ``check_every`` steps and the last step) runs are retired from the chunk:
    diverged ones, and those at an exact fixed point of the floating-point GD map
    (:math:`w_{t+1} = w_t` bit for bit, hence :math:`w_s = w_t` for all later :math:`s`). A retired fixed
    point gets its final and kept iterates and the rest of its tail gradient-norm sum filled in, so
    the results equal those of running every step (the sum up to rounding: ``k * x`` instead of
    ``x + ... + x``).
    """
    fast = objective._fast_T
    c0 = wT.shape[1]
    if fast:
        state = wT  # (n, c), contiguous
        g = np.empty_like(state)
        grad = objective._grad_T
        work: dict = {}
        axis, einsum = 0, "ij,ij->j"
    else:
        state = np.ascontiguousarray(wT.T)  # (c, n)
        eta = eta[:, None]
        axis, einsum = 1, "ij,ij->i"

    def take(a: Array, mask: NDArray[np.bool_]) -> Array:
        return np.ascontiguousarray(a[:, mask]) if fast else a[mask]

    def param_major(a: Array) -> Array:
        return a if fast else a.T

    tail_start = steps - tail
    last_start = steps - keep_last + 1  # iterates w_s with s >= last_start go to slot s - last_start
    done = 0
    if keep_last and last_start == 0:
        last[0][:, idx] = param_major(state)
    for t in range(steps):
        check = (t + 1) % check_every == 0 or t == steps - 1
        if fast:
            grad(state, out=g, work=work)
        else:
            g = objective.grad(state)
        if t >= tail_start or check:
            gnorm = np.sqrt(np.einsum(einsum, g, g))
            if t >= tail_start:
                norm_sum[idx] += gnorm
        if check and retire_fixed:
            previous = state.copy()
        g *= eta
        state -= g
        if keep_last and t + 1 >= last_start:
            last[t + 1 - last_start][:, idx] = param_major(state)
        if check:
            bad = _blown_up(state, blowup, axis=axis)
            diverged[idx[bad]] = True
            if retire_fixed and t + 1 < steps:
                fixed = np.all(state == previous, axis=axis) & ~bad
            else:
                fixed = np.zeros_like(bad)
            if fixed.any():
                where = idx[fixed]
                frozen = param_major(take(state, fixed))
                final[:, where] = frozen
                norm_sum[where] += (steps - max(t + 1, tail_start)) * gnorm[fixed]
                for slot in range(max(0, t + 2 - last_start), keep_last):
                    last[slot][:, where] = frozen
            retire = bad | fixed
            if retire.any():
                keep = ~retire
                idx = idx[keep]
                state = take(state, keep)
                eta = eta[keep]
                if fast:
                    g = np.empty_like(state)
            if bar is not None:
                bar.update(c0 * (t + 1 - done))
                done = t + 1
            if idx.size == 0:
                break
    if bar is not None and done < steps:
        bar.update(c0 * (steps - done))
    if idx.size:
        final[:, idx] = param_major(state)
