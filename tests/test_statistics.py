"""Tests of gdlab.statistics: Wilson intervals for Monte Carlo probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from gdlab import statistics


def test_event_probability_wilson_interval() -> None:
    ev = np.zeros(60, dtype=bool)
    est = statistics.event_probability(ev)
    assert est.p_hat == 0 and est.lower == 0 and est.upper == pytest.approx(1.96**2 / (60 + 1.96**2))
    ev[:30] = True
    est = statistics.event_probability(np.stack([ev, ~ev]))
    np.testing.assert_allclose(est.p_hat, [0.5, 0.5])
    assert np.all(est.lower < 0.5) and np.all(est.upper > 0.5)
    with pytest.raises(ValueError, match="boolean"):
        statistics.event_probability(np.zeros(3))


def test_event_probability_coverage() -> None:
    """About 95 % of Wilson intervals cover the true p (binomial simulation)."""
    gen = np.random.default_rng(0)
    ev = gen.uniform(size=(2000, 50)) < 0.3
    est = statistics.event_probability(ev)
    cover = np.mean((est.lower <= 0.3) & (0.3 <= est.upper))
    assert 0.92 <= cover <= 0.98
