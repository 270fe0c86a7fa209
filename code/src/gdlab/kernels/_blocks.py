"""The blocks of runs of a compiled sweep, spread over threads (used by ``_compiled`` and the generated ``_linear`` kernels)."""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["run_blocks"]


def run_blocks(run_block: Callable[..., int], nb: int, block_thread: np.ndarray, block_work: np.ndarray,
               *args: Any) -> None:
    """``block_work[b] = run_block(b, nb, *args)`` for the blocks ``b = 0 .. nb - 1`` of a chunk, on
    ``numba.get_num_threads()`` threads, each thread taking the next block as it frees up.

    ``block_thread[b]`` is the number (0, 1, ...) of the thread that ran block ``b``. ``run_block`` is a
    compiled block of GD runs that releases the GIL (``nogil=True``), so the threads run in parallel, and
    the blocks write disjoint columns of the chunk's outputs. Plain Python threads rather than numba's
    ``prange``: numba compiled the parallel loop as a second copy of the whole block code (half of a
    kernel's first compile). An exception in a block is raised here once the running blocks have ended.
    """
    import numba

    threads = min(numba.get_num_threads(), nb)
    numbers, local = itertools.count(), threading.local()

    def one(b: int) -> None:
        if not hasattr(local, "number"):
            local.number = next(numbers)
        block_thread[b] = local.number
        block_work[b] = run_block(b, nb, *args)

    if threads <= 1:
        for b in range(nb):
            one(b)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(nb)))
