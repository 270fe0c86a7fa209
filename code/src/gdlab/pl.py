r"""The local Polyak-Łojasiewicz (PL) criterion of chapters 6 and 7 (paper C), measured and certified.

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
  one-dimensional polynomial loss);
* for chapter 7, scalar-output ``MLP`` only: the initialisations :func:`positive_init`,
  :func:`glorot_init`, :func:`he_init`; :func:`first_layer_bound` (the first-layer lower bound on
  :math:`\|\nabla f\|^2`); :func:`positive_init_bound` (the explicit certificate of the positive
  initialisation); :func:`output_jacobian` and :func:`tangent_kernel`;
* :func:`event_probability` — Monte Carlo probabilities with Wilson intervals.

The statements are this book's reconstruction of Chatterjee's criterion (the paper's full text was
not available to the authors); see chapter 6.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .curvature import plain_power_iteration
from .objectives import MLP, Objective, _activation

__all__ = [
    "AlphaEstimate",
    "Certificate",
    "FirstLayerBound",
    "PositiveInitBound",
    "ProbabilityEstimate",
    "certify",
    "estimate_alpha",
    "estimate_smoothness",
    "event_probability",
    "first_layer_bound",
    "glorot_init",
    "he_init",
    "hessian_norm",
    "lzb_radius",
    "output_jacobian",
    "pl_ratio",
    "positive_init",
    "positive_init_bound",
    "rational_min",
    "sample_ball",
    "tangent_kernel",
]

Array = NDArray[np.float64]
RngLike = np.random.Generator | int | None


def _size(size: object, name: str = "size") -> tuple[int, ...]:
    """A batch shape: an int or a sequence of non-negative ints."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size,)
    try:
        out = tuple(size)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be a tuple of non-negative integers, got {size!r}") from None
    return tuple(_checks.positive_int(s, name, minimum=0) for s in out)


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
    f = objective.loss(w)
    g = objective.grad(w)
    g2 = np.einsum("...i,...i->...", g, g)
    ok = f > loss_floor
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, g2 / np.where(ok, f, 1.0), np.nan)


def _log_ratio_and_grad(objective: Objective, w: Array, loss_floor: float) -> tuple[Array, Array]:
    r""":math:`\phi = \log(\|g\|^2/f)` and :math:`\nabla\phi = 2Hg/\|g\|^2 - g/f`; +inf / 0 where undefined."""
    f = objective.loss(w)
    g = objective.grad(w)
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
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    u = rng.uniform(size=(n,) + center.shape[:-1])
    t = np.where((np.arange(n) % 2 == 0).reshape((n,) + (1,) * (center.ndim - 1)), u ** (1.0 / p), u)
    return center + radius * t[..., None] * z


def _project(w: Array, center: Array, radius: float) -> Array:
    d = w - center
    nd = np.linalg.norm(d, axis=-1, keepdims=True)
    scale = np.minimum(1.0, radius / np.maximum(nd, 1e-300))
    return center + d * scale


