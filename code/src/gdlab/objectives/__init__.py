r"""Objectives on flat float64 parameter vectors, batched over leading axes.

Every objective maps parameters ``w`` of shape ``(..., n_params)`` to

* ``loss(w)``: shape ``(...,)``,
* ``grad(w)``: shape ``(..., n_params)``, the exact gradient :math:`\nabla f(w)`,
* ``hvp(w, v)``: shape ``(..., n_params)``, the exact Hessian-vector product
  :math:`\nabla^2 f(w)\,v` (``v`` broadcasts against ``w``),

so a whole batch of parameter vectors is evaluated in one array operation.
``min_sharpness()`` returns :math:`\min_{w \in \mathcal M} \lambda_{\max}(\nabla^2 f(w))`
over the set :math:`\mathcal M` of global minimisers where a closed form is proved, and raises
``NotImplementedError`` otherwise.

Objectives: :class:`Quadratic`, :class:`DeepScalarLinear` :math:`\tfrac12(w_1\cdots w_L - y)^2`,
:class:`ScalarFactorisation` (the same loss with the quotient gradient :math:`(P - y)P/w` of the scalar
factorisation's long runs), :class:`Polynomial1D`, :class:`LinearNetwork` :math:`\tfrac12\|W_L\cdots W_1X - Y\|_F^2` (with
``min_sharpness_bounds()`` for general input covariance) and :class:`MLP` (squared loss, smooth
activations, backprop gradient and R-operator HVP). Data layout: ``X`` is ``(d, n)``, ``Y`` is ``(k, n)``.
All losses carry the factor :math:`\tfrac12`; without it every sharpness doubles and
every critical step size halves.
"""
from __future__ import annotations

from ._layout import _mT, _network_data, _widths
from .base import Array, Objective, _quiet
from .linear_network import LinearNetwork, SharpnessBounds
from .mlp import MLP, _activation
from .polynomial import Polynomial1D
from .quadratic import Quadratic
from .scalar_network import DeepScalarLinear, ScalarFactorisation

__all__ = ["DeepScalarLinear", "LinearNetwork", "MLP", "Objective", "Polynomial1D", "Quadratic", "ScalarFactorisation", "SharpnessBounds"]
