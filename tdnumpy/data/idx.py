"""The IDX file format of MNIST, read and written with full validation.

An IDX file is big-endian:

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4 d bytes   each dimension as an unsigned 32-bit integer
    rest        the values, C order, exactly prod(dims) * itemsize bytes

Files may be gzip-compressed (recognised by their first two bytes, 1f 8b).
Anything else raises :class:`IDXError` naming the file and what is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from pathlib import Path

import numpy as np

from .._validation import check_bool, check_int, check_path
from .._io import atomic_write_bytes

TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file is not a valid IDX file; the message names the file and the problem."""


def read_bytes(path) -> bytes:
    """The payload of ``path``, decompressed if it is gzip-compressed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IDXError(f"{path}: cannot be read ({e.strerror or e}).") from e
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXError(f"{path}: the gzip stream is truncated or corrupt ({e}).") from e


def sha256_of_payload(path, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of the payload of ``path``, decompressed if it is
    gzip-compressed, read ``chunk`` bytes at a time: a small .gz that unpacks
    to gigabytes is hashed (and rejected by its pin) in bounded memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    chunk : int, default=2**20
        Bytes read at a time.

    Returns
    -------
    str
        The digest, 64 hex characters.
    """
    path = check_path(path, "path", "sha256_of_payload")
    chunk = check_int(chunk, "chunk", "sha256_of_payload", low=1, high=1 << 30)
    digest, compressed = hashlib.sha256(), False
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
        with (gzip.open if compressed else open)(path, "rb") as f:
            while block := f.read(chunk):
                digest.update(block)
    except (OSError, EOFError, zlib.error) as e:
        what = "the gzip stream is truncated or corrupt" if compressed else "cannot be read"
        raise IDXError(f"{path}: {what} ({getattr(e, 'strerror', None) or e}).") from e
    return digest.hexdigest()


def parse_idx(payload: bytes, source="<bytes>") -> np.ndarray:
    """Parse an uncompressed IDX payload; ``source`` names it in error messages."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"The 'payload' parameter of parse_idx must be bytes. Got {type(payload).__name__} instead.")
    if len(payload) < 4:
        raise IDXError(f"{source}: {len(payload)} bytes is too short for an IDX header (4 bytes at least).")
    if payload[0] != 0 or payload[1] != 0:
        raise IDXError(
            f"{source}: bad magic number {payload[:4].hex()}; an IDX file starts with two zero bytes, "
            "a type code and the number of dimensions."
        )
    code, ndim = payload[2], payload[3]
    if code not in TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise IDXError(f"{source}: unknown IDX type code 0x{code:02X} (known: {known}).")
    if ndim == 0:
        raise IDXError(f"{source}: the header declares 0 dimensions.")
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise IDXError(
            f"{source}: truncated header; {ndim} dimensions need {header} bytes, the file has {len(payload)}."
        )
    dims = tuple(int(d) for d in np.frombuffer(payload, ">u4", count=ndim, offset=4))
    dtype = TYPE_CODES[code]
    expected = math.prod(dims) * dtype.itemsize
    actual = len(payload) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise IDXError(
            f"{source}: payload {what}; dimensions {dims} of {dtype.name} need {expected} bytes "
            f"after the header, the file has {actual}."
        )
    data = np.frombuffer(payload, dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a native-endian array."""
    path = check_path(path, "path", "read_idx")
    return parse_idx(read_bytes(path), source=path)


def to_idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as an uncompressed IDX payload."""
    array = np.asarray(array)
    for code, dtype in TYPE_CODES.items():
        if (array.dtype.kind, array.dtype.itemsize) == (dtype.kind, dtype.itemsize):
            break
    else:
        storable = sorted({d.name for d in TYPE_CODES.values()})
        raise TypeError(f"The 'array' parameter: IDX cannot store dtype {array.dtype}; use one of {storable}.")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"The 'array' parameter: IDX stores arrays of 1 to 255 dimensions. Got {array.ndim}.")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, gzip-compressed if ``compress`` (default: the
    name ends in ``.gz``). The file appears atomically (temporary file, then rename)."""
    path = check_path(path, "path", "write_idx")
    payload = to_idx_bytes(array)
    if compress is not None:
        check_bool(compress, "compress", "write_idx")
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload, mtime=0)
    atomic_write_bytes(path, payload)
    return path
