"""The numba-compiled code of :mod:`gdlab.kernels` (imported only when a kernel runs)."""
from __future__ import annotations

import math

import numpy as np
from numba import literally, njit
from numba.extending import overload

from ._blocks import run_blocks


# ------------------------------------------------------------------------------------------
# gradients on a block, run-major: w[param, run] for runs 0..m-1
# ------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _grad_deep(w, g, m, ip, fp, s):
    """DeepScalarLinear, the arithmetic of ``DeepScalarLinear._grad_T``, one pass over the runs per product.

    Prefix :math:`p_1 = w_0`, :math:`p_i = p_{i-1} w_{i-1}` (scratch row ``i``), suffix
    :math:`s_{L-2} = w_{L-1}`, :math:`s_i = s_{i+1} w_{i+1}` (row ``L + i``), residual
    :math:`r = p_{L-1} w_{L-1} - y` (row ``2L``); :math:`g_0 = s_0 r`, :math:`g_i = (p_i s_i) r`,
    :math:`g_{L-1} = p_{L-1} r`.
    """
    L = ip[0]
    y = fp[0]
    R = 2 * L
    if L == 1:
        for j in range(m):
            g[0, j] = w[0, j] - y
        return
    if L == 2:
        for j in range(m):
            s[R, j] = w[0, j] * w[1, j] - y
        for j in range(m):
            g[0, j] = w[1, j] * s[R, j]
        for j in range(m):
            g[1, j] = w[0, j] * s[R, j]
        return
    # L >= 3: p_2 .. p_{L-1}, s_{L-3} .. s_0 in scratch; p_1 = w_0 and s_{L-2} = w_{L-1} read from w
    for j in range(m):
        s[2, j] = w[0, j] * w[1, j]
    for i in range(3, L):
        for j in range(m):
            s[i, j] = s[i - 1, j] * w[i - 1, j]
    for j in range(m):
        s[L + L - 3, j] = w[L - 1, j] * w[L - 2, j]
    for i in range(L - 4, -1, -1):
        for j in range(m):
            s[L + i, j] = s[L + i + 1, j] * w[i + 1, j]
    for j in range(m):
        s[R, j] = s[L - 1, j] * w[L - 1, j] - y
    for j in range(m):
        g[0, j] = s[L, j] * s[R, j]
    for i in range(1, L - 1):
        if i == 1 and i == L - 2:
            for j in range(m):
                g[i, j] = (w[0, j] * w[L - 1, j]) * s[R, j]
        elif i == 1:
            for j in range(m):
                g[i, j] = (w[0, j] * s[L + i, j]) * s[R, j]
        elif i == L - 2:
            for j in range(m):
                g[i, j] = (s[i, j] * w[L - 1, j]) * s[R, j]
        else:
            for j in range(m):
                g[i, j] = (s[i, j] * s[L + i, j]) * s[R, j]
    for j in range(m):
        g[L - 1, j] = s[L - 1, j] * s[R, j]


