r"""Initialisations of multi-layer perceptrons and the certificate of the positive initialisation (chapter 7).

* :func:`positive_init` (scalar-output ``MLP``), :func:`glorot_init`, :func:`he_init`: flat parameters
  ``size + (n_params,)``; ``rng`` is ``None`` (the fixed default seed), an integer seed or a Generator;
* :func:`first_layer_bound`: the first-layer lower bound on :math:`\|\nabla f\|^2`;
* :func:`positive_init_bound`: the explicit certificate of the radius condition at a positive initialisation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks
from .objectives import MLP, _activation

__all__ = ["FirstLayerBound", "PositiveInitBound", "first_layer_bound", "glorot_init", "he_init", "positive_init", "positive_init_bound"]

Array = NDArray[np.float64]
RngLike = np.random.Generator | int | None


def _size(size: object, name: str = "size") -> tuple[int, ...]:
    """A batch shape: an int or a sequence of non-negative ints."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size,)
    try:
        out: tuple[object, ...] = tuple(size)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be a tuple of non-negative integers, got {size!r}") from None
    return tuple(_checks.positive_int(s, name, minimum=0) for s in out)



def _phi(name: str, z: float) -> tuple[float, float]:
    """Activation and its derivative at ``z`` from the one activation table, that of ``MLP``."""
    s, d1 = _activation(name, np.asarray(z, dtype=np.float64), 1)
    return float(s), float(d1)


def _check_scalar_mlp(net: MLP) -> None:
    if not isinstance(net, MLP):
        raise ValueError(f"net must be a gdlab.objectives.MLP, got {type(net).__name__}")
    if net.widths[-1] != 1:
        raise ValueError(f"net must have a scalar output (widths[-1] == 1), got widths {net.widths}")
    if net.depth < 2:
        raise ValueError(f"net must have at least one hidden layer, got widths {net.widths}")


def _weights(net: MLP, layers: list[Array], biases: list[Array] | None) -> Array:
    if net.bias:
        return net.flatten([(W, b) for W, b in zip(layers, cast(list, biases))])
    return net.flatten(layers)


def positive_init(
    net: MLP,
    output_scale: float,
    hidden_value: float = 1.0,
    *,
    rng: RngLike = None,
    spread: float = 0.0,
    size: tuple[int, ...] = (),
) -> Array:
    r"""The positive initialisation of a scalar-output ``MLP``: flat parameters of shape ``size + (n_params,)``.

    With ``widths = (d, m_1, ..., m_{L-1}, 1)``:

    * :math:`W_1 = 0`;
    * hidden :math:`W_l` (:math:`2 \le l \le L-1`): entries ``hidden_value / m_{l-1}``, strictly positive;
    * output :math:`W_L`: entries :math:`K/m_{L-1}` with :math:`K` = ``output_scale``, so the output is
      :math:`K` times the mean of the last hidden layer;
    * with ``rng``, every hidden and output entry is multiplied by an independent factor uniform in
      ``[1 - spread, 1 + spread]`` (still strictly positive);
    * biases (``net.bias``): hidden biases 0 and the output bias :math:`b_L = -W_L a_{L-1}`, which
      cancels the (input-independent, since :math:`W_1 = 0`) output, so :math:`\mathrm{out}(x_i) = 0`
      for every activation.  Without biases the output is 0 exactly when :math:`\varphi(0) = 0`.

    >>> from gdlab.objectives import MLP
    >>> net = MLP(np.eye(3), np.ones((1, 3)), widths=(3, 2, 2, 1))
    >>> w = positive_init(net, output_scale=10.0)
    >>> [float(W.sum()) for W, _ in net.unflatten(w)], float(net.loss(w))
    ([0.0, 2.0, 10.0], 1.5)
    """
    _check_scalar_mlp(net)
    K = float(_checks.positive_finite(output_scale, "output_scale"))
    a = float(_checks.positive_finite(hidden_value, "hidden_value"))
    spread = float(_checks.nonnegative_finite(spread, "spread"))
    if not (0.0 <= spread < 1.0):
        raise ValueError(f"spread must be in [0, 1), got {spread!r}")
    size = _size(size)
    gen = None if (rng is None and spread == 0.0) else _checks.generator(rng)
    layers = []
    for l, (m_out, m_in) in enumerate(net.shapes):
        shape = size + (m_out, m_in)
        if l == 0:
            layers.append(np.zeros(shape))
            continue
        base = (K if l == net.depth - 1 else a) / m_in
        jitter = 1.0 if gen is None else gen.uniform(1.0 - spread, 1.0 + spread, size=shape)
        layers.append(np.broadcast_to(base * jitter, shape).copy())
    biases = None
    if net.bias:
        biases = [np.zeros(size + (m_out,)) for m_out, _ in net.shapes]
        out = net.predict(_weights(net, layers, biases))[..., 0, 0]  # same for every input
        biases[-1] = -out[..., None]
    return _weights(net, layers, biases)


