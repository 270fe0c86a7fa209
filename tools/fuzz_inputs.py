"""Fuzz gdlab's public functions with invalid inputs and valid edge cases (not part of ``make test``).

Usage::

    .venv/bin/python tools/fuzz_inputs.py            # the installed gdlab
    PYTHONPATH=/path/to/other/code/src .venv/bin/python tools/fuzz_inputs.py   # another checkout
    .venv/bin/python tools/fuzz_inputs.py -v         # list every failing case

Every case is one call. An **invalid** case passes when the call raises ``ValueError`` or ``TypeError``
whose message names the argument (and nothing else escapes: no other exception, no warning, no silent
result). A **valid** case passes when the call returns without an exception or a warning. Warnings are
turned into errors (as ``pytest.ini`` does for ``RuntimeWarning``), so a leaked overflow warning or a
``ComplexWarning`` counts as a failure. Prints the two fractions.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

from gdlab import curvature, data, descent, dynamics, manifold, initialisation, statistics
from gdlab import interval_maps, phase_transition, pl_criterion, tubular_runs
from gdlab.objectives import MLP, DeepScalarLinear, LinearNetwork, Polynomial1D, Quadratic, ScalarFactorisation

Q = Quadratic(np.diag([1.0, 4.0]))
D3 = DeepScalarLinear(3)
P4 = Polynomial1D([0.25, 0, -0.5, 0, 0.25])
X = data.whitened_inputs(2, 4, rng=0)
Y = data.teacher_targets(X, 1, rng=1)
LN = LinearNetwork(X, Y, (2, 3, 1))
NET = MLP(np.eye(3), np.ones((1, 3)), (3, 2, 2, 1))
SW = descent.sweep(D3, [0.1], np.ones((2, 3)) * 1.1, steps=200, tail=10)
G = np.random.default_rng(0)

# (argument the error must name, call)
INVALID = [
    # objectives: construction
    ("A", lambda: Quadratic([[1, 2], [3, 4]])),
    ("A", lambda: Quadratic([[1j, 0], [0, 1]])),
    ("A", lambda: Quadratic("eye")),
    ("A", lambda: Quadratic([[np.nan]])),
    ("center", lambda: Quadratic(np.eye(2), center=[1, 2, 3])),
    ("depth", lambda: DeepScalarLinear(0)),
    ("depth", lambda: DeepScalarLinear(2.5)),
    ("target", lambda: DeepScalarLinear(2, np.nan)),
    ("target", lambda: DeepScalarLinear(2, "one")),
    ("target", lambda: DeepScalarLinear(2, 1 + 1j)),
    ("coeffs", lambda: Polynomial1D([1])),
    ("coeffs", lambda: Polynomial1D([1, np.inf])),
    ("coeffs", lambda: Polynomial1D([1, 1j])),
    ("widths", lambda: LinearNetwork(X, Y, (2, 0, 1))),
    ("widths", lambda: LinearNetwork(X, Y, 3)),
    ("Y", lambda: LinearNetwork(X, Y[:, :3], (2, 3, 1))),
    ("activation", lambda: MLP(np.eye(3), np.ones((1, 3)), (3, 2, 1), activation="relu")),
    # objectives: evaluation
    ("w", lambda: Q.loss([1, 2, 3])),
    ("w", lambda: Q.grad("ab")),
    ("w", lambda: Q.grad([1j, 2])),
    ("w", lambda: Q.loss(None)),
    ("v", lambda: Q.hvp([1, 2], [1, 2, 3])),
    ("v", lambda: Q.hvp(np.ones((3, 2)), np.ones((4, 2)))),
    ("v", lambda: D3.hvp(np.ones((3, 3)), np.ones((4, 3)))),
    ("v", lambda: LN.hvp(np.ones((3, LN.n_params)), np.ones((4, LN.n_params)))),
    ("v", lambda: NET.hvp(np.ones((3, NET.n_params)), np.ones((4, NET.n_params)))),
    ("v", lambda: P4.hvp(np.ones((3, 1)), np.ones((4, 1)))),
    ("w", lambda: D3.grad(np.ones(2))),
    ("w", lambda: LN.grad(np.ones(LN.n_params + 1))),
    ("w", lambda: NET.loss(np.ones(NET.n_params - 1))),
    ("w", lambda: P4.hessian([1j])),
    ("rng", lambda: NET.random_params(rng="seed")),
    ("gain", lambda: NET.random_params(gain=-1.0)),
    ("rng", lambda: LN.random_minimiser(rng=1.5)),
    ("spread", lambda: LN.random_minimiser(spread=np.nan)),
    # descent
    ("step_size", lambda: descent.gd_map(Q, [1, 1], 0.0)),
    ("step_size", lambda: descent.gd_map(Q, [1, 1], -0.1)),
    ("step_size", lambda: descent.gd_map(Q, [1, 1], np.nan)),
    ("step_size", lambda: descent.gd_map(Q, [1, 1], 1j)),
    ("step_size", lambda: descent.gd_map(Q, [1, 1], "0.1")),
    ("w", lambda: descent.gd_map(Q, [1, 1, 1], 0.1)),
    ("steps", lambda: descent.run(Q, [1, 1], 0.1, -1)),
    ("steps", lambda: descent.run(Q, [1, 1], 0.1, 2.5)),
    ("blowup", lambda: descent.run(Q, [1, 1], 0.1, 3, blowup=0)),
    ("record_every", lambda: descent.run(Q, [1, 1], 0.1, 3, record_every=0)),
    ("w0", lambda: descent.run(Q, [1, np.nan], 0.1, 3)),
    ("w0", lambda: descent.run(Q, [1j, 1], 0.1, 3)),
    ("sharpness_at", lambda: descent.run(Q, [1, 1], 0.1, 3, sharpness_at=[5])),
    ("sharpness_method", lambda: descent.run(Q, [1, 1], 0.1, 3, sharpness_every=1, sharpness_method="qr")),
    ("step_sizes", lambda: descent.sweep(D3, [0.1, -0.1], np.ones((2, 3)), 10, tail=5)),
    ("step_sizes", lambda: descent.sweep(D3, [[0.1]], np.ones((2, 3)), 10, tail=5)),
    ("inits", lambda: descent.sweep(D3, [0.1], np.ones((2, 2)), 10, tail=5)),
    ("inits", lambda: descent.sweep(D3, [0.1], [[1, np.inf, 1]], 10, tail=5)),
    ("tail", lambda: descent.sweep(D3, [0.1], np.ones((2, 3)), 10, tail=20)),
    ("blowup", lambda: descent.sweep(D3, [0.1], np.ones((2, 3)), 10, tail=5, blowup=-1)),
    ("chunk_size", lambda: descent.sweep(D3, [0.1], np.ones((2, 3)), 10, tail=5, chunk_size=0)),
    ("objective", lambda: descent.critical_step_size("not an objective")),
    # curvature
    ("method", lambda: curvature.sharpness(Q, [1, 1], method="qr")),
    ("tol", lambda: curvature.sharpness(Q, [1, 1], tol=-1)),
    ("iters", lambda: curvature.sharpness(Q, [1, 1], iters=0, method="power")),
    ("v0", lambda: curvature.top_eigenpair(Q, [1, 1], v0=[1, 2, 3], method="power")),
    ("w", lambda: curvature.sharpness(Q, "w")),
    # pl_criterion
    ("center", lambda: pl_criterion.sample_ball([], 1.0, 3, G)),
    ("radius", lambda: pl_criterion.sample_ball([0, 0], 0.0, 3, G)),
    ("n", lambda: pl_criterion.sample_ball([0, 0], 1.0, 0, G)),
    ("rng", lambda: pl_criterion.sample_ball([0, 0], 1.0, 3, "rng")),
    ("radius", lambda: pl_criterion.estimate_alpha(Q, [1, 1], np.nan, G)),
    ("x0", lambda: pl_criterion.estimate_alpha(Q, [1, np.inf], 1.0, G)),
    ("loss_floor", lambda: pl_criterion.pl_ratio(Q, [1, 1], loss_floor=-1.0)),
    ("loss_floor", lambda: pl_criterion.pl_ratio(Q, [1, 1], loss_floor="x")),
    ("iters", lambda: pl_criterion.hessian_norm(Q, [1, 1], G, iters=0)),
    ("f0", lambda: pl_criterion.certify(-1.0, 1.0, 1.0, 1.0)),
    ("f0", lambda: pl_criterion.certify("a", 1.0, 1.0, 1.0)),
    ("alpha", lambda: pl_criterion.certify(1.0, np.nan, 1.0, 1.0)),
    ("beta", lambda: pl_criterion.certify(1.0, 1.0, 0.0, 1.0)),
    ("radius", lambda: pl_criterion.certify(1.0, 1.0, 1.0, np.inf)),
    ("alpha", lambda: pl_criterion.lzb_radius(1.0, np.nan, 1.0)),
    ("beta", lambda: pl_criterion.lzb_radius(1.0, 1.0, np.nan)),
    ("f0", lambda: pl_criterion.lzb_radius(-1.0, 1.0, 1.0)),
    ("output_scale", lambda: initialisation.positive_init(NET, 0.0)),
    ("spread", lambda: initialisation.positive_init(NET, 1.0, rng=G, spread=1.5)),
    ("net", lambda: initialisation.glorot_init(Q, G)),
    ("rng", lambda: initialisation.glorot_init(NET, "seed")),
    ("size", lambda: initialisation.he_init(NET, G, size=(-1,))),
    ("events", lambda: statistics.event_probability(np.zeros(3))),
    ("z", lambda: statistics.event_probability(np.zeros(3, bool), z=0)),
    ("num", lambda: pl_criterion.rational_min([1j, 1], [1], 0, 1)),
    ("step_size", lambda: pl_criterion.certify(0.5, 2.0, 4.0, 2.0).gd_rate(-1.0)),
    # data
    ("d", lambda: data.whitened_inputs(0, 3)),
    ("n", lambda: data.whitened_inputs(3, 2)),
    ("rng", lambda: data.whitened_inputs(2, 3, rng="x")),
    ("condition", lambda: data.covariance_with_condition(3, 0.5)),
    ("condition", lambda: data.covariance_with_condition(3, np.nan)),
    ("covariance", lambda: data.general_covariance_inputs(2, 3, covariance=[[1, 2], [2, 1]])),
    ("scale", lambda: data.teacher_targets(X, scale=np.nan)),
    ("scale", lambda: data.teacher_targets(X, scale=-1.0)),
    ("noise", lambda: data.teacher_targets(X, noise=-0.1)),
    ("noise", lambda: data.teacher_targets(X, noise="loud")),
    ("rank", lambda: data.teacher_targets(X, k=2, rank=3)),
    ("X", lambda: data.teacher_targets([1, 2, 3])),
    ("classes", lambda: data.digits_subset(5, classes=(1, 1))),
    ("scaling", lambda: data.digits_subset(5, scaling="max")),
    # dynamics
    ("values", lambda: dynamics.fit_linear_rate([1.0])),
    ("window", lambda: dynamics.fit_linear_rate([1.0, 0.5, 0.25], window=(0, 1))),
    ("steps", lambda: dynamics.fit_power_law([1.0, 0.5, 0.25])),
    ("traj", lambda: dynamics.detect_period_two(np.ones((3, 2)))),
    ("traj", lambda: dynamics.detect_period_two("abcd")),
    ("rtol", lambda: dynamics.detect_period_two(np.ones((5, 2)), rtol=-1.0)),
    ("atol", lambda: dynamics.detect_period_two(np.ones((5, 2)), atol=np.nan)),
    ("grad_tol", lambda: dynamics.classify_runs(D3, SW, grad_tol=0.0)),
    # interval_maps
    ("objective", lambda: interval_maps.orbit_diagram(Q, [0.1], [1.0])),
    ("step_sizes", lambda: interval_maps.orbit_diagram(P4, [0.0], [1.0])),
    ("inits", lambda: interval_maps.orbit_diagram(P4, [0.1], [np.nan])),
    ("keep", lambda: interval_maps.orbit_diagram(P4, [0.1], [1.0], keep=0)),
    ("blowup", lambda: interval_maps.orbit_diagram(P4, [0.1], [1.0], blowup=0)),
    ("points", lambda: interval_maps.least_period(np.ones(3), max_period=4)),
    ("tol", lambda: interval_maps.least_period(np.ones(8), max_period=2, tol=-1)),
    ("points", lambda: interval_maps.least_period("abcdefgh", max_period=2)),
    # tubular_runs
    ("blowup", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, blowup=0)),
    ("blowup", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, blowup=-5)),
    ("step_size", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.0, 1.0, 10)),
    ("w0", lambda: tubular_runs.scalar_gd([1.0, np.nan], 0.1, 1.0, 10)),
    ("target", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, np.nan, 10)),
    ("target", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, [1.0, 2.0], 10)),
    ("record", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, record=[11])),
    ("record", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, record=[1.5])),
    ("record", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, record=[])),
    ("record", lambda: tubular_runs.scalar_gd([1.0, 1.0], 0.1, 1.0, 10, record="ab")),
    ("w0", lambda: tubular_runs.scalar_gd([1.0, 0.0], 0.1, 1.0, 10)),
    ("w0", lambda: descent.run(ScalarFactorisation(2), [1.0, np.inf], 0.1, 5)),
    ("depth", lambda: ScalarFactorisation(0)),
    ("steps", lambda: tubular_runs.record_schedule(0)),
    ("run", lambda: tubular_runs.tubular_trace("run")),
    ("directions", lambda: tubular_runs.initial_points(np.ones(3), 0.1, 0.0, 1.0)),
    # manifold
    ("target", lambda: manifold.minimiser_sharpness([1.0, 1.0], 0.0)),
    ("x", lambda: manifold.minimiser_sharpness([1.0, -1.0], 1.0)),
    ("x", lambda: manifold.normal([1.0])),
    ("theta", lambda: manifold.project([1.0, np.nan], 1.0)),
    ("grid", lambda: manifold.project([1.0, 2.0], 1.0, grid=1)),
    ("length", lambda: manifold.geodesic([1.0, 1.0], [1.0, -1.0], np.inf)),
    ("depth", lambda: manifold.balanced_point(1, 1.0)),
    ("x", lambda: manifold.riemannian_hessian([2.0, 2.0], 1.0)),
    # phase_transition
    ("q", lambda: phase_transition.grad_norm_quantiles(SW, q=[1.5])),
    ("window", lambda: phase_transition.fit_onset([1.1, 1.2, 1.3], [1, 2, 3], 1.0, window=(0.5, 0.1))),
    ("critical_step_size", lambda: phase_transition.fit_onset([1.1, 1.2, 1.3], [1, 2, 3], -1.0)),
    ("grad_norm", lambda: phase_transition.fit_onset([1.1, 1.2, 1.3], [1, 2], 1.0)),
    ("depth", lambda: phase_transition.balanced_onset(1)),
    ("step_size", lambda: phase_transition.predict_critical_step_size(D3, np.ones((2, 3)), 0.0, 10)),
]

VALID = [
    # ints, lists, numpy scalars
    lambda: Quadratic([[1, 0], [0, 2]]).loss([1, 2]),
    lambda: Quadratic(np.eye(2)).grad([[1, 2], [3, 4]]),
    lambda: D3.loss([1, 1, 1]),
    lambda: D3.hvp([1, 2, 3], [1, 0, 0]),
    lambda: P4.grad([2]),
    lambda: DeepScalarLinear(np.int64(3), target=2),
    lambda: descent.gd_map(Q, [1, 1], 1),
    lambda: descent.run(Q, [1, 1], 1, 3),
    lambda: descent.sweep(D3, [1], [[1, 1, 1]], 10, tail=5),
    lambda: descent.run(Q, [1, 1], 0.1, 0),
    lambda: tubular_runs.scalar_gd([[1, 2]], 0.1, 1, 0),
    lambda: tubular_runs.scalar_gd([[1, 2], [2, 1]], [0.1, 0.2], 1, 5, record=(0, np.int64(5))),
    lambda: _expect_shape(tubular_runs.scalar_gd(np.ones((0, 3)), 0.1, 1.0, 5).params, (6, 0, 3)),
    lambda: _expect_shape(descent.run(ScalarFactorisation(3), np.ones((0, 3)), 0.1, 4).loss, (5, 0)),
    lambda: _expect_shape(ScalarFactorisation(2).grad([[0, 1], [2, 3]]), (2, 2)),
    # empty batches
    lambda: Q.loss(np.zeros((0, 2))),
    lambda: Q.hessian(np.zeros((0, 2))),
    lambda: D3.grad(np.zeros((0, 3))),
    lambda: D3.hessian(np.zeros((0, 3))),
    lambda: LN.grad(np.zeros((0, LN.n_params))),
    lambda: LN.hvp(np.zeros((0, LN.n_params)), np.ones(LN.n_params)),
    lambda: LN.hessian(np.zeros((0, LN.n_params))),
    lambda: NET.grad(np.zeros((0, NET.n_params))),
    lambda: NET.hessian(np.zeros((0, NET.n_params))),
    lambda: descent.run(LN, np.zeros((0, LN.n_params)), 0.1, 3),
    lambda: descent.run(NET, np.zeros((0, NET.n_params)), 0.1, 3),
    lambda: curvature.sharpness(Q, np.zeros((0, 2))),
    lambda: pl_criterion.pl_ratio(Q, np.zeros((0, 2))),
    # broadcasting w against v, batched Hessians
    lambda: _expect_shape(Q.hvp(np.ones((5, 2)), [1, 0]), (5, 2)),
    lambda: _expect_shape(Q.hessian(np.ones((5, 2))), (5, 2, 2)),
    lambda: _expect_shape(pl_criterion.hessian_norm(Q, np.ones((5, 2))), (5,)),
    lambda: _expect_shape(P4.hvp(np.ones((4, 1)), [1.0]), (4, 1)),
    # rng as None / int / Generator everywhere
    lambda: pl_criterion.sample_ball([0, 0], 1.0, 3, None),
    lambda: pl_criterion.sample_ball([0, 0], 1.0, 3, 7),
    lambda: pl_criterion.estimate_alpha(Q, [1, 1], 0.5, None, n_samples=8),
    lambda: pl_criterion.estimate_alpha(Q, [1, 1], 0.5, 3, n_samples=8),
    lambda: pl_criterion.estimate_smoothness(Q, [1, 1], 0.5, 3, n_samples=8),
    lambda: pl_criterion.hessian_norm(Q, [1, 1], None),
    lambda: initialisation.glorot_init(NET, None),
    lambda: initialisation.glorot_init(NET, 4),
    lambda: initialisation.he_init(NET, 5, size=(2,)),
    lambda: initialisation.positive_init(NET, 2.0, rng=3, spread=0.1),
    lambda: NET.random_params(rng=None),
    lambda: data.whitened_inputs(2, 3, rng=np.random.default_rng(1)),
    lambda: LN.random_minimiser(rng=2, size=(2,)),
    # tolerances of 0 where 0 is meaningful
    lambda: dynamics.detect_period_two(np.array([0.3, -0.3, 0.3, -0.3]), rtol=0.0, atol=0.0),
    lambda: interval_maps.least_period(np.array([1.0, 2.0, 1.0, 2.0]), max_period=2, tol=0),
    lambda: pl_criterion.pl_ratio(Q, [1, 1], loss_floor=0),
    lambda: data.teacher_targets(X, noise=0),
    lambda: LN.random_minimiser(spread=0.0),
    lambda: initialisation.positive_init(NET, 1.0, spread=0.0),
    # closed forms at the edges
    lambda: _expect(Polynomial1D([0, 0, 1, 0]).min_sharpness() == 2.0),
    lambda: _expect(descent.critical_step_size(Quadratic(np.zeros((2, 2)))) == np.inf),
    lambda: _expect(np.isfinite(curvature.sharpness(Quadratic(-np.eye(3)), np.zeros(3), method="power"))),
    lambda: _expect(np.isfinite(curvature.sharpness(Quadratic(np.zeros((3, 3))), np.zeros(3), method="power"))),
    # huge values: clean inf/NaN, no warning
    lambda: Q.loss([1e200, 1e200]),
    lambda: D3.grad([1e200, 1e200, 1e200]),
    lambda: P4.loss([1e200]),
    lambda: LN.loss(np.full(LN.n_params, 1e200)),
    lambda: NET.grad(np.full(NET.n_params, 1e200)),
    lambda: curvature.sharpness(D3, np.full(3, 1e200)),
    lambda: pl_criterion.hessian_norm(D3, np.full(3, 1e200)),
]


class _Unexpected(AssertionError):
    pass


def _expect(ok: object) -> None:
    if not bool(ok):
        raise _Unexpected("wrong result")


def _expect_shape(arr: object, shape: tuple[int, ...]) -> None:
    if np.shape(arr) != shape:
        raise _Unexpected(f"shape {np.shape(arr)}, expected {shape}")


def check_invalid(name: str, call) -> str | None:
    """``None`` if ``call`` raises a clear error naming ``name``, else a description of what happened."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = call()
    except (ValueError, TypeError) as err:
        if isinstance(err, Warning):
            return f"warning {type(err).__name__}: {err}"
        return None if name in str(err) else f"{type(err).__name__} not naming {name!r}: {err}"
    except Exception as err:  # noqa: BLE001 - the point is to see everything else
        return f"{type(err).__name__}: {err}"
    return f"no error, returned {np.asarray(out).ravel()[:3] if not hasattr(out, '__dataclass_fields__') else type(out).__name__}"


def check_valid(call) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            call()
    except Exception as err:  # noqa: BLE001
        return f"{type(err).__name__}: {err}"
    return None


def main(verbose: bool) -> int:
    bad_inv = [(i, n, check_invalid(n, c)) for i, (n, c) in enumerate(INVALID)]
    bad_inv = [b for b in bad_inv if b[2] is not None]
    bad_val = [(i, check_valid(c)) for i, c in enumerate(VALID)]
    bad_val = [b for b in bad_val if b[1] is not None]
    if verbose:
        for i, n, why in bad_inv:
            print(f"invalid #{i} ({n}): {why}"[:200])
        for i, why in bad_val:
            print(f"valid #{i}: {why}"[:200])
    ok_inv, ok_val = len(INVALID) - len(bad_inv), len(VALID) - len(bad_val)
    print(f"invalid inputs with a clear error naming the argument: {ok_inv}/{len(INVALID)} "
          f"({100 * ok_inv / len(INVALID):.0f}%)")
    print(f"valid edge cases accepted: {ok_val}/{len(VALID)} ({100 * ok_val / len(VALID):.0f}%)")
    return 0 if not (bad_inv or bad_val) else 1


if __name__ == "__main__":
    sys.exit(main("-v" in sys.argv[1:]))
