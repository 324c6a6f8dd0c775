"""One matrix in Han et al.'s relative-index sparse form (tdnumpy.pruning.csr):
the codec against a plain reference encoder, bit packing, the invariants of
RelativeCSR and Han et al.'s byte count on a hand-worked example."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tdnumpy.pruning.csr import (RelativeCSR, decode, dense_bytes, encode, pack_gaps, report, sparse_bytes, total,
                                 unpack_gaps)

BITS = st.sampled_from([1, 2, 3, 5, 8])


def reference_encode(matrix, bits):
    """Han et al.'s scheme written plainly, entry by entry: (values, gaps, row_ptr)."""
    span = 2**bits - 1
    values, gaps, row_ptr = [], [], [0]
    for row in matrix:
        previous = 0
        for col, v in enumerate(row):
            if v == 0:
                continue
            gap = col - previous
            while gap > span:
                values.append(0.0)
                gaps.append(span)
                gap -= span
            values.append(v)
            gaps.append(gap)
            previous = col
        row_ptr.append(len(values))
    return values, gaps, row_ptr


@st.composite
def sparse_matrices(draw):
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 12), st.integers(1, 40)),
        st.tuples(st.just(1), st.integers(1, 120)),      # 1 x n
        st.tuples(st.integers(1, 30), st.just(1)),       # n x 1
        st.sampled_from([(1, 100), (4, 300)]),           # long gaps for every b
    ))
    density = draw(st.one_of(st.sampled_from([0.0, 0.02, 1.0]), st.floats(0.0, 1.0)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m = rng.standard_normal(shape).astype(dtype) * (rng.random(shape) < density)  # dropped negatives: -0.0
    m[rng.random(shape[0]) < 0.2] = 0                                         # empty rows
    full = rng.random(shape[0]) < 0.2
    m[full] = rng.uniform(0.5, 2.0, (full.sum(), shape[1])) * rng.choice([-1, 1], (full.sum(), shape[1]))
    return m


def _far_apart(cols, length=100, dtype=np.float64):
    m = np.zeros((1, length), dtype)
    m[0, cols] = np.arange(1, len(cols) + 1)
    return m


@settings(max_examples=300, deadline=None)
@given(m=sparse_matrices(), bits=BITS)
@example(m=_far_apart([0, 99]), bits=3)        # a gap of 99 > 7: 13 fillers
@example(m=_far_apart([50]), bits=3)           # first entry past 2^b - 1
@example(m=_far_apart([7, 15, 22]), bits=3)    # gaps of exactly 7 and 8
@example(m=_far_apart([1, 2, 3], length=4, dtype=np.float32), bits=1)
@example(m=np.zeros((3, 5), np.float32), bits=5)
def test_encode_matches_the_reference_and_decodes_exactly(m, bits):
    csr = encode(m, bits)
    values, gaps, row_ptr = reference_encode(m, bits)
    assert csr.shape == m.shape and csr.bits == bits and csr.values.dtype == m.dtype
    np.testing.assert_array_equal(csr.values, np.array(values, m.dtype))
    np.testing.assert_array_equal(csr.gaps, gaps)
    np.testing.assert_array_equal(csr.row_ptr, row_ptr)
    assert csr.row_ptr.dtype == np.int64
    assert np.all(csr.gaps < 2**bits) and np.all(csr.gaps >= 0)
    rep = report(csr)
    assert rep["fillers"] == len(values) - np.count_nonzero(m) and rep["nonzeros"] == np.count_nonzero(m)
    dense = decode(csr)
    assert dense.dtype == m.dtype
    assert dense.tobytes() == np.where(m == 0, np.zeros_like(m), m).tobytes()  # -0.0 comes back as +0.0


def test_long_gap_example_counts_fillers():
    csr = encode(_far_apart([0, 99]), 3)
    # column 0 (gap 0), then 99 = 14 * 7 + 1: fillers at 7, 14, ..., 98, then gap 1
    assert report(csr)["fillers"] == 14
    np.testing.assert_array_equal(csr.gaps, [0] + [7] * 14 + [1])
    csr = encode(_far_apart([50]), 3)  # 50 = 7 * 7 + 1: fillers at 7, ..., 49, then gap 1
    np.testing.assert_array_equal(csr.gaps, [7] * 7 + [1])


def test_worked_example_byte_count():
    # A 2 x 20 float32 matrix, b = 3 bits, so a gap holds at most 7.
    #   row 0: 1.0 at column 0, 2.0 at column 9, 3.0 at column 19
    #   row 1: 4.0 at column 17
    m = np.zeros((2, 20), np.float32)
    m[0, [0, 9, 19]] = [1.0, 2.0, 3.0]
    m[1, 17] = 4.0
    csr = encode(m, 3)
    # row 0: 1.0 gap 0 | filler at 7 gap 7 | 2.0 at 9 gap 2 | filler at 16 gap 7 | 3.0 at 19 gap 3
    # row 1: filler at 7 gap 7 | filler at 14 gap 7 | 4.0 at 17 gap 3
    np.testing.assert_array_equal(csr.values, [1, 0, 2, 0, 3, 0, 0, 4])
    np.testing.assert_array_equal(csr.gaps, [0, 7, 2, 7, 3, 7, 7, 3])
    np.testing.assert_array_equal(csr.row_ptr, [0, 5, 8])
    # 8 stored entries (4 non-zeros, 4 fillers):
    #   values 4 * 8 = 32, indices ceil(3 * 8 / 8) = 3, row pointers 4 * (2 + 1) = 12: 47 bytes
    #   dense: 4 * 2 * 20 = 160 bytes
    assert sparse_bytes(csr) == 47 and dense_bytes(csr) == 160
    assert report(csr) == {"nonzeros": 4, "fillers": 4, "stored": 8, "dense_bytes": 160,
                           "sparse_bytes": 47, "ratio": 160 / 47}
    # the bit stream, least significant bit of each gap first:
    #   000 111 010 111 110 111 111 110 -> bytes (bit 0 first)
    #   0001 1101 = 8+16+32+128 = 184, 0111 1101 = 2+4+8+16+32+128 = 190, 1111 1110 = 127
    np.testing.assert_array_equal(pack_gaps(csr.gaps, 3), [184, 190, 127])


def test_total_sums_reports():
    a, b = encode(np.eye(4), 5), encode(np.zeros((3, 9)), 5)
    t = total([report(a), report(b)])
    assert t["nonzeros"] == 4 and t["stored"] == 4 and t["fillers"] == 0
    assert t["dense_bytes"] == 4 * 16 + 4 * 27
    # eye(4): 4 values, ceil(5 * 4 / 8) = 3 index bytes, 5 row pointers; zeros: 4 row pointers
    assert t["sparse_bytes"] == (4 * 4 + 3 + 4 * 5) + (0 + 0 + 4 * 4)
    assert t["ratio"] == t["dense_bytes"] / t["sparse_bytes"]


def _reference_pack(gaps, bits):
    stream = "".join(format(g, f"0{bits}b")[::-1] for g in gaps)  # each gap least significant bit first
    stream += "0" * (-len(stream) % 8)
    return [int(stream[i:i + 8][::-1], 2) for i in range(0, len(stream), 8)]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), bits=st.integers(1, 16))
