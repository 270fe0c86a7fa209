"""MLP.grad and MLP.hvp write each layer's block straight into the flat output (chapter 7's speed-up):
the values are those of the per-layer products assembled by MLP.flatten, bit for bit (the reference
below is the implementation before that change)."""
from __future__ import annotations

import numpy as np
import pytest

from gdlab.objectives import MLP
from gdlab.objectives._layout import _mT


def _grad_reference(net: MLP, w: np.ndarray) -> np.ndarray:
    layers = net.unflatten(w)
    a, zs, acts = net._forward(layers, 1)
    delta = zs[-1] - net.Y
    out: list = [None] * net.depth
    for j in range(net.depth - 1, -1, -1):
        gW = delta @ _mT(a[j])
        out[j] = (gW, delta.sum(axis=-1)) if net.bias else gW
        if j > 0:
            delta = (_mT(layers[j][0]) @ delta) * acts[j - 1][1]
    return net.flatten(out)


def _hvp_reference(net: MLP, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    w, v = np.broadcast_arrays(w, v)
    layers, dirs = net.unflatten(w), net.unflatten(v)
    a, zs, acts = net._forward(layers, 2)
    Ra: list = [None]
    Rz: list = []
    for j, ((W, _), (V, c)) in enumerate(zip(layers, dirs)):
        rz = V @ a[j]
        if Ra[j] is not None:
            rz = rz + W @ Ra[j]
        if c is not None:
            rz = rz + c[..., None]
        Rz.append(rz)
        if j < net.depth - 1:
            Ra.append(acts[j][1] * rz)
    delta, Rdelta = zs[-1] - net.Y, Rz[-1]
    out: list = [None] * net.depth
    for j in range(net.depth - 1, -1, -1):
        W, V = layers[j][0], dirs[j][0]
        RgW = Rdelta @ _mT(a[j])
        if Ra[j] is not None:
            RgW = RgW + delta @ _mT(Ra[j])
        out[j] = (RgW, Rdelta.sum(axis=-1)) if net.bias else RgW
        if j > 0:
            back = _mT(W) @ delta
            _, d1, d2 = acts[j - 1]
            Rdelta = (_mT(V) @ delta + _mT(W) @ Rdelta) * d1 + back * d2 * Rz[j - 1]
            delta = back * d1
    return net.flatten(out)


@pytest.mark.parametrize("activation", MLP.ACTIVATIONS)
@pytest.mark.parametrize("bias", [False, True])
def test_grad_and_hvp_are_the_flattened_products_bit_for_bit(activation: str, bias: bool) -> None:
    rng = np.random.default_rng(21)
    X = rng.standard_normal((7, 5)); Y = rng.standard_normal((2, 5))
    for widths in ((7, 2), (7, 6, 2), (7, 6, 4, 2)):
        net = MLP(X, Y, widths, activation, bias=bias)
        for shape in ((), (3,), (2, 3)):
            w = net.random_params(rng=rng, size=shape) * 2.0
            v = rng.standard_normal(shape + (net.n_params,))
            assert np.array_equal(net.grad(w), _grad_reference(net, w)), (widths, shape)
            assert np.array_equal(net.hvp(w, v), _hvp_reference(net, w, v)), (widths, shape)
        # broadcasting of w against v (the dense Hessian's call), and an empty batch
        w = net.random_params(rng=rng, size=(2,))
        eye = np.eye(net.n_params)
        assert np.array_equal(net.hvp(w[:, None, :], eye), _hvp_reference(net, w[:, None, :], eye))
        assert net.hvp(np.empty((0, net.n_params)), np.empty((0, net.n_params))).shape == (0, net.n_params)
