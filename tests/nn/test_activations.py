"""The activations (tdnumpy.nn.activations): gradients by central differences
and ReLU's gradient at and below its kink."""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn import ReLU, Sigmoid, Tanh
from tdnumpy.testing import check_gradients

TOL = 1e-6


def away_from_zero(rng, shape, margin=0.05):
    """Inputs with |x| >= margin, so that no central difference straddles ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


@pytest.mark.parametrize("activation", [ReLU, Tanh, Sigmoid])
def test_activation_gradients(activation, rng):
    x = away_from_zero(rng, (5, 7))
    result = check_gradients(activation(), x, rng)
    assert result.max_error < TOL, result.errors


def test_relu_gradient_is_zero_below_the_kink(rng):
    relu = ReLU()
    x = np.array([[-2.0, -1e-9, 0.0, 1e-9, 3.0]])
    relu.forward(x)
    assert relu.backward(np.ones_like(x)).tolist() == [[0.0, 0.0, 0.0, 1.0, 1.0]]
