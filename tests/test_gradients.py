"""Gradient checks, float64, central differences: every layer, the loss and whole networks.

Tolerance: max relative error 1e-6 (see tdnumpy.testing.gradcheck for the
definition). Observed errors are 1e-7 or smaller; a wrong backward rule
(a missing transpose, a dropped term) gives errors of order 1.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdnumpy.models import build_model
from tdnumpy.nn import Dense, Module, ReLU, Sequential, Sigmoid, Tanh, softmax_cross_entropy
from tdnumpy.testing import check_gradients, relative_error

TOL = 1e-6


def away_from_zero(rng, shape, margin=0.05):
    """Inputs with |x| >= margin, so that no central difference straddles ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 6), fan_in=st.integers(1, 9), units=st.integers(1, 9),
       bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_dense_gradients(batch, fan_in, units, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(fan_in, units, rng=rng, bias=bias, dtype=np.float64, name="fc")
    if bias:
        layer.bias.value[:] = rng.standard_normal(units)
    result = check_gradients(layer, rng.standard_normal((batch, fan_in)), rng)
    expected = {"weight", "input"} | ({"bias"} if bias else set())
    assert set(result.errors) == expected
    assert result.max_error < TOL, result.errors


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


class _LossModule(Module):
    """softmax_cross_entropy seen as a module: logits -> loss (shape (1,))."""

    def __init__(self, labels):
        super().__init__("loss")
        self.labels = labels

    def forward(self, x, training=False):
        loss, self._grad = softmax_cross_entropy(x, self.labels)
        return np.array([loss])

    def backward(self, grad_out, input_grad=True):
        return self._grad * grad_out[0]


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_softmax_cross_entropy_gradient(scale, rng):
    logits = scale * rng.standard_normal((6, 10))
    labels = rng.integers(0, 10, 6)
    # The loss is smooth (no kinks), so a larger step h = 1e-4 keeps the
    # truncation error negligible while cutting the rounding error ~eps |L| / h.
    result = check_gradients(_LossModule(labels), logits, rng, h=1e-4)
    assert result.max_error < TOL, result.errors


@pytest.mark.parametrize("spec", ["lenet300", "mlp:20-16-12-5:tanh", "mlp:20-16-5:sigmoid", "mlp:20-3"])
def test_whole_network_gradients(spec, rng):
    model = build_model(spec, seed=3, dtype=np.float64)
    for p in model.parameters():  # non-zero biases, so their gradients are exercised
        if p.name.endswith("bias"):
            p.value[:] = 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((8, model.input_shape[0]))
    # lenet300 has 266,610 weights: check 300 random entries of each array.
    result = check_gradients(model, x, rng, max_entries=300)
    assert set(result.errors) == set(model.named_parameters()) | {"input"}
    assert result.max_error < TOL, result.errors


def test_network_with_loss_gradients(rng):
    """The full training objective: loss(model(x)) with respect to every parameter."""
    model = build_model("mlp:12-10-8-4", seed=1, dtype=np.float64)
    labels = rng.integers(0, 4, 7)
    net = Sequential(*model.layers, _LossModule(labels))
    result = check_gradients(net, rng.standard_normal((7, 12)), rng)
    assert result.max_error < TOL, result.errors


def test_gradient_check_catches_a_wrong_backward(rng):
    """The check itself can fail: a Dense layer whose weight gradient misses a
    factor must be reported with a large error."""

    class Broken(Dense):
        def backward(self, grad_out, input_grad=True):
            out = super().backward(grad_out, input_grad)
            self.weight.grad *= 1.001
            return out

    layer = Broken(4, 3, rng=rng, dtype=np.float64, name="broken")
    result = check_gradients(layer, rng.standard_normal((5, 4)), rng)
    assert result.errors["weight"] > 5e-4
    assert result.errors["input"] < TOL


def test_relative_error_definition():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0, -2.0]), np.array([1.0, -2.2])) == pytest.approx(0.2 / 2.2)
    # tiny entries are compared against 1e-3 of the largest magnitude
    assert relative_error(np.array([1.0, 1e-9]), np.array([1.0, 2e-9])) == pytest.approx(1e-9 / 1e-3)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
