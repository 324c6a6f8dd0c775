"""Convolution and pooling: against an independent reference (scipy.signal.correlate
and plain loops), the im2col/col2im adjoint identity, gradient checks and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.signal import correlate

from tdnumpy.models import build_model
from tdnumpy.nn import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Sequential
from tdnumpy.nn.im2col import ConvGeometry, col2im, col2im_matmul, cols_order, im2col, output_size, same_padding
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


@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"]),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    config = dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), f=draw(st.integers(1, 4)), h=h, w=w,
                  kernel_size=(kh, kw), stride=stride, dilation=dilation, padding=padding,
                  bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))
    return config


def _make(config, dtype):
    rng = np.random.default_rng(config["seed"])
    layer = Conv2D(config["c"], config["f"], config["kernel_size"], rng=rng, stride=config["stride"],
                   padding=config["padding"], dilation=config["dilation"], bias=config["bias"], dtype=dtype)
    if layer.bias is not None:
        layer.bias.value[:] = rng.standard_normal(config["f"])
    x = rng.standard_normal((config["n"], config["c"], config["h"], config["w"])).astype(dtype)
    return layer, x, rng


def _fits(config) -> bool:
    layer, x, _ = _make(config, np.float64)
    try:
        layer.geometry(x.shape)
    except ValueError:
        return False
    return True


@settings(max_examples=120, deadline=None)
@given(config=conv_configs(), dtype=st.sampled_from([np.float32, np.float64]))
def test_forward_matches_scipy_correlate(config, dtype):
    assume(_fits(config))
    layer, x, _ = _make(config, dtype)
    bias = layer.bias.value if layer.bias is not None else np.zeros(config["f"], dtype)
    expected = reference_conv(x.astype(np.float64), layer.kernel.astype(np.float64), bias.astype(np.float64),
                              config["stride"], reference_padding(config), config["dilation"])
    got = layer.forward(x)
    assert got.shape == expected.shape and got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("size, kernel, stride, dilation", [(28, 5, 1, 1), (7, 3, 2, 1), (8, 3, 2, 2), (5, 4, 1, 1)])
def test_same_padding_keeps_ceil_size_over_stride(size, kernel, stride, dilation):
    before, after = same_padding(size, kernel, stride, dilation)
    assert 0 <= after - before <= 1
    assert output_size(size, kernel, stride, dilation, before + after) == -(-size // stride)


@settings(max_examples=80, deadline=None)
@given(config=conv_configs(), order=st.sampled_from(["C", "F"]))
def test_im2col_col2im_adjoint(config, order):
    """<im2col(x), y> = <x, col2im(y)>: col2im is exactly the transpose of im2col,
    whichever memory order the patch matrix is stored in."""
    assume(_fits(config))
    layer, x, rng = _make(config, np.float64)
    g = layer.geometry(x.shape)
    xp = rng.standard_normal(g.padded_shape)
    y = rng.standard_normal(g.cols_shape)
    cols = im2col(xp, g, np.empty(g.cols_shape, order=order))
    np.testing.assert_array_equal(cols, im2col(xp, g))
    lhs = np.vdot(cols, y)
    rhs = np.vdot(xp, col2im(y, g))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(config=conv_configs())
def test_col2im_matmul_equals_col2im_of_the_product(config):
    assume(_fits(config))
    layer, x, rng = _make(config, np.float64)
    g = layer.geometry(x.shape)
    grad = rng.standard_normal((g.cols_shape[0], config["f"]))
    w = layer.weight.value
    np.testing.assert_allclose(col2im_matmul(grad, w, g), col2im(grad @ w.T, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c, oh_ow, expected", [(1, 24, "F"), (20, 8, "C"), (8, 8, "C")])
def test_cols_order_picks_the_longer_contiguous_runs(c, oh_ow, expected):
    g = ConvGeometry(2, c, oh_ow + 4, oh_ow + 4, 5, 5, 1, 1, (0, 0, 0, 0), oh_ow, oh_ow)
    assert cols_order(g) == expected


@pytest.mark.parametrize("c", [1, 3])
def test_im2col_layout_is_as_documented(c, rng):
    """cols[(n, p, q), (i, j, c)] = xp[n, p s + i d, q s + j d, c], checked entry by entry."""
    s, d = 2, 2
    g = ConvGeometry(n=2, c=c, h=9, w=8, kh=2, kw=3, stride=s, dilation=d, pad=(0, 0, 0, 0),
                     oh=output_size(9, 2, s, d, 0), ow=output_size(8, 3, s, d, 0))
    xp = rng.standard_normal(g.padded_shape)
    cols = im2col(xp, g)
    for n in range(g.n):
        for p in range(g.oh):
            for q in range(g.ow):
                row = (n * g.oh + p) * g.ow + q
                for i in range(g.kh):
                    for j in range(g.kw):
                        for ch in range(g.c):
                            assert cols[row, (i * g.kw + j) * g.c + ch] == xp[n, p * s + i * d, q * s + j * d, ch]


@settings(max_examples=40, deadline=None)
@given(config=conv_configs())
def test_conv_gradients(config):
    assume(_fits(config))
    layer, x, rng = _make(config, np.float64)
    result = check_gradients(layer, x, rng)
    assert {"weight", "input"} <= set(result.errors)
    assert result.max_error < TOL, result.errors


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


def reference_pool(x, kernel, s, reduce):
    kh, kw = kernel
    n, c, h, w = x.shape
    oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
    out = np.empty((n, c, oh, ow), x.dtype)
    for p in range(oh):
        for q in range(ow):
            out[:, :, p, q] = reduce(x[:, :, p * s:p * s + kh, q * s:q * s + kw], axis=(2, 3))
    return out


def reference_maxpool_grad(x, kernel, s, g):
    """dx by loops: each output's gradient to the first maximum of its window (row-major)."""
    kh, kw = kernel
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for p in range(g.shape[2]):
                for q in range(g.shape[3]):
                    window = x[n, c, p * s:p * s + kh, q * s:q * s + kw]
                    i, j = np.unravel_index(np.argmax(window), window.shape)  # argmax: first maximum
                    dx[n, c, p * s + i, q * s + j] += g[n, c, p, q]
    return dx


