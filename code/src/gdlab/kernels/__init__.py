r"""Compiled (numba) kernels behind :func:`gdlab.descent.sweep`.

One GD sweep is ``n_eta * n_init`` independent runs. The kernel splits them into blocks of
``block`` runs, spreads the blocks over all cores (threads, :func:`run_blocks`) and keeps each block in a
run-major array ``w[param, run]``, so every elementwise loop runs over the runs (contiguous
memory, SIMD). Divergence checks, retirement of runs at exact floating-point fixed points, the
tail mean of :math:`\|\nabla f\|` and the kept last iterates are all inside the kernel, following
the numpy reference (``gdlab.descent._sweep_chunk``) operation for operation.

Kernels exist for :class:`~gdlab.objectives.DeepScalarLinear`,
:class:`~gdlab.objectives.LinearNetwork` and :class:`~gdlab.objectives.MLP` (every activation it
supports). Agreement with the numpy reference, as tested in ``tests/test_kernels.py``:

* ``DeepScalarLinear``: **bit for bit** (same products in the same order, no fused multiply-add:
  numba does not contract ``a * b + c`` without ``fastmath``), so every output is identical; depths 2
  and 3 take the whole step in one loop over the runs, other depths one loop per product;
* ``LinearNetwork``: **bit for bit**. Every small product is the ordered sum :math:`\sum_j a_j b_j` that
  ``np.einsum`` (without ``optimize``) forms in the reference ``LinearNetwork._grad_T``, including
  :math:`G = P\Sigma - C` (an einsum there, not BLAS). Widths up to ``_linear.MAX_WIDTH`` and depths up to
  ``_linear.MAX_DEPTH`` get a kernel generated for the widths (the step unrolled on scalars, runs in
  tiles of 32 that vectorise; ``gdlab.kernels._linear``), about 8x numpy on the 3x3x3 network of
  chapter 3; larger networks the generic run-major kernel (one pass per product term);
* ``MLP``: to rounding: the reference uses BLAS ``matmul`` and numpy's ``tanh``/``exp``.

"To rounding" holds per step; over many steps of a chaotic run the two drift apart like any two
roundings of a chaotic map, so statistics (not single chaotic trajectories) are what agree.

The compiled code is cached on disk (``cache=True``): numba writes it next to this file
(``__pycache__``) or, where that is read-only, under ``NUMBA_CACHE_DIR`` (default: the user's cache
directory), so a checkout compiles once and every later process loads the kernels in under half a second.
Each model kind has its own compiled sweep (``_compiled._run_block`` is specialised on the literal
kind), so the first deep-scalar sweep compiles only the deep-scalar code: about 3 s on the 2-core
reference machine, and about 2 s more per set of LinearNetwork widths. ``engine="auto"`` loads a kernel
once the process's sweeps are large enough to pay for loading it (``descent.AUTO_KERNEL_WORK``,
``descent.AUTO_KERNEL_WORK_WARM``).
"""
from __future__ import annotations

import importlib.util

import numpy as np

from ._blocks import run_blocks

__all__ = ["auto_ok", "available", "block_stats", "kind_of", "loaded", "pack", "run_blocks", "run_chunk", "sweep_block_arrays"]

DEEP_SCALAR, LINEAR_NETWORK, MLP_NET = 0, 1, 2
#: Kernels that ``sweep(engine="auto")`` uses: the deep scalar one, 3-9x faster than numpy and bit for
#: bit; and (see :func:`auto_ok`) the unrolled LinearNetwork kernels of ``_linear`` for small widths, bit
#: for bit and about 8x numpy. The generic LinearNetwork kernel (at most 1.2x numpy) and the MLP kernel
#: (slower than numpy's BLAS products on the book's MLPs, and equal only to rounding) run only with
#: ``engine="numba"``.
AUTO_KINDS = frozenset({DEEP_SCALAR})
ACT_CODES = {"tanh": 0, "sigmoid": 1, "softplus": 2}