@dataclass(frozen=True)
class AlphaEstimate:
    """Estimate of the local PL constant :math:`\\alpha(x_0, r)` (see :func:`estimate_alpha`).

    Attributes:
        alpha: ``(...,)`` smallest ratio found (samples and refinement): an upper bound on the infimum.
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
) -> AlphaEstimate:
    r"""Estimate :math:`\alpha(x_0, r) = \inf_{x \in B(x_0, r),\, f(x) \ne 0} \|\nabla f(x)\|^2 / f(x)`.

    ``x0`` has shape ``(..., n_params)``: a batch of centres is handled in one array computation.

    1. Evaluate the ratio at ``x0`` and at ``n_samples`` points from :func:`sample_ball`.
    2. From the ``n_refine`` smallest samples, run ``refine_steps`` steps of projected,
       normalised gradient descent on :math:`\phi = \log(\|\nabla f\|^2/f)` inside the closed ball,
       with :math:`\nabla \phi = 2\nabla^2 f\,\nabla f/\|\nabla f\|^2 - \nabla f / f` (one HVP per step)
       and a per-point step that grows by 1.5 on success and halves on failure.
    3. Return the smallest ratio met.

    The result is the ratio at a point of the closed ball, so it is **an upper bound on the true
    infimum** (the infimum over the open ball equals that over the closed ball minus the zero set,
    by continuity of the ratio where :math:`f > 0`).  It is not a certificate: a narrow dip of the
    ratio that no sample lands near is missed.  Points with :math:`f \le` ``loss_floor`` are skipped.

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
    with np.errstate(all="ignore"):
        at_center = pl_ratio(objective, c, loss_floor)
        pts = sample_ball(c, radius, n_samples, rng)  # (S, B, p)
        ratio = pl_ratio(objective, pts, loss_floor)  # (S, B)
        ratio_key = np.where(np.isnan(ratio), np.inf, ratio)
        sampled = ratio_key.min(axis=0)
        center_key = np.where(np.isnan(at_center), np.inf, at_center)
        best = np.minimum(sampled, center_key)
        best_pt = np.where((center_key <= sampled)[:, None], c, np.take_along_axis(pts, ratio_key.argmin(axis=0)[None, :, None], 0)[0])
        k = min(n_refine, n_samples)
        if k > 0 and refine_steps > 0:
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
            better = r_best < best
            best = np.where(better, r_best, best)
            best_pt = np.where(better[:, None], np.take_along_axis(w, j[None, :, None], 0)[0], best_pt)
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
    the Rayleigh-quotient estimate is a lower bound that tightens with ``iters``).

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
    with np.errstate(all="ignore"):
        lam, _, _ = plain_power_iteration(objective, w, v, iters)
    return lam


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


# --------------------------------------------------------------------------- networks (chapter 7)

def _phi(name: str, z: float) -> tuple[float, float]:
    """Activation and its derivative at ``z`` from the one activation table, that of ``MLP``."""
    s, d1 = _activation(name, np.asarray(z, dtype=np.float64), 1)
    return float(s), float(d1)


def _check_scalar_mlp(net: MLP) -> None:
    if not isinstance(net, MLP):
        raise ValueError(f"net must be a gdlab.objectives.MLP, got {type(net).__name__}")
    if net.widths[-1] != 1:
        raise ValueError(f"net must have a scalar output (widths[-1] == 1), got widths {net.widths}")
    if net.depth < 2:
        raise ValueError(f"net must have at least one hidden layer, got widths {net.widths}")


def _weights(net: MLP, layers: list[Array], biases: list[Array] | None) -> Array:
    if net.bias:
        return net.flatten([(W, b) for W, b in zip(layers, biases)])
    return net.flatten(layers)


def positive_init(
    net: MLP,
    output_scale: float,
    hidden_value: float = 1.0,
    *,
    rng: RngLike = None,
    spread: float = 0.0,
    size: tuple[int, ...] = (),
) -> Array:
    r"""The positive initialisation of a scalar-output ``MLP``: flat parameters of shape ``size + (n_params,)``.

    With ``widths = (d, m_1, ..., m_{L-1}, 1)``:

    * :math:`W_1 = 0`;
    * hidden :math:`W_l` (:math:`2 \le l \le L-1`): entries ``hidden_value / m_{l-1}``, strictly positive;
    * output :math:`W_L`: entries :math:`K/m_{L-1}` with :math:`K` = ``output_scale``, so the output is
      :math:`K` times the mean of the last hidden layer;
    * with ``rng``, every hidden and output entry is multiplied by an independent factor uniform in
      ``[1 - spread, 1 + spread]`` (still strictly positive);
    * biases (``net.bias``): hidden biases 0 and the output bias :math:`b_L = -W_L a_{L-1}`, which
      cancels the (input-independent, since :math:`W_1 = 0`) output, so :math:`\mathrm{out}(x_i) = 0`
      for every activation.  Without biases the output is 0 exactly when :math:`\varphi(0) = 0`.

    >>> from gdlab.objectives import MLP
    >>> net = MLP(np.eye(3), np.ones((1, 3)), widths=(3, 2, 2, 1))
    >>> w = positive_init(net, output_scale=10.0)
    >>> [float(W.sum()) for W, _ in net.unflatten(w)], float(net.loss(w))
    ([0.0, 2.0, 10.0], 1.5)
    """
    _check_scalar_mlp(net)
    K = float(_checks.positive_finite(output_scale, "output_scale"))
    a = float(_checks.positive_finite(hidden_value, "hidden_value"))
    spread = float(_checks.nonnegative_finite(spread, "spread"))
    if not (0.0 <= spread < 1.0):
        raise ValueError(f"spread must be in [0, 1), got {spread!r}")
    size = _size(size)
    gen = None if (rng is None and spread == 0.0) else _checks.generator(rng)
    layers = []
    for l, (m_out, m_in) in enumerate(net.shapes):
        shape = size + (m_out, m_in)
        if l == 0:
            layers.append(np.zeros(shape))
            continue
        base = (K if l == net.depth - 1 else a) / m_in
        jitter = 1.0 if gen is None else gen.uniform(1.0 - spread, 1.0 + spread, size=shape)
        layers.append(np.broadcast_to(base * jitter, shape).copy())
    biases = None
    if net.bias:
        biases = [np.zeros(size + (m_out,)) for m_out, _ in net.shapes]
        out = net.predict(_weights(net, layers, biases))[..., 0, 0]  # same for every input
        biases[-1] = -out[..., None]
    return _weights(net, layers, biases)


