r"""The local Polyak-Łojasiewicz (PL) criterion (paper C; chapters 6 and 7), measured and certified.

For a loss :math:`f \ge 0` and the open ball :math:`B = B(x_0, r)` the *local PL constant* is

.. math::
    \alpha(x_0, r) = \inf\Bigl\{ \frac{\|\nabla f(x)\|^2}{f(x)} : x \in B,\ f(x) \ne 0 \Bigr\},

and the *radius condition* is :math:`4 f(x_0) < r^2 \alpha(x_0, r)`.  Chapter 6 proves that under it
gradient flow, and gradient descent with a step size below
:math:`\eta_{\max} = \tfrac{2}{\beta}\bigl(1 - 2\sqrt{f(x_0)/\alpha}/r\bigr)` (``β`` a Lipschitz constant of
:math:`\nabla f` on ``B``), stay in ``B`` and converge linearly to a zero of ``f``.

This module holds

* :func:`pl_ratio` — the ratio :math:`\|\nabla f\|^2 / f` at a batch of points;
* :func:`sample_ball` — seeded points in a ball;
* :func:`estimate_alpha` — an estimate of :math:`\alpha(x_0, r)` by sampling plus a batched local
  minimisation from the worst samples.  Every value it returns is the ratio at a point of the
  closed ball, so it is an **upper bound** on the true infimum, never a certificate;
* :func:`hessian_norm` and :func:`estimate_smoothness` — :math:`\|\nabla^2 f\|_{op}` at points and a
  (sampled, hence lower-bound) estimate of its supremum over a ball;
* :func:`certify` — the quantities of the criterion (flow path-length bound, admissible step sizes,
  rate bound) for given :math:`f(x_0), \alpha, \beta, r`, as a frozen :class:`Certificate`;
* :func:`lzb_radius` — the radius :math:`4\sqrt{2\beta f(x_0)}/\alpha` of the PL* theorem in the form
  chapter 6 states and proves it (Liu, Zhu and Belkin's normalisation :math:`\mu = \alpha/2`);
* :func:`rational_min` — the exact minimum of a rational function on intervals (the PL ratio of a
  one-dimensional polynomial loss).

Chapter 7's initialisations and the certificate of the positive initialisation are in
:mod:`gdlab.initialisation`, the tangent kernel in :mod:`gdlab.tangent_kernel`, Monte Carlo probabilities
in :mod:`gdlab.statistics`.

The statements are this book's reconstruction of Chatterjee's criterion (the paper's full text was
not available to the authors); see chapter 6.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, threaded_runs
from .curvature import plain_power_iteration
from .objectives import Objective

__all__ = [
    "AlphaEstimate",
    "Certificate",
    "certify",
    "estimate_alpha",
    "estimate_smoothness",
    "hessian_norm",
    "lzb_radius",
    "pl_ratio",
    "rational_min",
    "sample_ball",
]

Array = NDArray[np.float64]
RngLike = np.random.Generator | int | None


# --------------------------------------------------------------------------- the ratio


def pl_ratio(objective: Objective, w: ArrayLike, loss_floor: float = 0.0) -> Array:
    r"""PL ratio :math:`\|\nabla f(w)\|^2 / f(w)` at ``w`` of shape ``(..., n_params)``; returns ``(...,)``.

    Points with :math:`f(w) \le` ``loss_floor`` lie (numerically) on the zero set, where the ratio is
    not defined; they get ``NaN``.

    >>> from gdlab.objectives import Quadratic
    >>> float(pl_ratio(Quadratic(np.eye(2)), np.array([1.0, 1.0])))   # ||w||^2 / (||w||^2 / 2)
    2.0
    """
    w = objective._params(w)
    loss_floor = float(_checks.nonnegative_finite(loss_floor, "loss_floor"))
    f, g2 = _loss_and_grad_sq(objective, w)
    ok = f > loss_floor
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, g2 / np.where(ok, f, 1.0), np.nan)


#: Parameters per block (about 2 MB of float64) in which :func:`_loss_and_grad_sq` evaluates a large
#: batch of an objective whose runs are computed independently: the temporaries of a block stay in cache.
_BLOCK_PARAMS = 1 << 18


def _loss_and_grad_sq(objective: Objective, w: Array) -> tuple[Array, Array]:
    r"""``(f(w), ||grad f(w)||^2)`` for ``w`` of shape ``(..., n_params)``.

    For an objective whose runs are computed independently of each other (``_runs_independent``:
    :class:`~gdlab.objectives.MLP`), a batch larger than a block is evaluated block by block of
    :data:`_BLOCK_PARAMS` parameters: each point's values are those of one batched call, bit for bit,
    without the batch-sized temporaries of the gradient.
    """
    batch, p = w.shape[:-1], w.shape[-1]
    rows = max(1, _BLOCK_PARAMS // max(p, 1))
    total = int(np.prod(batch))
    if not getattr(objective, "_runs_independent", False) or total <= rows:
        f, g = objective.loss_and_grad(w)
        return f, np.einsum("...i,...i->...", g, g)
    flat = w.reshape(total, p)
    f, g2 = np.empty(total), np.empty(total)
    for start in range(0, total, rows):
        block = slice(start, start + rows)
        f_b, g_b = objective.loss_and_grad(flat[block])
        f[block], g2[block] = f_b, np.einsum("...i,...i->...", g_b, g_b)
    return f.reshape(batch), g2.reshape(batch)


def _log_ratio_and_grad(objective: Objective, w: Array, loss_floor: float) -> tuple[Array, Array]:
    r""":math:`\phi = \log(\|g\|^2/f)` and :math:`\nabla\phi = 2Hg/\|g\|^2 - g/f`; +inf / 0 where undefined."""
    f, g = objective.loss_and_grad(w)
    g2 = np.einsum("...i,...i->...", g, g)
    ok = (f > loss_floor) & (g2 > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hg = objective.hvp(w, g)
        phi = np.where(ok, np.log(np.where(ok, g2, 1.0)) - np.log(np.where(ok, f, 1.0)), np.inf)
        zero_grad = (f > loss_floor) & (g2 == 0)  # a critical point with f > 0: ratio exactly 0
        phi = np.where(zero_grad, -np.inf, phi)
        dphi = 2.0 * hg / np.where(ok, g2, 1.0)[..., None] - g / np.where(ok, f, 1.0)[..., None]
        dphi = np.where(ok[..., None] & np.isfinite(dphi), dphi, 0.0)
    return phi, dphi


# --------------------------------------------------------------------------- sampling


def sample_ball(center: ArrayLike, radius: float, n: int, rng: RngLike = None) -> Array:
    r"""``n`` seeded points in the closed ball :math:`\bar B(\text{center}, \text{radius})`; shape ``(n, *center.shape)``.

    Directions are uniform on the sphere.  Half the points (even indices) have radius
    :math:`r U^{1/p}` (uniform in volume, which in high dimension puts them near the sphere), the
    other half radius :math:`r U` (uniform in radius, which also probes the interior).

    >>> x = sample_ball(np.zeros(3), 2.0, 100, np.random.default_rng(0))
    >>> x.shape, bool(np.all(np.linalg.norm(x, axis=-1) <= 2.0))
    ((100, 3), True)
    """
    center = _checks.finite_array(center, "center")
    if center.ndim == 0 or center.shape[-1] == 0:
        raise ValueError(f"center must have a non-empty last axis of parameters, got shape {center.shape}")
    radius = float(_checks.positive_finite(radius, "radius"))
    n = _checks.positive_int(n, "n")
    rng = _checks.generator(rng)
    p = center.shape[-1]
    z = rng.standard_normal((n,) + center.shape)
    u = rng.uniform(size=(n,) + center.shape[:-1])
    t = np.where((np.arange(n) % 2 == 0).reshape((n,) + (1,) * (center.ndim - 1)), u ** (1.0 / p), u)
    # in place, one block of points at a time (each block stays in cache): the bits of
    # center + radius * t * z / ||z||, without the temporaries
    scale = (radius * t)[..., None]
    rows = max(1, _BLOCK_PARAMS // center.size)
    for start in range(0, n, rows):
        zb = z[start:start + rows]
        zb /= np.linalg.norm(zb, axis=-1, keepdims=True)
        zb *= scale[start:start + rows]
        zb += center
    return z


def _project(w: Array, center: Array, radius: float) -> Array:
    d = w - center
    nd = np.linalg.norm(d, axis=-1, keepdims=True)
    scale = np.minimum(1.0, radius / np.maximum(nd, 1e-300))
    return center + d * scale


def _estimate_centres(objective: Objective, c: Array, pts: Array, radius: float, k: int, refine_steps: int,
                      loss_floor: float, level: Array) -> tuple[Array, Array, Array, Array]:
    """:func:`estimate_alpha`'s ``(at_center, sampled, alpha, argmin)`` for centres ``c`` ``(B, p)`` and their
    sampled points ``pts`` ``(S, B, p)``, refining the centres whose estimate is above ``level`` ``(B,)``;
    for an objective that computes each point on its own (``_runs_independent``), a centre's values depend
    on its own points only, whichever other centres are passed."""
    at_center = pl_ratio(objective, c, loss_floor)
    ratio = pl_ratio(objective, pts, loss_floor)  # (S, B)
    ratio_key = np.where(np.isnan(ratio), np.inf, ratio)
    sampled = ratio_key.min(axis=0)
    center_key = np.where(np.isnan(at_center), np.inf, at_center)
    best = np.minimum(sampled, center_key)
    best_pt = np.where((center_key <= sampled)[:, None], c, np.take_along_axis(pts, ratio_key.argmin(axis=0)[None, :, None], 0)[0])
    todo = np.flatnonzero(best > level)
    if k > 0 and todo.size:
        if todo.size < len(c):  # the others are decided: refining only lowers an estimate
            c, pts, ratio_key = c[todo], pts[:, todo], ratio_key[:, todo]
        idx = np.argsort(ratio_key, axis=0)[:k]  # (k, B)
        w = np.take_along_axis(pts, idx[..., None], axis=0)  # (k, B, p)
        phi, dphi = _log_ratio_and_grad(objective, w, loss_floor)
        step = np.full(phi.shape, radius / 4.0)
        for _ in range(refine_steps):
            norm = np.linalg.norm(dphi, axis=-1, keepdims=True)
            direction = np.where(norm > 0, dphi / np.where(norm > 0, norm, 1.0), 0.0)
            trial = _project(w - step[..., None] * direction, c, radius)
            phi_t, dphi_t = _log_ratio_and_grad(objective, trial, loss_floor)
            accept = phi_t < phi
            w = np.where(accept[..., None], trial, w)
            phi = np.where(accept, phi_t, phi)
            dphi = np.where(accept[..., None], dphi_t, dphi)
            step = np.where(accept, step * 1.5, step * 0.5)
        refined = np.exp(phi)  # exp(inf) = inf marks "no valid point"; exp(-inf) = 0 a critical point
        j = refined.argmin(axis=0)
        r_best = np.take_along_axis(refined, j[None], 0)[0]
        better = r_best < best[todo]
        best[todo] = np.where(better, r_best, best[todo])
        best_pt[todo] = np.where(better[:, None], np.take_along_axis(w, j[None, :, None], 0)[0], best_pt[todo])
    return at_center, sampled, best, best_pt


@dataclass(frozen=True)
class AlphaEstimate:
    """Estimate of the local PL constant :math:`\\alpha(x_0, r)` (see :func:`estimate_alpha`).

    Attributes:
        alpha: ``(...,)`` smallest ratio found (samples and refinement; samples alone for a centre that
            ``refine_above`` left unrefined): an upper bound on the infimum.
        argmin: ``(..., n_params)`` the point of the closed ball where it was found.
        sampled: ``(...,)`` smallest ratio over the random samples alone (before refinement).
        at_center: ``(...,)`` the ratio at ``x0`` itself.
        radius: the radius ``r`` of the ball.
        n_samples: number of random samples per centre.
    """

    alpha: Array
    argmin: Array
    sampled: Array
    at_center: Array
    radius: float
    n_samples: int


def estimate_alpha(
    objective: Objective,
    x0: ArrayLike,
    radius: float,
    rng: RngLike = None,
    *,
    n_samples: int = 256,
    n_refine: int = 8,
    refine_steps: int = 60,
    loss_floor: float = 1e-14,
    refine_above: ArrayLike | None = None,
) -> AlphaEstimate:
    r"""Estimate :math:`\alpha(x_0, r) = \inf_{x \in B(x_0, r),\, f(x) \ne 0} \|\nabla f(x)\|^2 / f(x)`.

    ``x0`` has shape ``(..., n_params)``: a batch of centres is handled in one array computation.

    1. Evaluate the ratio at ``x0`` and at ``n_samples`` points from :func:`sample_ball`.
    2. From the ``n_refine`` smallest samples, run ``refine_steps`` steps of projected,
       normalised gradient descent on :math:`\phi = \log(\|\nabla f\|^2/f)` inside the closed ball,
       with :math:`\nabla \phi = 2\nabla^2 f\,\nabla f/\|\nabla f\|^2 - \nabla f / f` (one HVP per step)
       and a per-point step that grows by 1.5 on success and halves on failure.
    3. Return the smallest ratio met.

    ``refine_above`` (a level per centre, broadcast to the batch) restricts step 2 to the centres whose
    estimate after step 1 is above the level; the others keep that estimate. Refining can only lower an
    estimate, so a centre left out is at or below the level either way, and ``alpha > refine_above`` is decided
    as with every centre refined (bit for bit, for an objective that computes each point on its own:
    :class:`~gdlab.objectives.MLP`). To decide the radius condition, pass ``4 * f(x0) / radius**2`` and
    read it as ``alpha > level`` (the same as :math:`4f(x_0) < r^2\hat\alpha` up to the rounding of the
    division, exactly when :math:`r^2` is a power of two).

    The result is the ratio at a point of the closed ball, so it is **an upper bound on the true
    infimum** (the infimum over the open ball equals that over the closed ball minus the zero set,
    by continuity of the ratio where :math:`f > 0`).  It is not a certificate: a narrow dip of the
    ratio that no sample lands near is missed.  Points with :math:`f \le` ``loss_floor`` are skipped.

    The points are drawn first, from ``rng`` alone; the centres of an objective that computes each point
    on its own (:class:`~gdlab.objectives.MLP`) are then dealt to threads
    (:func:`gdlab.threaded_runs.over_runs`), with the same result bit for bit.

    >>> from gdlab.objectives import Quadratic
    >>> est = estimate_alpha(Quadratic(np.diag([1.0, 4.0])), np.array([0.3, 0.3]), 0.5,
    ...                      np.random.default_rng(0))
    >>> bool(abs(est.alpha - 2.0) < 1e-9)   # ratio 2 (x^2 + 16 y^2) / (x^2 + 4 y^2) >= 2, = 2 on y = 0
    True
    """
    x0 = objective._params(x0, "x0")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must contain only finite values")
    radius = float(_checks.positive_finite(radius, "radius"))
    rng = _checks.generator(rng)
    loss_floor = float(_checks.nonnegative_finite(loss_floor, "loss_floor"))
    n_samples = _checks.positive_int(n_samples, "n_samples")
    n_refine = _checks.positive_int(n_refine, "n_refine", minimum=0)
    refine_steps = _checks.positive_int(refine_steps, "refine_steps", minimum=0)
    batch, p = x0.shape[:-1], x0.shape[-1]
    c = x0.reshape(-1, p)  # (B, p)
    k = min(n_refine, n_samples) if refine_steps > 0 else 0
    level = np.full(len(c), -np.inf)  # refine every centre
    if refine_above is not None:
        above = _checks.as_float_array(refine_above, "refine_above")
        level = _checks.to_batch(above, batch, "refine_above", of="x0").reshape(-1)
        if np.isnan(level).any():
            raise ValueError("refine_above must not contain NaN")
    with np.errstate(all="ignore"):
        pts = sample_ball(c, radius, n_samples, rng)  # (S, B, p): every draw, before any thread starts

        def centres(sel: slice | NDArray[np.intp]) -> tuple[Array, Array, Array, Array]:
            return _estimate_centres(objective, c[sel], pts[:, sel], radius, k, refine_steps, loss_floor, level[sel])

        # the points of one centre are evaluated together: (k or S) points per call
        at_center, sampled, best, best_pt = threaded_runs.over_runs(objective, centres, len(c), k or n_samples)
    return AlphaEstimate(
        alpha=best.reshape(batch),
        argmin=best_pt.reshape(batch + (p,)),
        sampled=sampled.reshape(batch),
        at_center=at_center.reshape(batch),
        radius=radius,
        n_samples=n_samples,
    )


def rational_min(num: ArrayLike, den: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> Array:
    r"""Exact :math:`\min_{x \in [lo, hi]} P(x)/Q(x)` for polynomials ``P`` (coefficients ``num``, low to high) and ``Q > 0``.

    The minimum of a smooth function on an interval is attained at an end point or at an interior
    zero of :math:`(P/Q)' = (P'Q - PQ')/Q^2`; the real roots of :math:`P'Q - PQ'` are computed once
    and the candidates compared, vectorised over the intervals ``lo``, ``hi`` (broadcast, shape ``(...)``).
    Used for one-dimensional losses, whose PL ratio :math:`f'^2/f` is such a rational function
    (exact up to polynomial root-finding, unlike :func:`estimate_alpha`).  ``Q`` must be positive on
    the intervals (not checked beyond a ``ValueError`` at the candidates).

    >>> float(rational_min([1.0, 0.0, 1.0], [1.0], -1.0, 2.0))   # min of 1 + x^2 on [-1, 2]
    1.0
    """
    P = np.polynomial.Polynomial(_checks.finite_array(num, "num", ndim=1))
    Q = np.polynomial.Polynomial(_checks.finite_array(den, "den", ndim=1))
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
    if np.any(hi < lo):
        raise ValueError("hi must be >= lo")
    crit = (P.deriv() * Q - P * Q.deriv()).roots()
    crit = np.unique(crit[np.abs(crit.imag) < 1e-9].real)
    cand = np.concatenate([lo[..., None], hi[..., None], np.broadcast_to(crit, lo.shape + crit.shape)], axis=-1)
    inside = (cand >= lo[..., None]) & (cand <= hi[..., None])
    qv = Q(cand)
    if np.any(inside & (qv <= 0)):
        raise ValueError("den must be positive on the intervals")
    vals = np.where(inside, P(cand) / np.where(qv > 0, qv, 1.0), np.inf)
    return vals.min(axis=-1)


# --------------------------------------------------------------------------- smoothness


def hessian_norm(objective: Objective, w: ArrayLike, rng: RngLike = None, iters: int = 100) -> Array:
    r"""Operator norm :math:`\|\nabla^2 f(w)\|_{op} = \max_i |\lambda_i|` at ``w`` of shape ``(..., n_params)``.

    Dense ``eigvalsh`` for at most 64 parameters, otherwise ``iters`` steps of power iteration on
    HVPs from a seeded random start (power iteration converges to the eigenvalue of largest modulus;
    the Rayleigh-quotient estimate is a lower bound that tightens with ``iters``). The points of an
    :class:`~gdlab.objectives.MLP` with more than 64 parameters are dealt to threads, with the same result
    bit for bit.

    >>> from gdlab.objectives import Quadratic
    >>> float(hessian_norm(Quadratic(np.diag([1.0, -3.0])), np.zeros(2), np.random.default_rng(0)))
    3.0
    """
    w = objective._params(w)
    iters = _checks.positive_int(iters, "iters")
    rng = _checks.generator(rng)
    if objective.n_params <= 64:
        H = objective.hessian(w)
        ok = np.all(np.isfinite(H), axis=(-2, -1))  # overflow at huge w: NaN, not a LinAlgError
        ev = np.linalg.eigvalsh(np.where(ok[..., None, None], H, 0.0))
        return np.where(ok, np.maximum(np.abs(ev[..., 0]), np.abs(ev[..., -1])), np.nan)
    v = rng.standard_normal(w.shape)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    batch, p = w.shape[:-1], w.shape[-1]
    w_flat, v_flat = w.reshape(-1, p), v.reshape(-1, p)

    def power(sel: slice | NDArray[np.intp]) -> tuple[Array]:
        return (plain_power_iteration(objective, w_flat[sel], v_flat[sel], iters)[0],)

    with np.errstate(all="ignore"):
        return threaded_runs.over_runs(objective, power, len(w_flat))[0].reshape(batch)


def estimate_smoothness(
    objective: Objective, x0: ArrayLike, radius: float, rng: RngLike = None, n_samples: int = 256
) -> Array:
    r"""Sampled estimate of :math:`\beta(x_0, r) = \sup_{x \in B(x_0, r)} \|\nabla^2 f(x)\|_{op}`; shape ``(...,)``.

    The maximum over ``x0`` and ``n_samples`` points of :func:`sample_ball`: a **lower bound** on the
    supremum (use an analytic bound where the theorem needs a guaranteed one).
    """
    x0 = objective._params(x0, "x0")
    radius = float(_checks.positive_finite(radius, "radius"))
    rng = _checks.generator(rng)
    pts = sample_ball(x0, radius, _checks.positive_int(n_samples, "n_samples"), rng)
    pts = np.concatenate([x0[None], pts], axis=0)
    return hessian_norm(objective, pts, rng).max(axis=0)


# --------------------------------------------------------------------------- the criterion


@dataclass(frozen=True)
class Certificate:
    r"""The quantities of the local PL criterion for :math:`f(x_0)`, :math:`\alpha`, :math:`\beta`, :math:`r`.

    Attributes:
        f0, alpha, beta, radius: the inputs.
        holds: the radius condition :math:`4 f(x_0) < r^2 \alpha`.
        flow_length: :math:`2\sqrt{f(x_0)/\alpha}`, the bound on the length of the gradient-flow path.
        eta_max: :math:`\tfrac{2}{\beta}(1 - 2\sqrt{f(x_0)/\alpha}/r)`; every :math:`0 < \eta < \eta_{\max}`
            is admissible for gradient descent (``<= 0`` when the condition fails).
    """

    f0: float
    alpha: float
    beta: float
    radius: float
    holds: bool
    flow_length: float
    eta_max: float

    def gd_length(self, step_size: float) -> float:
        r"""Path-length bound :math:`2\sqrt{f(x_0)/\alpha} / (1 - \beta\eta/2)` of GD (inf if :math:`\beta\eta \ge 2`)."""
        eta = float(_checks.positive_finite(step_size, "step_size"))
        c = 1.0 - self.beta * eta / 2.0
        return self.flow_length / c if c > 0 else np.inf

    def gd_rate(self, step_size: float) -> float:
        r"""Contraction factor :math:`q = 1 - \alpha\eta(1 - \beta\eta/2)` of :math:`f_{k+1} \le q f_k`."""
        eta = float(_checks.positive_finite(step_size, "step_size"))
        return 1.0 - self.alpha * eta * (1.0 - self.beta * eta / 2.0)

    def admissible(self, step_size: float) -> bool:
        """Whether ``step_size`` satisfies :math:`0 < \\eta < \\eta_{\\max}`."""
        return bool(0 < step_size < self.eta_max)


def certify(f0: float, alpha: float, beta: float, radius: float) -> Certificate:
    r"""Evaluate the criterion for :math:`f(x_0) = ` ``f0``, local PL constant ``alpha`` and smoothness ``beta`` on the ball of ``radius``.

    >>> c = certify(f0=0.5, alpha=2.0, beta=4.0, radius=2.0)
    >>> c.holds, c.flow_length, c.eta_max
    (True, 1.0, 0.25)
    """
    f0 = float(_checks.nonnegative_finite(f0, "f0"))
    alpha = float(_checks.as_float_array(alpha, "alpha", "a number >= 0 (inf allowed)"))
    if not (alpha >= 0) or np.isnan(alpha):
        raise ValueError(f"alpha must be >= 0 (inf allowed), got {alpha!r}")
    beta = float(_checks.positive_finite(beta, "beta"))
    radius = float(_checks.positive_finite(radius, "radius"))
    with np.errstate(divide="ignore", invalid="ignore"):
        flow = 2.0 * np.sqrt(f0 / alpha) if alpha > 0 else (0.0 if f0 == 0 else np.inf)
    holds = bool(4.0 * f0 < radius**2 * alpha)
    eta_max = 2.0 / beta * (1.0 - flow / radius) if np.isfinite(flow) else -np.inf
    return Certificate(f0=f0, alpha=alpha, beta=beta, radius=radius, holds=holds, flow_length=float(flow), eta_max=float(eta_max))


def lzb_radius(f0: ArrayLike, alpha: ArrayLike, beta: ArrayLike) -> Array:
    r"""Radius :math:`R = 2\sqrt{2\beta f(x_0)}/\mu = 4\sqrt{2\beta f(x_0)}/\alpha` of the PL* theorem (:math:`\mu = \alpha/2`).

    Returns ``inf`` where :math:`\alpha \le 0` (no PL constant, no radius).

    >>> float(lzb_radius(1.0, 4.0, 2.0)), float(lzb_radius(1.0, 0.0, 2.0))
    (2.0, inf)
    """
    f0 = _checks.nonnegative_finite(f0, "f0")
    alpha = _checks.as_float_array(alpha, "alpha")
    if np.any(np.isnan(alpha)):
        raise ValueError(f"alpha must be a number (inf allowed), got {alpha!r}")
    beta = _checks.positive_finite(beta, "beta")
    pos = alpha > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pos, 4.0 * np.sqrt(2.0 * beta * f0) / np.where(pos, alpha, 1.0), np.inf)


_MOVED = {
    **dict.fromkeys(["FirstLayerBound", "PositiveInitBound", "first_layer_bound", "glorot_init", "he_init",
                     "positive_init", "positive_init_bound"], "initialisation"),
    **dict.fromkeys(["output_jacobian", "tangent_kernel"], "tangent_kernel"),
    **dict.fromkeys(["ProbabilityEstimate", "event_probability"], "statistics"),
}


def __getattr__(name: str) -> object:
    """Names that moved out of this module (issue 10) stay reachable here for code not yet updated by
    ``tools/rename_api.py``; they are not part of its documented surface."""
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(f".{_MOVED[name]}", __package__), name)
    raise AttributeError(f"module 'gdlab.pl_criterion' has no attribute {name!r}")
