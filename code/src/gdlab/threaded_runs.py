r"""Independent GD runs of one batch spread over threads, with the results of one batched call bit for bit.

numpy releases the GIL in its matrix products and elementwise loops, so the runs of a batch of an
objective that computes every run on its own (``_runs_independent``: :class:`~gdlab.objectives.MLP`)
can proceed in parallel: the runs of the batch are dealt to the threads, each thread iterates its
block with :func:`gdlab.descent.run`, and the trajectories are joined in the batch's order. Each run performs exactly the
floating-point operations it performs in one batched call, so the joined trajectory equals
:func:`gdlab.descent.run`'s.

:func:`map_runs` and :func:`over_runs` do the same for any computation whose runs are independent (the
early-stopping counts of :mod:`gdlab.lazy`, the PL estimates and Hessian norms of :mod:`gdlab.pl_criterion`).

:func:`thread_count` is ``GDLAB_THREADS`` if set, else the number of CPUs this process may use
(``GDLAB_THREADS=1`` turns the threads off). A batch is split only when each thread gets enough work
per step (``MIN_WORK_PER_THREAD``): a step of a small network is many small numpy calls, which
threads slow down. On a busy machine the threads save little and cost some CPU time; the results never
depend on them.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, descent
from .objectives import Objective

__all__ = ["join_blocks", "map_blocks", "map_runs", "over_runs", "run", "thread_count", "work_per_step"]

Array = NDArray[np.float64]
_T = TypeVar("_T")

#: Fewest runs in a block: below this a thread's share of the work does not pay for its overhead.
MIN_RUNS_PER_THREAD = 6
#: Least work per thread and step (:func:`work_per_step` times the runs of a block) for a second thread to
#: pay: a step is many small numpy calls, and below this their hand-offs of the GIL cost more than the
#: second core gives. Measured on 2 cores with MLPs of 800 to 6,000 parameters: 0.55-0.9x the one-thread
#: speed at 0.75e5-4e5, about 1x at 5-6e5, 1.2-2x from 8e5 on.
MIN_WORK_PER_THREAD = 6 * 10**5


def thread_count() -> int:
    """Threads to use: ``GDLAB_THREADS`` if set (an integer >= 1), else the CPUs available to this process.

    >>> thread_count() >= 1
    True
    """
    value = os.environ.get("GDLAB_THREADS")
    if value is not None:
        try:
            return _checks.positive_int(int(value), "GDLAB_THREADS")
        except ValueError:
            raise ValueError(f"GDLAB_THREADS must be an integer >= 1, got {value!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def work_per_step(objective: Objective) -> int:
    """The work of one GD step of one run, in multiply-adds up to a small factor: samples x parameters for
    a network on data (its forward and backward passes), else the parameters.

    >>> from gdlab.objectives import MLP
    >>> work_per_step(MLP(np.eye(3), np.ones((1, 3)), (3, 4, 1)))   # 3 samples x 16 parameters
    48
    """
    X = getattr(objective, "X", None)
    return int(objective.n_params) * (int(X.shape[-1]) if X is not None else 1)


def _blocks(total: int, run_work: int = 0) -> list[NDArray[np.intp]]:
    """The run indices of each thread: runs dealt round-robin (``k, k + t, k + 2t, ...``), so that runs of
    different lengths (neighbours in a batch often share a step size) spread evenly; each block has at
    least :data:`MIN_RUNS_PER_THREAD` runs and, when ``run_work`` (:func:`work_per_step`) is given, at least
    :data:`MIN_WORK_PER_THREAD` of work per step; one block when the batch is too small."""
    count = max(1, min(thread_count(), total // MIN_RUNS_PER_THREAD))
    if run_work:
        count = max(1, min(count, total * run_work // MIN_WORK_PER_THREAD))
    return [np.arange(k, total, count) for k in range(count)]


def _in_threads(work: Callable[[NDArray[np.intp]], _T], blocks: list[NDArray[np.intp]]) -> list[_T]:
    """``[work(block) for block in blocks]``, one thread per block, each under the caller's numpy error state."""
    err = np.geterr()  # numpy's floating-point error state is per thread: the workers get the caller's

    def task(block: NDArray[np.intp]) -> _T:
        with np.errstate(**err):
            return work(block)

    with ThreadPoolExecutor(max_workers=len(blocks)) as pool:
        return list(pool.map(task, blocks))


def map_blocks(work: Callable[[NDArray[np.intp]], _T], total: int,
               run_work: int = 0) -> tuple[list[_T], list[NDArray[np.intp]]]:
    """``[work(block) for block in blocks]`` over the blocks of run indices of ``total`` runs, in threads.

    ``run_work`` is the work of a step of one run (:func:`work_per_step`; 0: not counted). Returns the
    results and the blocks (:func:`join_blocks` puts the runs back in order). With one block (one thread,
    too few runs or too little work) ``work`` runs in the calling thread.

    >>> parts, blocks = map_blocks(lambda idx: idx * 10, 4)
    >>> join_blocks(parts, blocks).tolist()
    [0, 10, 20, 30]
    """
    blocks = _blocks(total, run_work)
    if len(blocks) == 1:
        return [work(blocks[0])], blocks
    return _in_threads(work, blocks), blocks


