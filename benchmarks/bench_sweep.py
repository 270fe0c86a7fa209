"""Benchmark of gdlab.descent.sweep (numpy and numba engines) against a JAX peer and a hand-written kernel.

Workload (issue 11): the depth-3 scalar network f(w) = ½(w₁w₂w₃ − 1)², 400 step sizes × 256
initialisations (102,400 runs) × 10,000 GD steps, divergence checks every 100 steps, mean gradient
norm over the last 100 steps. All in one process, back to back:

  * gdlab sweep, engine="numba", as used (runs at exact floating-point fixed points retired early)
    and with every step of every run computed (retire_fixed_points=False);
  * gdlab sweep, engine="numpy" (the reference), the same two ways;
  * JAX: jit + lax.scan over the steps, runs as a (runs, 3) array, x64 (skipped with a message when
    jax is not installed: ``make bench-deps``);
  * a hand-written numba kernel for this one problem (benchmarks/handwritten.py).

Cross-checks (the run fails if one fails): numba engine == numpy engine bit for bit; the
hand-written kernel == the every-step sweep bit for bit (same operations); JAX: same divergence
mask on at least 99% of runs and the same asymptotic gradient norm (rtol 1e-6) on at least 90% of
the surviving runs (XLA may contract a*b + c into a fused multiply-add, so chaotic runs drift apart).

Also measured: the cold compile of the gdlab kernels (a fresh NUMBA_CACHE_DIR in a subprocess) and
the warm load; how time grows with the number of runs and of steps; a fixed numpy reference workload
(``reference_seconds``), and with ``--chapters`` each chapter executed in a fresh kernel, reported as
seconds and as a ratio to the reference workload (machines differ; ratios travel).

Also: per-run Python loops (objective.grad on a (3,) vector; pure Python floats), timed on a subset
of runs and extrapolated, checked against the sweep.

Usage:  python benchmarks/bench_sweep.py [--steps 10000] [--n-eta 400] [--n-init 256] [--subset 16]
            [--subset-floats 256] [--cold-compile] [--scaling] [--chapters] [--out benchmarks/results]
(`make bench` passes --cold-compile --scaling --chapters --out benchmarks/results.)
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from gdlab.descent import sweep  # noqa: E402
from gdlab.objectives import DeepScalarLinear  # noqa: E402


def timed(fn, *args, repeat: int = 1, **kw):
    """(best wall time over ``repeat`` calls, last result)."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, out


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



def reference_workload() -> float:
    """A fixed single-threaded numpy workload (about 0.5 s on the reference machine): the time unit."""
    f = DeepScalarLinear(3, 1.0)
    rng = np.random.default_rng(1)
    etas, inits = np.linspace(0.02, 1.0, 400), rng.uniform(0.2, 1.8, (256, 3))
    t, _ = timed(sweep, f, etas, inits, 2000, engine="numpy", retire_fixed_points=False, repeat=3)
    return t


