r"""The deep linear network :math:`\tfrac12\|W_L\cdots W_1X - Y\|_F^2`: exact derivatives, its flattest minimiser
(proved for whitened inputs) and proved bounds with the convex-dual optimiser for general input covariance."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from ._layout import _mT, _network_data
from .base import Array, Objective, _quiet

__all__ = ["LinearNetwork", "SharpnessBounds"]


class SharpnessBounds(NamedTuple):
    """Lower and upper bounds on the flattest-minimiser sharpness (unpacks as ``lower, upper``)."""

    lower: float
    upper: float


class LinearNetwork(Objective):
    r"""Deep linear network :math:`f(W_1,\dots,W_L) = \tfrac12 \|W_L \cdots W_1 X - Y\|_F^2`.

    ``X`` has shape ``(d, n)`` (columns are samples), ``Y`` shape ``(k, n)`` and
    ``widths = (d, h_1, ..., h_{L-1}, k)``; layer ``i`` is :math:`W_i \in \mathbb R^{h_i \times h_{i-1}}`.
    The flat parameter vector concatenates :math:`W_1, \dots, W_L`, each row-major
    (:meth:`unflatten`, :meth:`flatten`, ``layer_slices``). The loss is a sum over samples (no 1/n).

    With :math:`P = W_L\cdots W_1`, :math:`\Sigma = XX^\top`, :math:`C = YX^\top`,
    :math:`G = P\Sigma - C`, prefix :math:`A_{<i} = W_{i-1}\cdots W_1` and suffix
    :math:`A_{>i} = W_L\cdots W_{i+1}`:

    .. math::
        \nabla_{W_i} f = A_{>i}^\top\, G\, A_{<i}^\top, \qquad
        \nabla^2 f[V]_i = \dot A_{>i}^\top G A_{<i}^\top + A_{>i}^\top \dot P \Sigma A_{<i}^\top
        + A_{>i}^\top G \dot A_{<i}^\top,

    where dots are directional derivatives along :math:`V = (V_1,\dots,V_L)`, e.g.
    :math:`\dot P = \sum_j A_{>j} V_j A_{<j}`. At a global minimiser :math:`G = 0`, so the Hessian is the
    Gauss-Newton form :math:`\langle V, \nabla^2 f\, V\rangle = \|\dot P\,\Sigma^{1/2}\|_F^2`.

    **Flattest minimiser** (this book's derivation; proof in the docstring of :meth:`min_sharpness`).
    If the hidden widths do not restrict the rank (:math:`\min_i h_i \ge \operatorname{rank} W^\star`)
    and :math:`\Sigma = cI`, then :math:`\min_{\mathcal M}\lambda_{\max} = c\,L\,\sigma_1(W^\star)^{2-2/L}`;
    for two layers and :math:`XX^\top = I` this is :math:`2\|W^\star\|_{\rm op}`.

    >>> X = np.eye(2); Y = np.diag([3.0, 1.0])
    >>> net = LinearNetwork(X, Y, widths=(2, 2, 2))
    >>> net.min_sharpness()
    6.0
    >>> bool(net.loss(net.balanced_minimiser()) < 1e-20)
    True
    """

    def __init__(self, X: ArrayLike, Y: ArrayLike, widths: object) -> None:
        self.X, self.Y, self.widths = _network_data(X, Y, widths)
        self.depth = len(self.widths) - 1
        self.shapes = [(self.widths[i + 1], self.widths[i]) for i in range(self.depth)]
        sizes = [a * b for a, b in self.shapes]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.layer_slices = [slice(int(offsets[i]), int(offsets[i + 1])) for i in range(self.depth)]
        self.n_params = int(offsets[-1])
        self.sigma = self.X @ self.X.T
        self.cross = self.Y @ self.X.T

    # -- layout -------------------------------------------------------------------------------
    def unflatten(self, w: ArrayLike) -> list[Array]:
        """Matrices ``[W_1, ..., W_L]``, each of shape ``(..., h_i, h_{i-1})`` (views of ``w``)."""
        w = self._params(w)
        batch = w.shape[:-1]
        return [w[..., s].reshape(batch + shape) for s, shape in zip(self.layer_slices, self.shapes)]

    def flatten(self, mats: Sequence[ArrayLike]) -> Array:
        """Inverse of :meth:`unflatten`: concatenate row-major layers into ``(..., n_params)``."""
        if len(mats) != self.depth:
            raise ValueError(f"mats must hold {self.depth} matrices, got {len(mats)}")
        arrs = [np.asarray(m, dtype=np.float64) for m in mats]
        for i, (a, shape) in enumerate(zip(arrs, self.shapes)):
            if a.shape[-2:] != shape:
                raise ValueError(f"mats[{i}] must have shape (..., {shape[0]}, {shape[1]}), got {a.shape}")
        batch = np.broadcast_shapes(*(a.shape[:-2] for a in arrs))
        return np.concatenate([np.broadcast_to(a, batch + a.shape[-2:]).reshape(batch + (a.shape[-2] * a.shape[-1],)) for a in arrs], axis=-1)

    # -- products -----------------------------------------------------------------------------
    def _prefixes(self, W: list[Array]) -> list[Any]:
        """``pre[i] = W_i ... W_1`` for i = 0..L (``pre[0] = None`` stands for the identity)."""
        pre: list[Any] = [None]
        for Wi in W:
            pre.append(Wi if pre[-1] is None else Wi @ pre[-1])
        return pre

    def _suffixes(self, W: list[Array]) -> list[Any]:
        """``suf[i] = W_L ... W_{i+1}`` for i = 0..L (``suf[L] = None`` stands for the identity)."""
        suf: list[Any] = [None] * (self.depth + 1)
        for i in range(self.depth - 1, -1, -1):
            suf[i] = W[i] if suf[i + 1] is None else suf[i + 1] @ W[i]
        return suf

    def end_to_end(self, w: ArrayLike) -> Array:
        """The product :math:`P = W_L \\cdots W_1`, shape ``(..., k, d)``."""
        return self._prefixes(self.unflatten(w))[-1]

    @_quiet
    def loss(self, w: ArrayLike) -> Array:
        R = self.end_to_end(w) @ self.X - self.Y
        return 0.5 * np.sum(R * R, axis=(-2, -1))

    def _layer_grads(self, suf: list, pre: list, G: Array) -> list[Array]:
        out = []
        for i in range(self.depth):
            left = G if suf[i + 1] is None else _mT(suf[i + 1]) @ G
            out.append(left if pre[i] is None else left @ _mT(pre[i]))
        return out

    @_quiet
    def grad(self, w: ArrayLike) -> Array:
        W = self.unflatten(w)
        pre, suf = self._prefixes(W), self._suffixes(W)
        G = pre[-1] @ self.sigma - self.cross
        return self.flatten(self._layer_grads(suf, pre, G))

    _fast_T = True

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        r"""Gradient in parameter-major layout: ``wT`` ``(n_params, ...)`` -> same shape.

        The fast path of :func:`gdlab.descent.sweep` for many runs of a small network. Each layer is
        the strided view ``(h_i, h_{i-1}, N)`` of its rows of ``wT`` (batch flattened to ``N``), and the
        products of :meth:`grad` (prefixes, suffixes, :math:`G = P\Sigma - C`,
        :math:`A_{>i}^\top G A_{<i}^\top`) are ``np.einsum`` contractions over the matrix axes with the
        batch as the trailing axis: in a sweep of the 3x3x3 network about 0.035 instead of 0.33 microseconds
        per run-step (batched ``matmul`` on stacks of tiny matrices). Same products as :meth:`grad`;
        the summation order inside each product may differ, so the two agree to rounding
        (relative ``1e-12`` in the tests), not bit for bit. ``work`` caches scratch arrays between calls.
        """
        wT = np.asarray(wT, dtype=np.float64)
        if wT.shape[:1] != (self.n_params,):
            raise ValueError(f"wT must have shape ({self.n_params}, ...), got {wT.shape}")
        shape = wT.shape
        flat = wT.reshape(self.n_params, -1)
        N = flat.shape[1]
        W = [flat[s].reshape(sh + (N,)) for s, sh in zip(self.layer_slices, self.shapes)]
        L = self.depth
        work = {} if work is None else work

        def buf(key: tuple, shape: tuple) -> Array:
            """A scratch array kept in ``work`` between calls (fresh allocations of this size cost page faults)."""
            a = work.get(key)
            if a is None or a.shape != shape:
                a = work[key] = np.empty(shape)
            return a

        d = self.widths[0]
        pre: list[Any] = [None]                     # pre[i] = W_i ... W_1, (h_i, d, N)
        for i, Wi in enumerate(W):
            pre.append(Wi if pre[-1] is None else np.einsum("ijn,jkn->ikn", Wi, pre[-1], out=buf(("pre", i), (Wi.shape[0], d, N))))
        suf: list[Any] = [None] * (L + 1)           # suf[i] = W_L ... W_{i+1}, (k, h_i, N); suf[0] unused
        for i in range(L - 1, 0, -1):
            suf[i] = W[i] if suf[i + 1] is None else np.einsum("ijn,jkn->ikn", suf[i + 1], W[i], out=buf(("suf", i), (self.widths[-1], W[i].shape[1], N)))
        # G[a, b] = sum_c P[a, c] Sigma[c, b], an ordered sum like every product here (einsum, not BLAS: the same
        # result on every BLAS build, and bit for bit that of the compiled kernels of gdlab.kernels)
        G = np.einsum("acn,cb->abn", pre[-1], self.sigma, out=buf(("G",), (self.widths[-1], d, N)))
        np.subtract(G, self.cross[..., None], out=G)
        direct = out is not None and out.shape == shape and out.flags.c_contiguous   # write into out in place
        res = cast(Array, out).reshape(self.n_params, N) if direct else np.empty((self.n_params, N))
        for i, (s, sh) in enumerate(zip(self.layer_slices, self.shapes)):
            gi = res[s].reshape(sh + (N,))
            if suf[i + 1] is None and pre[i] is None:
                gi[...] = G
            elif pre[i] is None:
                np.einsum("jin,jkn->ikn", suf[i + 1], G, out=gi)
            elif suf[i + 1] is None:
                np.einsum("ijn,kjn->ikn", G, pre[i], out=gi)
            else:
                left = np.einsum("jin,jkn->ikn", suf[i + 1], G, out=buf(("left", i), (sh[0], d, N)))
                np.einsum("ijn,kjn->ikn", left, pre[i], out=gi)
        if out is None:
            return res.reshape(shape)
        if not direct:
            out[...] = res.reshape(shape)
        return out

    @_quiet
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = _checks.broadcast(self._params(w), self._params(v, "v"), ("w", "v"))
        W, V = self.unflatten(w), self.unflatten(v)
        L = self.depth
        pre, suf = self._prefixes(W), self._suffixes(W)
        # directional derivatives of the prefix and suffix products
        dpre: list[Any] = [None]
        for i in range(L):
            term = V[i] if pre[i] is None else V[i] @ pre[i]
            dpre.append(term if dpre[-1] is None else term + W[i] @ dpre[-1])
        dsuf: list[Any] = [None] * (L + 1)
        for i in range(L - 1, -1, -1):
            term = V[i] if suf[i + 1] is None else suf[i + 1] @ V[i]
            dsuf[i] = term if dsuf[i + 1] is None else term + dsuf[i + 1] @ W[i]
        G = pre[-1] @ self.sigma - self.cross
        dG = dpre[-1] @ self.sigma
        out = []
        for i in range(L):
            sT = None if suf[i + 1] is None else _mT(suf[i + 1])
            pT = None if pre[i] is None else _mT(pre[i])
            mid = dG if sT is None else sT @ dG
            total = mid if pT is None else mid @ pT
            if dsuf[i + 1] is not None:
                t = _mT(dsuf[i + 1]) @ G
                total = total + (t if pT is None else t @ pT)
            if dpre[i] is not None:
                t = G if sT is None else sT @ G
                total = total + t @ _mT(dpre[i])
            out.append(total)
        return self.flatten(out)

    # -- minimisers and their sharpness ---------------------------------------------------------
    def least_squares_solution(self) -> Array:
        r"""The minimum-norm least-squares solution :math:`W^\star = \arg\min_W \tfrac12\|WX - Y\|_F^2`, ``(k, d)``.

        Equals :math:`YX^\top \Sigma^{-1}` when :math:`\Sigma = XX^\top` is invertible.
        """
        sol, *_ = np.linalg.lstsq(self.X.T, self.Y.T, rcond=None)
        return cast(Array, sol.T)

    def _rank_tol(self, s: Array) -> float:
        return max(self.widths) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)

    def _require_realisable(self) -> tuple[Array, Array, Array, int]:
        """SVD of W* and its rank; raise unless the hidden widths can represent W*."""
        Wstar = self.least_squares_solution()
        U, s, Vt = np.linalg.svd(Wstar, full_matrices=False)
        r = int(np.sum(s > self._rank_tol(s)))
        bottleneck = min(self.widths[1:-1], default=min(self.widths))
        if r > bottleneck:
            raise NotImplementedError(
                f"the hidden widths (bottleneck {bottleneck}) cannot represent W* of rank {r}: the global "
                "minimisers solve a reduced-rank problem, for which no closed form is implemented"
            )
        return U[:, :r], s[:r], Vt[:r], r

    def _whitening_constant(self) -> float | None:
        """``c`` if :math:`XX^\\top = cI` (relative tolerance 1e-10), else ``None``."""
        c = float(np.trace(self.sigma)) / self.widths[0]
        if c > 0 and np.allclose(self.sigma, c * np.eye(self.widths[0]), rtol=0, atol=1e-10 * c):
            return c
        return None

    def balanced_minimiser(self) -> Array:
        r"""The balanced factorisation of :math:`W^\star = U S V^\top` (rank ``r``), flat ``(n_params,)``.

        :math:`W_1 = E_1 S^{1/L} V^\top`, :math:`W_i = E_i S^{1/L} E_{i-1}^\top`,
        :math:`W_L = U S^{1/L} E_{L-1}^\top`, with :math:`E_i` the first ``r`` columns of :math:`I_{h_i}`.
        Every layer has singular values :math:`\sigma_j(W^\star)^{1/L}`. It is a global minimiser
        whenever the widths can represent :math:`W^\star`, and the flattest one when
        :math:`XX^\top = cI` (:meth:`min_sharpness`); for other :math:`\Sigma` it gives the upper
        bound of :meth:`min_sharpness_bounds`.
        """
        U, s, Vt, r = self._require_realisable()
        L = self.depth
        root = s ** (1.0 / L)
        mats = []
        for i, (rows, cols) in enumerate(self.shapes):
            left = U if i == L - 1 else np.eye(rows)[:, :r]
            right = Vt if i == 0 else np.eye(cols)[:r, :]
            mats.append((left * root) @ right)
        return self.flatten(mats)

    def random_minimiser(self, rng: np.random.Generator | int | None = None, spread: float = 1.0, size: tuple[int, ...] = ()) -> Array:
        r"""Random global minimisers :math:`W_i \mapsto G_i W_i G_{i-1}^{-1}` of the balanced one, ``size + (n_params,)``.

        :math:`G_0 = I_d`, :math:`G_L = I_k` and :math:`G_i = \exp(\text{spread}\cdot Z_i/\sqrt{h_i})` with
        Gaussian :math:`Z_i`, so the product (and the loss) is unchanged. Used to check that no
        minimiser is flatter than :meth:`min_sharpness`.
        """
        gen = _checks.generator(rng)
        if not np.isfinite(spread) or spread < 0:
            raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
        size = tuple(_checks.positive_int(s, "size", minimum=0) for s in np.atleast_1d(size).tolist()) if np.size(size) else ()
        from scipy.linalg import expm

        base = self.unflatten(self.balanced_minimiser())
        out = np.empty(tuple(size) + (self.n_params,))
        for idx in np.ndindex(*size) if size else [()]:
            G = [np.eye(self.widths[0])]
            for h in self.widths[1:-1]:
                G.append(expm(spread * gen.standard_normal((h, h)) / np.sqrt(h)))
            G.append(np.eye(self.widths[-1]))
            mats = [G[i + 1] @ base[i] @ np.linalg.inv(G[i]) for i in range(self.depth)]
            out[idx] = self.flatten(mats)
        return out

    def minimiser_sharpness(self, w: ArrayLike) -> Array:
        r"""Exact :math:`\lambda_{\max}(\nabla^2 f(w))` AT A GLOBAL MINIMISER ``w`` (``(..., n_params)`` -> ``(...,)``).

        There :math:`\nabla^2 f = J^\top J` with :math:`J V = \dot P\,\Sigma^{1/2}`, and
        :math:`\lambda_{\max}(J^\top J) = \lambda_{\max}(JJ^\top)` where
        :math:`JJ^\top = \sum_j (A_{>j}A_{>j}^\top) \otimes (\Sigma^{1/2}A_{<j}^\top A_{<j}\Sigma^{1/2})`
        is only ``kd x kd``. Away from the minimisers this is the Gauss-Newton sharpness, not the
        Hessian's.
        """
        W = self.unflatten(w)
        pre, suf = self._prefixes(W), self._suffixes(W)
        evals, evecs = np.linalg.eigh(self.sigma)
        root = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
        k, d = self.widths[-1], self.widths[0]
        batch = np.asarray(w).shape[:-1]
        M = np.zeros(batch + (k * d, k * d))
        for j in range(self.depth):
            left = np.broadcast_to(np.eye(k), batch + (k, k)) if suf[j + 1] is None else suf[j + 1] @ _mT(suf[j + 1])
            right = self.sigma if pre[j] is None else root @ _mT(pre[j]) @ pre[j] @ root
            right = np.broadcast_to(right, batch + (d, d))
            M = M + np.einsum("...ab,...cd->...acbd", left, right).reshape(batch + (k * d, k * d))
        return cast(Array, np.linalg.eigvalsh(0.5 * (M + _mT(M)))[..., -1])

    def min_sharpness(self) -> float:
        r"""Flattest-minimiser sharpness, exact when proved: :math:`XX^\top = cI` (any depth) or :math:`L = 1`.

        **Theorem (this book's reconstruction).** Let :math:`\Sigma = XX^\top` be invertible, let the
        hidden widths satisfy :math:`h_i \ge \operatorname{rank} W^\star`, and let :math:`\mathcal M`
        be the set of global minimisers (:math:`P = W^\star`). Then
        :math:`\min_{\mathcal M} \lambda_{\max} \ge L\,\max_{\|g\|=1} \big[(g^\top\Sigma g)^{1/L}\,
        \|W^\star\Sigma^{1/2} g\|^{2(L-1)/L}\big]`, with equality (attained at the balanced
        minimiser) when :math:`\Sigma = cI`, where it reads :math:`c\,L\,\sigma_1(W^\star)^{2-2/L}`.

        *Proof.* At a minimiser :math:`\lambda_{\max} = \max_{\|V\|=1} \|\dot P\Sigma^{1/2}\|_F^2
        \ge \max_{\|V\|=1}\langle f h^\top, \dot P\rangle^2` for unit :math:`f, g` and
        :math:`h = \Sigma^{1/2} g`. The right side is the squared norm of the linear functional
        :math:`V \mapsto \sum_j \langle A_{>j}^\top f h^\top A_{<j}^\top, V_j\rangle`, i.e.
        :math:`\sum_{j=1}^L s_j^2 p_{j-1}^2` with :math:`s_j = \|A_{>j}^\top f\|` and
        :math:`p_j = \|A_{\le j} h\|` (:math:`s_L = 1`, :math:`p_0 = \|h\|`). Cauchy-Schwarz gives
        :math:`s_j p_j \ge |f^\top P h| = m`, so :math:`\prod_j s_j^2 p_{j-1}^2 = p_0^2\prod_{j=1}^{L-1}(s_jp_j)^2
        \ge \|h\|^2 m^{2(L-1)}` and AM-GM gives the bound; choose :math:`f` along
        :math:`W^\star\Sigma^{1/2}g`. For :math:`\Sigma = cI`, :math:`g = v_1` gives
        :math:`cL\sigma_1^{2-2/L}`; at the balanced minimiser the triangle inequality gives
        :math:`\lambda_{\max} \le c\sum_j \|A_{>j}\|^2\|A_{<j}\|^2 = cL\sigma_1^{2-2/L}`. :math:`\square`

        For general :math:`\Sigma` only bounds are proved: use :meth:`min_sharpness_bounds`.
        Raises ``NotImplementedError`` there and when the widths cannot represent :math:`W^\star`.
        """
        self._require_realisable()
        if self.depth == 1:
            return float(np.linalg.eigvalsh(self.sigma)[-1])
        c = self._whitening_constant()
        if c is None:
            raise NotImplementedError(
                "min_sharpness is proved only for X X^T = c I (or one layer); for general covariance use "
                "min_sharpness_bounds(), which returns the proved lower bound and the balanced upper bound"
            )
        s1 = float(np.linalg.svd(self.least_squares_solution(), compute_uv=False)[0])
        return float(c * self.depth * s1 ** (2.0 - 2.0 / self.depth))

    def min_sharpness_bounds(self) -> SharpnessBounds:
        r"""Proved bounds ``(lower, upper)`` on the flattest-minimiser sharpness, for any invertible :math:`\Sigma`.

        * ``lower`` (proved, see :meth:`min_sharpness`):
          :math:`L\max_{\|g\|=1}(g^\top\Sigma g)^{1/L}(g^\top B g)^{(L-1)/L}` with
          :math:`B = \Sigma^{1/2}W^{\star\top}W^\star\Sigma^{1/2}`; for :math:`L = 2` this is
          :math:`2\max_{\|g\|=1}\sqrt{g^\top\Sigma g}\,\|W^\star\Sigma^{1/2}g\|`. The maximum over the
          sphere is computed globally through the convex dual
          :math:`\min_\tau \lambda_{\max}(\theta e^{(\theta-1)\tau}\Sigma + (1-\theta)e^{\theta\tau}B)`,
          :math:`\theta = 1/L` (weighted AM-GM, Sion's minimax theorem and convexity of the joint
          numerical range), and the returned value is evaluated at an explicit unit vector :math:`g`,
          so it is a valid lower bound whatever the optimiser's accuracy.
        * ``upper``: the exact sharpness at :meth:`balanced_minimiser` (a minimiser, so its sharpness
          bounds the minimum from above); it is at most :math:`L\sigma_1(W^\star)^{2-2/L}\lambda_{\max}(\Sigma)`.

        When :math:`\Sigma = cI` (or :math:`L = 1`) both equal :meth:`min_sharpness`. For general
        :math:`\Sigma` the gap is open: the digest reports the two-layer lower bound as tight in a few
        numerical trials, a conjecture this class does not assume.
        """
        self._require_realisable()
        evals = np.linalg.eigvalsh(self.sigma)
        if evals[0] <= 1e-12 * evals[-1]:
            raise NotImplementedError("min_sharpness_bounds needs X X^T invertible (n >= d and X of full row rank)")
        upper = float(self.minimiser_sharpness(self.balanced_minimiser()))
        lower = self._lower_bound()
        return SharpnessBounds(lower=min(lower, upper), upper=upper)

    def _lower_bound(self) -> float:
        L = self.depth
        evals, evecs = np.linalg.eigh(self.sigma)
        root = (evecs * np.sqrt(evals)) @ evecs.T
        M = self.least_squares_solution() @ root
        A, B = self.sigma, M.T @ M

        def phi(g: Array) -> float:
            g = g / np.linalg.norm(g)
            a, b = float(g @ A @ g), max(float(g @ B @ g), 0.0)
            return L * a ** (1.0 / L) * b ** ((L - 1.0) / L)

        if L == 1:
            return float(evals[-1])
        if np.linalg.norm(B) == 0.0:
            return 0.0
        theta = 1.0 / L

        def mat(tau: float) -> Array:
            return theta * np.exp((theta - 1.0) * tau) * A + (1.0 - theta) * np.exp(theta * tau) * B

        def dual(tau: float) -> float:
            return float(np.linalg.eigvalsh(mat(tau))[-1])

        from scipy.optimize import minimize_scalar

        tau0 = float(np.log(evals[-1] / np.linalg.eigvalsh(B)[-1]))
        res = minimize_scalar(dual, bracket=(tau0 - 1.0, tau0 + 1.0), tol=1e-12)
        candidates = [np.linalg.eigh(mat(t))[1][:, -1] for t in (res.x, res.x - 1e-6, res.x + 1e-6)]
        candidates += [evecs[:, -1], np.linalg.eigh(B)[1][:, -1]]
        return max(phi(g) for g in candidates)
