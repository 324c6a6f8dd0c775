"""Element-wise activations. Each remembers its output, which is all its
backward rule needs."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .module import Module


class _Elementwise(Module):
    """y = f(x) element by element; subclasses give f and f' in terms of y.

    ``f(x)`` and ``df(y)`` are static methods; DropConnect's Gaussian
    inference applies ``f`` to its draws."""

    _y = None
    splittable = True  # element by element: any part of a batch on its own

    def forward(self, x, training=False):
        self._y = self.f(x)
        return self._y

    def backward(self, grad_out, input_grad=True):
        y = self._y
        self._check_grad(grad_out, None if y is None else y.shape, None if y is None else y.dtype)
        return grad_out * self.df(self._y)


class ReLU(_Elementwise):
    """Rectified linear unit, y = max(x, 0).

    dL/dx = dL/dy * [y > 0] (the subgradient 0 at x = 0).

    Parameters
    ----------
    name : str or None, default=None
        The layer's name.
    """

    kind = "relu"

    @staticmethod
    def f(x):
        return np.maximum(x, 0)

    @staticmethod
    def df(y):
        return y > 0


class Tanh(_Elementwise):
    """Hyperbolic tangent, y = tanh(x).

    dL/dx = dL/dy * (1 - y^2).

    Parameters
    ----------
    name : str or None, default=None
        The layer's name.
    """

    kind = "tanh"

    @staticmethod
    def f(x):
        return np.tanh(x)

    @staticmethod
    def df(y):
        return 1 - y * y


class Sigmoid(_Elementwise):
    """Logistic sigmoid, y = 1 / (1 + exp(-x)) (overflow-free, via scipy.special.expit).

    dL/dx = dL/dy * y (1 - y).

    Parameters
    ----------
    name : str or None, default=None
        The layer's name.
    """

    kind = "sigmoid"

    @staticmethod
    def f(x):
        return expit(x)

    @staticmethod
    def df(y):
        return y * (1 - y)


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
