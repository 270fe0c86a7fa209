"""Tests of gdlab.pl_criterion: the PL ratio and its estimator, the criterion's certificate and the theorems of
chapter 6 on toy problems (initialisations: test_initialisation.py, kernel: test_tangent_kernel.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gdlab import data, descent, initialisation, pl_criterion as pl
from gdlab.objectives import MLP, DeepScalarLinear, Polynomial1D, Quadratic

XY = DeepScalarLinear(depth=2, target=1.0)  # f = (xy - 1)^2 / 2, ratio = 2 (x^2 + y^2)


def _alpha_xy(z0: np.ndarray, r: float) -> float:
    return 2.0 * max(np.linalg.norm(z0) - r, 0.0) ** 2


# --------------------------------------------------------------------------- ratio and sampling


def test_pl_ratio_quadratic_and_zero_set() -> None:
    q = Quadratic(np.diag([1.0, 4.0]))
    w = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    r = pl.pl_ratio(q, w)
    np.testing.assert_allclose(r[:2], [2.0, 8.0])  # 2 lambda along each eigenvector
    assert np.isnan(r[2])


def test_pl_ratio_xy_identity() -> None:
    z = np.random.default_rng(0).standard_normal((50, 2)) * 2
    np.testing.assert_allclose(pl.pl_ratio(XY, z), 2 * np.sum(z**2, axis=1), rtol=1e-10)


@settings(max_examples=25)
@given(p=st.integers(1, 6), radius=st.floats(0.01, 10.0), seed=st.integers(0, 2**31 - 1))
def test_sample_ball_inside_and_deterministic(p: int, radius: float, seed: int) -> None:
    c = np.arange(p, dtype=float)
    x = pl.sample_ball(c, radius, 40, np.random.default_rng(seed))
    assert x.shape == (40, p)
    assert np.all(np.linalg.norm(x - c, axis=-1) <= radius * (1 + 1e-12))
    np.testing.assert_array_equal(x, pl.sample_ball(c, radius, 40, np.random.default_rng(seed)))


def test_sample_ball_batched_centres() -> None:
    c = np.array([[0.0, 0.0], [10.0, 10.0]])
    x = pl.sample_ball(c, 1.0, 30, np.random.default_rng(1))
    assert x.shape == (30, 2, 2)
    assert np.all(np.linalg.norm(x - c, axis=-1) <= 1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf])
def test_sample_ball_rejects_bad_radius(bad: float) -> None:
    with pytest.raises(ValueError, match="radius"):
        pl.sample_ball(np.zeros(2), bad, 3, np.random.default_rng(0))


# --------------------------------------------------------------------------- the estimator


@pytest.mark.parametrize("z0, r", [((2.0, 0.2), 1.0), ((1.5, 0.5), 0.8), ((-2.0, 1.0), 0.5), ((0.3, 0.3), 0.8)])
def test_estimate_alpha_matches_closed_form_from_above(z0, r) -> None:
    z0 = np.array(z0)
    exact = _alpha_xy(z0, r)
    est = pl.estimate_alpha(XY, z0, r, np.random.default_rng(0))
    assert est.alpha >= exact * (1 - 1e-10) - 1e-14  # an upper bound on the infimum
    assert est.alpha <= exact * (1 + 1e-6) + 1e-10
    assert est.sampled >= est.alpha  # refinement only improves
    assert np.linalg.norm(est.argmin - z0) <= r * (1 + 1e-12)


def test_estimate_alpha_batched_over_centres() -> None:
    z0 = np.array([[2.0, 0.2], [1.5, 0.5], [3.0, -0.1]])
    est = pl.estimate_alpha(XY, z0, 0.7, np.random.default_rng(3))
    exact = np.array([_alpha_xy(z, 0.7) for z in z0])
    assert est.alpha.shape == (3,) and est.argmin.shape == (3, 2)
    np.testing.assert_allclose(est.alpha, exact, rtol=1e-6)
    np.testing.assert_allclose(est.at_center, pl.pl_ratio(XY, z0))


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), r=st.floats(0.1, 3.0))
def test_estimate_alpha_is_an_upper_bound_for_quadratics(seed: int, r: float) -> None:
    gen = np.random.default_rng(seed)
    d = np.sort(gen.uniform(0.5, 5.0, size=3))
    q = Quadratic(np.diag(d))
    x0 = gen.standard_normal(3)
    est = pl.estimate_alpha(q, x0, r, gen, n_samples=64)
    # ratio = 2 sum d_i^2 x_i^2 / sum d_i x_i^2 >= 2 d_min everywhere
    assert est.alpha >= 2 * d[0] * (1 - 1e-12)
    if np.linalg.norm(x0) < r:  # the ball holds the minimiser: every direction occurs, inf = 2 d_min
        assert est.alpha <= 2 * d[0] * (1 + 1e-3)


def test_estimate_alpha_finds_a_spurious_critical_point() -> None:
    f = Polynomial1D([0, 0, 33 / 8, -4, 1])  # x^2 ((x-2)^2 + 1/8), local max near 1.067
    est = pl.estimate_alpha(f, np.array([0.5]), 1.0, np.random.default_rng(0))
    assert est.alpha < 1e-8


def test_estimate_alpha_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="radius"):
        pl.estimate_alpha(XY, np.ones(2), -1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="x0"):
        pl.estimate_alpha(XY, np.ones(3), 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_samples"):
        pl.estimate_alpha(XY, np.ones(2), 1.0, np.random.default_rng(0), n_samples=0)


def test_rational_min_against_dense_grid() -> None:
    q = np.polynomial.Polynomial([33 / 8, -4, 1])
    x = np.polynomial.Polynomial([0, 1])
    num = (2 * q + x * q.deriv()) ** 2
    lo, hi = np.array([-1.0, 0.0, 1.5]), np.array([0.5, 1.0, 3.0])
    got = pl.rational_min(num.coef, q.coef, lo, hi)
    for a, b, g in zip(lo, hi, got):
        grid = np.linspace(a, b, 200_001)
        ref = (num(grid) / q(grid)).min()
        assert g <= ref + 1e-12 and g >= ref - 1e-6


def test_rational_min_rejects_reversed_interval_and_nonpositive_denominator() -> None:
    with pytest.raises(ValueError, match="hi"):
        pl.rational_min([1.0], [1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="den"):
        pl.rational_min([1.0], [0.0, 1.0], -1.0, 1.0)


# --------------------------------------------------------------------------- smoothness


def test_hessian_norm_dense_and_power_iteration_agree() -> None:
    gen = np.random.default_rng(0)
    A = gen.standard_normal((80, 80))
    A = A + A.T
    q = Quadratic(A)
    ref = np.abs(np.linalg.eigvalsh(A)).max()
    got = pl.hessian_norm(q, np.zeros(80), np.random.default_rng(1), iters=2000)
    assert got <= ref * (1 + 1e-9) and got >= ref * (1 - 1e-3)
    q_small = Quadratic(np.diag([1.0, -3.0, 2.0]))
    assert float(pl.hessian_norm(q_small, np.ones(3), np.random.default_rng(0))) == pytest.approx(3.0)


def test_estimate_smoothness_is_below_the_analytic_bound_for_xy() -> None:
    z0, r = np.array([2.0, 0.2]), 1.0
    beta_ub = 1.5 * (np.linalg.norm(z0) + r) ** 2 + 1  # ||H|| <= ||z||^2 + |xy - 1|
    beta = pl.estimate_smoothness(XY, z0, r, np.random.default_rng(0), n_samples=500)
    assert 0 < beta <= beta_ub


# --------------------------------------------------------------------------- the certificate


def test_certify_values_and_rate() -> None:
    c = pl.certify(f0=0.5, alpha=2.0, beta=4.0, radius=2.0)
    assert c.holds and c.flow_length == pytest.approx(1.0) and c.eta_max == pytest.approx(0.25)
    assert c.gd_length(0.125) == pytest.approx(1.0 / (1 - 0.25))
    assert c.gd_rate(0.125) == pytest.approx(1 - 2.0 * 0.125 * 0.75)
    assert c.admissible(0.2) and not c.admissible(0.3)
    bad = pl.certify(f0=1.0, alpha=1.0, beta=1.0, radius=2.0)  # 4 f0 = r^2 alpha: fails (strict)
    assert not bad.holds and bad.eta_max <= 0


def test_certify_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="f0"):
        pl.certify(-1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        pl.certify(1.0, -1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="beta"):
        pl.certify(1.0, 1.0, 0.0, 1.0)


def test_lzb_radius() -> None:
    np.testing.assert_allclose(pl.lzb_radius(1.0, 4.0, 2.0), 2.0)
    assert np.isinf(pl.lzb_radius(1.0, 0.0, 2.0))
    # ratio to the flow radius 2 sqrt(f0/alpha) is 2 sqrt(2 beta / alpha)
    f0, alpha, beta = 0.7, 3.0, 5.0
    c = pl.certify(f0, alpha, beta, 10.0)
    assert pl.lzb_radius(f0, alpha, beta) / c.flow_length == pytest.approx(2 * np.sqrt(2 * beta / alpha))


@settings(max_examples=12)
@given(x=st.floats(0.8, 3.0), y=st.floats(-0.5, 1.5), frac=st.floats(0.1, 0.9))
def test_gd_theorem_on_xy(x: float, y: float, frac: float) -> None:
    """Theorem of chapter 6: under the radius condition GD with eta < eta_max stays within rho/c and contracts by q."""
    z0 = np.array([x, y])
    r = np.linalg.norm(z0) / 2
    f0 = float(XY.loss(z0))
    cert = pl.certify(f0, _alpha_xy(z0, r), 1.5 * (np.linalg.norm(z0) + r) ** 2 + 1, r)
    assume(cert.holds and f0 > 0)
    eta = frac * cert.eta_max
    traj = descent.run(XY, z0[None], eta, steps=200)
    dist = np.linalg.norm(traj.params[:, 0] - z0, axis=-1)
    assert dist.max() <= cert.gd_length(eta) * (1 + 1e-12) < r
    assert np.all(traj.loss[:, 0] <= cert.gd_rate(eta) ** traj.steps * f0 * (1 + 1e-9) + 1e-300)


# --------------------------------------------------------------------------- issue 10: bugs found by fuzzing


def test_rng_may_be_none_an_int_or_a_generator() -> None:
    """Bug: sample_ball, estimate_alpha, hessian_norm, glorot_init and he_init raised AttributeError for rng=None or an int."""
    net = MLP(np.eye(3), np.ones((1, 3)), (3, 2, 2, 1))
    q = Quadratic(np.diag([1.0, 4.0]))
    np.testing.assert_array_equal(pl.sample_ball([0.0, 0.0], 1.0, 5, 3), pl.sample_ball([0.0, 0.0], 1.0, 5, np.random.default_rng(3)))
    np.testing.assert_array_equal(pl.sample_ball([0.0, 0.0], 1.0, 5, None), pl.sample_ball([0.0, 0.0], 1.0, 5, 0))
    np.testing.assert_array_equal(initialisation.glorot_init(net, 4), initialisation.glorot_init(net, np.random.default_rng(4)))
    np.testing.assert_array_equal(initialisation.he_init(net, None, size=2), initialisation.he_init(net, 0, size=(2,)))
    a = pl.estimate_alpha(q, [0.3, 0.3], 0.5, 7, n_samples=16)
    b = pl.estimate_alpha(q, [0.3, 0.3], 0.5, np.random.default_rng(7), n_samples=16)
    assert float(a.alpha) == float(b.alpha)
    assert float(pl.hessian_norm(q, [1.0, 1.0], None)) == 4.0


def test_sample_ball_rejects_an_empty_center() -> None:
    """Bug: sample_ball(center=[]) raised ZeroDivisionError."""
    with pytest.raises(ValueError, match="center"):
        pl.sample_ball([], 1.0, 3, 0)


def test_lzb_radius_rejects_nan() -> None:
    """Bug: lzb_radius returned a silent NaN for alpha = NaN."""
    for args, name in (((1.0, np.nan, 1.0), "alpha"), ((1.0, 1.0, np.nan), "beta"), ((np.nan, 1.0, 1.0), "f0")):
        with pytest.raises(ValueError, match=name):
            pl.lzb_radius(*args)


def test_hessian_norm_keeps_the_batch_of_a_quadratic() -> None:
    """Bug (through Quadratic.hessian): hessian_norm of a batch returned a scalar."""
    q = Quadratic(np.diag([1.0, -3.0]))
    np.testing.assert_array_equal(pl.hessian_norm(q, np.ones((4, 2))), np.full(4, 3.0))


@pytest.mark.parametrize("block", [1, 700, 5000])
def test_blockwise_evaluation_is_bit_for_bit(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    """sample_ball and pl_ratio (MLP) work block by block of _BLOCK_PARAMS parameters; the points and
    ratios are those of one whole-batch evaluation, bit for bit, whatever the block size."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 5)); Y = rng.standard_normal((1, 5))
    net = MLP(X, Y, (6, 7, 7, 1), "tanh")
    centres = net.random_params(rng=rng, size=(3,))
    gen = np.random.default_rng(8)  # the whole-array formula sample_ball had before it worked in blocks
    z = gen.standard_normal((9,) + centres.shape)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    u = gen.uniform(size=(9, 3))
    t = np.where((np.arange(9) % 2 == 0)[:, None], u ** (1.0 / net.n_params), u)
    z *= 0.7 * t[..., None]
    whole_pts = z + centres
    g = net.grad(whole_pts)
    whole = net.loss(whole_pts), np.einsum("...i,...i->...", g, g)
    monkeypatch.setattr(pl, "_BLOCK_PARAMS", block)
    pts = pl.sample_ball(centres, 0.7, 9, np.random.default_rng(8))
    np.testing.assert_array_equal(pts, whole_pts)
    f, g2 = pl._loss_and_grad_sq(net, pts)
    np.testing.assert_array_equal(f, whole[0]); np.testing.assert_array_equal(g2, whole[1])
    np.testing.assert_array_equal(pl.pl_ratio(net, pts), whole[1] / whole[0])
    assert pts.shape == (9, 3, net.n_params) and f.shape == (9, 3)


