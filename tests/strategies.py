"""Hypothesis strategies shared by the tests.

The weight matrices, shapes and fractions of the mask tests are the
conformance kit's (:mod:`tdnumpy.testing.strategies`), re-exported here, so
this library's own mask tests draw the inputs a user's implementation is
checked on. The convolution configurations (with the layer and input they
describe) and the small layers of the noise tests are the tests' own."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tdnumpy.nn import Conv2D, Dense
from tdnumpy.testing.strategies import FRACTIONS, SHAPES, distinct_weights, weights

__all__ = ["FRACTIONS", "SHAPES", "conv_configs", "conv_fits", "distinct_weights", "make_conv", "small_conv",
           "small_dense", "weights"]


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
