"""Exact unit ranking (tdnumpy.masks._norms): near ties resolved exactly
where float64 sums round them together, where the entries span hundreds of
binary orders of magnitude, and without floating-point warnings.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import warnings

import numpy as np

from tdnumpy import masks


def test_sums_of_squares_one_apart_above_2_to_the_53_rank_exactly():
    """85005637^2 + 82386140^2 = S is odd and 92339022^2 + 74073878^2 = S - 1; both lie in
    [2^53, 2^54), where float64 holds only even integers, and round to the same S - 1."""
    a, b, c, d = 85005637, 82386140, 92339022, 74073878
    assert a * a + b * b == c * c + d * d + 1 and 2**53 <= c * c + d * d < 2**54
    assert float(a * a) + float(b * b) == float(c * c) + float(d * d)
    w = np.array([[a, c], [b, d]], np.float64)
    assert masks.unit_ranks(w).tolist() == [1, 0]
    assert masks.unit_targets(w, 0.5).tolist() == [False, True]


def test_equal_norms_with_a_tiny_entry_tie():
    """3^2 + 4^2 = 5^2 + 0^2; the shared entry 2^-1000 spreads the exponents over a thousand binary places."""
    t = 2.0**-1000
    w = np.array([[3.0, 5.0], [4.0, 0.0], [t, t]])
    assert masks.unit_ranks(w).tolist() == [0, 0]
    w = np.array([[3.0, 5.0], [4.0, 0.0], [t, 2 * t]])  # now the second column is larger, by 3 t^2
    assert masks.unit_ranks(w).tolist() == [0, 1]


def test_columns_spanning_the_float64_range_rank_without_warnings():
    w = np.array([[1e300, 1e-300, 1e300], [1e-300, 1e300, 2e-300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert masks.unit_ranks(w).tolist() == [0, 0, 1]


def test_a_near_tie_beyond_2_to_the_minus_39_is_still_ranked_exactly():
    """Column 0 holds 1 and 32767 entries e = 1.375 2^-27, each e^2 below half an ulp of 1: its float64
    sum of squares stays 1, though the exact one is 1 + 1.89 2^-39. Column 1 sums to 1 + 1.5 2^-39
    (exactly less). The float keys are 1.5 2^-39 apart, more than 2^-39 but within the rounding bound
    for fan_in 2^15 (5 delta, delta about 2^-38), so the pair must be ranked exactly."""
    n = 2**15
    w = np.zeros((n, 2))
    w[:, 0] = 1.375 * 2.0**-27
    w[0, 0] = 1.0
    w[0, 1] = 1 + 0.75 * 2.0**-39
    s = np.einsum("io,io->o", w, w)
    assert s[0] < s[1]  # the float sums are in the wrong order
    assert masks.unit_ranks(w).tolist() == [1, 0]


def test_columns_rescaled_by_different_powers_of_two_keep_their_order():
    """Float64 columns whose sums of squares overflow or underflow are summed again, each scaled
    to its own largest magnitude: 128 entries of 1e299 outweigh one of 1e300, and 1e-300 is not 0."""
    w = np.zeros((128, 4))
    w[0, 0] = 1e300
    w[:, 1] = 1e299
    w[0, 2] = 1e-300
    assert masks.unit_ranks(w).tolist() == [2, 3, 1, 0]
