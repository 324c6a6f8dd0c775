"""One matrix in Han et al.'s relative-index sparse form (Han, Mao and Dally,
"Deep Compression", ICLR 2016, section 2; Han, Pool, Tran and Dally,
"Learning both Weights and Connections", NIPS 2015).

A matrix is stored in compressed sparse row (CSR) form, but each stored entry
keeps, instead of its column, its *gap* to the previous stored entry of its
row, in b bits (Han et al.: b = 8 for convolutions, 5 for fully connected
layers); a gap too long for b bits is bridged by filler zeros
(:class:`RelativeCSR` gives the exact convention). Zeros, +0.0 and -0.0, are
not stored and decode as +0.0; every other entry decodes bit for bit.
:mod:`tdnumpy.pruning.sparse` stores whole models this way.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .._docs import shared_docstring
from .._validation import Interval, check_int

INDEX_BITS = Interval(int, 1, 16)  # bits per stored gap


@dataclass(frozen=True, eq=False)
class RelativeCSR:
    """A (rows, cols) matrix with relative column indices.

    Row r's stored entries are ``values[row_ptr[r]:row_ptr[r + 1]]`` with gaps
    ``gaps[row_ptr[r]:row_ptr[r + 1]]`` (unpacked, int64). With span = 2^bits - 1
    and 0-based columns c_1 < c_2 < ... of a row's stored entries:

        gap_1 = c_1 (so it may be 0),    gap_k = c_k - c_{k-1} >= 1  (k > 1).

    Every gap is at most span. Where a non-zero lies further than span from the
    previous stored entry (from column 0 for a row's first), a *filler*, a
    stored 0, is placed span columns on, as often as needed: a non-zero at
    distance g brings floor(max(g - 1, 0) / span) fillers. Construction checks
    these invariants (a ValueError otherwise), so a RelativeCSR always decodes.

    Parameters
    ----------
    shape : tuple of int
        (rows, cols).
    bits : int
        Bits per gap, in [1, 16].
    values : ndarray of float, shape (stored,)
        The stored entries, fillers (0) included.
    gaps, row_ptr : ndarray of int, shapes (stored,) and (rows + 1,)
        As above; kept as int64.
    """

    shape: tuple[int, int]
    bits: int
    values: np.ndarray
    gaps: np.ndarray
    row_ptr: np.ndarray

    def __post_init__(self):
        rows, cols = (check_int(n, "shape", "RelativeCSR", low=0) for n in self.shape)
        INDEX_BITS.check(self.bits, "bits", "RelativeCSR")
        object.__setattr__(self, "shape", (rows, cols))
        values, gaps, row_ptr = (np.asarray(a) for a in (self.values, self.gaps, self.row_ptr))
        if values.ndim != 1 or values.dtype.kind != "f":
            raise ValueError(f"values must be a 1-D float array; got {values.dtype} of shape {values.shape}.")
        for name, a, size in (("gaps", gaps, len(values)), ("row_ptr", row_ptr, rows + 1)):
            if a.dtype.kind not in "iu" or a.shape != (size,):
                raise ValueError(f"{name} must be {size} integers; got {a.dtype} of shape {a.shape}.")
        steps = np.diff(row_ptr)
        if row_ptr[0] != 0 or np.any(steps < 0) or row_ptr[-1] != len(values):
            raise ValueError(
                f"row_ptr must start at 0, never decrease and end at the stored count "
                f"{len(values)}; got {_excerpt(row_ptr)}."
            )
        gaps = gaps.astype(np.int64)
        later = np.ones(len(gaps), bool)
        later[row_ptr[:-1][steps > 0]] = False
        if np.any(gaps < 0) or np.any(gaps >= 1 << self.bits) or np.any(gaps[later] == 0):
            raise ValueError(
                f"every gap must lie in [0, {(1 << self.bits) - 1}] and be >= 1 after "
                f"the first entry of its row; got {_excerpt(gaps)}."
            )
        object.__setattr__(self, "gaps", gaps)
        object.__setattr__(self, "row_ptr", row_ptr.astype(np.int64))
        columns = self.columns()
        if len(columns) and columns.max() >= cols:
            raise ValueError(f"a decoded column, {columns.max()}, lies past the row end (cols = {cols}).")

    def columns(self) -> np.ndarray:
        """The absolute column of each stored entry.

        Returns
        -------
        ndarray of int64, shape (stored,)
            Per row, the running sum of its gaps.
        """
        running = np.cumsum(self.gaps)
        before_row = np.concatenate(([0], running))[self.row_ptr[:-1]]
        return running - np.repeat(before_row, np.diff(self.row_ptr))


def _excerpt(a: np.ndarray) -> str:
    return np.array2string(a, threshold=12, edgeitems=4)


def encode(matrix, bits: int) -> RelativeCSR:
    """The relative-index CSR of a 2-D float32 or float64 array.

    Parameters
    ----------
    matrix : array_like of float32 or float64, shape (rows, cols)
        The matrix; its entries must be finite.
    bits : int
        Bits per gap, in [1, 16].

    Returns
    -------
    RelativeCSR
        The non-zeros and fillers, with values in the matrix's dtype.

    Raises
    ------
    TypeError
        If ``matrix`` is not a 2-D float32 or float64 array.
    ValueError
        If ``matrix`` holds NaN or infinite values.
    """
    bits = INDEX_BITS.check(bits, "bits", "encode")
    m = np.asarray(matrix)
    if m.ndim != 2 or m.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"The 'matrix' parameter of encode must be a 2-D float32 or float64 array. "
            f"Got {m.dtype} of shape {m.shape} instead."
        )
    if not np.all(np.isfinite(m)):
        raise ValueError(
            f"The 'matrix' parameter of encode must hold finite values. "
            f"Got {np.count_nonzero(~np.isfinite(m))} NaN or infinite entries instead."
        )
    span = (1 << bits) - 1
    rows, cols = np.nonzero(m)  # row-major order
    previous = np.concatenate(([0], cols[:-1]))
    previous[np.concatenate(([True], rows[1:] != rows[:-1]))] = 0  # a row's first gap is its column
    gap = cols - previous
    fillers = np.maximum(gap - 1, 0) // span
    ends = np.cumsum(fillers + 1)  # each non-zero's stored position + 1, after its fillers
    stored = int(ends[-1]) if len(ends) else 0
    values = np.zeros(stored, m.dtype)
    values[ends - 1] = m[rows, cols]
    gaps = np.full(stored, span, np.int64)
    gaps[ends - 1] = gap - fillers * span
    row_ptr = np.concatenate(([0], ends))[np.searchsorted(rows, np.arange(m.shape[0] + 1))]
    return RelativeCSR(m.shape, bits, values, gaps, row_ptr.astype(np.int64))


def decode(csr: RelativeCSR) -> np.ndarray:
    """The dense matrix of ``csr``.

    Parameters
    ----------
    csr : RelativeCSR
        The matrix to decode.

    Returns
    -------
    ndarray, shape ``csr.shape``
        In the dtype of ``csr.values``; unstored entries are +0.0.
    """
    dense = np.zeros(_check_csr(csr, "decode").shape, csr.values.dtype)
    dense[np.repeat(np.arange(csr.shape[0]), np.diff(csr.row_ptr)), csr.columns()] = csr.values
    return dense


def pack_gaps(gaps, bits: int) -> np.ndarray:
    """Gaps in [0, 2^bits) packed ``bits`` each into ceil(bits n / 8) bytes.

    Parameters
    ----------
    gaps : array_like of int, shape (n,)
        The gaps, in [0, 2^bits).
    bits : int
        Bits per gap, in [1, 16].

    Returns
    -------
    ndarray of uint8, shape (ceil(bits n / 8),)
        Bit order is little-endian throughout: bit j of gap i is bit
        k = i bits + j of the stream, stored as bit k mod 8 of byte k // 8; the
        last byte is padded with zeros.
    """
    bits = INDEX_BITS.check(bits, "bits", "pack_gaps")
    gaps = np.asarray(gaps)
    if gaps.ndim != 1 or gaps.dtype.kind not in "iu":
        raise TypeError(
            f"The 'gaps' parameter of pack_gaps must be a 1-D integer array. "
            f"Got {gaps.dtype} of shape {gaps.shape} instead."
        )
    if len(gaps) and (gaps.min() < 0 or gaps.max() >= 1 << bits):
        raise ValueError(
            f"The 'gaps' parameter of pack_gaps must hold ints in the range [0, {(1 << bits) - 1}]. "
            f"Got {gaps.min() if gaps.min() < 0 else gaps.max()} instead."
        )
    bit_matrix = (gaps.astype(np.int64)[:, None] >> np.arange(bits)) & 1
    return np.packbits(bit_matrix.astype(np.uint8).ravel(), bitorder="little")


def unpack_gaps(packed, bits: int, count: int) -> np.ndarray:
    """The ``count`` gaps that :func:`pack_gaps` packed into ``packed``.

    Parameters
    ----------
    packed : ndarray of uint8, shape (ceil(bits count / 8),)
        The packed stream.
    bits, count : int
        Bits per gap, in [1, 16], and the number of gaps, >= 0.

    Returns
    -------
    ndarray of int64, shape (count,)
        The gaps.
    """
    bits = INDEX_BITS.check(bits, "bits", "unpack_gaps")
    count = check_int(count, "count", "unpack_gaps", low=0)
    packed = np.asarray(packed)
    if packed.ndim != 1 or packed.dtype != np.uint8:
        raise TypeError(
            f"The 'packed' parameter of unpack_gaps must be a 1-D uint8 array. "
            f"Got {packed.dtype} of shape {packed.shape} instead."
        )
    need = -(-bits * count // 8)
    if len(packed) != need:
        raise ValueError(
            f"The 'packed' parameter of unpack_gaps holds {len(packed)} bytes, but 'count' {count} "
            f"gaps of {bits} bits take {need}."
        )
    bit_matrix = np.unpackbits(packed, count=bits * count, bitorder="little").reshape(count, bits)
    return bit_matrix.astype(np.int64) @ (np.int64(1) << np.arange(bits, dtype=np.int64))


def _check_csr(csr, owner: str) -> "RelativeCSR":
    if not isinstance(csr, RelativeCSR):
        raise TypeError(
            f"The 'csr' parameter of {owner} must be a RelativeCSR (from encode). Got {type(csr).__name__} instead."
        )
    return csr


# The parameter of the storage counts below, and the result of the two byte counts.
_CSR = """
    Parameters
    ----------
    csr : RelativeCSR
        The matrix.
    """
_BYTES = (
    _CSR
    + """
    Returns
    -------
    int
        The number of bytes.
    """
)


@shared_docstring(bytes=_BYTES)
def dense_bytes(csr: RelativeCSR) -> int:
    """The bytes of ``csr`` stored dense: 4 rows cols, every entry as a 32-bit float.

    {{bytes}}
    """
    return 4 * _check_csr(csr, "dense_bytes").shape[0] * csr.shape[1]


@shared_docstring(bytes=_BYTES)
def sparse_bytes(csr: RelativeCSR) -> int:
    """The bytes of ``csr`` stored sparse, by Han et al.'s count.

        4 n + ceil(b n / 8) + 4 (rows + 1)

    for n stored entries (fillers included): 32-bit values, b-bit packed gaps,
    32-bit row pointers. Values count 4 bytes even when they are kept as
    float64.

    {{bytes}}
    """
    n = len(_check_csr(csr, "sparse_bytes").values)
    return 4 * n + -(-csr.bits * n // 8) + 4 * (csr.shape[0] + 1)


@shared_docstring(csr=_CSR)
def report(csr: RelativeCSR) -> dict:
    """The storage counts of ``csr``.

    {{csr}}

    Returns
    -------
    dict
        nonzeros, fillers, stored, dense_bytes, sparse_bytes and ratio = dense / sparse.
    """
    nonzeros, stored = int(np.count_nonzero(_check_csr(csr, "report").values)), len(csr.values)
    dense, sparse = dense_bytes(csr), sparse_bytes(csr)
    return {
        "nonzeros": nonzeros,
        "fillers": stored - nonzeros,
        "stored": stored,
        "dense_bytes": dense,
        "sparse_bytes": sparse,
        "ratio": dense / sparse,
    }


def total(reports) -> dict:
    """The sums of nonzeros, fillers, stored, dense_bytes and sparse_bytes, and their ratio.

    Parameters
    ----------
    reports : iterable of dict
        :func:`report` dicts (or :func:`export_model` rows).

    Returns
    -------
    dict
        The keys of :func:`report`; ``ratio`` is 0.0 when there is nothing.
    """
    keys = ("nonzeros", "fillers", "stored", "dense_bytes", "sparse_bytes")
    if not isinstance(reports, (list, tuple)) or not all(
        isinstance(r, dict) and all(isinstance(r.get(k), numbers.Real) for k in keys) for r in reports
    ):
        raise TypeError(
            f"The 'reports' parameter of total must be a list of report dicts holding "
            f"{', '.join(keys)}. Got {reports!r:.80} instead."
        )
    sums = {k: sum(r[k] for r in reports) for k in keys}
    return {**sums, "ratio": sums["dense_bytes"] / sums["sparse_bytes"] if sums["sparse_bytes"] else 0.0}
