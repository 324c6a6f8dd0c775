"""The convolution layer (tdnumpy.nn.conv): a kernel that exactly fits, its
reused buffers across batch sizes, the map of linear_rows, evaluation by
default, weight rules that draw per example or perturb the output in
training, and its messages and repr in full.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate

from full_messages import GENERATOR, message_test
from tdnumpy.nn import Conv2D
from tdnumpy.nn.noise import DropConnect, TargetedUnitDropout
from tdnumpy.nn.sparsifying import VariationalWeights

F64 = np.float64
NAME = "Conv2D 'conv1' (1 -> 1, 5x3, stride 1, padding (1, 2), dilation 1)"


def _conv(*args, **kwargs):
    kwargs.setdefault("dtype", F64)
    kwargs.setdefault("name", "conv1")
    layer = Conv2D(*args, rng=np.random.default_rng(0), **kwargs)
    if layer.bias is not None:
        layer.bias.value[...] = np.random.default_rng(1).standard_normal(layer.out_channels)
    return layer


def test_a_kernel_that_exactly_fits_gives_one_output():
    layer = _conv(2, 3, (3, 2))
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 2))
    kernel = layer.weight.value.reshape(3, 2, 2, 3)  # (kh, kw, C, F)
    expected = np.einsum("chw,hwcf->f", x[0], kernel) + layer.bias.value
    np.testing.assert_allclose(layer.forward(x)[0, :, 0, 0], expected, rtol=1e-12)


def test_the_layers_messages_and_repr_in_full():
    layer = _conv(1, 1, (5, 3), padding=(1, 2))
    assert repr(layer) == NAME
    assert repr(_conv(2, 3, 3, padding="same", stride=2, name="c2")) == \
        "Conv2D 'c2' (2 -> 3, 3x3, stride 2, padding same, dilation 1)"
    for call, error, message in [
        (lambda: layer.input_sums(), RuntimeError, f"{NAME} has no input sums before its first forward pass."),
        (lambda: layer.forward(np.zeros((1, 1, 2, 2))), ValueError,
         f"{NAME}: the kernel (spanning 5x3 with dilation 1) is larger than the padded input (4x6) of shape "
         "(1, 1, 2, 2)."),
        (lambda: layer.forward([[1.0]]), TypeError, f"{NAME} expects its input x to be a NumPy array. Got list."),
    ]:
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message


R = np.random.default_rng(0)
POSITIVE = "must be an int in the range [1, inf). Got 0 instead."
NON_NEGATIVE = "must be an int in the range [0, inf). Got -1 instead."


ERRORS = [
    (lambda: Conv2D(0, 2, 3, rng=R), ValueError, f"The 'in_channels' parameter of Conv2D {POSITIVE}"),
    (lambda: Conv2D(1, 0, 3, rng=R), ValueError, f"The 'out_channels' parameter of Conv2D {POSITIVE}"),
    (lambda: Conv2D(1, 2, (0, 3), rng=R), ValueError, f"The 'kernel_size' parameter of Conv2D {POSITIVE}"),
    (lambda: Conv2D(1, 2, (3, 0), rng=R), ValueError, f"The 'kernel_size' parameter of Conv2D {POSITIVE}"),
    (lambda: Conv2D(1, 2, 0, rng=R), ValueError, f"The 'kernel_size' parameter of Conv2D {POSITIVE}"),
    (lambda: Conv2D(1, 2, 3, rng=R, dilation=0), ValueError, f"The 'dilation' parameter of Conv2D {POSITIVE}"),
    (lambda: Conv2D(1, 2, 3, rng=R, dtype=np.int32), TypeError,
     "The 'dtype' parameter of Conv2D must be float32 or float64. Got <class 'numpy.int32'> instead."),
    (lambda: Conv2D(1, 2, 3, rng=0), TypeError, f"The 'rng' parameter of Conv2D {GENERATOR}"),
    (lambda: Conv2D(1, 2, 3, rng=R, padding=(1, -1)), ValueError, f"The 'padding' parameter of Conv2D {NON_NEGATIVE}"),
    (lambda: Conv2D(1, 2, 3, rng=R, padding=-1), ValueError, f"The 'padding' parameter of Conv2D {NON_NEGATIVE}"),
]
test_a_bad_argument_gets_the_documented_message_in_full = message_test(
    ERRORS, ids=["in_channels", "out_channels", "kh", "kw", "kernel", "dilation", "dtype", "rng", "padding-pair", "padding"])


def test_a_layer_keeps_its_name_its_bias_choice_and_its_parameter_names():
    layer = _conv(1, 2, 3, name="features")
    assert layer.name == "features" and [p.name for p in layer.parameters()] == ["weight", "bias"]
    plain = _conv(1, 2, 3, bias=False)
    assert plain.bias is None and [p.name for p in plain.parameters()] == ["weight"]


def test_an_empty_input_with_same_padding_is_refused_naming_its_padded_size():
    """'same' pads a 4-wide kernel by 1 before and 2 after: 0 rows become 3, 5 columns 8."""
    layer = Conv2D(1, 1, 4, padding="same", rng=np.random.default_rng(0), name="c")
    for shape, padded in [((1, 1, 0, 5), "3x8"), ((1, 1, 5, 0), "8x3")]:
        with pytest.raises(ValueError) as caught:
            layer.forward(np.zeros(shape, np.float32))
        assert str(caught.value) == ("Conv2D 'c' (1 -> 1, 4x4, stride 1, padding same, dilation 1): the kernel "
                                     f"(spanning 4x4 with dilation 1) is larger than the padded input ({padded}) "
                                     f"of shape {shape}.")


def test_forward_and_backward_follow_a_change_of_batch_size():
    rng = np.random.default_rng(3)
    layer = _conv(2, 3, 3, padding=1, stride=2)
    for batch in (2, 3, 2):
        x = rng.standard_normal((batch, 2, 7, 6))
        fresh = _conv(2, 3, 3, padding=1, stride=2)  # the same weights, no buffers yet
        y = layer.forward(x, training=True)
        np.testing.assert_allclose(y, fresh.forward(x, training=True), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(y.shape)
        np.testing.assert_allclose(layer.backward(g), fresh.backward(g), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.weight.grad, fresh.weight.grad, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, fresh.bias.grad, rtol=1e-12, atol=1e-12)


def test_linear_rows_gives_the_patches_and_the_map_back_to_the_output():
    layer = _conv(2, 3, 3, padding=1)
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 4))
    rows, finish = layer.linear_rows(x)
    out = finish(rows @ layer.weight.value + layer.bias.value)
    np.testing.assert_allclose(out, layer.forward(x), rtol=1e-12, atol=1e-12)
    plain = sum(correlate(x[:, c], layer.weight.value.reshape(3, 3, 2, 3)[None, :, :, c, 0], mode="same")
                for c in range(2))
    np.testing.assert_allclose(out[:, 0], plain + layer.bias.value[0], rtol=1e-10, atol=1e-12)


def test_forward_evaluates_unless_told_to_train():
    layer = _conv(2, 3, 3)
    layer.noise = DropConnect(0.5)
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 5))
    np.testing.assert_array_equal(layer.forward(x), layer.forward(x, training=False))


def test_per_example_unit_dropout_draws_one_mask_per_example():
    """Every unit targeted (gamma = 1), each dropped with probability 1/2, on 16 copies of one
    image: the 16 outputs all agree only if the 16 masks of 8 units do, probability
    2^(-8 * 15) = 2^-120 (the false-failure rate of this test)."""
    layer = _conv(1, 8, 3)
    layer.noise = TargetedUnitDropout(1.0, 0.5, per_example=True)
    x = np.repeat(np.random.default_rng(6).standard_normal((1, 1, 5, 5)), 16, axis=0)
    y = layer.forward(x, training=True)
    assert not all(np.array_equal(y[0], y[n]) for n in range(1, 16))


def test_variational_dropout_samples_the_pre_activations_in_training():
    """Two training passes draw different Gaussian noise (they agree with probability 0)."""
    layer = _conv(1, 4, 3)
    layer.noise = VariationalWeights()
    layer.noise.log_sigma2.value[...] = 0.0  # large variances
    x = np.random.default_rng(7).standard_normal((2, 1, 5, 5))
    first = layer.forward(x, training=True)
    assert not np.allclose(first, layer.forward(x, training=True))
