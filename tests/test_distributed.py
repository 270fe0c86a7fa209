"""sweep(..., client=...) on a dask.distributed LocalCluster gives the in-process result."""
from __future__ import annotations

import numpy as np
import pytest

from gdlab import kernels
from gdlab.descent import sweep
from gdlab.objectives import DeepScalarLinear, Polynomial1D

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'gdlab[distributed]')")

FIELDS = ("grad_norm", "final_loss", "final_params", "diverged", "last_params")


@pytest.fixture(scope="module")
def client():
    # two workers in this process (in-process transport, no network); a real scheduler is reached
    # the same way with Client("tcp://host:8786")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def assert_identical(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"cluster != in-process in {name}")


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_sweep_on_local_cluster_equals_in_process(client, engine: str) -> None:
    if engine == "numba" and not kernels.available():
        pytest.skip("numba is not installed")
    f = DeepScalarLinear(3, target=1.0)
    rng = np.random.default_rng(20261123)
    etas, inits = np.linspace(0.05, 1.0, 24), rng.uniform(0.2, 1.8, (40, 3))
    here = sweep(f, etas, inits, 800, engine=engine)
    there = sweep(f, etas, inits, 800, engine=engine, client=client, chunk_size=97)   # 10 tasks
    assert_identical(there, here)
    assert here.diverged.any() and here.converged().any()


def test_objective_without_kernel_runs_on_the_cluster(client) -> None:
    f = Polynomial1D([0.0, 0.0, -0.5, 0.0, 0.25])
    etas, inits = np.array([0.3, 0.9, 1.1, 2.5]), np.array([[0.5], [1.7], [-0.2]])
    assert_identical(sweep(f, etas, inits, 300, client=client, chunk_size=5), sweep(f, etas, inits, 300))
