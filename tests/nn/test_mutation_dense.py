"""The dense layer (tdnumpy.nn.dense): its name, and its argument and input
errors in full.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np

from full_messages import GENERATOR, message_test
from tdnumpy.nn import Dense

R = np.random.default_rng(0)


def test_forward_is_one_matrix_product_plus_the_bias():
    """y = x @ W + b, bit for bit in float32, as NumPy computes it."""
    layer = Dense(100, 30, rng=np.random.default_rng(1))
    layer.bias.value[...] = np.random.default_rng(2).standard_normal(30)
    x = np.random.default_rng(3).standard_normal((64, 100)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x), x @ layer.weight.value + layer.bias.value)


def test_a_dense_layer_keeps_its_name():
    assert Dense(3, 2, rng=R, name="hidden").name == "hidden"


ERRORS = [
    (lambda: Dense(3, 0, rng=R), ValueError, "The 'units' parameter of Dense must be an int in the range [1, inf). "
                                             "Got 0 instead."),
    (lambda: Dense(3, 2, rng=R, dtype=np.int32), TypeError,
     "The 'dtype' parameter of Dense must be float32 or float64. Got <class 'numpy.int32'> instead."),
    (lambda: Dense(3, 2, rng=0), TypeError, f"The 'rng' parameter of Dense {GENERATOR}"),
    (lambda: Dense(3, 2, rng=R, bias=1), TypeError, "The 'bias' parameter of Dense must be a bool. Got 1 instead."),
    (lambda: Dense(3, 2, rng=R, name="fc").forward([[1.0, 2.0, 3.0]]), ValueError,
     "Dense 'fc' (3 -> 2) expects input of shape (batch, 3). Got shape list instead."),
]
test_a_bad_argument_gets_the_documented_message_in_full = message_test(
    ERRORS, ids=["units", "dtype", "rng", "bias", "input"])
