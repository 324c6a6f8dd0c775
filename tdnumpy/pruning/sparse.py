"""Sparse storage of pruned weights with relative indices (Han, Mao and Dally,
"Deep Compression", ICLR 2016, section 2; Han, Pool, Tran and Dally,
"Learning both Weights and Connections", NIPS 2015).

A matrix is stored in compressed sparse row (CSR) form, but each stored entry
keeps, instead of its column, its *gap* to the previous stored entry of its
row, in b bits (Han et al.: b = 8 for convolutions, 5 for fully connected
layers); a gap too long for b bits is bridged by filler zeros
(:class:`RelativeCSR` gives the exact convention). Zeros, +0.0 and -0.0, are
not stored and decode as +0.0; every other entry decodes bit for bit.

Model files (``export_model``) are one ``.npz`` read with ``allow_pickle=False``:

    csr/<param>/values    stored entries (fillers included), the model's dtype
    csr/<param>/index     the gaps packed b bits each (``pack_gaps``), uint8
    csr/<param>/row_ptr   int64, rows + 1 entries
    dense/<param>         every other parameter (biases), as is
    meta.json             UTF-8 JSON as uint8: format, version, spec, dtype,
                          layers {param: layer, kind, shape, bits, stored},
                          masked (the parameters that had a pruning mask)

A weight W of shape (fan_in, units) is stored as the CSR of W.T: one row per
unit (output channel) holding its incoming weights in the layer's fan_in
order, the (out, in) orientation of Caffe and Han et al.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_open, read_archive
from .._validation import check_int
from ..nn.models import build_model
from ..nn import Conv2D
from ..nn.weighted import WeightedLayer

FORMAT = "tdnumpy-sparse"
VERSION = 1


class SparseFormatError(ValueError):
    """A sparse model file is unreadable, corrupt or does not match its model."""


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
    these invariants, so a RelativeCSR always decodes.
    """

    shape: tuple[int, int]
    bits: int
    values: np.ndarray
    gaps: np.ndarray
    row_ptr: np.ndarray

    def __post_init__(self):
        rows, cols = (check_int(n, "shape", "RelativeCSR", low=0) for n in self.shape)
        check_int(self.bits, "bits", "RelativeCSR", low=1, high=16)
        object.__setattr__(self, "shape", (rows, cols))
        values, gaps, row_ptr = (np.asarray(a) for a in (self.values, self.gaps, self.row_ptr))
        if values.ndim != 1 or values.dtype.kind != "f":
            raise ValueError(f"values must be a 1-D float array; got {values.dtype} of shape {values.shape}.")
        for name, a, size in (("gaps", gaps, len(values)), ("row_ptr", row_ptr, rows + 1)):
            if a.dtype.kind not in "iu" or a.shape != (size,):
                raise ValueError(f"{name} must be {size} integers; got {a.dtype} of shape {a.shape}.")
        steps = np.diff(row_ptr)
        if row_ptr[0] != 0 or np.any(steps < 0) or row_ptr[-1] != len(values):
            raise ValueError(f"row_ptr must start at 0, never decrease and end at the stored count "
                             f"{len(values)}; got {_excerpt(row_ptr)}.")
        gaps = gaps.astype(np.int64)
        later = np.ones(len(gaps), bool)
        later[row_ptr[:-1][steps > 0]] = False
        if np.any(gaps < 0) or np.any(gaps >= 1 << self.bits) or np.any(gaps[later] == 0):
            raise ValueError(f"every gap must lie in [0, {(1 << self.bits) - 1}] and be >= 1 after "
                             f"the first entry of its row; got {_excerpt(gaps)}.")
        object.__setattr__(self, "gaps", gaps)
        object.__setattr__(self, "row_ptr", row_ptr.astype(np.int64))
        columns = self.columns()
        if len(columns) and columns.max() >= cols:
            raise ValueError(f"a decoded column, {columns.max()}, lies past the row end (cols = {cols}).")

    def columns(self) -> np.ndarray:
        """The absolute column of each stored entry: per row, the running sum of its gaps."""
        running = np.cumsum(self.gaps)
        before_row = np.concatenate(([0], running))[self.row_ptr[:-1]]
        return running - np.repeat(before_row, np.diff(self.row_ptr))


