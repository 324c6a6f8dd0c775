"""Element-wise activations. Each remembers its output, which is all its
backward rule needs."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .module import Module


class ReLU(Module):
    """y = max(x, 0);  dL/dx = dL/dy * [y > 0] (the subgradient 0 at x = 0)."""

    kind = "relu"

    def forward(self, x, training=False):
        self._y = np.maximum(x, 0)
        return self._y

    def backward(self, grad_out, input_grad=True):
        return grad_out * (self._y > 0)


class Tanh(Module):
    """y = tanh(x);  dL/dx = dL/dy * (1 - y^2)."""

    kind = "tanh"

    def forward(self, x, training=False):
        self._y = np.tanh(x)
        return self._y

    def backward(self, grad_out, input_grad=True):
        return grad_out * (1 - self._y * self._y)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)) (overflow-free, via scipy.special.expit);
    dL/dx = dL/dy * y (1 - y)."""

    kind = "sigmoid"

    def forward(self, x, training=False):
        self._y = expit(x)
        return self._y

    def backward(self, grad_out, input_grad=True):
        return grad_out * self._y * (1 - self._y)


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
