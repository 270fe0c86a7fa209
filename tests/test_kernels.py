"""The compiled sweep kernels (gdlab.kernels) against the numpy reference of gdlab.descent.sweep.

DeepScalarLinear and LinearNetwork: bit for bit. MLP: to rounding, checked over horizons short
enough that rounding differences are not amplified by unstable directions (a one-ulp change of the
initialisation moves the numpy reference itself by more over long horizons near saddles).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from gdlab import data, descent, kernels
from gdlab.descent import sweep
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Polynomial1D, Quadratic

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")

FIELDS = ("grad_norm", "final_loss", "final_params", "diverged", "last_params")


def both(f, etas, inits, steps, **kw):
    return sweep(f, etas, inits, steps, engine="numba", **kw), sweep(f, etas, inits, steps, engine="numpy", **kw)


def assert_identical(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"kernel != numpy in {name}")


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize("retire", [True, False])
def test_deep_scalar_kernel_is_bit_for_bit(depth: int, retire: bool) -> None:
    rng = np.random.default_rng(depth)
    f = DeepScalarLinear(depth, target=1.3)
    etas = (2 / f.min_sharpness()) * np.linspace(0.05, 1.6, 23)     # converging, 2-cycles, chaos, divergence
    inits = rng.uniform(0.1, 1.9, (17, depth))
    a, b = both(f, etas, inits, 700, tail=40, check_every=25, keep_last=3, retire_fixed_points=retire)
    assert_identical(a, b)
    assert a.diverged.any() and (~a.diverged).any(), "the grid must hold diverging and surviving runs"
    assert a.converged().any(), "the grid must hold converging runs"


@pytest.mark.parametrize("steps, check_every, tail, keep_last", [(200, 10, 50, 2), (57, 5, 57, 58), (12, 3, 1, 0), (40, 1, 7, 1)])
def test_deep_scalar_kernel_bookkeeping_edge_cases(steps, check_every, tail, keep_last) -> None:
    f = DeepScalarLinear(3, target=1.0)
    rng = np.random.default_rng(7)
    etas = np.array([0.05, 0.3, 0.66, 0.7, 1.0, 5.0])
    inits = np.vstack([rng.uniform(0.5, 1.5, (5, 3)), np.ones((1, 3))])   # w = (1, 1, 1) is a minimiser
    a, b = both(f, etas, inits, steps, tail=tail, check_every=check_every, keep_last=keep_last)
    assert_identical(a, b)


def test_retired_fixed_points_save_work_and_change_nothing() -> None:
    f = DeepScalarLinear(2, target=1.0)
    rng = np.random.default_rng(0)
    etas, inits = np.linspace(0.1, 0.6, 12), rng.uniform(0.6, 1.4, (16, 2))
    _, work_retire = kernels.block_stats(f, etas, inits, 3000, retire=True)
    _, work_all = kernels.block_stats(f, etas, inits, 3000, retire=False)
    assert work_all.sum() == etas.size * inits.shape[0] * 3000, "without retirement every run-step is computed"
    assert work_retire.sum() < 0.5 * work_all.sum(), "runs at exact fixed points must be retired early"
    a, b = both(f, etas, inits, 3000)
    assert_identical(a, b)


def _linear_grid(widths, rng, seed_x=1):
    X = data.general_covariance_inputs(widths[0], 8, rng=seed_x, condition=4.0)
    f = LinearNetwork(X, rng.standard_normal((widths[-1], 8)), widths)
    eta_star = 2 / np.linalg.eigvalsh(f.hessian(0.7 * rng.standard_normal(f.n_params))).max()
    etas = eta_star * np.array([0.05, 0.3, 0.9, 1.5, 3.0, 40.0])     # converging ... diverging
    inits = np.vstack([0.7 * rng.standard_normal((37, f.n_params)), np.zeros((1, f.n_params))])
    return f, etas, inits


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 2), (3, 2, 5, 3, 2)])
@pytest.mark.parametrize("retire", [True, False])
def test_linear_network_unrolled_kernel_is_bit_for_bit(widths, retire: bool) -> None:
    """The generated kernels (depths 1, 2 and 4: every branch of the generator) against the numpy reference,
    over a horizon where runs converge, oscillate and diverge; 38 runs per step size (not a multiple of a
    tile of 32: padded lanes)."""
    from gdlab.kernels import _linear

    assert _linear.specialised(widths)
    rng = np.random.default_rng(sum(widths))
    f, etas, inits = _linear_grid(widths, rng)
    a, b = both(f, etas, inits, 600, tail=30, check_every=20, keep_last=3, retire_fixed_points=retire)
    assert_identical(a, b)
    assert a.diverged.any() and (~a.diverged).any(), "the grid must hold diverging and surviving runs"


@pytest.mark.parametrize("steps, check_every, tail, keep_last", [(57, 5, 57, 58), (12, 3, 1, 0), (40, 1, 7, 1)])
def test_linear_network_kernel_bookkeeping_edge_cases(steps, check_every, tail, keep_last) -> None:
    rng = np.random.default_rng(3)
    f, etas, inits = _linear_grid((3, 3, 3), rng)
    a, b = both(f, etas, inits, steps, tail=tail, check_every=check_every, keep_last=keep_last)
    assert_identical(a, b)


def test_linear_network_generic_kernel_is_bit_for_bit() -> None:
    """Widths beyond the unrolled kernels run on the generic run-major kernel, also bit for bit."""
    from gdlab.kernels import _linear

    rng = np.random.default_rng(11)
    for widths in [(3, _linear.MAX_WIDTH + 1, 2), (2, 3, 3, 3, 3, 2)]:
        assert not _linear.specialised(widths)
        f, etas, inits = _linear_grid(widths, rng)
        a, b = both(f, etas, inits, 200, tail=10, check_every=7)
        assert_identical(a, b)
        assert a.diverged.any() and (~a.diverged).any()


def test_linear_network_unrolled_source_is_ordered_sums() -> None:
    """The generated step forms G = P Sigma - C as the ordered sum of the einsum of the reference."""
    from gdlab.kernels import _linear

    src = _linear.source((2, 2))
    assert "G0_0 = (x0 * sig0_0 + x1 * sig1_0) - crs0_0" in src
    with pytest.raises(ValueError, match="no specialised kernel"):
        _linear.source((2, _linear.MAX_WIDTH + 1, 1))


@pytest.mark.parametrize("activation", MLP.ACTIVATIONS)
@pytest.mark.parametrize("bias", [False, True])
def test_mlp_kernel_agrees_to_rounding(activation: str, bias: bool) -> None:
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((3, 7)), rng.standard_normal((2, 7))
    for widths in [(3, 2), (3, 5, 2), (3, 4, 6, 2)]:
        f = MLP(X, Y, widths, activation, bias=bias)
        inits = f.random_params(rng, size=(5,))
        etas = np.array([1e-3, 1e-2, 5e-2, 1e3])
        a, b = both(f, etas, inits, 25, tail=5, check_every=5)
        np.testing.assert_array_equal(a.diverged[:-1], b.diverged[:-1])
        ok = ~(a.diverged | b.diverged)
        ok[-1] = False                                                  # huge step: saturated or diverged either way
        np.testing.assert_allclose(a.final_params[ok], b.final_params[ok], rtol=1e-10, atol=1e-12,
                                   err_msg=f"MLP{widths} {activation} bias={bias}: kernel and numpy differ")
        np.testing.assert_allclose(a.grad_norm[ok], b.grad_norm[ok], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(a.final_loss[ok], b.final_loss[ok], rtol=1e-10, atol=1e-14)


def test_mlp_one_step_equals_gradient() -> None:
    rng = np.random.default_rng(9)
    X, Y = rng.standard_normal((4, 6)), rng.standard_normal((1, 6))
    f = MLP(X, Y, (4, 3, 3, 1), "tanh", bias=True)
    w0 = f.random_params(rng, size=(4,))
    a = sweep(f, [0.1], w0, 1, tail=1, keep_last=0, engine="numba")
    np.testing.assert_allclose(a.final_params[0], w0 - 0.1 * f.grad(w0), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(a.grad_norm[0], np.linalg.norm(f.grad(w0), axis=-1), rtol=1e-13)


def test_blocks_run_on_concurrent_threads() -> None:
    """``run_blocks`` runs blocks at the same time on ``numba.get_num_threads()`` threads: two stand-in
    blocks that each wait for the other (a barrier) can only both finish if they run concurrently."""
    import threading

    import numba

    if numba.get_num_threads() < 2:
        pytest.skip("numba has a single thread on this machine")
    barrier = threading.Barrier(2, timeout=60)

    def block(b: int, nb: int) -> int:
        barrier.wait()  # BrokenBarrierError after 60 s if the other block of the pair never runs alongside
        return 10 * b + nb

    thread, work = np.full(4, -1), np.zeros(4, dtype=np.int64)
    kernels.run_blocks(block, 4, thread, work)
    assert work.tolist() == [4, 14, 24, 34]
    assert sorted(set(thread.tolist())) == [0, 1], "two threads, numbered from 0"


def test_compiled_blocks_release_the_gil() -> None:
    """The compiled block functions (generic and generated LinearNetwork kernels) are ``nogil``, so the
    threads of ``run_blocks`` compute in parallel; every block of a sweep runs."""
    from gdlab.kernels import _compiled, _linear

    assert _compiled._run_block.targetoptions.get("nogil") is True
    assert _linear.load((2, 2, 2)).__globals__["_run_block"].targetoptions.get("nogil") is True
    f = DeepScalarLinear(3)
    threads, work = kernels.block_stats(f, np.linspace(0.1, 0.5, 8), np.full((64, 3), 0.9), 2000, block=4)
    assert threads.min() >= 0 and work.min() > 0, "every block must have run"


def test_chunked_and_progress_paths_give_identical_results() -> None:
    f = DeepScalarLinear(3)
    rng = np.random.default_rng(2)
    etas, inits = np.linspace(0.1, 0.9, 9), rng.uniform(0.5, 1.5, (11, 3))
    ref = sweep(f, etas, inits, 300, engine="numba")
    assert_identical(sweep(f, etas, inits, 300, engine="numba", chunk_size=7), ref)
    assert_identical(sweep(f, etas, inits, 300, engine="numba", progress=True), ref)
    assert_identical(sweep(f, etas, inits, 300, engine="numpy", progress=True), ref)


def test_engine_choice() -> None:
    f = DeepScalarLinear(3)
    assert descent._resolve_engine(f, "auto", 10**9) == "numba"
    assert descent._resolve_engine(f, "auto", 10) == "numpy", "tiny sweeps stay on numpy (kernel load time)"
    assert descent._resolve_engine(Quadratic(np.eye(2)), "auto", 10**9) == "numpy"
    X = np.eye(2)
    assert descent._resolve_engine(LinearNetwork(X, X, (2, 2)), "auto", 10**9) == "numba", "unrolled: bit for bit"
    wide = LinearNetwork(np.eye(8), np.eye(8), (8, 8))
    assert descent._resolve_engine(wide, "auto", 10**9) == "numpy", "the generic matrix kernel is opt-in"
    assert descent._resolve_engine(LinearNetwork(X, X, (2, 2)), "numba", 10) == "numba"
    assert descent._resolve_engine(MLP(X, X, (2, 3, 2)), "auto", 10**9) == "numpy", "the MLP kernel is opt-in"
    assert descent._resolve_engine(f, "numpy", 10**9) == "numpy"
    with pytest.raises(ValueError, match="engine"):
        sweep(f, [0.1], np.ones((1, 3)), 10, tail=1, engine="jax")
    with pytest.raises(ValueError, match="no kernel for Polynomial1D"):
        sweep(Polynomial1D([0, 0, 1]), [0.1], np.ones((1, 1)), 10, tail=1, engine="numba")


def test_auto_engine_loads_a_kernel_once_the_work_pays_for_it(monkeypatch) -> None:
    """Cold: a kernel is loaded once the process's numpy sweeps reach AUTO_KERNEL_WORK; warm: from
    AUTO_KERNEL_WORK_WARM on. Results are the same either way (the auto kernels are bit for bit)."""
    f = DeepScalarLinear(4, target=1.0)
    monkeypatch.setattr(kernels, "_LOADED", set())
    monkeypatch.setattr(descent, "_numpy_auto_work", 0)
    cold, warm = descent.AUTO_KERNEL_WORK, descent.AUTO_KERNEL_WORK_WARM
    assert warm < cold
    assert descent._resolve_engine(f, "auto", cold - 1) == "numpy"
    assert descent._resolve_engine(f, "auto", cold) == "numba"
    monkeypatch.setattr(descent, "_numpy_auto_work", cold // 2)
    assert descent._resolve_engine(f, "auto", cold // 2) == "numba", "numpy work already done counts"
    monkeypatch.setattr(descent, "_numpy_auto_work", 0)
    res = sweep(f, [0.1], np.full((5, 4), 0.9), 100, tail=10)            # 2e3 updates: numpy, counted
    assert descent._numpy_auto_work == 5 * 100 * 4
    assert not kernels.loaded(f)
    ref = sweep(f, [0.1], np.full((5, 4), 0.9), 100, tail=10, engine="numba")
    assert kernels.loaded(f), "a kernel that ran is loaded"
    assert descent._resolve_engine(f, "auto", warm) == "numba"
    assert descent._resolve_engine(f, "auto", warm - 1) == "numpy"
    assert_identical(res, ref)


def test_importing_gdlab_loads_no_heavy_dependency() -> None:
    import subprocess
    import sys

    code = ("import sys, gdlab, gdlab.pl_criterion, gdlab.phase_transition, gdlab.manifold, gdlab.tubular_runs, gdlab.interval_maps, gdlab.kernels; "
            "print(sorted(m for m in ('scipy', 'sympy', 'sklearn', 'matplotlib', 'numba', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import gdlab loaded {out}: these must be imported lazily, where used"


def test_environment_variable_selects_the_reference_engine(monkeypatch) -> None:
    f = DeepScalarLinear(3)
    monkeypatch.setenv("GDLAB_SWEEP_ENGINE", "numpy")
    assert descent._resolve_engine(f, "auto", 10**9) == "numpy"
    assert descent._resolve_engine(f, "numba", 10**9) == "numba", "an explicit engine wins over the variable"
    monkeypatch.setenv("GDLAB_SWEEP_ENGINE", "fortran")
    with pytest.raises(ValueError, match="GDLAB_SWEEP_ENGINE"):
        descent._resolve_engine(f, "auto", 10**9)


def test_each_model_kind_compiles_its_own_kernel(tmp_path) -> None:
    """``_compiled._run_block`` is specialised on the literal model kind, so a first (cold) deep-scalar sweep
    compiles only the deep-scalar gradient (``_compiled._grad_of_kind``), not the MLP's and linear
    network's (about half of the cold compile), and it is compiled once: one signature, with the block
    index an int64 (the blocks run in Python threads, ``kernels.run_blocks``; numba's ``prange`` loop
    compiled the block code a second time)."""
    import subprocess
    import sys

    code = """
import numpy as np
from gdlab.descent import sweep
from gdlab.kernels import _compiled
from gdlab.objectives import DeepScalarLinear
sweep(DeepScalarLinear(3, 1.0), [0.1, 0.5], np.full((2, 3), 0.9), 200, engine="numba")
print([(str(sig[0]), str(sig[2])) for sig in _compiled._run_block.signatures])
"""
    # a cold compile (an empty numba cache: a warm one loads _run_block without compiling it)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "[('int64', 'Literal[int](0)')]", out