@njit(cache=True, inline="always")
def _deep_step_fused(w, g, prev, gn, eta, m, L, y, need_norm, save_prev):
    """One whole GD step of DeepScalarLinear of depth 2 or 3, fused in one loop over the runs.

    The operations of ``DeepScalarLinear._grad_T`` and of the numpy sweep in the same order, so bit for
    bit: depth 3, p = w0 w1, r = p w2 - y, g = ((w2 w1) r, (w0 w2) r, p r); depth 2, r = w0 w1 - y,
    g = (w1 r, w0 r); |g|^2 summed in index order; w_i - g_i eta. One loop per combination of the
    flags keeps each loop branch-free (so it vectorises).
    """
    if L == 3:
        if need_norm and save_prev:
            for j in range(m):
                a, b, c = w[0, j], w[1, j], w[2, j]
                p = a * b
                r = p * c - y
                g0, g1, g2 = (c * b) * r, (a * c) * r, p * r
                gn[j] = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
                prev[0, j], prev[1, j], prev[2, j] = a, b, c
                e = eta[j]
                w[0, j], w[1, j], w[2, j] = a - g0 * e, b - g1 * e, c - g2 * e
        elif need_norm:
            for j in range(m):
                a, b, c = w[0, j], w[1, j], w[2, j]
                p = a * b
                r = p * c - y
                g0, g1, g2 = (c * b) * r, (a * c) * r, p * r
                gn[j] = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
                e = eta[j]
                w[0, j], w[1, j], w[2, j] = a - g0 * e, b - g1 * e, c - g2 * e
        else:
            for j in range(m):
                a, b, c = w[0, j], w[1, j], w[2, j]
                p = a * b
                r = p * c - y
                e = eta[j]
                w[0, j], w[1, j], w[2, j] = a - ((c * b) * r) * e, b - ((a * c) * r) * e, c - (p * r) * e
    else:
        if need_norm and save_prev:
            for j in range(m):
                a, b = w[0, j], w[1, j]
                r = a * b - y
                g0, g1 = b * r, a * r
                gn[j] = math.sqrt(g0 * g0 + g1 * g1)
                prev[0, j], prev[1, j] = a, b
                e = eta[j]
                w[0, j], w[1, j] = a - g0 * e, b - g1 * e
        elif need_norm:
            for j in range(m):
                a, b = w[0, j], w[1, j]
                r = a * b - y
                g0, g1 = b * r, a * r
                gn[j] = math.sqrt(g0 * g0 + g1 * g1)
                e = eta[j]
                w[0, j], w[1, j] = a - g0 * e, b - g1 * e
        else:
            for j in range(m):
                a, b = w[0, j], w[1, j]
                r = a * b - y
                e = eta[j]
                w[0, j], w[1, j] = a - (b * r) * e, b - (a * r) * e


@njit(cache=True)
def _mm(A, a0, sa_i, sa_j, B, b0, sb_j, sb_k, C, c0, M, N, K, m):
    """``C[c0 + i N + k] = sum_j A[a0 + i sa_i + j sa_j] * B[b0 + j sb_j + k sb_k]`` per run, j in order."""
    for i in range(M):
        for k in range(N):
            c = c0 + i * N + k
            ra = a0 + i * sa_i
            rb = b0 + k * sb_k
            for r in range(m):
                C[c, r] = A[ra, r] * B[rb, r]
            for j in range(1, K):
                ra = a0 + i * sa_i + j * sa_j
                rb = b0 + j * sb_j + k * sb_k
                for r in range(m):
                    C[c, r] = C[c, r] + A[ra, r] * B[rb, r]

