"""Dropout's relatives as masks and moments (tdnumpy.masks.dropout): the Gaussian
dropout noise, DropConnect's exact moments and its Gaussian inference, bad input.

Statistical tests use exact chi-square or normal intervals, or Gaussian-
concentration bounds, each with its false-failure rate (<= 1e-6) stated next
to it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import chi2, norm

from tdnumpy import masks
from tdnumpy.nn.dropout import GaussianDropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_gaussian_dropout_noise_has_mean_one_and_variance_p_over_1_minus_p(p):
    """n = 10^6 draws of N(1, s^2), s^2 = p / (1 - p): the sample mean is exactly
    normal and (n - 1) S^2 / s^2 exactly chi-square(n - 1); each bound has a
    false-failure rate of 5e-7."""
    n = 10**6
    e = masks.gaussian_dropout_noise((n,), p, np.random.default_rng(7), np.float64)
    s2 = p / (1 - p)
    assert abs(e.mean() - 1) <= norm.isf(2.5e-7) * math.sqrt(s2 / n)
    lo, hi = chi2.interval(1 - 5e-7, n - 1)
    assert lo <= (n - 1) * e.var(ddof=1) / s2 <= hi
    layer = GaussianDropout(p, np.random.default_rng(0))
    x = np.ones((3, 4), np.float32)
    assert layer.forward(x, training=True).dtype == np.float32
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


def test_dropconnect_moments_match_the_exact_law_of_the_masks():
    """4 inputs and a bias: all 2^5 masks of a unit enumerated with their
    probabilities give E[u] and Var[u] exactly (no sampling)."""
    rng = np.random.default_rng(3)
    v, w, b, p = rng.standard_normal((2, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3), 0.3
    mean, var = masks.dropconnect_moments(v, w, b, p)
    for n, o in itertools.product(range(2), range(3)):
        values, probs = [], []
        for bits in itertools.product([0, 1], repeat=5):
            keep = np.array(bits)
            values.append(v[n] @ (w[:, o] * keep[:4]) + b[o] * keep[4])
            probs.append((1 - p) ** keep.sum() * p ** (5 - keep.sum()))
        values, probs = np.array(values), np.array(probs)
        exact_mean = probs @ values
        assert mean[n, o] == pytest.approx(exact_mean, rel=1e-12)
        assert var[n, o] == pytest.approx(probs @ (values - exact_mean) ** 2, rel=1e-12)


def test_gaussian_inference_approaches_the_gaussian_integral_and_the_masked_average():
    """(a) For Z draws, r = mean_z relu(u_z) concentrates around the closed form
    E[relu(u)] = mu Phi(mu/s) + s phi(mu/s): relu is 1-Lipschitz, so by Gaussian
    concentration P(|r - E| >= t) <= 2 exp(-Z t^2 / (2 s^2)); t set for a
    false-failure rate of 1e-6 over all units.
    (b) As Z grows, r approaches the Monte-Carlo average of relu over masked
    networks (2,000 masks of a 400-input layer, where u is close to Gaussian):
    the error at Z = 4000 is far below the error at Z = 1 (a 1-sample estimate).
    Part (b) has no exact bound (the Gaussian approximation has a bias of its
    own); its seeds are fixed, so it cannot flake, and it fails if the
    inference ignores the variance or does not average its samples."""
    rng = np.random.default_rng(6)
    v, w, b, p = rng.uniform(0, 1, (1, 400)), rng.normal(0, 0.05, (400, 40)), rng.normal(0, 0.1, 40), 0.5
    mean, var = masks.dropconnect_moments(v, w, b, p)
    s = np.sqrt(var)
    closed = mean * norm.cdf(mean / s) + s * norm.pdf(mean / s)
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    z = 4000
    r = masks.dropconnect_gaussian_inference(mean, var, relu, np.random.default_rng(7), z)
    t = s * math.sqrt(2 * math.log(2 * 40 / 1e-6) / z)
    assert (abs(r - closed) <= t).all()

    keeps = rng.random((2000, 401, 40)) >= p
    masked = np.maximum(np.einsum("i,kio->ko", v[0], keeps[:, :400] * w) + keeps[:, 400] * b, 0).mean(0)
    one = masks.dropconnect_gaussian_inference(mean, var, relu, np.random.default_rng(8), 1)
    assert abs(r - masked).mean() < 0.25 * abs(one - masked).mean()


@pytest.mark.parametrize("call, error, match", [
    (lambda r: masks.dropout_keep((2, 2), 1.0, r), ValueError, "'p' parameter of dropout_keep"),
    (lambda r: masks.dropout_keep((2, -1), 0.5, r), TypeError, "'shape'"),
    (lambda r: masks.dropconnect_gaussian_inference(np.zeros(2), np.ones(2), None, r, 0), ValueError,
     r"'samples' parameter of dropconnect_gaussian_inference must be an int in the range \[1, 100000\]"),
    (lambda r: masks.standout_keep_prob(np.zeros(2), float("inf"), 0.0), ValueError, "'alpha'"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(np.random.default_rng(0))
