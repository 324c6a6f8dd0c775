"""Sparse storage of pruned models with relative indices (Han, Mao and Dally,
"Deep Compression", ICLR 2016, section 2; Han, Pool, Tran and Dally,
"Learning both Weights and Connections", NIPS 2015).

Every weight matrix is stored in the relative-index CSR form of
:mod:`tdnumpy.pruning.csr` (whose names are importable from here too), the
biases dense.

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
from pathlib import Path

import numpy as np

from .._io import atomic_open, read_archive
from ..nn import Conv2D
from ..nn.models import build_model
from ..nn.weighted import WeightedLayer
from .._validation import check_path
from ..nn.module import check_model
from .csr import INDEX_BITS, RelativeCSR, decode, encode, pack_gaps, report, sparse_bytes, unpack_gaps
from .csr import dense_bytes, total  # noqa: F401 (importable from here too)

FORMAT = "tdnumpy-sparse"
VERSION = 1


class SparseFormatError(ValueError):
    """A sparse model file is unreadable, corrupt or does not match its model."""


def _index_bits(layer, dense_bits: int, conv_bits: int) -> tuple[str, int]:
    return ("conv", conv_bits) if isinstance(layer, Conv2D) else ("dense", dense_bits)


def compressed_bytes(model, *, dense_bits: int = 5, conv_bits: int = 8) -> int:
    """The bytes of all of ``model``'s parameters stored as Han et al. count them.

    Parameters
    ----------
    model : Sequential
        The (pruned) model.
    dense_bits, conv_bits : int, default 5 and 8
        Bits per gap for Dense and Conv2D weights, in [1, 16].

    Returns
    -------
    int
        Each weight matrix as its relative-index CSR (:func:`sparse_bytes`),
        everything else (biases) dense at 32 bits.
    """
    check_model(model, "model", "compressed_bytes")
    dense_bits = INDEX_BITS.check(dense_bits, "dense_bits", "compressed_bytes")
    conv_bits = INDEX_BITS.check(conv_bits, "conv_bits", "compressed_bytes")
    size = 4 * model.n_parameters()
    for layer in (la for la in model.layers if isinstance(la, WeightedLayer)):
        bits = _index_bits(layer, dense_bits, conv_bits)[1]
        size += sparse_bytes(encode(layer.weight.value.T, bits)) - 4 * layer.weight.size
    return size


def export_model(model, path, *, dense_bits: int = 5, conv_bits: int = 8) -> list[dict]:
    """Write ``model`` sparse to ``path`` atomically, in the format of the module docstring.

    Parameters
    ----------
    model : Sequential
        A model built by :func:`~tdnumpy.nn.models.build_model` (it has a spec).
    path : str or path-like
        The ``.npz`` file to write.
    dense_bits, conv_bits : int, default 5 and 8
        Bits per gap for Dense and Conv2D weights, in [1, 16].

    Returns
    -------
    list of dict
        Per weighted layer: layer, kind ("dense" or "conv"), shape (units, fan_in), bits
        and the fields of :func:`report` (byte counts with 32-bit values, though the file
        keeps the model's dtype). An unpruned layer simply reports a ratio below 1.

    Raises
    ------
    ValueError
        If ``model`` has no spec or a parameter holds NaN or infinite values.
    """
    check_model(model, "model", "export_model")
    path = check_path(path, "path", "export_model")
    dense_bits = INDEX_BITS.check(dense_bits, "dense_bits", "export_model")
    conv_bits = INDEX_BITS.check(conv_bits, "conv_bits", "export_model")
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
        arrays.update(
            {
                f"csr/{name}/values": csr.values,
                f"csr/{name}/index": pack_gaps(csr.gaps, bits),
                f"csr/{name}/row_ptr": csr.row_ptr,
            }
        )
        layers[name] = {
            "layer": layer.name,
            "kind": kind,
            "shape": list(csr.shape),
            "bits": bits,
            "stored": len(csr.values),
        }
        reports.append({"layer": layer.name, "kind": kind, "shape": csr.shape, "bits": bits, **report(csr)})
    arrays.update({f"dense/{name}": p.value for name, p in params.items() if name not in layers})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "spec": model.spec,
        "dtype": str(model.dtype),
        "layers": layers,
        "masked": [name for name, p in params.items() if p.mask is not None],
    }
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_open(Path(path), "wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # NumPy's stub types **kwds as allow_pickle
    return reports


def _read(path: Path) -> tuple[dict, dict]:
    return read_archive(
        path, fmt=FORMAT, version=VERSION, what="sparse model", error=SparseFormatError, prefixes=("csr/", "dense/")
    )


def _decode_weight(path: Path, name: str, info: dict, contents: dict, expected_shape) -> np.ndarray:
    try:
        shape, bits, stored = tuple(info["shape"]), info["bits"], info["stored"]
    except (KeyError, TypeError) as e:
        raise SparseFormatError(f"{path}: the meta.json entry of {name!r} is incomplete ({e!r}).") from e
    if shape != expected_shape:
        raise SparseFormatError(
            f"{path}: {name!r} is stored as a {shape} matrix, but model expects {expected_shape} (units, fan_in)."
        )
    values, index, row_ptr = (contents[f"csr/{name}/{k}"] for k in ("values", "index", "row_ptr"))
    if values.shape != (stored,):
        raise SparseFormatError(
            f"{path}: {name!r} has values of shape {values.shape}; meta.json says {stored} stored entries."
        )
    try:
        return decode(RelativeCSR(shape, bits, values, unpack_gaps(index, bits, stored), row_ptr)).T
    except (TypeError, ValueError) as e:
        raise SparseFormatError(f"{path}: {name!r}: {e}") from e


def import_model(path):
    """Rebuild the model :func:`export_model` wrote to ``path``.

    Each parameter gets its exact stored value (pruned weights as +0.0); a weight
    that had a pruning mask gets the mask ``value != 0``. The format stores
    values, not masks (as Han et al.'s does), so a kept weight that happened to
    be exactly 0 comes back pruned; it contributes nothing either way.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`export_model`.

    Returns
    -------
    model : Sequential
        The model, in the dtype it was exported in.
    metadata : dict
        The file's ``meta.json`` record.

    Raises
    ------
    SparseFormatError
        If the file is unreadable, corrupt or does not match its model.
    """
    path = check_path(path, "path", "import_model")
    contents, meta = _read(path)
    try:
        model = build_model(meta["spec"], dtype=meta["dtype"])
    except (KeyError, TypeError, ValueError) as e:
        raise SparseFormatError(f"{path}: the model spec {meta.get('spec')!r} cannot be built ({e}).") from e
    params, sparse = model.named_parameters(), meta.get("layers")
    weights = sorted(la.weight.name for la in model.layers if isinstance(la, WeightedLayer))
    if not isinstance(sparse, dict) or sorted(sparse) != weights:
        raise SparseFormatError(
            f"{path}: meta.json lists sparse weights {sparse!r}; model {meta['spec']!r} has {weights}."
        )
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
            raise SparseFormatError(
                f"{path}: {name!r} is stored as {value.dtype} {value.shape}; "
                f"model {meta['spec']!r} has {p.dtype} {p.shape}."
            )
        if not np.all(np.isfinite(value)):
            raise SparseFormatError(f"{path}: {name!r} holds NaN or infinite values.")
        p.value[...] = value
    masked = meta.get("masked", [])
    if not isinstance(masked, list) or not {str(n) for n in masked} <= set(params):
        raise SparseFormatError(f"{path}: meta.json marks unknown parameters as masked: {masked!r}.")
    for name in masked:
        params[name].set_mask(params[name].value != 0)
    return model, meta