def _excerpt(a: np.ndarray) -> str:
    return np.array2string(a, threshold=12, edgeitems=4)


def encode(matrix, bits: int) -> RelativeCSR:
    """The relative-index CSR of a 2-D float32 or float64 array, gaps of ``bits`` in [1, 16]."""
    bits = check_int(bits, "bits", "encode", low=1, high=16)
    m = np.asarray(matrix)
    if m.ndim != 2 or m.dtype not in (np.float32, np.float64):
        raise TypeError(f"The 'matrix' parameter of encode must be a 2-D float32 or float64 array. "
                        f"Got {m.dtype} of shape {m.shape} instead.")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"The 'matrix' parameter of encode must hold finite values. "
                         f"Got {np.count_nonzero(~np.isfinite(m))} NaN or infinite entries instead.")
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
    """The dense matrix of ``csr`` in the dtype of its values (unstored entries +0.0)."""
    dense = np.zeros(csr.shape, csr.values.dtype)
    dense[np.repeat(np.arange(csr.shape[0]), np.diff(csr.row_ptr)), csr.columns()] = csr.values
    return dense


def pack_gaps(gaps, bits: int) -> np.ndarray:
    """Gaps in [0, 2^bits) packed ``bits`` each into ceil(bits n / 8) bytes.

    Bit order is little-endian throughout: bit j of gap i is bit
    k = i bits + j of the stream, stored as bit k mod 8 of byte k // 8; the
    last byte is padded with zeros."""
    bits = check_int(bits, "bits", "pack_gaps", low=1, high=16)
    gaps = np.asarray(gaps)
    if gaps.ndim != 1 or gaps.dtype.kind not in "iu":
        raise TypeError(f"The 'gaps' parameter of pack_gaps must be a 1-D integer array. "
                        f"Got {gaps.dtype} of shape {gaps.shape} instead.")
    if len(gaps) and (gaps.min() < 0 or gaps.max() >= 1 << bits):
        raise ValueError(f"The 'gaps' parameter of pack_gaps must hold ints in the range [0, {(1 << bits) - 1}]. "
                         f"Got {gaps.min() if gaps.min() < 0 else gaps.max()} instead.")
    bit_matrix = (gaps.astype(np.int64)[:, None] >> np.arange(bits)) & 1
    return np.packbits(bit_matrix.astype(np.uint8).ravel(), bitorder="little")


