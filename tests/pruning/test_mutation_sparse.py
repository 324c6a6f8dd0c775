"""Sparse model files (tdnumpy.pruning.sparse): the meta.json record the
module docstring documents, exact errors, and the edge cases of the masked list.

Written against the survivors of mutation testing (see "Mutation testing" in
the README).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tdnumpy.nn.models import build_model
from tdnumpy.pruning.masking import prune
from tdnumpy.pruning.sparse import SparseFormatError, compressed_bytes, export_model, import_model


def _contents(path):
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _rewrite(path, drop=(), meta=None, drop_meta=(), **arrays):
    contents = _contents(path)
    for key in drop:
        del contents[key]
    record = json.loads(contents["meta.json"].tobytes())
    record.update(meta or {})
    for key in drop_meta:
        del record[key]
    contents["meta.json"] = np.frombuffer(json.dumps(record).encode(), np.uint8)
    contents.update(arrays)
    np.savez(path, **contents)


@pytest.fixture
def exported(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    prune(model, "weight", 0.5, layers=["fc1"])
    path = tmp_path / "sparse.npz"
    export_model(model, path)
    return path


def _error(path):
    with pytest.raises(SparseFormatError) as caught:
        import_model(path)
    return str(caught.value)


def test_meta_json_holds_the_documented_layer_records(exported):
    _, meta = import_model(exported)
    stored = len(_contents(exported)["csr/fc1.weight/values"])
    assert meta["layers"]["fc1.weight"] == {"layer": "fc1", "kind": "dense", "shape": [16, 20], "bits": 5,
                                            "stored": stored}
    assert meta["format"] == "tdnumpy-sparse" and meta["version"] == 1 and meta["masked"] == ["fc1.weight"]


def test_export_names_a_bad_bit_width_in_full(tmp_path):
    with pytest.raises(ValueError) as caught:
        export_model(build_model("mlp:20-16-8-4", seed=0), tmp_path / "m.npz", dense_bits=0)
    assert str(caught.value) == "The 'dense_bits' parameter of export_model must be an int in the range [1, 16]. " \
                                "Got 0 instead."


def test_export_refuses_a_model_without_spec_in_full(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    model.spec = None
    with pytest.raises(ValueError) as caught:
        export_model(model, tmp_path / "m.npz")
    assert str(caught.value) == "export_model needs a model built by build_model; this one has no spec."


def test_an_incomplete_layer_record_is_named_with_the_missing_field(exported):
    meta = json.loads(_contents(exported)["meta.json"].tobytes())
    del meta["layers"]["fc2.weight"]["bits"]
    _rewrite(exported, meta={"layers": meta["layers"]})
    assert _error(exported) == f"{exported}: the meta.json entry of 'fc2.weight' is incomplete (KeyError('bits'))."


def test_missing_and_unexpected_arrays_say_none_for_the_empty_side(exported):
    _rewrite(exported, drop=["dense/fc1.bias"])
    assert _error(exported) == f"{exported}: missing arrays ['dense/fc1.bias'], unexpected arrays none."
    _rewrite(exported, **{"dense/fc1.bias": np.zeros(16, np.float32), "csr/fc1.weight/extra": np.zeros(1)})
    assert _error(exported) == f"{exported}: missing arrays none, unexpected arrays ['csr/fc1.weight/extra']."


def test_a_record_without_the_masked_list_imports_unmasked(exported):
    _rewrite(exported, drop_meta=["masked"])
    model, _ = import_model(exported)
    assert all(p.mask is None for p in model.parameters())


def test_a_model_with_every_parameter_masked_round_trips(tmp_path):
    model = build_model("mlp:20-16-8-4", seed=0)
    prune(model, "unit", 0.25, layers=["fc1", "fc2", "fc3"])  # masks every weight and every bias
    assert all(p.mask is not None for p in model.parameters())
    export_model(model, tmp_path / "m.npz")
    loaded, meta = import_model(tmp_path / "m.npz")
    assert sorted(meta["masked"]) == sorted(model.named_parameters())
    for name, p in loaded.named_parameters().items():
        np.testing.assert_array_equal(p.mask, model.named_parameters()[name].value != 0)


def test_compressed_bytes_counts_weights_sparse_and_biases_dense(tmp_path):
    model = build_model("lenet5:4-5-6", seed=1)
    prune(model, "weight", 0.7)
    reports = export_model(model, tmp_path / "m.npz", dense_bits=3, conv_bits=6)
    biases = sum(layer.bias.size for layer in model.layers if getattr(layer, "bias", None) is not None)
    assert [r["bits"] for r in reports] == [6, 6, 3, 3]
    assert compressed_bytes(model, dense_bits=3, conv_bits=6) == sum(r["sparse_bytes"] for r in reports) + 4 * biases
    assert compressed_bytes(model) == sum(r["sparse_bytes"] for r in export_model(model, tmp_path / "d.npz")) \
        + 4 * biases