def map_runs(work: Callable[[slice | NDArray[np.intp]], tuple[NDArray[Any], ...]], total: int,
             run_work: int = 0) -> tuple[NDArray[Any], ...]:
    """The arrays ``work(runs)`` returns (runs along axis 0 of each), for all ``total`` runs, in threads.

    ``work`` gets the index array of a block of runs, or ``slice(None)`` when the runs make one block
    (one thread, too few runs or too little work: ``run_work`` as in :func:`map_blocks`), and the
    blocks' arrays are joined in the runs' order. For a computation in which every run is computed on
    its own, the result is that of ``work(slice(None))`` bit for bit. The runs are dealt round-robin, so
    a block's inputs are copies (an index array selects them).

    >>> map_runs(lambda runs: (np.arange(8.0)[runs] ** 2,), 8)[0].tolist()
    [0.0, 1.0, 4.0, 9.0, 16.0, 25.0, 36.0, 49.0]
    """
    blocks = _blocks(total, run_work)
    if len(blocks) == 1:
        return work(slice(None))
    parts = _in_threads(work, blocks)
    return tuple(join_blocks([part[i] for part in parts], blocks) for i in range(len(parts[0])))


def over_runs(objective: Objective, work: Callable[[slice | NDArray[np.intp]], tuple[NDArray[Any], ...]],
              total: int, points_per_run: int = 1) -> tuple[NDArray[Any], ...]:
    """``work(slice(None))``, computed by :func:`map_runs` in blocks of runs in threads when ``objective``
    computes each run on its own (``_runs_independent``: :class:`~gdlab.objectives.MLP`), so with the same
    bits; ``points_per_run`` is the number of points one run contributes to each of ``work``'s evaluations
    (the work of a run is that times :func:`work_per_step`).
    """
    if not getattr(objective, "_runs_independent", False):
        return work(slice(None))
    return map_runs(work, total, points_per_run * work_per_step(objective))


def join_blocks(parts: list[NDArray[Any]], blocks: list[NDArray[np.intp]], axis: int = 0) -> NDArray[Any]:
    """The blocks' results (runs along ``axis``) put back in the runs' order: one copy, however large.

    >>> parts, blocks = [np.array([[0, 2], [5, 7]]), np.array([[1], [6]])], [np.array([0, 2]), np.array([1])]
    >>> join_blocks(parts, blocks, axis=1).tolist()
    [[0, 1, 2], [5, 6, 7]]
    """
    first = parts[0]
    total = sum(len(block) for block in blocks)
    joined = np.empty(first.shape[:axis] + (total,) + first.shape[axis + 1:], dtype=first.dtype)
    for block, part in zip(blocks, parts):
        joined[(slice(None),) * axis + (block,)] = part
    return joined


def run(objective: Objective, w0: ArrayLike, step_size: ArrayLike, steps: int, **options: Any) -> descent.Trajectory:
    r""":func:`gdlab.descent.run` with the runs of the batch spread over threads; the same trajectory bit for bit.

    ``w0`` (shape ``(..., n_params)``), ``step_size``, ``steps`` and the keyword ``options`` are those of
    :func:`gdlab.descent.run`. The batch is split only for an objective that computes its runs
    independently (``_runs_independent``) and without ``until_loss`` or sharpness records (a stop or a
    warm-started eigenvector shared by the batch); otherwise, and for a batch too small to pay for threads
    (``MIN_RUNS_PER_THREAD``, ``MIN_WORK_PER_THREAD``), this is
    :func:`gdlab.descent.run` itself.

    >>> from gdlab.objectives import MLP
    >>> net = MLP(np.eye(3), np.ones((1, 3)), (3, 4, 1)); w0 = net.random_params(rng=0, size=(12,))
    >>> a, b = run(net, w0, 0.1, 20), descent.run(net, w0, 0.1, 20)
    >>> bool(np.array_equal(a.loss, b.loss) and np.array_equal(a.params, b.params))
    True
    """
    shared = ("until_loss", "sharpness_every", "sharpness_at")
    w = objective._params(w0, "w0")
    batch, p = w.shape[:-1], w.shape[-1]
    total = int(np.prod(batch))
    blocks = _blocks(total, work_per_step(objective))
    if (not getattr(objective, "_runs_independent", False) or any(options.get(k) is not None for k in shared)
            or len(blocks) == 1):
        return descent.run(objective, w, step_size, steps, **options)
    eta = descent._step_sizes_for_batch(step_size, batch).reshape(total)
    flat = w.reshape(total, p)
    parts = _in_threads(lambda idx: descent.run(objective, flat[idx], eta[idx], steps, **options), blocks)

    def join(name: str, tail: tuple[int, ...] = ()) -> NDArray[Any]:
        """The blocks' records of ``name`` in the batch's order and shape."""
        arrays = [getattr(part, name) for part in parts]
        axis = arrays[0].ndim - 1 - len(tail)  # the runs' axis
        joined = join_blocks(arrays, blocks, axis)
        return joined.reshape(joined.shape[:axis] + batch + tail)

    return descent.Trajectory(
        steps=parts[0].steps,
        loss=join("loss"),
        grad_norm=join("grad_norm"),
        params=None if parts[0].params is None else join("params", (p,)),
        sharpness=None,
        sharpness_steps=None,
        diverged=join("diverged"),
        reached_at=None,
    )
