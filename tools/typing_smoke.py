"""Typical uses of gdlab's public API, for a type checker (not run by ``make test``).

Usage (mypy is not a dependency of the book; install it anywhere)::

    MYPYPATH=code/src mypy --follow-imports=silent --ignore-missing-imports tools/typing_smoke.py

``--follow-imports=silent`` checks this file against gdlab's signatures (as a user's code would be
checked, gdlab ships ``py.typed``) without reporting inside gdlab's function bodies.
"""
from __future__ import annotations

import numpy as np

import gdlab
from gdlab import curvature, data, descent, dynamics, initialisation, manifold, statistics, tangent_kernel
from gdlab import interval_maps, phase_transition, pl_criterion, tubular_runs
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Objective, Polynomial1D, Quadratic, ScalarFactorisation

version: str = gdlab.__version__
f: Objective = DeepScalarLinear(3, 1.0)
q = Quadratic([[1.0, 0.0], [0.0, 2.0]], center=[0, 0])
p = Polynomial1D([0, 0, 1])
X = data.whitened_inputs(2, 4, rng=0)
Y = data.teacher_targets(X, k=1, rng=1, noise=0.0)
net = LinearNetwork(X, Y, (2, 3, 1))
mlp = MLP(X, Y, (2, 3, 1), activation="tanh", bias=True)

loss: np.ndarray = f.loss(np.ones(3))
g: np.ndarray = f.grad([1.0, 1.0, 1.0])
hv: np.ndarray = q.hvp(np.ones((5, 2)), [1.0, 0.0])
eta_star: float = descent.critical_step_size(f)
traj: descent.Trajectory = descent.run(f, np.ones((4, 3)), 0.1, 100, record_at=[0, 50, 100], check_every=10)
res: descent.SweepResult = descent.sweep(f, [0.1, 0.2], np.ones((3, 3)), 200, tail=10)
lam: np.ndarray = curvature.sharpness(net, net.balanced_minimiser(), method="dense")
pair: curvature.EigenPair = curvature.top_eigenpair(q, np.zeros(2), method="power", tol=1e-12)
fit = dynamics.fit_linear_rate(traj.grad_norm[:, 0], steps=traj.steps)
classes: dynamics.RunClasses = dynamics.classify_runs(f, res)
orbits: interval_maps.OrbitDiagram = interval_maps.orbit_diagram(p, [0.5, 1.5], [0.3], transient=100, keep=8)
est: pl_criterion.AlphaEstimate = pl_criterion.estimate_alpha(q, [1.0, 1.0], 0.5, rng=None)
cert: pl_criterion.Certificate = pl_criterion.certify(0.5, 2.0, 4.0, 2.0)
w0 = initialisation.positive_init(MLP(np.eye(3), np.ones((1, 3)), (3, 2, 1)), 10.0, rng=3, spread=0.1)
theta = tangent_kernel.tangent_kernel(MLP(np.eye(3), np.ones((1, 3)), (3, 2, 1)), w0)
prob: statistics.ProbabilityEstimate = statistics.event_probability(np.zeros(10, dtype=bool))
sharp_m: np.ndarray = manifold.minimiser_sharpness(np.ones(3), 1.0)
sf: Objective = ScalarFactorisation(3, 1.0)
scalar: tubular_runs.ScalarRun = tubular_runs.scalar_gd(np.ones((2, 3)) * 1.1, [0.1, 0.2], 1.0, 100, record=[0, 100])
tube: tubular_runs.TubularTrace = tubular_runs.tubular_trace(scalar)
onset: phase_transition.BalancedOnset = phase_transition.balanced_onset(3, 1.0)
