r"""Long GD runs of the deep scalar factorisation, read in tubular coordinates about its minimisers (chapters 4, 5).

* :func:`scalar_gd` iterates :math:`\theta \mapsto \theta - \eta(\prod_i\theta_i - y)\,\prod_i\theta_i/\theta`
  for a whole batch of initialisations and step sizes (:func:`gdlab.descent.run` on
  :class:`~gdlab.objectives.ScalarFactorisation`), recording the iterates at chosen steps.
* :func:`record_schedule` builds a record schedule: every step early on, then logarithmically spaced,
  always ending with the last two steps (so that a period-2 orbit can be read off).
* :func:`tubular_trace` projects the recorded iterates onto :math:`\mathcal M` (:func:`gdlab.manifold.project`)
  and returns :math:`\theta^\parallel_t`, :math:`\theta^\perp_t`, :math:`\|\theta^\parallel_t - \theta^*\|` and
  :math:`\lambda(\theta^\parallel_t) - \lambda^*`.
* :func:`initial_points` places initialisations at prescribed tubular coordinates.
* :func:`index_window` turns a range of steps into the index window of the fits in :mod:`gdlab.dynamics`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, manifold
from .descent import _iteration_numbers, run
from .objectives import ScalarFactorisation

__all__ = [
    "ScalarRun",
    "TubularTrace",
    "index_window",
    "initial_points",
    "record_schedule",
    "scalar_gd",
    "tubular_trace",
]

Array = NDArray[np.float64]

#: :func:`scalar_gd` applies the divergence test of :func:`gdlab.descent.run` every this many steps
_CHECK_EVERY = 1000


def record_schedule(steps: int, *, dense: int = 0, n_log: int = 200) -> NDArray[np.int64]:
    """Sorted unique record steps: ``0..dense-1``, ``n_log`` log-spaced steps up to ``steps``, and the last four steps.

    >>> record_schedule(1000, dense=3, n_log=4).tolist()
    [0, 1, 2, 10, 100, 997, 998, 999, 1000]
    """
    steps = _checks.positive_int(steps, "steps")
    dense = _checks.positive_int(dense, "dense", minimum=0)
    n_log = _checks.positive_int(n_log, "n_log", minimum=0)
    logs = np.round(np.logspace(0, np.log10(steps), n_log)).astype(np.int64) if n_log else np.empty(0, np.int64)
    return np.unique(np.concatenate([np.arange(min(dense, steps + 1)), logs, np.arange(max(steps - 3, 0), steps + 1)]))


@dataclass(frozen=True)
class ScalarRun:
    """Recorded GD iterates of the scalar factorisation.

    Attributes:
        steps: record steps, ``(T,)``.
        params: iterates at those steps, ``(T, *batch, p)``; NaN after a divergence.
        step_size: ``(*batch,)`` step sizes.
        target: :math:`y`.
        diverged: ``(*batch,)`` bool.
    """

    steps: NDArray[np.int64]
    params: Array
    step_size: Array
    target: float
    diverged: NDArray[np.bool_]


def scalar_gd(
    w0: ArrayLike,
    step_size: ArrayLike,
    target: float,
    steps: int,
    *,
    record: ArrayLike | None = None,
    blowup: float = 1e6,
) -> ScalarRun:
    r"""GD on :math:`\ell(\theta) = \tfrac12(\prod_i\theta_i - y)^2` for a batch ``w0`` of shape ``(..., p)``.

    A thin use of :func:`gdlab.descent.run` on :class:`~gdlab.objectives.ScalarFactorisation`, whose step is
    :math:`\theta - (\eta(P - y))\,(P/\theta)` with :math:`P = \prod_i\theta_i` (the quotient gradient: entries
    must stay non-zero), for ``record[-1]`` steps, recording at ``record`` (default: every step up to ``steps``),
    with ``run``'s divergence policy checked every 1000 steps and at the last record: a run that hits zero,
    overflows or leaves :math:`|\theta_i| <` ``blowup`` is frozen and flagged, its records from that check on
    are NaN (and a non-finite record is NaN).  ``step_size`` is a scalar or broadcasts to the batch shape.
    About 5 µs per step for a batch of ten depth-5 models on numpy; long runs (``descent.AUTO_OWN_KERNEL_STEPS``)
    take a compiled loop with the same arithmetic, bit for bit, about 15 ns per step and run.

    >>> res = scalar_gd(np.array([1.2, 0.9]), 0.1, 1.0, 200, record=[0, 200])
    >>> abs(float(np.prod(res.params[-1])) - 1.0) < 1e-8
    True
    """
    y = _checks.finite_scalar(target, "target")
    blowup = float(_checks.positive_finite(blowup, "blowup"))
    w = _checks.finite_array(w0, "w0")
    if w.ndim == 0 or w.shape[-1] < 1:
        raise ValueError(f"w0 must have shape (..., p), got {w.shape}")
    if np.any(w == 0):
        raise ValueError("w0 must have non-zero entries")
    steps = _checks.positive_int(steps, "steps", minimum=0)
    eta_in = _checks.positive_finite(step_size, "step_size")
    eta = _checks.to_batch(eta_in, w.shape[:-1], "step_size").copy()
    if record is None:
        rec = np.arange(steps + 1)
    else:
        rec = np.asarray(sorted(_iteration_numbers(record, steps, "record")), dtype=np.int64)
        if rec.size == 0:
            raise ValueError(f"record must hold at least one step in [0, {steps}], got {record!r}")
    traj = run(ScalarFactorisation(w.shape[-1], y), w, eta_in, int(rec[-1]), record_at=rec, blowup=blowup,
               check_every=_CHECK_EVERY)
    return ScalarRun(steps=rec, params=cast(Array, traj.params), step_size=eta, target=y, diverged=traj.diverged)


@dataclass(frozen=True)
class TubularTrace:
    r"""A GD run in tubular coordinates about :math:`\mathcal M`.

    Attributes:
        steps: ``(T,)``.
        parallel: :math:`\theta^\parallel_t`, ``(T, *batch, p)``.
        normal: :math:`\theta^\perp_t`, ``(T, *batch)``.
        distance_to_flattest: :math:`\|\theta^\parallel_t - \theta^*\|`, ``(T, *batch)`` (the chord; see
            :func:`gdlab.manifold.distance_bounds` for the geodesic distance).
        sharpness_gap: :math:`\lambda(\theta^\parallel_t) - \lambda^*`, ``(T, *batch)``.
        step_size: ``(*batch,)``.
        min_sharpness: :math:`\lambda^* = p\,y^{2-2/p}`.
    """

    steps: NDArray[np.int64]
    parallel: Array
    normal: Array
    distance_to_flattest: Array
    sharpness_gap: Array
    step_size: Array
    min_sharpness: float

    def exit_step(self) -> NDArray[np.int64]:
        r"""First recorded step after which :math:`\eta\lambda(\theta^\parallel_t) < 2` at every later record; ``-1`` if never."""
        stable = self.step_size * (self.sharpness_gap + self.min_sharpness) < 2.0
        tail_stable = np.flip(np.logical_and.accumulate(np.flip(stable, axis=0), axis=0), axis=0)
        idx = np.argmax(tail_stable, axis=0)
        return np.where(tail_stable.any(axis=0), self.steps[idx], -1)

    def two_cycle(self) -> tuple[Array, Array]:
        r"""``(half_amplitude, centre)`` of :math:`\theta^\perp` over the last two records: :math:`(|a - b|/2, (a+b)/2)`."""
        if self.steps[-1] - self.steps[-2] != 1:
            raise ValueError("the last two records must be consecutive steps")
        a, b = self.normal[-1], self.normal[-2]
        return np.abs(a - b) / 2, (a + b) / 2


def tubular_trace(run: ScalarRun) -> TubularTrace:
    r"""Project every recorded iterate of ``run`` onto :math:`\mathcal M` and collect the tubular coordinates."""
    if not isinstance(run, ScalarRun):
        raise ValueError(f"run must be a ScalarRun, got {type(run).__name__}")
    y = run.target
    p = run.params.shape[-1]
    if y <= 0 or p < 2:
        raise ValueError("tubular coordinates need target > 0 and depth >= 2")
    ok = ~run.diverged
    par = np.full(run.params.shape, np.nan)
    nor = np.full(run.params.shape[:-1], np.nan)
    if ok.any():
        pr = manifold.project(run.params[:, ok], y)
        par[:, ok], nor[:, ok] = pr.point, pr.normal_coordinate
    star = manifold.balanced_point(p, y)
    lam_star = p * y ** (2.0 - 2.0 / p)
    with np.errstate(invalid="ignore"):
        dist = np.linalg.norm(par - star, axis=-1)
        gap = y**2 * np.sum(par**-2.0, axis=-1) - lam_star
    return TubularTrace(
        steps=run.steps, parallel=par, normal=nor, distance_to_flattest=dist,
        sharpness_gap=gap, step_size=run.step_size, min_sharpness=lam_star,
    )


def initial_points(directions: ArrayLike, distance: ArrayLike, normal_coordinate: ArrayLike, target: float) -> Array:
    r"""Initialisations :math:`\theta_0 = x + s\,n(x)` with :math:`x = \theta^*\odot e^{u}` on :math:`\mathcal M`.

    ``directions`` (``(..., p)``) are made tangent at :math:`\theta^*` (mean removed) and scaled so that
    :math:`\|u\| =` ``distance`` (a log-coordinate distance, equal to :math:`\|x - \theta^*\|/y^{1/p}` to first order);
    ``normal_coordinate`` is :math:`s`.  Returns ``(..., p)``.
    """
    d = _checks.finite_array(directions, "directions")
    u = d - d.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(u, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("directions must not be multiples of the all-ones vector")
    u = u / norm * _checks.finite_array(distance, "distance")[..., None]
    x = manifold.balanced_point(d.shape[-1], target) * np.exp(u)
    return manifold.embed(x, normal_coordinate)


def index_window(steps: ArrayLike, first: int, last: int) -> tuple[int, int]:
    """Index range ``(start, stop)`` of the records with ``first <= step <= last``, for the ``window`` of
    :func:`gdlab.dynamics.fit_linear_rate` and :func:`gdlab.dynamics.fit_power_law`.

    >>> index_window([0, 10, 100, 1000], 10, 100)
    (1, 3)
    """
    st = np.asarray(steps)
    start, stop = int(np.searchsorted(st, first, side="left")), int(np.searchsorted(st, last, side="right"))
    if stop - start < 2:
        raise ValueError(f"fewer than two records between steps {first} and {last}")
    return start, stop
