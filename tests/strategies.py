"""Hypothesis strategies shared by the mask and noise tests: weight shapes
(including 1 x n, n x 1 and conv views), fractions in [0, 1] (including values
where gamma N is not an integer) and weight matrices with and without ties;
and, for the convolution and im2col tests, convolution configurations with the
layer and input they describe."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tdnumpy.nn import Conv2D, Dense

SHAPES = st.one_of(
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.just(1), st.integers(1, 30)),       # 1 x n
    st.tuples(st.integers(1, 30), st.just(1)),       # n x 1
    st.sampled_from([(25, 6), (18, 4), (50, 3)]),   # conv views: kh kw C x F
)
FRACTIONS = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1 / 3, 0.29, 0.7]), st.floats(0.0, 1.0))


@st.composite
def weights(draw, shape=None, ties=None, dtype=None):
    """A weight matrix; with ties, values come from a small set (zeros included)."""
    shape = draw(SHAPES) if shape is None else shape
    ties = draw(st.booleans()) if ties is None else ties
    dtype = draw(st.sampled_from([np.float32, np.float64])) if dtype is None else dtype
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if ties:
        values = (rng.integers(-2, 3, shape) * 0.5).astype(dtype)
        return np.where(values == 0, rng.choice(np.array([0.0, -0.0], dtype), shape), values)  # -0.0 ties +0.0
    return rng.standard_normal(shape).astype(dtype)


@st.composite
def conv_configs(draw):
    """A Conv2D configuration (kernel, stride, dilation, padding, bias) with an
    input size and a seed; the kernel need not fit the input (see conv_fits)."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"]),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    config = dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), f=draw(st.integers(1, 4)), h=h, w=w,
                  kernel_size=(kh, kw), stride=stride, dilation=dilation, padding=padding,
                  bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))
    return config


def make_conv(config, dtype):
    """The layer a config describes (random bias), an input for it, and the
    generator both were drawn from."""
    rng = np.random.default_rng(config["seed"])
    layer = Conv2D(config["c"], config["f"], config["kernel_size"], rng=rng, stride=config["stride"],
                   padding=config["padding"], dilation=config["dilation"], bias=config["bias"], dtype=dtype)
    if layer.bias is not None:
        layer.bias.value[:] = rng.standard_normal(config["f"])
    x = rng.standard_normal((config["n"], config["c"], config["h"], config["w"])).astype(dtype)
    return layer, x, rng


def conv_fits(config) -> bool:
    """Whether the config's (dilated) kernel fits its padded input."""
    layer, x, _ = make_conv(config, np.float64)
    try:
        layer.geometry(x.shape)
    except ValueError:
        return False
    return True


def small_dense(rng):
    """A float64 Dense layer (9 -> 6, random bias) named fc, and an input batch of 5."""
    layer = Dense(9, 6, rng=rng, dtype=np.float64, name="fc")
    layer.bias.value[:] = rng.standard_normal(6)
    return layer, rng.standard_normal((5, 9))


def small_conv(rng):
    """A float64 Conv2D layer (2 -> 4 channels, 3 x 3, padding 1, random bias) named
    conv, and an input batch of 3 images of 5 x 5."""
    layer = Conv2D(2, 4, 3, rng=rng, padding=1, dtype=np.float64, name="conv")
    layer.bias.value[:] = rng.standard_normal(4)
    return layer, rng.standard_normal((3, 2, 5, 5))
