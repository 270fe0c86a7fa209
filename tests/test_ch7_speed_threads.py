"""gdlab.threaded_runs: GD runs dealt to threads give the trajectory of one batched descent.run, bit for
bit (chapter 7's comparisons and lazy.steps_to_loss use it)."""
from __future__ import annotations

import numpy as np
import pytest

from gdlab import data, descent, lazy, threaded_runs
from gdlab.objectives import MLP, Quadratic


def _net(bias: bool = False) -> MLP:
    rng = np.random.default_rng(31)
    X = data.linearly_independent_inputs(10, 6, rng=rng); Y = rng.choice([-1.0, 1.0], size=(1, 6))
    return MLP(X, Y, (10, 8, 8, 1), "tanh", bias=bias)


@pytest.fixture(autouse=True)
def _split_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The networks here are tiny (below MIN_WORK_PER_THREAD): let them be split anyway, to test the threads."""
    monkeypatch.setattr(threaded_runs, "MIN_WORK_PER_THREAD", 1)


def _same(a: descent.Trajectory, b: descent.Trajectory) -> None:
    np.testing.assert_array_equal(a.steps, b.steps)
    for name in ("loss", "grad_norm", "params", "diverged"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name


@pytest.mark.parametrize("threads", ["2", "3", "5"])
@pytest.mark.parametrize("bias", [False, True])
def test_threaded_run_is_descent_run_bit_for_bit(monkeypatch: pytest.MonkeyPatch, threads: str, bias: bool) -> None:
    monkeypatch.setenv("GDLAB_THREADS", threads)
    net = _net(bias)
    W0 = net.random_params(rng=np.random.default_rng(32), size=(3, 8))
    eta = np.geomspace(0.01, 40.0, 24).reshape(3, 8)  # the largest steps diverge
    assert len(threaded_runs._blocks(24)) == min(int(threads), 4)
    for options in (dict(record_every=7), dict(record_at=[0, 5, 60], keep_params=False), dict(check_every=4)):
        ref = descent.run(net, W0, eta, 60, **options)
        got = threaded_runs.run(net, W0, eta, 60, **options)
        _same(got, ref)
    assert ref.diverged.any() and not ref.diverged.all()


def test_threaded_run_falls_back_to_descent_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GDLAB_THREADS", "2")

    def no_split(*args, **kwargs):
        raise AssertionError("the batch was split across threads")

    monkeypatch.setattr(threaded_runs, "_in_threads", no_split)  # the fall-backs below must not split
    q = Quadratic(np.diag([1.0, 0.3]))  # not _runs_independent: one batched call
    w0 = np.ones((12, 2))
    _same(threaded_runs.run(q, w0, 0.5, 10), descent.run(q, w0, 0.5, 10))
    net = _net(); W0 = net.random_params(rng=np.random.default_rng(33), size=(12,))
    a = threaded_runs.run(net, W0, 0.05, 30, until_loss=0.5)            # a stop shared by the batch
    b = descent.run(net, W0, 0.05, 30, until_loss=0.5)
    _same(a, b); np.testing.assert_array_equal(a.reached_at, b.reached_at)
    with pytest.raises(ValueError, match="step_size"):
        threaded_runs.run(net, W0, np.ones(5), 3)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_threaded_steps_to_loss_equals_descent_run(monkeypatch: pytest.MonkeyPatch, threads: str) -> None:
    monkeypatch.setenv("GDLAB_THREADS", threads)
    net = _net()
    W0 = net.random_params(rng=np.random.default_rng(34), size=(2, 9))
    eta = np.geomspace(0.005, 60.0, 18).reshape(2, 9)
    level = 1e-2 * 0.5 * np.sum(net.Y**2)
    ref = descent.run(net, W0, eta, 400, until_loss=level, record_at=[0], keep_params=False,
                      blowup=float(np.finfo(np.float64).max)).reached_at
    blocks: list[int] = []
    real = threaded_runs._in_threads
    monkeypatch.setattr(threaded_runs, "_in_threads", lambda work, b: blocks.append(len(b)) or real(work, b))
    got = lazy.steps_to_loss(net, W0, eta, level, 400)
    assert blocks == ([] if threads == "1" else [int(threads)])  # the 18 runs dealt to the threads
    np.testing.assert_array_equal(got, ref)
    assert np.isinf(got).sum() >= 2 and np.isfinite(got).sum() >= 6, got


def test_thread_count_reads_gdlab_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GDLAB_THREADS", "3")
    assert threaded_runs.thread_count() == 3
    monkeypatch.setenv("GDLAB_THREADS", "1")
    assert len(threaded_runs._blocks(100)) == 1
    for bad in ("0", "two"):
        monkeypatch.setenv("GDLAB_THREADS", bad)
        with pytest.raises(ValueError, match="GDLAB_THREADS"):
            threaded_runs.thread_count()
    monkeypatch.delenv("GDLAB_THREADS")
    assert threaded_runs.thread_count() >= 1
    parts, blocks = threaded_runs.map_blocks(lambda idx: idx.copy(), 7)
    np.testing.assert_array_equal(threaded_runs.join_blocks(parts, blocks), np.arange(7))
    monkeypatch.setenv("GDLAB_THREADS", "2")
    parts, blocks = threaded_runs.map_blocks(lambda idx: np.stack([idx, -idx]), 13)
    assert len(blocks) == 2
    np.testing.assert_array_equal(threaded_runs.join_blocks(parts, blocks, axis=1), np.stack([np.arange(13), -np.arange(13)]))


def test_threads_only_for_enough_work_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch is split only when each thread gets MIN_WORK_PER_THREAD of work per step (samples x
    parameters x runs): chapter 7's synthetic network (16 samples, 784 parameters) stays on one thread
    with 24 runs, its digits network (32 samples, 3,104 parameters) gets two."""
    monkeypatch.undo()
    monkeypatch.setenv("GDLAB_THREADS", "2")
    rng = np.random.default_rng(35)
    small = MLP(rng.standard_normal((32, 16)), np.ones((1, 16)), (32, 16, 16, 1))
    large = MLP(rng.standard_normal((64, 32)), np.ones((1, 32)), (64, 32, 32, 1))
    assert threaded_runs.work_per_step(small) == 16 * 784 and threaded_runs.work_per_step(large) == 32 * 3104
    assert len(threaded_runs._blocks(24, threaded_runs.work_per_step(small))) == 1
    assert len(threaded_runs._blocks(24, threaded_runs.work_per_step(large))) == 2
    assert len(threaded_runs._blocks(24)) == 2, "without a work estimate only the runs count"

    def no_split(*args, **kwargs):
        raise AssertionError("a small network's batch was split across threads")

    monkeypatch.setattr(threaded_runs, "_in_threads", no_split)
    W0 = small.random_params(rng=np.random.default_rng(36), size=(24,))
    _same(threaded_runs.run(small, W0, 0.01, 5), descent.run(small, W0, 0.01, 5))