def unpack_gaps(packed, bits: int, count: int) -> np.ndarray:
    """The ``count`` gaps (int64) that :func:`pack_gaps` packed into ``packed``."""
    bits = check_int(bits, "bits", "unpack_gaps", low=1, high=16)
    count = check_int(count, "count", "unpack_gaps", low=0)
    packed = np.asarray(packed)
    if packed.ndim != 1 or packed.dtype != np.uint8:
        raise TypeError(f"The 'packed' parameter of unpack_gaps must be a 1-D uint8 array. "
                        f"Got {packed.dtype} of shape {packed.shape} instead.")
    need = -(-bits * count // 8)
    if len(packed) != need:
        raise ValueError(f"the packed index array holds {len(packed)} bytes, but {count} gaps of "
                         f"{bits} bits take {need}.")
    bit_matrix = np.unpackbits(packed, count=bits * count, bitorder="little").reshape(count, bits)
    return bit_matrix.astype(np.int64) @ (np.int64(1) << np.arange(bits, dtype=np.int64))


def dense_bytes(csr: RelativeCSR) -> int:
    """4 rows cols: every entry as a 32-bit float."""
    return 4 * csr.shape[0] * csr.shape[1]


def sparse_bytes(csr: RelativeCSR) -> int:
    """Han et al.'s count, 4 n + ceil(b n / 8) + 4 (rows + 1), for n stored entries
    (fillers included): 32-bit values, b-bit packed gaps, 32-bit row pointers.
    Values count 4 bytes even when they are kept as float64."""
    n = len(csr.values)
    return 4 * n + -(-csr.bits * n // 8) + 4 * (csr.shape[0] + 1)


def report(csr: RelativeCSR) -> dict:
    """nonzeros, fillers, stored, dense_bytes, sparse_bytes and ratio = dense / sparse."""
    nonzeros, stored = int(np.count_nonzero(csr.values)), len(csr.values)
    dense, sparse = dense_bytes(csr), sparse_bytes(csr)
    return {"nonzeros": nonzeros, "fillers": stored - nonzeros, "stored": stored,
            "dense_bytes": dense, "sparse_bytes": sparse, "ratio": dense / sparse}


def total(reports) -> dict:
    """The sums of nonzeros, fillers, stored, dense_bytes and sparse_bytes, and their ratio."""
    keys = ("nonzeros", "fillers", "stored", "dense_bytes", "sparse_bytes")
    sums = {k: sum(r[k] for r in reports) for k in keys}
    return {**sums, "ratio": sums["dense_bytes"] / sums["sparse_bytes"] if sums["sparse_bytes"] else 0.0}


def _index_bits(layer, dense_bits: int, conv_bits: int) -> tuple[str, int]:
    return ("conv", conv_bits) if isinstance(layer, Conv2D) else ("dense", dense_bits)


def compressed_bytes(model, *, dense_bits: int = 5, conv_bits: int = 8) -> int:
    """The bytes of all of ``model``'s parameters stored as Han et al. count
    them: each weight matrix as its relative-index CSR (:func:`sparse_bytes`),
    everything else (biases) dense at 32 bits."""
    total = 4 * model.n_parameters()
    for layer in (la for la in model.layers if isinstance(la, WeightedLayer)):
        bits = _index_bits(layer, dense_bits, conv_bits)[1]
        total += sparse_bytes(encode(layer.weight.value.T, bits)) - 4 * layer.weight.size
    return total


def export_model(model, path, *, dense_bits: int = 5, conv_bits: int = 8) -> list[dict]:
    """Write ``model`` (built by ``build_model``) sparse to ``path`` atomically and
    return a report per weighted layer: layer, kind ("dense" or "conv"), shape
    (units, fan_in), bits and the fields of :func:`report` (byte counts with
    32-bit values, though the file keeps the model's dtype). An unpruned layer
    simply reports a ratio below 1."""
    dense_bits = check_int(dense_bits, "dense_bits", "export_model", low=1, high=16)
    conv_bits = check_int(conv_bits, "conv_bits", "export_model", low=1, high=16)
    if model.spec is None:
        raise ValueError("export_model needs a model built by build_model; this one has no spec.")
    params = model.named_parameters()
    for name, p in params.items():
        if not np.all(np.isfinite(p.value)):
            raise ValueError(f"export_model: parameter {name!r} holds NaN or infinite values.")
    arrays, layers, reports = {}, {}, []
    for layer in (la for la in model.layers if isinstance(la, WeightedLayer)):
        kind, bits = _index_bits(layer, dense_bits, conv_bits)
        name, csr = layer.weight.name, encode(layer.weight.value.T, bits)
        arrays.update({f"csr/{name}/values": csr.values, f"csr/{name}/index": pack_gaps(csr.gaps, bits),
                       f"csr/{name}/row_ptr": csr.row_ptr})
        layers[name] = {"layer": layer.name, "kind": kind, "shape": list(csr.shape), "bits": bits,
                        "stored": len(csr.values)}
        reports.append({"layer": layer.name, "kind": kind, "shape": csr.shape, "bits": bits, **report(csr)})
    arrays.update({f"dense/{name}": p.value for name, p in params.items() if name not in layers})
    meta = {"format": FORMAT, "version": VERSION, "spec": model.spec, "dtype": str(model.dtype),
            "layers": layers, "masked": [name for name, p in params.items() if p.mask is not None]}
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_open(Path(path), "wb") as f:
        np.savez(f, **arrays)
    return reports


def _read(path: Path) -> tuple[dict, dict]:
    return read_archive(path, fmt=FORMAT, version=VERSION, what="sparse model", error=SparseFormatError)


def _decode_weight(path: Path, name: str, info: dict, contents: dict, expected_shape) -> np.ndarray:
    try:
        shape, bits, stored = tuple(info["shape"]), info["bits"], info["stored"]
    except (KeyError, TypeError) as e:
        raise SparseFormatError(f"{path}: the meta.json entry of {name!r} is incomplete ({e!r}).") from e
    if shape != expected_shape:
        raise SparseFormatError(f"{path}: {name!r} is stored as a {shape} matrix, but model "
                                f"expects {expected_shape} (units, fan_in).")
    values, index, row_ptr = (contents[f"csr/{name}/{k}"] for k in ("values", "index", "row_ptr"))
    if values.shape != (stored,):
        raise SparseFormatError(f"{path}: {name!r} has values of shape {values.shape}; meta.json says "
                                f"{stored} stored entries.")
    try:
        return decode(RelativeCSR(shape, bits, values, unpack_gaps(index, bits, stored), row_ptr)).T
    except (TypeError, ValueError) as e:
        raise SparseFormatError(f"{path}: {name!r}: {e}") from e


def import_model(path):
    """Rebuild the model ``export_model`` wrote to ``path``; return (model, metadata).

    Each parameter gets its exact stored value (pruned weights as +0.0); a weight
    that had a pruning mask gets the mask ``value != 0``. The format stores
    values, not masks (as Han et al.'s does), so a kept weight that happened to
    be exactly 0 comes back pruned; it contributes nothing either way."""
    path = Path(path)
    contents, meta = _read(path)
    try:
        model = build_model(meta["spec"], dtype=meta["dtype"])
    except (KeyError, TypeError, ValueError) as e:
        raise SparseFormatError(f"{path}: the model spec {meta.get('spec')!r} cannot be built ({e}).") from e
    params, sparse = model.named_parameters(), meta.get("layers")
    weights = sorted(la.weight.name for la in model.layers if isinstance(la, WeightedLayer))
    if not isinstance(sparse, dict) or sorted(sparse) != weights:
        raise SparseFormatError(f"{path}: meta.json lists sparse weights {sparse!r}; model {meta['spec']!r} "
                                f"has {weights}.")
    expected = {f"csr/{n}/{k}" for n in sparse for k in ("values", "index", "row_ptr")}
    expected |= {f"dense/{n}" for n in params if n not in sparse}
    missing, extra = sorted(expected - set(contents)), sorted(set(contents) - expected)
    if missing or extra:
        raise SparseFormatError(f"{path}: missing arrays {missing or 'none'}, unexpected arrays {extra or 'none'}.")
    for name, p in params.items():
        if name in sparse:
            value = _decode_weight(path, name, sparse[name], contents, p.shape[::-1])
        else:
            value = contents[f"dense/{name}"]
        if value.shape != p.shape or value.dtype != p.dtype:
            raise SparseFormatError(f"{path}: {name!r} is stored as {value.dtype} {value.shape}; "
                                    f"model {meta['spec']!r} has {p.dtype} {p.shape}.")
        if not np.all(np.isfinite(value)):
            raise SparseFormatError(f"{path}: {name!r} holds NaN or infinite values.")
        p.value[...] = value
    masked = meta.get("masked", [])
    if not isinstance(masked, list) or not {str(n) for n in masked} <= set(params):
        raise SparseFormatError(f"{path}: meta.json marks unknown parameters as masked: {masked!r}.")
    for name in masked:
        params[name].set_mask(params[name].value != 0)
    return model, meta