def glorot_init(net: MLP, rng: RngLike = None, size: tuple[int, ...] = ()) -> Array:
    r"""Glorot (Xavier) normal initialisation :math:`(W_l)_{ij} \sim N(0, 2/(m_{l-1} + m_l))`, biases 0; shape ``size + (n_params,)``."""
    if not isinstance(net, MLP):
        raise ValueError(f"net must be a gdlab.objectives.MLP, got {type(net).__name__}")
    size, rng = _size(size), _checks.generator(rng)
    layers = [rng.standard_normal(size + s) * np.sqrt(2.0 / (s[0] + s[1])) for s in net.shapes]
    return _weights(net, layers, [np.zeros(size + (s[0],)) for s in net.shapes] if net.bias else None)


def he_init(net: MLP, rng: RngLike = None, size: tuple[int, ...] = ()) -> Array:
    r"""He (Kaiming) normal initialisation :math:`(W_l)_{ij} \sim N(0, 2/m_{l-1})`, biases 0; shape ``size + (n_params,)``."""
    if not isinstance(net, MLP):
        raise ValueError(f"net must be a gdlab.objectives.MLP, got {type(net).__name__}")
    size, rng = _size(size), _checks.generator(rng)
    layers = [rng.standard_normal(size + s) * np.sqrt(2.0 / s[1]) for s in net.shapes]
    return _weights(net, layers, [np.zeros(size + (s[0],)) for s in net.shapes] if net.bias else None)


@dataclass(frozen=True)
class FirstLayerBound:
    r"""The first-layer lower bound on :math:`\|\nabla f\|^2` (see :func:`first_layer_bound`); fields have the batch shape.

    Attributes:
        grad_sq: :math:`\|\nabla f(w)\|^2`.
        first_layer_sq: :math:`\|\nabla_{W_1} f(w)\|_F^2`.
        lower: :math:`\lambda_{\min}(G)\sum_i e_i^2\|J_i\|^2`.
        jac_norm: ``(..., n)``, :math:`\|J_i\|`, the norm of the derivative of the output at :math:`x_i`
            with respect to the first pre-activation (NaN where :math:`e_i = 0`).
        residual: ``(..., n)``, :math:`e_i = \mathrm{out}(x_i) - y_i`.
        lam_min: :math:`\lambda_{\min}(X^\top X)`.
    """

    grad_sq: Array
    first_layer_sq: Array
    lower: Array
    jac_norm: Array
    residual: Array
    lam_min: float


