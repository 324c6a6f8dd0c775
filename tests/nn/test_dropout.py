"""Activation-noise layers (tdnumpy.nn.dropout): inverted and classic dropout,
spatial dropout and standout; their expectations, gradients with the noise
frozen, bad input.

Statistical tests use exact binomial intervals, each with its false-failure
rate (<= 1e-6) stated next to it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from tdnumpy.nn import Dense, ReLU, Sequential, Tanh
from tdnumpy.nn.activations import Sigmoid
from tdnumpy.nn.dropout import Dropout, GaussianDropout, SpatialDropout, Standout
from tdnumpy.testing import check_gradients

RATES = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1 / 3])


def binomial_ok(count, n, p, false_failure=1e-6) -> bool:
    lo, hi = binom.interval(1 - false_failure, n, p)
    return lo <= count <= hi


# -------------------------------------------- expectations of the layers


@settings(max_examples=30, deadline=None)
@given(p=RATES, seed=st.integers(0, 2**32 - 1))
def test_inverted_dropout_preserves_the_expectation(p, seed):
    """E[y] = x: every output is exactly 0 or x / (1 - p) (deterministic), and the
    kept count over 2 * 10^5 elements lies in the exact binomial interval of
    Bernoulli(1 - p) (false-failure rate 1e-6), so E[y] = (1 - p) x / (1 - p) = x."""
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (400, 500)).astype(np.float32)
    layer = Dropout(p, np.random.default_rng(seed))
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - p)))
    assert binomial_ok(kept.sum(), x.size, 1 - p)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


@settings(max_examples=20, deadline=None)
@given(p=RATES, seed=st.integers(0, 2**32 - 1))
def test_classic_dropout_evaluates_to_its_training_expectation(p, seed):
    """Training: y in {0, x}, kept ~ Bernoulli(1 - p) (exact binomial bound, rate
    1e-6), so E[y] = (1 - p) x; evaluation returns exactly (1 - p) x."""
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (300, 400))
    layer = Dropout(p, np.random.default_rng(seed), mode="classic")
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept])
    assert binomial_ok(kept.sum(), x.size, 1 - p)
    np.testing.assert_array_equal(layer.forward(x, training=False), x * (1 - p))


@settings(max_examples=20, deadline=None)
@given(p=RATES, seed=st.integers(0, 2**32 - 1))
def test_spatial_dropout_drops_whole_channels_and_preserves_the_expectation(p, seed):
    x = np.random.default_rng(seed).uniform(0.5, 2.0, (100, 60, 5, 4)).astype(np.float32)
    layer = SpatialDropout(p, np.random.default_rng(seed))
    y = layer.forward(x, training=True)
    kept = y != 0
    assert (kept == kept[:, :, :1, :1]).all()           # a channel is all kept or all dropped
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - p)))
    assert binomial_ok(kept[:, :, 0, 0].sum(), 100 * 60, 1 - p)  # rate 1e-6
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


# --------------------------------------------------------------- standout


def test_standout_keeps_with_probability_sigmoid_of_the_preactivation():
    """The shifted form. Two positive pre-activations (so relu(a) > 0 and kept =
    [h != 0]), 2 * 10^5 draws each: the kept counts lie in the exact binomial
    intervals of sigmoid(alpha a + beta) (rate 5e-7 each); evaluation gives pi * relu(a)."""
    a = np.repeat(np.array([[0.25, 1.5]]), 200_000, axis=0)
    layer = Standout(ReLU(), np.random.default_rng(1), alpha=-2.0, beta=0.5, form="shifted")
    pi = 1 / (1 + np.exp(-(-2.0 * a[0] + 0.5)))
    kept = (layer.forward(a, training=True) != 0).sum(0)
    assert all(binomial_ok(kept[j], len(a), pi[j], 5e-7) for j in range(2))
    a = np.array([[-0.5, 0.25, 1.5]])
    expected = np.maximum(a, 0) / (1 + np.exp(-(-2.0 * a + 0.5)))
    np.testing.assert_allclose(layer.forward(a, training=False), expected, rtol=1e-12)


# ----------------------------------------------- gradients, noise frozen


def _frozen(layer, x):
    layer.freeze(layer.draw(x))
    return layer


@pytest.mark.parametrize("make, shape", [
    (lambda r: Dropout(0.4, r), (6, 7)),
    (lambda r: Dropout(0.4, r, mode="classic"), (6, 7)),
    (lambda r: GaussianDropout(0.4, r), (6, 7)),
    (lambda r: SpatialDropout(0.4, r), (3, 4, 5, 5)),
])
def test_activation_noise_gradients(make, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    layer = _frozen(make(rng), x)
    assert check_gradients(layer, x, rng, training=True).max_error < 1e-6
    assert check_gradients(layer, x, rng, training=False).max_error < 1e-6


@pytest.mark.parametrize("form", ["paper", "shifted"])
@pytest.mark.parametrize("activation", [ReLU, Tanh, Sigmoid])
def test_standout_gradients(activation, form):
    """Training, the mask frozen: the backward is exact. (At evaluation pi
    depends on the input and the backward treats it as a constant, as in
    training, so no finite-difference check applies there.)"""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 2.0, (5, 8)) * rng.choice([-1, 1], (5, 8))  # away from ReLU's kink
    dense = Dense(8, 6, rng=rng, dtype=np.float64)
    model = Sequential(dense, Standout(activation(), rng, 1.5, -0.2, source=dense, form=form))
    model.layers[1].freeze(rng.random((5, 6)) < 0.6)
    result = check_gradients(model, x, rng, training=True)
    assert result.max_error < 1e-6, result


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, error, match", [
    (lambda r: Dropout(1.0, r), ValueError, r"'p' parameter of Dropout must be a float in the range \[0, 1\). Got 1.0"),
    (lambda r: Dropout(-0.1, r), ValueError, "'p'"),
    (lambda r: Dropout(float("nan"), r), ValueError, "Got nan"),
    (lambda r: Dropout("0.5", r), TypeError, "'p'"),
    (lambda r: Dropout(0.5, r, mode="both"), ValueError, "'mode'"),
    (lambda r: Dropout(0.5, 0), TypeError, "'rng'"),
    (lambda r: GaussianDropout(1.0, r), ValueError, "'p' parameter of GaussianDropout"),
    (lambda r: SpatialDropout(0.5, r).forward(np.ones((2, 3)), training=True), ValueError, "4-D"),
    (lambda r: Standout(Dense(2, 2, rng=r), r), TypeError, "element-wise activation"),
    (lambda r: Standout(ReLU(), r), TypeError, "'source' parameter of Standout must be the Dense or Conv2D"),
    (lambda r: Standout(ReLU(), r, source=ReLU()), TypeError, "'source' parameter of Standout"),
    (lambda r: Standout(ReLU(), r, source=Dense(2, 2, rng=r), form="Paper"), ValueError,
     r"'form' parameter of Standout must be one of \('paper', 'shifted'\). Got 'Paper'"),
    (lambda r: Standout(ReLU(), r, source=Dense(2, 2, rng=r)).forward(np.ones((1, 2))), RuntimeError,
     "no input sums before its first forward pass"),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(np.random.default_rng(0))