def available() -> bool:
    """True when numba is installed (the compiled engine can be used). Does not import it."""
    return importlib.util.find_spec("numba") is not None


def kind_of(objective: object) -> int | None:
    """Kernel code for ``objective`` (exact class match: a subclass may change ``grad``), else ``None``."""
    from ..objectives import MLP, DeepScalarLinear, LinearNetwork

    t = type(objective)
    if t is DeepScalarLinear:
        return DEEP_SCALAR
    if t is LinearNetwork:
        return LINEAR_NETWORK
    if t is MLP:
        return MLP_NET
    return None


def pack(objective: object) -> tuple[int, np.ndarray, np.ndarray, int]:
    """``(kind, int_params, float_params, scratch_rows)``: everything the kernel needs, as arrays.

    The integer array holds sizes and offsets into the flat parameter vector and into the
    per-run scratch rows; the float array the data (target; or :math:`\\Sigma`, :math:`C`; or
    ``X``, ``Y``).
    """
    kind = kind_of(objective)
    if kind == DEEP_SCALAR:
        L = objective.depth
        return kind, np.array([L], dtype=np.int64), np.array([objective.target]), 2 * L + 1
    if kind == LINEAR_NETWORK:
        widths = list(objective.widths)
        L, d, k = len(widths) - 1, widths[0], widths[-1]
        w_off = [s.start for s in objective.layer_slices]
        pos = 0
        pre_off = [0] * (L + 1)
        for c in range(1, L + 1):           # pre[c] = W_c ... W_1, (h_c, d)
            pre_off[c] = pos
            pos += widths[c] * d
        suf_off = [0] * (L + 1)
        for c in range(1, L):               # suf[c] = W_L ... W_{c+1} (1-indexed), (k, h_c)
            suf_off[c] = pos
            pos += k * widths[c]
        g_off = pos
        pos += k * d
        left_off = pos
        pos += max(widths) * d
        ip = np.array([L, d, k, g_off, left_off] + widths + w_off + pre_off + suf_off, dtype=np.int64)
        fp = np.concatenate([objective.sigma.ravel(), objective.cross.ravel()])
        return kind, ip, fp, pos
    if kind == MLP_NET:
        widths = list(objective.widths)
        L, ns = len(widths) - 1, objective.X.shape[1]
        w_off = [s.start for s, _ in objective.layer_slices]
        b_off = [-1 if b is None else b.start for _, b in objective.layer_slices]
        pos = 0
        a_off = [0] * (L + 1)                # a_j (hidden activations) and their derivatives
        d_off = [0] * (L + 1)
        for j in range(1, L):
            a_off[j] = pos
            pos += widths[j] * ns
            d_off[j] = pos
            pos += widths[j] * ns
        z_off = pos                          # output pre-activation z_L
        pos += widths[-1] * ns
        delta0 = pos
        pos += max(widths[1:]) * ns
        delta1 = pos
        pos += max(widths[1:]) * ns
        ip = np.array([L, ns, ACT_CODES[objective.activation], z_off, delta0, delta1] + widths + w_off + b_off
                      + a_off + d_off, dtype=np.int64)
        fp = np.concatenate([objective.X.ravel(), objective.Y.ravel()])
        return kind, ip, fp, pos
    raise ValueError(f"no compiled kernel for {type(objective).__name__}")


