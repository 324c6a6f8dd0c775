"""Convolution (tdnumpy.nn.conv): against an independent reference
(scipy.signal.correlate), the weight's (fan_in, units) view, gradient checks,
float32 throughout and bad input (the input checks of the pools and Flatten
included)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.signal import correlate

from strategies import conv_configs, conv_fits, make_conv
from tdnumpy.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Sequential
from tdnumpy.nn.im2col import channels_last, cols_order, im2col
from tdnumpy.nn.models import build_model
from tdnumpy.testing import check_gradients

TOL = 1e-6


def reference_conv(x, kernel, bias, stride, pad, dilation):
    """Convolution built from scipy.signal.correlate, one (example, filter, channel) at a time.

    pad = (top, bottom, left, right); the kernel is dilated by inserting zeros."""
    f, c, kh, kw = kernel.shape
    dilated = np.zeros((f, c, dilation * (kh - 1) + 1, dilation * (kw - 1) + 1), kernel.dtype)
    dilated[:, :, ::dilation, ::dilation] = kernel
    xp = np.pad(x, ((0, 0), (0, 0), pad[:2], pad[2:]))
    out = []
    for n in range(x.shape[0]):
        maps = []
        for o in range(f):
            acc = sum(correlate(xp[n, ch], dilated[o, ch], mode="valid", method="direct") for ch in range(c))
            maps.append(acc[::stride, ::stride] + bias[o])
        out.append(maps)
    return np.array(out, dtype=x.dtype)


def reference_padding(config):
    """(top, bottom, left, right) worked out from the config alone, not from the layer."""
    padding, s, d = config["padding"], config["stride"], config["dilation"]
    if padding == "valid":
        return (0, 0, 0, 0)
    if isinstance(padding, int):
        return (padding,) * 4
    if isinstance(padding, tuple):
        return (padding[0], padding[0], padding[1], padding[1])
    pads = []
    for size, k in ((config["h"], config["kernel_size"][0]), (config["w"], config["kernel_size"][1])):
        out = math.ceil(size / s)  # 'same': ceil(size / stride) outputs, extra padding after
        total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


@settings(max_examples=120, deadline=None)
@given(config=conv_configs(), dtype=st.sampled_from([np.float32, np.float64]))
def test_forward_matches_scipy_correlate(config, dtype):
    assume(conv_fits(config))
    layer, x, _ = make_conv(config, dtype)
    bias = layer.bias.value if layer.bias is not None else np.zeros(config["f"], dtype)
    expected = reference_conv(x.astype(np.float64), layer.kernel.astype(np.float64), bias.astype(np.float64),
                              config["stride"], reference_padding(config), config["dilation"])
    got = layer.forward(x)
    assert got.shape == expected.shape and got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@settings(max_examples=40, deadline=None)
@given(config=conv_configs())
def test_conv_gradients(config):
    assume(conv_fits(config))
    layer, x, rng = make_conv(config, np.float64)
    result = check_gradients(layer, x, rng)
    assert {"weight", "input"} <= set(result.errors)
    assert result.max_error < TOL, result.errors


@pytest.mark.parametrize("channels, size, order", [(4, 5, "C"), (1, 8, "F")])
def test_weight_gradient_is_patches_transposed_times_output_gradient(rng, channels, size, order):
    """dL/dW = cols^T G for a row-major patch matrix (C >= OW, taken as (G^T cols)^T)
    and for a column-major one."""
    layer = Conv2D(channels, 3, 3, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, channels, size, size))
    y = layer.forward(x, training=True)
    grad = rng.standard_normal(y.shape)
    layer.backward(grad)
    g = layer.geometry(x.shape)
    assert cols_order(g) == order
    cols = im2col(channels_last(x), g)
    expected = cols.T @ np.ascontiguousarray(channels_last(grad)).reshape(-1, 3)
    np.testing.assert_allclose(layer.weight.grad, expected, rtol=1e-12, atol=1e-12)


def test_weight_is_the_fan_in_by_units_view(rng):
    """One column per filter; rows in (i, j, c) order, i.e. a (kh, kw, in, out) kernel reshaped to (-1, out)."""
    layer = Conv2D(3, 4, (2, 5), rng=rng)
    assert layer.weight.shape == (2 * 5 * 3, 4) == (layer.fan_in, layer.units)
    assert layer.kernel.shape == (4, 3, 2, 5)
    f, c, i, j = 2, 1, 1, 3
    assert layer.kernel[f, c, i, j] == layer.weight.value[(i * 5 + j) * 3 + c, f]
    np.testing.assert_array_equal(layer.kernel.transpose(2, 3, 1, 0).reshape(-1, 4), layer.weight.value)


def test_1x1_convolution_is_a_dense_layer_on_channels(rng):
    conv = Conv2D(5, 3, 1, rng=rng, dtype=np.float64)
    dense = Dense(5, 3, rng=rng, dtype=np.float64)
    dense.weight.value[...] = conv.weight.value
    x = rng.standard_normal((2, 5, 4, 4))
    expected = dense.forward(x.transpose(0, 2, 3, 1).reshape(-1, 5)).reshape(2, 4, 4, 3).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(conv.forward(x), expected, rtol=1e-13)


def test_conv_stack_with_padding_stride_dilation_gradients(rng):
    seq = Sequential(Conv2D(2, 3, 3, rng=rng, padding="same", dtype=np.float64),
                     AvgPool2D(2),
                     Conv2D(3, 4, 2, rng=rng, stride=2, padding=1, dilation=2, dtype=np.float64),
                     Flatten(), Dense(16, 3, rng=rng, dtype=np.float64))
    result = check_gradients(seq, rng.standard_normal((2, 2, 8, 8)), rng)
    assert result.max_error < TOL, result.errors


def test_conv_keeps_float32(rng):
    model = build_model("lenet5")
    out = model.forward(rng.random((4, 1, 28, 28), dtype=np.float32), training=True)
    assert out.dtype == np.float32
    model.backward(np.ones_like(out))
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_same_padding_buffer_is_not_shared_between_paddings(rng):
    """'same' with stride 2 pads 8x8 by (0, 1) and 7x7 by (1, 1): both give 9x9;
    the second call must not see the first one's data in its border."""
    layer = Conv2D(1, 1, 3, rng=rng, stride=2, padding="same", dtype=np.float64)
    x8, x7 = rng.standard_normal((1, 1, 8, 8)), rng.standard_normal((1, 1, 7, 7))
    layer.forward(x8)
    reused = layer.forward(x7)
    fresh = Conv2D(1, 1, 3, rng=rng, stride=2, padding="same", dtype=np.float64)
    fresh.weight.value[...] = layer.weight.value
    np.testing.assert_array_equal(reused, fresh.forward(x7))


