"""Pooling and Flatten (tdnumpy.nn.pool): against plain loops, the first-maximum
rule for ties on every path, gradients, and bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tdnumpy.nn import AvgPool2D, Flatten, MaxPool2D
from tdnumpy.testing import check_gradients

TOL = 1e-6


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


def test_maxpool_with_more_than_256_offsets_routes_ties_to_the_first_maximum():
    """A 17 x 17 window has 289 kernel offsets, more than the uint8 codes the
    stride = kernel path records the first maximum in hold."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, (2, 3, 17, 35)).astype(np.float64)
    x[0, 0, :, :17] = 0
    x[0, 0, 16, 16] = 1  # the last offset, 288
    pool = MaxPool2D(17)
    g = rng.standard_normal(pool.forward(x).shape)
    np.testing.assert_array_equal(pool.backward(g), reference_maxpool_grad(x, (17, 17), 17, g))


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
    upstream = copy.deepcopy(rng).standard_normal(expected.shape)  # the R check_gradients draws first
    true_grad = (reference_maxpool_grad if pool == "max" else reference_avgpool_grad)(x, (kh, kw), s, upstream)
    result = check_gradients(layer, x, rng)
    assert result.max_error < max(TOL, rounding_bound(expected, upstream, true_grad)), result.errors


def reference_avgpool_grad(x, kernel, s, g):
    """dx by loops: each output's gradient shared equally by its window."""
    kh, kw = kernel
    dx = np.zeros_like(x)
    for p in range(g.shape[2]):
        for q in range(g.shape[3]):
            dx[:, :, p * s:p * s + kh, q * s:q * s + kw] += g[:, :, p:p + 1, q:q + 1] / (kh * kw)
    return dx


def rounding_bound(y, upstream, true_grad, h=1e-5):
    """The relative error rounding alone can give a check of a piecewise-linear layer.

    Its central differences are exact but for rounding: each loss sum(y R) has
    y.size terms, so it is off by at most y.size eps S (S = sum |y R|), and a
    numeric derivative by 2 y.size eps S / (2 h); relative_error divides by at
    least 1e-3 max |dL/dx|, taken from the loops' gradient (not the layer's, so
    that a wrong backward cannot widen its own bound). Four times that is the
    bound (hypothesis found an average pool, 4x4 at stride 1 on 8x7 inputs,
    whose error 1.1e-6 passed TOL)."""
    absolute = y.size * np.finfo(np.float64).eps * np.abs(y * upstream).sum() / h
    return 4 * absolute / (1e-3 * np.abs(true_grad).max())


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


@pytest.mark.parametrize("make, x, error, match", [
    (lambda: AvgPool2D(2), np.zeros((1, 1, 4, 4), np.int64), TypeError, "expects its input x to be a float NumPy array. Got a int64"),
    (lambda: MaxPool2D(2), [[[[1.0]]]], TypeError, "Got a list"),
    (lambda: Flatten(), np.float32(3), ValueError, "at least 2 dimensions"),
])
def test_pools_and_flatten_reject_bad_input(make, x, error, match):
    with pytest.raises(error, match=match):
        make().forward(x)