def glorot_init(net: MLP, rng: RngLike = None, size: tuple[int, ...] = ()) -> Array:
    r"""Glorot (Xavier) normal initialisation :math:`(W_l)_{ij} \sim N(0, 2/(m_{l-1} + m_l))`, biases 0; shape ``size + (n_params,)``."""
    if not isinstance(net, MLP):
        raise ValueError(f"net must be a gdlab.objectives.MLP, got {type(net).__name__}")
    size, rng = _size(size), _checks.generator(rng)
    layers = [rng.standard_normal(size + s) * np.sqrt(2.0 / (s[0] + s[1])) for s in net.shapes]
    return _weights(net, layers, [np.zeros(size + (s[0],)) for s in net.shapes] if net.bias else None)


def he_init(net: MLP, rng: RngLike = None, size: tuple[int, ...] = ()) -> Array:
    r"""He (Kaiming) normal initialisation :math:`(W_l)_{ij} \sim N(0, 2/m_{l-1})`, biases 0; shape ``size + (n_params,)``."""
    if not isinstance(net, MLP):
        raise ValueError(f"net must be a gdlab.objectives.MLP, got {type(net).__name__}")
    size, rng = _size(size), _checks.generator(rng)
    layers = [rng.standard_normal(size + s) * np.sqrt(2.0 / s[1]) for s in net.shapes]
    return _weights(net, layers, [np.zeros(size + (s[0],)) for s in net.shapes] if net.bias else None)


@dataclass(frozen=True)
class FirstLayerBound:
    r"""The first-layer lower bound on :math:`\|\nabla f\|^2` (see :func:`first_layer_bound`); fields have the batch shape.

    Attributes:
        grad_sq: :math:`\|\nabla f(w)\|^2`.
        first_layer_sq: :math:`\|\nabla_{W_1} f(w)\|_F^2`.
        lower: :math:`\lambda_{\min}(G)\sum_i e_i^2\|J_i\|^2`.
        jac_norm: ``(..., n)``, :math:`\|J_i\|`, the norm of the derivative of the output at :math:`x_i`
            with respect to the first pre-activation (NaN where :math:`e_i = 0`).
        residual: ``(..., n)``, :math:`e_i = \mathrm{out}(x_i) - y_i`.
        lam_min: :math:`\lambda_{\min}(X^\top X)`.
    """

    grad_sq: Array
    first_layer_sq: Array
    lower: Array
    jac_norm: Array
    residual: Array
    lam_min: float


