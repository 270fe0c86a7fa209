"""Chapter 3, "Non-linear networks": full-batch GD on MLPs with thousands of parameters, on digits.

Run it with ``make experiments`` (or ``.venv/bin/python experiments/ch3_mlp_digits.py``). It writes
``chapters/data/ch3_mlp_digits.npz``: every number chapter 3 shows about these networks, and the
provenance of the run (the parameters ``CONFIG``, gdlab's version, SHA-256 hashes of this script and
of the gdlab sources it uses). The chapter reads that file and re-runs a few of the stored runs live
(a short prefix) to check that they reproduce; ``tests/test_experiments.py`` does the same.

What it computes, per activation (``tanh`` and ``softplus``, the smooth ReLU), with the values of
``CONFIG``:

1. The data: a seeded subset of ``n_images`` of scikit-learn's 1,797 digit images (all ten digits),
   pixels standardised, target the parity (``gdlab.data.digits_parity``); an MLP with ``widths`` and
   no biases, squared loss (a sum over images).
2. The prediction: GD from ``n_init`` random initialisations at the small step
   ``small_factor * 2 / median sharpness(init)`` for ``small_steps`` steps, with the sharpness
   (Lanczos) at ``n_small_checks`` checkpoints; ``eta_pred = 2 / min`` of the final sharpnesses.
3. The sweep: GD from the same initialisations for ``n_eta`` step sizes, ``eta / eta_pred`` geometric
   in ``grid``, for ``steps`` steps, loss and gradient norm at every step (:func:`gd_records`, the
   iterates of ``gdlab.descent.run``). Stored: the asymptotic gradient norm (mean over the last
   ``tail`` steps), the loss and gradient norm at :func:`checkpoints`, the number of steps at which the
   loss went up and the first such step, and the sharpness at the last iterate (Lanczos).

Parallelism: the step sizes are cut into ``N_CHUNKS`` chunks (a fixed number: the Lanczos start
vectors are drawn per batch, so the chunks must not depend on the machine), run by ``--workers``
processes (default: every core), each with one BLAS thread. GD itself does not depend on which runs
share a batch (``tests/test_experiments.py`` checks this), so the file is the same for any number of
workers. Run time on the shared two-core machine: see the chapter.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per worker process
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import gdlab  # noqa: E402
from gdlab import data  # noqa: E402
from gdlab.curvature import sharpness  # noqa: E402
from gdlab.descent import run  # noqa: E402
from gdlab.objectives import MLP  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "chapters" / "data" / "ch3_mlp_digits.npz"

CONFIG = dict(
    seed=20261128,            # one seed: data subset, then initialisations (in that order)
    n_images=512,             # images drawn from the 1,797 (all ten digits), parity targets
    widths=(64, 32, 1),       # 64 pixels -> 32 hidden units -> 1 output, no biases: 2,080 parameters
    activations=("tanh", "softplus"),
    n_init=5,                 # random initialisations (MLP.random_params, gain 1)
    small_factor=0.3,         # small step = small_factor * 2 / median sharpness at initialisation
    small_steps=12_000,       # steps of the small-step runs
    n_small_checks=7,         # sharpness checkpoints along them (0 and 6 evenly spaced)
    grid=(0.5, 6.0),          # eta / eta_pred, smallest and largest
    n_eta=48,                 # step sizes, geometric (neighbours 5.4% apart)
    steps=3000,               # GD steps of every sweep run
    tail=100,                 # asymptotic gradient norm: mean over the last `tail` steps
    prefix=200,               # the chapter and the tests re-run this many steps live
    lanczos_tol=1e-9,         # relative tolerance of every sharpness
)

N_CHUNKS = 4  # chunks of step sizes (see the module docstring)

# gdlab sources this script's numbers depend on (hashed into the provenance record)
SOURCES = ("objectives/mlp.py", "objectives/base.py", "objectives/_layout.py", "descent.py",
           "curvature.py", "data.py", "_checks.py")


def checkpoints(steps: int, prefix: int) -> np.ndarray:
    """Iteration numbers stored for every run: every step up to 10, then about 12 per decade."""
    pts = np.unique(np.round(np.geomspace(1, steps, 49)).astype(np.int64))
    pts = np.union1d(np.union1d(np.arange(11), pts), [prefix, steps])
    return pts[pts <= steps]


def problem(activation: str, cfg: dict = CONFIG) -> tuple[MLP, np.ndarray]:
    """The network on its data and the ``(n_init, n_params)`` initialisations, from ``cfg['seed']``."""
    rng = np.random.default_rng(cfg["seed"])
    X, Y = data.digits_parity(cfg["n_images"], rng=rng)
    net = MLP(X, Y, tuple(cfg["widths"]), activation=activation)
    return net, net.random_params(rng, size=(cfg["n_init"],))


def sharpnesses(net: MLP, w: np.ndarray, tol: float) -> np.ndarray:
    """Lanczos sharpness of each row of ``w`` (``(..., n_params)``), NaN where not finite."""
    flat = w.reshape(-1, net.n_params)
    out = np.full(flat.shape[0], np.nan)
    ok = np.all(np.isfinite(flat), axis=1)
    if ok.any():
        out[ok] = sharpness(net, flat[ok], method="lanczos", tol=tol)
    return out.reshape(w.shape[:-1])


def gd_records(net: MLP, w0: np.ndarray, etas: np.ndarray, steps: int, blowup: float = 1e8):
    """GD ``w <- w - eta grad f(w)`` from ``w0`` ``(..., n_params)`` with steps ``etas`` ``(...,)``.

    The iterates of :func:`gdlab.descent.run` bit for bit (same update, same divergence policy with
    ``check_every=1``: a run that leaves ``|w_i| < blowup`` is flagged and its later records are NaN),
    with the loss and gradient norm of every step from one forward pass
    (:meth:`gdlab.objectives.MLP.loss_and_grad`); diverged runs are dropped from the computation.
    Returns ``(loss, grad_norm, final, diverged)``, the first two of shape ``(steps + 1, ...)``.
    """
    batch = np.shape(w0)[:-1]
    w = np.array(w0, dtype=np.float64).reshape(-1, np.shape(w0)[-1])  # the runs still alive
    eta = np.broadcast_to(np.asarray(etas, dtype=np.float64), batch).reshape(-1, 1)
    alive = np.arange(w.shape[0])
    loss = np.full((steps + 1, w.shape[0]), np.nan)
    norm = np.full_like(loss, np.nan)
    final = np.full(w.shape, np.nan)
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            f, g = net.loss_and_grad(w)
            loss[t, alive] = f
            norm[t, alive] = np.sqrt(np.einsum("...i,...i->...", g, g))
            if t == steps:
                break
            w = w - eta * g
            ok = np.all(np.isfinite(w) & (np.abs(w) < blowup), axis=-1)
            if not ok.all():  # diverged: dropped (a run's arithmetic does not depend on the batch)
                w, eta, alive = w[ok], eta[ok], alive[ok]
    final[alive] = w
    diverged = np.ones(final.shape[0], dtype=bool)
    diverged[alive] = False
    shape = (steps + 1,) + batch
    return (loss.reshape(shape), norm.reshape(shape), final.reshape(batch + final.shape[-1:]),
            diverged.reshape(batch))


def small_step_runs(activation: str, cfg: dict = CONFIG) -> dict:
    """Step 2 of the module docstring: the small-step runs and the predicted critical step size."""
    net, w0 = problem(activation, cfg)
    tol = cfg["lanczos_tol"]
    lam0 = sharpnesses(net, w0, tol)
    eta0 = cfg["small_factor"] * 2.0 / float(np.median(lam0))
    steps = cfg["small_steps"]
    ck = np.linspace(0, steps, cfg["n_small_checks"]).round().astype(np.int64)
    w, seg, sharp, loss, gn = w0, np.diff(ck), [lam0], [], []
    for k, n_steps in enumerate(np.concatenate([[0], seg])):
        if n_steps:
            f, g, w, div = gd_records(net, w, np.full(w.shape[:-1], eta0), int(n_steps))
            if div.any():
                raise RuntimeError(f"{activation}: a small-step run diverged; lower small_factor")
            sharp.append(sharpnesses(net, w, tol))
        f, g = net.loss_and_grad(w)
        loss.append(f)
        gn.append(np.linalg.norm(g, axis=-1))
    sharp = np.array(sharp)
    return dict(small_step=eta0, small_checks=ck, small_sharpness=sharp,
                small_loss=np.array(loss), small_grad_norm=np.array(gn),
                eta_pred=2.0 / sharp[-1].min(), eta_pred_median=2.0 / np.median(sharp[-1]))


def sweep_chunk(activation: str, etas: np.ndarray, cfg: dict = CONFIG) -> dict:
    """Step 3 of the module docstring for the step sizes ``etas`` (all initialisations)."""
    net, w0 = problem(activation, cfg)
    steps, tail = cfg["steps"], cfg["tail"]
    inits = np.broadcast_to(w0, (etas.size,) + w0.shape)
    loss, gn, final, diverged = gd_records(net, inits, np.repeat(etas[:, None], w0.shape[0], 1), steps)
    with np.errstate(invalid="ignore"):
        up = loss[1:] > loss[:-1] * (1 + 1e-12)            # the loss went up at step t -> t + 1
    ck = checkpoints(steps, cfg["prefix"])
    return dict(grad_norm=gn[-tail:].mean(axis=0), loss_ck=loss[ck], grad_norm_ck=gn[ck],
                n_up=up.sum(axis=0), first_up=np.where(up.any(axis=0), np.argmax(up, axis=0) + 1, -1),
                final_sharpness=sharpnesses(net, final, cfg["lanczos_tol"]), diverged=diverged)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


SCRIPT_SHA256 = file_sha256(Path(__file__).resolve())  # read once, at start: the code that runs


def provenance(cfg: dict = CONFIG) -> dict:
    """Parameters, versions and source hashes: what the results file must be reproducible from."""
    import platform

    src = Path(gdlab.__file__).resolve().parent
    return dict(config={k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
                gdlab_version=gdlab.__version__, numpy_version=np.__version__,
                python=platform.python_version(), machine=platform.machine(),
                script="experiments/ch3_mlp_digits.py",
                script_sha256=SCRIPT_SHA256,
                gdlab_sources_sha256={name: file_sha256(src / name) for name in SOURCES},
                regenerate="make experiments")


def compute(cfg: dict = CONFIG, workers: int = 1) -> dict[str, np.ndarray]:
    """Every stored array, keyed ``<activation>/<name>``; the work is spread over ``workers`` processes."""
    out: dict[str, np.ndarray] = {"checkpoints": checkpoints(cfg["steps"], cfg["prefix"])}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        small = {a: pool.submit(small_step_runs, a, cfg) for a in cfg["activations"]}
        chunks = {}
        for a in cfg["activations"]:
            pred = small[a].result()
            etas = pred["eta_pred"] * np.geomspace(*cfg["grid"], cfg["n_eta"])
            out.update({f"{a}/{k}": np.asarray(v) for k, v in pred.items()})
            out[f"{a}/step_sizes"] = etas
            parts = np.array_split(np.arange(etas.size), N_CHUNKS)
            chunks[a] = [pool.submit(sweep_chunk, a, etas[p], cfg) for p in parts if p.size]
        for a, futures in chunks.items():
            results = [f.result() for f in futures]
            for key in results[0]:
                axis = 1 if key.endswith("_ck") else 0
                out[f"{a}/{key}"] = np.concatenate([r[key] for r in results], axis=axis)
    return out


def main() -> None:  # pragma: no cover - run by `make experiments`
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    t0 = time.perf_counter()
    arrays = compute(CONFIG, args.workers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, provenance=np.array(json.dumps(provenance(), sort_keys=True)), **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - t0:.0f} s "
          f"with {args.workers} worker(s)")
    for a in CONFIG["activations"]:
        print(f"  {a}: eta_pred = {arrays[a + '/eta_pred']:.6g}")


if __name__ == "__main__":
    main()