def first_layer_bound(net: MLP, w: ArrayLike) -> FirstLayerBound:
    r"""Evaluate :math:`\|\nabla f\|^2 \ge \|\nabla_{W_1} f\|_F^2 \ge \lambda_{\min}(G)\sum_i e_i^2 \|J_i\|^2` at ``w``.

    For a scalar-output network, :math:`\nabla_{W_1} f = D X^\top` with :math:`D = [e_1 J_1^\top, \dots, e_n J_n^\top]`
    (:math:`m_1 \times n`).  With linearly independent inputs, :math:`G = X^\top X` is invertible and
    :math:`D = \nabla_{W_1} f\, X G^{-1}` is recovered exactly from the gradient, hence
    :math:`\|J_i\| = \|D_{:,i}\| / |e_i|`.  Only the public ``MLP`` interface is used.
    """
    _check_scalar_mlp(net)
    w = net._params(w)
    G = net.X.T @ net.X
    lam_min = float(np.linalg.eigvalsh(G)[0])
    if lam_min <= 1e-12 * max(1.0, float(np.trace(G))):
        raise ValueError("net.X must have linearly independent columns (X^T X is singular)")
    g = net.grad(w)
    sw, _ = net.layer_slices[0]
    m1, d = net.shapes[0]
    g1 = g[..., sw].reshape(w.shape[:-1] + (m1, d))
    D = g1 @ net.X @ np.linalg.inv(G)  # (..., m1, n)
    e = net.predict(w)[..., 0, :] - net.Y[0]
    col = np.linalg.norm(D, axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(e != 0, col / np.abs(np.where(e != 0, e, 1.0)), np.nan)
    return FirstLayerBound(
        grad_sq=np.einsum("...i,...i->...", g, g),
        first_layer_sq=np.einsum("...ij,...ij->...", g1, g1),
        lower=lam_min * np.sum(col**2, axis=-1),
        jac_norm=jac,
        residual=e,
        lam_min=lam_min,
    )


@dataclass(frozen=True)
class PositiveInitBound:
    r"""Proved quantities of chapter 7's theorem at a positive initialisation (see :func:`positive_init_bound`).

    Attributes:
        radius: :math:`r`.
        preact_bound: :math:`Z`, a bound on every hidden pre-activation on :math:`B(w_0, r)`.
        slope_min: :math:`c_\varphi = \min_{|z| \le Z}\varphi'(z)`.
        hidden_min: :math:`v`, the smallest middle-layer weight at :math:`w_0` (``inf`` without middle layers).
        path_factor: :math:`c = c_\varphi^{L-1}(v - r)^{L-2}\prod_{l=2}^{L-1} m_l` (:math:`c_\varphi` if :math:`L = 2`).
        lam_min: :math:`\lambda_{\min}(X^\top X)`.
        m1: the first width :math:`m_1`.
        f0: :math:`f(w_0) = \tfrac12\|y\|^2`.
        output_min: :math:`\omega`, the smallest output weight at :math:`w_0`.
        output_star: :math:`\omega^\ast = r + \|y\|/(r\,c\sqrt{\lambda_{\min} m_1})`; the radius condition
            is proved when :math:`\omega > \omega^\ast`.
        K_star: the output scale :math:`K^\ast = K\,\omega^\ast/\omega` at which the output weights of
            :func:`positive_init` (proportional to ``K``) reach :math:`\omega^\ast` (NaN if ``output_scale`` was not given).
    """

    radius: float
    preact_bound: float
    slope_min: float
    hidden_min: float
    path_factor: float
    lam_min: float
    m1: int
    f0: float
    output_min: float
    output_star: float
    K_star: float

    @property
    def holds(self) -> bool:
        r"""Whether the theorem certifies the radius condition at :math:`w_0` (:math:`\omega > \omega^\ast`)."""
        return bool(self.output_min > self.output_star)

    def alpha_lower(self, output_min: ArrayLike) -> Array:
        r"""Proved lower bound :math:`2\lambda_{\min} m_1 c^2 (\omega - r)_+^2` on :math:`\alpha(w_0, r)` for smallest output weight :math:`\omega`."""
        om = np.asarray(output_min, dtype=np.float64)
        kappa = self.path_factor * np.maximum(om - self.radius, 0.0)
        return 2.0 * self.lam_min * self.m1 * kappa**2


def positive_init_bound(net: MLP, w0: ArrayLike, radius: float, output_scale: float | None = None) -> PositiveInitBound:
    r"""Explicit certificate of the radius condition at a positive initialisation ``w0`` (chapter 7's theorem).

    Requires a scalar-output ``net`` with linearly independent inputs and, at ``w0``: :math:`W_1 = 0`,
    strictly positive middle and output weights, zero hidden biases, and output 0 (so
    :math:`f(w_0) = \tfrac12\|y\|^2`; this holds for :math:`\varphi(0) = 0`, or with the output bias of
    :func:`positive_init`).  With :math:`x_{\max} = \max_i\|x_i\|`, :math:`\Phi(Z) = \max_{|z|\le Z}|\varphi(z)|`
    and :math:`s = 1` with biases, 0 without,

    .. math::
        \begin{aligned}
        Z_1 &= r\,(x_{\max} + s),\\
        Z_l &= \Bigl(\max_j \sum_k (W_l)_{jk} + \sqrt{m_{l-1}}\,r\Bigr)\,\Phi(Z_{l-1}) + s\,r
        \qquad (2 \le l \le L-1),
        \end{aligned}

    :math:`Z = \max_l Z_l`, :math:`c_\varphi = \min(\varphi'(-Z), \varphi'(Z))` (the minimum of :math:`\varphi'`
    on :math:`[-Z, Z]` for tanh, sigmoid and softplus, whose derivatives are unimodal or increasing),
    :math:`c = c_\varphi^{L-1}(v-r)^{L-2}\prod_{l=2}^{L-1} m_l` and
    :math:`\omega^\ast = r + \|y\| / (r\,c\sqrt{\lambda_{\min}(X^\top X)\, m_1})`.
    ``radius`` must be below the smallest middle-layer weight :math:`v` when there are middle layers.
    """
    _check_scalar_mlp(net)
    w0 = net._params(w0, "w0")
    if w0.ndim != 1:
        raise ValueError(f"w0 must be a single parameter vector, got shape {w0.shape}")
    r = float(_checks.positive_finite(radius, "radius"))
    layers = net.unflatten(w0)
    if np.any(layers[0][0] != 0):
        raise ValueError("w0 must have a zero first layer")
    mids = [W for W, _ in layers[1:-1]]
    if any(np.any(W <= 0) for W in mids) or np.any(layers[-1][0] <= 0):
        raise ValueError("w0 must have strictly positive hidden and output weights")
    if net.bias and any(np.any(b != 0) for _, b in layers[:-1]):
        raise ValueError("w0 must have zero hidden biases")
    if not np.allclose(net.predict(w0), 0.0, atol=1e-12):
        raise ValueError("w0 must have zero output (phi(0) = 0 without biases, or the cancelling output bias)")
    v = min((float(W.min()) for W in mids), default=np.inf)
    if mids and r >= v:
        raise ValueError(f"radius must be below the smallest middle-layer weight {v!r}, got {r!r}")
    s = 1.0 if net.bias else 0.0
    Z = r * (float(np.linalg.norm(net.X, axis=0).max()) + s)
    Zmax = Z
    for W in mids:
        Phi = max(abs(_phi(net.activation, Z)[0]), abs(_phi(net.activation, -Z)[0]))
        Z = (float(W.sum(axis=1).max()) + np.sqrt(W.shape[1]) * r) * Phi + s * r
        Zmax = max(Zmax, Z)
    c_phi = min(_phi(net.activation, -Zmax)[1], _phi(net.activation, Zmax)[1])
    L = net.depth
    c = c_phi ** (L - 1) * (v - r) ** (L - 2) * float(np.prod(net.widths[2:L])) if mids else c_phi
    lam = float(np.linalg.eigvalsh(net.X.T @ net.X)[0])
    ynorm = float(np.linalg.norm(net.Y))
    m1 = net.widths[1]
    omega = float(layers[-1][0].min())
    omega_star = r + ynorm / (r * c * np.sqrt(lam * m1))
    K_star = np.nan if output_scale is None else float(output_scale) * omega_star / omega
    return PositiveInitBound(
        radius=r, preact_bound=Zmax, slope_min=c_phi, hidden_min=v, path_factor=c, lam_min=lam, m1=m1,
        f0=0.5 * ynorm**2, output_min=omega, output_star=omega_star, K_star=K_star,
    )