def first_layer_bound(net: MLP, w: ArrayLike) -> FirstLayerBound:
    r"""Evaluate :math:`\|\nabla f\|^2 \ge \|\nabla_{W_1} f\|_F^2 \ge \lambda_{\min}(G)\sum_i e_i^2 \|J_i\|^2` at ``w``.

    For a scalar-output network, :math:`\nabla_{W_1} f = D X^\top` with :math:`D = [e_1 J_1^\top, \dots, e_n J_n^\top]`
    (:math:`m_1 \times n`).  With linearly independent inputs, :math:`G = X^\top X` is invertible and
    :math:`D = \nabla_{W_1} f\, X G^{-1}` is recovered exactly from the gradient, hence
    :math:`\|J_i\| = \|D_{:,i}\| / |e_i|`.  Only the public ``MLP`` interface is used.
    """
    _check_scalar_mlp(net)
    w = net._params(w)
    G = net.X.T @ net.X
    lam_min = float(np.linalg.eigvalsh(G)[0])
    if lam_min <= 1e-12 * max(1.0, float(np.trace(G))):
        raise ValueError("net.X must have linearly independent columns (X^T X is singular)")
    g = net.grad(w)
    sw, _ = net.layer_slices[0]
    m1, d = net.shapes[0]
    g1 = g[..., sw].reshape(w.shape[:-1] + (m1, d))
    D = g1 @ net.X @ np.linalg.inv(G)  # (..., m1, n)
    e = net.predict(w)[..., 0, :] - net.Y[0]
    col = np.linalg.norm(D, axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(e != 0, col / np.abs(np.where(e != 0, e, 1.0)), np.nan)
    return FirstLayerBound(
        grad_sq=np.einsum("...i,...i->...", g, g),
        first_layer_sq=np.einsum("...ij,...ij->...", g1, g1),
        lower=lam_min * np.sum(col**2, axis=-1),
        jac_norm=jac,
        residual=e,
        lam_min=lam_min,
    )


@dataclass(frozen=True)
class PositiveInitBound:
    r"""Proved quantities of chapter 7's theorem at a positive initialisation (see :func:`positive_init_bound`).

    Attributes:
        radius: :math:`r`.
        preact_bound: :math:`Z`, a bound on every hidden pre-activation on :math:`B(w_0, r)`.
        slope_min: :math:`c_\varphi = \min_{|z| \le Z}\varphi'(z)`.
        hidden_min: :math:`v`, the smallest middle-layer weight at :math:`w_0` (``inf`` without middle layers).
        path_factor: :math:`c = c_\varphi^{L-1}(v - r)^{L-2}\prod_{l=2}^{L-1} m_l` (:math:`c_\varphi` if :math:`L = 2`).
        lam_min: :math:`\lambda_{\min}(X^\top X)`.
        m1: the first width :math:`m_1`.
        f0: :math:`f(w_0) = \tfrac12\|y\|^2`.
        output_min: :math:`\omega`, the smallest output weight at :math:`w_0`.
        output_star: :math:`\omega^\ast = r + \|y\|/(r\,c\sqrt{\lambda_{\min} m_1})`; the radius condition
            is proved when :math:`\omega > \omega^\ast`.
        K_star: the output scale :math:`K^\ast = K\,\omega^\ast/\omega` at which the output weights of
            :func:`positive_init` (proportional to ``K``) reach :math:`\omega^\ast` (NaN if ``output_scale`` was not given).
    """

    radius: float
    preact_bound: float
    slope_min: float
    hidden_min: float
    path_factor: float
    lam_min: float
    m1: int
    f0: float
    output_min: float
    output_star: float
    K_star: float

    @property
    def holds(self) -> bool:
        r"""Whether the theorem certifies the radius condition at :math:`w_0` (:math:`\omega > \omega^\ast`)."""
        return bool(self.output_min > self.output_star)

    def alpha_lower(self, output_min: ArrayLike) -> Array:
        r"""Proved lower bound :math:`2\lambda_{\min} m_1 c^2 (\omega - r)_+^2` on :math:`\alpha(w_0, r)` for smallest output weight :math:`\omega`."""
        om = np.asarray(output_min, dtype=np.float64)
        kappa = self.path_factor * np.maximum(om - self.radius, 0.0)
        return 2.0 * self.lam_min * self.m1 * kappa**2


def positive_init_bound(net: MLP, w0: ArrayLike, radius: float, output_scale: float | None = None) -> PositiveInitBound:
    r"""Explicit certificate of the radius condition at a positive initialisation ``w0`` (chapter 7's theorem).

    Requires a scalar-output ``net`` with linearly independent inputs and, at ``w0``: :math:`W_1 = 0`,
    strictly positive middle and output weights, zero hidden biases, and output 0 (so
    :math:`f(w_0) = \tfrac12\|y\|^2`; this holds for :math:`\varphi(0) = 0`, or with the output bias of
    :func:`positive_init`).  With :math:`x_{\max} = \max_i\|x_i\|`, :math:`\Phi(Z) = \max_{|z|\le Z}|\varphi(z)|`
    and :math:`s = 1` with biases, 0 without,

    .. math::
        Z_1 = r\,(x_{\max} + s),\qquad
        Z_l = \Bigl(\max_j \sum_k (W_l)_{jk} + \sqrt{m_{l-1}}\,r\Bigr)\,\Phi(Z_{l-1}) + s\,r \quad (2 \le l \le L-1),

    :math:`Z = \max_l Z_l`, :math:`c_\varphi = \min(\varphi'(-Z), \varphi'(Z))` (the minimum of :math:`\varphi'`
    on :math:`[-Z, Z]` for tanh, sigmoid and softplus, whose derivatives are unimodal or increasing),
    :math:`c = c_\varphi^{L-1}(v-r)^{L-2}\prod_{l=2}^{L-1} m_l` and
    :math:`\omega^\ast = r + \|y\| / (r\,c\sqrt{\lambda_{\min}(X^\top X)\, m_1})`.
    ``radius`` must be below the smallest middle-layer weight :math:`v` when there are middle layers.
    """
    _check_scalar_mlp(net)
    w0 = net._params(w0, "w0")
    if w0.ndim != 1:
        raise ValueError(f"w0 must be a single parameter vector, got shape {w0.shape}")
    r = float(_checks.positive_finite(radius, "radius"))
    layers = net.unflatten(w0)
    if np.any(layers[0][0] != 0):
        raise ValueError("w0 must have a zero first layer")
    mids = [W for W, _ in layers[1:-1]]
    if any(np.any(W <= 0) for W in mids) or np.any(layers[-1][0] <= 0):
        raise ValueError("w0 must have strictly positive hidden and output weights")
    if net.bias and any(np.any(b != 0) for _, b in layers[:-1]):
        raise ValueError("w0 must have zero hidden biases")
    if not np.allclose(net.predict(w0), 0.0, atol=1e-12):
        raise ValueError("w0 must have zero output (phi(0) = 0 without biases, or the cancelling output bias)")
    v = min((float(W.min()) for W in mids), default=np.inf)
    if mids and r >= v:
        raise ValueError(f"radius must be below the smallest middle-layer weight {v!r}, got {r!r}")
    s = 1.0 if net.bias else 0.0
    Z = r * (float(np.linalg.norm(net.X, axis=0).max()) + s)
    Zmax = Z
    for W in mids:
        Phi = max(abs(_phi(net.activation, Z)[0]), abs(_phi(net.activation, -Z)[0]))
        Z = (float(W.sum(axis=1).max()) + np.sqrt(W.shape[1]) * r) * Phi + s * r
        Zmax = max(Zmax, Z)
    c_phi = min(_phi(net.activation, -Zmax)[1], _phi(net.activation, Zmax)[1])
    L = net.depth
    c = c_phi ** (L - 1) * (v - r) ** (L - 2) * float(np.prod(net.widths[2:L])) if mids else c_phi
    lam = float(np.linalg.eigvalsh(net.X.T @ net.X)[0])
    ynorm = float(np.linalg.norm(net.Y))
    m1 = net.widths[1]
    omega = float(layers[-1][0].min())
    omega_star = r + ynorm / (r * c * np.sqrt(lam * m1))
    K_star = np.nan if output_scale is None else float(output_scale) * omega_star / omega
    return PositiveInitBound(
        radius=r, preact_bound=Zmax, slope_min=c_phi, hidden_min=v, path_factor=c, lam_min=lam, m1=m1,
        f0=0.5 * ynorm**2, output_min=omega, output_star=omega_star, K_star=K_star,
    )


# --------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True)
class ProbabilityEstimate:
    r"""Monte Carlo estimate of an event's probability with a Wilson score interval; fields have the batch shape.

    Attributes:
        p_hat: fraction of trials in which the event occurred.
        lower, upper: the Wilson interval at level given by ``z`` (1.96: about 95 %).
        successes: number of trials with the event.
        trials: number of trials.
    """

    p_hat: Array
    lower: Array
    upper: Array
    successes: Array
    trials: int


def event_probability(events: ArrayLike, z: float = 1.96) -> ProbabilityEstimate:
    r"""Estimate :math:`P(E)` from boolean ``events`` of shape ``(..., trials)`` (independent trials on the last axis).

    Wilson score interval: with :math:`\hat p = k/N`,

    .. math::
        \frac{\hat p + \tfrac{z^2}{2N} \pm z\sqrt{\hat p(1-\hat p)/N + z^2/(4N^2)}}{1 + z^2/N},

    which stays inside :math:`[0, 1]` and is informative even when :math:`k = 0` (upper end
    :math:`z^2/(N + z^2)`).

    >>> est = event_probability(np.zeros(60, dtype=bool))
    >>> float(est.p_hat), round(float(est.upper), 4)
    (0.0, 0.0602)
    """
    ev = np.asarray(events)
    if ev.dtype != bool:
        raise ValueError(f"events must be a boolean array, got dtype {ev.dtype}")
    if ev.ndim == 0 or ev.shape[-1] == 0:
        raise ValueError("events must have at least one trial on its last axis")
    zf = float(_checks.positive_finite(z, "z"))
    N = ev.shape[-1]
    k = ev.sum(axis=-1)
    p = k / N
    centre = (p + zf**2 / (2 * N)) / (1 + zf**2 / N)
    half = zf * np.sqrt(p * (1 - p) / N + zf**2 / (4 * N**2)) / (1 + zf**2 / N)
    return ProbabilityEstimate(
        p_hat=p, lower=np.maximum(centre - half, 0.0), upper=np.minimum(centre + half, 1.0), successes=k, trials=N
    )


# --------------------------------------------------------------------------- tangent kernel


def output_jacobian(net: MLP, w: ArrayLike) -> Array:
    r"""Jacobian of the outputs on the training inputs, :math:`\partial\,\mathrm{out}(x_i)/\partial w`; shape ``(..., n, n_params)``.

    For a scalar-output ``MLP``.  Uses only ``grad``: shifting the target of sample ``i`` by one
    changes :math:`\nabla f = \sum_j e_j \nabla \mathrm{out}(x_j)` by :math:`-\nabla\mathrm{out}(x_i)`, so
    :math:`\nabla\mathrm{out}(x_i) = \nabla f_Y(w) - \nabla f_{Y + \delta_i}(w)` (exact up to rounding).
    """
    _check_scalar_mlp(net)
    w = net._params(w)
    g = net.grad(w)
    rows = []
    for i in range(net.X.shape[1]):
        Yi = net.Y.copy()
        Yi[0, i] += 1.0
        shifted = MLP(net.X, Yi, net.widths, net.activation, bias=net.bias)
        rows.append(g - shifted.grad(w))
    return np.stack(rows, axis=-2)


def tangent_kernel(net: MLP, w: ArrayLike) -> Array:
    r"""Neural tangent kernel :math:`\Theta(w) = J J^\top` on the training inputs; shape ``(..., n, n)``.

    For the square loss :math:`\|\nabla f\|^2 = e^\top\Theta e \ge 2\lambda_{\min}(\Theta) f`, so
    :math:`2\lambda_{\min}(\Theta(w))` is a pointwise PL constant (the PL* link of chapter 6), and the
    Gauss-Newton part :math:`J^\top J` of the Hessian has the same non-zero eigenvalues as :math:`\Theta`.

    >>> from gdlab.objectives import MLP
    >>> net = MLP(np.eye(2), np.ones((1, 2)), widths=(2, 3, 1))
    >>> w = net.random_params(rng=0)
    >>> th = tangent_kernel(net, w); g = net.grad(w); e = net.predict(w)[0] - net.Y[0]
    >>> bool(np.isclose(g @ g, e @ th @ e))
    True
    """
    J = output_jacobian(net, w)
    return J @ np.swapaxes(J, -1, -2)
