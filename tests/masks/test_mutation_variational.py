"""Sparse variational dropout (tdnumpy.masks.variational): exact argument
errors, zero weights without warnings, results in theta's dtype, and the
gradients at and beyond the clip of log alpha.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import warnings

import numpy as np

from full_messages import message_test
from tdnumpy import masks

FINITE = "must be an array of finite float16, float32 or float64 values. Got dtype float64 with NaN or infinities instead."
ERRORS = [
    (lambda: masks.vd_log_alpha(np.array([np.nan]), np.zeros(1)), f"The 'theta' parameter of vd_log_alpha {FINITE}"),
    (lambda: masks.vd_log_alpha(np.ones(1), np.array([np.inf])), f"The 'log_sigma2' parameter of vd_log_alpha {FINITE}"),
    (lambda: masks.keep_probability(np.ones(2), np.zeros(3)),
     "The 'log_sigma2' parameter of keep_probability must have theta's shape (2,). Got (3,)."),
    (lambda: masks.local_reparameterization(np.array([[np.nan]]), np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2))),
     f"The 'x' parameter of local_reparameterization {FINITE}"),
    (lambda: masks.local_reparameterization(np.ones((1, 1)), np.ones((1, 2)), np.zeros((1, 2)),
                                            np.array([[np.inf, 0.0]])),
     f"The 'eps' parameter of local_reparameterization {FINITE}"),
    (lambda: masks.local_reparameterization(np.ones((1, 3)), np.ones((2, 5)), np.zeros((2, 5)), np.zeros((1, 5))),
     "The 'x' parameter of local_reparameterization must have shape (batch, fan_in = 2). Got (1, 3) instead."),
    (lambda: masks.local_reparameterization(np.ones((1, 2)), np.ones((2, 5)), np.zeros((2, 5)), np.zeros((2, 5))),
     "The 'eps' parameter of local_reparameterization must have shape (batch, units) = (1, 5). Got (2, 5) instead."),
    (lambda: masks.neg_kl(np.array([np.nan])), f"The 'log_alpha' parameter of neg_kl {FINITE}"),
    (lambda: masks.vd_keep(np.ones(2), np.zeros(2), 9.0),
     "The 'threshold' parameter of vd_keep must be a float in the range [-8.0, 8.0]. Got 9.0 instead."),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(
    [(call, ValueError, message) for call, message in ERRORS])


def test_a_zero_weight_gives_the_top_of_the_clip_and_keep_probability_zero_without_warnings():
    theta, s = np.array([0.0, 1.0]), np.zeros(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_alpha, d_theta, d_sigma = masks.vd_log_alpha(theta, s)
        keep = masks.keep_probability(theta, s)
    assert log_alpha.tolist() == [8.0, 0.0] and d_theta.tolist() == [0.0, -2.0] and d_sigma.tolist() == [0.0, 1.0]
    assert keep.tolist() == [0.0, 0.5]


def test_log_alpha_its_derivatives_and_the_penalty_gradients_keep_thetas_dtype():
    theta, s = np.array([0.5, -2.0], np.float32), np.array([-1.0, 0.5], np.float32)
    assert all(a.dtype == np.float32 for a in masks.vd_log_alpha(theta, s))
    assert all(a.dtype == np.float32 for a in masks.vd_penalty(theta, s)[1:])


def test_the_clip_is_active_at_its_bound_and_beyond_so_the_gradients_are_zero_there():
    # log alpha = log sigma^2 - log theta^2 = 8 exactly, then 10: the clip holds both at 8
    theta, s = np.array([1.0, 1.0, 1.0]), np.array([8.0, 10.0, 1.0])
    log_alpha, d_theta, d_sigma = masks.vd_log_alpha(theta, s)
    assert log_alpha.tolist() == [8.0, 8.0, 1.0]
    assert d_theta.tolist() == [0.0, 0.0, -2.0] and d_sigma.tolist() == [0.0, 0.0, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, g_theta, g_sigma = masks.vd_penalty(theta, s)
    assert g_theta[:2].tolist() == [0.0, 0.0] and g_sigma[:2].tolist() == [0.0, 0.0]
    assert g_sigma[2] != 0