@njit(cache=True)
def _grad_linear(w, g, m, ip, fp, s):
    """LinearNetwork, the products of ``LinearNetwork._grad_T`` (einsum order)."""
    L, d, k, g_off, left_off = ip[0], ip[1], ip[2], ip[3], ip[4]
    wid = ip[5:5 + L + 1]
    w_off = ip[5 + L + 1:5 + 2 * L + 1]
    pre_off = ip[5 + 2 * L + 1:5 + 3 * L + 2]
    suf_off = ip[5 + 3 * L + 2:5 + 4 * L + 3]
    # pre[1] = W_1 (copied), pre[c + 1] = W_{c+1} pre[c]
    for e in range(wid[1] * d):
        for r in range(m):
            s[pre_off[1] + e, r] = w[w_off[0] + e, r]
    for c in range(1, L):
        # (h_{c+1}, h_c) @ (h_c, d)
        _mm(w, w_off[c], wid[c], 1, s, pre_off[c], d, 1, s, pre_off[c + 1], wid[c + 1], d, wid[c], m)
    # suf[L-1] = W_L (copied), suf[c] = suf[c + 1] W_{c+1}
    if L >= 2:
        for e in range(k * wid[L - 1]):
            for r in range(m):
                s[suf_off[L - 1] + e, r] = w[w_off[L - 1] + e, r]
        for c in range(L - 2, 0, -1):
            # (k, h_{c+1}) @ (h_{c+1}, h_c)
            _mm(s, suf_off[c + 1], wid[c + 1], 1, w, w_off[c], wid[c], 1, s, suf_off[c], k, wid[c], wid[c + 1], m)
    # G = P Sigma - C, G[a, b] = sum_c P[a, c] Sigma[c, b]
    P = pre_off[L]
    for a in range(k):
        for b in range(d):
            row = g_off + a * d + b
            sig = fp[b]
            for r in range(m):
                s[row, r] = sig * s[P + a * d, r]
            for c in range(1, d):
                sig = fp[c * d + b]
                for r in range(m):
                    s[row, r] = s[row, r] + sig * s[P + a * d + c, r]
            cr = fp[d * d + a * d + b]
            for r in range(m):
                s[row, r] = s[row, r] - cr
    for i in range(L):
        hi, hp = wid[i + 1], wid[i]
        if i == L - 1 and i == 0:
            for e in range(k * d):
                for r in range(m):
                    g[w_off[0] + e, r] = s[g_off + e, r]
        elif i == 0:
            # suf[1]^T G: (h_1, k) @ (k, d)
            _mm(s, suf_off[1], 1, hi, s, g_off, d, 1, g, w_off[0], hi, d, k, m)
        elif i == L - 1:
            # G pre[L-1]^T: (k, d) @ (d, h_{L-1})
            _mm(s, g_off, d, 1, s, pre_off[i], 1, d, g, w_off[i], k, hp, d, m)
        else:
            _mm(s, suf_off[i + 1], 1, hi, s, g_off, d, 1, s, left_off, hi, d, k, m)
            _mm(s, left_off, d, 1, s, pre_off[i], 1, d, g, w_off[i], hi, hp, d, m)

@njit(cache=True, inline="always")
def _expit(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)

@njit(cache=True)
def _grad_mlp(w, g, m, ip, fp, s):
    """MLP: backpropagation as in ``MLP.grad`` (sum over samples), run-major."""
    L, ns, act, z_off, dl0, dl1 = ip[0], ip[1], ip[2], ip[3], ip[4], ip[5]
    wid = ip[6:6 + L + 1]
    w_off = ip[6 + L + 1:6 + 2 * L + 1]
    b_off = ip[6 + 2 * L + 1:6 + 3 * L + 1]
    a_off = ip[6 + 3 * L + 1:6 + 4 * L + 2]
    d_off = ip[6 + 4 * L + 2:6 + 5 * L + 3]
    d0 = wid[0]
    Yb = d0 * ns
    # forward
    for j in range(1, L + 1):
        rows, cols = wid[j], wid[j - 1]
        out = a_off[j] if j < L else z_off
        for a in range(rows):
            for t in range(ns):
                o = out + a * ns + t
                for r in range(m):
                    s[o, r] = 0.0
                for c in range(cols):
                    wr = w_off[j - 1] + a * cols + c
                    if j == 1:
                        x = fp[c * ns + t]
                        for r in range(m):
                            s[o, r] += w[wr, r] * x
                    else:
                        src = a_off[j - 1] + c * ns + t
                        for r in range(m):
                            s[o, r] += w[wr, r] * s[src, r]
                if b_off[j - 1] >= 0:
                    br = b_off[j - 1] + a
                    for r in range(m):
                        s[o, r] += w[br, r]
                if j < L:
                    dd = d_off[j] + a * ns + t
                    for r in range(m):
                        z = s[o, r]
                        if act == 0:
                            v = math.tanh(z)
                            s[o, r] = v
                            s[dd, r] = 1.0 - v * v
                        elif act == 1:
                            v = _expit(z)
                            s[o, r] = v
                            s[dd, r] = v * (1.0 - v)
                        else:
                            s[o, r] = max(z, 0.0) + math.log1p(math.exp(-abs(z)))
                            s[dd, r] = _expit(z)
    # delta_L = z_L - Y
    cur, nxt = dl0, dl1
    for a in range(wid[L]):
        for t in range(ns):
            y = fp[Yb + a * ns + t]
            for r in range(m):
                s[cur + a * ns + t, r] = s[z_off + a * ns + t, r] - y
    for j in range(L, 0, -1):
        rows, cols = wid[j], wid[j - 1]
        for a in range(rows):
            for c in range(cols):
                gr = w_off[j - 1] + a * cols + c
                for r in range(m):
                    g[gr, r] = 0.0
                for t in range(ns):
                    dr = cur + a * ns + t
                    if j == 1:
                        x = fp[c * ns + t]
                        for r in range(m):
                            g[gr, r] += s[dr, r] * x
                    else:
                        src = a_off[j - 1] + c * ns + t
                        for r in range(m):
                            g[gr, r] += s[dr, r] * s[src, r]
            if b_off[j - 1] >= 0:
                br = b_off[j - 1] + a
                for r in range(m):
                    g[br, r] = 0.0
                for t in range(ns):
                    for r in range(m):
                        g[br, r] += s[cur + a * ns + t, r]
        if j > 1:
            for c in range(cols):
                for t in range(ns):
                    o = nxt + c * ns + t
                    for r in range(m):
                        s[o, r] = 0.0
                    for a in range(rows):
                        wr = w_off[j - 1] + a * cols + c
                        dr = cur + a * ns + t
                        for r in range(m):
                            s[o, r] += w[wr, r] * s[dr, r]
                    dd = d_off[j - 1] + c * ns + t
                    for r in range(m):
                        s[o, r] = s[o, r] * s[dd, r]
            cur, nxt = nxt, cur

