"""Multi-layer perceptrons with smooth activations: backprop gradient, R-operator HVP, and the one activation table."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from ._layout import _mT, _network_data
from .base import Array, Objective, _quiet

__all__ = ["MLP"]


def _expit(z: Array) -> Array:
    """The logistic function (scipy's, imported on first use: importing scipy.special costs 0.25 s)."""
    from scipy.special import expit

    return expit(z)


def _activation(name: str, z: Array, order: int) -> tuple[Array, ...]:
    """``(sigma(z), sigma'(z), sigma''(z))`` truncated to ``order + 1`` entries, overflow-free."""
    if name == "tanh":
        s = np.tanh(z)
        if order == 0:
            return (s,)
        d1 = 1.0 - s * s
        return (s, d1) if order == 1 else (s, d1, -2.0 * s * d1)
    if name == "sigmoid":
        s = _expit(z)
        if order == 0:
            return (s,)
        d1 = s * (1.0 - s)
        return (s, d1) if order == 1 else (s, d1, d1 * (1.0 - 2.0 * s))
    if name == "softplus":
        s = np.logaddexp(0.0, z)
        if order == 0:
            return (s,)
        d1 = _expit(z)
        return (s, d1) if order == 1 else (s, d1, d1 * (1.0 - d1))
    raise ValueError(f"activation must be one of {MLP.ACTIVATIONS}, got {name!r}")  # pragma: no cover


class MLP(Objective):
    r"""Multi-layer perceptron with squared loss :math:`f(w) = \tfrac12 \sum_{i=1}^n \|\mathrm{out}(x_i) - y_i\|^2`.

    A **sum** over samples (no :math:`1/n`). ``widths = (d, h_1, ..., h_{L-1}, k)``; hidden layers
    :math:`a_j = \sigma(z_j)`, :math:`z_j = W_j a_{j-1} + b_j`, :math:`a_0 = X`; the output layer
    :math:`z_L = W_L a_{L-1} + b_L` is linear. ``activation`` is ``"tanh"``, ``"softplus"``
    (:math:`\log(1+e^z)`) or ``"sigmoid"``; all smooth and strictly increasing. ``bias=False`` drops
    every :math:`b_j`.

    Flat layout: per layer, :math:`W_j` row-major then :math:`b_j` (``layer_slices[j] = (slice_W,
    slice_b or None)``). ``grad`` is backpropagation and ``hvp`` Pearlmutter's R-operator
    (forward-mode derivative of backprop), both exact and batched over leading axes of ``w``:

    .. math::
        \delta_L = z_L - Y,\quad \nabla_{W_j} f = \delta_j a_{j-1}^\top,\quad
        \delta_{j-1} = (W_j^\top\delta_j)\odot\sigma'(z_{j-1}),

    .. math::
        \mathcal R\{\delta_{j-1}\} = (V_j^\top\delta_j + W_j^\top\mathcal R\{\delta_j\})\odot\sigma'(z_{j-1})
        + (W_j^\top\delta_j)\odot\sigma''(z_{j-1})\odot\mathcal R\{z_{j-1}\}.

    No closed-form ``min_sharpness`` (``NotImplementedError``).

    >>> X = np.array([[0.0, 1.0, 2.0]]); Y = np.array([[0.0, 1.0, 0.0]])
    >>> net = MLP(X, Y, widths=(1, 3, 1), activation="tanh", bias=True)
    >>> net.n_params
    10
    >>> w = net.random_params(rng=0)
    >>> bool(np.allclose(net.hvp(w, net.grad(w)), net.hessian(w) @ net.grad(w)))
    True
    """

    ACTIVATIONS = ("tanh", "softplus", "sigmoid")

    #: Every run of a batch is computed on its own (stacked products, per-run reductions), so the
    #: values of a run do not depend on the other runs in the batch, bit for bit:
    #: :func:`gdlab.lazy.steps_to_loss` drops finished runs from the batch.
    _runs_independent = True

    def __init__(self, X: ArrayLike, Y: ArrayLike, widths: object, activation: str = "tanh", bias: bool = False) -> None:
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {self.ACTIVATIONS}, got {activation!r}")
        self.X, self.Y, self.widths = _network_data(X, Y, widths)
        self.activation = activation
        self.bias = bool(bias)
        self.depth = len(self.widths) - 1
        self.shapes = [(self.widths[i + 1], self.widths[i]) for i in range(self.depth)]
        slices, pos = [], 0
        for rows, cols in self.shapes:
            sw = slice(pos, pos + rows * cols)
            pos += rows * cols
            sb = None
            if self.bias:
                sb = slice(pos, pos + rows)
                pos += rows
            slices.append((sw, sb))
        self.layer_slices: list[tuple[slice, slice | None]] = slices
        self.n_params = pos

    def unflatten(self, w: ArrayLike) -> list[tuple[Array, Array | None]]:
        """Per layer ``(W_j, b_j or None)`` with shapes ``(..., h_j, h_{j-1})`` and ``(..., h_j)``."""
        w = self._params(w)
        batch = w.shape[:-1]
        return [
            (w[..., sw].reshape(batch + shape), None if sb is None else w[..., sb])
            for (sw, sb), shape in zip(self.layer_slices, self.shapes)
        ]

    def flatten(self, layers: list) -> Array:
        """Inverse of :meth:`unflatten`; accepts ``(W, b)`` pairs, or bare ``W`` when ``bias=False``."""
        if len(layers) != self.depth:
            raise ValueError(f"layers must hold {self.depth} entries, got {len(layers)}")
        parts, batches = [], []
        for j, (layer, shape) in enumerate(zip(layers, self.shapes)):
            W, b = layer if isinstance(layer, tuple) else (layer, None)
            W = np.asarray(W, dtype=np.float64)
            if W.shape[-2:] != shape:
                raise ValueError(f"layers[{j}] weight must have shape (..., {shape[0]}, {shape[1]}), got {W.shape}")
            if self.bias != (b is not None):
                raise ValueError(f"layers[{j}] must {'' if self.bias else 'not '}carry a bias (bias={self.bias})")
            parts.append(W.reshape(W.shape[:-2] + (shape[0] * shape[1],)))
            batches.append(W.shape[:-2])
            if b is not None:
                b = np.asarray(b, dtype=np.float64)
                if b.shape[-1:] != (shape[0],):
                    raise ValueError(f"layers[{j}] bias must have shape (..., {shape[0]}), got {b.shape}")
                parts.append(b)
                batches.append(b.shape[:-1])
        batch = np.broadcast_shapes(*batches)
        return np.concatenate([np.broadcast_to(p, batch + p.shape[-1:]) for p in parts], axis=-1)

    def random_params(self, rng: np.random.Generator | int | None = None, size: tuple[int, ...] = (), gain: float = 1.0) -> Array:
        r"""Random parameters ``size + (n_params,)``: :math:`W_j` entries :math:`\mathcal N(0, \text{gain}^2/h_{j-1})`, biases 0."""
        gen = _checks.generator(rng)
        gain = float(_checks.positive_finite(gain, "gain"))
        layers = []
        for rows, cols in self.shapes:
            W = gen.standard_normal(tuple(size) + (rows, cols)) * (gain / np.sqrt(cols))
            layers.append((W, np.zeros(tuple(size) + (rows,))) if self.bias else W)
        return self.flatten(layers)

    def _forward(self, layers: list, order: int) -> tuple[list[Array], list[Array], list[tuple[Array, ...]]]:
        """Inputs ``a_j`` to each layer, pre-activations ``z_j`` and activation derivatives."""
        a, zs, acts = [self.X], [], []
        for j, (W, b) in enumerate(layers):
            z = W @ a[-1]
            if b is not None:
                z = z + b[..., None]
            zs.append(z)
            if j < self.depth - 1:
                act = _activation(self.activation, z, order)
                acts.append(act)
                a.append(act[0])
        return a, zs, acts

    def predict(self, w: ArrayLike) -> Array:
        """Network outputs on the training inputs, shape ``(..., k, n)``."""
        _, zs, _ = self._forward(self.unflatten(w), 0)
        return zs[-1]

    @_quiet
    def loss(self, w: ArrayLike) -> Array:
        R = self.predict(w) - self.Y
        return 0.5 * np.sum(R * R, axis=(-2, -1))

    @_quiet
    def grad(self, w: ArrayLike) -> Array:
        return self._backprop(self._params(w), False)[1]

    def _backprop(self, w: Array, with_loss: bool) -> tuple[Array | None, Array]:
        """Backpropagation written straight into the flat layout (no :meth:`flatten` round trip)."""
        layers = self.unflatten(w)
        a, zs, acts = self._forward(layers, 1)
        delta = zs[-1] - self.Y  # the residual R of loss()
        f = 0.5 * np.sum(delta * delta, axis=(-2, -1)) if with_loss else None
        batch = w.shape[:-1]
        out = np.empty(batch + (self.n_params,))
        for j in range(self.depth - 1, -1, -1):
            sw, sb = self.layer_slices[j]
            # the product written straight into its block of the flat gradient (a view, never a copy)
            np.matmul(delta, _mT(a[j]), out=out[..., sw].reshape(batch + self.shapes[j], copy=False))
            if sb is not None:
                out[..., sb] = delta.sum(axis=-1)
            if j > 0:
                delta = _mT(layers[j][0]) @ delta
                delta *= acts[j - 1][1]
        return f, out

    @_quiet
    def loss_and_grad(self, w: ArrayLike) -> tuple[Array, Array]:
        """``(loss(w), grad(w))`` from one forward pass, each bit for bit equal to :meth:`loss` and :meth:`grad`.

        A GD loop that records the loss at every step saves the forward pass that :meth:`loss` would
        repeat (a third of the cost of a step for a one-hidden-layer network).

        >>> X = np.array([[0.0, 1.0, 2.0]]); Y = np.array([[0.0, 1.0, 0.0]])
        >>> net = MLP(X, Y, widths=(1, 3, 1)); w = net.random_params(rng=0, size=(2,))
        >>> f, g = net.loss_and_grad(w)
        >>> bool(np.array_equal(f, net.loss(w))), bool(np.array_equal(g, net.grad(w)))
        (True, True)
        """
        return self._backprop(self._params(w), True)

    @_quiet
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        w, v = _checks.broadcast(self._params(w), self._params(v, "v"), ("w", "v"))
        layers, dirs = self.unflatten(w), self.unflatten(v)
        a, zs, acts = self._forward(layers, 2)
        # forward R-pass: Ra[j] = R{a_j}, Rz[j] = R{z_j}
        Ra: list[Any] = [None]
        Rz: list[Array] = []
        for j, ((W, _), (V, c)) in enumerate(zip(layers, dirs)):
            rz = V @ a[j]
            if Ra[j] is not None:
                rz = rz + W @ Ra[j]
            if c is not None:
                rz = rz + c[..., None]
            Rz.append(rz)
            if j < self.depth - 1:
                Ra.append(acts[j][1] * rz)
        # backward pass and its R-derivative
        delta, Rdelta = zs[-1] - self.Y, Rz[-1]
        batch = w.shape[:-1]
        out = np.empty(batch + (self.n_params,))  # written block by block, as in _backprop
        for j in range(self.depth - 1, -1, -1):
            W, V = layers[j][0], dirs[j][0]
            sw, sb = self.layer_slices[j]
            RgW = out[..., sw].reshape(batch + self.shapes[j], copy=False)
            np.matmul(Rdelta, _mT(a[j]), out=RgW)
            if Ra[j] is not None:
                RgW += delta @ _mT(Ra[j])
            if sb is not None:
                out[..., sb] = Rdelta.sum(axis=-1)
            if j > 0:
                back = _mT(W) @ delta
                _, d1, d2 = acts[j - 1]
                Rdelta = (_mT(V) @ delta + _mT(W) @ Rdelta) * d1 + back * d2 * Rz[j - 1]
                delta = back * d1
        return out
