"""Models in Han et al.'s relative-index sparse form (tdnumpy.pruning.sparse):
export and import round trips, the compressed size, and clear errors for
damaged files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tdnumpy.nn.models import build_model
from tdnumpy.nn.weighted import WeightedLayer
from tdnumpy.pruning.sparse import SparseFormatError, export_model, import_model, total
from tdnumpy.training.checkpoint import save_checkpoint


def _prune(model, rng, density=0.3, skip_last=True):
    """Random keep-masks on every weight but (with skip_last) the last; random biases."""
    weighted = [layer for layer in model.layers if isinstance(layer, WeightedLayer)]
    for layer in weighted[:-1] if skip_last else weighted:
        layer.weight.set_mask(rng.random(layer.weight.shape) < density)
    for layer in weighted:
        layer.bias.value[...] = rng.standard_normal(layer.bias.shape)
    return weighted


@pytest.mark.parametrize("spec", ["mlp:20-16-8-4", "lenet5"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_round_trip_is_exact(tmp_path, rng, spec, dtype):
    model = build_model(spec, seed=0, dtype=dtype)
    weighted = _prune(model, rng)
    path = tmp_path / "out" / "model.npz"
    reports = export_model(model, path)
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # atomic write: no stray temporaries
    loaded, meta = import_model(path)
    assert meta["format"] == "tdnumpy-sparse" and meta["spec"] == spec and meta["dtype"] == np.dtype(dtype).name
    before, after = model.named_parameters(), loaded.named_parameters()
    assert list(before) == list(after)
    for name, p in before.items():
        q = after[name]
        assert q.dtype == p.dtype and q.shape == p.shape, name
        # pruned negatives are -0.0 in the model (set_mask multiplies); the file stores no zeros
        assert q.value.tobytes() == (p.value + p.dtype.type(0)).tobytes(), name
        assert (p.mask is None) == (q.mask is None), name
        if p.mask is not None:
            assert np.array_equal(q.mask, p.mask), name
    assert [r["layer"] for r in reports] == [layer.name for layer in weighted]
    for r, layer in zip(reports, weighted):
        conv = layer.kind == "conv"
        assert r["kind"] == ("conv" if conv else "dense") and r["bits"] == (8 if conv else 5)
        assert r["shape"] == layer.weight.shape[::-1]
        assert r["nonzeros"] == np.count_nonzero(layer.weight.value)
        assert r["stored"] == r["nonzeros"] + r["fillers"]
    assert reports[-1]["ratio"] < 1 < reports[0]["ratio"]  # the last layer is not pruned
    assert total(reports)["sparse_bytes"] == sum(r["sparse_bytes"] for r in reports)


def test_unpruned_model_exports_with_ratio_below_one(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    reports = export_model(model, tmp_path / "m.npz", dense_bits=3)
    assert all(r["fillers"] == 0 and r["ratio"] < 1 and r["bits"] == 3 for r in reports)
    loaded, meta = import_model(tmp_path / "m.npz")
    assert meta["masked"] == [] and all(p.mask is None for p in loaded.parameters())


def test_export_rejects_bad_arguments(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    with pytest.raises(ValueError, match=r"'conv_bits' parameter of export_model must be an int in the range "
                                         r"\[1, 16\]. Got 17 instead."):
        export_model(model, tmp_path / "m.npz", conv_bits=17)
    model.named_parameters()["fc2.bias"].value[0] = np.nan
    with pytest.raises(ValueError, match="parameter 'fc2.bias' holds NaN or infinite values"):
        export_model(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# --- damaged files -------------------------------------------------------------------

@pytest.fixture
def exported(tmp_path, rng):
    model = build_model("mlp:20-16-8-4", seed=0)
    _prune(model, rng)
    path = tmp_path / "sparse.npz"
    export_model(model, path)
    return path


def _contents(path):
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _rewrite(path, drop=(), meta=None, **arrays):
    contents = _contents(path)
    for key in drop:
        del contents[key]
    if meta is not None:
        old = json.loads(contents["meta.json"].tobytes())
        contents["meta.json"] = np.frombuffer(json.dumps({**old, **meta}).encode(), np.uint8)
    contents.update(arrays)
    np.savez(path, **contents)


def _expect(path, match):
    with pytest.raises(SparseFormatError, match=match) as info:
        import_model(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_unreadable_file(exported, damage):
    data = exported.read_bytes()
    exported.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a zip" * 50, "empty": b""}[damage])
    _expect(exported, "not a readable sparse model archive")


def test_missing_file(tmp_path):
    _expect(tmp_path / "absent.npz", "no such sparse model file")


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"meta.json": np.frombuffer(b'{"format": "tdnumpy-sparse", "version": 1}', np.uint8),
                      "dense/x": np.array([object()], dtype=object)})
    _expect(path, r"not a readable sparse model archive \(entry 'dense/x.npy' holds Python objects")


def test_checkpoint_is_not_a_sparse_model(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", build_model("mlp:20-16-8-4"))
    _expect(path, "meta.json format 'tdnumpy-checkpoint', expected 'tdnumpy-sparse'")


def _csr(path, name, key):
    return _contents(path)[f"csr/{name}/{key}"]


@pytest.mark.parametrize("change, match", [
    (dict(drop=["meta.json"]), "no meta.json record"),
    (dict(**{"meta.json": np.frombuffer(b"{broken", np.uint8)}), "meta.json record is corrupt"),
    (dict(meta={"format": "other"}), "meta.json format 'other', expected 'tdnumpy-sparse'"),
    (dict(meta={"version": 99}), "sparse model version 99; this tdnumpy reads version 1"),
    (dict(meta={"spec": "mlp:bogus"}), "the model spec 'mlp:bogus' cannot be built"),
    (dict(meta={"dtype": "int8"}), "the model spec 'mlp:20-16-8-4' cannot be built"),
    (dict(meta={"spec": "mlp:20-17-8-4"}), r"'fc1.weight' is stored as a \(16, 20\) matrix, but model expects \(17, 20\)"),
    (dict(meta={"spec": "mlp:20-16-4"}), "meta.json lists sparse weights"),
    (dict(drop=["csr/fc2.weight/row_ptr"]), r"missing arrays \['csr/fc2.weight/row_ptr'\]"),
    (dict(drop=["dense/fc1.bias"]), r"missing arrays \['dense/fc1.bias'\]"),
    (dict(junk=np.zeros(2)), r"unexpected entries \['junk'\]"),
    (dict(meta={"masked": ["fc9.weight"]}), "marks unknown parameters as masked"),
])
def test_damaged_metadata_or_archive(exported, change, match):
    _rewrite(exported, **change)
    _expect(exported, match)


def _edit(name, key, edit):
    return lambda path: _rewrite(path, **{f"csr/{name}/{key}": edit(_csr(path, name, key))})


def _swap_first_rows(row_ptr):
    row_ptr = row_ptr.copy()
    row_ptr[1], row_ptr[2] = row_ptr[2], row_ptr[1]
    return row_ptr


@pytest.mark.parametrize("damage, match", [
    (_edit("fc1.weight", "row_ptr", _swap_first_rows), "'fc1.weight': row_ptr must start at 0, never decrease"),
    (_edit("fc1.weight", "row_ptr", lambda r: np.append(r[:-1], r[-1] - 1)), "end at the stored count"),
    (_edit("fc2.weight", "row_ptr", lambda r: r[:-1]), r"row_ptr must be 9 integers; got int64 of shape \(8,\)"),
    (_edit("fc1.weight", "index", lambda i: np.full_like(i, 255)), "a decoded column, .*, lies past the row end"),
    (_edit("fc1.weight", "index", np.zeros_like), "be >= 1 after the first entry of its row"),
    (_edit("fc1.weight", "index", lambda i: i[:-1]), "'fc1.weight': The 'packed' parameter of unpack_gaps holds"),
    (_edit("fc1.weight", "index", lambda i: i.astype(np.int16)), "'packed' parameter of unpack_gaps must be a 1-D uint8"),
    (_edit("fc2.weight", "values", lambda v: v[:-1]), "'fc2.weight' has values of shape .*; meta.json says"),
    (_edit("fc2.weight", "values", lambda v: v.astype(np.float64)), "'fc2.weight' is stored as float64"),
    (_edit("fc3.weight", "values", lambda v: np.full_like(v, np.inf)), "'fc3.weight' holds NaN or infinite"),
    (lambda p: _rewrite(p, **{"dense/fc1.bias": np.zeros(15, np.float32)}), r"'fc1.bias' is stored as float32 \(15,\)"),
])
def test_damaged_arrays(exported, damage, match):
    damage(exported)
    _expect(exported, match)