def test_pack_unpack_round_trip(data, bits):
    gaps = data.draw(st.lists(st.integers(0, 2**bits - 1), max_size=60))
    packed = pack_gaps(np.array(gaps, np.int64), bits)
    assert packed.dtype == np.uint8 and len(packed) == -(-bits * len(gaps) // 8)
    assert packed.tolist() == _reference_pack(gaps, bits)
    out = unpack_gaps(packed, bits, len(gaps))
    assert out.dtype == np.int64 and out.tolist() == gaps


def test_pack_and_unpack_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"'gaps' parameter of pack_gaps must hold ints in the range \[0, 7\]. Got 8"):
        pack_gaps(np.array([1, 8]), 3)
    with pytest.raises(ValueError, match="holds 1 bytes, but 'count' 4 gaps of 3 bits take 2"):
        unpack_gaps(np.zeros(1, np.uint8), 3, 4)
    with pytest.raises(TypeError, match="'packed' parameter of unpack_gaps must be a 1-D uint8 array"):
        unpack_gaps(np.zeros(2, np.int64), 3, 4)


@pytest.mark.parametrize("matrix, bits, error, match", [
    (np.eye(3), 0, ValueError, r"The 'bits' parameter of encode must be an int in the range \[1, 16\]. Got 0 instead."),
    (np.eye(3), 17, ValueError, r"range \[1, 16\]. Got 17 instead."),
    (np.eye(3), True, TypeError, "Got True of type bool"),
    (np.zeros((2, 2, 2)), 3, TypeError, r"'matrix' parameter of encode must be a 2-D float32 or float64 array. "
                                       r"Got float64 of shape \(2, 2, 2\)"),
    (np.eye(3, dtype=int), 3, TypeError, "Got int64 of shape"),
    (np.array([[1.0, np.nan, np.inf]]), 3, ValueError, "must hold finite values. Got 2 NaN or infinite entries"),
])
def test_encode_rejects_bad_arguments(matrix, bits, error, match):
    with pytest.raises(error, match=match):
        encode(matrix, bits)




def test_relative_csr_checks_its_invariants():
    good = encode(np.eye(3), 2)
    RelativeCSR(good.shape, good.bits, good.values, good.gaps, good.row_ptr)
    with pytest.raises(ValueError, match=r"every gap must lie in \[0, 3\]"):
        RelativeCSR(good.shape, 2, good.values, good.gaps + 3, good.row_ptr)
    with pytest.raises(ValueError, match="values must be a 1-D float array"):
        RelativeCSR(good.shape, 2, good.values.astype(int), good.gaps, good.row_ptr)
