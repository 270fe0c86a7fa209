"""The :class:`Objective` interface: a loss on flat float64 parameters with exact derivatives, batched."""
from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _checks

__all__ = ["Objective"]

Array = NDArray[np.float64]

_F = TypeVar("_F", bound=Callable)


def _quiet(method: _F) -> _F:
    """Evaluate ``method`` with overflow and invalid-operation warnings off: at huge or non-finite ``w``
    an objective returns inf or NaN cleanly instead of leaking a ``RuntimeWarning``."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Objective(ABC):
    """A twice-differentiable loss on ``R^n_params`` with exact derivatives."""

    n_params: int

    @abstractmethod
    def loss(self, w: ArrayLike) -> Array:
        """Loss values, shape ``(...,)``."""

    @abstractmethod
    def grad(self, w: ArrayLike) -> Array:
        """Gradient, shape ``(..., n_params)``."""

    def loss_and_grad(self, w: ArrayLike) -> tuple[Array, Array]:
        """``(loss(w), grad(w))``, bit for bit those of :meth:`loss` and :meth:`grad`.

        The default makes the two calls; a model whose gradient repeats the forward pass of its loss
        (:class:`~gdlab.objectives.MLP`) computes both from one pass. :func:`gdlab.descent.run` uses it
        at the steps where it needs both.
        """
        return self.loss(w), self.grad(w)

    @abstractmethod
    def hvp(self, w: ArrayLike, v: ArrayLike) -> Array:
        """Hessian-vector product :math:`\\nabla^2 f(w) v`, shape ``(..., n_params)``."""

    @_quiet
    def hessian(self, w: ArrayLike) -> Array:
        """Dense Hessian, shape ``(..., n_params, n_params)``, from ``n_params`` HVPs.

        Meant for small models and for checking ``hvp``; it costs ``n_params`` HVPs.
        """
        w = self._params(w)
        eye = np.eye(self.n_params)
        cols = self.hvp(w[..., None, :], eye)  # (..., n, n): row j is H e_j
        return 0.5 * (cols + np.swapaxes(cols, -1, -2))

    def min_sharpness(self) -> float:
        """Top Hessian eigenvalue at the flattest global minimiser (closed form)."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form min_sharpness")

    def _params(self, w: ArrayLike, name: str = "w") -> Array:
        return _checks.params(w, self.n_params, name)

    #: True when :meth:`_grad_T` performs exactly the floating-point operations of :meth:`grad`
    #: (then :func:`gdlab.descent.run` iterates in the parameter-major layout, with the same iterates).
    _grad_T_exact: bool = False

    #: True when :meth:`_grad_T` is a native parameter-major implementation (then
    #: :func:`gdlab.descent.sweep` uses it). Its arithmetic equals that of :meth:`grad` for
    #: DeepScalarLinear and Polynomial1D (so sweep and run agree bit for bit) and agrees to
    #: rounding for LinearNetwork (einsum summation order).
    _fast_T: bool = False

    def _scaled_grad(self, w: Array, step_size: Array) -> Array:
        """The GD increment :math:`\\eta\\nabla f(w)` (``step_size`` of shape ``(..., 1)``) with this objective's
        operation order: :func:`gdlab.descent.gd_map` and :func:`gdlab.descent.run` step by
        ``w - _scaled_grad(w, step_size)``. Default ``step_size * grad(w)``; an objective that overrides it
        (:class:`~gdlab.objectives.ScalarFactorisation`) is iterated by ``run`` with this step alone, its
        records' loss and gradient norm evaluated once at the end."""
        return step_size * self.grad(w)

    def _loss_T_from_work(self, work: dict) -> Array | None:
        """The loss at the point of the last ``_grad_T(wT, work=work)`` call, from the intermediate values it left
        in ``work``, with exactly the arithmetic of :meth:`loss` (so :func:`gdlab.descent.run` need not evaluate
        the loss again at its records); ``None`` (the default) when the objective keeps no such values."""
        return None

    def _outside_domain(self, w: Array, axis: int = -1) -> NDArray[np.bool_] | None:
        """Mask of the runs (parameters along ``axis``) outside the set where :meth:`_scaled_grad` is valid,
        or ``None`` (default: valid everywhere). Part of the divergence policy of :func:`gdlab.descent.run`:
        such a run is flagged and frozen like one that overflowed."""
        return None

    def _grad_T(self, wT: Array, out: Array | None = None, work: dict | None = None) -> Array:
        """Gradient in parameter-major layout ``(n_params, ...)`` (default: transpose and call ``grad``)."""
        g = np.moveaxis(self.grad(np.moveaxis(wT, 0, -1)), -1, 0)
        if out is None:
            return g
        out[...] = g
        return out
