"""Mutation smoke check: does the test suite notice small planted bugs? (Not part of ``make test``.)

Usage::

    .venv/bin/python tools/mutation_smoke.py           # every mutation
    .venv/bin/python tools/mutation_smoke.py 0 3 7     # only these (indices into MUTATIONS)
    .venv/bin/python tools/mutation_smoke.py --list

For each mutation in ``MUTATIONS`` (module, exact source text, replacement, tests that should catch it):
copy ``code/src`` to a temporary directory, apply the one-line change there (the working tree is never
modified), and run ``pytest -x -q -n 0`` on the listed tests with that copy first on ``PYTHONPATH``.
A mutant is *killed* when the tests fail and *survives* when they pass. A mutation whose source text is
no longer found exactly once is reported as *stale* (update the list after a refactoring).
Exit status 0 when every mutant is killed, 1 otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "code" / "src"

# (module path under gdlab/, original text, mutated text, test files)
MUTATIONS: list[tuple[str, str, str, list[str]]] = [
    # the four mutants that survived the suite in issue 10
    ("objectives/polynomial.py", "return float(self.d2(mins).min())", "return float(self.d2(mins).max())", ["tests/test_objectives.py"]),
    ("dynamics.py", "/ (n - 2) / sxx)", "/ (n - 1) / sxx)", ["tests/test_dynamics.py"]),
    ("phase_transition.py", "cov = (resid @ resid / (n - 3))", "cov = (resid @ resid / (n - 2))", ["tests/test_phase_transition.py"]),
    ("phase_transition.py", "t = (frac[i - 1] - level) / (frac[i - 1] - frac[i])", "t = 0.5", ["tests/test_phase_transition.py"]),
    # closed forms
    ("objectives/scalar_network.py", "return float(L * y ** (2.0 - 2.0 / L))", "return float(L * y ** (2.0 - 1.0 / L))", ["tests/test_objectives.py"]),
    ("objectives/linear_network.py", "s1 ** (2.0 - 2.0 / self.depth))", "s1 ** (2.0 - 1.0 / self.depth))", ["tests/test_objectives.py"]),
    ("manifold.py", "return y**2 * np.sum(x**-2.0, axis=-1)", "return y**2 * np.sum(x**-1.0, axis=-1)", ["tests/test_manifold.py"]),
    # derivatives
    ("objectives/quadratic.py", 'return 0.5 * np.einsum("...i,ij,...j->...", d, self.A, d)', 'return 1.0 * np.einsum("...i,ij,...j->...", d, self.A, d)', ["tests/test_objective_conformance.py"]),
    ("objectives/mlp.py", "(s, d1, d1 * (1.0 - d1))", "(s, d1, d1 * (1.0 + d1))", ["tests/test_objective_conformance.py"]),
    # engines
    ("curvature.py", "shift = radius[..., None]", "shift = 0.0 * radius[..., None]", ["tests/test_curvature.py"]),
    ("descent.py", "                state = state - eta * g", "                state = state + eta * g", ["tests/test_descent.py"]),
    ("descent.py", "                g *= eta\n                state -= g", "                g *= eta\n                state += g", ["tests/test_descent.py"]),
    # the one GD engine: scalar_gd's operation order and the domain part of run's divergence policy
    ("objectives/scalar_network.py", "return step_size * (prod - self.target) * (prod / w)",
     "return step_size * ((prod - self.target) * (prod / w))", ["tests/test_tubular_runs.py"]),
    ("descent.py", "return bad if outside is None else bad | outside", "return bad", ["tests/test_descent.py"]),
    ("interval_maps.py", "log_stretch += np.log(np.abs(1.0 - eta", "log_stretch += np.log(np.abs(1.0 + eta", ["tests/test_interval_maps.py"]),
    ("initialisation.py", "omega_star = r + ynorm / (r * c * np.sqrt(lam * m1))", "omega_star = r + ynorm / (c * np.sqrt(lam * m1))", ["tests/test_initialisation.py"]),
    ("descent.py", "grad_norm=norm_sum.reshape(n_eta, n_init) / tail * nan_out", "grad_norm=norm_sum.reshape(n_eta, n_init) / (tail + 1) * nan_out", ["tests/test_descent.py"]),
    ("dynamics.py", "close(c, a) & ~close(d, c)", "close(c, a)", ["tests/test_dynamics.py"]),
    # criterion and statistics
    ("pl_criterion.py", "eta_max = 2.0 / beta * (1.0 - flow / radius)", "eta_max = 1.0 / beta * (1.0 - flow / radius)", ["tests/test_pl_criterion.py"]),
    ("statistics.py", "centre = (p + zf**2 / (2 * N))", "centre = (p + zf**2 / N)", ["tests/test_statistics.py"]),
    # argument checks
    ("_checks.py", "np.all(np.isfinite(arr)) or np.any(arr <= 0):", "np.all(np.isfinite(arr)) or np.any(arr < 0):", ["tests/test_checks.py"]),
]


def run_one(index: int) -> tuple[str, float]:
    module, old, new, tests = MUTATIONS[index]
    with tempfile.TemporaryDirectory(prefix="gdlab-mutant-") as tmp:
        dst = Path(tmp) / "src"
        shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        path = dst / "gdlab" / module
        text = path.read_text()
        if text.count(old) != 1:
            return "stale", 0.0
        path.write_text(text.replace(old, new))
        env = dict(os.environ, PYTHONPATH=str(dst) + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONDONTWRITEBYTECODE="1")
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *tests]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    return ("killed" if proc.returncode != 0 else "SURVIVED"), elapsed


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for i, (module, old, new, tests) in enumerate(MUTATIONS):
            print(f"{i:2d} {module}: {old!r} -> {new!r}  [{' '.join(tests)}]")
        return 0
    chosen = [int(a) for a in argv] or list(range(len(MUTATIONS)))
    survivors = []
    for i in chosen:
        module, old, new, _ = MUTATIONS[i]
        status, seconds = run_one(i)
        print(f"{i:2d} {status:8s} {seconds:6.1f}s  {module}: {old!r} -> {new!r}", flush=True)
        if status != "killed":
            survivors.append(i)
    print(f"{len(chosen) - len(survivors)}/{len(chosen)} mutants killed" + (f"; not killed: {survivors}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
