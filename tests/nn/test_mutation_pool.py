"""Pooling and Flatten (tdnumpy.nn.pool): input gradients in the input's
dtype, the side-by-side max-pool backward across batch sizes, Flatten of a
2-D input, and Flatten's error in full.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from tdnumpy.nn import AvgPool2D, Flatten, MaxPool2D


def _max_pool_reference(x, k, s, grad_out):
    """dL/dx of max pooling by loops: each window's gradient to its first maximum (row-major)."""
    dx = np.zeros_like(x)
    n, c, h, w = x.shape
    for a in range(n):
        for b in range(c):
            for p in range((h - k) // s + 1):
                for q in range((w - k) // s + 1):
                    window = x[a, b, p * s:p * s + k, q * s:q * s + k]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    dx[a, b, p * s + i, q * s + j] += grad_out[a, b, p, q]
    return dx


@pytest.mark.parametrize("layer, height", [(MaxPool2D(3, 1), 6), (MaxPool2D(2), 6), (MaxPool2D(2), 7),
                                           (AvgPool2D(3, 1), 6), (AvgPool2D(2), 6)],
                         ids=["max-overlapping", "max-adjacent", "max-adjacent-uncovered", "avg-overlapping", "avg"])
def test_the_input_gradient_keeps_the_float32_dtype(layer, height):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, height, 8)).astype(np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32 and dx.shape == x.shape


def test_side_by_side_max_pooling_follows_a_change_of_batch_size():
    rng = np.random.default_rng(1)
    layer = MaxPool2D(2)
    for batch in (2, 3, 2):
        x = rng.standard_normal((batch, 2, 5, 4))  # 5 rows: the last one is not covered
        g = rng.standard_normal(layer.forward(x, training=True).shape)
        np.testing.assert_array_equal(layer.backward(g), _max_pool_reference(x, 2, 2, g))


@pytest.mark.parametrize("call, message", [
    (lambda: MaxPool2D((0, 2)), "The 'kernel_size' parameter of MaxPool2D must be an int in the range [1, inf). "
                                "Got 0 instead."),
    (lambda: MaxPool2D((2, 0)), "The 'kernel_size' parameter of MaxPool2D must be an int in the range [1, inf). "
                                "Got 0 instead."),
    (lambda: AvgPool2D(0), "The 'kernel_size' parameter of AvgPool2D must be an int in the range [1, inf). "
                           "Got 0 instead."),
], ids=["kh", "kw", "kernel"])
def test_a_bad_window_gets_the_documented_message_in_full(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_a_window_of_one_pixel_keeps_the_input_and_the_layer_keeps_its_name():
    layer = AvgPool2D(1, name="identity")
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    assert layer.name == "identity"
    np.testing.assert_array_equal(layer.forward(x), x)


def test_the_geometry_of_a_pool_has_no_padding():
    g = MaxPool2D(2).geometry(np.zeros((1, 1, 4, 4)))
    assert g.pad == (0, 0, 0, 0) and g.dilation == 1 and (g.oh, g.ow) == (2, 2)


def test_flatten_passes_a_two_dimensional_input_through():
    layer = Flatten(name="flatten1")
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones((2, 3))), np.ones((2, 3)))


def test_flatten_refuses_an_input_that_is_not_an_array_in_full():
    with pytest.raises(ValueError) as caught:
        Flatten(name="flatten1").forward([1.0, 2.0])
    assert str(caught.value) == ("Flatten('flatten1') expects input of shape (batch, ...) with at least 2 dimensions. "
                                 "Got list instead.")
