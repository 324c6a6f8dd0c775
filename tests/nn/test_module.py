"""Parameters, modules and Sequential (tdnumpy.nn.module): names, masks, and the
checks every layer's backward inherits (called before forward, gradient of the
wrong shape or dtype)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tdnumpy.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Parameter, ReLU, Sequential, Sigmoid, Tanh
from tdnumpy.nn.models import build_model


def test_sequential_names_and_duplicates(rng):
    seq = Sequential(Dense(2, 2, rng=rng), ReLU(), Dense(2, 2, rng=rng), ReLU())
    assert [layer.name for layer in seq.layers] == ["fc1", "relu1", "fc2", "relu2"]
    assert seq.layer("fc2") is seq.layers[2]
    with pytest.raises(KeyError, match="No layer named 'fc9'"):
        seq.layer("fc9")
    with pytest.raises(ValueError, match="named 'a'"):
        Sequential(ReLU(name="a"), ReLU(name="a"))
    with pytest.raises(TypeError, match="Module"):
        Sequential(np.zeros(3))


def test_first_layer_skips_input_gradient(rng):
    model = build_model("mlp:6-4-2", dtype=np.float64)
    model.forward(rng.standard_normal((3, 6)))
    assert model.backward(rng.standard_normal((3, 2)), input_grad=False) is None


def test_parameter_mask_zeroes_and_validates(rng):
    p = Parameter(rng.standard_normal((3, 2)) + 5, "w")
    keep = np.array([[True, False], [True, True], [False, True]])
    p.set_mask(keep)
    assert (p.value[~keep] == 0).all() and (p.value[keep] != 0).all()
    with pytest.raises(ValueError, match="boolean array of shape \\(3, 2\\)"):
        p.set_mask(keep.astype(int))
    with pytest.raises(ValueError, match="shape"):
        p.set_mask(keep[:2])


@pytest.mark.parametrize("layer", [Dense(3, 2, rng=np.random.default_rng(0)), ReLU(), Tanh(), Sigmoid(),
                                   Conv2D(1, 2, 3, rng=np.random.default_rng(0)), MaxPool2D(2), AvgPool2D(2),
                                   Flatten()])
def test_backward_before_forward_is_a_clear_error(layer):
    with pytest.raises(RuntimeError, match="backward was called before forward"):
        type(layer).backward(layer, np.zeros((1, 2), np.float32))


@pytest.mark.parametrize("layer, x, bad", [
    (Dense(3, 2, rng=np.random.default_rng(0)), np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)),
    (ReLU(), np.zeros((4, 3), np.float32), np.zeros((3, 4), np.float32)),
    (Conv2D(1, 2, 3, rng=np.random.default_rng(0)), np.zeros((2, 1, 5, 5), np.float32),
     np.zeros((2, 2, 5, 5), np.float32)),
    (MaxPool2D(2), np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 3, 4, 4), np.float32)),
    (Flatten(), np.zeros((2, 3, 4, 4), np.float32), np.zeros((2, 47), np.float32)),
])
def test_gradient_of_the_wrong_shape_is_a_clear_error(layer, x, bad):
    out = layer.forward(x)
    expected = f"grad_out must have the shape of the forward output, {tuple(out.shape)}. Got {bad.shape}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        layer.backward(bad)


@pytest.mark.parametrize("layer, shape", [(Dense(3, 2, rng=np.random.default_rng(0)), (4, 3)), (ReLU(), (4, 3)),
                                          (Conv2D(1, 2, 3, rng=np.random.default_rng(0)), (2, 1, 5, 5)),
                                          (MaxPool2D(2), (2, 1, 4, 4)), (Flatten(), (2, 1, 4, 4))])
def test_a_float64_gradient_into_a_float32_layer_is_refused(layer, shape):
    out = layer.forward(np.zeros(shape, np.float32))
    with pytest.raises(TypeError, match="grad_out must be float32 like the forward output. Got float64"):
        layer.backward(np.zeros(out.shape))
