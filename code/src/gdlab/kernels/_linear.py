r"""Specialised (fully unrolled) sweep kernels for small :class:`~gdlab.objectives.LinearNetwork`\ s.

For a network with small widths the whole GD step of one run is a few hundred scalar operations.
The generic run-major kernel (``_compiled._grad_linear``) makes one pass over the block's memory per
term of every small matrix product, which costs more than the arithmetic. Here the step is written
out for the given widths as straight-line code on scalars (every matrix entry a local variable),
inside one loop over the runs of a block: each run's parameters are read once and written once per
step, and the loop over runs vectorises (SIMD) like the fused depth-2/3 scalar step.

The code is generated from the widths, written to ``__pycache__/gdlab_gen/linear_<widths>.py`` next to
this file (or under ``NUMBA_CACHE_DIR``/the user's cache directory where that is read-only) and
compiled by numba with ``cache=True``, so each architecture compiles once per checkout.

**Bit for bit** with the numpy reference ``LinearNetwork._grad_T`` + ``descent._sweep_chunk``: every
product entry is the ordered sum :math:`\sum_j a_j b_j` (``((a_0 b_0 + a_1 b_1) + a_2 b_2) + \dots``),
the order of ``np.einsum`` without ``optimize``; :math:`G = P\Sigma - C`; the norm
:math:`\sqrt{\sum_p g_p^2}` in parameter order; the update :math:`w_p - g_p \eta`. numba does not
contract ``a * b + c`` into a fused multiply-add without ``fastmath``. (The only possible difference is
the sign of an exact zero: numpy's einsum starts from ``+0.0``.)
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

#: Widths up to this size and depths up to ``MAX_DEPTH`` get a specialised kernel (the generated code
#: grows like the number of multiply-adds of a step, about ``L * max_width**3``).
MAX_WIDTH = 6
MAX_DEPTH = 4
#: Runs per tile: a block's arrays hold tiles of ``LANES`` runs (parameter-major inside a tile), so every
#: load and store of the unrolled step is at a constant offset from the tile's base and the loop over the
#: runs of a tile vectorises without run-time alias checks.
LANES = 32

__all__ = ["MAX_DEPTH", "MAX_WIDTH", "load", "source", "specialised"]


def specialised(widths: tuple[int, ...]) -> bool:
    """True when the network ``widths`` gets an unrolled kernel."""
    return 1 <= len(widths) - 1 <= MAX_DEPTH and max(widths) <= MAX_WIDTH


def _ordered_sum(terms: list[str]) -> str:
    return " + ".join(terms)


def _step_body(widths: tuple[int, ...], indent: str) -> tuple[list[str], list[str], int]:
    """Lines computing the gradient ``g<p>`` of one run from ``x<p>`` (its parameters) and ``sig``/``crs``.

    Returns ``(load_lines, grad_lines, n_params)``.
    """
    L = len(widths) - 1
    d, k = widths[0], widths[-1]
    off = [0]
    for i in range(L):
        off.append(off[-1] + widths[i + 1] * widths[i])
    n = off[-1]

    def W(i: int, a: int, c: int) -> str:          # layer i (0-indexed), entry (a, c), shape (h_{i+1}, h_i)
        return f"x{off[i] + a * widths[i] + c}"

    lines: list[str] = []
    # pre[c] = W_c ... W_1, shape (h_c, d); pre[1] = W_1
    pre: dict[int, list[list[str]]] = {1: [[W(0, a, b) for b in range(d)] for a in range(widths[1])]}
    for c in range(1, L):
        rows = []
        for a in range(widths[c + 1]):
            row = []
            for b in range(d):
                name = f"p{c + 1}_{a}_{b}"
                lines.append(f"{name} = " + _ordered_sum([f"{W(c, a, j)} * {pre[c][j][b]}" for j in range(widths[c])]))
                row.append(name)
            rows.append(row)
        pre[c + 1] = rows
    # suf[c] = W_L ... W_{c+1}, shape (k, h_c); suf[L-1] = W_L, suf[c] = suf[c+1] W_{c+1}
    suf: dict[int, list[list[str]]] = {}
    if L >= 2:
        suf[L - 1] = [[W(L - 1, a, b) for b in range(widths[L - 1])] for a in range(k)]
        for c in range(L - 2, 0, -1):
            rows = []
            for a in range(k):
                row = []
                for b in range(widths[c]):
                    name = f"s{c}_{a}_{b}"
                    lines.append(f"{name} = " + _ordered_sum([f"{suf[c + 1][a][j]} * {W(c, j, b)}" for j in range(widths[c + 1])]))
                    row.append(name)
                rows.append(row)
            suf[c] = rows
    # G = P Sigma - C, G[a, b] = sum_c P[a, c] Sigma[c, b]
    P = pre[L]
    G = []
    for a in range(k):
        row = []
        for b in range(d):
            name = f"G{a}_{b}"
            lines.append(f"{name} = ({_ordered_sum([f'{P[a][c]} * sig{c}_{b}' for c in range(d)])}) - crs{a}_{b}")
            row.append(name)
        G.append(row)
    # layer gradients
    for i in range(L):
        hi, hp = widths[i + 1], widths[i]
        base = off[i]
        if L == 1:
            for a in range(hi):
                for b in range(hp):
                    lines.append(f"g{base + a * hp + b} = {G[a][b]}")
        elif i == 0:            # suf[1]^T G: (h_1, k) @ (k, d)
            for a in range(hi):
                for b in range(hp):
                    lines.append(f"g{base + a * hp + b} = " + _ordered_sum([f"{suf[1][j][a]} * {G[j][b]}" for j in range(k)]))
        elif i == L - 1:        # G pre[L-1]^T: (k, d) @ (d, h_{L-1})
            for a in range(hi):
                for b in range(hp):
                    lines.append(f"g{base + a * hp + b} = " + _ordered_sum([f"{G[a][j]} * {pre[i][b][j]}" for j in range(d)]))
        else:                   # left = suf[i+1]^T G (h_{i+1}, d); left pre[i]^T
            for a in range(hi):
                for b in range(d):
                    lines.append(f"l{i}_{a}_{b} = " + _ordered_sum([f"{suf[i + 1][j][a]} * {G[j][b]}" for j in range(k)]))
            for a in range(hi):
                for b in range(hp):
                    lines.append(f"g{base + a * hp + b} = " + _ordered_sum([f"l{i}_{a}_{j} * {pre[i][b][j]}" for j in range(d)]))
    loads = [f"x{p} = w[tile, {p * LANES} + j]" for p in range(n)]
    return [indent + s for s in loads], [indent + s for s in lines], n


_DRIVER = '''
def sweep_kernel(fp, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup, keep_last, retire, block,
                 final, last, norm_sum, diverged, block_thread, block_work):
    run_blocks(_run_block, (count + block - 1) // block, block_thread, block_work, fp, init_T, etas, n_init, lo,
               count, steps, tail, check_every, blowup, keep_last, retire, final, last, norm_sum, diverged)


@njit(cache=True, inline="always")
def _at(j, p):
    return j // LANES, p * LANES + j % LANES


@njit(cache=True, nogil=True)
def _run_block(b, nb, fp, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup, keep_last, retire,
               final, last, norm_sum, diverged):
    n = N
    tail_start = steps - tail
    last_start = steps - keep_last + 1
    work = 0
    m = (count - b + nb - 1) // nb
    tiles = (m + LANES - 1) // LANES
    w = np.zeros((tiles, N * LANES))
    prev = np.zeros((tiles, N * LANES))
    eta = np.zeros((tiles, LANES))
    gn = np.zeros((tiles, LANES))
    idx = np.empty(m, dtype=np.int64)
    for j in range(m):
        loc = b + j * nb
        idx[j] = loc
        k = lo + loc
        eta[j // LANES, j % LANES] = etas[k // n_init]
        for i in range(n):
            w[_at(j, i)] = init_T[i, k % n_init]
    if keep_last > 0 and last_start == 0:
        for j in range(m):
            for i in range(n):
                last[0, i, idx[j]] = w[_at(j, i)]
    for t in range(steps):
        check = (t + 1) % check_every == 0 or t == steps - 1
        need_norm = t >= tail_start or check
        work += m
        _step(w, prev, gn, eta, (m + LANES - 1) // LANES, fp, need_norm, check and retire)
        if t >= tail_start:
            for j in range(m):
                norm_sum[idx[j]] += gn[j // LANES, j % LANES]
        if keep_last > 0 and t + 1 >= last_start:
            slot = t + 1 - last_start
            for j in range(m):
                for i in range(n):
                    last[slot, i, idx[j]] = w[_at(j, i)]
        if check:
            kept = 0
            for j in range(m):
                bad = False
                for i in range(n):
                    if not (abs(w[_at(j, i)]) < blowup):
                        bad = True
                fixed = False
                if retire and t + 1 < steps and not bad:
                    fixed = True
                    for i in range(n):
                        if w[_at(j, i)] != prev[_at(j, i)]:
                            fixed = False
                            break
                if bad:
                    diverged[idx[j]] = True
                if fixed:
                    q = idx[j]
                    for i in range(n):
                        final[i, q] = w[_at(j, i)]
                    norm_sum[q] += (steps - max(t + 1, tail_start)) * gn[j // LANES, j % LANES]
                    for slot in range(max(0, t + 2 - last_start), keep_last):
                        for i in range(n):
                            last[slot, i, q] = w[_at(j, i)]
                if not (bad or fixed):
                    if kept != j:
                        for i in range(n):
                            w[_at(kept, i)] = w[_at(j, i)]
                        eta[kept // LANES, kept % LANES] = eta[j // LANES, j % LANES]
                        gn[kept // LANES, kept % LANES] = gn[j // LANES, j % LANES]
                        idx[kept] = idx[j]
                    kept += 1
            for j in range(kept, m):        # idle lanes of the last tile: zeros (no overflow, no denormals)
                for i in range(n):
                    w[_at(j, i)] = 0.0
                eta[j // LANES, j % LANES] = 0.0
            m = kept
            if m == 0:
                break
    for j in range(m):
        for i in range(n):
            final[i, idx[j]] = w[_at(j, i)]
    return work
'''


def source(widths: tuple[int, ...]) -> str:
    """The Python source of the specialised kernel module for ``widths`` (numba-compiled on import)."""
    widths = tuple(int(h) for h in widths)
    if not specialised(widths):
        raise ValueError(f"no specialised kernel for widths {widths} (depth <= {MAX_DEPTH}, widths <= {MAX_WIDTH})")
    d, k = widths[0], widths[-1]
    ind = " " * 20
    loads, body, n = _step_body(widths, ind)
    consts = [f"    sig{c}_{b} = fp[{c * d + b}]" for c in range(d) for b in range(d)]
    consts += [f"    crs{a}_{b} = fp[{d * d + a * d + b}]" for a in range(k) for b in range(d)]
    norm = "gn[tile, j] = math.sqrt(" + " + ".join(f"g{p} * g{p}" for p in range(n)) + ")"
    save = "; ".join(f"prev[tile, {p * LANES} + j] = x{p}" for p in range(n))
    update = "; ".join(f"w[tile, {p * LANES} + j] = x{p} - g{p} * e" for p in range(n))
    variants = []
    # two variants (fewer to compile): plain steps, and steps that need the norm or keep the previous iterate
    for cond, extra in (("need_norm or save_prev", [norm, save]), ("True", [])):
        head = "if" if not variants else "elif"
        lines = [f"        {head} {cond}:", "            for tile in range(tiles):",
                 f"                for j in range({LANES}):"] + loads + body
        lines += [ind + s for s in extra] + [ind + "e = eta[tile, j]", ind + update]
        variants.append("\n".join(lines))
    step = "\n".join([
        "@njit(cache=True)",
        "def _step(w, prev, gn, eta, tiles, fp, need_norm, save_prev):",
        f'    """One GD step of LinearNetwork{widths} on every run of a block (generated, unrolled).',
        "",
        f"    Tile layout: parameter p of run j at w[j // {LANES}, p * {LANES} + j % {LANES}] (indices are loop",
        "    counters plus constants: no negative-index wrap-around, so the loop over a tile vectorises).",
        '    """',
        *consts,
        "    if True:",
        *variants,
    ])
    header = (f'"""Generated by gdlab.kernels._linear for LinearNetwork widths {widths}: do not edit."""\n'
              "import math\n\nimport numpy as np\nfrom numba import njit\n\nfrom gdlab.kernels._blocks import run_blocks\n\n"
              f"N = {n}\nLANES = {LANES}\n\n\n")
    return header + step + "\n\n" + _DRIVER


def _cache_dir() -> Path:
    here = Path(__file__).parent / "__pycache__" / "gdlab_gen"
    try:
        here.mkdir(parents=True, exist_ok=True)
        if os.access(here, os.W_OK):
            return here
    except OSError:
        pass
    root = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache")
    alt = Path(root) / "gdlab_gen"
    alt.mkdir(parents=True, exist_ok=True)
    return alt


_LOADED: dict[tuple[int, ...], object] = {}


def load(widths: tuple[int, ...]):
    """The ``sweep_kernel`` for ``widths`` (its blocks compiled), generating its module on first use."""
    widths = tuple(int(h) for h in widths)
    kern = _LOADED.get(widths)
    if kern is not None:
        return kern
    src = source(widths)
    tag = "_".join(map(str, widths))
    path = _cache_dir() / f"linear_{tag}_{hashlib.sha1(src.encode()).hexdigest()[:10]}.py"
    if not path.exists() or path.read_text() != src:   # never rewrite an unchanged file: numba's cache keys on it
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(src)
        os.replace(tmp, path)
    name = f"gdlab.kernels._gen_linear_{tag}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _LOADED[widths] = kern = module.sweep_kernel
    return kern
