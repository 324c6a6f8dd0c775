"""The selection machinery the masks share (tdnumpy.masks._select: k = floor(gamma N),
bottom-k, |W|^T in strips) and the Bernoulli events drawn a byte at a time (_draws).

Statistical tests use exact binomial intervals (scipy.stats.binom) with the
false-failure rate stated next to each; none is above 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from tdnumpy.masks._draws import bernoulli, uniform_bytes
from tdnumpy.masks._select import TRANSPOSE_STRIP, abs_transposed, bottom_k, n_targets


def test_k_is_the_floor_of_the_float64_product():
    assert n_targets(10, 0.3) == 3 and n_targets(10, 0.7) == 7 and n_targets(3, 1 / 3) == 1
    assert n_targets(100, 0.29) == 28  # 0.29 * 100 rounds to 28.999999999999996
    assert n_targets(10, 0.5) == 5 and n_targets(7, 1.0) == 7 and n_targets(7, 0.0) == 0
    assert n_targets(3, 0.999) == 2


@pytest.mark.parametrize("blas", [True, False], ids=["openblas-where-it-applies", "numpy-only"])
@pytest.mark.parametrize("shape, dtype, order", [((1030, 1019), np.float32, "C"), ((1, 2**20), np.float64, "C"),
                                                 ((2**20, 1), np.float32, "C"), ((1030, 1019), np.float32, "F"),
                                                 ((1030, 1100), np.float16, "C"), ((700, 300), np.float16, "C")])
def test_abs_transposed_equals_one_pass(shape, dtype, order, blas, monkeypatch):
    """Every path (OpenBLAS's transpose, strips of rows ending in a partial strip,
    one pass for column-major or small matrices) gives |W|^T exactly, signs and
    zeros included."""
    assert 1030 % TRANSPOSE_STRIP != 0  # the strips end in a partial one
    if not blas:
        monkeypatch.setattr("tdnumpy.masks._select.transpose", lambda a, out: False)
    w = np.asarray(np.random.default_rng(0).standard_normal(shape).astype(dtype), order=order)
    w[0, 0], w[-1, -1] = -0.0, -3.5
    out = np.full(shape[::-1], np.nan, dtype)
    assert abs_transposed(w, out) is out
    np.testing.assert_array_equal(out, np.abs(w).T)
    assert not np.signbit(out).any()


def test_abs_transposed_of_a_strided_view():
    """Every other row of a matrix: neither contiguous nor column-major."""
    w = np.random.default_rng(1).standard_normal((2100, 1000)).astype(np.float32)[::2]
    out = np.empty((1000, 1050), np.float32)
    np.testing.assert_array_equal(abs_transposed(w, out), np.abs(w).T)


def test_bottom_k_of_a_vector():
    np.testing.assert_array_equal(bottom_k(np.array([3.0, 1.0, 2.0, 1.0]), 2), [False, True, False, True])


def test_bernoulli_draws():
    """With t = round(p 2^32) a multiple of 2^24 (p = 1/4 here) the top byte
    alone decides: d = [u_hi < t_hi], from one byte per event in C order."""
    rng = np.random.default_rng(0)
    top = uniform_bytes(np.random.default_rng(1), 15)
    assert top.dtype == np.uint8 and top.shape == (15,)
    np.testing.assert_array_equal(bernoulli(np.random.default_rng(1), 0.25, (3, 5)), (top < 64).reshape(3, 5))
    assert bernoulli(rng, 1.0, (50,)).all() and not bernoulli(rng, 0.0, (50,)).any()
    # p = 1/2: one bit per event, the top bit of u, most significant bit of each byte first
    bits = np.unpackbits(uniform_bytes(np.random.default_rng(2), 3))[:20]
    np.testing.assert_array_equal(bernoulli(np.random.default_rng(2), 0.5, (4, 5)), (bits == 0).reshape(4, 5))
    assert uniform_bytes(np.random.Generator(np.random.MT19937(0)), 7).dtype == np.uint8
    # false-failure rate 1e-6: the count of 10^6 Bernoulli(0.3) events
    lo, hi = binom.interval(1 - 1e-6, 10**6, 0.3)
    assert lo <= bernoulli(rng, 0.3, (10**6,)).sum() <= hi
    lo, hi = binom.interval(1 - 1e-6, 10**6, 0.5)
    assert lo <= bernoulli(rng, 0.5, (10**6,)).sum() <= hi


@pytest.mark.parametrize("p", [128.5 / 256, 0.25, 1 / 256, 0.75, 1 - 2**-20])
@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_bernoulli_rates(bit_generator, p):
    """The rate of 10^7 events, exact binomial bound (false-failure rate 1e-6 per
    case). The p cover each branch: low bits needed for a tie of the top byte
    (128.5 / 256: ignoring them gives 0.5, 12 standard deviations away), the top
    byte alone (1/4, 3/4, 1/256: a > for >= there gives (t_hi + 1) / 256,
    28 standard deviations away at 1/4), and p within 2^-20 of 1."""
    n = 10**7
    rng = np.random.Generator(bit_generator(3))
    lo, hi = binom.interval(1 - 1e-6, n, p)
    assert lo <= np.count_nonzero(bernoulli(rng, p, (n,))) <= hi


def test_bernoulli_reads_u_a_byte_at_a_time():
    """d = [u < t] for u rebuilt from the bytes drawn: first one top byte per
    event, then, for the events whose top byte equals t's, three low bytes each,
    most significant first."""
    t = 0x5A3C1F07
    events = bernoulli(np.random.default_rng(11), t / 2**32, (50_000,))
    rng = np.random.default_rng(11)
    u = uniform_bytes(rng, 50_000).astype(np.int64) << 24
    tied = np.flatnonzero(u >> 24 == t >> 24)
    low = uniform_bytes(rng, 3 * len(tied)).reshape(-1, 3).astype(np.int64)
    u[tied] += (low[:, 0] << 16) | (low[:, 1] << 8) | low[:, 2]
    assert len(tied) > 100
    np.testing.assert_array_equal(events, u < t)


def test_bernoulli_compares_all_24_low_bits(monkeypatch):
    """Every event's top byte ties with t's, and the low bytes are chosen around
    t_lo, one unit apart in each byte: d must equal [u_lo < t_lo] exactly."""
    t_hi, t_lo = 0x5A, 0x3C1F07
    lows = [t_lo + d for d in (-1, 0, 1, -256, 256, -65536, 65536)]
    supplies = iter([np.full(len(lows), t_hi, np.uint8),
                     np.array([[v >> 16, (v >> 8) & 255, v & 255] for v in lows], np.uint8).ravel()])
    monkeypatch.setattr("tdnumpy.masks._draws._uniform_bytes", lambda rng, n: next(supplies)[:n])
    events = bernoulli(np.random.default_rng(0), (t_hi * 2**24 + t_lo) / 2**32, (len(lows),))
    np.testing.assert_array_equal(events, np.array(lows) < t_lo)
