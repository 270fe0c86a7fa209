"""Per-chapter execution times of a strict book build, as ratios to the fixed numpy reference workload.

Runs ``jupyter-book build . --all -W -n --keep-going`` in a checkout (default: this one) after emptying
its ``_build`` (so every chapter executes), times the reference workload of ``bench_sweep.py`` just
before and just after the build (the machine's load changes; the mean of the two is the time unit),
and reads each chapter's execution time from the build's execution cache (``_build/.jupyter_cache``).
``--cold`` also removes the compiled kernels (``code/src/gdlab/kernels/__pycache__`` and
``~/.cache/numba``), so the build pays the first compile.

    .venv/bin/python benchmarks/build_times.py [--root CHECKOUT] [--cold] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def chapter_seconds(build: pathlib.Path) -> dict[str, float]:
    """``{chapter: execution seconds}`` from a build's jupyter-cache database."""
    from jupyter_cache import get_cache

    out = {}
    for rec in get_cache(str(build / ".jupyter_cache")).list_cache_records():
        out[pathlib.Path(rec.uri).stem] = float(rec.data.get("execution_seconds", float("nan")))
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=pathlib.Path, default=HERE.parent)
    ap.add_argument("--cold", action="store_true", help="also remove the compiled kernels before the build")
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args(argv)
    from bench_sweep import reference_workload

    root = args.root.resolve()
    shutil.rmtree(root / "_build", ignore_errors=True)
    if args.cold:
        shutil.rmtree(root / "code/src/gdlab/kernels/__pycache__", ignore_errors=True)
        shutil.rmtree(pathlib.Path.home() / ".cache/numba", ignore_errors=True)
    ref_before = reference_workload()
    jb = pathlib.Path(sys.executable).with_name("jupyter-book")
    t0 = time.perf_counter()
    proc = subprocess.run([str(jb), "build", ".", "--all", "-W", "-n", "--keep-going"], cwd=root,
                          capture_output=True, text=True, env=os.environ)
    build_s = time.perf_counter() - t0
    ref_after = reference_workload()
    ref = 0.5 * (ref_before + ref_after)
    secs = chapter_seconds(root / "_build")
    report = {"root": str(root), "cold": args.cold, "build_ok": proc.returncode == 0, "build_seconds": build_s,
              "reference_seconds_before": ref_before, "reference_seconds_after": ref_after,
              "chapters": {k: {"seconds": v, "ratio_to_reference": v / ref} for k, v in secs.items()},
              "total_seconds": sum(secs.values()), "total_ratio": sum(secs.values()) / ref}
    print(f"reference workload {ref_before:.2f} s before, {ref_after:.2f} s after; build {build_s:.0f} s, "
          f"exit {proc.returncode}")
    for k, v in report["chapters"].items():
        print(f"  {k:28s} {v['seconds']:6.1f} s  {v['ratio_to_reference']:6.1f} x reference")
    print(f"  {'total':28s} {report['total_seconds']:6.1f} s  {report['total_ratio']:6.1f} x reference")
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
