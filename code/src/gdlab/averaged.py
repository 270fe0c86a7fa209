r"""The averaged edge-of-stability model of chapter 5, in continuous time, solved exactly.

Near the flattest minimiser :math:`\theta^*` write :math:`\delta = \lambda(\theta^\parallel) - \lambda^*` and
:math:`r = (\theta^\perp)^2`, and :math:`\varepsilon = \eta\lambda^* - 2`.  Chapter 5's averaged model, per step,
is :math:`\delta_{t+1} = \delta_t(1 - \eta\nu r_t)`, :math:`r_{t+1} = r_t(1 + 2(\eta\delta_t + \varepsilon) - 2cr_t)`.
Its continuous-time version

.. math:: \dot\delta = -\eta\nu\,r\,\delta, \qquad \dot r = 2r(\eta\delta + \varepsilon - cr)

becomes linear in the new time :math:`s` with :math:`ds = r\,dt` (for :math:`r > 0`):
:math:`\delta' = -\eta\nu\delta`, :math:`r' = 2(\eta\delta + \varepsilon - cr)`.  With :math:`g = \eta\nu` and
:math:`2c \ne g` the orbit through :math:`(\delta_0, r_0)` is

.. math::
    \delta(s) = \delta_0 e^{-gs}, \qquad
    r(s) = \frac{\varepsilon}{c} + \frac{2\eta\delta_0}{2c - g}e^{-gs}
           + \Big(r_0 - \frac{\varepsilon}{c} - \frac{2\eta\delta_0}{2c - g}\Big)e^{-2cs}.

* :func:`orbit` evaluates this orbit on a grid of :math:`s`.
* :func:`subcritical_limit` returns the limit :math:`\delta_\infty = \delta_0e^{-gs_\infty}`, where
  :math:`s_\infty` is the first zero of :math:`r(s)` (it exists when :math:`\varepsilon < 0`): the sharpness at
  which the subcritical regime freezes is :math:`\lambda_\infty = \lambda^* + \delta_\infty`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks

__all__ = ["AveragedModel", "orbit", "subcritical_limit"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class AveragedModel:
    r"""Constants of the averaged model: step :math:`\eta`, :math:`\varepsilon = \eta\lambda^* - 2`, :math:`\nu`, :math:`c`."""

    step_size: float
    epsilon: float
    nu: float
    c: float

    def __post_init__(self) -> None:
        for name in ("step_size", "nu", "c"):
            _checks.positive_finite(getattr(self, name), name)
        _checks.finite_array(self.epsilon, "epsilon")
        if abs(2 * self.c - self.step_size * self.nu) < 1e-12 * self.c:
            raise ValueError("the closed form needs 2c != eta*nu")


def orbit(model: AveragedModel, delta0: ArrayLike, r0: ArrayLike, s: ArrayLike) -> tuple[Array, Array]:
    r"""``(delta, r)`` along the orbit from ``(delta0, r0)`` at the times ``s`` (all broadcast together).

    >>> m = AveragedModel(step_size=0.4, epsilon=0.0, nu=4.0, c=22.4)
    >>> d, r = orbit(m, 0.02, 1e-6, [0.0, 50.0])
    >>> bool(abs(d[0] - 0.02) < 1e-15 and abs(r[0] - 1e-6) < 1e-15 and d[1] < 1e-30 and r[1] < 1e-30)
    True
    """
    if not isinstance(model, AveragedModel):
        raise ValueError(f"model must be an AveragedModel, got {type(model).__name__}")
    d0 = _checks.finite_array(delta0, "delta0")
    r0 = _checks.positive_finite(r0, "r0")
    s = _checks.finite_array(s, "s")
    g, c, eps, eta = model.step_size * model.nu, model.c, model.epsilon, model.step_size
    slow = 2 * eta * d0 / (2 * c - g)
    return d0 * np.exp(-g * s), eps / c + slow * np.exp(-g * s) + (r0 - eps / c - slow) * np.exp(-2 * c * s)


def subcritical_limit(model: AveragedModel, delta0: ArrayLike, r0: ArrayLike, *, s_max: float = 1e3) -> Array:
    r""":math:`\delta_\infty` of the orbit from ``(delta0, r0)``: :math:`\delta_0 e^{-\eta\nu s_\infty}`, :math:`r(s_\infty) = 0`.

    Needs :math:`\varepsilon < 0`.  :math:`s_\infty` is bracketed by doubling from the time of the maximum of
    :math:`r` and refined by bisection to machine precision.

    >>> m = AveragedModel(step_size=0.398, epsilon=-0.01, nu=4.0, c=22.4)
    >>> d_inf = subcritical_limit(m, 0.016 / 0.398, 1e-6)
    >>> bool(abs(0.398 * d_inf - 0.01 * (1 - 0.398 * 4.0 / 44.8)) < 1e-6)   # leading order
    True
    """
    if not isinstance(model, AveragedModel) or model.epsilon >= 0:
        raise ValueError("model must be an AveragedModel with epsilon < 0")
    d0, r0 = np.broadcast_arrays(_checks.finite_array(delta0, "delta0"), _checks.positive_finite(r0, "r0"))
    lo, hi = np.zeros(d0.shape), np.full(d0.shape, 1.0 / model.c)
    for _ in range(200):                                   # bracket: r(hi) < 0
        neg = orbit(model, d0, r0, hi)[1] < 0
        if neg.all() or hi.max() > s_max:
            break
        lo, hi = np.where(neg, lo, hi), np.where(neg, hi, 2 * hi)
    if not (orbit(model, d0, r0, hi)[1] < 0).all():
        raise ValueError("r(s) has no zero before s_max: is the start below the nullcline?")
    for _ in range(200):                                   # bisection; r > 0 on [0, lo]
        mid = (lo + hi) / 2
        pos = orbit(model, d0, r0, mid)[1] > 0
        lo, hi = np.where(pos, mid, lo), np.where(pos, hi, mid)
    return d0 * np.exp(-model.step_size * model.nu * hi)
