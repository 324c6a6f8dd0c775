"""The IDX reader and writer: round trips, and a clear error for every kind of bad file."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tdnumpy.data import IDXError, parse_idx, read_idx, to_idx_bytes, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), compress=st.booleans())
def test_round_trip(tmp_path_factory, data, dtype, compress):
    shape = data.draw(st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple))
    array = data.draw(arrays(dtype, shape))
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_header_layout_is_big_endian():
    payload = to_idx_bytes(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert payload[:4] == bytes([0, 0, 0x0B, 2])
    assert payload[4:12] == bytes([0, 0, 0, 2, 0, 0, 0, 3])
    assert payload[12:16] == bytes([0, 0, 0, 1])  # 0 and 1 as big-endian int16


GOOD = to_idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize("payload, match", [
    (GOOD[:-1], r"payload truncated; dimensions \(3, 4\) of uint8 need 12 bytes after the header, the file has 11"),
    (GOOD + b"\0", "trailing bytes"),
    (GOOD[:10], "truncated header"),
    (GOOD[:3], "too short"),
    (b"\x08\x03" + GOOD[2:], "bad magic number"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "unknown IDX type code 0x07"),
    (GOOD[:3] + b"\x00", "0 dimensions"),
])
def test_bad_payload_raises_naming_file_and_problem(tmp_path, payload, match):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(IDXError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_raises_naming_file(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(GOOD)[:-6])
    with pytest.raises(IDXError, match="gzip stream is truncated or corrupt") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(IDXError, match="cannot be read"):
        read_idx(tmp_path / "nope")


def test_parse_names_its_source():
    with pytest.raises(IDXError, match="^<mem>: "):
        parse_idx(b"\1\0\0\0", source="<mem>")


def test_writer_rejects_unsupported_dtypes(tmp_path):
    with pytest.raises(TypeError, match="IDX cannot store dtype"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.array(3, np.uint8))


def test_real_mnist_files_parse(mnist):
    assert mnist.train.images.shape == (60_000, 28, 28) and mnist.train.images.dtype == np.uint8
    assert mnist.test.images.shape == (10_000, 28, 28)
    assert np.bincount(mnist.train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