def _grad(kind, w, g, m, ip, fp, s):
    """The gradient of model ``kind`` on a block (compiled code only; see :func:`_grad_of_kind`)."""
    raise NotImplementedError("_grad exists in compiled code only")


@overload(_grad)
def _grad_of_kind(kind, w, g, m, ip, fp, s):
    """Compile only the gradient of ``kind`` when it is a literal, as ``_run_block`` makes it.

    A branch on a run-time ``kind`` would compile all three gradients wherever a sweep kernel is first
    needed: about 20 s of the cold compile, when chapter 3 needs only the deep scalar one.
    """
    value = getattr(kind, "literal_value", None)
    if value == 0:
        return lambda kind, w, g, m, ip, fp, s: _grad_deep(w, g, m, ip, fp, s)
    if value == 1:
        return lambda kind, w, g, m, ip, fp, s: _grad_linear(w, g, m, ip, fp, s)
    if value == 2:
        return lambda kind, w, g, m, ip, fp, s: _grad_mlp(w, g, m, ip, fp, s)

    return None  # not a literal: no implementation (_run_block's literally() then retypes with one)

# ------------------------------------------------------------------------------------------
# the sweep driver
# ------------------------------------------------------------------------------------------
def sweep_kernel(kind, ip, fp, n_scratch, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup,
                 keep_last, retire, block, final, last, norm_sum, diverged, block_thread, block_work):
    """Runs ``lo .. lo + count - 1`` of the flat grid (run ``k`` = step ``k // n_init``, init ``k % n_init``).

    Outputs are local to the chunk (column ``k - lo``). Block ``b`` of the ``nb`` blocks holds the runs
    ``b, b + nb, b + 2 nb, ...`` of the chunk (interleaved, so every block mixes step sizes and the threads
    get equal work); each runs in the compiled ``_run_block``, on the threads of :func:`run_blocks`.
    """
    args = (kind, ip, fp, n_scratch, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup, keep_last,
            retire, final, last, norm_sum, diverged)
    run_blocks(_block_function(args), (count + block - 1) // block, block_thread, block_work, *args)


def _block_function(args: tuple):
    """``_run_block`` for ``(b, nb, *args)`` with the model kind ``args[0]`` a literal: its compiled entry point
    for exactly the types of ``args``, compiled or loaded from the disk cache on first use.

    Called directly rather than through numba's dispatcher, which tries the non-literal kind first at every
    call (about 0.2 s a call, once per block). The entry point does not check its arguments, so it is
    looked up from the very arguments it is then called with, at every sweep, and never kept. Under
    ``NUMBA_DISABLE_JIT=1`` this is the Python function itself.
    """
    if not hasattr(_run_block, "compile"):  # NUMBA_DISABLE_JIT: plain Python
        return _run_block
    from numba import typeof, types

    sig = (types.int64, types.int64, types.literal(args[0])) + tuple(typeof(a) for a in args[1:])
    return _run_block.compile(sig)


@njit(cache=True, nogil=True)
def _run_block(b, nb, kind, ip, fp, n_scratch, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup,
               keep_last, retire, final, last, norm_sum, diverged):
    """GD on block ``b`` (runs ``b, b + nb, ...`` of the chunk), the logic of ``descent._sweep_chunk``.

    Returns the number of run-steps computed. Compiled once per model kind (``kind`` is a literal), with
    only that kind's gradient (``_grad_of_kind``); the GIL is released, so blocks run in parallel threads.
    """
    kind = literally(kind)
    n = init_T.shape[0]
    tail_start = steps - tail
    last_start = steps - keep_last + 1
    work = 0
    fused = kind == 0 and (ip[0] == 2 or ip[0] == 3)     # depth 2 and 3: the whole step in one loop
    depth = ip[0]
    y0 = fp[0] if kind == 0 else 0.0
    m = (count - b + nb - 1) // nb
    w = np.empty((n, m))
    g = np.empty((n, m))
    prev = np.empty((n, m))
    s = np.empty((max(n_scratch, 1), m))
    eta = np.empty(m)
    gn = np.empty(m)
    idx = np.empty(m, dtype=np.int64)
    for j in range(m):
        loc = b + j * nb
        idx[j] = loc
        k = lo + loc
        eta[j] = etas[k // n_init]
        for i in range(n):
            w[i, j] = init_T[i, k % n_init]
    if keep_last > 0 and last_start == 0:
        for j in range(m):
            for i in range(n):
                last[0, i, idx[j]] = w[i, j]
    for t in range(steps):
        check = (t + 1) % check_every == 0 or t == steps - 1
        need_norm = t >= tail_start or check
        work += m
        if fused:
            _deep_step_fused(w, g, prev, gn, eta, m, depth, y0, need_norm, check and retire)
        else:
            _grad(kind, w, g, m, ip, fp, s)
            if need_norm:
                for j in range(m):
                    gn[j] = g[0, j] * g[0, j]
                for i in range(1, n):
                    for j in range(m):
                        gn[j] = gn[j] + g[i, j] * g[i, j]
                for j in range(m):
                    gn[j] = math.sqrt(gn[j])
            if check and retire:
                for i in range(n):
                    for j in range(m):
                        prev[i, j] = w[i, j]
            for i in range(n):
                for j in range(m):
                    w[i, j] = w[i, j] - g[i, j] * eta[j]
        if t >= tail_start:
            for j in range(m):
                norm_sum[idx[j]] += gn[j]
        if keep_last > 0 and t + 1 >= last_start:
            slot = t + 1 - last_start
            for j in range(m):
                for i in range(n):
                    last[slot, i, idx[j]] = w[i, j]
        if check:
            kept = 0
            for j in range(m):
                bad = False
                for i in range(n):
                    if not (abs(w[i, j]) < blowup):
                        bad = True
                fixed = False
                if retire and t + 1 < steps and not bad:
                    fixed = True
                    for i in range(n):
                        if w[i, j] != prev[i, j]:
                            fixed = False
                            break
                if bad:
                    diverged[idx[j]] = True
                if fixed:
                    q = idx[j]
                    for i in range(n):
                        final[i, q] = w[i, j]
                    norm_sum[q] += (steps - max(t + 1, tail_start)) * gn[j]
                    for slot in range(max(0, t + 2 - last_start), keep_last):
                        for i in range(n):
                            last[slot, i, q] = w[i, j]
                if not (bad or fixed):
                    if kept != j:
                        for i in range(n):
                            w[i, kept] = w[i, j]
                        eta[kept] = eta[j]
                        idx[kept] = idx[j]
                    kept += 1
            m = kept
            if m == 0:
                break
    for j in range(m):
        for i in range(n):
            final[i, idx[j]] = w[i, j]
    return work