def default_block(n_params: int, scratch_rows: int) -> int:
    """Runs per block: 64 to 256, the block's arrays (about ``4 n_params + scratch`` rows) near 512 KiB.

    Long blocks keep the innermost loops (over runs) long enough to vectorise well; the size changes
    no result (runs are independent).
    """
    rows = 4 * n_params + scratch_rows + 8
    return int(max(64, min(256, 2**16 // rows)))


def _linear_widths(kind: int, ip: np.ndarray) -> tuple[int, ...] | None:
    """The widths of a LinearNetwork small enough for the unrolled kernel of ``_linear``, else ``None``."""
    if kind != LINEAR_NETWORK:
        return None
    from ._linear import specialised

    widths = tuple(int(h) for h in ip[5:5 + int(ip[0]) + 1])
    return widths if specialised(widths) else None


def auto_ok(objective: object) -> bool:
    """True when ``sweep(engine="auto")`` may use a kernel for ``objective`` (given enough work): a kind in
    ``AUTO_KINDS``, or a LinearNetwork with the unrolled kernel (bit for bit and faster than numpy)."""
    kind = kind_of(objective)
    if kind in AUTO_KINDS:
        return True
    if kind == LINEAR_NETWORK:
        from ._linear import specialised

        return specialised(tuple(objective.widths))
    return False


_LOADED: set = set()      # kernels this process has run (their machine code is loaded)


def _key(kind: int, ip: np.ndarray) -> tuple:
    widths = _linear_widths(kind, ip)
    return ("linear", widths) if widths is not None else ("generic", int(kind))  # one kernel per model kind


def loaded(objective: object) -> bool:
    """True when the kernel ``objective`` would use has already run in this process (no load cost left)."""
    kind = kind_of(objective)
    if kind is None:
        return False
    return _key(kind, pack(objective)[1]) in _LOADED


def run_chunk(kind, ip, fp, n_scratch, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup, keep_last,
              retire, block):
    """Run ``count`` runs from flat index ``lo`` with the compiled kernel; returns chunk-local outputs.

    ``(final (n, count), last (keep_last, n, count), norm_sum (count,), diverged (count,), block_thread,
    block_work)``: the last two per block, the thread that ran it and the run-steps it computed (:func:`run_blocks`).
    A plain function of arrays, so it can be shipped to a ``dask.distributed`` worker.
    """
    n = init_T.shape[0]
    final = np.zeros((n, count))
    last = np.full((keep_last, n, count), np.nan)
    norm_sum = np.zeros(count)
    diverged = np.zeros(count, dtype=np.bool_)
    block_thread = np.full((count + block - 1) // block, -1, dtype=np.int64)
    block_work = np.zeros_like(block_thread)
    widths = _linear_widths(kind, ip)
    if widths is not None:
        from ._linear import load

        load(widths)(fp, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup, keep_last, retire, block,
                     final, last, norm_sum, diverged, block_thread, block_work)
    else:
        from ._compiled import sweep_kernel

        sweep_kernel(kind, ip, fp, n_scratch, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup,
                     keep_last, retire, block, final, last, norm_sum, diverged, block_thread, block_work)
    _LOADED.add(_key(kind, ip))
    return final, last, norm_sum, diverged, block_thread, block_work


def _kernel_inputs(step_sizes, inits) -> tuple[np.ndarray, np.ndarray]:
    """``(etas, init_T)``: the step sizes and the starts transposed to ``(n_params, n_init)``, as fresh
    writable C-ordered float64 arrays, the kernels' one signature (a read-only view would compile another)."""
    etas = np.array(step_sizes, dtype=np.float64, order="C")
    init_T = np.array(np.asarray(inits, dtype=np.float64).T, order="C")
    return etas, init_T


def block_stats(objective, step_sizes, inits, steps: int, *, retire: bool = True, block: int | None = None,
                check_every: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``(thread, run_steps)`` per block of a compiled sweep: which thread ran each block and how
    many run-steps it computed (for checking that all cores are used and that retirement saves work)."""
    kind, ip, fp, ns = pack(objective)
    etas, init_T = _kernel_inputs(step_sizes, inits)
    total = etas.size * init_T.shape[1]
    block = default_block(objective.n_params, ns) if block is None else block
    out = run_chunk(kind, ip, fp, ns, init_T, etas, init_T.shape[1], 0, total, steps, 1, check_every, 1e8, 0,
                    retire, block)
    return out[4], out[5]


def sweep_block_arrays(objective, etas, inits, steps, tail, check_every, blowup, keep_last, retire, *,
                       engine="numba", chunk_size=None, bar=None, client=None):
    """Outputs of a sweep over the flat run index, parameter-major, as :func:`gdlab.descent.sweep` builds them.

    Returns ``(final (n, total), last (keep_last, n, total) or None, norm_sum (total,), diverged (total,))``.
    ``engine`` is ``"numba"`` (compiled kernel) or ``"numpy"`` (the reference,
    ``gdlab.descent._sweep_chunk``, run chunk by chunk). The runs are cut into chunks of
    ``chunk_size`` runs (default: all at once, or about 1/50 of the work when a progress bar or a
    client is given); with ``client`` (a ``dask.distributed.Client``) each chunk is one task on the
    cluster; ``bar`` (tqdm) advances by ``chunk * steps`` after each chunk.
    """
    etas, init_T = _kernel_inputs(etas, inits)
    n_eta, n_init, n = etas.size, inits.shape[0], objective.n_params
    total = n_eta * n_init
    if engine == "numba":
        kind, ip, fp, n_scratch = pack(objective)
        block = default_block(n, n_scratch)
        if chunk_size is None:
            import numba

            threads = numba.get_num_threads() if client is None else 1
            chunk_size = total if (bar is None and client is None) else max(block * 2 * threads, -(-total // 50))
        args = (kind, ip, fp, n_scratch, init_T, etas, n_init)

        def task(lo: int, count: int):
            return run_chunk(*args, lo, count, steps, tail, check_every, blowup, keep_last, retire, block)[:4]
    else:
        if chunk_size is None:
            chunk_size = total if (bar is None and client is None) else max(1, -(-total // 50))

        def task(lo: int, count: int):
            return _numpy_chunk(objective, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup,
                                keep_last, retire)

    final = np.zeros((n, total))
    last = np.full((keep_last, n, total), np.nan) if keep_last else None
    norm_sum = np.zeros(total)
    diverged = np.zeros(total, dtype=bool)
    bounds = [(lo, min(total, lo + chunk_size) - lo) for lo in range(0, total, chunk_size)]

    def store(lo: int, count: int, out) -> None:
        f, l, s, d = out
        final[:, lo:lo + count] = f
        if last is not None:
            last[:, :, lo:lo + count] = l
        norm_sum[lo:lo + count] = s
        diverged[lo:lo + count] = d
        if bar is not None:
            bar.update(count * steps)

    if client is None:
        for lo, count in bounds:
            store(lo, count, task(lo, count))
    else:
        from dask.distributed import as_completed

        if engine == "numba":
            futures = {client.submit(run_chunk, *args, lo, count, steps, tail, check_every, blowup, keep_last,
                                     retire, block, pure=False): (lo, count) for lo, count in bounds}
        else:
            futures = {client.submit(_numpy_chunk, objective, init_T, etas, n_init, lo, count, steps, tail,
                                     check_every, blowup, keep_last, retire, pure=False): (lo, count)
                       for lo, count in bounds}
        for fut in as_completed(list(futures)):
            lo, count = futures[fut]
            store(lo, count, fut.result()[:4])
    return final, last, norm_sum, diverged


def _numpy_chunk(objective, init_T, etas, n_init, lo, count, steps, tail, check_every, blowup, keep_last, retire):
    """The numpy reference on runs ``lo .. lo + count - 1``, chunk-local outputs (for progress and dask)."""
    from ..descent import _default_chunk, _sweep_chunk

    n = init_T.shape[0]
    final = np.zeros((n, count))
    last = np.full((keep_last, n, count), np.nan) if keep_last else None
    norm_sum = np.zeros(count)
    diverged = np.zeros(count, dtype=bool)
    inner = _default_chunk(objective, count)
    with np.errstate(all="ignore"):
        for a in range(0, count, inner):
            loc = np.arange(a, min(count, a + inner))
            k = lo + loc
            wT = init_T[:, k % n_init].copy()
            _sweep_chunk(objective, wT, etas[k // n_init], loc, steps, tail, check_every, blowup, keep_last,
                         final, last, norm_sum, diverged, None, retire)
    return final, last, norm_sum, diverged
