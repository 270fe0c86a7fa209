r"""The output Jacobian and the neural tangent kernel :math:`\Theta = JJ^\top` of a scalar-output ``MLP`` on its training inputs."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .initialisation import _check_scalar_mlp
from .objectives import MLP

__all__ = ["output_jacobian", "tangent_kernel"]

Array = NDArray[np.float64]


def output_jacobian(net: MLP, w: ArrayLike) -> Array:
    r"""Jacobian of the outputs on the training inputs, :math:`\partial\,\mathrm{out}(x_i)/\partial w`; shape ``(..., n, n_params)``.

    For a scalar-output ``MLP``.  Uses only ``grad``: shifting the target of sample ``i`` by one
    changes :math:`\nabla f = \sum_j e_j \nabla \mathrm{out}(x_j)` by :math:`-\nabla\mathrm{out}(x_i)`, so
    :math:`\nabla\mathrm{out}(x_i) = \nabla f_Y(w) - \nabla f_{Y + \delta_i}(w)` (exact up to rounding).
    """
    _check_scalar_mlp(net)
    w = net._params(w)
    g = net.grad(w)
    rows = []
    for i in range(net.X.shape[1]):
        Yi = net.Y.copy()
        Yi[0, i] += 1.0
        shifted = MLP(net.X, Yi, net.widths, net.activation, bias=net.bias)
        rows.append(g - shifted.grad(w))
    return np.stack(rows, axis=-2)


def tangent_kernel(net: MLP, w: ArrayLike) -> Array:
    r"""Neural tangent kernel :math:`\Theta(w) = J J^\top` on the training inputs; shape ``(..., n, n)``.

    For the square loss :math:`\|\nabla f\|^2 = e^\top\Theta e \ge 2\lambda_{\min}(\Theta) f`, so
    :math:`2\lambda_{\min}(\Theta(w))` is a pointwise PL constant (the PL* link of chapter 6), and the
    Gauss-Newton part :math:`J^\top J` of the Hessian has the same non-zero eigenvalues as :math:`\Theta`.

    >>> from gdlab.objectives import MLP
    >>> net = MLP(np.eye(2), np.ones((1, 2)), widths=(2, 3, 1))
    >>> w = net.random_params(rng=0)
    >>> th = tangent_kernel(net, w); g = net.grad(w); e = net.predict(w)[0] - net.Y[0]
    >>> bool(np.isclose(g @ g, e @ th @ e))
    True
    """
    J = output_jacobian(net, w)
    return J @ np.swapaxes(J, -1, -2)
