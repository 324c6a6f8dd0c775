"""The fully connected layer (tdnumpy.nn.dense): Y = X W + b, its gradients,
and clear errors for bad input and arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdnumpy.nn import Dense
from tdnumpy.nn.models import build_model
from tdnumpy.testing import check_gradients

TOL = 1e-6


def test_dense_computes_xw_plus_b(rng):
    layer = Dense(3, 2, rng=rng, dtype=np.float64)
    layer.bias.value[:] = [0.5, -1.0]
    x = rng.standard_normal((4, 3))
    w = layer.weight.value
    expected = np.array([[sum(x[n, i] * w[i, o] for i in range(3)) + layer.bias.value[o] for o in range(2)]
                         for n in range(4)])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


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


def test_backward_overwrites_instead_of_accumulating(rng):
    layer = Dense(4, 3, rng=rng, dtype=np.float64)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    layer.forward(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    layer.forward(x)
    layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, first)


def test_dense_rejects_wrong_shape_naming_layer_and_shapes(rng):
    model = build_model("lenet300")
    with pytest.raises(ValueError, match=r"Dense 'fc1' \(784 -> 300\) expects input of shape \(batch, 784\)\. "
                                         r"Got shape \(2, 785\)"):
        model.forward(np.zeros((2, 785), np.float32))
    with pytest.raises(ValueError, match=r"'fc1'.*Got shape \(784,\)"):
        model.forward(np.zeros(784, np.float32))


def test_dense_rejects_wrong_dtype_instead_of_upcasting(rng):
    model = build_model("lenet300")
    with pytest.raises(TypeError, match=r"'fc1'.*float32 weights.*Got float64"):
        model.forward(np.zeros((2, 784)))
    with pytest.raises(TypeError, match=r"Got uint8"):
        model.forward(np.zeros((2, 784), np.uint8))


@pytest.mark.parametrize("kwargs, match", [
    (dict(fan_in=0, units=3), "'fan_in' parameter of Dense must be an int in the range \\[1, inf\\). Got 0"),
    (dict(fan_in=3, units=-1), "'units'"),
    (dict(fan_in=2.5, units=3), "'fan_in'"),
    (dict(fan_in=3, units=3, dtype=np.int32), "'dtype'"),
    (dict(fan_in=3, units=3, init="zeros"), "'init'"),
])
def test_dense_rejects_bad_arguments(kwargs, match, rng):
    with pytest.raises((ValueError, TypeError), match=match):
        Dense(rng=rng, **kwargs)


def test_dense_needs_an_explicit_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        Dense(3, 3, rng=0)