@settings(max_examples=60, deadline=None)
@given(kh=st.integers(1, 3), kw=st.integers(1, 3), s=st.integers(1, 3), h=st.integers(3, 7), w=st.integers(3, 7),
       seed=st.integers(0, 2**32 - 1))
def test_maxpool_ties_follow_the_first_maximum_rule_on_every_path(kh, kw, s, h, w, seed):
    """Inputs drawn from {0, 1, 2}: windows tie often. Both the stride = kernel path
    and the general one (overlapping, gapped, non-square) must match the loop."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (2, 2, h, w)).astype(np.float64)
    pool = MaxPool2D((kh, kw), stride=s)
    y = pool.forward(x)
    g = rng.standard_normal(y.shape)
    # overlapping windows sum in another order than the loop: equal to rounding;
    # a gradient sent to the wrong input is off by O(1)
    np.testing.assert_allclose(pool.backward(g), reference_maxpool_grad(x, (kh, kw), s, g), rtol=0, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(kh=st.integers(1, 4), kw=st.integers(1, 4), s=st.integers(1, 4), h=st.integers(1, 9),
       w=st.integers(1, 9), seed=st.integers(0, 2**32 - 1), pool=st.sampled_from(["max", "avg"]))
def test_pools_match_loops_and_have_correct_gradients(kh, kw, s, h, w, seed, pool):
    assume(kh <= h and kw <= w)
    rng = np.random.default_rng(seed)
    # distinct values at least 0.01 apart: no two entries of a window come within
    # the step h = 1e-5 of each other, so no central difference crosses a kink of max
    x = rng.permutation(2 * 3 * h * w).reshape(2, 3, h, w) * 0.01
    layer = (MaxPool2D if pool == "max" else AvgPool2D)((kh, kw), stride=s)
    expected = reference_pool(x, (kh, kw), s, np.max if pool == "max" else np.mean)
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-13)
    result = check_gradients(layer, x, rng)
    assert result.max_error < TOL, result.errors


def test_maxpool_tie_sends_the_gradient_to_exactly_one_input():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0],
                    [3.0, 2.0, 1.0, 3.0]]]])
    pool = MaxPool2D(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[3.0, 3.0]]]])
    dx = pool.backward(np.array([[[[10.0, 20.0]]]]))
    # first window: 3 at (0, 1) and (1, 0) tie -> (0, 1), the first in row-major order
    # second window: 3 at (0, 0) and (1, 1) of the window tie -> (0, 0)
    np.testing.assert_array_equal(dx, [[[[0, 10, 20, 0], [0, 0, 0, 0]]]])


def test_overlapping_maxpool_accumulates_gradient():
    x = np.array([[[[0.0, 5.0, 1.0]]]])
    pool = MaxPool2D((1, 2), stride=1)  # windows [0, 5] and [5, 1] share the maximum
    np.testing.assert_array_equal(pool.forward(x), [[[[5.0, 5.0]]]])
    np.testing.assert_array_equal(pool.backward(np.array([[[[1.0, 2.0]]]])), [[[[0.0, 3.0, 0.0]]]])


def test_flatten_round_trip(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    flat = Flatten()
    y = flat.forward(x)
    assert y.shape == (2, 60) and y[1, 23] == x[1, 1, 0, 3]
    np.testing.assert_array_equal(flat.backward(y), x)


def test_lenet5_is_the_caffe_network():
    """Layer by layer as in Caffe's LeNet-5 (no nonlinearity after the convolutions),
    initialised with U(-sqrt(3 / fan_in), sqrt(3 / fan_in))."""
    model = build_model("lenet5")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "ReLU", "Dense"]
    conv1, pool1, conv2 = model.layers[:3]
    assert (conv1.in_channels, conv1.out_channels, conv1.kh, conv1.kw, conv1.stride, conv1.padding) == \
        (1, 20, 5, 5, 1, (0, 0))
    assert (conv2.in_channels, conv2.out_channels, conv2.kh, conv2.kw) == (20, 50, 5, 5)
    assert (pool1.kh, pool1.kw, pool1.stride) == (2, 2, 2)
    for layer in (conv1, conv2, model.layers[5], model.layers[7]):
        limit = math.sqrt(3 / layer.fan_in)
        w = layer.weight.value
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert model.n_parameters() == 431_080


def test_lenet5_shape_and_parameter_count():
    model = build_model("lenet5")
    assert model.n_parameters() == 431_080
    assert [p.shape for p in model.parameters()] == [(25, 20), (20,), (500, 50), (50,), (800, 500), (500,),
                                                     (500, 10), (10,)]
    assert model.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_lenet5_gradients(rng):
    model = build_model("lenet5", seed=1, dtype=np.float64)
    for p in model.parameters():
        if p.name.endswith("bias"):
            p.value[:] = 0.1 * rng.standard_normal(p.shape)
    result = check_gradients(model, rng.standard_normal((3, 1, 28, 28)), rng, max_entries=150)
    assert set(result.errors) == set(model.named_parameters()) | {"input"}
    assert result.max_error < TOL, result.errors


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


@pytest.mark.parametrize("make, x, error, match", [
    (lambda: AvgPool2D(2), np.zeros((1, 1, 4, 4), np.int64), TypeError, "expects a float NumPy array. Got a int64"),
    (lambda: MaxPool2D(2), [[[[1.0]]]], TypeError, "Got a list"),
    (lambda: Flatten(), np.float32(3), ValueError, "at least 2 dimensions"),
])
def test_pools_and_flatten_reject_bad_input(make, x, error, match):
    with pytest.raises(error, match=match):
        make().forward(x)


def test_conv_argument_types(rng):
    with pytest.raises(TypeError, match="'padding'"):
        Conv2D(1, 2, 3, rng=rng, padding=np.array([1, 1]))
    with pytest.raises(TypeError, match="'bias' parameter of Conv2D must be a bool"):
        Conv2D(1, 2, 3, rng=rng, bias="no")


def test_wrong_dtype_into_conv(rng):
    with pytest.raises(TypeError, match="float32 weights and expects float32 input. Got float64"):
        Conv2D(1, 2, 3, rng=rng).forward(np.zeros((1, 1, 5, 5)))
