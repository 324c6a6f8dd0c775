"""The dropout family's mask functions (tdnumpy.masks.dropout): every argument
error in full, the ends of each range (p = 0 is allowed, p = 1 is not), and
standout's mask as documented, m = [u < pi] with u drawn in pi's dtype.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np
import pytest

from full_messages import GENERATOR, message_test
from tdnumpy import masks

RNG = np.random.default_rng(0)
RATE = "must be a float in the range [0, 1). Got"

ERRORS = [
    (lambda: masks.gaussian_dropout_noise(3, 0.5, RNG, dtype=np.float16), TypeError,
     "The 'dtype' parameter of gaussian_dropout_noise must be float32 or float64. Got <class 'numpy.float16'> instead."),
    (lambda: masks.gaussian_dropout_noise(3, 1.0, RNG), ValueError,
     f"The 'p' parameter of gaussian_dropout_noise {RATE} 1.0 instead."),
    (lambda: masks.gaussian_dropout_noise(3, 1.5, RNG), ValueError,
     f"The 'p' parameter of gaussian_dropout_noise {RATE} 1.5 instead."),
    (lambda: masks.gaussian_dropout_noise(3, -0.1, RNG), ValueError,
     f"The 'p' parameter of gaussian_dropout_noise {RATE} -0.1 instead."),
    (lambda: masks.gaussian_dropout_noise((2, -1), 0.5, RNG), TypeError,
     "The 'shape' parameter of gaussian_dropout_noise must be a tuple of non-negative ints. Got (2, -1) instead."),
    (lambda: masks.gaussian_dropout_noise(3, 0.5, 0), TypeError,
     f"The 'rng' parameter of gaussian_dropout_noise {GENERATOR}"),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones(4), None, 0.5), ValueError,
     "The 'w' parameter of dropconnect_moments must be 2-D. Got shape (4,) instead."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), np.ones((1, 3)), 0.5), ValueError,
     "The 'b' parameter of dropconnect_moments must be 1-D. Got shape (1, 3) instead."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), np.ones(3, np.float32), 0.5), TypeError,
     "The 'b' parameter of dropconnect_moments must have the dtype of the first array, float64. Got float32 instead."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), np.ones(4), 0.5), ValueError,
     "dropconnect_moments needs v of shape (batch, fan_in), w of shape (fan_in, units) and b of shape (units,). "
     "Got (2, 4), (4, 3) and (4,)."),
    (lambda: masks.dropconnect_moments(np.ones((2, 5)), np.ones((4, 3)), None, 0.5), ValueError,
     "dropconnect_moments needs v of shape (batch, fan_in), w of shape (fan_in, units) and b of shape (units,). "
     "Got (2, 5), (4, 3) and None."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), None, 1.0), ValueError,
     f"The 'p' parameter of dropconnect_moments {RATE} 1.0 instead."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), None, 1.5), ValueError,
     f"The 'p' parameter of dropconnect_moments {RATE} 1.5 instead."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), None, -0.5), ValueError,
     f"The 'p' parameter of dropconnect_moments {RATE} -0.5 instead."),
    (lambda: masks.dropconnect_moments(np.ones((2, 4)), np.ones((4, 3)), [1.0, 2.0, 3.0], 0.5), TypeError,
     "The 'b' parameter of dropconnect_moments must be a NumPy array of floats. Got list instead."),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), np.ones((2, 3)), np.tanh, 0, 2), TypeError,
     f"The 'rng' parameter of dropconnect_gaussian_inference {GENERATOR}"),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), np.ones((2, 3)), 5, RNG, 2), TypeError,
     "The 'activation' parameter of dropconnect_gaussian_inference must be a function or None. Got int instead."),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), [[1.0]], None, RNG, 2), TypeError,
     "The 'var' parameter of dropconnect_gaussian_inference must be a NumPy array of floats. Got list instead."),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), np.ones((2, 3), np.float32), None, RNG, 2),
     TypeError, "The 'var' parameter of dropconnect_gaussian_inference must have the dtype of the first array, "
                "float64. Got float32 instead."),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), np.ones((2, 3)), None, RNG, 0), ValueError,
     "The 'samples' parameter of dropconnect_gaussian_inference must be an int in the range [1, 100000]. "
     "Got 0 instead."),
    (lambda: masks.dropconnect_gaussian_inference(np.zeros((2, 3)), np.ones((2, 3)), None, RNG, 100001), ValueError,
     "The 'samples' parameter of dropconnect_gaussian_inference must be an int in the range [1, 100000]. "
     "Got 100001 instead."),
    (lambda: masks.standout_keep_prob(np.zeros((2, 3)), float("nan"), 0.0, form="shifted"), ValueError,
     "The 'alpha' parameter of standout_keep_prob must be a float in the range (-inf, inf). Got nan instead."),
    (lambda: masks.standout_keep_prob(np.zeros((2, 3)), 1.0, float("inf"), form="shifted"), ValueError,
     "The 'beta' parameter of standout_keep_prob must be a float in the range (-inf, inf). Got inf instead."),
    (lambda: masks.standout_keep_prob(np.zeros((2, 3)), 1.0, 0.0, np.zeros((2, 1)), form="shifted"), ValueError,
     "The 'input_sum' parameter of standout_keep_prob must be None for form='shifted' (that form adds beta once). "
     "Got an array instead."),
    (lambda: masks.standout_keep_prob(np.zeros((2, 3)), 1.0, 0.0), ValueError,
     "The 'input_sum' parameter of standout_keep_prob is needed for form='paper': the sum of the inputs x_i of "
     "each output, broadcastable to 'a'. Got None instead."),
    (lambda: masks.standout_keep_prob(np.zeros((2, 3)), 1.0, 0.0, np.zeros((3, 1))), ValueError,
     "The 'input_sum' parameter of standout_keep_prob must broadcast to a's shape (2, 3). Got shape (3, 1) instead."),
    (lambda: masks.standout_keep_prob(np.zeros((2, 3)), 1.0, 0.0, form="other"), ValueError,
     "The 'form' parameter of standout_keep_prob must be one of ('paper', 'shifted'). Got 'other' instead."),
    (lambda: masks.standout_keep(np.array([0.5], np.float16), RNG), TypeError,
     "The 'pi' parameter of standout_keep must be float32 or float64. Got float16 instead."),
    (lambda: masks.standout_keep(np.array([0.5]), 1), TypeError, f"The 'rng' parameter of standout_keep {GENERATOR}"),
    (lambda: masks.standout_keep(np.array([-0.5, 0.5]), RNG), ValueError,
     "The 'pi' parameter of standout_keep must hold probabilities in [0, 1]. Got values from -0.5 to 0.5 instead."),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(ERRORS)


def test_gaussian_noise_at_rate_zero_is_exactly_one():
    e = masks.gaussian_dropout_noise((4, 5), 0.0, np.random.default_rng(1))
    assert e.dtype == np.float32 and (e == 1).all()


def test_dropconnect_moments_at_rate_zero_are_the_plain_pre_activation():
    rng = np.random.default_rng(2)
    v, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    mean, var = masks.dropconnect_moments(v, w, b, 0.0)
    np.testing.assert_allclose(mean, v @ w + b, rtol=1e-12)
    assert (var == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standout_keeps_where_a_uniform_drawn_in_pis_dtype_is_below_pi(dtype):
    """m = [u < pi], u ~ U[0, 1) in pi's dtype: the same generator state gives the same u."""
    pi = np.random.default_rng(3).random((6, 7)).astype(dtype)
    u = np.random.default_rng(4).random(pi.shape, dtype=dtype)
    np.testing.assert_array_equal(masks.standout_keep(pi, np.random.default_rng(4)), u < pi)
    # where u equals pi exactly the unit is dropped: u < pi is strict
    assert not masks.standout_keep(u, np.random.default_rng(4)).any()
