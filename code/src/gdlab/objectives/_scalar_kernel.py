r"""The compiled (numba) loop of :func:`gdlab.descent.run` on :class:`~gdlab.objectives.ScalarFactorisation`.

Imported only when :func:`gdlab.descent.run` decides to use it (``descent.AUTO_OWN_KERNEL_STEPS``), so a
process that never runs a long scalar factorisation does not import numba. The loop performs, run by
run, exactly the floating-point operations of the numpy path of ``run`` (``ScalarFactorisation._scaled_grad``):
:math:`P = (\cdots(\theta_1\theta_2)\cdots)\theta_p` (the sequential product of ``np.multiply.reduce``),
:math:`a = \eta(P - y)`, :math:`\theta_i \leftarrow \theta_i - a\,(P/\theta_i)`; no fused multiply-add
(numba does not contract without ``fastmath``) and IEEE division (``error_model="numpy"``: a zero entry
gives NaN, as in numpy, instead of raising). So every iterate is the numpy path's, bit for bit
(``tests/test_tubular_runs.py`` compares both with the old loop). The compiled code is cached next to this
file (``__pycache__``) or under ``NUMBA_CACHE_DIR``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["SIGNATURE", "own_run"]


#: the one signature (arrays C-contiguous and writable): loaded from the cache at import, never recompiled per call
SIGNATURE = "void(float64[:, ::1], float64[::1], float64, int64, int64[::1], int64, float64, float64[:, :, ::1], int64[::1])"


@njit(SIGNATURE, cache=True, error_model="numpy")
def own_run(w, eta, y, steps, rec, check_every, blowup, records, detected_at):  # pragma: no cover - compiled
    """Iterate every run of ``w`` ``(n, p)`` (in place) for ``steps`` steps, recording at ``rec``.

    ``eta`` ``(n,)``; ``rec`` sorted int64 iteration numbers, ``rec[-1] <= steps``; ``records``
    ``(len(rec), n, p)`` is filled with the iterate at each record step (NaN from the run's detection on);
    ``detected_at`` ``(n,)`` holds ``0`` for a run already flagged at step 0 and ``steps + 1`` otherwise, and
    receives the step of the check that flagged a run: after steps ``check_every, 2 check_every, ...``
    and the last step, a run with an entry that is non-finite, not below ``blowup`` in absolute value, or
    exactly zero. A flagged run stops (its later iterates are never read: ``run`` NaNs those records).
    """
    n, p = w.shape
    n_rec = rec.shape[0]
    for j in range(n):
        k = 0
        if detected_at[j] == 0:
            records[:, j, :] = np.nan
            continue
        a_eta = eta[j]
        for t in range(steps + 1):
            if k < n_rec and rec[k] == t:
                for i in range(p):
                    records[k, j, i] = w[j, i]
                k += 1
            if t == steps:
                break
            prod = w[j, 0]
            for i in range(1, p):
                prod = prod * w[j, i]
            a = a_eta * (prod - y)
            for i in range(p):
                w[j, i] = w[j, i] - a * (prod / w[j, i])
            if (t + 1) % check_every == 0 or t + 1 == steps:
                bad = False
                for i in range(p):
                    x = w[j, i]
                    if not (abs(x) < blowup) or x == 0.0:
                        bad = True
                if bad:
                    detected_at[j] = t + 1
                    records[k:, j, :] = np.nan
                    break
