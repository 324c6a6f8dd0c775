"""Smallify's switches (tdnumpy.masks.smallify): exact argument errors, the
penalty summed in float64, the gradient in beta's dtype, momentum 0 allowed
and a variance equal to the threshold keeping its unit (v > threshold removes).

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import numpy as np

from full_messages import message_test
from tdnumpy import masks

FLOATS = "must be an array of finite float16, float32 or float64 values."
ERRORS = [
    (lambda: masks.switch_penalty(np.ones(3), -1.0),
     "The 'strength' parameter of switch_penalty must be a float in the range [0.0, inf). Got -1.0 instead."),
    (lambda: masks.switch_penalty(np.array([1.0, np.nan]), 1.0),
     f"The 'beta' parameter of switch_penalty {FLOATS} Got dtype float64 with NaN or infinities instead."),
    (lambda: masks.sign_variance_step(np.ones(3), np.zeros(3), np.zeros(3), 1.0, 0.5),
     "The 'momentum' parameter of sign_variance_step must be a float in the range [0.0, 1.0). Got 1.0 instead."),
    (lambda: masks.sign_variance_step(np.ones(3), np.zeros(3), np.zeros(3), 0.5, 4.0),
     "The 'threshold' parameter of sign_variance_step must be a float in the range (0.0, 4.0). Got 4.0 instead."),
    (lambda: masks.sign_variance_step(np.ones(3), np.array([0, 1, 2]), np.zeros(3), 0.5, 1.0),
     f"The 'mean' parameter of sign_variance_step {FLOATS} Got dtype int64 instead."),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(
    [(call, ValueError, message) for call, message in ERRORS])


def test_the_penalty_is_summed_in_float64_and_the_gradient_keeps_betas_dtype():
    beta = np.array([1e8, 1.0, -1.0, 1.0], np.float32)  # float32 sums lose the ones
    value, grad = masks.switch_penalty(beta, 0.5)
    assert value == 0.5 * (1e8 + 3)
    assert grad.dtype == np.float32 and grad.tolist() == [0.5, 0.5, -0.5, 0.5]


def test_momentum_zero_follows_the_current_sign():
    m, v, remove = masks.sign_variance_step(np.array([2.0, -3.0]), np.zeros(2), np.zeros(2), 0.0, 0.5)
    assert m.tolist() == [1.0, -1.0] and v.tolist() == [0.0, 0.0] and remove.tolist() == [False, False]


def test_a_variance_equal_to_the_threshold_keeps_the_unit():
    # m = 0.5 (-1) + 0.5 (1) = 0, v = 0.5 (1) + 0.5 (1 - 0)^2 = 1
    m, v, remove = masks.sign_variance_step(np.array([1.0]), np.array([-1.0]), np.array([1.0]), 0.5, 1.0)
    assert m.tolist() == [0.0] and v.tolist() == [1.0] and remove.tolist() == [False]
