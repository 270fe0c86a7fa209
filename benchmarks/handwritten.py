"""A hand-written numba kernel for the benchmark workload only: GD on f(w) = ½(w₁w₂w₃ − y)².

Written the way one would for this one problem: depth 3 hard-coded, runs laid out as arrays
(``a[j], b[j], c[j]``) so the loop over runs vectorises, blocks of runs over all cores with
``prange``, a divergence check every ``check_every`` steps, the mean gradient norm over the last
``tail`` steps. Every step of every run is computed (no retirement of fixed points).
It is the yardstick for :mod:`gdlab.kernels`, not part of gdlab.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _gd_depth3(etas, inits, steps, tail, check_every, blowup, y, block, out_w, out_gn, out_div):
    n_eta, n_init = etas.size, inits.shape[0]
    total = n_eta * n_init
    nb = (total + block - 1) // block
    for bidx in prange(nb):
        lo = bidx * block
        m = min(total, lo + block) - lo
        a = np.empty(m)
        b = np.empty(m)
        c = np.empty(m)
        eta = np.empty(m)
        acc = np.zeros(m)
        alive = np.ones(m, dtype=np.bool_)
        for j in range(m):
            k = lo + j
            eta[j] = etas[k // n_init]
            a[j] = inits[k % n_init, 0]
            b[j] = inits[k % n_init, 1]
            c[j] = inits[k % n_init, 2]
        for t in range(steps):
            in_tail = t >= steps - tail
            for j in range(m):
                p = a[j] * b[j]
                r = p * c[j] - y
                g0 = r * (c[j] * b[j])
                g1 = r * (a[j] * c[j])
                g2 = r * p
                if in_tail:
                    acc[j] += math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
                a[j] -= eta[j] * g0
                b[j] -= eta[j] * g1
                c[j] -= eta[j] * g2
            if (t + 1) % check_every == 0 or t == steps - 1:
                for j in range(m):
                    if alive[j] and not (abs(a[j]) < blowup and abs(b[j]) < blowup and abs(c[j]) < blowup):
                        alive[j] = False
                        a[j] = 0.0
                        b[j] = 0.0
                        c[j] = 0.0
        for j in range(m):
            k = lo + j
            out_w[k, 0] = a[j]
            out_w[k, 1] = b[j]
            out_w[k, 2] = c[j]
            out_gn[k] = acc[j] / tail if alive[j] else np.nan
            out_div[k] = not alive[j]


def sweep_depth3(etas, inits, steps, tail=100, check_every=100, blowup=1e8, y=1.0, block=256):
    """``(final_params (n_eta, n_init, 3), grad_norm (n_eta, n_init), diverged)``; NaN where diverged."""
    etas = np.ascontiguousarray(etas, dtype=np.float64)
    inits = np.ascontiguousarray(inits, dtype=np.float64)
    total = etas.size * inits.shape[0]
    out_w, out_gn, out_div = np.empty((total, 3)), np.empty(total), np.empty(total, dtype=np.bool_)
    _gd_depth3(etas, inits, steps, tail, check_every, blowup, y, block, out_w, out_gn, out_div)
    shape = (etas.size, inits.shape[0])
    out_w[out_div] = np.nan
    return out_w.reshape(shape + (3,)), out_gn.reshape(shape), out_div.reshape(shape)