def jax_sweep_factory(steps: int, tail: int, check_every: int, blowup: float, y: float = 1.0):
    """JAX peer, written as a researcher would: vectorised over runs, lax.scan over steps, jit."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    @jax.jit
    def run(w0, eta):
        def step(carry, t):
            w, acc, alive = carry
            a, b, c = w[:, 0], w[:, 1], w[:, 2]
            p = a * b
            r = p * c - y
            g = jnp.stack([r * (c * b), r * (a * c), r * p], axis=1)
            gn = jnp.sqrt(jnp.sum(g * g, axis=1))
            acc = acc + jnp.where(t >= steps - tail, gn, 0.0)
            w = w - eta[:, None] * g
            check = ((t + 1) % check_every == 0) | (t == steps - 1)
            bad = ~jnp.all(jnp.abs(w) < blowup, axis=1)
            alive = jnp.where(check, alive & ~bad, alive)
            w = jnp.where(alive[:, None], w, 0.0)
            return (w, acc, alive), None

        init = (w0, jnp.zeros(w0.shape[0]), jnp.ones(w0.shape[0], dtype=bool))
        (w, acc, alive), _ = jax.lax.scan(step, init, jnp.arange(steps))
        return w, jnp.where(alive, acc / tail, jnp.nan), ~alive

    def call(etas, inits):
        w0 = np.repeat(inits[None], etas.size, axis=0).reshape(-1, 3)
        eta = np.repeat(etas, inits.shape[0])
        w, gn, div = (np.asarray(x) for x in jax.block_until_ready(run(w0, eta)))
        shape = (etas.size, inits.shape[0])
        return w.reshape(shape + (3,)), gn.reshape(shape), div.reshape(shape)

    return call, jax.__version__


def cold_compile_seconds() -> dict:
    """First-ever kernel compile (empty NUMBA_CACHE_DIR) and a warm load, each in a fresh interpreter."""
    code = ("import time, numpy as np; t0 = time.perf_counter(); from gdlab.descent import sweep; "
            "from gdlab.objectives import DeepScalarLinear; "
            "sweep(DeepScalarLinear(3), [0.1], np.ones((1, 3)), 2, tail=1, engine='numba'); "
            "print(time.perf_counter() - t0)")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold_compile", "warm_load"):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            out[f"{label}_seconds"] = float(res.stdout.strip().splitlines()[-1])
            out[f"{label}_cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def scaling(f, rng) -> dict:
    """Seconds of the numba and numpy engines as the number of runs and of steps grows (every step computed)."""
    out = {"runs": {"n_runs": [], "numba": [], "numpy": [], "steps": 5000},
           "steps": {"n_steps": [], "numba": [], "numpy": [], "runs": 16384}}
    etas_all = np.linspace(0.02, 1.0, 400)
    inits = rng.uniform(0.2, 1.8, (256, 3))
    for n_eta in (16, 64, 128, 256, 400):
        etas = np.linspace(0.02, 1.0, n_eta)
        out["runs"]["n_runs"].append(n_eta * 256)
        for engine in ("numba", "numpy"):
            t, _ = timed(sweep, f, etas, inits, 5000, engine=engine, retire_fixed_points=False, repeat=3)
            out["runs"][engine].append(t)
    etas = etas_all[:: 400 // 64][:64]                                      # 64 x 256 = 16,384 runs
    assert etas.size * inits.shape[0] == out["steps"]["runs"]
    for steps in (2000, 4000, 8000, 16000, 32000):
        out["steps"]["n_steps"].append(steps)
        for engine in ("numba", "numpy"):
            t, _ = timed(sweep, f, etas, inits, steps, tail=100, engine=engine, retire_fixed_points=False, repeat=3)
            out["steps"][engine].append(t)
    return out


def chapter_times(engines: tuple[str, ...] = ("numpy", "auto")) -> tuple[dict, dict]:
    """Each chapter executed in a fresh python3 kernel (nbclient) once per ``GDLAB_SWEEP_ENGINE`` value.

    The kernel is started and stopped as ``make book`` (``tools/execute_chapters.py``) does; a chapter's time
    runs from the kernel's start to its stop.

    The engines alternate chapter by chapter, so a change of the machine's load during the run hits
    both alike. Returns ``({engine: {chapter: seconds}}, {engine: {chapter: glued values}})``; the
    glued values are the text form of every ``glue(...)`` output (figures excluded), to check that
    an engine changes no number.
    """
    import jupytext
    from nbclient import NotebookClient

    times = {e: {} for e in engines}
    glued = {e: {} for e in engines}
    old = os.environ.get("GDLAB_SWEEP_ENGINE")
    try:
        for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md")):
            if "kernelspec:" not in path.read_text(encoding="utf-8")[:2000]:
                continue                                   # a page without code (the preface)
            for engine in engines:
                os.environ["GDLAB_SWEEP_ENGINE"] = engine
                nb = jupytext.read(path)
                t0 = time.perf_counter()
                # stopped as make book's tools/execute_chapters.py stops it: once the last cell has replied
                NotebookClient(nb, timeout=900, kernel_name="python3", shutdown_kernel="immediate",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
                times[engine][path.stem] = time.perf_counter() - t0
                values = {}
                for cell in nb.cells:
                    for out in cell.get("outputs", []):
                        name = out.get("metadata", {}).get("scrapbook", {}).get("name")
                        texts = [v for k, v in out.get("data", {}).items() if k.endswith("text/plain")]
                        if name and texts:
                            values[name] = texts[0]
                glued[engine][path.stem] = values
                print(f"  chapter {path.stem:28s} {times[engine][path.stem]:6.1f} s  (engine {engine})", flush=True)
    finally:
        if old is None:
            os.environ.pop("GDLAB_SWEEP_ENGINE", None)
        else:
            os.environ["GDLAB_SWEEP_ENGINE"] = old
    return times, glued


def figure(report: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gdlab import plotting

    plotting.apply_style()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
    impl = report["implementations"]
    names = [k for k, v in impl.items() if v.get("seconds") is not None]
    secs = [impl[k]["seconds"] for k in names]
    ax0.barh(range(len(names)), secs, color="#0072B2")
    ax0.set_yticks(range(len(names)), [impl[k]["label"] for k in names], fontsize=8)
    ax0.set_xscale("log")
    ax0.set_xlabel("wall time (s, log scale)")
    ax0.invert_yaxis()
    ax0.set_title(f"{report['workload']['runs']:,} runs × {report['workload']['steps']:,} steps")
    sc = report["scaling"]
    for engine, color in (("numba", "#0072B2"), ("numpy", "#D55E00")):
        ax1.loglog(sc["runs"]["n_runs"], sc["runs"][engine], "o-", color=color,
                   label=f"{engine}: runs varied ({sc['runs']['steps']:,} steps)")
        rs = np.asarray(sc["steps"]["n_steps"]) * sc["steps"]["runs"] / sc["runs"]["steps"]
        ax1.loglog(rs, sc["steps"][engine], "s--", color=color,
                   label=f"{engine}: steps varied ({sc['steps']['runs']:,} runs)")
    ax1.set_xlabel(f"work (runs × steps / {sc['runs']['steps']:,})")
    ax1.set_ylabel("wall time (s)")
    ax1.legend(fontsize=7)
    ax1.set_title("time against work (every step computed)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def redraw(folder: pathlib.Path) -> None:
    """Redraw ``bench.png`` from ``bench.json`` (no measurement)."""
    figure(json.loads((folder / "bench.json").read_text()), folder / "bench.png")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--n-eta", type=int, default=400)
    ap.add_argument("--n-init", type=int, default=256)
    ap.add_argument("--subset", type=int, default=16, help="runs timed with a per-run objective.grad loop, then extrapolated")
    ap.add_argument("--subset-floats", type=int, default=256, help="runs timed with a per-run pure-float loop, then extrapolated")
    ap.add_argument("--cold-compile", action="store_true", help="time the first-ever kernel compile (fresh NUMBA_CACHE_DIR)")
    ap.add_argument("--scaling", action="store_true", help="time the engines as runs and steps grow")
    ap.add_argument("--chapters", action="store_true", help="also time every chapter (fresh kernel each)")
    ap.add_argument("--out", type=pathlib.Path, default=None, help="write bench.json (and bench.png) into this folder")
    args = ap.parse_args(argv)
    import numba

    from handwritten import sweep_depth3

    f = DeepScalarLinear(3, target=1.0)
    rng = np.random.default_rng(20261123)
    etas = np.linspace(0.02, 1.0, args.n_eta)  # critical step size 2/3 inside the range
    inits = rng.uniform(0.2, 1.8, (args.n_init, 3))
    steps, tail, check, blowup = args.steps, min(100, args.steps), 100, 1e8
    runs = args.n_eta * args.n_init
    print(f"work: {runs:,} runs x {steps:,} steps of DeepScalarLinear(3); numba threads {numba.get_num_threads()}", flush=True)

    compile_info = None
    if args.cold_compile:
        compile_info = cold_compile_seconds()
        print(f"gdlab kernels: cold compile {compile_info['cold_compile_seconds']:.1f} s "
              f"({compile_info['cold_compile_cpu_seconds']:.1f} s CPU), warm load {compile_info['warm_load_seconds']:.2f} s", flush=True)
    sweep(f, etas[:2], inits[:2], 10, tail=1, engine="numba")      # load the cached kernels
    sweep_depth3(etas[:2], inits[:2], 10, tail=1)                   # compile/load the hand-written kernel
    ref_s = reference_workload()

    impl: dict = {}

    def record(key, label, seconds, note=""):
        impl[key] = {"label": label, "seconds": seconds, "note": note}
        print(f"{label:42s} {seconds:8.2f} s  {note}", flush=True)

    t, res = timed(sweep, f, etas, inits, steps, tail=tail, engine="numba", repeat=3)
    record("gdlab_numba", "gdlab sweep, numba (as used)", t)
    t, res_all = timed(sweep, f, etas, inits, steps, tail=tail, engine="numba", retire_fixed_points=False, repeat=3)
    record("gdlab_numba_every_step", "gdlab sweep, numba, every step", t)
    t, hw = timed(sweep_depth3, etas, inits, steps, tail=tail, check_every=check, blowup=blowup, repeat=3)
    record("handwritten_numba", "hand-written numba kernel, every step", t)
    jax_version = None
    try:
        jax_call, jax_version = jax_sweep_factory(steps, tail, check, blowup)
    except ImportError:
        print("JAX peer skipped: jax is not installed (make bench-deps installs it)", flush=True)
        impl["jax"] = {"label": "JAX jit + lax.scan, every step", "seconds": None, "note": "skipped: jax not installed"}
    if jax_version is not None:
        t0 = time.perf_counter()
        jax_call(etas, inits)
        jax_first = time.perf_counter() - t0
        t, jx = timed(jax_call, etas, inits, repeat=2)
        record("jax", "JAX jit + lax.scan, every step", t, f"(first call with compile {jax_first:.1f} s)")
    t, res_np = timed(sweep, f, etas, inits, steps, tail=tail, engine="numpy")
    record("gdlab_numpy", "gdlab sweep, numpy reference (as used)", t)
    t, res_np_all = timed(sweep, f, etas, inits, steps, tail=tail, engine="numpy", retire_fixed_points=False)
    record("gdlab_numpy_every_step", "gdlab sweep, numpy reference, every step", t)

    # per-run Python loops, timed on a subset spread over the grid and extrapolated
    def spread(k: int) -> list[tuple[int, int]]:
        flat = np.linspace(0, runs - 1, k).astype(int)
        return [(int(i) // args.n_init, int(i) % args.n_init) for i in flat]

    k, k_py = min(args.subset, runs), min(args.subset_floats, runs)
    t0 = time.perf_counter()
    out_np = [(i, j, loop_objective_grad(f, inits[j], float(etas[i]), steps, tail, blowup)) for i, j in spread(k)]
    record("loop_objective_grad", "per-run loop, objective.grad", (time.perf_counter() - t0) / k * runs,
           f"(timed on {k} runs, extrapolated)")
    t0 = time.perf_counter()
    out_py = [(i, j, loop_pure_floats(inits[j], float(etas[i]), steps, tail, blowup)) for i, j in spread(k_py)]
    record("loop_pure_floats", "per-run loop, pure Python floats", (time.perf_counter() - t0) / k_py * runs,
           f"(timed on {k_py} runs, extrapolated)")

    # cross-checks
    for i, j, (w, gn, div) in out_np:
        assert div == res_all.diverged[i, j], "objective.grad loop: divergence differs from the sweep"
        if not div:
            assert np.array_equal(w, res_all.final_params[i, j]), "objective.grad loop differs from the sweep"
    for i, j, (w, gn, div) in out_py:
        if not div and not res_all.diverged[i, j]:
            assert np.allclose(w, res_all.final_params[i, j], rtol=1e-9, atol=1e-12), "pure-float loop differs"
    for a, b, what in ((res, res_np, "as used"), (res_all, res_np_all, "every step")):
        for name in ("grad_norm", "final_params", "diverged", "final_loss"):
            assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), f"numba != numpy ({what}, {name})"
    hw_w, hw_gn, hw_div = hw
    assert np.array_equal(hw_div, res_all.diverged), "hand-written kernel: divergence mask differs from the sweep"
    assert np.array_equal(hw_gn, res_all.grad_norm, equal_nan=True), "hand-written kernel: grad norms differ from the sweep"
    checks = {"numba_equals_numpy_bitwise": True, "handwritten_equals_sweep_every_step_bitwise": True}
    if jax_version is not None:
        _, jgn, jdiv = jx
        agree = float((jdiv == res_all.diverged).mean())
        both = ~jdiv & ~res_all.diverged
        close = float(np.isclose(jgn[both], res_all.grad_norm[both], rtol=1e-6, atol=1e-9).mean())
        assert agree >= 0.99, f"JAX peer: divergence masks agree on only {agree:.3f} of runs"
        assert close >= 0.9, f"JAX peer: asymptotic gradient norms agree (rtol 1e-6) on only {close:.3f} of runs"
        checks.update(jax_divergence_agreement=agree, jax_grad_norm_agreement_rtol_1e6=close)

    s = {k: v["seconds"] for k, v in impl.items()}
    ratios = {
        "speedup_vs_loop_pure_floats": s["loop_pure_floats"] / s["gdlab_numba"],
        "numba_speedup_vs_numpy": s["gdlab_numpy"] / s["gdlab_numba"],
        "numba_every_step_speedup_vs_numpy_every_step": s["gdlab_numpy_every_step"] / s["gdlab_numba_every_step"],
        "sweep_over_handwritten": s["gdlab_numba"] / s["handwritten_numba"],
        "sweep_every_step_over_handwritten": s["gdlab_numba_every_step"] / s["handwritten_numba"],
    }
    if s.get("jax"):
        ratios["jax_over_sweep"] = s["jax"] / s["gdlab_numba"]
        ratios["jax_over_sweep_every_step"] = s["jax"] / s["gdlab_numba_every_step"]
    targets = {"sweep_at_least_2x_faster_than_jax": None if "jax_over_sweep" not in ratios else ratios["jax_over_sweep"] >= 2,
               "sweep_within_2x_of_handwritten": ratios["sweep_over_handwritten"] <= 2}
    for k, v in ratios.items():
        print(f"  ratio {k:48s} {v:6.2f}")
    print(f"  targets: {targets}")

    report = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_1min_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                    "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
                    "numba_threads": numba.get_num_threads(), "jax": jax_version},
        "runs": runs,
        "sweep_seconds": s["gdlab_numba"],
        "workload": {"objective": "DeepScalarLinear(3), y = 1", "n_eta": args.n_eta, "n_init": args.n_init,
                     "runs": runs, "steps": steps, "tail": tail, "check_every": check},
        "implementations": impl,
        "ratios": ratios,
        "targets": targets,
        "cross_checks": checks,
        "kernel_compile": compile_info,
        "reference_seconds": ref_s,
        "diverged_fraction": float(res.diverged.mean()),
    }
    if args.scaling:
        print("scaling ...", flush=True)
        report["scaling"] = scaling(f, np.random.default_rng(7))
    if args.chapters:
        print("chapters (fresh kernel each), alternately on the numpy reference engine and the default engine ...", flush=True)
        times, glued = chapter_times(("numpy", "auto"))
        before, after, glue_before, glue_after = times["numpy"], times["auto"], glued["numpy"], glued["auto"]
        report["chapters"] = {k: {"seconds_numpy_engine": before[k], "seconds": after[k],
                                  "ratio_to_reference": after[k] / ref_s,
                                  "ratio_to_reference_numpy_engine": before[k] / ref_s} for k in after}
        report["chapters_total_seconds"] = sum(after.values())
        report["chapters_total_seconds_numpy_engine"] = sum(before.values())
        changed = {ch: {k: [glue_before[ch].get(k), v] for k, v in glue_after[ch].items() if glue_before[ch].get(k) != v}
                   for ch in glue_after}
        report["glue_changed_by_engine"] = {ch: v for ch, v in changed.items() if v}
        report["glue_values_compared"] = sum(len(v) for v in glue_after.values())
        print(f"glued values compared: {report['glue_values_compared']}; changed: {report['glue_changed_by_engine']}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
        if "scaling" in report:
            figure(report, args.out / "bench.png")
        print(f"wrote {args.out / 'bench.json'}")
    return report


if __name__ == "__main__":
    main()
