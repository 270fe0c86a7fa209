"""Benchmark of gdlab.descent.sweep against a straightforward per-trajectory Python loop.

Work: the depth-3 scalar network f(w) = ½(w₁w₂w₃ − 1)², a grid of 400 step sizes × 256
initialisations (102,400 runs), 10,000 GD steps each, with the sweep's bookkeeping (divergence
checks every 100 steps, mean gradient norm over the last 100 steps).

The sweep is timed twice: as used (runs that reach an exact fixed point of the floating-point GD
map are retired early, which changes no result) and with ``retire_fixed_points=False`` (every
step of every run computed). Baselines, measured in the same process right after the sweeps:
  * "loop (objective.grad)": for each run, a Python ``for`` loop over the steps calling the same
    ``DeepScalarLinear.grad`` on a (3,) vector, the way one would write it without vectorising;
  * "loop (pure floats)": the fastest naive loop, hand-written scalar arithmetic on Python floats.
Both are timed on a subset of runs (``--subset``, ``--subset-floats``, spread over the grid) for the full number of steps
and extrapolated linearly to all runs; the subset's results are checked against the sweep's
(bit-for-bit for the objective.grad loop).

Usage:  python benchmarks/bench_sweep.py [--steps 10000] [--n-eta 400] [--n-init 256] [--subset 16]
                                        [--subset-floats 256] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from gdlab.descent import sweep
from gdlab.objectives import DeepScalarLinear


def loop_objective_grad(f: DeepScalarLinear, w0: np.ndarray, eta: float, steps: int, tail: int, blowup: float) -> tuple[np.ndarray, float, bool]:
    """One run, one Python iteration per step, numpy on a (3,) vector."""
    w = w0.copy()
    norm_sum = 0.0
    with np.errstate(all="ignore"):
        for t in range(steps):
            g = f.grad(w)
            if t >= steps - tail:
                norm_sum += float(np.sqrt(g @ g))
            w = w - eta * g
            if not np.all(np.abs(w) < blowup):
                return w, np.nan, True
    return w, norm_sum / tail, False


def loop_pure_floats(w0: np.ndarray, eta: float, steps: int, tail: int, blowup: float, y: float = 1.0) -> tuple[list[float], float, bool]:
    """One run of the depth-3 network in plain Python float arithmetic (same operation order)."""
    a, b, c = (float(x) for x in w0)
    norm_sum = 0.0
    try:
        for t in range(steps):
            p = a * b
            r = p * c - y
            g0, g1, g2 = r * (c * b), r * (a * c), r * p
            if t >= steps - tail:
                norm_sum += (g0 * g0 + g1 * g1 + g2 * g2) ** 0.5
            a, b, c = a - eta * g0, b - eta * g1, c - eta * g2
            if not (abs(a) < blowup and abs(b) < blowup and abs(c) < blowup):
                return [a, b, c], float("nan"), True
    except OverflowError:
        return [a, b, c], float("nan"), True
    return [a, b, c], norm_sum / tail, False


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--n-eta", type=int, default=400)
    ap.add_argument("--n-init", type=int, default=256)
    ap.add_argument("--subset", type=int, default=16, help="runs timed with the objective.grad loop, then extrapolated")
    ap.add_argument("--subset-floats", type=int, default=256, help="runs timed with the pure-float loop, then extrapolated")
    ap.add_argument("--json", type=str, default=None, help="also write the numbers to this file")
    args = ap.parse_args(argv)

    f = DeepScalarLinear(3, target=1.0)
    rng = np.random.default_rng(20261123)
    etas = np.linspace(0.02, 1.0, args.n_eta)  # critical step size 2/3 inside the range
    inits = rng.uniform(0.2, 1.8, (args.n_init, 3))
    tail, blowup = min(100, args.steps), 1e8
    runs = args.n_eta * args.n_init

    t0 = time.perf_counter()
    res = sweep(f, etas, inits, args.steps, tail=tail, blowup=blowup)
    t_sweep = time.perf_counter() - t0
    # the same sweep without retiring runs at exact floating-point fixed points (every step computed)
    t0 = time.perf_counter()
    res_all = sweep(f, etas, inits, args.steps, tail=tail, blowup=blowup, retire_fixed_points=False)
    t_sweep_all = time.perf_counter() - t0
    ok = ~res.diverged
    assert np.array_equal(res.diverged, res_all.diverged)
    assert np.array_equal(res.final_params[ok], res_all.final_params[ok])

    def spread(k: int) -> list[tuple[int, int]]:
        """``k`` runs spread evenly over the grid (deterministic)."""
        flat = np.linspace(0, runs - 1, k).astype(int)
        return [(int(i) // args.n_init, int(i) % args.n_init) for i in flat]

    k, k_py = min(args.subset, runs), min(args.subset_floats, runs)
    pairs, pairs_py = spread(k), spread(k_py)
    t0 = time.perf_counter()
    out_np = [loop_objective_grad(f, inits[j], float(etas[i]), args.steps, tail, blowup) for i, j in pairs]
    t_loop_np = (time.perf_counter() - t0) / k * runs
    t0 = time.perf_counter()
    out_py = [loop_pure_floats(inits[j], float(etas[i]), args.steps, tail, blowup) for i, j in pairs_py]
    t_loop_py = (time.perf_counter() - t0) / k_py * runs

    # the loops compute the same thing as the sweep
    for (i, j), (w, gn, div) in zip(pairs, out_np):
        assert div == res.diverged[i, j]
        if not div:
            assert np.array_equal(w, res.final_params[i, j]), "objective.grad loop differs from sweep"
            assert abs(gn - res.grad_norm[i, j]) <= 1e-12 * max(1.0, gn)
    for (i, j), (w, gn, div) in zip(pairs_py, out_py):
        if not div and not res.diverged[i, j]:
            assert np.allclose(w, res.final_params[i, j], rtol=1e-9, atol=1e-12)
            assert abs(gn - res.grad_norm[i, j]) <= 1e-9 * max(1.0, gn)

    report = {
        "work": f"{args.n_eta} step sizes x {args.n_init} inits x {args.steps} steps, DeepScalarLinear(3)",
        "runs": runs,
        "sweep_seconds": t_sweep,
        "loop_objective_grad_subset_runs": k,
        "loop_pure_floats_subset_runs": k_py,
        "loop_objective_grad_seconds_extrapolated": t_loop_np,
        "loop_pure_floats_seconds_extrapolated": t_loop_py,
        "speedup_vs_loop_objective_grad": t_loop_np / t_sweep,
        "speedup_vs_loop_pure_floats": t_loop_py / t_sweep,
        "sweep_every_step_seconds": t_sweep_all,
        "speedup_every_step_vs_loop_objective_grad": t_loop_np / t_sweep_all,
        "speedup_every_step_vs_loop_pure_floats": t_loop_py / t_sweep_all,
        "diverged_fraction": float(res.diverged.mean()),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(f"work: {report['work']} ({runs:,} runs)")
    print(f"sweep:                     {t_sweep:8.2f} s  (runs at exact fixed points retired early; identical results)")
    print(f"sweep, every step:         {t_sweep_all:8.2f} s  (retire_fixed_points=False)")
    print(f"loop, objective.grad:      {t_loop_np:8.0f} s  (timed on {k} runs, extrapolated)  ratio {report['speedup_vs_loop_objective_grad']:.0f}x")
    print(f"loop, pure Python floats:  {t_loop_py:8.0f} s  (timed on {k_py} runs, extrapolated)  ratio {report['speedup_vs_loop_pure_floats']:.0f}x")
    print(f"ratios with every step computed: {report['speedup_every_step_vs_loop_objective_grad']:.0f}x and "
          f"{report['speedup_every_step_vs_loop_pure_floats']:.0f}x")
    print(f"diverged fraction {report['diverged_fraction']:.3f}; cpus {report['cpu_count']}; 1-min load average {report['load_average_1min']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