def test_map_runs_joins_several_outputs_in_order_under_the_callers_error_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """map_runs deals 10 runs to 3 threads (round-robin blocks), joins outputs of different trailing shapes
    in the runs' order, and each worker runs under the caller's numpy error state."""
    monkeypatch.setenv("GDLAB_THREADS", "3")
    monkeypatch.setattr(threaded_runs, "MIN_RUNS_PER_THREAD", 2)
    x = np.arange(10.0)
    seen: list[dict] = []

    def work(runs):
        seen.append(np.geterr())
        assert not isinstance(runs, slice) and len(runs) < 10
        return x[runs], np.stack([x[runs], -x[runs]], axis=-1), np.full(len(runs), len(runs))

    with np.errstate(all="ignore"):
        a, b, n = threaded_runs.map_runs(work, 10)
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, np.stack([x, -x], axis=-1))
    assert sorted(set(n.tolist())) == [3, 4] and len(seen) == 3
    assert all(err == {"divide": "ignore", "over": "ignore", "under": "ignore", "invalid": "ignore"} for err in seen)
    monkeypatch.setenv("GDLAB_THREADS", "1")  # one block: the whole batch as slice(None), no copy
    assert threaded_runs.map_runs(lambda runs: (x[runs],), 10)[0].base is x
