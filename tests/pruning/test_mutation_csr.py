"""Relative-index CSR (tdnumpy.pruning.csr): the exact argument errors, the
boundaries of RelativeCSR's invariants and the edge cases of the byte counts.

Written against the survivors of mutation testing (see "Mutation testing" in
the README): each test states a documented property that a plausible slip in
the code would break.
"""

from __future__ import annotations

import numpy as np
import pytest

from full_messages import message_test
from tdnumpy.pruning.csr import RelativeCSR, decode, encode, pack_gaps, total, unpack_gaps

EMPTY_F = np.zeros(0)
EMPTY_I = np.zeros(0, np.int64)


def _csr(shape, bits, values, gaps, row_ptr):
    return RelativeCSR(shape, bits, np.asarray(values, float), np.asarray(gaps), np.asarray(row_ptr))


ERRORS = [
    # (call, error, the whole message)
    (lambda: _csr((-1, 3), 2, [], EMPTY_I, [0]), ValueError,
     "The 'shape' parameter of RelativeCSR must be an int in the range [0, inf). Got -1 instead."),
    (lambda: _csr((1, 3), 17, [], EMPTY_I, [0, 0]), ValueError,
     "The 'bits' parameter of RelativeCSR must be an int in the range [1, 16]. Got 17 instead."),
    (lambda: _csr((1, 3), 2, [1.0, 2.0], [0.0, 1.0], [0, 2]), ValueError,
     "gaps must be 2 integers; got float64 of shape (2,)."),
    (lambda: _csr((1, 8), 2, [1.0, 2.0], [2, -1], [0, 2]), ValueError,
     "every gap must lie in [0, 3] and be >= 1 after the first entry of its row; got [ 2 -1]."),
    (lambda: _csr((1, 8), 2, [1.0], [4], [0, 1]), ValueError,
     "every gap must lie in [0, 3] and be >= 1 after the first entry of its row; got [4]."),
    (lambda: _csr((1, 3), 2, [1.0], [3], [0, 1]), ValueError,
     "a decoded column, 3, lies past the row end (cols = 3)."),
    (lambda: pack_gaps(np.zeros((2, 2), np.int64), 4), TypeError,
     "The 'gaps' parameter of pack_gaps must be a 1-D integer array. Got int64 of shape (2, 2) instead."),
    (lambda: pack_gaps(np.zeros(2), 4), TypeError,
     "The 'gaps' parameter of pack_gaps must be a 1-D integer array. Got float64 of shape (2,) instead."),
    (lambda: pack_gaps(np.array([-1, 3]), 4), ValueError,
     "The 'gaps' parameter of pack_gaps must hold ints in the range [0, 15]. Got -1 instead."),
    (lambda: pack_gaps(np.array([0, 16]), 4), ValueError,
     "The 'gaps' parameter of pack_gaps must hold ints in the range [0, 15]. Got 16 instead."),
    (lambda: pack_gaps(np.array([0]), 17), ValueError,
     "The 'bits' parameter of pack_gaps must be an int in the range [1, 16]. Got 17 instead."),
    (lambda: unpack_gaps(np.zeros(0, np.uint8), 0, 0), ValueError,
     "The 'bits' parameter of unpack_gaps must be an int in the range [1, 16]. Got 0 instead."),
    (lambda: unpack_gaps(np.zeros(0, np.uint8), 4, -1), ValueError,
     "The 'count' parameter of unpack_gaps must be an int in the range [0, inf). Got -1 instead."),
]


test_a_bad_argument_gets_the_documented_message_in_full = message_test(ERRORS)


def test_a_long_array_is_quoted_by_its_first_and_last_four_entries():
    """Messages stay short: an array longer than 12 shows only its ends."""
    with pytest.raises(ValueError) as caught:
        _csr((12, 3), 2, [], EMPTY_I, np.arange(13))
    assert str(caught.value) == ("row_ptr must start at 0, never decrease and end at the stored count 0; "
                                 "got [ 0  1  2  3 ...  9 10 11 12].")


def test_matrices_with_no_rows_or_no_columns_are_valid():
    for shape in [(0, 3), (3, 0), (0, 0)]:
        csr = encode(np.zeros(shape), 4)
        assert csr.shape == shape and decode(csr).shape == shape
    assert _csr((0, 3), 4, [], EMPTY_I, [0]).shape == (0, 3)


def test_the_shape_is_kept_as_a_tuple_of_python_ints():
    csr = RelativeCSR([np.int64(2), 3], 4, EMPTY_F, EMPTY_I, np.zeros(3, np.int64))
    assert csr.shape == (2, 3) and all(type(n) is int for n in csr.shape)


def test_gaps_and_row_pointers_are_kept_as_int64():
    csr = RelativeCSR((1, 4), 2, np.array([1.0, 2.0]), np.array([1, 2], np.uint8), np.array([0, 2], np.int32))
    assert csr.gaps.dtype == np.int64 and csr.row_ptr.dtype == np.int64
    np.testing.assert_array_equal(decode(csr), [[0, 1, 0, 2]])


def test_the_largest_gap_and_the_last_column_are_allowed():
    csr = _csr((1, 4), 2, [1.0], [3], [0, 1])  # gap 2^bits - 1 = 3, column 3 of 4
    np.testing.assert_array_equal(decode(csr), [[0, 0, 0, 1]])


def test_total_of_nothing_has_ratio_zero():
    assert total([]) == {"nonzeros": 0, "fillers": 0, "stored": 0, "dense_bytes": 0, "sparse_bytes": 0,
                         "ratio": 0.0}


def test_an_empty_stream_unpacks_to_no_gaps():
    out = unpack_gaps(np.zeros(0, np.uint8), 4, 0)
    assert out.shape == (0,) and out.dtype == np.int64