# --------------------------------------------------------------------------- threads and refine_above


def _mlp_and_centres(n_centres: int = 14) -> tuple[MLP, np.ndarray]:
    rng = np.random.default_rng(21)
    X = data.linearly_independent_inputs(9, 7, rng=rng); Y = rng.choice([-1.0, 1.0], size=(1, 7))
    net = MLP(X, Y, (9, 6, 6, 1), "tanh")
    return net, net.random_params(rng=rng, size=(2, n_centres // 2))


@pytest.fixture
def thread_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Tiny networks split anyway; records the number of blocks of every threaded computation."""
    from gdlab import threaded_runs
    monkeypatch.setattr(threaded_runs, "MIN_RUNS_PER_THREAD", 2)
    monkeypatch.setattr(threaded_runs, "MIN_WORK_PER_THREAD", 1)
    calls: list[int] = []
    real = threaded_runs._in_threads

    def spy(work, blocks):
        calls.append(len(blocks))
        return real(work, blocks)

    monkeypatch.setattr(threaded_runs, "_in_threads", spy)
    return calls


@pytest.mark.parametrize("threads", ["2", "3"])
def test_estimate_alpha_and_hessian_norm_in_threads_are_bit_for_bit(monkeypatch: pytest.MonkeyPatch,
                                                                    thread_blocks: list[int], threads: str) -> None:
    """estimate_alpha and hessian_norm deal the centres of an MLP to threads (gdlab.threaded_runs.map_runs):
    every returned array equals the one-thread computation bit for bit, in the batch's shape."""
    net, W = _mlp_and_centres()
    results = {}
    for n in ("1", threads):
        monkeypatch.setenv("GDLAB_THREADS", n)
        est = pl.estimate_alpha(net, W, 0.4, np.random.default_rng(2), n_samples=24, n_refine=3, refine_steps=6)
        results[n] = (est, pl.hessian_norm(net, W, np.random.default_rng(3), iters=80))
    assert thread_blocks == [int(threads)] * 2  # one threaded call each, and none with one thread
    (e1, h1), (e2, h2) = results["1"], results[threads]
    for name in ("alpha", "argmin", "sampled", "at_center"):
        np.testing.assert_array_equal(getattr(e2, name), getattr(e1, name), err_msg=name)
    np.testing.assert_array_equal(h2, h1)
    assert e2.alpha.shape == (2, 7) and e2.argmin.shape == (2, 7, net.n_params) and h2.shape == (2, 7)
    assert np.all(e1.alpha < e1.sampled)  # the refinement ran (and lowered every estimate)


@pytest.mark.parametrize("threads", ["1", "3"])
def test_refine_above_decides_the_radius_condition_as_full_refinement(monkeypatch: pytest.MonkeyPatch,
                                                                      thread_blocks: list[int], threads: str) -> None:
    """refine_above refines only the centres above the level: alpha > level comes out as with every centre
    refined; those centres get the same estimate bit for bit, the others keep their sampled one (not lower)."""
    monkeypatch.setenv("GDLAB_THREADS", threads)
    net, W = _mlp_and_centres()
    opts = dict(n_samples=24, n_refine=3, refine_steps=6)
    full = pl.estimate_alpha(net, W, 0.4, np.random.default_rng(2), **opts)
    before = np.minimum(full.sampled, full.at_center)
    level = np.median(before) * np.ones(W.shape[:-1])  # about half the centres are above it
    part = pl.estimate_alpha(net, W, 0.4, np.random.default_rng(2), refine_above=level, **opts)
    assert thread_blocks == ([] if threads == "1" else [3, 3])
    refined = before > level
    assert 0 < refined.sum() < refined.size
    np.testing.assert_array_equal(part.alpha > level, full.alpha > level)
    np.testing.assert_array_equal(part.alpha[refined], full.alpha[refined])
    np.testing.assert_array_equal(part.argmin[refined], full.argmin[refined])
    np.testing.assert_array_equal(part.alpha[~refined], before[~refined])
    assert np.all(part.alpha[~refined] > full.alpha[~refined])  # the refinement would have lowered them
    np.testing.assert_array_equal(part.sampled, full.sampled)
    # a scalar level broadcasts: +inf refines nothing, a level below every estimate everything
    none = pl.estimate_alpha(net, W, 0.4, np.random.default_rng(2), refine_above=np.inf, **opts)
    np.testing.assert_array_equal(none.alpha, before)
    every = pl.estimate_alpha(net, W, 0.4, np.random.default_rng(2), refine_above=before.min() / 2, **opts)
    np.testing.assert_array_equal(every.alpha, full.alpha)
    # one centre, no batch axis
    one = pl.estimate_alpha(net, W[0, 0], 0.4, np.random.default_rng(2), refine_above=np.inf, **opts)
    one_full = pl.estimate_alpha(net, W[0, 0], 0.4, np.random.default_rng(2), **opts)
    assert one.alpha.shape == () and one.alpha == min(one_full.sampled, one_full.at_center) >= one_full.alpha


def test_refine_above_rejects_a_bad_level() -> None:
    net, W = _mlp_and_centres()
    for bad in (np.ones(3), np.nan, "1", 1j):
        with pytest.raises(ValueError, match="refine_above"):
            pl.estimate_alpha(net, W, 0.4, np.random.default_rng(2), refine_above=bad)