@pytest.mark.parametrize("make, shape, match", [
    (lambda r: Conv2D(1, 2, 5, rng=r), (1, 1, 4, 4),
     r"kernel \(spanning 5x5 with dilation 1\) is larger than the padded input \(4x4\)"),
    (lambda r: Conv2D(1, 2, 3, rng=r, dilation=3), (1, 1, 6, 6), r"spanning 7x7 with dilation 3"),
    (lambda r: Conv2D(3, 2, 3, rng=r), (2, 1, 8, 8),
     r"expects 3 input channels, i.e. input of shape \(batch, 3, height, width\). Got shape \(2, 1, 8, 8\)"),
    (lambda r: Conv2D(1, 2, 3, rng=r), (8, 8), r"expects 4-D input .* Got shape \(8, 8\)"),
    (lambda r: Conv2D(1, 2, 3, rng=r), (1, 1, 1, 8, 8), r"expects 4-D input"),
    (lambda r: MaxPool2D(2), (1, 4, 4), r"MaxPool2D .* expects 4-D input"),
    (lambda r: AvgPool2D(5), (1, 1, 4, 4), r"5x5 window is larger than the input"),
    (lambda r: MaxPool2D((1, 5)), (1, 1, 4, 4), r"1x5 window is larger than the input of shape \(1, 1, 4, 4\)"),
    (lambda r: Flatten(), (5,), r"Flatten 'None'|at least 2 dimensions. Got \(5,\)"),
])
def test_bad_input_is_a_clear_error(make, shape, match, rng):
    layer = make(rng)
    with pytest.raises(ValueError, match=match):
        layer.forward(np.zeros(shape, np.float32))


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=0), r"'stride' parameter of Conv2D must be an int in the range \[1, inf\). Got 0"),
    (dict(stride=-1), "'stride'"),
    (dict(dilation=0), "'dilation'"),
    (dict(padding=-1), "'padding'"),
    (dict(padding="full"), "'padding' parameter of Conv2D must be an int >= 0, a pair of them, 'same' or 'valid'"),
    (dict(kernel_size=0), "'kernel_size'"),
])
def test_bad_conv_arguments(kwargs, match, rng):
    args = dict(in_channels=1, out_channels=2, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=match):
        Conv2D(rng=rng, **args)
    if "stride" in kwargs:
        with pytest.raises(ValueError, match="'stride' parameter of MaxPool2D"):
            MaxPool2D(2, stride=kwargs["stride"])


def test_conv_argument_types(rng):
    with pytest.raises(TypeError, match="'padding'"):
        Conv2D(1, 2, 3, rng=rng, padding=np.array([1, 1]))
    with pytest.raises(TypeError, match="'bias' parameter of Conv2D must be a bool"):
        Conv2D(1, 2, 3, rng=rng, bias="no")


def test_wrong_dtype_into_conv(rng):
    with pytest.raises(TypeError, match="float32 weights and expects float32 input. Got float64"):
        Conv2D(1, 2, 3, rng=rng).forward(np.zeros((1, 1, 5, 5)))
