r"""Monte Carlo estimates of event probabilities with Wilson score intervals."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks

__all__ = ["ProbabilityEstimate", "event_probability"]

Array = NDArray[np.float64]


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
